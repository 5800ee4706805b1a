// A loaded model: the artifact plus its weights, read from a HuggingFace model directory and
// converted to the dtypes and shapes the artifact binds.
#pragma once

#include "runtime/core/Artifact.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sl::runtime {

class Model {
public:
  // Errors name the file and the problem: unreadable or mismatched artifact, missing weights
  // directory, and (all at once) missing, unexpected or mis-shaped tensors. An empty
  // `weightsDir` is accepted for artifacts that bind no weights.
  static StatusOr<std::unique_ptr<Model>> load(const std::string &artifactPath,
                                               const std::string &weightsDir);

  // A model whose weights are synthesised (RandomWeights.h) from `seed` instead of read; with
  // `materialize` false the host copy is skipped (the CUDA backend fills device memory itself).
  static StatusOr<std::unique_ptr<Model>> synthesize(const std::string &artifactPath,
                                                     uint64_t seed, bool materialize);

  const Artifact &artifact() const { return artifact_; }
  // The seed of synthesised weights, if they are.
  std::optional<uint64_t> randomSeed() const { return randomSeed_; }
  // Weight binding i, in its binding dtype and shape.
  const std::vector<std::vector<uint8_t>> &weights() const { return weights_; }
  // Vocabulary size (from the model's module attributes), 0 if unknown.
  int64_t vocabSize() const { return vocab_; }

private:
  explicit Model(Artifact artifact) : artifact_(std::move(artifact)) {}
  Artifact artifact_;
  std::vector<std::vector<uint8_t>> weights_;
  int64_t vocab_ = 0;
  std::optional<uint64_t> randomSeed_;
  void readAttributes();
};

}  // namespace sl::runtime
