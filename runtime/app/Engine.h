// Prefill (in chunks) and decode of a model on the CPU backend: logits of every prompt position,
// and token generation with the sampler.
#pragma once

#include "runtime/cpu/CpuExecutor.h"
#include "runtime/core/Model.h"
#include "runtime/core/Sampler.h"
#include "runtime/core/Session.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace sl::runtime {

class Engine {
public:
  // On the CPU backend, or on `executor` (e.g. the CUDA backend).
  explicit Engine(const Model &model)
      : model_(model), executor_(std::make_unique<CpuExecutor>(model.artifact(), model.weights())) {}
  Engine(const Model &model, std::unique_ptr<Executor> executor)
      : model_(model), executor_(std::move(executor)) {}

  // Feeds `tokens` to the session in chunks of at most `chunk` tokens (0: the prefill
  // function's capacity). Returns the fp32 logits [tokens, vocab] of every position when
  // `allPositions`, else those of the last position only.
  StatusOr<std::vector<float>> prefill(Session &session, const std::vector<int32_t> &tokens,
                                       int64_t chunk, bool allPositions);
  // One decode step of `token`; returns its logits [vocab].
  StatusOr<std::vector<float>> decode(Session &session, int32_t token);
  // Prefill of the prompt, then `newTokens` tokens drawn by `sampler` (decode steps).
  StatusOr<std::vector<int32_t>> generate(Session &session, const std::vector<int32_t> &prompt,
                                          int64_t newTokens, Sampler &sampler, int64_t chunk);

  int64_t vocab() const;
  // A token id outside [0, vocab) is an error naming its position.
  Status checkTokens(const std::vector<int32_t> &tokens) const;

  Executor &executor() { return *executor_; }

private:
  StatusOr<const sl::schema::Function *> function(const char *name) const;
  const Model &model_;
  std::unique_ptr<Executor> executor_;
};

}  // namespace sl::runtime
