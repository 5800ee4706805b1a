// sl_gemv_norm.cuh: a decode projection with its RMSNorm fused in front (sl.linear with a
// norm operand): the block normalises its input rows into shared memory exactly as rms_norm
// does, then every warp computes one output column as gemv does. Saves the norm's launch and
// the round trip of the normalised rows through memory.
#pragma once

#include "sl_gemm.cuh"
#include "sl_norm.cuh"

namespace slk {

// Dynamic shared memory (bytes) of gemv_rmsnorm: MAX_M normalised rows of k elements, the row
// stride rounded up to 8 elements.
template <typename T, int MAX_M>
__host__ __device__ constexpr int gemv_rmsnorm_smem(int k) {
  return MAX_M * ((k + 7) / 8 * 8) * int(sizeof(T));
}

// gemv_rmsnorm<T, WT, OUT_T, WARPS, MAX_M, ACT, HAS_BIAS, HAS_RESIDUAL>(a, lda, norm_weight,
//     eps, w, bias, residual, c, ldc, m, n, k):
//   c = epilogue(T(norm_weight * T(a * rsqrt(mean(a^2) + eps))) w^T)   (gemv's epilogue)
// m <= MAX_M rows. grid (ceil(n/WARPS)), block 32·WARPS, dynamic smem
// MAX_M · ceil(k/8)·8 · sizeof(T) bytes.
template <typename T, typename WT, typename OUT_T, int WARPS, int MAX_M, int ACT, bool HAS_BIAS,
          bool HAS_RESIDUAL>
__device__ void gemv_rmsnorm(const T *a, i32 lda, const WT *norm_weight, float eps, const T *w,
                             const T *bias, const T *residual, OUT_T *c, i32 ldc, i32 m, i32 n,
                             i32 k) {
  constexpr int THREADS = 32 * WARPS;
  __shared__ float scratch[WARPS];
  T *rows = reinterpret_cast<T *>(dn::dyn_smem());
  const i32 ldr = (k + 7) / 8 * 8;
  // Every thread takes part in the norm (block-wide sums) before any warp may return.
  for (int r = 0; r < MAX_M; ++r) {
    if (r >= m)
      break;
    float ss = 0.0f;
    for (i32 kk = threadIdx.x; kk < k; kk += THREADS) {
      const float x = load_f32(a + i64(r) * lda + kk);
      ss += x * x;
    }
    const float rstd = rsqrtf(block_sum<THREADS>(ss, scratch) / float(k) + eps);
    for (i32 kk = threadIdx.x; kk < k; kk += THREADS)
      store_f32(rows + i64(r) * ldr + kk,
                load_f32(norm_weight + kk) *
                    nrm::Round<T>::f(load_f32(a + i64(r) * lda + kk) * rstd));
  }
  __syncthreads();
  dn::gemv_columns<T, OUT_T, WARPS, MAX_M, ACT, HAS_BIAS, HAS_RESIDUAL>(rows, ldr, w, bias, residual,
                                                                       c, ldc, m, n, k);
}

}  // namespace slk
