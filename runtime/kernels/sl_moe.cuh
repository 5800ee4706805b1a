// sl_moe.cuh: the Nemotron-H MoE layer (sigmoid router with bias-corrected top-k, non-gated
// relu2 experts, shared expert added by the combine). docs/kernels-moe.md is the contract:
// launch sequences, grid / block / smem formulas and scratch sizes.
//
// Prefill:  moe_router -> moe_align -> moe_up -> moe_down -> moe_combine
// Decode:   moe_router -> moe_decode_up -> moe_decode_down
// (the shared expert is two ordinary gemm / gemv calls whose output the last kernel adds).
//
// Numerics mirror transformers' NemotronHMoE: router in fp32; every expert's up-projection is
// rounded to T, relu2 computed in fp32 and rounded to T, the down-projection rounded to T; the
// routed sum is accumulated in fp32 in ascending expert order (transformers loops over experts
// and index_add_s into an fp32 buffer), rounded to T; then `+ shared` and `+ residual` are each
// rounded to T. Every output element is computed by one thread in a fixed order: results are
// bitwise deterministic (no float atomics anywhere).
//
// Expert parallelism (docs/parallel.md): a rank holds the experts [expert_offset,
// expert_offset + local_experts) of the router's; `indices` keep the global ids, and every
// kernel that reads them uses expert e - expert_offset and skips the pairs outside that range
// (another rank adds them). An unsharded model passes expert_offset 0 and all its experts.
#pragma once

#include "sl_common.cuh"
#include "sl_gemm.cuh"

namespace slk {
namespace moe {

// better(): larger value wins; equal values -> lower index.
__device__ __forceinline__ bool better(float v, i32 i, float bv, i32 bi) {
  return v > bv || (v == bv && i < bi);
}

// order[j] = slot indices 0..TOPK-1 sorted by ascending expert id (stable).
template <int TOPK>
__device__ __forceinline__ void expert_order(const i32 *idx, int (&order)[TOPK], i32 (&e)[TOPK]) {
#pragma unroll
  for (int j = 0; j < TOPK; ++j) {
    e[j] = idx[j];
    order[j] = j;
  }
#pragma unroll
  for (int a = 1; a < TOPK; ++a)
#pragma unroll
    for (int b = a; b > 0; --b)
      if (e[order[b]] < e[order[b - 1]] ||
          (e[order[b]] == e[order[b - 1]] && order[b] < order[b - 1])) {
        const int t = order[b];
        order[b] = order[b - 1];
        order[b - 1] = t;
      }
}

template <typename T> __device__ __forceinline__ uint4 pack16(const float (&f)[16 / sizeof(T)]);
template <> __device__ __forceinline__ uint4 pack16<bf16>(const float (&f)[8]) {
  uint4 u;
  u.x = pack_bf16x2(f[0], f[1]);
  u.y = pack_bf16x2(f[2], f[3]);
  u.z = pack_bf16x2(f[4], f[5]);
  u.w = pack_bf16x2(f[6], f[7]);
  return u;
}
template <> __device__ __forceinline__ uint4 pack16<float>(const float (&f)[4]) {
  return make_uint4(__float_as_uint(f[0]), __float_as_uint(f[1]), __float_as_uint(f[2]),
                    __float_as_uint(f[3]));
}

// out = T(T(T(routed) + shared) + residual) for V consecutive values (routed in fp32).
template <typename T, bool HAS_SHARED, bool HAS_RESIDUAL>
__device__ __forceinline__ float finish(float routed, const T *shared_out, const T *residual, i64 off) {
  float v = dn::Round<T>::f(routed);
  if constexpr (HAS_SHARED)
    v = dn::Round<T>::f(v + load_f32(shared_out + off));
  if constexpr (HAS_RESIDUAL)
    v = dn::Round<T>::f(v + load_f32(residual + off));
  return v;
}

// Whether global expert id e is one of this rank's [offset, offset + local).
__device__ __forceinline__ bool is_local(i32 e, i32 offset, i32 local) {
  return static_cast<unsigned>(e - offset) < static_cast<unsigned>(local);
}

}  // namespace moe

namespace moe {
// The routing decision of one token by one warp (lane = thread % 32): s = sigmoid(logits), the
// TOPK experts with the largest s + correction_bias (ties -> lower expert id) in descending
// order; weight = s (/ (sum of the TOPK s + 1e-20) when norm_topk_prob) * routed_scaling_factor.
// Lane 0 writes weights[0..TOPK) and indices[0..TOPK).
template <int EXPERTS, int TOPK>
__device__ __forceinline__ void select_topk(const float *logits, const float *correction_bias,
                                            float *weights, i32 *indices, int lane,
                                            float routed_scaling_factor, i32 norm_topk_prob) {
  constexpr int EPL = (EXPERTS + 31) / 32;
  float score[EPL], choice[EPL];
  bool taken[EPL];
#pragma unroll
  for (int j = 0; j < EPL; ++j) {
    const int e = lane + j * 32;
    taken[j] = e >= EXPERTS;
    score[j] = 0.0f;
    choice[j] = 0.0f;
    if (e < EXPERTS) {
      score[j] = 1.0f / (1.0f + expf(-logits[e]));
      choice[j] = score[j] + correction_bias[e];
    }
  }
  float sel_score[TOPK];
  i32 sel_idx[TOPK];
  float sum = 0.0f;
#pragma unroll
  for (int t = 0; t < TOPK; ++t) {
    float bv = neg_inf();
    i32 bi = 0x7fffffff;
    float bs = 0.0f;
#pragma unroll
    for (int j = 0; j < EPL; ++j) {
      const int e = lane + j * 32;
      if (!taken[j] && (bi == 0x7fffffff || moe::better(choice[j], e, bv, bi))) {
        bv = choice[j];
        bi = e;
        bs = score[j];
      }
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      const float ov = __shfl_xor_sync(0xffffffffu, bv, off);
      const i32 oi = __shfl_xor_sync(0xffffffffu, bi, off);
      const float os = __shfl_xor_sync(0xffffffffu, bs, off);
      if (oi != 0x7fffffff && (bi == 0x7fffffff || moe::better(ov, oi, bv, bi))) {
        bv = ov;
        bi = oi;
        bs = os;
      }
    }
#pragma unroll
    for (int j = 0; j < EPL; ++j)
      if (lane + j * 32 == bi)
        taken[j] = true;
    sel_score[t] = bs;
    sel_idx[t] = bi;
    sum += bs;
  }
  if (lane == 0) {
    const float denom = norm_topk_prob ? sum + 1e-20f : 1.0f;
#pragma unroll
    for (int t = 0; t < TOPK; ++t) {
      const float wv = norm_topk_prob ? sel_score[t] / denom : sel_score[t];
      weights[t] = wv * routed_scaling_factor;
      indices[t] = sel_idx[t];
    }
  }
}
}  // namespace moe

// =============================================================================================
// moe_router<T, WT, HIDDEN, EXPERTS, TOPK, THREADS>(x [n, HIDDEN], gate_w [EXPERTS, HIDDEN],
//   correction_bias [EXPERTS] fp32, weights [n, TOPK] fp32 (out), indices [n, TOPK] i32 (out),
//   n, routed_scaling_factor, norm_topk_prob)
// logits = x · gate_w^T (fp32), s = sigmoid(logits); the TOPK experts with the largest
// s + correction_bias (ties -> lower expert id), written in descending order of that value;
// weight = s of the chosen expert, / (sum of the TOPK s + 1e-20) when norm_topk_prob != 0,
// times routed_scaling_factor.
// grid (n), block THREADS (multiple of 32), smem 0 (static: (HIDDEN + EXPERTS)·4 bytes).
// =============================================================================================
template <typename T, typename WT, int HIDDEN, int EXPERTS, int TOPK, int THREADS>
__device__ void moe_router(const T *x, const WT *gate_w, const float *correction_bias, float *weights,
                           i32 *indices, i32 n, float routed_scaling_factor, i32 norm_topk_prob) {
  static_assert(THREADS % 32 == 0, "THREADS must be a multiple of 32");
  static_assert(TOPK >= 1 && TOPK <= EXPERTS && TOPK <= 32, "1 <= TOPK <= min(EXPERTS, 32)");
  constexpr int WARPS = THREADS / 32;
  __shared__ float xs[HIDDEN];
  __shared__ float logits[EXPERTS];
  const i32 row = blockIdx.x;
  if (row >= n)
    return;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int i = threadIdx.x; i < HIDDEN; i += THREADS)
    xs[i] = load_f32(x + i64(row) * HIDDEN + i);
  __syncthreads();
  constexpr int V = 16 / sizeof(WT);
  for (int e = warp; e < EXPERTS; e += WARPS) {
    const WT *wr = gate_w + i64(e) * HIDDEN;
    float acc = 0.0f;
    if constexpr (HIDDEN % V == 0) {
      if ((reinterpret_cast<u64>(gate_w) & 15) == 0) {
        for (int ch = lane; ch < HIDDEN / V; ch += 32) {
          float wf[V];
          unpack16(dn::ld_stream(wr + ch * V), wf);
#pragma unroll
          for (int q = 0; q < V; ++q)
            acc = fmaf(wf[q], xs[ch * V + q], acc);
        }
      } else {
        for (int kk = lane; kk < HIDDEN; kk += 32)
          acc = fmaf(load_f32(wr + kk), xs[kk], acc);
      }
    } else {
      for (int kk = lane; kk < HIDDEN; kk += 32)
        acc = fmaf(load_f32(wr + kk), xs[kk], acc);
    }
    acc = warp_sum(acc);
    if (lane == 0)
      logits[e] = acc;
  }
  __syncthreads();
  if (warp == 0)
    moe::select_topk<EXPERTS, TOPK>(logits, correction_bias, weights + i64(row) * TOPK,
                                    indices + i64(row) * TOPK, lane, routed_scaling_factor,
                                    norm_topk_prob);
}

// =============================================================================================
// moe_topk<EXPERTS, TOPK, THREADS>(logits [n, EXPERTS] fp32, correction_bias [EXPERTS] fp32,
//   weights [n, TOPK] fp32 (out), indices [n, TOPK] i32 (out), n, routed_scaling_factor,
//   norm_topk_prob)
// The selection of moe_router from logits computed elsewhere (a GEMM over the prefill chunk:
// logits = x · gate_w^T with fp32 accumulation). One warp per token.
// grid (ceil(n / (THREADS/32))), block THREADS (multiple of 32), smem 0.
// =============================================================================================
template <int EXPERTS, int TOPK, int THREADS>
__device__ void moe_topk(const float *logits, const float *correction_bias, float *weights,
                         i32 *indices, i32 n, float routed_scaling_factor, i32 norm_topk_prob) {
  static_assert(THREADS % 32 == 0, "THREADS must be a multiple of 32");
  static_assert(TOPK >= 1 && TOPK <= EXPERTS && TOPK <= 32, "1 <= TOPK <= min(EXPERTS, 32)");
  const i32 row = blockIdx.x * (THREADS / 32) + threadIdx.x / 32;
  if (row >= n)
    return;
  moe::select_topk<EXPERTS, TOPK>(logits + i64(row) * EXPERTS, correction_bias,
                                  weights + i64(row) * TOPK, indices + i64(row) * TOPK,
                                  threadIdx.x % 32, routed_scaling_factor, norm_topk_prob);
}

// =============================================================================================
// moe_align<EXPERTS, TOPK, BM, THREADS>(indices [n, TOPK], n, sorted_pair (out),
//   tile_expert (out), num_tiles (out, 1 i32), expert_offset)
// Groups the n·TOPK (token, slot) pairs p = token·TOPK + slot by local expert
// e = indices[p] - expert_offset; pairs with e outside [0, EXPERTS) are dropped (expert
// parallelism: another rank's experts). Expert e owns the
// padded row range [start_e, start_e + ceil(count_e / BM)·BM) of the sorted order, experts in
// ascending order, start_0 = 0; sorted_pair[row] = p for the count_e real rows of e (their
// order inside the range is unspecified: every row is computed independently, so results do
// not depend on it) and -1 for padding rows. tile_expert[t] = the expert of rows
// [t·BM, (t+1)·BM); *num_tiles = sum_e ceil(count_e / BM).
// Capacity (tiles): max_tiles(n) = ceil(n·TOPK / BM) + EXPERTS; sorted_pair holds
// max_tiles(n)·BM i32, tile_expert max_tiles(n) i32. Entries past *num_tiles are not written.
// grid (1), block THREADS, smem 0 (static: 3·EXPERTS i32).
// =============================================================================================
template <int EXPERTS, int TOPK, int BM, int THREADS>
__device__ void moe_align(const i32 *indices, i32 n, i32 *sorted_pair, i32 *tile_expert, i32 *num_tiles,
                          i32 expert_offset) {
  __shared__ i32 count[EXPERTS];
  __shared__ i32 start[EXPERTS];
  __shared__ i32 fill[EXPERTS];
  __shared__ i32 total_rows;
  const i32 pairs = n * TOPK;
  for (int e = threadIdx.x; e < EXPERTS; e += THREADS)
    count[e] = 0;
  __syncthreads();
  for (i32 p = threadIdx.x; p < pairs; p += THREADS)
    if (moe::is_local(indices[p], expert_offset, EXPERTS))
      atomicAdd(&count[indices[p] - expert_offset], 1);
  __syncthreads();
  if (threadIdx.x == 0) {
    i32 acc = 0;
    for (int e = 0; e < EXPERTS; ++e) {
      start[e] = acc;
      fill[e] = acc;
      acc += (count[e] + BM - 1) / BM * BM;
    }
    total_rows = acc;
    *num_tiles = acc / BM;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < EXPERTS; e += THREADS) {
    const i32 t0 = start[e] / BM, tiles = (count[e] + BM - 1) / BM;
    for (i32 t = 0; t < tiles; ++t)
      tile_expert[t0 + t] = e;
  }
  for (i32 r = threadIdx.x; r < total_rows; r += THREADS)
    sorted_pair[r] = -1;
  __syncthreads();
  for (i32 p = threadIdx.x; p < pairs; p += THREADS)
    if (moe::is_local(indices[p], expert_offset, EXPERTS))
      sorted_pair[atomicAdd(&fill[indices[p] - expert_offset], 1)] = p;
}

// =============================================================================================
// Grouped GEMMs over the tile list. Tile t = blockIdx.y covers sorted rows [t·BM, (t+1)·BM) of
// expert tile_expert[t]; blocks with t >= *num_tiles return at once.
//
// moe_up<T, HIDDEN, INTER, TOPK, BM, BN, BK, STAGES, WARPS_M, WARPS_N, ACT>
//   (x [n, HIDDEN], up [EXPERTS, INTER, HIDDEN], sorted_pair, tile_expert, num_tiles,
//    h [max_tiles·BM, INTER] (out))
//   h[row, i] = T(act(T(x[token(row)] · up[e, i]))) for real rows (padding rows not written).
// moe_down<T, HIDDEN, INTER, TOPK, BM, BN, BK, STAGES, WARPS_M, WARPS_N>
//   (h, down [EXPERTS, HIDDEN, INTER], sorted_pair, tile_expert, num_tiles,
//    slot_out [n·TOPK, HIDDEN] (out))
//   slot_out[p, j] = T(h[row(p)] · down[e, j]) (the unweighted expert output; the router
//   weight is applied in fp32 by moe_combine, exactly as transformers multiplies the bf16
//   expert output by the fp32 weight).
// grid (ceil(INTER/BN) resp. ceil(HIDDEN/BN), max_tiles(n)), block 32·WARPS_M·WARPS_N,
// smem STAGES·(BM+BN)·(BK+8)·sizeof(T); the tile constraints of gemm apply (bf16: HIDDEN and
// INTER multiples of 8). T = float runs the FMA path (test / fallback). On sm_90a, tiles that
// moe::UsesWgmma accepts (BK 64, BM/16 warps; the heuristics' 128-row tiles) run the warpgroup
// MMA main loop of gemm_wgmma in the same launch; other tiles and targets the mma.sync loop.
// =============================================================================================
namespace moe {
// Whether the grouped GEMMs run the Hopper main loop (dn::wgmma_mainloop) for these tiles on
// sm_90a: bf16, BK = 64, BM / 64 warpgroups (WARPS_M·WARPS_N = BM / 16), BN 128 or 256,
// STAGES >= 3. Its shared memory, STAGES·(BM+BN)·128 + 1024, fits in the launch's
// STAGES·(BM+BN)·(BK+8)·2.
template <typename T, int BM, int BN, int BK, int STAGES, int WARPS_M, int WARPS_N> struct UsesWgmma {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  static constexpr bool value = dn::IsBf16<T>::value && BK == 64 && (BM == 64 || BM == 128) &&
                                (BN == 128 || BN == 256) && STAGES >= 3 && WARPS_M * WARPS_N * 16 == BM;
#else
  static constexpr bool value = false;
#endif
};
}  // namespace moe

template <typename T, int HIDDEN, int INTER, int TOPK, int BM, int BN, int BK, int STAGES, int WARPS_M,
          int WARPS_N, int ACT>
__device__ void moe_up(const T *x, const T *up, const i32 *sorted_pair, const i32 *tile_expert,
                       const i32 *num_tiles, T *h) {
  constexpr int THREADS = 32 * WARPS_M * WARPS_N;
  const i32 tile = blockIdx.y;
  if (tile >= *num_tiles)
    return;
  const i32 e = tile_expert[tile];
  const i32 row0 = tile * BM, n0 = blockIdx.x * BN;
  const T *wexp = up + i64(e) * INTER * HIDDEN;
  const i32 *pairs = sorted_pair + row0;
  auto store = [&](int r, int col, float v) {
    const i32 gc = n0 + col;
    if (gc < INTER && pairs[r] >= 0) {
      float o = dn::Round<T>::f(v);
      o = dn::Round<T>::f(activate<ACT>(o));
      store_f32(h + i64(row0 + r) * INTER + gc, o);
    }
  };
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  if constexpr (moe::UsesWgmma<T, BM, BN, BK, STAGES, WARPS_M, WARPS_N>::value) {
    using C = dn::WgmmaConfig<BM, BN, STAGES>;
    float acc[BN / 2];
    dn::wgmma_mainloop<C>(
        acc,
        [&](int r) -> const bf16 * {
          const i32 p = pairs[r];
          return p >= 0 ? x + i64(p / TOPK) * HIDDEN : nullptr;
        },
        [&](int r) -> const bf16 * { return n0 + r < INTER ? wexp + i64(n0 + r) * HIDDEN : nullptr; }, HIDDEN,
        up);
    dn::wgmma_for_each_pair<C>(acc, [&](int r, int col, float v0, float v1) {
      store(r, col, v0);
      store(r, col + 1, v1);
    });
    return;
  }
#endif
  if constexpr (dn::IsBf16<T>::value) {
    static_assert(HIDDEN % 8 == 0, "bf16 moe_up needs HIDDEN % 8 == 0");
    using C = dn::MmaConfig<BM, BN, BK, STAGES, WARPS_M, WARPS_N>;
    const bf16 *a_src[C::A_ITERS];
    const bf16 *w_src[C::B_ITERS];
#pragma unroll
    for (int i = 0; i < C::A_ITERS; ++i) {
      const int q = threadIdx.x + i * THREADS;
      const int r = q / C::KCH, cc = (q % C::KCH) * 8;
      const i32 p = q < C::A_CHUNKS ? pairs[r] : -1;
      a_src[i] = p >= 0 ? x + i64(p / TOPK) * HIDDEN + cc : nullptr;
    }
#pragma unroll
    for (int i = 0; i < C::B_ITERS; ++i) {
      const int q = threadIdx.x + i * THREADS;
      const int r = q / C::KCH, cc = (q % C::KCH) * 8;
      w_src[i] = (q < C::B_CHUNKS && n0 + r < INTER) ? wexp + i64(n0 + r) * HIDDEN + cc : nullptr;
    }
    float acc[C::MI][C::NI][4];
#pragma unroll
    for (int mi = 0; mi < C::MI; ++mi)
#pragma unroll
      for (int ni = 0; ni < C::NI; ++ni)
#pragma unroll
        for (int q = 0; q < 4; ++q)
          acc[mi][ni][q] = 0.0f;
    dn::mma_mainloop<C>(acc, reinterpret_cast<bf16 *>(dn::dyn_smem()), a_src, w_src, HIDDEN, up);
    dn::mma_for_each_pair<C>(acc, [&](int r, int col, float v0, float v1) {
      store(r, col, v0);
      store(r, col + 1, v1);
    });
  } else {
    using F = dn::FmaConfig<BM, BN, BK, THREADS>;
    float acc[F::TM][F::TN];
    dn::fma_mainloop<F>(
        acc, reinterpret_cast<float *>(dn::dyn_smem()),
        [&](int r) -> const T * {
          const i32 p = pairs[r];
          return p >= 0 ? x + i64(p / TOPK) * HIDDEN : nullptr;
        },
        [&](int r) -> const T * { return n0 + r < INTER ? wexp + i64(n0 + r) * HIDDEN : nullptr; },
        HIDDEN);
    dn::fma_for_each<F>(acc, store);
  }
}

template <typename T, int HIDDEN, int INTER, int TOPK, int BM, int BN, int BK, int STAGES, int WARPS_M,
          int WARPS_N>
__device__ void moe_down(const T *h, const T *down, const i32 *sorted_pair, const i32 *tile_expert,
                         const i32 *num_tiles, T *slot_out) {
  constexpr int THREADS = 32 * WARPS_M * WARPS_N;
  const i32 tile = blockIdx.y;
  if (tile >= *num_tiles)
    return;
  const i32 e = tile_expert[tile];
  const i32 row0 = tile * BM, n0 = blockIdx.x * BN;
  const T *wexp = down + i64(e) * HIDDEN * INTER;
  const i32 *pairs = sorted_pair + row0;
  auto store = [&](int r, int col, float v) {
    const i32 gc = n0 + col;
    const i32 p = pairs[r];
    if (gc < HIDDEN && p >= 0)
      store_f32(slot_out + i64(p) * HIDDEN + gc, dn::Round<T>::f(v));
  };
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  if constexpr (moe::UsesWgmma<T, BM, BN, BK, STAGES, WARPS_M, WARPS_N>::value) {
    using C = dn::WgmmaConfig<BM, BN, STAGES>;
    float acc[BN / 2];
    dn::wgmma_mainloop<C>(
        acc, [&](int r) -> const bf16 * { return pairs[r] >= 0 ? h + i64(row0 + r) * INTER : nullptr; },
        [&](int r) -> const bf16 * { return n0 + r < HIDDEN ? wexp + i64(n0 + r) * INTER : nullptr; }, INTER,
        down);
    dn::wgmma_for_each_pair<C>(acc, [&](int r, int col, float v0, float v1) {
      store(r, col, v0);
      store(r, col + 1, v1);
    });
    return;
  }
#endif
  if constexpr (dn::IsBf16<T>::value) {
    static_assert(INTER % 8 == 0, "bf16 moe_down needs INTER % 8 == 0");
    using C = dn::MmaConfig<BM, BN, BK, STAGES, WARPS_M, WARPS_N>;
    const bf16 *a_src[C::A_ITERS];
    const bf16 *w_src[C::B_ITERS];
#pragma unroll
    for (int i = 0; i < C::A_ITERS; ++i) {
      const int q = threadIdx.x + i * THREADS;
      const int r = q / C::KCH, cc = (q % C::KCH) * 8;
      const i32 p = q < C::A_CHUNKS ? pairs[r] : -1;
      a_src[i] = p >= 0 ? h + i64(row0 + r) * INTER + cc : nullptr;
    }
#pragma unroll
    for (int i = 0; i < C::B_ITERS; ++i) {
      const int q = threadIdx.x + i * THREADS;
      const int r = q / C::KCH, cc = (q % C::KCH) * 8;
      w_src[i] = (q < C::B_CHUNKS && n0 + r < HIDDEN) ? wexp + i64(n0 + r) * INTER + cc : nullptr;
    }
    float acc[C::MI][C::NI][4];
#pragma unroll
    for (int mi = 0; mi < C::MI; ++mi)
#pragma unroll
      for (int ni = 0; ni < C::NI; ++ni)
#pragma unroll
        for (int q = 0; q < 4; ++q)
          acc[mi][ni][q] = 0.0f;
    dn::mma_mainloop<C>(acc, reinterpret_cast<bf16 *>(dn::dyn_smem()), a_src, w_src, INTER, down);
    dn::mma_for_each_pair<C>(acc, [&](int r, int col, float v0, float v1) {
      store(r, col, v0);
      store(r, col + 1, v1);
    });
  } else {
    using F = dn::FmaConfig<BM, BN, BK, THREADS>;
    float acc[F::TM][F::TN];
    dn::fma_mainloop<F>(
        acc, reinterpret_cast<float *>(dn::dyn_smem()),
        [&](int r) -> const T * { return pairs[r] >= 0 ? h + i64(row0 + r) * INTER : nullptr; },
        [&](int r) -> const T * { return n0 + r < HIDDEN ? wexp + i64(n0 + r) * INTER : nullptr; },
        INTER);
    dn::fma_for_each<F>(acc, store);
  }
}

// =============================================================================================
// moe_combine<T, HIDDEN, TOPK, THREADS, HAS_SHARED, HAS_RESIDUAL>(slot_out [n·TOPK, HIDDEN],
//   weights [n, TOPK] fp32, indices [n, TOPK], shared_out [n, HIDDEN], residual [n, HIDDEN],
//   out [n, HIDDEN], n, expert_offset, local_experts)
// out[t] = T(T(T(sum over slots in ascending expert id of w·slot_out) + shared) + residual);
// the sum is over the slots of local experts only (the rows moe_align kept);
// the products and sums are rounded separately (no FMA contraction), as PyTorch does.
// grid (n), block THREADS, smem 0. out may alias shared_out or residual.
// =============================================================================================
template <typename T, int HIDDEN, int TOPK, int THREADS, bool HAS_SHARED, bool HAS_RESIDUAL>
__device__ void moe_combine(const T *slot_out, const float *weights, const i32 *indices, const T *shared_out,
                            const T *residual, T *out, i32 n, i32 expert_offset, i32 local_experts) {
  const i32 t = blockIdx.x;
  if (t >= n)
    return;
  int order[TOPK];
  i32 e[TOPK];
  moe::expert_order<TOPK>(indices + i64(t) * TOPK, order, e);
  float w[TOPK];
  const T *src[TOPK];
  bool local[TOPK];
#pragma unroll
  for (int j = 0; j < TOPK; ++j) {
    w[j] = weights[i64(t) * TOPK + order[j]];
    src[j] = slot_out + (i64(t) * TOPK + order[j]) * HIDDEN;
    local[j] = moe::is_local(e[order[j]], expert_offset, local_experts);
  }
  const i64 base = i64(t) * HIDDEN;
  constexpr int V = 16 / sizeof(T);
  if constexpr (HIDDEN % V == 0) {
    for (int ch = threadIdx.x; ch < HIDDEN / V; ch += THREADS) {
      float acc[V];
#pragma unroll
      for (int q = 0; q < V; ++q)
        acc[q] = 0.0f;
#pragma unroll
      for (int j = 0; j < TOPK; ++j) {
        if (!local[j])
          continue;
        float f[V];
        unpack16(*reinterpret_cast<const uint4 *>(src[j] + ch * V), f);
#pragma unroll
        for (int q = 0; q < V; ++q)
          acc[q] = __fadd_rn(acc[q], __fmul_rn(w[j], f[q]));
      }
      float o[V];
#pragma unroll
      for (int q = 0; q < V; ++q)
        o[q] = moe::finish<T, HAS_SHARED, HAS_RESIDUAL>(acc[q], shared_out, residual, base + ch * V + q);
      *reinterpret_cast<uint4 *>(out + base + ch * V) = moe::pack16<T>(o);
    }
  } else {
    for (int c = threadIdx.x; c < HIDDEN; c += THREADS) {
      float acc = 0.0f;
#pragma unroll
      for (int j = 0; j < TOPK; ++j)
        if (local[j])
          acc = __fadd_rn(acc, __fmul_rn(w[j], load_f32(src[j] + c)));
      store_f32(out + base + c, moe::finish<T, HAS_SHARED, HAS_RESIDUAL>(acc, shared_out, residual, base + c));
    }
  }
}

// =============================================================================================
// Decode (n small): only the selected experts' weights are read, gemv-style (one warp per
// output feature, 16-byte streaming loads).
//
// moe_decode_up<T, HIDDEN, INTER, TOPK, WARPS, ACT>(x [n, HIDDEN], up [EXPERTS, INTER, HIDDEN],
//   indices [n, TOPK], h [n·TOPK, INTER] (out), n, expert_offset, local_experts)
//   h[p, i] = T(act(T(x[p / TOPK] · up[indices[p] - expert_offset, i]))) for the pairs of local
//   experts (rows of other pairs not written).
//   grid (ceil(INTER/WARPS), n·TOPK), block 32·WARPS, smem 0.
// moe_decode_down<T, HIDDEN, INTER, TOPK, WARPS, HAS_SHARED, HAS_RESIDUAL>(h, down
//   [EXPERTS, HIDDEN, INTER], weights [n, TOPK], indices [n, TOPK], shared_out, residual,
//   out [n, HIDDEN], n, expert_offset, local_experts)
//   out[t, j] = finish(sum over local slots in ascending expert id of
//   w · T(h[t·TOPK+s] · down[e_s - expert_offset, j]))
//   (the same value moe_down + moe_combine produce). One warp per (token, column): its TOPK
//   weight rows are streamed together. grid (ceil(HIDDEN/WARPS), n), block 32·WARPS, smem 0.
// Tokens sharing an expert read its rows once per token (fine for n <= 8).
// =============================================================================================
template <typename T, int HIDDEN, int INTER, int TOPK, int WARPS, int ACT>
__device__ void moe_decode_up(const T *x, const T *up, const i32 *indices, T *h, i32 n, i32 expert_offset,
                              i32 local_experts) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const i32 p = blockIdx.y;
  const i32 i = blockIdx.x * WARPS + warp;
  if (p >= n * TOPK || i >= INTER)
    return;
  const i32 e = indices[p] - expert_offset;
  if (!moe::is_local(indices[p], expert_offset, local_experts))
    return;
  float acc[1] = {0.0f};
  dn::warp_dot_rows<T, 1>(acc, x + i64(p / TOPK) * HIDDEN, HIDDEN, up + (i64(e) * INTER + i) * HIDDEN, 1,
                          HIDDEN, lane);
  const float v = warp_sum(acc[0]);
  if (lane == 0)
    store_f32(h + i64(p) * INTER + i, dn::Round<T>::f(activate<ACT>(dn::Round<T>::f(v))));
}

template <typename T, int HIDDEN, int INTER, int TOPK, int WARPS, bool HAS_SHARED, bool HAS_RESIDUAL>
__device__ void moe_decode_down(const T *h, const T *down, const float *weights, const i32 *indices,
                                const T *shared_out, const T *residual, T *out, i32 n, i32 expert_offset,
                                i32 local_experts) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const i32 t = blockIdx.y;
  const i32 col = blockIdx.x * WARPS + warp;
  if (t >= n || col >= HIDDEN)
    return;
  int order[TOPK];
  i32 e[TOPK];
  moe::expert_order<TOPK>(indices + i64(t) * TOPK, order, e);
  const T *wr[TOPK];
  const T *hr[TOPK];
  bool local[TOPK];
#pragma unroll
  for (int j = 0; j < TOPK; ++j) {
    local[j] = moe::is_local(e[order[j]], expert_offset, local_experts);
    wr[j] = down + (i64(local[j] ? e[order[j]] - expert_offset : 0) * HIDDEN + col) * INTER;
    hr[j] = h + (i64(t) * TOPK + order[j]) * INTER;
  }
  float acc[TOPK];
#pragma unroll
  for (int j = 0; j < TOPK; ++j)
    acc[j] = 0.0f;
  constexpr int V = 16 / sizeof(T);
  bool vec = INTER % V == 0 && ((reinterpret_cast<u64>(down) | reinterpret_cast<u64>(h)) & 15) == 0;
  if (vec) {
    for (int ch = lane; ch < INTER / V; ch += 32) {
      uint4 wv[TOPK];
#pragma unroll
      for (int j = 0; j < TOPK; ++j)
        wv[j] = local[j] ? dn::ld_stream(wr[j] + ch * V) : make_uint4(0, 0, 0, 0);
#pragma unroll
      for (int j = 0; j < TOPK; ++j) {
        if (!local[j])
          continue;
        float wf[V], hf[V];
        unpack16(wv[j], wf);
        unpack16(*reinterpret_cast<const uint4 *>(hr[j] + ch * V), hf);
#pragma unroll
        for (int q = 0; q < V; ++q)
          acc[j] = fmaf(wf[q], hf[q], acc[j]);
      }
    }
  } else {
    for (int kk = lane; kk < INTER; kk += 32)
#pragma unroll
      for (int j = 0; j < TOPK; ++j)
        if (local[j])
          acc[j] = fmaf(load_f32(wr[j] + kk), load_f32(hr[j] + kk), acc[j]);
  }
  float routed = 0.0f;
#pragma unroll
  for (int j = 0; j < TOPK; ++j) {
    const float y = dn::Round<T>::f(warp_sum(acc[j]));  // every lane joins the shuffle
    if (local[j])
      routed = __fadd_rn(routed, __fmul_rn(weights[i64(t) * TOPK + order[j]], y));
  }
  if (lane == 0) {
    const i64 off = i64(t) * HIDDEN + col;
    store_f32(out + off, moe::finish<T, HAS_SHARED, HAS_RESIDUAL>(routed, shared_out, residual, off));
  }
}

}  // namespace slk
