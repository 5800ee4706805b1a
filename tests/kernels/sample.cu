// Greedy argmax instantiates for both targets.
// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_sample.cuh"

using slk::i32;

extern "C" __global__ void __launch_bounds__(1024)
argmax_1024(const float *logits, i32 *out, i32 n, i32 vocab) {
  slk::argmax<1024>(logits, out, n, vocab);
}
extern "C" __global__ void __launch_bounds__(32)
argmax_32(const float *logits, i32 *out, i32 n, i32 vocab) {
  slk::argmax<32>(logits, out, n, vocab);
}
