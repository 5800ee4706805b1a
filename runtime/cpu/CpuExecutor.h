// Runs a function of an artifact on the CPU backend: resolves every launch argument (arena
// buffers, weights, inputs, session state, run-time values, multi-step host tables) and calls the
// reference kernel of the launch's template (runtime/cpu).
#pragma once

#include "runtime/core/Executor.h"

namespace sl::runtime {

class CpuExecutor : public Executor {
public:
  // `weights[i]` holds weight binding i of `artifact` in its binding dtype and shape. Runs the
  // first plan (the first `slc compile --target`): the reference kernels compute the same for
  // every plan's tile choices.
  CpuExecutor(const Artifact &artifact, const std::vector<std::vector<uint8_t>> &weights)
      : Executor(*artifact.root().plans()->Get(0)), artifact_(artifact), weights_(weights) {}

  StatusOr<std::vector<Tensor>> call(const sl::schema::Function &function, Session &session,
                                     const std::vector<const void *> &inputs,
                                     int64_t tokens, runtime::OutputRows rows) override;
  Status synthesizeState(Session &session, int64_t length, uint64_t seed) override;

private:
  // Refuses another executor's session; makes the session this executor's on its first use.
  Status claim(Session &session);
  const Artifact &artifact_;
  const std::vector<std::vector<uint8_t>> &weights_;
};

}  // namespace sl::runtime
