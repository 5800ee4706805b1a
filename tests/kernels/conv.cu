// Every sl_conv.cuh template instantiates for both targets (bf16 and float, real and tiny sizes).
// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_conv.cuh"

using slk::bf16;
using slk::i32;

// Real model: 6144 channels, kernel 4, bias, SiLU; state in bf16 and in fp32.
extern "C" __global__ void __launch_bounds__(128)
conv_bf16_c6144_k4(const bf16 *x, i32 ldx, const bf16 *w, const bf16 *b, const bf16 *st, bf16 *y,
                   i32 ldy, i32 n) {
  slk::causal_conv1d<bf16, bf16, bf16, 6144, 4, true, slk::kActSilu, 128, 32>(x, ldx, w, b, st, y,
                                                                             ldy, n);
}
extern "C" __global__ void __launch_bounds__(128)
conv_bf16_f32state_c6144_k4(const bf16 *x, i32 ldx, const bf16 *w, const bf16 *b, const float *st,
                            bf16 *y, i32 ldy, i32 n) {
  slk::causal_conv1d<bf16, bf16, float, 6144, 4, true, slk::kActSilu, 128, 32>(x, ldx, w, b, st, y,
                                                                              ldy, n);
}
extern "C" __global__ void __launch_bounds__(128)
conv_state_update_bf16_c6144_k4(const bf16 *x, i32 ldx, bf16 *st, i32 n) {
  slk::conv_state_update<bf16, bf16, 6144, 4, 128>(x, ldx, st, n);
}
extern "C" __global__ void __launch_bounds__(128)
conv_state_update_bf16_f32state_c6144_k4(const bf16 *x, i32 ldx, float *st, i32 n) {
  slk::conv_state_update<bf16, float, 6144, 4, 128>(x, ldx, st, n);
}
extern "C" __global__ void __launch_bounds__(128)
conv_step_bf16_c6144_k4(const bf16 *x, i32 ldx, const bf16 *w, const bf16 *b, bf16 *st, bf16 *y,
                        i32 ldy, i32 n) {
  slk::causal_conv1d_step<bf16, bf16, bf16, 6144, 4, true, slk::kActSilu, 128>(x, ldx, w, b, st, y,
                                                                              ldy, n);
}
extern "C" __global__ void __launch_bounds__(128)
conv_step_bf16_f32state_c6144_k4(const bf16 *x, i32 ldx, const bf16 *w, const bf16 *b, float *st,
                                 bf16 *y, i32 ldy, i32 n) {
  slk::causal_conv1d_step<bf16, bf16, float, 6144, 4, true, slk::kActSilu, 128>(x, ldx, w, b, st,
                                                                               y, ldy, n);
}
// fp32, tiny: 96 channels, kernel 3, no bias, no activation / kernel 4 with bias and SiLU.
extern "C" __global__ void __launch_bounds__(64)
conv_f32_c96_k3(const float *x, i32 ldx, const float *w, const float *b, const float *st, float *y,
                i32 ldy, i32 n) {
  slk::causal_conv1d<float, float, float, 96, 3, false, slk::kActNone, 64, 8>(x, ldx, w, b, st, y,
                                                                             ldy, n);
}
extern "C" __global__ void __launch_bounds__(64)
conv_f32_c96_k4(const float *x, i32 ldx, const float *w, const float *b, const float *st, float *y,
                i32 ldy, i32 n) {
  slk::causal_conv1d<float, float, float, 96, 4, true, slk::kActSilu, 64, 8>(x, ldx, w, b, st, y,
                                                                            ldy, n);
}
extern "C" __global__ void __launch_bounds__(64)
conv_state_update_f32_c96_k4(const float *x, i32 ldx, float *st, i32 n) {
  slk::conv_state_update<float, float, 96, 4, 64>(x, ldx, st, n);
}
extern "C" __global__ void __launch_bounds__(64)
conv_step_f32_c96_k4(const float *x, i32 ldx, const float *w, const float *b, float *st, float *y,
                     i32 ldy, i32 n) {
  slk::causal_conv1d_step<float, float, float, 96, 4, true, slk::kActSilu, 64>(x, ldx, w, b, st, y,
                                                                              ldy, n);
}
