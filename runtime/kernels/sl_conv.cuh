// sl_conv.cuh: depthwise causal conv1d of the Mamba-2 mixer (prefill and decode) and its state.
//
// Layouts (docs/kernels.md, docs/kernels-mamba.md):
//   x       [n, C] row stride ldx (a column slice of in_proj's output: xBC)
//   y       [n, C] row stride ldy
//   weight  [C][K] (the checkpoint's conv1d.weight [C, 1, K]), bias [C] (HAS_BIAS)
//   state   [C][K-1] of ST, oldest input first: the K-1 inputs before this call's first token.
// Math (fp32): y[t][c] = act(round_T(bias[c] + sum_k weight[c][k] * in[t - (K-1) + k][c])),
// where in[i] for i < 0 is state[c][K-1+i]. The pre-activation value is rounded to T first, as
// transformers' bf16 conv1d output is before its SiLU.
#pragma once

#include "sl_common.cuh"

namespace slk {

template <typename T> __device__ __forceinline__ float conv_round(float v) { return v; }
template <> __device__ __forceinline__ float conv_round<bf16>(float v) { return to_f32(to_bf16(v)); }

// Prefill: grid (ceil(C/THREADS), ceil(n/TOKENS)), block THREADS, no shared memory. One thread
// per (channel, run of TOKENS tokens), sliding window in registers. Reads the state, never writes
// it (blocks over tokens run in parallel); call conv_state_update afterwards.
template <typename T, typename WT, typename ST, int C, int K, bool HAS_BIAS, int ACT, int THREADS,
          int TOKENS>
__device__ void causal_conv1d(const T *x, i32 ldx, const WT *weight, const WT *bias,
                              const ST *conv_state, T *y, i32 ldy, i32 n) {
  static_assert(K >= 2, "conv kernel must be at least 2");
  const int c = blockIdx.x * THREADS + threadIdx.x;
  if (c >= C)
    return;
  const int t0 = blockIdx.y * TOKENS;
  if (t0 >= n)
    return;
  float w[K];
#pragma unroll
  for (int k = 0; k < K; ++k)
    w[k] = load_f32(weight + (i64)c * K + k);
  const float b = HAS_BIAS ? load_f32(bias + c) : 0.0f;
  // win[k] = input at t - (K-1) + k; win[K-1] is the current token.
  float win[K];
#pragma unroll
  for (int k = 0; k < K - 1; ++k) {
    const int i = t0 - (K - 1) + k;
    win[k] = i >= 0 ? load_f32(x + (i64)i * ldx + c)
                    : load_f32(conv_state + (i64)c * (K - 1) + (K - 1 + i));
  }
  const int t1 = t0 + TOKENS < n ? t0 + TOKENS : n;
  for (int t = t0; t < t1; ++t) {
    win[K - 1] = load_f32(x + (i64)t * ldx + c);
    float acc = b;
#pragma unroll
    for (int k = 0; k < K; ++k)
      acc += w[k] * win[k];
    store_f32(y + (i64)t * ldy + c, activate<ACT>(conv_round<T>(acc)));
#pragma unroll
    for (int k = 0; k < K - 1; ++k)
      win[k] = win[k + 1];
  }
}

// After causal_conv1d of the same call: state <- the last K-1 inputs of (old state ++ x[0..n)).
// Handles n < K-1 by keeping the newest old entries. grid (ceil(C/THREADS)), block THREADS.
template <typename T, typename ST, int C, int K, int THREADS>
__device__ void conv_state_update(const T *x, i32 ldx, ST *conv_state, i32 n) {
  const int c = blockIdx.x * THREADS + threadIdx.x;
  if (c >= C)
    return;
  float next[K - 1];
#pragma unroll
  for (int j = 0; j < K - 1; ++j) {
    const int i = n + j;  // index into (old state ++ x)
    next[j] = i < K - 1 ? load_f32(conv_state + (i64)c * (K - 1) + i)
                        : load_f32(x + (i64)(i - (K - 1)) * ldx + c);
  }
#pragma unroll
  for (int j = 0; j < K - 1; ++j)
    store_f32(conv_state + (i64)c * (K - 1) + j, next[j]);
}

// Decode (small n): sequential over the n tokens, uses and updates the state in place.
// grid (ceil(C/THREADS)), block THREADS, no shared memory.
template <typename T, typename WT, typename ST, int C, int K, bool HAS_BIAS, int ACT, int THREADS>
__device__ void causal_conv1d_step(const T *x, i32 ldx, const WT *weight, const WT *bias,
                                   ST *conv_state, T *y, i32 ldy, i32 n) {
  const int c = blockIdx.x * THREADS + threadIdx.x;
  if (c >= C)
    return;
  float w[K];
#pragma unroll
  for (int k = 0; k < K; ++k)
    w[k] = load_f32(weight + (i64)c * K + k);
  const float b = HAS_BIAS ? load_f32(bias + c) : 0.0f;
  float win[K];
#pragma unroll
  for (int k = 0; k < K - 1; ++k)
    win[k] = load_f32(conv_state + (i64)c * (K - 1) + k);
  for (int t = 0; t < n; ++t) {
    win[K - 1] = load_f32(x + (i64)t * ldx + c);
    float acc = b;
#pragma unroll
    for (int k = 0; k < K; ++k)
      acc += w[k] * win[k];
    store_f32(y + (i64)t * ldy + c, activate<ACT>(conv_round<T>(acc)));
#pragma unroll
    for (int k = 0; k < K - 1; ++k)
      win[k] = win[k + 1];
  }
#pragma unroll
  for (int k = 0; k < K - 1; ++k)
    store_f32(conv_state + (i64)c * (K - 1) + k, win[k]);
}

}  // namespace slk
