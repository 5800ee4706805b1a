// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_random.cuh"

extern "C" __global__ void __launch_bounds__(256)
fill_bf16(slk::bf16 *out, slk::i64 rows, slk::i64 length, slk::i64 out_stride, slk::u64 whole_base,
          slk::u64 whole_stride, slk::u64 seed, slk::u32 binding, float scale, float offset) {
  slk::fill_random<slk::bf16, 256>(out, rows, length, out_stride, whole_base, whole_stride, seed,
                                   binding, scale, offset);
}
extern "C" __global__ void __launch_bounds__(256)
fill_f32(float *out, slk::i64 rows, slk::i64 length, slk::i64 out_stride, slk::u64 whole_base,
         slk::u64 whole_stride, slk::u64 seed, slk::u32 binding, float scale, float offset) {
  slk::fill_random<float, 256>(out, rows, length, out_stride, whole_base, whole_stride, seed,
                               binding, scale, offset);
}
