// sl_sample.cuh: greedy sampling (argmax over fp32 logits).
#pragma once

#include "sl_common.cuh"

namespace slk {
namespace smp {

// Is (v, i) a better argmax candidate than (bv, bi)? Larger value wins; NaN beats every
// number (torch.argmax propagates NaN); on equal values (or both NaN) the lower index wins.
__device__ __forceinline__ bool better(float v, i32 i, float bv, i32 bi) {
  const bool vn = v != v, bn = bv != bv;
  if (vn || bn)
    return vn && (!bn || i < bi);
  return v > bv || (v == bv && i < bi);
}

}  // namespace smp

// argmax<THREADS>(logits [n, vocab] fp32, out [n] i32, n, vocab): ties -> lowest index (as
// torch.argmax). grid (n), block THREADS (a multiple of 32, <= 1024), smem 0.
// float4 loads when vocab % 4 == 0 and logits is 16-byte aligned.
template <int THREADS>
__device__ void argmax(const float *logits, i32 *out, i32 n, i32 vocab) {
  static_assert(THREADS % 32 == 0 && THREADS <= 1024, "THREADS must be a multiple of 32, <= 1024");
  __shared__ float s_val[THREADS / 32];
  __shared__ i32 s_idx[THREADS / 32];
  const i32 row = blockIdx.x;
  if (row >= n)
    return;
  const float *lr = logits + i64(row) * vocab;
  float best = neg_inf();
  i32 bi = 0x7fffffff;
  if (vocab % 4 == 0 && (reinterpret_cast<u64>(logits) & 15) == 0) {
    const float4 *l4 = reinterpret_cast<const float4 *>(lr);
    const i32 chunks = vocab / 4;
    for (i32 c = threadIdx.x; c < chunks; c += THREADS) {
      const float4 v = l4[c];
      const i32 i = c * 4;
      if (smp::better(v.x, i, best, bi)) { best = v.x; bi = i; }
      if (smp::better(v.y, i + 1, best, bi)) { best = v.y; bi = i + 1; }
      if (smp::better(v.z, i + 2, best, bi)) { best = v.z; bi = i + 2; }
      if (smp::better(v.w, i + 3, best, bi)) { best = v.w; bi = i + 3; }
    }
  } else {
    for (i32 i = threadIdx.x; i < vocab; i += THREADS) {
      const float v = lr[i];
      if (smp::better(v, i, best, bi)) { best = v; bi = i; }
    }
  }
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, off);
    const i32 oi = __shfl_xor_sync(0xffffffffu, bi, off);
    if (smp::better(ov, oi, best, bi)) { best = ov; bi = oi; }
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    s_val[warp] = best;
    s_idx[warp] = bi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float b = s_val[0];
    i32 idx = s_idx[0];
    for (int w = 1; w < THREADS / 32; ++w)
      if (smp::better(s_val[w], s_idx[w], b, idx)) { b = s_val[w]; idx = s_idx[w]; }
    // vocab == 0 or every value -inf: index of the first element (torch returns 0 for all -inf).
    out[row] = idx == 0x7fffffff ? 0 : idx;
  }
}

}  // namespace slk
