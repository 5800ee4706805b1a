// Deterministic synthetic weights for `slrun --random-weights` (benchmarks of real shapes
// without a checkpoint). Element i of checkpoint tensor b: offset + scale * u(seed, s(b), i), u
// uniform in [-1, 1), s(b) a hash of the tensor's name (not its binding index), so that a
// rank's slice of a tensor-parallel model (i = the element's index in the whole tensor) holds
// exactly the values of the unsharded model; scale = 1/sqrt(fan-in) for matrices (last
// dimension of the whole tensor), vectors are 1 + 0.1 u (norm weights, D, A_log, dt_bias stay
// near their usual magnitude). The CUDA backend fills device memory with the same values
// (runtime/kernels/sl_random.cuh), so both backends agree.
#pragma once

#include "runtime/core/Artifact.h"

#include <cstdint>
#include <vector>

namespace sl::runtime {

struct RandomFill {
  float scale, offset;
};
RandomFill randomFillOf(const sl::schema::WeightBinding &binding);
// The random stream of a binding's checkpoint tensor: a hash of its name.
uint32_t randomStream(const sl::schema::WeightBinding &binding);

// Where a binding's elements lie in its checkpoint tensor, as strided runs: for r < rows and
// j < length, element sliceBase + r * sliceStride + j of the binding is element
// wholeBase + r * wholeStride + j of the whole tensor. One run (rows 1) for an unsliced binding;
// a rank's slice has a run per range, `rows` = the elements before the sliced dimension. The
// CUDA backend fills a slice run by run (slk::fill_random); the host fill agrees (a unit test).
struct RandomRun {
  uint64_t rows = 1, length = 0, sliceBase = 0, sliceStride = 0, wholeBase = 0, wholeStride = 0;
};
std::vector<RandomRun> randomRuns(const sl::schema::WeightBinding &binding);

// The same function as slk::random_weight (sl_random.cuh), on the host.
float randomWeight(uint64_t seed, uint32_t binding, uint64_t index, float scale, float offset);

// Every weight binding of `artifact`, synthesised in its dtype and shape.
std::vector<std::vector<uint8_t>> randomWeights(const Artifact &artifact, uint64_t seed);

// `count` values scale * u (stream `stream` of `seed`) in `dtype`: synthetic session state.
std::vector<uint8_t> synthesizedValues(size_t count, sl::schema::DType dtype, uint64_t seed,
                                       uint32_t stream, float scale);

}  // namespace sl::runtime
