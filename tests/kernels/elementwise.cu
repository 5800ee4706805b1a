// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_elementwise.cuh"

extern "C" __global__ void add_bf16(const slk::bf16 *a, const slk::bf16 *b, slk::bf16 *o, slk::i32 n) {
  slk::add<slk::bf16, 2688, 256>(a, b, o, n);
}
extern "C" __global__ void relu2_f32(const float *x, float *o, slk::i32 n) {
  slk::activation<float, 64, slk::kActRelu2, 128>(x, o, n);
}
