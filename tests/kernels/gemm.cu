// The dense linear kernels (gemm: tensor-core bf16 and FMA float paths; gemm_wgmma: wgmma on
// sm_90a, gemm's mma.sync loop on sm_100a; gemv) instantiate for both targets with
// representative and real Nemotron-H specialisations.
// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_gemm.cuh"

using slk::bf16;
using slk::i32;

#define GEMM_ARGS(T, O)                                                                        \
  const T *a, i32 lda, const T *w, const T *bias, const T *residual, O *c, i32 ldc, i32 m, i32 n, \
      i32 k
#define GEMM_CALL a, lda, w, bias, residual, c, ldc, m, n, k

// Prefill main configuration: 128x128x32, 4 stages, 8 warps (in_proj 10304, out_proj 2688).
extern "C" __global__ void __launch_bounds__(256)
gemm_bf16_bm128_bn128_bk32_s4_w2x4(GEMM_ARGS(bf16, bf16)) {
  slk::gemm<bf16, bf16, 128, 128, 32, 4, 2, 4, slk::kActNone, false, false>(GEMM_CALL);
}
// Shared expert up with relu2, bias and residual, fp32 output (lm_head-like).
extern "C" __global__ void __launch_bounds__(256)
gemm_bf16_relu2_bias_res(GEMM_ARGS(bf16, bf16)) {
  slk::gemm<bf16, bf16, 128, 128, 64, 3, 2, 4, slk::kActRelu2, true, true>(GEMM_CALL);
}
extern "C" __global__ void __launch_bounds__(256)
gemm_bf16_f32out_silu(GEMM_ARGS(bf16, float)) {
  slk::gemm<bf16, float, 64, 128, 32, 3, 2, 4, slk::kActSilu, true, false>(GEMM_CALL);
}
// Small tiles, odd number of n8 blocks per warp (WN = 8), 2 stages.
extern "C" __global__ void __launch_bounds__(128)
gemm_bf16_small(GEMM_ARGS(bf16, bf16)) {
  slk::gemm<bf16, bf16, 32, 32, 16, 2, 2, 2, slk::kActNone, false, true>(GEMM_CALL);
}
extern "C" __global__ void __launch_bounds__(256)
gemm_f32(GEMM_ARGS(float, float)) {
  slk::gemm<float, float, 64, 64, 16, 2, 2, 4, slk::kActSilu, true, true>(GEMM_CALL);
}
extern "C" __global__ void __launch_bounds__(128)
gemm_f32_small(GEMM_ARGS(float, float)) {
  slk::gemm<float, float, 32, 32, 32, 1, 2, 2, slk::kActNone, false, false>(GEMM_CALL);
}
// Hopper: the heuristic's tiles (128x256, 4 slots; 128x128, 6; 64x256, 4), a float output.
extern "C" __global__ void __launch_bounds__(256)
gemm_wgmma_bm128_bn256_s4(GEMM_ARGS(bf16, bf16)) {
  slk::gemm_wgmma<bf16, bf16, 128, 256, 4, slk::kActNone, false, false>(GEMM_CALL);
}
extern "C" __global__ void __launch_bounds__(256)
gemm_wgmma_bm128_bn128_s6_relu2(GEMM_ARGS(bf16, bf16)) {
  slk::gemm_wgmma<bf16, bf16, 128, 128, 6, slk::kActRelu2, true, true>(GEMM_CALL);
}
extern "C" __global__ void __launch_bounds__(128)
gemm_wgmma_bm64_bn256_s4_f32out(GEMM_ARGS(bf16, float)) {
  slk::gemm_wgmma<bf16, float, 64, 256, 4, slk::kActNone, false, false>(GEMM_CALL);
}
// Decode.
extern "C" __global__ void __launch_bounds__(256)
gemv_bf16_w8_m1(GEMM_ARGS(bf16, bf16)) {
  slk::gemv<bf16, bf16, 8, 1, slk::kActNone, false, false>(GEMM_CALL);
}
extern "C" __global__ void __launch_bounds__(256)
gemv_bf16_lm_head_m8(GEMM_ARGS(bf16, float)) {
  slk::gemv<bf16, float, 8, 8, slk::kActNone, false, false>(GEMM_CALL);
}
extern "C" __global__ void __launch_bounds__(128)
gemv_bf16_relu2_bias_res(GEMM_ARGS(bf16, bf16)) {
  slk::gemv<bf16, bf16, 4, 4, slk::kActRelu2, true, true>(GEMM_CALL);
}
extern "C" __global__ void __launch_bounds__(256)
gemv_f32(GEMM_ARGS(float, float)) {
  slk::gemv<float, float, 8, 2, slk::kActSilu, true, true>(GEMM_CALL);
}
