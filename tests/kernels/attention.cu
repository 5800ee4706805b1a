// Every sl_attention.cuh template instantiates for both targets (bf16 and float, real and tiny
// sizes).
// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_attention.cuh"

using slk::bf16;
using slk::i32;

#define ATTN_KERNELS(T, NAME, H, KVH, D, BM, BN, SPLITS, DBN, DWARPS)                              \
  extern "C" __global__ void __launch_bounds__(128)                                                \
      kv_append_##NAME(const T *k, i32 ldk, const T *v, i32 ldv, T *kc, T *vc, i32 capacity,       \
                       i32 start, i32 n) {                                                         \
    slk::kv_append<T, KVH, D, 128>(k, ldk, v, ldv, kc, vc, capacity, start, n);                    \
  }                                                                                                \
  extern "C" __global__ void __launch_bounds__(32 * (BM / 16))                                     \
      attention_prefill_##NAME(const T *q, i32 ldq, const T *kc, const T *vc, i32 capacity,        \
                               T *out, i32 ldo, i32 n, i32 cache_len) {                            \
    slk::attention_prefill<T, H, KVH, D, BM, BN>(q, ldq, kc, vc, capacity, out, ldo, n,           \
                                                 cache_len);                                       \
  }                                                                                                \
  extern "C" __global__ void __launch_bounds__(32 * DWARPS)                                        \
      attention_decode_partial_##NAME(const T *q, i32 ldq, const T *kc, const T *vc,               \
                                      i32 capacity, float *part_o, float *part_lse, i32 n,         \
                                      i32 cache_len) {                                             \
    slk::attention_decode_partial<T, H, KVH, D, SPLITS, DBN, DWARPS>(                              \
        q, ldq, kc, vc, capacity, part_o, part_lse, n, cache_len);                                 \
  }                                                                                                \
  extern "C" __global__ void __launch_bounds__(D)                                                  \
      attention_decode_combine_##NAME(const float *part_o, const float *part_lse, T *out,          \
                                      i32 ldo, i32 n) {                                            \
    slk::attention_decode_combine<T, H, D, SPLITS>(part_o, part_lse, out, ldo, n);                 \
  }

// Real model: 32 heads, 2 kv heads, d 128.
ATTN_KERNELS(bf16, bf16_h32_kv2_d128, 32, 2, 128, 64, 64, 64, 32, 4)
ATTN_KERNELS(bf16, bf16_h32_kv2_d128_bm128, 32, 2, 128, 128, 64, 128, 64, 2)
ATTN_KERNELS(float, f32_h32_kv2_d128, 32, 2, 128, 64, 32, 16, 32, 2)
// d 64 and tiny: 4 heads / 2 kv heads, d 16.
ATTN_KERNELS(bf16, bf16_h8_kv2_d64, 8, 2, 64, 64, 64, 8, 32, 4)
ATTN_KERNELS(bf16, bf16_h4_kv2_d16, 4, 2, 16, 32, 32, 4, 16, 2)
ATTN_KERNELS(float, f32_h4_kv2_d16, 4, 2, 16, 32, 32, 4, 32, 2)
