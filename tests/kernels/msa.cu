// Multi-step attention kernels (sl_msa.cuh) instantiate for both targets: the real Nemotron
// shape (32 heads, 2 kv heads, d 128, k 3, W 2032, bf16) and a tiny float one (4/2/16, k 2, W 15).
// RUN: sl-nvrtc-check %s --arch=sm_90a,sm_100a --kernels=%kernels | FileCheck %s
// CHECK: sm_90a ok
// CHECK: sm_100a ok
#include "sl_msa.cuh"

using slk::bf16;
using slk::i32;
using slk::i64;

#define MSA_INSTANTIATE(SUFFIX, T, H, KVH, D, K, W)                                             \
  extern "C" __global__ void __launch_bounds__(128) msa_anchor_topk_##SUFFIX(                  \
      const T *q1, i32 ldq1, const T *kc, i32 cap, i32 len, i32 n, const i64 *off, i32 ns,     \
      const i32 *reach, float *ts, i32 *st, i32 *en, float *ps, i32 *pi) {                      \
    slk::msa_anchor_topk<T, H, KVH, D, K, W, 4, 4, 1>(q1, ldq1, kc, cap, len, n, off, ns, reach, \
                                                      ts, st, en, ps, pi);                      \
  }                                                                                             \
  extern "C" __global__ void __launch_bounds__(128) msa_anchor_topk_decode_##SUFFIX(           \
      const T *q1, i32 ldq1, const T *kc, i32 cap, i32 len, i32 n, const i64 *off, i32 ns,     \
      const i32 *reach, float *ts, i32 *st, i32 *en, float *ps, i32 *pi) {                      \
    slk::msa_anchor_topk<T, H, KVH, D, K, W, 4, 1, 32>(q1, ldq1, kc, cap, len, n, off, ns,     \
                                                       reach, ts, st, en, ps, pi);              \
  }                                                                                             \
  extern "C" __global__ void __launch_bounds__(128) msa_route_merge_##SUFFIX(                  \
      const float *ps, const i32 *pi, i32 len, i32 n, const i64 *off, const i32 *reach,         \
      float *ts, i32 *st, i32 *en) {                                                           \
    slk::msa_route_merge<H, K, W, 32>(ps, pi, len, n, off, reach, ts, st, en);                 \
  }                                                                                             \
  extern "C" __global__ void __launch_bounds__(1024) msa_span_order_##SUFFIX(                 \
      const i32 *st, const i32 *en, i32 len, i32 n, i32 *order) {                              \
    slk::msa_span_order<H, KVH, K, 4096>(st, en, len, n, order);                               \
  }                                                                                             \
  extern "C" __global__ void __launch_bounds__(128) msa_window_attention_##SUFFIX(             \
      const T *q2, i32 ldq2, const T *kc, const T *vc, i32 cap, i32 len, i32 n, T *ow,          \
      float *lw) {                                                                              \
    slk::msa_window_attention<T, H, KVH, D, W, 4>(q2, ldq2, kc, vc, cap, len, n, ow, lw);      \
  }                                                                                             \
  extern "C" __global__ void __launch_bounds__(128) msa_span_attention_##SUFFIX(               \
      const T *q2, i32 ldq2, const T *kc, const T *vc, i32 cap, i32 len, i32 n, const i32 *st,  \
      const i32 *en, const i32 *order, T *os, float *ls) {                                      \
    slk::msa_span_attention<T, H, KVH, D, K, 4>(q2, ldq2, kc, vc, cap, len, n, st, en, order,  \
                                                os, ls);                                        \
  }                                                                                             \
  extern "C" __global__ void __launch_bounds__(256) msa_gate_merge_##SUFFIX(                   \
      const T *ow, const float *lw, const T *os, const float *ls, const float *ts, T *out,      \
      i32 ldo, i32 n) {                                                                         \
    slk::msa_gate_merge<T, H, D, K>(ow, lw, os, ls, ts, out, ldo, n);                          \
  }                                                                                             \
  extern "C" __global__ void __launch_bounds__(128) msa_decode_attention_##SUFFIX(             \
      const T *q2, i32 ldq2, const T *kc, const T *vc, i32 cap, i32 len, i32 n,                 \
      const i64 *off, const i32 *reach, const float *ps, const i32 *pi, float *wo, float *wl) { \
    slk::msa_decode_attention<T, H, KVH, D, K, W, 32, 8, 16>(q2, ldq2, kc, vc, cap, len, n,    \
                                                             off, reach, ps, pi, wo, wl);       \
  }                                                                                             \
  extern "C" __global__ void __launch_bounds__(128) msa_decode_combine_##SUFFIX(               \
      const float *ps, const i32 *pi, const float *wo, const float *wl, T *out, i32 ldo,        \
      i32 n) {                                                                                  \
    slk::msa_decode_combine<T, H, D, K, 32, 8, 16>(ps, pi, wo, wl, out, ldo, n);               \
  }

MSA_INSTANTIATE(real_bf16, bf16, 32, 2, 128, 3, 2032)
MSA_INSTANTIATE(tiny_f32, float, 4, 2, 16, 2, 15)
MSA_INSTANTIATE(tiny_bf16, bf16, 4, 2, 16, 2, 15)
MSA_INSTANTIATE(mid_bf16, bf16, 8, 1, 64, 1, 63)
