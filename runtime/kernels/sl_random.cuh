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

// out[i] = random_weight(seed, binding, i, scale, offset) as T, i < count.
// Grid (ceil(count / (THREADS * 8))), block THREADS.
template <typename T, int THREADS>
__device__ void fill_random(T *out, i64 count, u64 seed, u32 binding, float scale, float offset) {
  const i64 first = (i64(blockIdx.x) * THREADS + threadIdx.x) * 8;
#pragma unroll
  for (int j = 0; j < 8; ++j)
    if (first + j < count)
      store_f32(out + first + j, random_weight(seed, binding, u64(first + j), scale, offset));
}

}  // namespace slk
