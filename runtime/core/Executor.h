// A backend that runs one function of an artifact: the CPU reference backend or the CUDA one.
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

class Executor {
public:
  virtual ~Executor() = default;
  // Runs `function` on `tokens` new tokens: `inputs[i]` points to input i in host memory (its
  // shape with the token dimension = tokens). Advances `session` by `tokens` when the function
  // has state.
  virtual StatusOr<std::vector<Tensor>> call(const sl::schema::Function &function,
                                             Session &session,
                                             const std::vector<const void *> &inputs,
                                             int64_t tokens) = 0;
  // Fills the session's KV caches and Mamba states with synthetic values as if `length` tokens
  // had been seen (benchmarks at long context without prefilling it).
  virtual Status synthesizeState(Session &session, int64_t length, uint64_t seed) = 0;
};

}  // namespace sl::runtime
