// The library base compiles for both targets and its tensor-core wrappers assemble.
// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_common.cuh"

extern "C" __global__ void common_smoke(const slk::bf16 *a, float *out) {
  __shared__ __align__(16) slk::bf16 tile[16 * 16];
  __shared__ float scratch[4];
  tile[threadIdx.x] = a[threadIdx.x];
  slk::cp_async_16(tile + 128, a + 128, threadIdx.x < 16);
  slk::cp_async_commit();
  slk::cp_async_wait<0>();
  __syncthreads();
  slk::u32 fa[4], fb[2];
  slk::ldmatrix_x4(fa, tile + (threadIdx.x % 16) * 16);
  slk::ldmatrix_x2(fb, tile + (threadIdx.x % 8) * 16);
  float acc[4] = {0, 0, 0, 0};
  slk::mma_bf16_16816(acc, fa, fb);
  float v = acc[0] + slk::silu(acc[1]) + slk::relu2(acc[2]) + slk::softplus(acc[3]);
  out[threadIdx.x] = slk::block_sum<128>(v, scratch) + slk::to_f32(slk::to_bf16(v));
}
