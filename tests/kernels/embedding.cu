// The embedding lookup instantiates for both targets (vocab 131072 x hidden 2688 bf16; tiny
// float and odd sizes for the scalar path).
// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_embedding.cuh"

using slk::bf16;
using slk::i32;

extern "C" __global__ void __launch_bounds__(256)
embedding_bf16_2688(const i32 *tokens, const bf16 *table, bf16 *out, i32 n, i32 vocab, i32 *error) {
  slk::embedding<bf16, 2688, 256>(tokens, table, out, n, vocab, error);
}
extern "C" __global__ void __launch_bounds__(64)
embedding_f32_64(const i32 *tokens, const float *table, float *out, i32 n, i32 vocab, i32 *error) {
  slk::embedding<float, 64, 64>(tokens, table, out, n, vocab, error);
}
extern "C" __global__ void __launch_bounds__(32)
embedding_bf16_13(const i32 *tokens, const bf16 *table, bf16 *out, i32 n, i32 vocab, i32 *error) {
  slk::embedding<bf16, 13, 32>(tokens, table, out, n, vocab, error);
}
