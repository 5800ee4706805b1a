// Checkpoint tensor names: the table of logical names and its --name-map overrides. See
// ImportGraph.h.
#include "models/ImportGraph.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cassert>

namespace sl::importer::detail {

namespace {

const NameMapEntry kNameMap[] = {
    {"embeddings", "backbone.embeddings.weight", "token embedding table [vocab, hidden]"},
    {"norm", "backbone.layers.{i}.norm.weight", "pre-norm of every layer [hidden]"},
    {"norm_f", "backbone.norm_f.weight", "final norm [hidden]"},
    {"lm_head", "lm_head.weight", "output projection [vocab, hidden] (unused when tied)"},
    // Mamba-2
    {"in_proj", "backbone.layers.{i}.mixer.in_proj.weight", "Mamba-2 [2*d_inner + 2*G*N + H, hidden]"},
    {"in_proj_bias", "backbone.layers.{i}.mixer.in_proj.bias", "Mamba-2, when mamba_proj_bias"},
    {"conv1d", "backbone.layers.{i}.mixer.conv1d.weight", "Mamba-2 [d_inner + 2*G*N, 1, K]"},
    {"conv1d_bias", "backbone.layers.{i}.mixer.conv1d.bias", "Mamba-2, when use_conv_bias"},
    {"A_log", "backbone.layers.{i}.mixer.A_log", "Mamba-2 [H] (f32)"},
    {"D", "backbone.layers.{i}.mixer.D", "Mamba-2 [H] (f32)"},
    {"dt_bias", "backbone.layers.{i}.mixer.dt_bias", "Mamba-2 [H] (f32)"},
    {"mamba_norm", "backbone.layers.{i}.mixer.norm.weight", "Mamba-2 gated norm [d_inner]"},
    {"out_proj", "backbone.layers.{i}.mixer.out_proj.weight", "Mamba-2 [hidden, d_inner]"},
    {"out_proj_bias", "backbone.layers.{i}.mixer.out_proj.bias", "Mamba-2, when mamba_proj_bias"},
    // MoE
    {"gate", "backbone.layers.{i}.mixer.gate.weight", "MoE router [experts, hidden]"},
    {"e_score_correction_bias", "backbone.layers.{i}.mixer.gate.e_score_correction_bias",
     "MoE router [experts] (f32)"},
    {"expert_up_proj", "backbone.layers.{i}.mixer.experts.{e}.up_proj.weight",
     "MoE, stacked [experts, moe_intermediate, hidden]"},
    {"expert_down_proj", "backbone.layers.{i}.mixer.experts.{e}.down_proj.weight",
     "MoE, stacked [experts, hidden, moe_intermediate]"},
    {"shared_up_proj", "backbone.layers.{i}.mixer.shared_experts.up_proj.weight",
     "MoE shared expert [shared_intermediate, hidden]"},
    {"shared_down_proj", "backbone.layers.{i}.mixer.shared_experts.down_proj.weight",
     "MoE shared expert [hidden, shared_intermediate]"},
    // MLP
    {"up_proj", "backbone.layers.{i}.mixer.up_proj.weight", "MLP [intermediate, hidden]"},
    {"up_proj_bias", "backbone.layers.{i}.mixer.up_proj.bias", "MLP, when mlp_bias"},
    {"down_proj", "backbone.layers.{i}.mixer.down_proj.weight", "MLP [hidden, intermediate]"},
    {"down_proj_bias", "backbone.layers.{i}.mixer.down_proj.bias", "MLP, when mlp_bias"},
    // Attention
    {"q_proj", "backbone.layers.{i}.mixer.q_proj.weight", "attention [heads*head_dim, hidden]"},
    {"q_proj_bias", "backbone.layers.{i}.mixer.q_proj.bias", "attention, when attention_bias"},
    {"k_proj", "backbone.layers.{i}.mixer.k_proj.weight", "attention [kv_heads*head_dim, hidden]"},
    {"k_proj_bias", "backbone.layers.{i}.mixer.k_proj.bias", "attention, when attention_bias"},
    {"v_proj", "backbone.layers.{i}.mixer.v_proj.weight", "attention [kv_heads*head_dim, hidden]"},
    {"v_proj_bias", "backbone.layers.{i}.mixer.v_proj.bias", "attention, when attention_bias"},
    {"o_proj", "backbone.layers.{i}.mixer.o_proj.weight", "attention [hidden, heads*head_dim]"},
    {"o_proj_bias", "backbone.layers.{i}.mixer.o_proj.bias", "attention, when attention_bias"},
    {"q1_proj", "backbone.layers.{i}.mixer.q1_proj.weight",
     "multi-step routing query [heads*head_dim, hidden] (name not published)"},
    {"q1_proj_bias", "backbone.layers.{i}.mixer.q1_proj.bias",
     "multi-step routing query, when attention_bias"},
};

enum class NameScope { Model, Layer, Expert };

NameScope scopeOf(StringRef logical) {
  if (logical == "embeddings" || logical == "norm_f" || logical == "lm_head")
    return NameScope::Model;
  return logical.starts_with("expert_") ? NameScope::Expert : NameScope::Layer;
}

}  // namespace

NameMap::NameMap() {
  for (const NameMapEntry &entry : kNameMap)
    patterns.emplace_back(entry.logical, entry.pattern);
}

bool NameMap::loadOverrides(const std::string &file, std::string &error) {
  std::optional<json> root = readJsonFile(file, error);
  if (!root)
    return false;
  if (!root->is_object()) {
    error = file + ": expected a JSON object mapping logical names to tensor-name patterns, "
                   "got " + describe(*root);
    return false;
  }
  for (const auto &[logical, value] : root->items()) {
    auto fail = [&](const std::string &problem) {
      error = file + ": key '" + logical + "': " + problem;
      return false;
    };
    auto it = llvm::find_if(patterns, [&](const auto &p) { return p.first == logical; });
    if (it == patterns.end()) {
      std::vector<std::string> valid;
      for (const NameMapEntry &entry : kNameMap)
        valid.push_back(entry.logical);
      return fail("unknown logical name; valid names: " + llvm::join(valid, ", "));
    }
    if (!value.is_string())
      return fail("expected a tensor-name pattern (string), got " + describe(value));
    std::string pattern = value.get<std::string>();
    if (std::string problem = checkPattern(logical, pattern); !problem.empty())
      return fail("pattern '" + pattern + "' " + problem);
    it->second = pattern;
  }
  return true;
}

std::string NameMap::resolve(StringRef logical, int64_t layer) const {
  auto it = llvm::find_if(patterns, [&](const auto &p) { return p.first == logical; });
  assert(it != patterns.end() && "logical name not in the table");
  std::string name = it->second;
  for (size_t at; (at = name.find("{i}")) != std::string::npos;)
    name.replace(at, 3, str(layer));
  return name;
}

std::string NameMap::checkPattern(StringRef logical, StringRef pattern) {
  if (pattern.empty())
    return "is empty";
  int layerRefs = 0, expertRefs = 0;
  for (size_t at = 0; (at = pattern.find('{', at)) != StringRef::npos; ++at) {
    StringRef rest = pattern.substr(at);
    if (rest.starts_with("{i}"))
      ++layerRefs;
    else if (rest.starts_with("{e}"))
      ++expertRefs;
    else
      return "has an unknown placeholder at offset " + str(at) +
             "; the placeholders are {i} (layer index) and {e} (expert index)";
  }
  switch (scopeOf(logical)) {
  case NameScope::Model:
    if (layerRefs || expertRefs)
      return "must not contain {i} or {e}: '" + logical.str() + "' is one tensor per model";
    break;
  case NameScope::Layer:
    if (!layerRefs)
      return "must contain {i} (the layer index): '" + logical.str() + "' is one tensor per "
             "layer";
    if (expertRefs)
      return "must not contain {e}: '" + logical.str() + "' is not a per-expert tensor";
    break;
  case NameScope::Expert:
    if (!layerRefs)
      return "must contain {i} (the layer index)";
    if (expertRefs != 1)
      return "must contain {e} (the expert index) exactly once: '" + logical.str() +
             "' is one tensor per expert, stacked";
    break;
  }
  return "";
}

}  // namespace sl::importer::detail

namespace sl::importer {

llvm::ArrayRef<NameMapEntry> defaultNameMap() { return detail::kNameMap; }

}  // namespace sl::importer
