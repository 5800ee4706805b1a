// sl_gemm.cuh: dense linear layers. gemm (prefill: tensor cores for bf16, FMA for float) and
// gemv (decode, memory-bound), plus the shared tensor-core main loop the grouped MoE GEMMs of
// sl_moe.cuh reuse. See docs/kernels-dense.md for the exact contracts.
//
//   c[i, j] = act(sum_k a[i, k] * w[j, k] + bias[j]) + residual[i, j]
//
// a: [m, k] with row stride lda; w: [n, k] contiguous (checkpoint [out, in] layout, element
// type T); bias: [n]; residual and c: row stride ldc. Epilogue rounding mirrors PyTorch with
// bf16 tensors: the linear output (with bias) is rounded to T, the activation is computed in
// fp32 from it and rounded to T, the residual is added in fp32 and the result is rounded to
// OUT_T. With OUT_T = float and T = bf16 the stored value is therefore `linear(x).float()`
// (what transformers' bf16 lm_head followed by `.float()` gives). For T = float nothing rounds.
#pragma once

#include "sl_common.cuh"

namespace slk {
namespace dn {

template <typename T> struct Round {
  static __device__ __forceinline__ float f(float v) { return v; }
};
template <> struct Round<bf16> {
  static __device__ __forceinline__ float f(float v) { return to_f32(to_bf16(v)); }
};

template <typename T> struct IsBf16 {
  static constexpr bool value = false;
};
template <> struct IsBf16<bf16> {
  static constexpr bool value = true;
};

// The epilogue of every linear kernel (see the header comment for the rounding).
template <typename T, int ACT, bool HAS_BIAS, bool HAS_RESIDUAL>
__device__ __forceinline__ float epilogue(float acc, const T *bias, const T *residual, i32 row, i32 col,
                                          i32 ldc) {
  float v = acc;
  if constexpr (HAS_BIAS)
    v += load_f32(bias + col);
  v = Round<T>::f(v);
  if constexpr (ACT != kActNone)
    v = Round<T>::f(activate<ACT>(v));
  if constexpr (HAS_RESIDUAL)
    v += load_f32(residual + i64(row) * ldc + col);
  return v;
}

// Streaming 16-byte load that bypasses L1 (weights are read once).
__device__ __forceinline__ uint4 ld_stream(const void *p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

// ---------------------------------------------------------------------------------------------
// Tensor-core main loop (bf16, mma.sync m16n8k16, ldmatrix, STAGES-deep cp.async pipeline).
//
// Shared memory: STAGES stages, each an A tile [BM][LDS] followed by a W tile [BN][LDS],
// LDS = BK + 8 elements (16 bytes of padding per row, so the 8 row addresses of one ldmatrix
// 8x8 matrix fall in 8 distinct 16-byte bank quads: conflict-free for BK = 32, 64, 128).
// Total STAGES·(BM+BN)·(BK+8)·2 bytes.
//
// Warps: warp w covers rows (w / WARPS_N)·WM.. and cols (w % WARPS_N)·WN.., WM = BM/WARPS_M,
// WN = BN/WARPS_N; it holds MI×NI m16n8 accumulators (MI = WM/16, NI = WN/8).
// Loader: 16-byte chunk q = tid + i·THREADS of a stage covers tile row q / (BK/8), columns
// (q % (BK/8))·8 .. +8. The caller gives, per chunk, the global address of that row at k = 0
// plus the chunk's column (or nullptr for a row outside the problem); chunks whose column is
// >= k are zero-filled, so k only needs to be a multiple of 8.
// ---------------------------------------------------------------------------------------------
template <int BM, int BN, int BK, int STAGES, int WARPS_M, int WARPS_N> struct MmaConfig {
  static constexpr int BM_ = BM, BN_ = BN, BK_ = BK, STAGES_ = STAGES, BN_WARPS = WARPS_N;
  static constexpr int THREADS = 32 * WARPS_M * WARPS_N;
  static constexpr int LDS = BK + 8;
  static constexpr int WM = BM / WARPS_M;
  static constexpr int WN = BN / WARPS_N;
  static constexpr int MI = WM / 16;
  static constexpr int NI = WN / 8;
  static constexpr int KCH = BK / 8;
  static constexpr int A_CHUNKS = BM * KCH;
  static constexpr int B_CHUNKS = BN * KCH;
  static constexpr int A_ITERS = (A_CHUNKS + THREADS - 1) / THREADS;
  static constexpr int B_ITERS = (B_CHUNKS + THREADS - 1) / THREADS;
  static constexpr int STAGE_ELEMS = (BM + BN) * LDS;
  static constexpr int SMEM_BYTES = STAGES * STAGE_ELEMS * 2;
  static_assert(BK % 16 == 0, "BK must be a multiple of 16");
  static_assert(BM % (16 * WARPS_M) == 0, "BM must be a multiple of 16 * WARPS_M");
  static_assert(BN % (8 * WARPS_N) == 0, "BN must be a multiple of 8 * WARPS_N");
  static_assert(STAGES >= 2, "at least two pipeline stages");
};

template <class C>
__device__ __forceinline__ void mma_load_stage(bf16 *stage, const bf16 *const (&a_src)[C::A_ITERS],
                                               const bf16 *const (&w_src)[C::B_ITERS], i32 k0, i32 k,
                                               const void *safe) {
  bf16 *as = stage;
  bf16 *bs = stage + C::BM_ * C::LDS;
#pragma unroll
  for (int i = 0; i < C::A_ITERS; ++i) {
    const int q = threadIdx.x + i * C::THREADS;
    if (C::A_CHUNKS % C::THREADS == 0 || q < C::A_CHUNKS) {
      const int r = q / C::KCH, c = (q % C::KCH) * 8;
      const bool ok = a_src[i] != nullptr && k0 + c < k;
      cp_async_16(as + r * C::LDS + c, ok ? static_cast<const void *>(a_src[i] + k0) : safe, ok);
    }
  }
#pragma unroll
  for (int i = 0; i < C::B_ITERS; ++i) {
    const int q = threadIdx.x + i * C::THREADS;
    if (C::B_CHUNKS % C::THREADS == 0 || q < C::B_CHUNKS) {
      const int r = q / C::KCH, c = (q % C::KCH) * 8;
      const bool ok = w_src[i] != nullptr && k0 + c < k;
      cp_async_16(bs + r * C::LDS + c, ok ? static_cast<const void *>(w_src[i] + k0) : safe, ok);
    }
  }
}

// acc += A_tile · W_tile^T over k. Ends with all cp.async groups drained and a barrier, so
// the caller may reuse shared memory.
template <class C>
__device__ __forceinline__ void mma_mainloop(float (&acc)[C::MI][C::NI][4], bf16 *smem,
                                             const bf16 *const (&a_src)[C::A_ITERS],
                                             const bf16 *const (&w_src)[C::B_ITERS], i32 k,
                                             const void *safe) {
  constexpr int STAGES = C::STAGES_;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = (warp / (C::BN_WARPS)) * C::WM;
  const int wn = (warp % (C::BN_WARPS)) * C::WN;
  const i32 ktiles = (k + C::BK_ - 1) / C::BK_;

#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < ktiles)
      mma_load_stage<C>(smem + s * C::STAGE_ELEMS, a_src, w_src, s * C::BK_, k, safe);
    cp_async_commit();
  }

  for (i32 kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();
    {
      const i32 next = kt + STAGES - 1;
      if (next < ktiles)
        mma_load_stage<C>(smem + (next % STAGES) * C::STAGE_ELEMS, a_src, w_src, next * C::BK_, k,
                          safe);
      cp_async_commit();
    }
    const bf16 *as = smem + (kt % STAGES) * C::STAGE_ELEMS;
    const bf16 *bs = as + C::BM_ * C::LDS;
#pragma unroll
    for (int kk = 0; kk < C::BK_; kk += 16) {
      u32 af[C::MI][4];
#pragma unroll
      for (int mi = 0; mi < C::MI; ++mi)
        ldmatrix_x4(af[mi], as + (wm + mi * 16 + (lane % 16)) * C::LDS + kk + (lane / 16) * 8);
      u32 bfr[C::NI][2];
#pragma unroll
      for (int nj = 0; nj + 1 < C::NI; nj += 2) {
        u32 r[4];
        ldmatrix_x4(r, bs + (wn + nj * 8 + (lane % 8) + (lane / 16) * 8) * C::LDS + kk +
                           ((lane / 8) % 2) * 8);
        bfr[nj][0] = r[0];
        bfr[nj][1] = r[1];
        bfr[nj + 1][0] = r[2];
        bfr[nj + 1][1] = r[3];
      }
      if constexpr (C::NI % 2 == 1) {
        u32 r[2];
        ldmatrix_x2(r, bs + (wn + (C::NI - 1) * 8 + (lane % 8)) * C::LDS + kk + ((lane / 8) % 2) * 8);
        bfr[C::NI - 1][0] = r[0];
        bfr[C::NI - 1][1] = r[1];
      }
#pragma unroll
      for (int mi = 0; mi < C::MI; ++mi)
#pragma unroll
        for (int ni = 0; ni < C::NI; ++ni)
          mma_bf16_16816(acc[mi][ni], af[mi], bfr[ni]);
    }
  }
  cp_async_wait<0>();
  __syncthreads();
}

// Calls f(row, col, v0, v1) for each pair of horizontally adjacent accumulators of this
// thread (tile-relative row, col; col even; v1 belongs to col + 1).
template <class C, class F>
__device__ __forceinline__ void mma_for_each_pair(const float (&acc)[C::MI][C::NI][4], F &&f) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int wm = (warp / C::BN_WARPS) * C::WM;
  const int wn = (warp % C::BN_WARPS) * C::WN;
  const int group = lane / 4, tig = lane % 4;
#pragma unroll
  for (int mi = 0; mi < C::MI; ++mi)
#pragma unroll
    for (int ni = 0; ni < C::NI; ++ni)
#pragma unroll
      for (int h = 0; h < 2; ++h)
        f(wm + mi * 16 + group + h * 8, wn + ni * 8 + tig * 2, acc[mi][ni][2 * h], acc[mi][ni][2 * h + 1]);
}

template <typename OUT_T> __device__ __forceinline__ void store_pair(OUT_T *p, float v0, float v1);
template <> __device__ __forceinline__ void store_pair<float>(float *p, float v0, float v1) {
  *reinterpret_cast<float2 *>(p) = make_float2(v0, v1);
}
template <> __device__ __forceinline__ void store_pair<bf16>(bf16 *p, float v0, float v1) {
  *reinterpret_cast<u32 *>(p) = pack_bf16x2(v0, v1);
}


// Whether c (row stride ldc) takes 2-element stores at even columns.
template <typename OUT_T> __device__ __forceinline__ bool pairs_aligned(const OUT_T *c, i32 ldc) {
  return (ldc % 2 == 0) && (reinterpret_cast<u64>(c) % (2 * sizeof(OUT_T))) == 0;
}

// Stores the epilogue of accumulators v0, v1 at (row, col) and (row, col + 1) of c, skipping
// what lies outside m x n (col even).
template <typename T, typename OUT_T, int ACT, bool HAS_BIAS, bool HAS_RESIDUAL>
__device__ __forceinline__ void store_output_pair(OUT_T *c, i32 ldc, i32 m, i32 n, i32 row, i32 col,
                                                  float v0, float v1, bool pair_ok, const T *bias,
                                                  const T *residual) {
  if (row >= m)
    return;
  OUT_T *dst = c + i64(row) * ldc + col;
  if (pair_ok && col + 1 < n) {
    const float e0 = epilogue<T, ACT, HAS_BIAS, HAS_RESIDUAL>(v0, bias, residual, row, col, ldc);
    const float e1 = epilogue<T, ACT, HAS_BIAS, HAS_RESIDUAL>(v1, bias, residual, row, col + 1, ldc);
    store_pair<OUT_T>(dst, e0, e1);
  } else {
    if (col < n)
      store_f32(dst, epilogue<T, ACT, HAS_BIAS, HAS_RESIDUAL>(v0, bias, residual, row, col, ldc));
    if (col + 1 < n)
      store_f32(dst + 1, epilogue<T, ACT, HAS_BIAS, HAS_RESIDUAL>(v1, bias, residual, row, col + 1, ldc));
  }
}

// The dynamic shared memory of the linear kernels (one name for the whole library part).
__device__ __forceinline__ unsigned char *dyn_smem() {
  extern __shared__ __align__(16) unsigned char slk_dn_dyn_smem[];
  return slk_dn_dyn_smem;
}

// acc[r] += sum over this lane's share of k of a[r, kk] * wrow[kk], r < m (<= MAX_M), one warp
// per weight row (lanes stride over 16-byte chunks; the caller reduces acc with warp_sum).
// 16-byte streaming loads of the weight row, 4 in flight per lane, when k, lda and both
// pointers allow it; scalar otherwise.
template <typename T, int MAX_M>
__device__ __forceinline__ void warp_dot_rows(float (&acc)[MAX_M], const T *a, i64 lda, const T *wrow,
                                              i32 m, i32 k, int lane) {
  constexpr int V = 16 / sizeof(T);
  const bool vec = (k % V == 0) && (lda % V == 0) &&
                   ((reinterpret_cast<u64>(a) | reinterpret_cast<u64>(wrow)) & 15) == 0;
  if (vec) {
    const i32 chunks = k / V;
    i32 ch = lane;
    constexpr int U = 4;
    for (; ch + (U - 1) * 32 < chunks; ch += U * 32) {
      uint4 wv[U];
#pragma unroll
      for (int u = 0; u < U; ++u)
        wv[u] = ld_stream(wrow + i64(ch + u * 32) * V);
#pragma unroll
      for (int u = 0; u < U; ++u) {
        float wf[V];
        unpack16(wv[u], wf);
#pragma unroll
        for (int r = 0; r < MAX_M; ++r) {
          if (r < m) {
            const uint4 av = *reinterpret_cast<const uint4 *>(a + r * lda + i64(ch + u * 32) * V);
            float af[V];
            unpack16(av, af);
#pragma unroll
            for (int q = 0; q < V; ++q)
              acc[r] = fmaf(wf[q], af[q], acc[r]);
          }
        }
      }
    }
    for (; ch < chunks; ch += 32) {
      float wf[V];
      unpack16(ld_stream(wrow + i64(ch) * V), wf);
#pragma unroll
      for (int r = 0; r < MAX_M; ++r) {
        if (r < m) {
          const uint4 av = *reinterpret_cast<const uint4 *>(a + r * lda + i64(ch) * V);
          float af[V];
          unpack16(av, af);
#pragma unroll
          for (int q = 0; q < V; ++q)
            acc[r] = fmaf(wf[q], af[q], acc[r]);
        }
      }
    }
  } else {
    for (i32 kk = lane; kk < k; kk += 32) {
      const float wf = load_f32(wrow + kk);
#pragma unroll
      for (int r = 0; r < MAX_M; ++r)
        if (r < m)
          acc[r] = fmaf(wf, load_f32(a + r * lda + kk), acc[r]);
    }
  }
}


// ---------------------------------------------------------------------------------------------
// FMA main loop (T = float, or any T converted to fp32): tiles [BM][BK+1] and [BN][BK+1] fp32
// (odd row stride: the column-wise reads of the W tile are bank-conflict-free), one stage.
// Thread (tx = tid % 16, ty = tid / 16) owns rows ty + i·TY (i < TM) and cols tx + j·16
// (j < TN). arow(r) / wrow(r) give the global row r of the tile at k = 0, or nullptr.
// Uses (BM+BN)·(BK+1)·4 bytes, within the documented STAGES·(BM+BN)·(BK+8)·sizeof(T).
// ---------------------------------------------------------------------------------------------
template <int BM, int BN, int BK, int THREADS> struct FmaConfig {
  static constexpr int BM_ = BM, BN_ = BN, BK_ = BK, THREADS_ = THREADS;
  static constexpr int TX = 16;
  static constexpr int TY = THREADS / TX;
  static_assert(THREADS % TX == 0 && BN % TX == 0 && BM % TY == 0,
                "FMA tiles: BN % 16 == 0 and BM % (THREADS / 16) == 0");
  static constexpr int TM = BM / TY, TN = BN / TX;
  static constexpr int LDF = BK + 1;
};

template <class F, class AR, class WR>
__device__ __forceinline__ void fma_mainloop(float (&acc)[F::TM][F::TN], float *smem, AR &&arow, WR &&wrow,
                                             i32 k) {
  float *as = smem;
  float *ws = smem + F::BM_ * F::LDF;
  const int tx = threadIdx.x % F::TX, ty = threadIdx.x / F::TX;
#pragma unroll
  for (int i = 0; i < F::TM; ++i)
#pragma unroll
    for (int j = 0; j < F::TN; ++j)
      acc[i][j] = 0.0f;
  for (i32 k0 = 0; k0 < k; k0 += F::BK_) {
    for (int q = threadIdx.x; q < F::BM_ * F::BK_; q += F::THREADS_) {
      const int r = q / F::BK_, kk = q % F::BK_;
      const auto *src = arow(r);
      as[r * F::LDF + kk] = (src != nullptr && k0 + kk < k) ? load_f32(src + k0 + kk) : 0.0f;
    }
    for (int q = threadIdx.x; q < F::BN_ * F::BK_; q += F::THREADS_) {
      const int r = q / F::BK_, kk = q % F::BK_;
      const auto *src = wrow(r);
      ws[r * F::LDF + kk] = (src != nullptr && k0 + kk < k) ? load_f32(src + k0 + kk) : 0.0f;
    }
    __syncthreads();
#pragma unroll 4
    for (int kk = 0; kk < F::BK_; ++kk) {
      float av[F::TM], wv[F::TN];
#pragma unroll
      for (int i = 0; i < F::TM; ++i)
        av[i] = as[(ty + i * F::TY) * F::LDF + kk];
#pragma unroll
      for (int j = 0; j < F::TN; ++j)
        wv[j] = ws[(tx + j * F::TX) * F::LDF + kk];
#pragma unroll
      for (int i = 0; i < F::TM; ++i)
#pragma unroll
        for (int j = 0; j < F::TN; ++j)
          acc[i][j] = fmaf(av[i], wv[j], acc[i][j]);
    }
    __syncthreads();
  }
}

// Calls f(row, col, value) for every accumulator of this thread (tile-relative row / col).
template <class F, class Fn>
__device__ __forceinline__ void fma_for_each(const float (&acc)[F::TM][F::TN], Fn &&f) {
  const int tx = threadIdx.x % F::TX, ty = threadIdx.x / F::TX;
#pragma unroll
  for (int i = 0; i < F::TM; ++i)
#pragma unroll
    for (int j = 0; j < F::TN; ++j)
      f(ty + i * F::TY, tx + j * F::TX, acc[i][j]);
}

}  // namespace dn

// Dynamic shared memory (bytes) of gemm, moe_up and moe_down: STAGES·(BM+BN)·(BK+8)·sizeof(T).
// The bf16 main loop uses exactly this (dn::MmaConfig::SMEM_BYTES), the FMA path less.
template <typename T, int BM, int BN, int BK, int STAGES>
__host__ __device__ constexpr int gemm_smem() {
  return STAGES * (BM + BN) * (BK + 8) * int(sizeof(T));
}

// ---------------------------------------------------------------------------------------------
// gemm<T, OUT_T, BM, BN, BK, STAGES, WARPS_M, WARPS_N, ACT, HAS_BIAS, HAS_RESIDUAL>
//   (a, lda, w, bias, residual, c, ldc, m, n, k)
// grid (ceil(n/BN), ceil(m/BM)), block 32·WARPS_M·WARPS_N,
// dynamic smem STAGES·(BM+BN)·(BK+8)·sizeof(T) (set cudaFuncAttributeMaxDynamicSharedMemorySize
// above 48 KiB).
// T = bf16: tensor cores; requires k % 8 == 0, lda % 8 == 0, a and w 16-byte aligned;
//   BK % 16 == 0, BM % (16·WARPS_M) == 0, BN % (8·WARPS_N) == 0, STAGES >= 2.
// T = float: FMA path (BK+1 padded tiles, one stage used); any k, lda; requires
//   THREADS % 16 == 0, BN % 16 == 0, BM % (THREADS/16) == 0.
// m and n need not be multiples of the tiles. bias / residual are ignored (may be null) when
// HAS_BIAS / HAS_RESIDUAL are false; residual has row stride ldc; c may alias residual.
// ---------------------------------------------------------------------------------------------
template <typename T, typename OUT_T, int BM, int BN, int BK, int STAGES, int WARPS_M, int WARPS_N,
          int ACT, bool HAS_BIAS, bool HAS_RESIDUAL>
__device__ void gemm(const T *a, i32 lda, const T *w, const T *bias, const T *residual, OUT_T *c, i32 ldc,
                     i32 m, i32 n, i32 k) {
  constexpr int THREADS = 32 * WARPS_M * WARPS_N;
  const i32 m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  if constexpr (dn::IsBf16<T>::value) {
    using C = dn::MmaConfig<BM, BN, BK, STAGES, WARPS_M, WARPS_N>;
    bf16 *smem = reinterpret_cast<bf16 *>(dn::dyn_smem());
    const bf16 *a_src[C::A_ITERS];
    const bf16 *w_src[C::B_ITERS];
#pragma unroll
    for (int i = 0; i < C::A_ITERS; ++i) {
      const int q = threadIdx.x + i * THREADS;
      const int r = q / C::KCH, cc = (q % C::KCH) * 8;
      a_src[i] = (q < C::A_CHUNKS && m0 + r < m) ? a + i64(m0 + r) * lda + cc : nullptr;
    }
#pragma unroll
    for (int i = 0; i < C::B_ITERS; ++i) {
      const int q = threadIdx.x + i * THREADS;
      const int r = q / C::KCH, cc = (q % C::KCH) * 8;
      w_src[i] = (q < C::B_CHUNKS && n0 + r < n) ? w + i64(n0 + r) * k + cc : nullptr;
    }
    float acc[C::MI][C::NI][4];
#pragma unroll
    for (int mi = 0; mi < C::MI; ++mi)
#pragma unroll
      for (int ni = 0; ni < C::NI; ++ni)
#pragma unroll
        for (int q = 0; q < 4; ++q)
          acc[mi][ni][q] = 0.0f;
    dn::mma_mainloop<C>(acc, smem, a_src, w_src, k, w);
    const bool pair_ok = dn::pairs_aligned(c, ldc);
    dn::mma_for_each_pair<C>(acc, [&](int r, int col, float v0, float v1) {
      dn::store_output_pair<T, OUT_T, ACT, HAS_BIAS, HAS_RESIDUAL>(c, ldc, m, n, m0 + r, n0 + col, v0, v1,
                                                                   pair_ok, bias, residual);
    });
  } else {
    using F = dn::FmaConfig<BM, BN, BK, THREADS>;
    float acc[F::TM][F::TN];
    dn::fma_mainloop<F>(
        acc, reinterpret_cast<float *>(dn::dyn_smem()),
        [&](int r) -> const T * { return m0 + r < m ? a + i64(m0 + r) * lda : nullptr; },
        [&](int r) -> const T * { return n0 + r < n ? w + i64(n0 + r) * k : nullptr; }, k);
    dn::fma_for_each<F>(acc, [&](int r, int col, float v) {
      const i32 gr = m0 + r, gc = n0 + col;
      if (gr < m && gc < n)
        store_f32(c + i64(gr) * ldc + gc,
                  dn::epilogue<T, ACT, HAS_BIAS, HAS_RESIDUAL>(v, bias, residual, gr, gc, ldc));
    });
  }
}

namespace dn {
// The column loop of gemv: warp w of block b computes output column b·WARPS + w for the m rows
// of a (shared by gemv and gemv_rmsnorm, whose a is the normalised rows in shared memory).
template <typename T, typename OUT_T, int WARPS, int MAX_M, int ACT, bool HAS_BIAS, bool HAS_RESIDUAL>
__device__ __forceinline__ void gemv_columns(const T *a, i32 lda, const T *w, const T *bias,
                                             const T *residual, OUT_T *c, i32 ldc, i32 m, i32 n,
                                             i32 k) {
  static_assert(MAX_M >= 1 && MAX_M <= 32, "1 <= MAX_M <= 32");
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const i32 col = blockIdx.x * WARPS + warp;
  if (col >= n)
    return;
  float acc[MAX_M];
#pragma unroll
  for (int r = 0; r < MAX_M; ++r)
    acc[r] = 0.0f;
  warp_dot_rows<T, MAX_M>(acc, a, lda, w + i64(col) * k, m, k, lane);
#pragma unroll
  for (int r = 0; r < MAX_M; ++r) {
    const float v = warp_sum(acc[r]);
    if (lane == r && r < m)
      store_f32(c + i64(r) * ldc + col, epilogue<T, ACT, HAS_BIAS, HAS_RESIDUAL>(v, bias, residual, r, col, ldc));
  }
}
}  // namespace dn

// ---------------------------------------------------------------------------------------------
// gemv<T, OUT_T, WARPS, MAX_M, ACT, HAS_BIAS, HAS_RESIDUAL>(same arguments as gemm)
// Decode: m <= MAX_M rows. One warp per output column: the warp streams w[col, :] once with
// 16-byte loads (4 in flight per lane) and applies it to all m rows of a (read through L1).
// grid (ceil(n/WARPS)), block 32·WARPS, smem 0. Vector path when k % (16/sizeof(T)) == 0,
// lda likewise and a, w 16-byte aligned; scalar path otherwise (any shape).
// ---------------------------------------------------------------------------------------------
template <typename T, typename OUT_T, int WARPS, int MAX_M, int ACT, bool HAS_BIAS, bool HAS_RESIDUAL>
__device__ void gemv(const T *a, i32 lda, const T *w, const T *bias, const T *residual, OUT_T *c, i32 ldc,
                     i32 m, i32 n, i32 k) {
  dn::gemv_columns<T, OUT_T, WARPS, MAX_M, ACT, HAS_BIAS, HAS_RESIDUAL>(a, lda, w, bias, residual, c, ldc,
                                                                       m, n, k);
}


// ---------------------------------------------------------------------------------------------
// Hopper warpgroup MMA (sm_90a): wgmma.mma_async m64nNk16, bf16 inputs, fp32 accumulators, both
// operands read from shared memory through matrix descriptors.
// ---------------------------------------------------------------------------------------------
namespace dn {

// Dynamic shared memory of gemm_wgmma: STAGES slots of a [BM][64] A tile and a [BN][64] W tile
// (128-byte rows, no padding), plus 1 KiB to align the slots to the 1024-byte swizzle pattern.
template <int BM, int BN, int STAGES> struct WgmmaConfig {
  static constexpr int BM_ = BM, BN_ = BN, STAGES_ = STAGES;
  static constexpr int BK = 64;  // one 128-byte swizzled row of bf16
  static constexpr int THREADS = 2 * BM;  // BM / 64 warpgroups of 128 threads
  static constexpr int A_BYTES = BM * 128, STAGE_BYTES = (BM + BN) * 128;
  static constexpr int SMEM_BYTES = STAGES * STAGE_BYTES + 1024;
  static constexpr int A_ITERS = BM * 8 / THREADS, B_ITERS = BN * 8 / THREADS;
  static_assert(BM == 64 || BM == 128, "gemm_wgmma: BM must be 64 or 128");
  static_assert(BN == 128 || BN == 256, "gemm_wgmma: BN must be 128 or 256");
  static_assert(STAGES >= 3, "gemm_wgmma: at least three slots (one tile loads, one is read, one may still be read)");
};

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
template <int N> struct Wgmma;
template <> struct Wgmma<128> {
  static __device__ __forceinline__ void mma(float (&d)[64], u64 da, u64 db) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(1));
  }
};
template <> struct Wgmma<256> {
  static __device__ __forceinline__ void mma(float (&d)[128], u64 da, u64 db) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
        "}, %128, %129, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(da), "l"(db), "r"(1));
  }
};

// Descriptor of a K-major tile in shared memory with 128-byte rows in the 128-byte swizzle
// (16-byte chunk c of row r stored at chunk c ^ (r % 8)): the 8-row groups 1024 bytes apart.
// Moving along k within the row adds the byte offset to the start address.
__device__ __forceinline__ u64 wgmma_desc_sw128(u32 address) {
  return u64((address & 0x3FFFF) >> 4) | (u64(1) << 16) | (u64(1024 >> 4) << 32) | (u64(1) << 62);
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N> __device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving reads of an accumulator above the wgmma_wait that completes it.
__device__ __forceinline__ void wgmma_fence_operand(float &r) { asm volatile("" : "+f"(r)::"memory"); }
// Ordinary (cp.async) writes to shared memory become visible to the tensor cores' reads.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// acc = A_tile · W_tile^T over k (acc zeroed here), the main loop of gemm_wgmma and of the
// grouped MoE GEMMs on sm_90a: arow(r) / wrow(r) give the global row r of the A / W tile at
// k = 0, or nullptr outside the problem (zero-filled); k % 8 == 0. Every thread loads with
// cp.async into STAGES slots of 128-byte-swizzled K-major tiles (BK = 64); per k tile: wait for
// tile kt, fence.proxy.async, one barrier, load tile kt + STAGES - 2 into the slot of tile
// kt - 2, issue the 4 wgmmas of tile kt, commit, wgmma.wait_group 1. Ends with every wgmma and
// cp.async complete and a barrier (shared memory may be reused).
template <class C, class AR, class WR>
__device__ __forceinline__ void wgmma_mainloop(float (&acc)[C::BN_ / 2], AR &&arow, WR &&wrow, i32 k,
                                               const void *safe) {
  unsigned char *raw = dyn_smem();
  const u32 raw_address = smem_address(raw);
  const u32 base = (raw_address + 1023u) & ~1023u;
  unsigned char *slots = raw + (base - raw_address);
  // Chunk column of this thread (the same for every chunk it loads: THREADS % 8 == 0) and the
  // global rows of its chunks at k = 0.
  const int chunk = threadIdx.x % 8, row0 = threadIdx.x / 8;
  const int swizzled = (chunk ^ (row0 % 8)) * 16;  // rows of one thread differ by multiples of 8
  const bf16 *a_src[C::A_ITERS];
  const bf16 *w_src[C::B_ITERS];
#pragma unroll
  for (int i = 0; i < C::A_ITERS; ++i) {
    const bf16 *row = arow(row0 + i * (C::THREADS / 8));
    a_src[i] = row != nullptr ? row + chunk * 8 : nullptr;
  }
#pragma unroll
  for (int i = 0; i < C::B_ITERS; ++i) {
    const bf16 *row = wrow(row0 + i * (C::THREADS / 8));
    w_src[i] = row != nullptr ? row + chunk * 8 : nullptr;
  }
  auto load_tile = [&](int slot, i32 k0) {
    unsigned char *s = slots + slot * C::STAGE_BYTES;
    const bool in_k = k0 + chunk * 8 < k;
#pragma unroll
    for (int i = 0; i < C::A_ITERS; ++i) {
      const bool ok = in_k && a_src[i] != nullptr;
      cp_async_16(s + (row0 + i * (C::THREADS / 8)) * 128 + swizzled, ok ? a_src[i] + k0 : safe, ok);
    }
#pragma unroll
    for (int i = 0; i < C::B_ITERS; ++i) {
      const bool ok = in_k && w_src[i] != nullptr;
      cp_async_16(s + C::A_BYTES + (row0 + i * (C::THREADS / 8)) * 128 + swizzled, ok ? w_src[i] + k0 : safe,
                  ok);
    }
  };

  constexpr int STAGES = C::STAGES_;
  const i32 ktiles = (k + C::BK - 1) / C::BK;
#pragma unroll
  for (int s = 0; s < STAGES - 2; ++s) {
    if (s < ktiles)
      load_tile(s, s * C::BK);
    cp_async_commit();
  }
#pragma unroll
  for (int i = 0; i < C::BN_ / 2; ++i)
    acc[i] = 0.0f;
  const int group = threadIdx.x / 128;
  for (i32 kt = 0; kt < ktiles; ++kt) {
    cp_async_wait<STAGES - 3>();
    fence_proxy_async();
    // After this barrier tile kt is in shared memory and every warpgroup has finished the wgmma
    // of tile kt - 2 (its wgmma_wait<1> of the previous iteration), so that slot may refill.
    __syncthreads();
    const i32 next = kt + STAGES - 2;
    if (next < ktiles)
      load_tile(next % STAGES, next * C::BK);
    cp_async_commit();
    const u32 a_tile = base + (kt % STAGES) * C::STAGE_BYTES + group * 64 * 128;
    const u32 w_tile = base + (kt % STAGES) * C::STAGE_BYTES + C::A_BYTES;
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < C::BK / 16; ++kk)
      Wgmma<C::BN_>::mma(acc, wgmma_desc_sw128(a_tile + kk * 32), wgmma_desc_sw128(w_tile + kk * 32));
    wgmma_commit();
    wgmma_wait<1>();
  }
  wgmma_wait<0>();
#pragma unroll
  for (int i = 0; i < C::BN_ / 2; ++i)
    wgmma_fence_operand(acc[i]);
  cp_async_wait<0>();
  __syncthreads();
}

// Calls f(row, col, v0, v1) for each pair of horizontally adjacent accumulators of this thread
// (tile-relative; col even). Layout of m64nNk16: warp w of warpgroup g holds rows 64g + 16w..,
// and per 8 columns j the m16n8 fragment: acc[4j + 2h + e] at row lane/4 + 8h, column
// 8j + 2(lane % 4) + e.
template <class C, class F> __device__ __forceinline__ void wgmma_for_each_pair(const float (&acc)[C::BN_ / 2], F &&f) {
  const int group = threadIdx.x / 128, warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32;
  const int row = group * 64 + warp * 16 + lane / 4;
#pragma unroll
  for (int j = 0; j < C::BN_ / 8; ++j)
#pragma unroll
    for (int h = 0; h < 2; ++h)
      f(row + 8 * h, 8 * j + 2 * (lane % 4), acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1]);
}
#endif

}  // namespace dn

template <int BM, int BN, int STAGES> __host__ __device__ constexpr int gemm_wgmma_smem() {
  return dn::WgmmaConfig<BM, BN, STAGES>::SMEM_BYTES;
}

// ---------------------------------------------------------------------------------------------
// gemm_wgmma<T, OUT_T, BM, BN, STAGES, ACT, HAS_BIAS, HAS_RESIDUAL>(same arguments as gemm)
// The prefill GEMM of Hopper (sm_90a), same contract and epilogue as gemm. BM / 64 warpgroups;
// warpgroup g issues wgmma m64nBNk16 on rows g·64.. of the A tile and the whole W tile, BK = 64
// per k tile (4 instructions). Every thread loads with cp.async (16-byte chunks, zero-filled
// outside the problem) into STAGES slots: tile kt + STAGES - 2 loads while the wgmma of tile
// kt runs and that of tile kt - 1 may still run.
// grid (ceil(n/BN), ceil(m/BM)), block 2·BM threads, dynamic smem gemm_wgmma_smem<BM, BN, STAGES>().
// Requires T = bf16, BM in {64, 128}, BN in {128, 256}, STAGES >= 3, k % 8 == 0, lda % 8 == 0,
// a and w 16-byte aligned. On targets without wgmma (sm_100a) the same launch runs gemm's
// mma.sync loop (BK 32, 3 stages, warps 2 x BM/32), which fits the same grid, block and smem.
// ---------------------------------------------------------------------------------------------
template <typename T, typename OUT_T, int BM, int BN, int STAGES, int ACT, bool HAS_BIAS, bool HAS_RESIDUAL>
__device__ void gemm_wgmma(const T *a, i32 lda, const T *w, const T *bias, const T *residual, OUT_T *c,
                           i32 ldc, i32 m, i32 n, i32 k) {
  static_assert(dn::IsBf16<T>::value, "gemm_wgmma: T must be bf16");
  using C = dn::WgmmaConfig<BM, BN, STAGES>;  // checks the tiles on every target
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  const i32 m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  float acc[BN / 2];
  dn::wgmma_mainloop<C>(
      acc, [&](int r) -> const bf16 * { return m0 + r < m ? a + i64(m0 + r) * lda : nullptr; },
      [&](int r) -> const bf16 * { return n0 + r < n ? w + i64(n0 + r) * k : nullptr; }, k, w);
  const bool pair_ok = dn::pairs_aligned(c, ldc);
  dn::wgmma_for_each_pair<C>(acc, [&](int r, int col, float v0, float v1) {
    dn::store_output_pair<T, OUT_T, ACT, HAS_BIAS, HAS_RESIDUAL>(c, ldc, m, n, m0 + r, n0 + col, v0, v1,
                                                                 pair_ok, bias, residual);
  });
#else
  gemm<T, OUT_T, BM, BN, 32, 3, 2, BM / 32, ACT, HAS_BIAS, HAS_RESIDUAL>(a, lda, w, bias, residual, c, ldc, m, n,
                                                                        k);
#endif
}

}  // namespace slk
