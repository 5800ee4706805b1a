// sl_norm.cuh: RMSNorm, residual-add + RMSNorm, gated (grouped) RMSNorm.
//
// Numerics follow transformers (NemotronHRMSNorm / MambaRMSNormGated): statistics in fp32,
// the normalised value is rounded to the activation type T before it is multiplied by the
// weight (`weight * hidden.to(input_dtype)`), and the product is rounded to T once more.
// For T = float both roundings are no-ops. One block per row (per row and group for the gated
// norm); the row lives in registers, so every element is read once and written once, and the
// output may alias the input (each element is read and written by the same thread).
#pragma once

#include "sl_common.cuh"

namespace slk {
namespace nrm {

// v rounded to the precision of T (identity for float).
template <typename T> struct Round {
  static __device__ __forceinline__ float f(float v) { return v; }
};
template <> struct Round<bf16> {
  static __device__ __forceinline__ float f(float v) { return to_f32(to_bf16(v)); }
};

// 16-byte vector of T: VEC = 16 / sizeof(T) elements.
template <typename T> struct Vec {
  static constexpr int N = 16 / sizeof(T);
};

__device__ __forceinline__ uint4 pack(const float (&f)[8]) {
  uint4 u;
  u.x = pack_bf16x2(f[0], f[1]);
  u.y = pack_bf16x2(f[2], f[3]);
  u.z = pack_bf16x2(f[4], f[5]);
  u.w = pack_bf16x2(f[6], f[7]);
  return u;
}
__device__ __forceinline__ uint4 pack(const float (&f)[4]) {
  uint4 u;
  u.x = __float_as_uint(f[0]);
  u.y = __float_as_uint(f[1]);
  u.z = __float_as_uint(f[2]);
  u.w = __float_as_uint(f[3]);
  return u;
}

// Loads / stores VEC consecutive elements (16 bytes) as fp32.
template <typename T> __device__ __forceinline__ void load_vec(const T *p, float (&f)[Vec<T>::N]) {
  unpack16(*reinterpret_cast<const uint4 *>(p), f);
}
template <typename T> __device__ __forceinline__ void store_vec(T *p, const float (&f)[Vec<T>::N]) {
  *reinterpret_cast<uint4 *>(p) = pack(f);
}

}  // namespace nrm

// y[row] = T( weight * T( x * rsqrt(mean(x^2) + eps) ) ), grid (n), block THREADS, smem 0.
// Vectorised (16-byte accesses) when HIDDEN is a multiple of 16 / sizeof(T) (and of WT's
// vector width); rows must then start 16-byte aligned (contiguous [n, HIDDEN] tensors do).
template <typename T, typename WT, int HIDDEN, int THREADS, bool ADD>
__device__ __forceinline__ void rms_norm_impl(const T *x, const T *residual, T *sum, const WT *weight,
                                              T *y, i32 n, float eps) {
  static_assert(THREADS % 32 == 0, "THREADS must be a multiple of 32");
  __shared__ float scratch[THREADS / 32];
  const i32 row = blockIdx.x;
  if (row >= n)
    return;
  constexpr int VEC = (nrm::Vec<T>::N > nrm::Vec<WT>::N ? nrm::Vec<T>::N : nrm::Vec<WT>::N);
  constexpr bool VECTOR = HIDDEN % VEC == 0;
  constexpr int V = VECTOR ? VEC : 1;
  constexpr int CHUNKS = HIDDEN / V;
  constexpr int PER = (CHUNKS + THREADS - 1) / THREADS;
  const i64 base = i64(row) * HIDDEN;
  float v[PER][V];
  float ss = 0.0f;
#pragma unroll
  for (int i = 0; i < PER; ++i) {
    const int ch = threadIdx.x + i * THREADS;
    if (ch < CHUNKS) {
      const i64 off = base + i64(ch) * V;
#pragma unroll
      for (int j = 0; j < V; j += nrm::Vec<T>::N > V ? V : nrm::Vec<T>::N) {
        if constexpr (VECTOR) {
          float f[nrm::Vec<T>::N];
          nrm::load_vec(x + off + j, f);
          if constexpr (ADD) {
            float r[nrm::Vec<T>::N];
            nrm::load_vec(residual + off + j, r);
#pragma unroll
            for (int q = 0; q < nrm::Vec<T>::N; ++q)
              f[q] = nrm::Round<T>::f(f[q] + r[q]);
            nrm::store_vec(sum + off + j, f);
          }
#pragma unroll
          for (int q = 0; q < nrm::Vec<T>::N; ++q)
            v[i][j + q] = f[q];
        } else {
          float f = load_f32(x + off);
          if constexpr (ADD) {
            f = nrm::Round<T>::f(f + load_f32(residual + off));
            store_f32(sum + off, f);
          }
          v[i][0] = f;
        }
      }
#pragma unroll
      for (int j = 0; j < V; ++j)
        ss += v[i][j] * v[i][j];
    }
  }
  const float total = block_sum<THREADS>(ss, scratch);
  const float rstd = rsqrtf(total / float(HIDDEN) + eps);
#pragma unroll
  for (int i = 0; i < PER; ++i) {
    const int ch = threadIdx.x + i * THREADS;
    if (ch < CHUNKS) {
      const i64 off = base + i64(ch) * V;
      const int col = ch * V;
      float o[V];
      if constexpr (VECTOR) {
#pragma unroll
        for (int j = 0; j < V; j += nrm::Vec<WT>::N) {
          float wv[nrm::Vec<WT>::N];
          nrm::load_vec(weight + col + j, wv);
#pragma unroll
          for (int q = 0; q < nrm::Vec<WT>::N; ++q)
            o[j + q] = nrm::Round<T>::f(wv[q] * nrm::Round<T>::f(v[i][j + q] * rstd));
        }
#pragma unroll
        for (int j = 0; j < V; j += nrm::Vec<T>::N) {
          float f[nrm::Vec<T>::N];
#pragma unroll
          for (int q = 0; q < nrm::Vec<T>::N; ++q)
            f[q] = o[j + q];
          nrm::store_vec(y + off + j, f);
        }
      } else {
        store_f32(y + off, load_f32(weight + col) * nrm::Round<T>::f(v[i][0] * rstd));
      }
    }
  }
}

// rms_norm<T, WT, HIDDEN, THREADS>(x, weight, y, n, eps): grid (n), block THREADS, smem 0.
template <typename T, typename WT, int HIDDEN, int THREADS>
__device__ void rms_norm(const T *x, const WT *weight, T *y, i32 n, float eps) {
  rms_norm_impl<T, WT, HIDDEN, THREADS, false>(x, nullptr, nullptr, weight, y, n, eps);
}

// add_rms_norm: sum = T(x + residual); y = rms_norm(sum). grid (n), block THREADS, smem 0.
// `sum` may alias `x` or `residual`.
template <typename T, typename WT, int HIDDEN, int THREADS>
__device__ void add_rms_norm(const T *x, const T *residual, T *sum, const WT *weight, T *y, i32 n,
                             float eps) {
  rms_norm_impl<T, WT, HIDDEN, THREADS, true>(x, residual, sum, weight, y, n, eps);
}

// gated_rms_norm: per group g of GROUP channels,
//   h = y * silu(gate) (fp32), out = T( weight * T( h * rsqrt(mean_group(h^2) + eps) ) ).
// grid (n, CHANNELS / GROUP), block THREADS, smem 0. `y` and `gate` are strided views (row
// strides ldy, ldg, e.g. column slices of in_proj's output); `out` is contiguous [n, CHANNELS].
// Scalar (coalesced) accesses, so any stride / offset works.
template <typename T, typename WT, int CHANNELS, int GROUP, int THREADS>
__device__ void gated_rms_norm(const T *y, i32 ldy, const T *gate, i32 ldg, const WT *weight, T *out,
                               i32 n, float eps) {
  static_assert(CHANNELS % GROUP == 0, "CHANNELS must be a multiple of GROUP");
  static_assert(THREADS % 32 == 0, "THREADS must be a multiple of 32");
  __shared__ float scratch[THREADS / 32];
  const i32 row = blockIdx.x;
  if (row >= n)
    return;
  const int g0 = blockIdx.y * GROUP;
  constexpr int PER = (GROUP + THREADS - 1) / THREADS;
  const T *yr = y + i64(row) * ldy + g0;
  const T *gr = gate + i64(row) * ldg + g0;
  float v[PER];
  float ss = 0.0f;
#pragma unroll
  for (int i = 0; i < PER; ++i) {
    const int c = threadIdx.x + i * THREADS;
    v[i] = 0.0f;
    if (c < GROUP) {
      const float gv = load_f32(gr + c);
      // silu in full precision (expf), as torch's fp32 silu.
      v[i] = load_f32(yr + c) * (gv / (1.0f + expf(-gv)));
      ss += v[i] * v[i];
    }
  }
  const float total = block_sum<THREADS>(ss, scratch);
  const float rstd = rsqrtf(total / float(GROUP) + eps);
  T *orow = out + i64(row) * CHANNELS + g0;
#pragma unroll
  for (int i = 0; i < PER; ++i) {
    const int c = threadIdx.x + i * THREADS;
    if (c < GROUP)
      store_f32(orow + c, load_f32(weight + g0 + c) * nrm::Round<T>::f(v[i] * rstd));
  }
}

// A norm group split over the ranks of a tensor-parallel model (docs/parallel.md): each rank
// holds GROUP of a group's channels, so the mean of squares needs the other ranks' sums.
// gated_sum_squares writes, per row, the sum of h^2 (h = y * silu(gate), fp32) of each of its
// CHANNELS / GROUP groups into columns first, first + 1, ... of sums ([n, lds] fp32) and zeroes
// the row's other columns, ready for an all-reduce (sum) over the ranks; gated_rms_norm_sums
// then normalises with mean = sums[row, first + g] / count (count: the channels of the whole
// group). Grid (n, CHANNELS / GROUP), block THREADS, smem 0, like gated_rms_norm.
template <typename T, int CHANNELS, int GROUP, int THREADS>
__device__ void gated_sum_squares(const T *y, i32 ldy, const T *gate, i32 ldg, float *sums, i32 lds,
                                  i32 first, i32 n) {
  static_assert(CHANNELS % GROUP == 0, "CHANNELS must be a multiple of GROUP");
  static_assert(THREADS % 32 == 0, "THREADS must be a multiple of 32");
  __shared__ float scratch[THREADS / 32];
  const i32 row = blockIdx.x;
  if (row >= n)
    return;
  const int g0 = blockIdx.y * GROUP;
  const T *yr = y + i64(row) * ldy + g0;
  const T *gr = gate + i64(row) * ldg + g0;
  float ss = 0.0f;
  for (int c = threadIdx.x; c < GROUP; c += THREADS) {
    const float gv = load_f32(gr + c);
    const float h = load_f32(yr + c) * (gv / (1.0f + expf(-gv)));
    ss += h * h;
  }
  const float total = block_sum<THREADS>(ss, scratch);
  float *srow = sums + i64(row) * lds;
  if (threadIdx.x == 0)
    srow[first + blockIdx.y] = total;
  if (blockIdx.y == 0)
    for (int c = threadIdx.x; c < lds; c += THREADS)
      if (c < first || c >= first + CHANNELS / GROUP)
        srow[c] = 0.0f;
}

template <typename T, typename WT, int CHANNELS, int GROUP, int THREADS>
__device__ void gated_rms_norm_sums(const T *y, i32 ldy, const T *gate, i32 ldg, const WT *weight,
                                    const float *sums, i32 lds, i32 first, T *out, i32 n,
                                    float eps, i32 count) {
  static_assert(CHANNELS % GROUP == 0, "CHANNELS must be a multiple of GROUP");
  const i32 row = blockIdx.x;
  if (row >= n)
    return;
  const int g0 = blockIdx.y * GROUP;
  const T *yr = y + i64(row) * ldy + g0;
  const T *gr = gate + i64(row) * ldg + g0;
  const float rstd = rsqrtf(sums[i64(row) * lds + first + blockIdx.y] / float(count) + eps);
  T *orow = out + i64(row) * CHANNELS + g0;
  for (int c = threadIdx.x; c < GROUP; c += THREADS) {
    const float gv = load_f32(gr + c);
    const float h = load_f32(yr + c) * (gv / (1.0f + expf(-gv)));
    store_f32(orow + c, load_f32(weight + g0 + c) * nrm::Round<T>::f(h * rstd));
  }
}

}  // namespace slk
