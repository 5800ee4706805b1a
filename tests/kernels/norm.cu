// RMSNorm, residual-add RMSNorm and gated RMSNorm instantiate for both targets (real
// Nemotron-H sizes: hidden 2688, Mamba d_inner 4096 with group 512; tiny sizes; bf16 / float;
// vector and scalar paths).
// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_norm.cuh"

using slk::bf16;
using slk::i32;

extern "C" __global__ void __launch_bounds__(256)
rms_norm_bf16_2688(const bf16 *x, const bf16 *weight, bf16 *y, i32 n, float eps) {
  slk::rms_norm<bf16, bf16, 2688, 256>(x, weight, y, n, eps);
}
extern "C" __global__ void __launch_bounds__(128)
rms_norm_f32_64(const float *x, const float *weight, float *y, i32 n, float eps) {
  slk::rms_norm<float, float, 64, 128>(x, weight, y, n, eps);
}
extern "C" __global__ void __launch_bounds__(128)
rms_norm_bf16_f32w_100(const bf16 *x, const float *weight, bf16 *y, i32 n, float eps) {
  slk::rms_norm<bf16, float, 100, 128>(x, weight, y, n, eps);
}
extern "C" __global__ void __launch_bounds__(256)
add_rms_norm_bf16_2688(const bf16 *x, const bf16 *residual, bf16 *sum, const bf16 *weight, bf16 *y,
                       i32 n, float eps) {
  slk::add_rms_norm<bf16, bf16, 2688, 256>(x, residual, sum, weight, y, n, eps);
}
extern "C" __global__ void __launch_bounds__(64)
add_rms_norm_f32_63(const float *x, const float *residual, float *sum, const float *weight, float *y,
                    i32 n, float eps) {
  slk::add_rms_norm<float, float, 63, 64>(x, residual, sum, weight, y, n, eps);
}
extern "C" __global__ void __launch_bounds__(256)
gated_rms_norm_bf16_4096_512(const bf16 *y, i32 ldy, const bf16 *gate, i32 ldg, const bf16 *weight,
                             bf16 *out, i32 n, float eps) {
  slk::gated_rms_norm<bf16, bf16, 4096, 512, 256>(y, ldy, gate, ldg, weight, out, n, eps);
}
extern "C" __global__ void __launch_bounds__(32)
gated_rms_norm_f32_64_16(const float *y, i32 ldy, const float *gate, i32 ldg, const float *weight,
                         float *out, i32 n, float eps) {
  slk::gated_rms_norm<float, float, 64, 16, 32>(y, ldy, gate, ldg, weight, out, n, eps);
}
