// The model-wide keys of config.json: model type, dtype, sizes, the layer pattern, token ids,
// and the size of the whole model; the keys of each layer kind are read by NemotronH.cpp and
// SuperlinearExp.cpp. See ImportConfig.h.
#include "models/ImportConfig.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <cstdio>

namespace sl::importer::detail {

namespace {

// A character of a layer pattern as a message shows it.
std::string showChar(char c) {
  if (llvm::isPrint(c))
    return std::string("'") + c + "'";
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "0x%02X", static_cast<unsigned char>(c));
  return buffer;
}

bool has(const std::string &pattern, char kind) { return pattern.find(kind) != std::string::npos; }

// The layer pattern from hybrid_override_pattern and/or layers_block_type.
void readPattern(ConfigReader &r, ModelConfig &cfg) {
  static constexpr StringRef kValidChars =
      "valid: M (Mamba-2), E (MoE), * (attention), - (MLP)";
  const json *text = r.lookup("hybrid_override_pattern");
  const json *list = r.lookup("layers_block_type");
  bool hasText = text && !text->is_null(), hasList = list && !list->is_null();
  if (!hasText && !hasList) {
    r.fail("hybrid_override_pattern",
           "required key is missing (the layer pattern comes from hybrid_override_pattern or "
           "layers_block_type, and neither is present)");
    return;
  }
  std::string fromText, fromList;
  if (hasText) {
    if (!text->is_string()) {
      r.fail("hybrid_override_pattern", "expected a string, got " + describe(*text));
      return;
    }
    fromText = text->get<std::string>();
    if (fromText.empty()) {
      r.fail("hybrid_override_pattern", "names no layers (empty string)");
      return;
    }
    if (int64_t(fromText.size()) > kMaxLayers) {
      r.fail("hybrid_override_pattern", "names " + str(fromText.size()) +
                                            " layers; at most " + str(kMaxLayers) +
                                            " are supported");
      return;
    }
    for (auto [i, c] : llvm::enumerate(fromText))
      if (!StringRef("ME*-").contains(c)) {
        r.fail("hybrid_override_pattern", "unsupported layer character " + showChar(c) +
                                              " at layer " + str(i) + "; " + kValidChars.str());
        return;
      }
  }
  if (hasList) {
    if (!list->is_array()) {
      r.fail("layers_block_type", "expected a list of layer types, got " + describe(*list));
      return;
    }
    if (list->empty()) {
      r.fail("layers_block_type", "names no layers (empty list)");
      return;
    }
    if (int64_t(list->size()) > kMaxLayers) {
      r.fail("layers_block_type", "names " + str(list->size()) + " layers; at most " +
                                      str(kMaxLayers) + " are supported");
      return;
    }
    for (auto [i, item] : llvm::enumerate(*list)) {
      std::string name = item.is_string() ? item.get<std::string>() : "";
      char c = name == "mamba" || name == "linear_attention"      ? 'M'
               : name == "moe"                                    ? 'E'
               : name == "attention" || name == "full_attention" ? '*'
               : name == "mlp"                                    ? '-'
                                                                  : '\0';
      if (!item.is_string()) {
        r.fail("layers_block_type", "element " + str(i) + ": expected a string, got " +
                                        describe(item));
        return;
      }
      if (!c) {
        r.fail("layers_block_type",
               "element " + str(i) + ": unsupported layer type '" + name +
                   "'; valid: mamba / linear_attention (M), moe (E), attention / "
                   "full_attention (*), mlp (-)");
        return;
      }
      fromList += c;
    }
  }
  if (hasText && hasList && fromText != fromList) {
    if (fromText.size() != fromList.size()) {
      r.fail("layers_block_type", "has " + str(fromList.size()) +
                                      " layers but hybrid_override_pattern has " +
                                      str(fromText.size()) + "; when both are present they "
                                      "must agree");
      return;
    }
    size_t i = 0;
    while (fromText[i] == fromList[i])
      ++i;
    r.fail("layers_block_type", "disagrees with hybrid_override_pattern at layer " + str(i) +
                                    ": " + describe((*list)[i]) + " (" + fromList[i] +
                                    ") vs '" + fromText[i] + "'; when both are present they "
                                    "must agree");
    return;
  }
  cfg.pattern = hasText ? fromText : fromList;
}

// Token ids (bos/eos): an id in [0, vocab), a list of them, or null/absent.
void readTokenId(ConfigReader &r, StringRef key, int64_t vocab, std::optional<json> &out) {
  const json *v = r.lookup(key);
  if (!v || v->is_null())
    return;
  auto isId = [&](const json &item) {
    return item.is_number_unsigned() && item.get<uint64_t>() < uint64_t(vocab);
  };
  bool valid = isId(*v);
  if (v->is_array()) {
    valid = !v->empty() && v->size() <= size_t(vocab);
    for (const json &item : *v)
      valid = valid && isId(item);
  }
  if (!valid) {
    r.fail(key, "expected a token id in [0, vocab_size = " + str(vocab) +
                    ") or a non-empty list of them, got " + describe(*v));
    return;
  }
  out = *v;
}

// The weights of the whole model must stay below kMaxParameterBytes. The message names the
// largest part and the keys that size it. (The bounds of the size keys keep every product here
// below 2^62.) Biases and the per-head vectors are left out: they are negligible.
void checkParameterBytes(ConfigReader &r, const ModelConfig &cfg) {
  const uint64_t hidden = uint64_t(cfg.hidden);
  auto layers = [&](char kind) { return uint64_t(llvm::count(cfg.pattern, kind)); };
  struct Part {
    std::string what;  // with the sizes that make it
    StringRef key;
    uint64_t parameters;
  };
  const uint64_t dInner = uint64_t(cfg.mambaHeads) * uint64_t(cfg.mambaHeadDim);
  const uint64_t groupStates = 2 * uint64_t(cfg.nGroups) * uint64_t(cfg.ssmStateSize);
  const uint64_t attentionWidth = uint64_t(cfg.heads) * uint64_t(cfg.headDim);
  const uint64_t kvWidth = uint64_t(cfg.kvHeads) * uint64_t(cfg.headDim);
  const std::string ofHidden = " x hidden_size " + str(cfg.hidden);
  const Part parts[] = {
      {"the embeddings" + std::string(cfg.tieEmbeddings ? "" : " and the LM head") +
           ", vocab_size " + str(cfg.vocab) + ofHidden,
       "vocab_size", (cfg.tieEmbeddings ? 1 : 2) * uint64_t(cfg.vocab) * hidden},
      {str(layers('M')) + " Mamba-2 layers of mamba_num_heads " + str(cfg.mambaHeads) +
           " x mamba_head_dim " + str(cfg.mambaHeadDim) + ofHidden,
       "mamba_num_heads",
       layers('M') * ((2 * dInner + groupStates + uint64_t(cfg.mambaHeads)) * hidden +
                      (dInner + groupStates) * uint64_t(cfg.convKernel) + dInner * hidden)},
      {str(layers('E')) + " MoE layers of n_routed_experts " + str(cfg.experts) +
           " x moe_intermediate_size " + str(cfg.moeIntermediate) + ofHidden,
       "n_routed_experts",
       layers('E') * uint64_t(cfg.experts) * 2 * uint64_t(cfg.moeIntermediate) * hidden},
      {"the routers and shared experts of " + str(layers('E')) +
           " MoE layers, moe_shared_expert_intermediate_size " + str(cfg.sharedIntermediate) +
           ofHidden,
       "moe_shared_expert_intermediate_size",
       layers('E') * (uint64_t(cfg.experts) + 2 * uint64_t(cfg.sharedIntermediate)) * hidden},
      {str(layers('-')) + " MLP layers of intermediate_size " + str(cfg.intermediate) + ofHidden,
       "intermediate_size", layers('-') * 2 * uint64_t(cfg.intermediate) * hidden},
      {str(layers('*')) + " attention layers of num_attention_heads " + str(cfg.heads) +
           " x head_dim " + str(cfg.headDim) + ofHidden,
       "num_attention_heads",
       layers('*') * ((cfg.multiStep ? 3 : 2) * attentionWidth + 2 * kvWidth) * hidden},
      {"the norms", "hidden_size", (uint64_t(cfg.pattern.size()) + 1) * hidden},
  };
  const uint64_t elementBytes = cfg.dtype == DType::F32 ? 4 : 2;
  uint64_t total = 0;
  const Part *largest = &parts[0];
  for (const Part &part : parts) {
    total += part.parameters * elementBytes;
    if (part.parameters > largest->parameters)
      largest = &part;
  }
  if (total < kMaxParameterBytes)
    return;
  char gib[32];
  std::snprintf(gib, sizeof(gib), "%.1f", double(total) / double(uint64_t(1) << 30));
  r.fail(largest->key, "the weights of this config take " + std::to_string(total) + " bytes (" +
                           gib + " GiB), above the supported " +
                           std::to_string(kMaxParameterBytes) +
                           " bytes (1 TiB); the largest part: " + largest->what + " (" +
                           std::to_string(largest->parameters * elementBytes) + " bytes)");
}

}  // namespace

bool readConfig(const json &root, const std::string &path, ModelConfig &cfg,
                std::string &error) {
  if (!root.is_object()) {
    error = path + ": expected a JSON object at the top level, got " + describe(root);
    return false;
  }
  ConfigReader r(root, path);

  cfg.modelType = r.string("model_type", std::nullopt);
  if (r.ok() && cfg.modelType != "nemotron_h" && cfg.modelType != "superlinear-exp")
    r.fail("model_type", "unsupported model type '" + cfg.modelType +
                             "'; supported: nemotron_h, superlinear-exp");
  cfg.multiStep = cfg.modelType == "superlinear-exp";

  // The model dtype: torch_dtype (transformers 4) or dtype (transformers 5).
  if (r.ok()) {
    bool hasTorch = r.present("torch_dtype"), hasNew = r.present("dtype");
    if (hasTorch && hasNew && r.string("torch_dtype", std::nullopt) != r.string("dtype", std::nullopt))
      r.fail("dtype", "is '" + r.string("dtype", std::nullopt) + "' but torch_dtype is '" +
                          r.string("torch_dtype", std::nullopt) + "'; they must agree");
    else
      cfg.dtype = r.dtype(hasNew ? "dtype" : "torch_dtype", "float32");
  }

  cfg.hidden = r.integer("hidden_size", std::nullopt, 1, kMaxHidden);
  cfg.vocab = r.integer("vocab_size", std::nullopt, 1, kMaxVocab);
  // Not part of the graph (slrun's --max-context sets a session's length), but a value beyond
  // the runtime's 32-bit positions describes a model it cannot run.
  if (r.present("max_position_embeddings"))
    r.integer("max_position_embeddings", std::nullopt, 1, kMaxPositions);
  // transformers 5 writes only layers_block_type; num_hidden_layers is then its length.
  bool hasLayerCount = r.present("num_hidden_layers") || !r.present("layers_block_type");
  int64_t numLayers =
      hasLayerCount ? r.integer("num_hidden_layers", std::nullopt, 1, kMaxLayers) : 0;
  if (r.ok())
    readPattern(r, cfg);
  if (r.ok() && hasLayerCount && int64_t(cfg.pattern.size()) != numLayers)
    r.fail("num_hidden_layers", "is " + str(numLayers) + " but the layer pattern '" +
                                    cfg.pattern + "' has " + str(cfg.pattern.size()) +
                                    " layers");
  cfg.eps = r.number("layer_norm_epsilon", 1e-5);
  if (r.ok() && (!(cfg.eps > 0.0) || std::isinf(cfg.eps)))
    r.fail("layer_norm_epsilon", "must be a finite number > 0, got " + fmt(cfg.eps));
  cfg.tieEmbeddings = r.boolean("tie_word_embeddings", false);
  // Numerics the graph does not represent: the residual stream stays in the model dtype.
  if (r.boolean("residual_in_fp32", false) && r.ok())
    r.fail("residual_in_fp32", "unsupported: a float32 residual stream is not implemented "
                               "(sl.add keeps the model dtype); only false is supported");
  if (r.ok()) {
    readTokenId(r, "bos_token_id", cfg.vocab, cfg.bos);
    readTokenId(r, "eos_token_id", cfg.vocab, cfg.eos);
  }

  if (r.ok() && has(cfg.pattern, 'M'))
    readMamba(r, cfg);
  if (r.ok() && has(cfg.pattern, 'E'))
    readMoE(r, cfg);
  if (r.ok() && has(cfg.pattern, '-'))
    readMLP(r, cfg);
  if (r.ok() && has(cfg.pattern, '*'))
    readAttention(r, cfg);
  if (r.ok() && has(cfg.pattern, '*') && cfg.multiStep)
    readMultiStep(r, cfg);

  if (r.ok())
    checkParameterBytes(r, cfg);
  if (!r.ok()) {
    error = r.getError();
    return false;
  }
  cfg.defaultsApplied = r.getDefaults();
  return true;
}

}  // namespace sl::importer::detail
