// sl_random.cuh: deterministic synthetic weights (slrun --random-weights), for benchmarks of
// real shapes without a checkpoint. Element i of binding b is a function of (seed, b, i) only
// (b: the stream of the binding's checkpoint tensor, a hash of its name, runtime::randomStream),
// computed with the same integer hash and float operations as the runtime's host version
// (runtime/core/RandomWeights.h), so the CPU and CUDA backends see identical weights.
#pragma once

#include "sl_common.cuh"

namespace slk {

__host__ __device__ inline u64 mix64(u64 x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// offset + scale * u, u uniform in [-1, 1) with 24 bits.
__host__ __device__ inline float random_weight(u64 seed, u32 binding, u64 index, float scale,
                                               float offset) {
  const u64 h = mix64(mix64(seed ^ (u64(binding) << 40)) ^ index);
  const float u = float(i32(h >> 40) - (1 << 23)) * (1.0f / float(1 << 23));
  return __fadd_rn(offset, __fmul_rn(scale, u));
}

// A run of a binding (runtime::RandomRun): for r < rows and j < length,
// out[r * out_stride + j] = random_weight(seed, binding, whole_base + r * whole_stride + j, ...)
// as T (out points at the run's first element). Grid (rows * ceil(length / (THREADS * 8))),
// block THREADS.
template <typename T, int THREADS>
__device__ void fill_random(T *out, i64 rows, i64 length, i64 out_stride, u64 whole_base,
                            u64 whole_stride, u64 seed, u32 binding, float scale, float offset) {
  const i64 blocks_per_row = (length + THREADS * 8 - 1) / (THREADS * 8);
  const i64 row = i64(blockIdx.x) / blocks_per_row;
  if (row >= rows)
    return;
  const i64 first = (i64(blockIdx.x) % blocks_per_row * THREADS + threadIdx.x) * 8;
  T *out_row = out + row * out_stride;
  const u64 whole_row = whole_base + u64(row) * whole_stride;
#pragma unroll
  for (int j = 0; j < 8; ++j)
    if (first + j < length)
      store_f32(out_row + first + j,
                random_weight(seed, binding, whole_row + u64(first + j), scale, offset));
}

}  // namespace slk
