// sl_common.cuh: base of the project's CUDA kernel library.
//
// The library is header-only and self-contained: it includes no CUDA or C++ standard header, so
// NVRTC compiles it from the in-memory copies an artifact ships, without any include path.
// Everything lives in namespace slk. Conventions of every kernel template:
//  - activations are row-major [tokens, features]; weights keep the checkpoint layout
//    [out, in]; accumulation is fp32;
//  - element types are `bf16` (below) or `float`; load_f32 / store_f32 convert;
//  - a kernel template is a __device__ function `slk::<name>(...)` whose runtime arguments are
//    the parameters of the `extern "C" __global__` wrapper that the compiler emits for each
//    specialisation; the template parameters carry the specialisation (dtype, sizes, tiles).
#pragma once

namespace slk {

typedef int i32;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;

// bfloat16 storage type. Conversions round to nearest even (cvt.rn), as PyTorch does.
struct __align__(2) bf16 {
  unsigned short bits;
};

template <typename T> struct is_bf16 { static constexpr bool value = false; };
template <> struct is_bf16<bf16> { static constexpr bool value = true; };

__device__ __forceinline__ float to_f32(bf16 v) { return __uint_as_float(u32(v.bits) << 16); }
__device__ __forceinline__ float to_f32(float v) { return v; }

__device__ __forceinline__ bf16 to_bf16(float v) {
  unsigned short bits;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(bits) : "f"(v));
  bf16 out;
  out.bits = bits;
  return out;
}

template <typename T> __device__ __forceinline__ float load_f32(const T *p) { return to_f32(*p); }
__device__ __forceinline__ void store_f32(float *p, float v) { *p = v; }
__device__ __forceinline__ void store_f32(bf16 *p, float v) { *p = to_bf16(v); }

// fp32 values of 8 bf16 packed in a 16-byte vector (element 2i in the low half of word i).
__device__ __forceinline__ void unpack_bf16x8(const uint4 &u, float (&f)[8]) {
  const u32 w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = __uint_as_float(w[i] << 16);
    f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
  }
}

// fp32 values of a 16-byte vector of 8 bf16 or 4 floats (the array size picks the element type).
__device__ __forceinline__ void unpack16(const uint4 &u, float (&f)[8]) { unpack_bf16x8(u, f); }
__device__ __forceinline__ void unpack16(const uint4 &u, float (&f)[4]) {
  f[0] = __uint_as_float(u.x);
  f[1] = __uint_as_float(u.y);
  f[2] = __uint_as_float(u.z);
  f[3] = __uint_as_float(u.w);
}

// Two bf16 packed in a 32-bit register, low half first (the mma operand layout).
__device__ __forceinline__ u32 pack_bf16x2(float lo, float hi) {
  u32 packed;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(packed) : "f"(hi), "f"(lo));
  return packed;
}

__host__ __device__ constexpr i64 ceil_div(i64 a, i64 b) { return (a + b - 1) / b; }

// -------------------------------------------------------------------------------------------
// Math
// -------------------------------------------------------------------------------------------
__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + __expf(-x)); }
__device__ __forceinline__ float silu(float x) { return x * sigmoid(x); }
__device__ __forceinline__ float relu2(float x) { return x > 0.0f ? x * x : 0.0f; }
// log(1 + e^x), exact enough for large x (returns x above 20 as PyTorch's softplus does).
__device__ __forceinline__ float softplus(float x) { return x > 20.0f ? x : log1pf(__expf(x)); }

enum Activation : int { kActNone = 0, kActSilu = 1, kActRelu2 = 2 };

template <int ACT> __device__ __forceinline__ float activate(float x) {
  if (ACT == kActSilu)
    return silu(x);
  if (ACT == kActRelu2)
    return relu2(x);
  return x;
}

// -------------------------------------------------------------------------------------------
// Reductions
// -------------------------------------------------------------------------------------------
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

// Max / sum over the 4 lanes of a quad (lanes 4g .. 4g+3, the threads holding one row of an
// mma.sync m16n8 accumulator); every lane of the quad gets the result.
__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
  return v;
}

__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  v += __shfl_xor_sync(0xffffffffu, v, 2);
  return v;
}

// Sum over a block of THREADS threads (a multiple of 32); every thread gets the result.
// `scratch` holds at least THREADS / 32 floats of shared memory.
template <int THREADS>
__device__ __forceinline__ float block_sum(float v, float *scratch) {
  static_assert(THREADS % 32 == 0, "block size must be a multiple of the warp size");
  v = warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  float total = 0.0f;
#pragma unroll
  for (int w = 0; w < THREADS / 32; ++w)
    total += scratch[w];
  __syncthreads();
  return total;
}

template <int THREADS>
__device__ __forceinline__ float block_max(float v, float *scratch) {
  v = warp_max(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  float result = -__int_as_float(0x7f800000);
#pragma unroll
  for (int w = 0; w < THREADS / 32; ++w)
    result = fmaxf(result, scratch[w]);
  __syncthreads();
  return result;
}

__device__ __forceinline__ float neg_inf() { return -__int_as_float(0x7f800000); }

// -------------------------------------------------------------------------------------------
// Tensor cores (portable: mma.sync / ldmatrix / cp.async, sm_80 and newer)
// -------------------------------------------------------------------------------------------

// D = A(16x16, row) * B(16x8, col) + C, bf16 inputs, fp32 accumulators (PTX fragment layout).
__device__ __forceinline__ void mma_bf16_16816(float (&d)[4], const u32 (&a)[4], const u32 (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
      "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ u32 smem_address(const void *p) {
  return static_cast<u32>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void ldmatrix_x4(u32 (&r)[4], const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(p)));
}

__device__ __forceinline__ void ldmatrix_x2(u32 (&r)[2], const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_address(p)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(u32 (&r)[4], const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_address(p)));
}

__device__ __forceinline__ void ldmatrix_x2_trans(u32 (&r)[2], const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_address(p)));
}

// 16-byte global -> shared copy; `valid == false` writes zeros (out-of-range rows).
__device__ __forceinline__ void cp_async_16(void *smem, const void *gmem, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
               :
               : "r"(smem_address(smem)), "l"(gmem), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n"); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" : : "n"(N));
}

}  // namespace slk
