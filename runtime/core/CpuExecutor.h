// Runs a function of an artifact on the CPU backend: resolves every launch argument (arena
// buffers, weights, inputs, session state, run-time values, multi-step host tables) and calls the
// reference kernel of the launch's template (runtime/cpu).
#pragma once

#include "runtime/core/Artifact.h"
#include "runtime/core/Session.h"

#include <cstdint>
#include <vector>

namespace sl::runtime {

// One output of a call: its bytes, element type and shape (token dimension resolved).
struct Tensor {
  sl::schema::DType dtype = sl::schema::DType::f32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

class CpuExecutor {
public:
  // `weights[i]` holds weight binding i of `artifact` in its binding dtype and shape.
  CpuExecutor(const Artifact &artifact, const std::vector<std::vector<uint8_t>> &weights)
      : artifact_(artifact), weights_(weights) {}

  // Runs `function` on `tokens` new tokens: `inputs[i]` points to input i (its shape with the
  // token dimension = tokens). Advances `session` by `tokens` when the function has state.
  StatusOr<std::vector<Tensor>> call(const sl::schema::Function &function, Session &session,
                                     const std::vector<const void *> &inputs, int64_t tokens);

private:
  const Artifact &artifact_;
  const std::vector<std::vector<uint8_t>> &weights_;
};

}  // namespace sl::runtime
