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



}  // namespace slk
