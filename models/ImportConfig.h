// `slc import`, step 1 (models/Importer.h): config.json read and validated into a ModelConfig.
// The shared parts: the bounds of the size keys, message helpers and JSON files
// (ImportJson.cpp), typed key access with the first error (ConfigReader.cpp), the model-wide
// keys (ModelConfig.cpp); the keys of each layer kind are read next to its builder
// (NemotronH.cpp, SuperlinearExp.cpp). Private to models/.
#pragma once

#include "dialects/SL/SLDialect.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sl::importer::detail {

using json = nlohmann::json;
using llvm::StringRef;

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

//===----------------------------------------------------------------------===//
// Messages and JSON files (ImportJson.cpp)
//===----------------------------------------------------------------------===//

std::string str(int64_t v);
// Shortest decimal spelling that reads back as the same double ("0.55", "2.5", "inf").
std::string fmt(double v);
// A JSON value as a message shows it: its type and (shortened) text.
std::string describe(const json &v);

// Reads and parses a JSON file; on failure sets `error` ("<path>: cannot read: ...",
// "<path>: invalid JSON: parse error at line L, column C: ..." or
// "<path>: invalid JSON: nesting deeper than 64 levels at $.a.b").
std::optional<json> readJsonFile(const std::string &path, std::string &error);

//===----------------------------------------------------------------------===//
// Config reader: typed access with defaults and the first error (ConfigReader.cpp)
//===----------------------------------------------------------------------===//

enum class DType { BF16, F16, F32 };

// Reads keys of the top-level object. The first error is kept (later calls return harmless
// values and leave it alone), so a section reads all its keys and checks ok() once before it
// derives anything from them.
class ConfigReader {
public:
  ConfigReader(const json &root, std::string path) : root(root), path(std::move(path)) {}

  bool ok() const { return error.empty(); }

  // Records "<path>: key '<key>': <problem>" unless an error is already recorded; returns false.
  bool fail(StringRef key, const std::string &problem);

  // Why the keys read next are required ("needed by the Mamba-2 layers (M) of the pattern").
  void setRequiredBy(std::string reason) { requiredBy = std::move(reason); }

  // The value of `key` or of its legacy spelling; null when absent. JSON null is returned as is.
  const json *lookup(StringRef key);

  // True when the key (or its legacy spelling) is present and not null.
  bool present(StringRef key);

  void noteDefault(StringRef key);

  // An integer in [min, max]; `def` makes the key optional (absent or null -> def, recorded).
  int64_t integer(StringRef key, std::optional<int64_t> def, int64_t min, int64_t max);

  // A number (integer or float; also Infinity / -Infinity / NaN as Python writes them, and
  // transformers' {"__float__": "Infinity"}); range checks are the caller's.
  double number(StringRef key, std::optional<double> def);

  bool boolean(StringRef key, std::optional<bool> def);

  std::string string(StringRef key, std::optional<std::string> def);

  // A float dtype name: bfloat16, float16 or float32.
  DType dtype(StringRef key, std::optional<std::string> def);

  // An activation name: `allowed` lists the supported ones ("relu2", "silu").
  mlir::sl::Activation activation(StringRef key, std::optional<std::string> def,
                                  llvm::ArrayRef<StringRef> allowed);

  static std::optional<double> toNumber(const json &v);

  const std::string &getError() const { return error; }
  const std::vector<std::string> &getDefaults() const { return defaults; }

private:
  const json *member(StringRef key) const;

  // The spelling of `key` found in the file (a legacy one, if that is what the file has).
  std::string spelling(StringRef key) const;

  template <typename T>
  T absent(StringRef key, const std::optional<T> &def, T fallback);

  std::string because() const { return requiredBy.empty() ? "" : " (" + requiredBy + ")"; }

  static std::string rangeText(int64_t min, int64_t max);

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

// config.json -> ModelConfig (ModelConfig.cpp). Returns false with `error` set on the first
// problem.
bool readConfig(const json &root, const std::string &path, ModelConfig &cfg,
                std::string &error);

// The keys of the layer kinds of the pattern, each read only when the pattern has that kind.
// Nemotron-H (NemotronH.cpp):
void readMamba(ConfigReader &r, ModelConfig &cfg);
void readMoE(ConfigReader &r, ModelConfig &cfg);
void readMLP(ConfigReader &r, ModelConfig &cfg);
void readAttention(ConfigReader &r, ModelConfig &cfg);
// superlinear-exp (SuperlinearExp.cpp): the multi-step attention hyper-parameters.
void readMultiStep(ConfigReader &r, ModelConfig &cfg);

}  // namespace sl::importer::detail
