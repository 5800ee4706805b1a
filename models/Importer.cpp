// HuggingFace Nemotron-H / superlinear-exp config.json -> sl graph (docs/importer.md).
//
// Three steps, each with its own error path:
//   1. read config.json (the limited JSON parser of runtime/io/Json.h) and validate it into a
//      ModelConfig: every required key present and of the right JSON type, every value in range
//      (sizes within the bounds of docs/importer.md), the values consistent with each other, the
//      whole model below 1 TiB of weights; absent optional keys get their documented default and
//      are recorded (sl.defaults_applied). Every message is
//      "<config.json>: key '<key>': <problem>".
//   2. resolve checkpoint tensor names from one table of logical names (--name-map overrides).
//   3. build the graph with OpBuilder (locations name the layer of every op) and verify it; a
//      verifier failure at this point is an importer bug and is reported as an internal error.
#include "models/Importer.h"

#include "dialects/SL/SLDialect.h"
#include "runtime/io/Json.h"
#include "runtime/math/SuperlinearMath.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <vector>

using json = nlohmann::json;
using llvm::StringRef;

namespace sl::importer {
namespace {

//===----------------------------------------------------------------------===//
// Small helpers
//===----------------------------------------------------------------------===//

constexpr double kInf = std::numeric_limits<double>::infinity();
// Upper bounds of the size keys (docs/importer.md, "Bounds"). Each is 8x or more the largest
// value of a published Nemotron-H checkpoint (in brackets: Nemotron-H 56B, Nemotron-3-Nano
// 30B-A3B), and together they keep every derived size, and the parameter count, far inside
// int64: a config beyond them describes no model that could be run.
constexpr int64_t kMaxHidden = 65536;                // hidden_size [8192]
constexpr int64_t kMaxVocab = int64_t(1) << 22;      // vocab_size [131072]
constexpr int64_t kMaxLayers = 1024;                 // num_hidden_layers, the pattern [118]
constexpr int64_t kMaxHeads = 1024;                  // attention and KV heads [64, 8]
constexpr int64_t kMaxHeadDim = 1024;                // head_dim [128]
constexpr int64_t kMaxIntermediate = int64_t(1) << 20;  // MLP / expert widths [32768, 3712]
constexpr int64_t kMaxExperts = 4096;                // n_routed_experts, num_experts_per_tok [128]
constexpr int64_t kMaxSharedExperts = 64;            // n_shared_experts [1]
constexpr int64_t kMaxMambaHeads = 4096;             // mamba_num_heads [256]
constexpr int64_t kMaxMambaHeadDim = 1024;           // mamba_head_dim [64]
constexpr int64_t kMaxGroups = 1024;                 // n_groups [8]
constexpr int64_t kMaxStateSize = 1024;              // ssm_state_size [256]
constexpr int64_t kMaxConvKernel = 64;               // conv_kernel [4]
constexpr int64_t kMaxChunkSize = 65536;             // chunk_size [128]
constexpr int64_t kMaxSwIndex = int64_t(1) << 20;    // span_attention_sw_index [65]
// max_position_embeddings [262144]: the runtime's positions are 32-bit.
constexpr int64_t kMaxPositions = (int64_t(1) << 31) - 1;
// The weights of the whole model in its dtype: 2^40 bytes (1 TiB), about 9x the bf16 weights
// of Nemotron-H 56B.
constexpr uint64_t kMaxParameterBytes = uint64_t(1) << 40;

std::string str(int64_t v) { return std::to_string(v); }

// Shortest decimal spelling that reads back as the same double ("0.55", "2.5", "inf").
std::string fmt(double v) {
  if (std::isnan(v))
    return "nan";
  if (std::isinf(v))
    return v > 0 ? "inf" : "-inf";
  char buffer[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, v);
    if (std::strtod(buffer, nullptr) == v)
      break;
  }
  return buffer;
}

// A JSON value as a message shows it: its type and (shortened) text.
std::string describe(const json &v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60)
    text = text.substr(0, 57) + "...";
  switch (v.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::boolean:
    return "boolean " + text;
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
    return "integer " + text;
  case json::value_t::number_float:
    return "number " + text;
  case json::value_t::string:
    return "string " + text;
  case json::value_t::array:
    return "an array";
  case json::value_t::object:
    return "an object";
  default:
    return text;
  }
}

// A character of a layer pattern as a message shows it.
std::string showChar(char c) {
  if (llvm::isPrint(c))
    return std::string("'") + c + "'";
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "0x%02X", static_cast<unsigned char>(c));
  return buffer;
}

//===----------------------------------------------------------------------===//
// JSON files
//===----------------------------------------------------------------------===//

// Python's json module writes the non-finite floats of a config (time_step_limit = (0, inf)) as
// bare Infinity / -Infinity / NaN, which is not JSON. Outside strings they are rewritten as the
// strings "Infinity", "-Infinity", "NaN", which readNumber accepts.
std::string quoteNonFinite(StringRef text) {
  std::string out;
  out.reserve(text.size() + 16);
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      out += c;
      if (c == '\\' && i + 1 < text.size())
        out += text[++i];
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
      out += c;
      continue;
    }
    bool replaced = false;
    for (StringRef word : {"-Infinity", "Infinity", "NaN"}) {
      if (text.substr(i).starts_with(word)) {
        out += "\"" + word.str() + "\"";
        i += word.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced)
      out += c;
  }
  return out;
}

// Nesting allowed in config.json and --name-map files: real configs nest 3 levels
// (quantization_config, rope_scaling); a deeper file is refused before it is built, so that
// nothing done with the value afterwards recurses deeply.
constexpr size_t kMaxJsonDepth = 64;

// Reads and parses a JSON file; on failure sets `error` ("<path>: cannot read: ...",
// "<path>: invalid JSON: parse error at line L, column C: ..." or
// "<path>: invalid JSON: nesting deeper than 64 levels at $.a.b").
std::optional<json> readJsonFile(const std::string &path, std::string &error) {
  if (llvm::sys::fs::is_directory(path)) {
    error = path + ": cannot read: is a directory";
    return std::nullopt;
  }
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer) {
    error = path + ": cannot read: " + buffer.getError().message();
    return std::nullopt;
  }
  StringRef text = (*buffer)->getBuffer();
  sl::io::JsonLimits limits;
  limits.maxDepth = kMaxJsonDepth;
  const std::string what = path + ": invalid JSON";
  auto value = sl::io::parseJson(std::string_view(text.data(), text.size()), limits, what);
  if (value)
    return std::move(*value);
  std::string quoted = quoteNonFinite(text);
  if (quoted == text) {
    error = value.status().message();
    return std::nullopt;
  }
  auto requoted = sl::io::parseJson(quoted, limits, what);
  if (requoted)
    return std::move(*requoted);
  // A syntax error is reported at its position in the file as written; a broken limit (depth,
  // duplicate key) as found in the quoted text, where the parser got further.
  const bool syntaxError =
      requoted.status().message().rfind(what + ": parse error", 0) == 0;
  error = syntaxError ? value.status().message() : requoted.status().message();
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Config reader: typed access with defaults and the first error
//===----------------------------------------------------------------------===//

// Older spellings that transformers' NemotronHConfig still accepts for the same key, and
// attention_head_dim, the spelling of the Nemotron-H-8B/47B-Base checkpoints' own config class.
constexpr std::pair<const char *, const char *> kLegacyKeys[] = {
    {"n_groups", "mamba_n_groups"},        {"conv_kernel", "mamba_d_conv"},
    {"chunk_size", "mamba_chunk_size"},    {"use_conv_bias", "mamba_conv_bias"},
    {"time_step_limit", "mamba_dt_limit"}, {"head_dim", "attention_head_dim"},
};

enum class DType { BF16, F16, F32 };

// Reads keys of the top-level object. The first error is kept (later calls return harmless
// values and leave it alone), so a section reads all its keys and checks ok() once before it
// derives anything from them.
class ConfigReader {
public:
  ConfigReader(const json &root, std::string path) : root(root), path(std::move(path)) {}

  bool ok() const { return error.empty(); }

  // Records "<path>: key '<key>': <problem>" unless an error is already recorded; returns false.
  bool fail(StringRef key, const std::string &problem) {
    if (error.empty())
      error = path + ": key '" + spelling(key) + "': " + problem;
    return false;
  }

  // Why the keys read next are required ("needed by the Mamba-2 layers (M) of the pattern").
  void setRequiredBy(std::string reason) { requiredBy = std::move(reason); }

  // The value of `key` or of its legacy spelling; null when absent. JSON null is returned as is.
  const json *lookup(StringRef key) {
    const json *value = member(key);
    for (auto [canonical, legacy] : kLegacyKeys) {
      if (key != canonical)
        continue;
      const json *old = member(legacy);
      if (!old || old->is_null())
        break;
      if (value && !value->is_null()) {
        if (*value != *old)
          fail(legacy, "legacy spelling of '" + key.str() + "' disagrees with it: " +
                           describe(*old) + " vs " + describe(*value));
        break;
      }
      if (spelling(key) == key)
        spellings.emplace_back(key.str(), legacy);
      return old;
    }
    return value;
  }

  // True when the key (or its legacy spelling) is present and not null.
  bool present(StringRef key) {
    const json *value = lookup(key);
    return value && !value->is_null();
  }

  void noteDefault(StringRef key) {
    if (!llvm::is_contained(defaults, key.str()))
      defaults.push_back(key.str());
  }

  // An integer in [min, max]; `def` makes the key optional (absent or null -> def, recorded).
  int64_t integer(StringRef key, std::optional<int64_t> def, int64_t min, int64_t max) {
    const json *v = lookup(key);
    if (!v || (v->is_null() && def))
      return absent(key, def, min);
    if (!v->is_number_integer()) {
      fail(key, "expected an integer, got " + describe(*v));
      return min;
    }
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(max)) {
      fail(key, rangeText(min, max) + ", got " + v->dump());
      return min;
    }
    int64_t x = v->get<int64_t>();
    if (x < min || x > max) {
      fail(key, rangeText(min, max) + ", got " + str(x));
      return min;
    }
    return x;
  }

  // A number (integer or float; also Infinity / -Infinity / NaN as Python writes them, and
  // transformers' {"__float__": "Infinity"}); range checks are the caller's.
  double number(StringRef key, std::optional<double> def) {
    const json *v = lookup(key);
    if (!v || (v->is_null() && def))
      return absent(key, def, 0.0);
    std::optional<double> x = toNumber(*v);
    if (!x) {
      fail(key, "expected a number, got " + describe(*v));
      return def.value_or(0.0);
    }
    return *x;
  }

  bool boolean(StringRef key, std::optional<bool> def) {
    const json *v = lookup(key);
    if (!v || (v->is_null() && def))
      return absent(key, def, false);
    if (!v->is_boolean()) {
      fail(key, "expected a boolean, got " + describe(*v));
      return def.value_or(false);
    }
    return v->get<bool>();
  }

  std::string string(StringRef key, std::optional<std::string> def) {
    const json *v = lookup(key);
    if (!v || (v->is_null() && def))
      return absent(key, def, std::string());
    if (!v->is_string()) {
      fail(key, "expected a string, got " + describe(*v));
      return def.value_or(std::string());
    }
    return v->get<std::string>();
  }

  // A float dtype name: bfloat16, float16 or float32.
  DType dtype(StringRef key, std::optional<std::string> def) {
    std::string name = string(key, def);
    if (!ok())
      return DType::F32;
    if (name == "bfloat16")
      return DType::BF16;
    if (name == "float16")
      return DType::F16;
    if (name == "float32")
      return DType::F32;
    fail(key, "unsupported dtype '" + name + "'; supported: bfloat16, float16, float32");
    return DType::F32;
  }

  // An activation name: `allowed` lists the supported ones ("relu2", "silu").
  mlir::sl::Activation activation(StringRef key, std::optional<std::string> def,
                                  llvm::ArrayRef<StringRef> allowed) {
    std::string name = string(key, def);
    if (!ok())
      return mlir::sl::Activation::silu;
    // transformers' ACT2FN spells silu also as "swish".
    StringRef kind = name == "swish" ? "silu" : StringRef(name);
    if (llvm::is_contained(allowed, kind))
      return kind == "relu2" ? mlir::sl::Activation::relu2 : mlir::sl::Activation::silu;
    fail(key, "unsupported activation '" + name + "'; supported: " + llvm::join(allowed, ", "));
    return mlir::sl::Activation::silu;
  }

  static std::optional<double> toNumber(const json &v) {
    if (v.is_number())
      return v.get<double>();
    const json *text = &v;
    if (v.is_object() && v.size() == 1 && v.contains("__float__"))
      text = &v["__float__"];
    if (!text->is_string())
      return std::nullopt;
    const std::string &s = text->get_ref<const std::string &>();
    if (s == "Infinity" || s == "inf" || s == "+inf" || s == "+Infinity")
      return kInf;
    if (s == "-Infinity" || s == "-inf")
      return -kInf;
    if (s == "NaN" || s == "nan")
      return std::numeric_limits<double>::quiet_NaN();
    return std::nullopt;
  }

  const std::string &getError() const { return error; }
  const std::vector<std::string> &getDefaults() const { return defaults; }
  const std::string &getPath() const { return path; }

private:
  const json *member(StringRef key) const {
    auto it = root.find(key.str());
    return it == root.end() ? nullptr : &*it;
  }

  // The spelling of `key` found in the file (a legacy one, if that is what the file has).
  std::string spelling(StringRef key) const {
    for (const auto &[canonical, found] : spellings)
      if (canonical == key)
        return found;
    return key.str();
  }

  template <typename T>
  T absent(StringRef key, const std::optional<T> &def, T fallback) {
    if (def) {
      noteDefault(key);
      return *def;
    }
    fail(key, "required key is missing" + because());
    return fallback;
  }

  std::string because() const { return requiredBy.empty() ? "" : " (" + requiredBy + ")"; }

  static std::string rangeText(int64_t min, int64_t max) {
    return "must be an integer in [" + str(min) + ", " + str(max) + "]";
  }

  const json &root;
  std::string path;
  std::string error;
  std::string requiredBy;
  std::vector<std::string> defaults;
  std::vector<std::pair<std::string, std::string>> spellings;
};

//===----------------------------------------------------------------------===//
// The validated configuration
//===----------------------------------------------------------------------===//

struct ModelConfig {
  std::string modelType;
  bool multiStep = false;  // superlinear-exp: attention layers are multi-step attention
  std::string pattern;     // one char per layer: M, E, *, -
  DType dtype = DType::F32;
  int64_t hidden = 0, vocab = 0;
  double eps = 1e-5;
  bool tieEmbeddings = false;
  std::optional<json> bos, eos;  // integer or list of integers

  // Mamba-2
  int64_t mambaHeads = 0, mambaHeadDim = 0, ssmStateSize = 0, nGroups = 0, convKernel = 0;
  int64_t chunkSize = 128;
  bool convBias = true, mambaProjBias = false;
  double dtMin = 0.0, dtMax = kInf;
  DType ssmDtype = DType::F32;

  // MoE
  int64_t experts = 0, topK = 0, moeIntermediate = 0, sharedIntermediate = 0, sharedExperts = 0;
  double routedScaling = 1.0;
  bool normTopK = true;
  mlir::sl::Activation moeActivation = mlir::sl::Activation::relu2;

  // MLP
  int64_t intermediate = 0;
  bool mlpBias = false;
  mlir::sl::Activation mlpActivation = mlir::sl::Activation::relu2;

  // Attention
  int64_t heads = 0, kvHeads = 0, headDim = 0;
  bool attentionBias = false;
  int64_t swIndex = 65, numSpans = 3;
  double backwardFactor = 3.0, forwardFactor = 1.0, searchPower = 0.55, spanPower = 0.55;

  std::vector<std::string> defaultsApplied;
};

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

void readMamba(ConfigReader &r, ModelConfig &cfg) {
  r.setRequiredBy("needed by the Mamba-2 layers (M) of the pattern");
  cfg.mambaHeads = r.integer("mamba_num_heads", std::nullopt, 1, kMaxMambaHeads);
  cfg.mambaHeadDim = r.integer("mamba_head_dim", std::nullopt, 1, kMaxMambaHeadDim);
  cfg.ssmStateSize = r.integer("ssm_state_size", std::nullopt, 1, kMaxStateSize);
  cfg.nGroups = r.integer("n_groups", std::nullopt, 1, kMaxGroups);
  cfg.convKernel = r.integer("conv_kernel", std::nullopt, 1, kMaxConvKernel);
  cfg.chunkSize = r.integer("chunk_size", 128, 1, kMaxChunkSize);
  cfg.convBias = r.boolean("use_conv_bias", true);
  cfg.mambaProjBias = r.boolean("mamba_proj_bias", false);
  // transformers' NemotronH builds the in_proj / out_proj biases from use_bias; the config also
  // carries mamba_proj_bias. They must not contradict each other.
  bool useBias = r.boolean("use_bias", false);
  r.activation("mamba_hidden_act", "silu", {"silu"});
  cfg.ssmDtype = r.dtype("mamba_ssm_cache_dtype", "float32");
  if (!r.ok())
    return;
  if (useBias != cfg.mambaProjBias) {
    r.fail("mamba_proj_bias", std::string("is ") + (cfg.mambaProjBias ? "true" : "false") +
                                  " but use_bias is " + (useBias ? "true" : "false") +
                                  "; transformers' NemotronH gives the Mamba-2 in_proj/out_proj "
                                  "a bias from use_bias, so they must agree");
    return;
  }
  if (cfg.mambaHeads % cfg.nGroups != 0) {
    r.fail("n_groups", "mamba_num_heads (" + str(cfg.mambaHeads) +
                           ") must be a multiple of n_groups (" + str(cfg.nGroups) + ")");
    return;
  }
  // time_step_limit: [dt_min, dt_max], default (0, inf) = no clamp.
  const json *limit = r.lookup("time_step_limit");
  if (!limit || limit->is_null()) {
    r.noteDefault("time_step_limit");
    return;
  }
  if (!limit->is_array() || limit->size() != 2) {
    r.fail("time_step_limit", "expected a list [dt_min, dt_max] of two numbers, got " +
                                  (limit->is_array() ? "a list of " + str(limit->size()) +
                                                           " elements"
                                                     : describe(*limit)));
    return;
  }
  std::optional<double> lo = ConfigReader::toNumber((*limit)[0]);
  std::optional<double> hi = ConfigReader::toNumber((*limit)[1]);
  if (!lo || !hi) {
    r.fail("time_step_limit", "expected a list [dt_min, dt_max] of two numbers, got " +
                                  describe(lo ? (*limit)[1] : (*limit)[0]) + " in it");
    return;
  }
  if (!(*lo >= 0.0 && *lo <= *hi) || std::isinf(*lo)) {
    r.fail("time_step_limit", "must satisfy 0 <= dt_min <= dt_max with dt_min finite, got (" +
                                  fmt(*lo) + ", " + fmt(*hi) + ")");
    return;
  }
  cfg.dtMin = *lo;
  cfg.dtMax = *hi;
}

void readMoE(ConfigReader &r, ModelConfig &cfg) {
  r.setRequiredBy("needed by the MoE layers (E) of the pattern");
  cfg.experts = r.integer("n_routed_experts", std::nullopt, 1, kMaxExperts);
  cfg.topK = r.integer("num_experts_per_tok", std::nullopt, 1, kMaxExperts);
  cfg.moeIntermediate = r.integer("moe_intermediate_size", std::nullopt, 1, kMaxIntermediate);
  cfg.sharedExperts = r.integer("n_shared_experts", 1, 0, kMaxSharedExperts);
  if (r.ok() && cfg.sharedExperts > 0) {
    r.setRequiredBy("needed by the shared expert of the MoE layers (n_shared_experts > 0)");
    cfg.sharedIntermediate = r.integer("moe_shared_expert_intermediate_size", std::nullopt, 1,
                                       kMaxIntermediate);
  }
  cfg.routedScaling = r.number("routed_scaling_factor", 1.0);
  cfg.normTopK = r.boolean("norm_topk_prob", true);
  cfg.moeActivation = r.activation("mlp_hidden_act", "relu2", {"relu2", "silu"});
  int64_t nGroup = r.integer("n_group", 1, 1, kMaxExperts);
  int64_t topKGroup = r.integer("topk_group", 1, 1, kMaxExperts);
  bool mlpBias = r.boolean("mlp_bias", false);
  // null is the value "no latent projection" (transformers' default), so only absence is noted.
  bool latent = r.present("moe_latent_size");
  if (!r.lookup("moe_latent_size"))
    r.noteDefault("moe_latent_size");
  if (!r.ok())
    return;
  if (cfg.topK > cfg.experts) {
    r.fail("num_experts_per_tok", "must be at most n_routed_experts (" + str(cfg.experts) +
                                      "), got " + str(cfg.topK));
    return;
  }
  if (!(cfg.routedScaling > 0.0) || std::isinf(cfg.routedScaling)) {
    r.fail("routed_scaling_factor", "must be a finite number > 0, got " + fmt(cfg.routedScaling));
    return;
  }
  if (nGroup != 1) {
    r.fail("n_group", "unsupported: grouped expert routing (n_group = " + str(nGroup) +
                          ") is not implemented by sl.moe_router; only n_group = 1 is");
    return;
  }
  if (topKGroup != 1) {
    r.fail("topk_group", "unsupported: grouped expert routing (topk_group = " + str(topKGroup) +
                             ") is not implemented by sl.moe_router; only topk_group = 1 is");
    return;
  }
  if (latent) {
    r.fail("moe_latent_size", "unsupported: latent MoE projections (moe_latent_size = " +
                                  r.lookup("moe_latent_size")->dump() +
                                  ") are not implemented; only null/absent is");
    return;
  }
  if (mlpBias)
    r.fail("mlp_bias", "unsupported: the MoE experts have biases when mlp_bias is true, and "
                       "sl.moe_experts has no bias operands; only false is supported for "
                       "models with MoE layers");
}

void readMLP(ConfigReader &r, ModelConfig &cfg) {
  r.setRequiredBy("needed by the MLP layers (-) of the pattern");
  cfg.intermediate = r.integer("intermediate_size", std::nullopt, 1, kMaxIntermediate);
  cfg.mlpActivation = r.activation("mlp_hidden_act", "relu2", {"relu2", "silu"});
  cfg.mlpBias = r.boolean("mlp_bias", false);
}

void readAttention(ConfigReader &r, ModelConfig &cfg) {
  r.setRequiredBy("needed by the attention layers (*) of the pattern");
  cfg.heads = r.integer("num_attention_heads", std::nullopt, 1, kMaxHeads);
  cfg.kvHeads = r.integer("num_key_value_heads", std::nullopt, 1, kMaxHeads);
  cfg.attentionBias = r.boolean("attention_bias", false);
  if (!r.ok())
    return;
  if (cfg.heads % cfg.kvHeads != 0) {
    r.fail("num_key_value_heads", "num_attention_heads (" + str(cfg.heads) +
                                      ") must be a multiple of num_key_value_heads (" +
                                      str(cfg.kvHeads) + ") for grouped-query attention");
    return;
  }
  if (r.present("head_dim")) {
    cfg.headDim = r.integer("head_dim", std::nullopt, 1, kMaxHeadDim);
  } else if (cfg.hidden % cfg.heads != 0) {
    r.fail("head_dim", "is absent, and its default hidden_size / num_attention_heads is not an "
                       "integer (" + str(cfg.hidden) + " / " + str(cfg.heads) + ")");
    return;
  } else if (cfg.hidden / cfg.heads > kMaxHeadDim) {
    r.fail("head_dim", "is absent, and its default hidden_size / num_attention_heads = " +
                           str(cfg.hidden / cfg.heads) + " is above the bound " +
                           str(kMaxHeadDim));
    return;
  } else {
    cfg.headDim = cfg.hidden / cfg.heads;
    r.noteDefault("head_dim");
  }
  if (!cfg.multiStep)
    return;

  // Multi-step attention hyper-parameters (SUPERLINEAR.md section 2), defaults of the model.
  cfg.swIndex = r.integer("span_attention_sw_index", 65, 0, kMaxSwIndex);
  cfg.numSpans = r.integer("span_attention_num_spans", 3, 1, 8);
  cfg.backwardFactor = r.number("span_attention_backward_factor", 3.0);
  cfg.forwardFactor = r.number("span_attention_forward_factor", 1.0);
  cfg.searchPower = r.number("span_attention_search_power", 0.55);
  cfg.spanPower = r.number("span_attention_span_power", 0.55);
  if (!r.ok())
    return;
  if (auto problem = ::sl::math::checkConfig(cfg.swIndex, cfg.numSpans, cfg.backwardFactor,
                                              cfg.forwardFactor, cfg.searchPower, cfg.spanPower))
    r.fail("span_attention_" + problem->field, problem->message);
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

// config.json -> ModelConfig. Returns false with `error` set on the first problem.
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

  if (r.ok())
    checkParameterBytes(r, cfg);
  if (!r.ok()) {
    error = r.getError();
    return false;
  }
  cfg.defaultsApplied = r.getDefaults();
  return true;
}

//===----------------------------------------------------------------------===//
// Checkpoint tensor names
//===----------------------------------------------------------------------===//

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

// The table of logical names -> patterns, with --name-map overrides applied.
class NameMap {
public:
  NameMap() {
    for (const NameMapEntry &entry : kNameMap)
      patterns.emplace_back(entry.logical, entry.pattern);
  }

  // Applies the overrides of a --name-map file; on failure sets `error`.
  bool loadOverrides(const std::string &file, std::string &error) {
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

  // The checkpoint name of `logical` in layer `layer` ({i} substituted; {e} kept: the weight is
  // one tensor per expert, stacked).
  std::string resolve(StringRef logical, int64_t layer) const {
    auto it = llvm::find_if(patterns, [&](const auto &p) { return p.first == logical; });
    assert(it != patterns.end() && "logical name not in the table");
    std::string name = it->second;
    for (size_t at; (at = name.find("{i}")) != std::string::npos;)
      name.replace(at, 3, str(layer));
    return name;
  }

private:
  // Why `pattern` cannot name `logical`'s tensors; empty when it can.
  static std::string checkPattern(StringRef logical, StringRef pattern) {
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

  std::vector<std::pair<std::string, std::string>> patterns;
};

//===----------------------------------------------------------------------===//
// Graph construction
//===----------------------------------------------------------------------===//

class GraphBuilder {
public:
  GraphBuilder(mlir::MLIRContext &context, const ModelConfig &cfg, const NameMap &names,
               const std::string &configPath, bool q1FromQ)
      : ctx(&context), b(&context), cfg(cfg), names(names), configPath(configPath),
        q1FromQ(q1FromQ && cfg.multiStep) {
    dtype = elementType(cfg.dtype);
    f32 = b.getF32Type();
  }

  mlir::OwningOpRef<mlir::ModuleOp> build();

private:
  mlir::Type elementType(DType t) {
    switch (t) {
    case DType::BF16:
      return b.getBF16Type();
    case DType::F16:
      return b.getF16Type();
    case DType::F32:
      break;
    }
    return b.getF32Type();
  }

  mlir::Location loc(const std::string &name) {
    return mlir::NameLoc::get(b.getStringAttr(name));
  }
  static std::string layerName(int64_t i) { return "backbone.layers." + str(i); }

  // [tokens, n] activation.
  mlir::RankedTensorType act(int64_t n, mlir::Type element = {}) {
    return mlir::RankedTensorType::get({mlir::ShapedType::kDynamic, n}, element ? element : dtype);
  }

  mlir::Value weight(StringRef logical, int64_t layer, llvm::ArrayRef<int64_t> shape,
                     mlir::Type element, mlir::Location at) {
    auto type = mlir::RankedTensorType::get(shape, element);
    return b.create<mlir::sl::WeightOp>(at, type, names.resolve(logical, layer));
  }

  // x W^T (+ b) with W [out, in] in the model dtype.
  mlir::Value linear(mlir::Value x, StringRef logical, StringRef biasLogical, bool hasBias,
                     int64_t layer, int64_t out, mlir::Location at) {
    int64_t in = llvm::cast<mlir::RankedTensorType>(x.getType()).getDimSize(1);
    mlir::Value w = weight(logical, layer, {out, in}, dtype, at);
    mlir::Value bias = hasBias ? weight(biasLogical, layer, {out}, dtype, at) : mlir::Value();
    return b.create<mlir::sl::LinearOp>(at, act(out), x, w, bias);
  }

  mlir::sl::MambaStateType mambaStateType() {
    return mlir::sl::MambaStateType::get(ctx, cfg.mambaHeads, cfg.mambaHeadDim, cfg.nGroups,
                                         cfg.ssmStateSize, cfg.convKernel, dtype,
                                         elementType(cfg.ssmDtype));
  }
  mlir::sl::KVCacheType kvCacheType() {
    return mlir::sl::KVCacheType::get(ctx, cfg.kvHeads, cfg.headDim, dtype);
  }

  mlir::Value mamba(int64_t i, mlir::Value x, mlir::Value &state);
  mlir::Value moe(int64_t i, mlir::Value x);
  mlir::Value mlp(int64_t i, mlir::Value x);
  mlir::Value attention(int64_t i, mlir::Value x, mlir::Value &cache);

  mlir::MLIRContext *ctx;
  mlir::OpBuilder b;
  const ModelConfig &cfg;
  const NameMap &names;
  const std::string &configPath;
  bool q1FromQ;
  mlir::Type dtype, f32;
};

mlir::Value GraphBuilder::mamba(int64_t i, mlir::Value x, mlir::Value &state) {
  mlir::Location at = loc(layerName(i) + ".mixer");
  int64_t heads = cfg.mambaHeads, dInner = cfg.mambaHeads * cfg.mambaHeadDim;
  int64_t convChannels = dInner + 2 * cfg.nGroups * cfg.ssmStateSize;
  mlir::Value proj = linear(x, "in_proj", "in_proj_bias", cfg.mambaProjBias, i,
                            dInner + convChannels + heads, at);
  auto split = b.create<mlir::sl::SplitOp>(
      at, mlir::TypeRange{act(dInner), act(convChannels), act(heads)}, proj);
  mlir::Value z = split.getResult(0), xbc = split.getResult(1), dt = split.getResult(2);

  mlir::Value convW = weight("conv1d", i, {convChannels, 1, cfg.convKernel}, dtype, at);
  mlir::Value convB =
      cfg.convBias ? weight("conv1d_bias", i, {convChannels}, dtype, at) : mlir::Value();
  auto conv = b.create<mlir::sl::CausalConv1dOp>(
      at, act(convChannels), state.getType(), xbc, state, convW, convB,
      mlir::sl::ActivationAttr::get(ctx, mlir::sl::Activation::silu));
  state = conv.getNewState();

  mlir::Value aLog = weight("A_log", i, {heads}, f32, at);
  mlir::Value d = weight("D", i, {heads}, f32, at);
  mlir::Value dtBias = weight("dt_bias", i, {heads}, f32, at);
  mlir::FloatAttr dtMin = cfg.dtMin != 0.0 ? b.getF64FloatAttr(cfg.dtMin) : mlir::FloatAttr();
  mlir::FloatAttr dtMax = !std::isinf(cfg.dtMax) ? b.getF64FloatAttr(cfg.dtMax) : mlir::FloatAttr();
  auto scan = b.create<mlir::sl::SSDScanOp>(at, act(dInner), state.getType(), conv.getResult(),
                                            dt, state, aLog, d, dtBias,
                                            b.getI64IntegerAttr(cfg.chunkSize), dtMin, dtMax);
  state = scan.getNewState();

  mlir::Value normW = weight("mamba_norm", i, {dInner}, dtype, at);
  mlir::Value gated = b.create<mlir::sl::GatedRMSNormOp>(
      at, act(dInner), scan.getResult(), z, normW, b.getF64FloatAttr(cfg.eps),
      b.getI64IntegerAttr(dInner / cfg.nGroups));
  return linear(gated, "out_proj", "out_proj_bias", cfg.mambaProjBias, i, cfg.hidden, at);
}

mlir::Value GraphBuilder::moe(int64_t i, mlir::Value x) {
  mlir::Location at = loc(layerName(i) + ".mixer");
  mlir::Value gate = weight("gate", i, {cfg.experts, cfg.hidden}, dtype, at);
  mlir::Value bias = weight("e_score_correction_bias", i, {cfg.experts}, f32, at);
  auto router = b.create<mlir::sl::MoERouterOp>(
      at, act(cfg.topK, f32), act(cfg.topK, b.getI32Type()), x, gate, bias,
      b.getI64IntegerAttr(cfg.topK), b.getF64FloatAttr(cfg.routedScaling),
      cfg.normTopK ? b.getUnitAttr() : mlir::UnitAttr());
  mlir::Value up =
      weight("expert_up_proj", i, {cfg.experts, cfg.moeIntermediate, cfg.hidden}, dtype, at);
  mlir::Value down =
      weight("expert_down_proj", i, {cfg.experts, cfg.hidden, cfg.moeIntermediate}, dtype, at);
  mlir::Value routed = b.create<mlir::sl::MoEExpertsOp>(
      at, act(cfg.hidden), x, router.getWeights(), router.getIndices(), up, down,
      mlir::sl::ActivationAttr::get(ctx, cfg.moeActivation));
  if (cfg.sharedExperts == 0)
    return routed;
  mlir::Value s = linear(x, "shared_up_proj", "", false, i, cfg.sharedIntermediate, at);
  s = b.create<mlir::sl::ActivationOp>(at, s.getType(), cfg.moeActivation, s);
  s = linear(s, "shared_down_proj", "", false, i, cfg.hidden, at);
  return b.create<mlir::sl::AddOp>(at, routed.getType(), routed, s);
}

mlir::Value GraphBuilder::mlp(int64_t i, mlir::Value x) {
  mlir::Location at = loc(layerName(i) + ".mixer");
  mlir::Value h = linear(x, "up_proj", "up_proj_bias", cfg.mlpBias, i, cfg.intermediate, at);
  h = b.create<mlir::sl::ActivationOp>(at, h.getType(), cfg.mlpActivation, h);
  return linear(h, "down_proj", "down_proj_bias", cfg.mlpBias, i, cfg.hidden, at);
}

mlir::Value GraphBuilder::attention(int64_t i, mlir::Value x, mlir::Value &cache) {
  mlir::Location at = loc(layerName(i) + ".mixer");
  int64_t qWidth = cfg.heads * cfg.headDim, kvWidth = cfg.kvHeads * cfg.headDim;
  bool bias = cfg.attentionBias;
  mlir::Value q1;
  if (cfg.multiStep && !q1FromQ)
    q1 = linear(x, "q1_proj", "q1_proj_bias", bias, i, qWidth, at);
  mlir::Value q = linear(x, "q_proj", "q_proj_bias", bias, i, qWidth, at);
  mlir::Value k = linear(x, "k_proj", "k_proj_bias", bias, i, kvWidth, at);
  mlir::Value v = linear(x, "v_proj", "v_proj_bias", bias, i, kvWidth, at);
  mlir::Value out;
  if (cfg.multiStep) {
    auto config = mlir::sl::MultiStepConfigAttr::get(
        ctx, cfg.swIndex, cfg.numSpans, llvm::APFloat(cfg.backwardFactor),
        llvm::APFloat(cfg.forwardFactor), llvm::APFloat(cfg.searchPower),
        llvm::APFloat(cfg.spanPower));
    auto op = b.create<mlir::sl::MultiStepAttentionOp>(at, act(qWidth), cache.getType(),
                                                       q1 ? q1 : q, q, k, v, cache, config,
                                                       b.getI64IntegerAttr(cfg.heads));
    out = op.getResult();
    cache = op.getNewCache();
  } else {
    auto op = b.create<mlir::sl::DenseAttentionOp>(at, act(qWidth), cache.getType(), q, k, v,
                                                   cache, b.getI64IntegerAttr(cfg.heads));
    out = op.getResult();
    cache = op.getNewCache();
  }
  return linear(out, "o_proj", "o_proj_bias", bias, i, cfg.hidden, at);
}

mlir::OwningOpRef<mlir::ModuleOp> GraphBuilder::build() {
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::FileLineColLoc::get(ctx, configPath, 1, 1));

  // Module attributes: what the config said, and which defaults filled its gaps.
  llvm::SmallVector<mlir::Attribute> defaults;
  for (const std::string &key : cfg.defaultsApplied)
    defaults.push_back(b.getStringAttr(key));
  auto tokenAttr = [&](const json &v) -> mlir::Attribute {
    if (!v.is_array())
      return b.getI64IntegerAttr(v.get<int64_t>());
    llvm::SmallVector<mlir::Attribute> ids;
    for (const json &item : v)
      ids.push_back(b.getI64IntegerAttr(item.get<int64_t>()));
    return b.getArrayAttr(ids);
  };
  mlir::ModuleOp m = *module;
  m->setAttr("sl.model_type", b.getStringAttr(cfg.modelType));
  m->setAttr("sl.layers", b.getStringAttr(cfg.pattern));
  m->setAttr("sl.vocab_size", b.getI64IntegerAttr(cfg.vocab));
  m->setAttr("sl.hidden_size", b.getI64IntegerAttr(cfg.hidden));
  if (cfg.bos)
    m->setAttr("sl.bos_token_id", tokenAttr(*cfg.bos));
  if (cfg.eos)
    m->setAttr("sl.eos_token_id", tokenAttr(*cfg.eos));
  m->setAttr("sl.defaults_applied", b.getArrayAttr(defaults));
  if (q1FromQ)
    m->setAttr("sl.q1_from_q", b.getUnitAttr());

  // forward(tokens, states...) -> (logits, next token, states...).
  llvm::SmallVector<mlir::Type> stateTypes;
  llvm::SmallVector<mlir::Location> stateLocs;
  for (auto [i, kind] : llvm::enumerate(cfg.pattern)) {
    if (kind == 'M')
      stateTypes.push_back(mambaStateType());
    else if (kind == '*')
      stateTypes.push_back(kvCacheType());
    else
      continue;
    stateLocs.push_back(loc(layerName(i) + ".mixer"));
  }
  auto tokensType = mlir::RankedTensorType::get({mlir::ShapedType::kDynamic}, b.getI32Type());
  auto logitsType = act(cfg.vocab, f32);
  llvm::SmallVector<mlir::Type> inputs{tokensType}, results{logitsType, tokensType};
  llvm::append_range(inputs, stateTypes);
  llvm::append_range(results, stateTypes);

  b.setInsertionPointToEnd(m.getBody());
  auto func = b.create<mlir::func::FuncOp>(loc("forward"), "forward",
                                           b.getFunctionType(inputs, results));
  llvm::SmallVector<mlir::Location> argLocs{loc("tokens")};
  llvm::append_range(argLocs, stateLocs);
  mlir::Block *body = b.createBlock(&func.getBody(), {}, inputs, argLocs);
  b.setInsertionPointToEnd(body);

  mlir::Location embAt = loc("backbone.embeddings");
  mlir::Value table = weight("embeddings", 0, {cfg.vocab, cfg.hidden}, dtype, embAt);
  mlir::Value h =
      b.create<mlir::sl::EmbeddingOp>(embAt, act(cfg.hidden), body->getArgument(0), table);

  llvm::SmallVector<mlir::Value> states(body->getArguments().drop_front());
  size_t nextState = 0;
  for (auto [index, kind] : llvm::enumerate(cfg.pattern)) {
    int64_t i = index;
    mlir::Location normAt = loc(layerName(i) + ".norm");
    mlir::Value normW = weight("norm", i, {cfg.hidden}, dtype, normAt);
    mlir::Value x = b.create<mlir::sl::RMSNormOp>(normAt, act(cfg.hidden), h, normW,
                                                  b.getF64FloatAttr(cfg.eps));
    mlir::Value out;
    switch (kind) {
    case 'M':
      out = mamba(i, x, states[nextState++]);
      break;
    case 'E':
      out = moe(i, x);
      break;
    case '-':
      out = mlp(i, x);
      break;
    default:
      out = attention(i, x, states[nextState++]);
      break;
    }
    h = b.create<mlir::sl::AddOp>(loc(layerName(i)), h.getType(), h, out);
  }

  mlir::Location normFAt = loc("backbone.norm_f");
  mlir::Value normF = weight("norm_f", 0, {cfg.hidden}, dtype, normFAt);
  h = b.create<mlir::sl::RMSNormOp>(normFAt, act(cfg.hidden), h, normF,
                                    b.getF64FloatAttr(cfg.eps));
  mlir::Location headAt = loc("lm_head");
  mlir::Value lmW =
      cfg.tieEmbeddings ? table : weight("lm_head", 0, {cfg.vocab, cfg.hidden}, dtype, headAt);
  mlir::Value logits = b.create<mlir::sl::LMHeadOp>(headAt, logitsType, h, lmW);
  mlir::Value next = b.create<mlir::sl::SampleOp>(loc("sample"), tokensType, logits);

  llvm::SmallVector<mlir::Value> returned{logits, next};
  llvm::append_range(returned, states);
  b.create<mlir::func::ReturnOp>(loc("forward"), returned);
  return module;
}

// The innermost "backbone.layers.N..." (or other) name of a location, for messages.
std::string describeLocation(mlir::Location location) {
  std::string found;
  location->walk([&](mlir::Location l) {
    if (auto name = llvm::dyn_cast<mlir::NameLoc>(l)) {
      found = name.getName().str();
      return mlir::WalkResult::interrupt();
    }
    return mlir::WalkResult::advance();
  });
  return found.empty() ? "an unnamed location" : found;
}

}  // namespace

llvm::ArrayRef<NameMapEntry> defaultNameMap() { return kNameMap; }

mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context,
                                              const ImportOptions &options, std::string &error) {
  context.getOrLoadDialect<mlir::sl::SLDialect>();
  context.getOrLoadDialect<mlir::func::FuncDialect>();

  // <dir>/config.json, or the file itself when given one.
  std::string configPath = options.modelDir;
  if (!llvm::sys::fs::is_regular_file(configPath)) {
    llvm::SmallString<256> path(options.modelDir);
    llvm::sys::path::append(path, "config.json");
    configPath = path.str().str();
  }

  std::optional<json> root = readJsonFile(configPath, error);
  if (!root)
    return nullptr;
  ModelConfig cfg;
  if (!readConfig(*root, configPath, cfg, error))
    return nullptr;
  NameMap names;
  if (!options.nameMapFile.empty() && !names.loadOverrides(options.nameMapFile, error))
    return nullptr;

  // Diagnostics raised while building or verifying are importer bugs: keep the first one.
  std::string diagnostic;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
    if (diagnostic.empty())
      diagnostic = "at " + describeLocation(diag.getLocation()) + ": " + diag.str();
    return mlir::success();
  });
  GraphBuilder builder(context, cfg, names, configPath, options.q1FromQ);
  mlir::OwningOpRef<mlir::ModuleOp> module = builder.build();
  if (failed(mlir::verify(*module)) || !diagnostic.empty()) {
    error = configPath + ": internal error: the imported graph does not verify " +
            (diagnostic.empty() ? std::string("(no diagnostic)") : diagnostic) +
            " (please report this importer bug with the config.json)";
    return nullptr;
  }
  return module;
}

}  // namespace sl::importer
