// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_gemv_norm.cuh"

// Real shapes: the Mamba in_proj (2688 -> 10304) and the attention q projection with bias.
extern "C" __global__ void __launch_bounds__(128)
in_proj(const slk::bf16 *a, slk::i32 lda, const slk::bf16 *nw, float eps, const slk::bf16 *w,
        const slk::bf16 *bias, const slk::bf16 *residual, slk::bf16 *c, slk::i32 ldc,
        slk::i32 m, slk::i32 n, slk::i32 k) {
  slk::gemv_rmsnorm<slk::bf16, slk::bf16, slk::bf16, 4, 1, slk::kActNone, false, false>(
      a, lda, nw, eps, w, bias, residual, c, ldc, m, n, k);
}
extern "C" __global__ void __launch_bounds__(256)
tiny_f32(const float *a, slk::i32 lda, const float *nw, float eps, const float *w,
         const float *bias, const float *residual, float *c, slk::i32 ldc, slk::i32 m,
         slk::i32 n, slk::i32 k) {
  slk::gemv_rmsnorm<float, float, float, 8, 4, slk::kActRelu2, true, true>(
      a, lda, nw, eps, w, bias, residual, c, ldc, m, n, k);
}
