// sl_msa.cuh: multi-step (superlinear) attention kernels (../shared/docs/SUPERLINEAR.md).
//
// Layouts (docs/kernels.md, docs/kernels-msa.md):
//   q1, q2 [n, ldq]: HEADS*HEAD_DIM columns (query j of the call at pos = cache_len - n + j)
//   k_cache, v_cache [KV_HEADS][capacity][HEAD_DIM] (element type T); query head h reads kv head
//   h / GROUP, GROUP = HEADS / KV_HEADS.
//   anchor_offsets (i64, num_stripes entries): anchor_offsets[i] = floor_power(sw_index+1+i) - 1;
//   the anchor of stripe i of the query at pos is pos - anchor_offsets[i] (valid while >= 0).
//   span_reach (i32) [n][2]: {ceil(bf * t^sp), ceil(ff * t^sp)}, t = pos + 1.
//   W (template parameter) = floor_power(sw_index + 1) - 1, the window length.
// Routing: raw fp32 dot products q1 . K[anchor] (bf16: mma.sync m16n8k16, fp32 accumulators;
// float: FMA), top NUM_SPANS per (query, head), ties -> larger stripe index (farther anchor).
// Attention: scale 1/sqrt(HEAD_DIM), softmax in fp32 base 2 with the scale folded in; bf16 uses
// mma.sync with P rounded to bf16 for P.V (as flash attention does).
// Alignment: q pointers 16-byte aligned and ldq a multiple of 8 elements; caches 16-byte aligned.
// All helpers live in slk::msa_detail so this header can be combined with the other headers.
#pragma once

#include "sl_common.cuh"
#include "sl_softmax.cuh"

namespace slk {
namespace msa_detail {

__host__ __device__ constexpr int cmax(int a, int b) { return a > b ? a : b; }

constexpr int kBK = 64;      // keys per shared-memory tile of the attention core
constexpr int kPad = 8;      // row padding (elements) of shared-memory tiles
constexpr int kIntMax = 0x7fffffff;

// ---------------------------------------------------------------------------------------------
// Top-k lists: sorted by (score desc, stripe desc); empty entries are (-inf, -1).
// ---------------------------------------------------------------------------------------------
__device__ __forceinline__ bool better(float a, int ai, float b, int bi) {
  return a > b || (a == b && ai > bi);
}

template <int K>
__device__ __forceinline__ void topk_insert(float (&s)[K], int (&ix)[K], float v, int i) {
#pragma unroll
  for (int k = 0; k < K; ++k) {
    if (better(v, i, s[k], ix[k])) {
      const float ts = s[k];
      const int ti = ix[k];
      s[k] = v;
      ix[k] = i;
      v = ts;
      i = ti;
    }
  }
}

// Butterfly merge of NL per-lane lists over lane offsets FIRST, 2*FIRST, ..., LAST (the lists of
// partner lanes hold disjoint stripes, so no entry is counted twice).
template <int K, int NL, int FIRST, int LAST>
__device__ __forceinline__ void topk_merge_lanes(float (&s)[NL][K], int (&ix)[NL][K]) {
#pragma unroll
  for (int off = FIRST; off <= LAST; off <<= 1) {
#pragma unroll
    for (int l = 0; l < NL; ++l) {
      float os[K];
      int oi[K];
#pragma unroll
      for (int k = 0; k < K; ++k) {
        os[k] = __shfl_xor_sync(0xffffffffu, s[l][k], off);
        oi[k] = __shfl_xor_sync(0xffffffffu, ix[l][k], off);
      }
#pragma unroll
      for (int k = 0; k < K; ++k)
        topk_insert<K>(s[l], ix[l], os[k], oi[k]);
    }
  }
}

// Number of stripes i < num_stripes with anchor_offsets[i] <= pos (the table is increasing).
__device__ __forceinline__ int stripe_count(const i64 *offsets, int num_stripes, i64 pos) {
  int lo = 0, hi = num_stripes;
  while (lo < hi) {
    const int mid = (lo + hi) >> 1;
    if (offsets[mid] <= pos)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// Span extents of the stripe `stripe` (or an empty slot for stripe < 0).
template <int W>
__device__ __forceinline__ void span_extent(int stripe, int pos, const i64 *offsets,
                                            int reach_back, int reach_fwd, int &start, int &end) {
  if (stripe < 0) {
    start = 0;
    end = -1;
    return;
  }
  const int a = pos - (int)offsets[stripe];
  const int sw_start = pos - W + 1 > 0 ? pos - W + 1 : 0;
  start = a - reach_back > 0 ? a - reach_back : 0;
  int e = a + reach_fwd;
  e = e < pos ? e : pos;
  e = e < sw_start - 1 ? e : sw_start - 1;
  end = e;
}

// Loads NW32 consecutive 32-bit words (2*NW32 bf16) from a 2*NW32*2-byte aligned address.
template <int NW32> __device__ __forceinline__ void load_words(const bf16 *p, u32 (&w)[NW32]) {
  if constexpr (NW32 % 4 == 0) {
#pragma unroll
    for (int i = 0; i < NW32 / 4; ++i) {
      const uint4 v = __ldg(reinterpret_cast<const uint4 *>(p) + i);
      w[4 * i] = v.x;
      w[4 * i + 1] = v.y;
      w[4 * i + 2] = v.z;
      w[4 * i + 3] = v.w;
    }
  } else if constexpr (NW32 % 2 == 0) {
#pragma unroll
    for (int i = 0; i < NW32 / 2; ++i) {
      const uint2 v = __ldg(reinterpret_cast<const uint2 *>(p) + i);
      w[2 * i] = v.x;
      w[2 * i + 1] = v.y;
    }
  } else {
#pragma unroll
    for (int i = 0; i < NW32; ++i)
      w[i] = __ldg(reinterpret_cast<const u32 *>(p) + i);
  }
}

// Merge of the SPLITS partial top-k lists of (query j, head h) (decode routing), giving the
// final slots: scores (-inf when missing) and stripe indices (-1 when missing).
template <int HEADS, int K, int SPLITS>
__device__ __forceinline__ void resolve_partials(const float *part_scores, const i32 *part_idx,
                                                 int n, int j, int h, float (&s)[K],
                                                 int (&ix)[K]) {
#pragma unroll
  for (int k = 0; k < K; ++k) {
    s[k] = neg_inf();
    ix[k] = -1;
  }
  for (int z = 0; z < SPLITS; ++z) {
    const i64 base = (((i64)z * n + j) * HEADS + h) * K;
#pragma unroll
    for (int k = 0; k < K; ++k)
      topk_insert<K>(s, ix, part_scores[base + k], part_idx[base + k]);
  }
}

// ---------------------------------------------------------------------------------------------
// Attention core: a block of NW warps attends 16*NW rows; row r has its own query vector (staged
// in shared memory) and its own inclusive key interval [lo_r, hi_r] (lo > hi: empty) in one kv
// head. The block walks the union of the intervals in tiles of kBK keys (skipping keys no row
// needs), loads K/V tiles with cp.async (two stages) shared by all warps; a warp skips a tile
// none of its rows touches. Results: normalised O (fp32) and lse (natural log, -inf for an
// empty row) in shared memory.
// ---------------------------------------------------------------------------------------------
template <typename T, int D, int NW> struct Core {
  static constexpr int ROWS = 16 * NW;
  static constexpr int LD = D + kPad;                              // tile row stride (elements)
  static constexpr int Q_BYTES = ROWS * LD * (int)sizeof(T);
  static constexpr int KV_BYTES = 2 * 2 * kBK * LD * (int)sizeof(T);  // 2 stages x (K, V)
  static constexpr int O_BYTES = ROWS * D * 4;
  static constexpr int BIG = cmax(KV_BYTES, O_BYTES);
  static constexpr int META_BYTES = ROWS * 4 * 3 + 2 * NW * 4 + 16;
  static constexpr int SMEM = Q_BYTES + BIG + META_BYTES;
  static_assert(D % 16 == 0, "HEAD_DIM must be a multiple of 16");
  static_assert((LD * sizeof(T)) % 16 == 0, "tile rows must stay 16-byte aligned");

  T *q;        // [ROWS][LD]
  T *kv;       // [2][2][kBK][LD]
  float *o;    // [ROWS][D] (aliases kv after the walk)
  int *lo, *hi;
  float *lse;
  int *red;    // [2][NW]

  __device__ explicit Core(unsigned char *smem) {
    q = reinterpret_cast<T *>(smem);
    kv = reinterpret_cast<T *>(smem + Q_BYTES);
    o = reinterpret_cast<float *>(smem + Q_BYTES);
    lo = reinterpret_cast<int *>(smem + Q_BYTES + BIG);
    hi = lo + ROWS;
    lse = reinterpret_cast<float *>(hi + ROWS);
    red = reinterpret_cast<int *>(lse + ROWS);
  }

  // Stages the query row (D elements at src, 16-byte aligned) of local row r; src == nullptr
  // writes zeros. Called by any subset of threads, one row per call.
  __device__ void stage_q_chunk(int r, int chunk, const T *src) {
    constexpr int EPC = 16 / sizeof(T);
    uint4 v = make_uint4(0, 0, 0, 0);
    if (src)
      v = __ldg(reinterpret_cast<const uint4 *>(src + chunk * EPC));
    *reinterpret_cast<uint4 *>(q + r * LD + chunk * EPC) = v;
  }

  // Start of the next tile: the smallest key >= cursor that some row needs, rounded down to a
  // multiple of kBK (>= cursor, which is one too), or kIntMax. Tiles on the kBK grid make every
  // row's arithmetic independent of which rows share its block (a row sees the same keys in the
  // same tiles in any grouping), so results do not depend on the row order. Every thread calls it.
  __device__ int next_active(int cursor, int parity) {
    const int t = threadIdx.x;
    int cand = kIntMax;
    if (t < ROWS) {
      const int l = lo[t], h = hi[t];
      if (l <= h && h >= cursor)
        cand = (l > cursor ? l : cursor) / kBK * kBK;
    }
    cand = __reduce_min_sync(0xffffffffu, cand);
    if ((t & 31) == 0)
      red[parity * NW + t / 32] = cand;
    __syncthreads();
    int best = kIntMax;
#pragma unroll
    for (int w = 0; w < NW; ++w)
      best = min(best, red[parity * NW + w]);
    return best;
  }

  __device__ void load_tile(int stage, int start, const T *kbase, const T *vbase, int kv_len) {
    constexpr int EPC = 16 / sizeof(T);
    constexpr int CPR = D / EPC;  // 16-byte chunks per row
    T *ks = kv + (stage * 2) * kBK * LD;
    T *vs = ks + kBK * LD;
    for (int c = threadIdx.x; c < kBK * CPR; c += 32 * NW) {
      const int r = c / CPR, ch = c % CPR;
      const int key = start + r;
      const bool ok = key < kv_len;
      const i64 off = (i64)(ok ? key : 0) * D + ch * EPC;
      cp_async_16(ks + r * LD + ch * EPC, kbase + off, ok);
      cp_async_16(vs + r * LD + ch * EPC, vbase + off, ok);
    }
  }

  // Runs the walk. Preconditions: q, lo, hi staged for all ROWS rows and a __syncthreads()
  // after staging. Postcondition (after the internal final __syncthreads): o, lse filled.
  __device__ void run(const T *kbase, const T *vbase, int kv_len) {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int parity = 0;
    int cur = next_active(0, parity);
    parity ^= 1;
    if (cur != kIntMax)
      load_tile(0, cur, kbase, vbase, kv_len);
    cp_async_commit();
    int nxt = kIntMax;
    if (cur != kIntMax) {
      nxt = next_active(cur + kBK, parity);
      parity ^= 1;
    }
    if (nxt != kIntMax)
      load_tile(1, nxt, kbase, vbase, kv_len);
    cp_async_commit();

    if constexpr (is_bf16<T>::value) {
      const int g = lane / 4, c = lane % 4;
      const int r0 = warp * 16;
      const int lo0 = lo[r0 + g], hi0 = hi[r0 + g], lo1 = lo[r0 + g + 8], hi1 = hi[r0 + g + 8];
      int wlo = kIntMax, whi = -1;
      if (lo0 <= hi0) {
        wlo = lo0;
        whi = hi0;
      }
      if (lo1 <= hi1) {
        wlo = min(wlo, lo1);
        whi = max(whi, hi1);
      }
      wlo = __reduce_min_sync(0xffffffffu, wlo);
      whi = __reduce_max_sync(0xffffffffu, whi);
      // Q fragments (A operand, 16 rows x D).
      u32 qa[D / 16][4];
#pragma unroll
      for (int ks = 0; ks < D / 16; ++ks)
        ldmatrix_x4(qa[ks], q + (r0 + (lane % 16)) * LD + ks * 16 + 8 * (lane / 16));
      float m[2] = {neg_inf(), neg_inf()}, l[2] = {0.0f, 0.0f};
      OnlineSoftmax<2> st{m, l};
      float acc[D / 8][4];
#pragma unroll
      for (int i = 0; i < D / 8; ++i)
        acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.0f;
      const float scale2 = rsqrtf((float)D) * kLog2e;
      int stage = 0;
      while (cur != kIntMax) {
        cp_async_wait<1>();
        __syncthreads();
        const int ts = cur;
        if (wlo <= ts + kBK - 1 && whi >= ts) {
          const bf16 *ks_ = reinterpret_cast<const bf16 *>(kv) + (stage * 2) * kBK * LD;
          const bf16 *vs_ = ks_ + kBK * LD;
          float s[kBK / 8][4];
#pragma unroll
          for (int i = 0; i < kBK / 8; ++i)
            s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.0f;
#pragma unroll
          for (int ks = 0; ks < D / 16; ++ks) {
#pragma unroll
            for (int np = 0; np < kBK / 16; ++np) {
              u32 b[4];
              ldmatrix_x4(b, ks_ + (np * 16 + (lane % 8) + 8 * (lane / 16)) * LD + ks * 16 +
                                 8 * ((lane / 8) % 2));
              const u32 b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
              mma_bf16_16816(s[2 * np], qa[ks], b0);
              mma_bf16_16816(s[2 * np + 1], qa[ks], b1);
            }
          }
          // Mask, online softmax (a row with every key so far masked keeps corr 1 and shifts
          // by 0: kSoftmaxShiftZeroKeepCorr).
          float mx[2] = {neg_inf(), neg_inf()};
#pragma unroll
          for (int nt = 0; nt < kBK / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int key = ts + nt * 8 + 2 * c + (e & 1);
              const bool ok = (e < 2) ? (key >= lo0 && key <= hi0) : (key >= lo1 && key <= hi1);
              const float v = ok ? s[nt][e] * scale2 : neg_inf();
              s[nt][e] = v;
              mx[e / 2] = fmaxf(mx[e / 2], v);
            }
          }
          float alpha[2];
#pragma unroll
          for (int r = 0; r < 2; ++r) {
            mx[r] = quad_max(mx[r]);
            st.rescale<kSoftmaxShiftZeroKeepCorr>(r, mx[r], alpha[r]);
          }
          const float base[2] = {st.shift(0), st.shift(1)};
          float rs[2] = {0.0f, 0.0f};
#pragma unroll
          for (int nt = 0; nt < kBK / 8; ++nt) {
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const float p = exp2f(s[nt][e] - base[e / 2]);  // -inf -> 0
              s[nt][e] = p;
              rs[e / 2] += p;
            }
          }
#pragma unroll
          for (int r = 0; r < 2; ++r)
            st.add(r, alpha[r], rs[r]);
#pragma unroll
          for (int dt = 0; dt < D / 8; ++dt) {
            acc[dt][0] *= alpha[0];
            acc[dt][1] *= alpha[0];
            acc[dt][2] *= alpha[1];
            acc[dt][3] *= alpha[1];
          }
          // O += P V.
#pragma unroll
          for (int kk = 0; kk < kBK / 16; ++kk) {
            u32 pa[4];
            pa[0] = pack_bf16x2(s[2 * kk][0], s[2 * kk][1]);
            pa[1] = pack_bf16x2(s[2 * kk][2], s[2 * kk][3]);
            pa[2] = pack_bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[3] = pack_bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
            for (int dp = 0; dp < D / 16; ++dp) {
              u32 b[4];
              ldmatrix_x4_trans(b, vs_ + (kk * 16 + (lane % 8) + 8 * ((lane / 8) % 2)) * LD +
                                       dp * 16 + 8 * (lane / 16));
              const u32 b0[2] = {b[0], b[1]}, b1[2] = {b[2], b[3]};
              mma_bf16_16816(acc[2 * dp], pa, b0);
              mma_bf16_16816(acc[2 * dp + 1], pa, b1);
            }
          }
        }
        __syncthreads();
        int nn = kIntMax;
        if (nxt != kIntMax) {
          nn = next_active(nxt + kBK, parity);
          parity ^= 1;
        }
        if (nn != kIntMax)
          load_tile(stage, nn, kbase, vbase, kv_len);
        cp_async_commit();
        cur = nxt;
        nxt = nn;
        stage ^= 1;
      }
      cp_async_wait<0>();
      __syncthreads();
#pragma unroll
      for (int r = 0; r < 2; ++r)
        l[r] = quad_sum(l[r]);
      const float inv0 = st.inv(0);
      const float inv1 = st.inv(1);
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) {
        const int d = dt * 8 + 2 * c;
        o[(r0 + g) * D + d] = acc[dt][0] * inv0;
        o[(r0 + g) * D + d + 1] = acc[dt][1] * inv0;
        o[(r0 + g + 8) * D + d] = acc[dt][2] * inv1;
        o[(r0 + g + 8) * D + d + 1] = acc[dt][3] * inv1;
      }
      if (c == 0) {
        lse[r0 + g] = st.lse(0);
        lse[r0 + g + 8] = st.lse(1);
      }
      __syncthreads();
    } else {
      // FMA path: lane -> row warp*16 + lane%16, keys of parity lane/16 of each tile.
      const int r = warp * 16 + (lane % 16), half = lane / 16;
      const int rlo = lo[r], rhi = hi[r];
      float qv[D], acc[D];
#pragma unroll
      for (int d = 0; d < D; ++d) {
        qv[d] = to_f32(q[r * LD + d]);
        acc[d] = 0.0f;
      }
      float m[1] = {neg_inf()}, l[1] = {0.0f};
      OnlineSoftmax<1> st{m, l};
      const float scale2 = rsqrtf((float)D) * kLog2e;
      int stage = 0;
      while (cur != kIntMax) {
        cp_async_wait<1>();
        __syncthreads();
        const int ts = cur;
        const T *ks_ = kv + (stage * 2) * kBK * LD;
        const T *vs_ = ks_ + kBK * LD;
        const int first = max(rlo, ts), last = min(rhi, ts + kBK - 1);
        for (int key = first + half; key <= last; key += 2) {
          const T *kr = ks_ + (key - ts) * LD;
          const T *vr = vs_ + (key - ts) * LD;
          float dot = 0.0f;
#pragma unroll
          for (int d = 0; d < D; ++d)
            dot += qv[d] * to_f32(kr[d]);
          const float sv = dot * scale2;  // a visible key: the update needs no guard
          float alpha;                    // exp2f(m_old - m_new): 0 while m_old = -inf
          const float p = st.update(0, sv, alpha);
#pragma unroll
          for (int d = 0; d < D; ++d)
            acc[d] = acc[d] * alpha + p * to_f32(vr[d]);
        }
        __syncthreads();
        int nn = kIntMax;
        if (nxt != kIntMax) {
          nn = next_active(nxt + kBK, parity);
          parity ^= 1;
        }
        if (nn != kIntMax)
          load_tile(stage, nn, kbase, vbase, kv_len);
        cp_async_commit();
        cur = nxt;
        nxt = nn;
        stage ^= 1;
      }
      cp_async_wait<0>();
      __syncthreads();
      // Merge the two halves (lanes r and r + 16).
      const float mo = __shfl_xor_sync(0xffffffffu, m[0], 16);
      const float lo_ = __shfl_xor_sync(0xffffffffu, l[0], 16);
      float a, b;
      st.merge(0, mo, lo_, a, b);
      const float inv = st.inv(0);
#pragma unroll
      for (int d = 0; d < D; ++d) {
        const float other = __shfl_xor_sync(0xffffffffu, acc[d], 16);
        if (half == 0)
          o[r * D + d] = (acc[d] * a + other * b) * inv;
      }
      if (half == 0)
        lse[r] = st.lse(0);
      __syncthreads();
    }
  }
};

}  // namespace msa_detail

// Dynamic shared memory (bytes) of msa_window_attention, msa_span_attention (NW warps) and
// msa_decode_attention (4 warps).
template <typename T, int HEAD_DIM, int NW>
__host__ __device__ constexpr int msa_attention_smem() {
  return msa_detail::Core<T, HEAD_DIM, NW>::SMEM;
}

// =============================================================================================
// msa_anchor_topk: routing scores over the anchor grid + top-NUM_SPANS + span extents.
// grid (ceil(n / QPB), KV_HEADS, SPLITS), block 32*NW, no dynamic smem. NW % QPB == 0.
// Block (x, kvh, z) handles queries x*QPB .. x*QPB+QPB-1, all GROUP heads of kv head kvh; warp w
// takes query w % QPB and stripe part z*(NW/QPB) + w/QPB of SPLITS*(NW/QPB) equal parts of the
// query's valid stripes. bf16: the warp holds q1 of (up to) 16 heads as mma A fragments and
// scores 8 stripes per mma (B = the 8 anchor keys, read straight from global memory); each lane
// keeps register top-k lists, merged by shuffles, then across the block's warps in smem.
// SPLITS == 1: writes top_scores/span_start/span_end [n, HEADS, NUM_SPANS] (part_* unused).
// SPLITS > 1: writes part_scores/part_idx [SPLITS, n, HEADS, NUM_SPANS] (stripe indices, -1 =
// missing) for msa_decode_attention/msa_decode_combine or msa_route_merge.
// =============================================================================================
template <typename T, int HEADS, int KV_HEADS, int HEAD_DIM, int NUM_SPANS, int W, int NW, int QPB,
          int SPLITS>
__device__ void msa_anchor_topk(const T *q1, i32 ldq1, const T *k_cache, i32 capacity,
                                i32 cache_len, i32 n, const i64 *anchor_offsets, i32 num_stripes,
                                const i32 *span_reach, float *top_scores, i32 *span_start,
                                i32 *span_end, float *part_scores, i32 *part_idx) {
  using namespace msa_detail;
  constexpr int GROUP = HEADS / KV_HEADS;
  constexpr int K = NUM_SPANS;
  constexpr int WPQ = NW / QPB;
  static_assert(HEADS % KV_HEADS == 0, "HEADS must be a multiple of KV_HEADS");
  static_assert(NW % QPB == 0, "NW must be a multiple of QPB");
  static_assert(K >= 1 && K <= 8, "NUM_SPANS must be 1..8");
  constexpr int D = HEAD_DIM;
  __shared__ float red_s[NW][GROUP][K];
  __shared__ int red_i[NW][GROUP][K];

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int qi = warp % QPB, sub = warp / QPB;
  const int j = blockIdx.x * QPB + qi;
  const int kvh = blockIdx.y, z = blockIdx.z;

  if (j < n) {
    const int pos = cache_len - n + j;
    const int nv = stripe_count(anchor_offsets, num_stripes, pos);
    const int part = z * WPQ + sub, parts = SPLITS * WPQ;
    const int i_begin = (int)((i64)nv * part / parts);
    const int i_end = (int)((i64)nv * (part + 1) / parts);
    const T *kbase = k_cache + (i64)kvh * capacity * D;
    const T *qbase = q1 + (i64)j * ldq1 + (i64)kvh * GROUP * D;
    if constexpr (is_bf16<T>::value) {
      static_assert(D % 16 == 0, "HEAD_DIM must be a multiple of 16");
      constexpr int MT = (GROUP + 15) / 16;
      constexpr int NL = 2 * MT;
      constexpr int NWD = D / 8;  // 32-bit words per lane (D/4 elements)
      const int g = lane / 4, c = lane % 4;
      // Lane (g, c) holds elements [c*D/4, (c+1)*D/4) of a row as NWD words; k-step s uses
      // words 2s, 2s+1 (the same permutation of the reduction index for A and B).
      u32 qa[MT][D / 16][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int hh = mt * 16 + g + 8 * half;
          u32 w[NWD];
          if (hh < GROUP) {
            load_words<NWD>(reinterpret_cast<const bf16 *>(qbase) + hh * D + c * (D / 4), w);
          } else {
#pragma unroll
            for (int i = 0; i < NWD; ++i)
              w[i] = 0u;
          }
#pragma unroll
          for (int s = 0; s < D / 16; ++s) {
            qa[mt][s][half] = w[2 * s];
            qa[mt][s][2 + half] = w[2 * s + 1];
          }
        }
      }
      float ls[NL][K];
      int li[NL][K];
#pragma unroll
      for (int l = 0; l < NL; ++l)
#pragma unroll
        for (int k = 0; k < K; ++k) {
          ls[l][k] = neg_inf();
          li[l][k] = -1;
        }
      const bf16 *kb = reinterpret_cast<const bf16 *>(kbase);
      // Software pipeline: the next group's key words are loaded before this group's mmas.
      u32 bw[NWD];
      {
        const int i = i_begin + g;
        if (i < i_end) {
          load_words<NWD>(kb + (i64)(pos - (int)anchor_offsets[i]) * D + c * (D / 4), bw);
        } else {
#pragma unroll
          for (int w = 0; w < NWD; ++w)
            bw[w] = 0u;
        }
      }
      for (int i0 = i_begin; i0 < i_end; i0 += 8) {
        u32 cw[NWD];
#pragma unroll
        for (int w = 0; w < NWD; ++w)
          cw[w] = bw[w];
        {
          const int i = i0 + 8 + g;
          if (i < i_end) {
            load_words<NWD>(kb + (i64)(pos - (int)anchor_offsets[i]) * D + c * (D / 4), bw);
          } else {
#pragma unroll
            for (int w = 0; w < NWD; ++w)
              bw[w] = 0u;
          }
        }
        const int st0 = i0 + 2 * c, st1 = st0 + 1;
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
          for (int s = 0; s < D / 16; ++s) {
            const u32 b[2] = {cw[2 * s], cw[2 * s + 1]};
            mma_bf16_16816(acc, qa[mt][s], b);
          }
          if (st0 < i_end) {
            topk_insert<K>(ls[2 * mt], li[2 * mt], acc[0], st0);
            topk_insert<K>(ls[2 * mt + 1], li[2 * mt + 1], acc[2], st0);
          }
          if (st1 < i_end) {
            topk_insert<K>(ls[2 * mt], li[2 * mt], acc[1], st1);
            topk_insert<K>(ls[2 * mt + 1], li[2 * mt + 1], acc[3], st1);
          }
        }
      }
      topk_merge_lanes<K, NL, 1, 2>(ls, li);
      if (c == 0) {
#pragma unroll
        for (int l = 0; l < NL; ++l) {
          const int hh = (l / 2) * 16 + g + 8 * (l % 2);
          if (hh < GROUP) {
#pragma unroll
            for (int k = 0; k < K; ++k) {
              red_s[warp][hh][k] = ls[l][k];
              red_i[warp][hh][k] = li[l][k];
            }
          }
        }
      }
    } else {
      // FMA path: lane -> stripe i0 + lane, all GROUP heads.
      float ls[GROUP][K];
      int li[GROUP][K];
#pragma unroll
      for (int l = 0; l < GROUP; ++l)
#pragma unroll
        for (int k = 0; k < K; ++k) {
          ls[l][k] = neg_inf();
          li[l][k] = -1;
        }
      for (int i0 = i_begin; i0 < i_end; i0 += 32) {
        const int i = i0 + lane;
        if (i < i_end) {
          const T *kr = kbase + (i64)(pos - (int)anchor_offsets[i]) * D;
#pragma unroll
          for (int hh = 0; hh < GROUP; ++hh) {
            const T *qr = qbase + hh * D;
            float dot = 0.0f;
            for (int d = 0; d < D; ++d)
              dot = fmaf(to_f32(qr[d]), to_f32(kr[d]), dot);
            topk_insert<K>(ls[hh], li[hh], dot, i);
          }
        }
      }
      topk_merge_lanes<K, GROUP, 1, 16>(ls, li);
      if (lane == 0) {
#pragma unroll
        for (int hh = 0; hh < GROUP; ++hh)
#pragma unroll
          for (int k = 0; k < K; ++k) {
            red_s[warp][hh][k] = ls[hh][k];
            red_i[warp][hh][k] = li[hh][k];
          }
      }
    }
  }
  __syncthreads();
  for (int t = threadIdx.x; t < QPB * GROUP; t += 32 * NW) {
    const int tq = t / GROUP, hh = t % GROUP;
    const int jj = blockIdx.x * QPB + tq;
    if (jj >= n)
      continue;
    float s[K];
    int ix[K];
#pragma unroll
    for (int k = 0; k < K; ++k) {
      s[k] = neg_inf();
      ix[k] = -1;
    }
    for (int sb = 0; sb < WPQ; ++sb) {
      const int w = tq + QPB * sb;
#pragma unroll
      for (int k = 0; k < K; ++k)
        topk_insert<K>(s, ix, red_s[w][hh][k], red_i[w][hh][k]);
    }
    const int h = kvh * GROUP + hh;
    const i64 out = ((i64)jj * HEADS + h) * K;
    if constexpr (SPLITS == 1) {
      const int pos = cache_len - n + jj;
      const int rb = span_reach[2 * jj], rf = span_reach[2 * jj + 1];
#pragma unroll
      for (int k = 0; k < K; ++k) {
        int st, en;
        span_extent<W>(ix[k], pos, anchor_offsets, rb, rf, st, en);
        top_scores[out + k] = ix[k] >= 0 ? s[k] : neg_inf();
        span_start[out + k] = st;
        span_end[out + k] = en;
      }
    } else {
      const i64 pout = (i64)z * n * HEADS * K + out;
#pragma unroll
      for (int k = 0; k < K; ++k) {
        part_scores[pout + k] = ix[k] >= 0 ? s[k] : neg_inf();
        part_idx[pout + k] = ix[k];
      }
    }
  }
}

// =============================================================================================
// msa_route_merge: merges SPLITS partial top-k lists (msa_anchor_topk with SPLITS > 1) into
// top_scores/span_start/span_end [n, HEADS, NUM_SPANS]. grid (ceil(n*HEADS/128)), block 128.
// =============================================================================================
template <int HEADS, int NUM_SPANS, int W, int SPLITS>
__device__ void msa_route_merge(const float *part_scores, const i32 *part_idx, i32 cache_len,
                                i32 n, const i64 *anchor_offsets, const i32 *span_reach,
                                float *top_scores, i32 *span_start, i32 *span_end) {
  using namespace msa_detail;
  constexpr int K = NUM_SPANS;
  const int t = blockIdx.x * 128 + threadIdx.x;
  if (t >= n * HEADS)
    return;
  const int j = t / HEADS, h = t % HEADS;
  float s[K];
  int ix[K];
  resolve_partials<HEADS, K, SPLITS>(part_scores, part_idx, n, j, h, s, ix);
  const int pos = cache_len - n + j;
  const int rb = span_reach[2 * j], rf = span_reach[2 * j + 1];
#pragma unroll
  for (int k = 0; k < K; ++k) {
    int st, en;
    span_extent<W>(ix[k], pos, anchor_offsets, rb, rf, st, en);
    top_scores[(i64)t * K + k] = ix[k] >= 0 ? s[k] : neg_inf();
    span_start[(i64)t * K + k] = st;
    span_end[(i64)t * K + k] = en;
  }
}

// =============================================================================================
// msa_window_attention: softmax attention of q2 over the window keys [sw_start, pos].
// Rows of kv head kvh: r = j*GROUP + hh (query j, head kvh*GROUP + hh); block x takes rows
// x*16*NW .. +16*NW-1. grid (ceil(n*GROUP / (16*NW)), KV_HEADS), block 32*NW,
// dynamic smem msa_attention_smem<T, HEAD_DIM, NW>(). Outputs o_w [n, HEADS, HEAD_DIM] (T) and
// lse_w [n, HEADS] (fp32, natural log).
// =============================================================================================
template <typename T, int HEADS, int KV_HEADS, int HEAD_DIM, int W, int NW>
__device__ void msa_window_attention(const T *q2, i32 ldq2, const T *k_cache, const T *v_cache,
                                     i32 capacity, i32 cache_len, i32 n, T *o_w, float *lse_w) {
  using namespace msa_detail;
  constexpr int GROUP = HEADS / KV_HEADS;
  constexpr int D = HEAD_DIM;
  using C = Core<T, D, NW>;
  extern __shared__ __align__(16) unsigned char msa_smem[];
  C core(msa_smem);
  const int kvh = blockIdx.y;
  const int row0 = blockIdx.x * C::ROWS;
  constexpr int CPR = D * (int)sizeof(T) / 16;
  for (int e = threadIdx.x; e < C::ROWS * CPR; e += 32 * NW) {
    const int r = e / CPR, ch = e % CPR;
    const int gr = row0 + r;
    const int j = gr / GROUP, hh = gr % GROUP;
    const bool ok = j < n;
    core.stage_q_chunk(r, ch, ok ? q2 + (i64)j * ldq2 + (i64)(kvh * GROUP + hh) * D : nullptr);
    if (ch == 0) {
      const int pos = cache_len - n + j;
      core.lo[r] = ok ? (pos - W + 1 > 0 ? pos - W + 1 : 0) : 1;
      core.hi[r] = ok ? pos : 0;
    }
  }
  __syncthreads();
  core.run(k_cache + (i64)kvh * capacity * D, v_cache + (i64)kvh * capacity * D, cache_len);
  for (int e = threadIdx.x; e < C::ROWS * D; e += 32 * NW) {
    const int r = e / D, d = e % D;
    const int gr = row0 + r;
    const int j = gr / GROUP, hh = gr % GROUP;
    if (j >= n)
      continue;
    const i64 row = (i64)j * HEADS + kvh * GROUP + hh;
    store_f32(o_w + row * D + d, core.o[r * D + d]);
    if (d == 0)
      lse_w[row] = core.lse[r];
  }
}

// =============================================================================================
// msa_span_attention: for each (query j, head h, slot s) softmax attention over the keys
// [span_start, span_end] alone (empty -> O = 0, lse = -inf).
// Rows of kv head kvh (R = n*GROUP*NUM_SPANS of them): with row_order == nullptr, row
// r = (hh*NUM_SPANS + rank)*n + j, i.e. 16*NW consecutive queries of one head and the same
// rank (the rank-th span of (j, h) by start position), so a block's rows overlap when
// neighbouring queries route alike; with row_order != nullptr ([KV_HEADS][R] i32) the row is
// row_order[kvh*R + r] = (j*GROUP + hh)*NUM_SPANS + slot (a caller-provided bucketing).
// grid (ceil(n*GROUP*NUM_SPANS / (16*NW)), KV_HEADS), block 32*NW,
// dynamic smem msa_attention_smem<T, HEAD_DIM, NW>().
// Outputs o_s [n, HEADS, NUM_SPANS, HEAD_DIM] (T) and lse_s [n, HEADS, NUM_SPANS] (fp32).
// =============================================================================================
template <typename T, int HEADS, int KV_HEADS, int HEAD_DIM, int NUM_SPANS, int NW>
__device__ void msa_span_attention(const T *q2, i32 ldq2, const T *k_cache, const T *v_cache,
                                   i32 capacity, i32 cache_len, i32 n, const i32 *span_start,
                                   const i32 *span_end, const i32 *row_order, T *o_s,
                                   float *lse_s) {
  using namespace msa_detail;
  constexpr int GROUP = HEADS / KV_HEADS;
  constexpr int D = HEAD_DIM;
  constexpr int K = NUM_SPANS;
  using C = Core<T, D, NW>;
  extern __shared__ __align__(16) unsigned char msa_smem[];
  C core(msa_smem);
  __shared__ int row_id[C::ROWS];  // (j*GROUP + hh)*K + slot, or -1
  const int kvh = blockIdx.y;
  const int row0 = blockIdx.x * C::ROWS;
  const int R = n * GROUP * K;
  for (int r = threadIdx.x; r < C::ROWS; r += 32 * NW) {
    const int gr = row0 + r;
    int id = -1, lo = 1, hi = 0;
    if (gr < R) {
      if (row_order) {
        id = row_order[(i64)kvh * R + gr];
      } else {
        const int j = gr % n, rank = (gr / n) % K, hh = gr / (n * K);
        const i64 base = ((i64)j * HEADS + kvh * GROUP + hh) * K;
        int slot = 0;
#pragma unroll
        for (int s = 0; s < K; ++s) {
          const int st = span_start[base + s];
          int rk = 0;
#pragma unroll
          for (int u = 0; u < K; ++u) {
            const int su = span_start[base + u];
            rk += (su < st || (su == st && u < s)) ? 1 : 0;
          }
          if (rk == rank)
            slot = s;
        }
        id = (j * GROUP + hh) * K + slot;
      }
      const int j = id / (GROUP * K), hh = (id / K) % GROUP, slot = id % K;
      const i64 e = ((i64)j * HEADS + kvh * GROUP + hh) * K + slot;
      lo = span_start[e];
      hi = span_end[e];
    }
    row_id[r] = id;
    core.lo[r] = lo;
    core.hi[r] = hi;
  }
  __syncthreads();
  constexpr int CPR = D * (int)sizeof(T) / 16;
  for (int e = threadIdx.x; e < C::ROWS * CPR; e += 32 * NW) {
    const int r = e / CPR, ch = e % CPR;
    const int id = row_id[r];
    const T *src = nullptr;
    if (id >= 0 && core.lo[r] <= core.hi[r]) {
      const int j = id / (GROUP * K), hh = (id / K) % GROUP;
      src = q2 + (i64)j * ldq2 + (i64)(kvh * GROUP + hh) * D;
    }
    core.stage_q_chunk(r, ch, src);
  }
  __syncthreads();
  core.run(k_cache + (i64)kvh * capacity * D, v_cache + (i64)kvh * capacity * D, cache_len);
  for (int e = threadIdx.x; e < C::ROWS * D; e += 32 * NW) {
    const int r = e / D, d = e % D;
    const int id = row_id[r];
    if (id < 0)
      continue;
    const int j = id / (GROUP * K), hh = (id / K) % GROUP, slot = id % K;
    const i64 row = ((i64)j * HEADS + kvh * GROUP + hh) * K + slot;
    store_f32(o_s + row * D + d, core.o[r * D + d]);
    if (d == 0)
      lse_s[row] = core.lse[r];
  }
}

// =============================================================================================
// msa_span_order: the row_order of msa_span_attention that groups rows by where their span
// starts, so that the 16*NW rows of a block share most K/V tiles whatever the routing (a
// counting sort of each kv head's rows by bucket = span_start / width, width = ceil(cache_len /
// BUCKETS); empty spans go to bucket 0). Order inside a bucket is unspecified (atomics); the
// attention result does not depend on it (tiles on the kBK grid).
// grid (KV_HEADS), block 1024, static smem 4*BUCKETS + 128 bytes.
// =============================================================================================
template <int HEADS, int KV_HEADS, int NUM_SPANS, int BUCKETS>
__device__ void msa_span_order(const i32 *span_start, const i32 *span_end, i32 cache_len, i32 n,
                               i32 *row_order) {
  constexpr int GROUP = HEADS / KV_HEADS;
  constexpr int K = NUM_SPANS;
  constexpr int THREADS = 1024;
  constexpr int PER_THREAD = BUCKETS / THREADS;
  static_assert(BUCKETS % THREADS == 0, "BUCKETS must be a multiple of 1024");
  __shared__ int count[BUCKETS];
  __shared__ int warp_sum[32];
  const int kvh = blockIdx.x, t = threadIdx.x;
  const int R = n * GROUP * K;
  const int width = max(1, (cache_len + BUCKETS - 1) / BUCKETS);
  for (int b = t; b < BUCKETS; b += THREADS)
    count[b] = 0;
  __syncthreads();
  auto bucket_of = [&](int id) {
    const int j = id / (GROUP * K), rest = id % (GROUP * K);
    const i64 e = (i64)j * HEADS * K + kvh * GROUP * K + rest;
    const int st = span_start[e], en = span_end[e];
    return st <= en ? min(st / width, BUCKETS - 1) : 0;
  };
  for (int id = t; id < R; id += THREADS)
    atomicAdd(&count[bucket_of(id)], 1);
  __syncthreads();
  // Exclusive scan of count: PER_THREAD consecutive buckets per thread, then warps, then block.
  int local[PER_THREAD], sum = 0;
#pragma unroll
  for (int i = 0; i < PER_THREAD; ++i) {
    local[i] = sum;
    sum += count[t * PER_THREAD + i];
  }
  int inclusive = sum;
#pragma unroll
  for (int offset = 1; offset < 32; offset *= 2) {
    const int other = __shfl_up_sync(0xffffffffu, inclusive, offset);
    if ((t & 31) >= offset)
      inclusive += other;
  }
  if ((t & 31) == 31)
    warp_sum[t / 32] = inclusive;
  __syncthreads();
  if (t < 32) {
    int w = warp_sum[t];
#pragma unroll
    for (int offset = 1; offset < 32; offset *= 2) {
      const int other = __shfl_up_sync(0xffffffffu, w, offset);
      if (t >= offset)
        w += other;
    }
    warp_sum[t] = w;  // inclusive over warps
  }
  __syncthreads();
  const int base = (t >= 32 ? warp_sum[t / 32 - 1] : 0) + inclusive - sum;
#pragma unroll
  for (int i = 0; i < PER_THREAD; ++i)
    count[t * PER_THREAD + i] = base + local[i];  // now the next free slot of each bucket
  __syncthreads();
  for (int id = t; id < R; id += THREADS) {
    const int slot = atomicAdd(&count[bucket_of(id)], 1);
    row_order[(i64)kvh * R + slot] = id;
  }
}

namespace msa_detail {
// Gate weights: softmax over the valid slots (score > -inf), uniform when none is valid.
template <int K> __device__ __forceinline__ void gate_weights(const float (&s)[K], float (&g)[K]) {
  float mx = neg_inf();
#pragma unroll
  for (int k = 0; k < K; ++k)
    mx = fmaxf(mx, s[k]);
  if (mx == neg_inf()) {
#pragma unroll
    for (int k = 0; k < K; ++k)
      g[k] = 1.0f / K;
    return;
  }
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    g[k] = s[k] == neg_inf() ? 0.0f : __expf(s[k] - mx);
    sum += g[k];
  }
#pragma unroll
  for (int k = 0; k < K; ++k)
    g[k] /= sum;
}
}  // namespace msa_detail

// =============================================================================================
// msa_gate_merge: out[j, h*D + d] = sum_s g_s * (e^{lse_w} O_w + e^{lse_s} O_s) /
// (e^{lse_w} + e^{lse_s}), g = softmax of top_scores over valid slots (uniform if none).
// grid (n), block 256, no smem. out row stride ldo.
// =============================================================================================
template <typename T, int HEADS, int HEAD_DIM, int NUM_SPANS>
__device__ void msa_gate_merge(const T *o_w, const float *lse_w, const T *o_s, const float *lse_s,
                               const float *top_scores, T *out, i32 ldo, i32 n) {
  using namespace msa_detail;
  constexpr int K = NUM_SPANS;
  constexpr int D = HEAD_DIM;
  const int j = blockIdx.x;
  if (j >= n)
    return;
  for (int e = threadIdx.x; e < HEADS * D; e += 256) {
    const int h = e / D, d = e % D;
    const i64 row = (i64)j * HEADS + h;
    float s[K], g[K];
#pragma unroll
    for (int k = 0; k < K; ++k)
      s[k] = top_scores[row * K + k];
    gate_weights<K>(s, g);
    const float lw = lse_w[row];
    const float ow = to_f32(o_w[row * D + d]);
    float acc = 0.0f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const float ls = lse_s[row * K + k];
      float wa, wb;
      lse_pair_weights(lw, ls, wa, wb);
      const float os = wb > 0.0f ? to_f32(o_s[(row * K + k) * D + d]) : 0.0f;
      acc += g[k] * (wa * ow + wb * os);
    }
    store_f32(out + (i64)j * ldo + e, acc);
  }
}

// =============================================================================================
// Decode (small n): 3 launches, geometry from template parameters and n only.
//  1. msa_anchor_topk<T, HEADS, KV_HEADS, HEAD_DIM, NUM_SPANS, W, 4, 1, SPLITS_R>
//     grid (n, KV_HEADS, SPLITS_R), block 128 -> part_scores/part_idx.
//  2. msa_decode_attention: grid (n*HEADS*(SPLIT_W + NUM_SPANS*SPLIT_S)), block 128, no dynamic
//     smem. Each block one (query, head, piece): piece p < SPLIT_W is the p-th part of the
//     window, the others part (p - SPLIT_W) % SPLIT_S of span slot (p - SPLIT_W) / SPLIT_S
//     (spans resolved from the partial top-k); a CUDA-core flash-decode over the piece. (The
//     16 heads of a kv group read the same window keys, from L2 after the first; a block needs
//     only 2 KB of shared memory, so many are resident and keep enough loads in flight.)
//     Writes ws_o [(SPLIT_W + NUM_SPANS*SPLIT_S) * n * HEADS * HEAD_DIM] fp32 and
//     ws_lse [(SPLIT_W + NUM_SPANS*SPLIT_S) * n * HEADS] fp32: partial p of (j, h) for the
//     window (p < SPLIT_W) at index (p*n + j)*HEADS + h, span slot s piece p at
//     ((SPLIT_W + s*SPLIT_S + p)*n + j)*HEADS + h.
//  3. msa_decode_combine: grid (n*HEADS), block 128: LSE-merges the pieces, gate -> out.
// =============================================================================================
template <typename T, int HEADS, int KV_HEADS, int HEAD_DIM, int NUM_SPANS, int W, int SPLITS_R,
          int SPLIT_W, int SPLIT_S>
__device__ void msa_decode_attention(const T *q2, i32 ldq2, const T *k_cache, const T *v_cache,
                                     i32 capacity, i32 cache_len, i32 n,
                                     const i64 *anchor_offsets, const i32 *span_reach,
                                     const float *part_scores, const i32 *part_idx, float *ws_o,
                                     float *ws_lse) {
  using namespace msa_detail;
  constexpr int GROUP = HEADS / KV_HEADS;
  constexpr int D = HEAD_DIM;
  constexpr int K = NUM_SPANS;
  constexpr int NW = 4;
  constexpr int PIECES = SPLIT_W + K * SPLIT_S;
  __shared__ float sm[NW * (D + 2)];  // per warp: acc [D], m, l
  const int b = blockIdx.x;
  const int piece = b % PIECES;
  const int h = (b / PIECES) % HEADS;
  const int j = b / (PIECES * HEADS);
  if (j >= n)
    return;
  const int kvh = h / GROUP;
  const int pos = cache_len - n + j;
  int lo = 1, hi = 0;
  if (piece < SPLIT_W) {
    const int ws = pos - W + 1 > 0 ? pos - W + 1 : 0;
    const int chunk = (pos - ws + 1 + SPLIT_W - 1) / SPLIT_W;
    lo = ws + piece * chunk;
    hi = min(pos, lo + chunk - 1);
  } else {
    const int slot = (piece - SPLIT_W) / SPLIT_S, p = (piece - SPLIT_W) % SPLIT_S;
    float ts[K];
    int ti[K];
    resolve_partials<HEADS, K, SPLITS_R>(part_scores, part_idx, n, j, h, ts, ti);
    int st, en;
    span_extent<W>(ti[slot], pos, anchor_offsets, span_reach[2 * j], span_reach[2 * j + 1], st,
                   en);
    if (st <= en) {
      const int chunk = (en - st + 1 + SPLIT_S - 1) / SPLIT_S;
      lo = st + p * chunk;
      hi = min(en, lo + chunk - 1);
    }
  }
  // Lane groups of LPK = D/8 lanes, each lane 8 elements of a key; KPW keys per warp step.
  constexpr int LPK = D / 8;
  static_assert(LPK >= 1 && LPK <= 32, "HEAD_DIM must be 8..256");
  constexpr int KPW = 32 / LPK;
  constexpr int U = 4;  // keys per lane group per iteration (loads in flight)
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int grp = lane / LPK, gl = lane % LPK;
  const T *qp = q2 + (i64)j * ldq2 + (i64)h * D + gl * 8;
  float qv[8];
#pragma unroll
  for (int e = 0; e < 8; ++e)
    qv[e] = to_f32(qp[e]) * (rsqrtf((float)D) * kLog2e);
  const T *kbase = k_cache + (i64)kvh * capacity * D + gl * 8;
  const T *vbase = v_cache + (i64)kvh * capacity * D + gl * 8;
  float m[1] = {neg_inf()}, l[1] = {0.0f}, acc[8];
  OnlineSoftmax<1> st{m, l};
#pragma unroll
  for (int e = 0; e < 8; ++e)
    acc[e] = 0.0f;
  constexpr int STEP = NW * KPW;
  // The loop bound is warp-uniform (shuffles inside use the full mask); keys past hi are masked.
  for (int kb = lo + warp * KPW; kb <= hi; kb += STEP * U) {
    const int k0 = kb + grp;
    float kf[U][8], vf[U][8];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int key = k0 + u * STEP;
      const bool ok = key <= hi;
      const i64 off = (i64)(ok ? key : lo) * D;
      if constexpr (is_bf16<T>::value) {
        const uint4 kr = __ldg(reinterpret_cast<const uint4 *>(kbase + off));
        const uint4 vr = __ldg(reinterpret_cast<const uint4 *>(vbase + off));
        unpack_bf16x8(kr, kf[u]);
        unpack_bf16x8(vr, vf[u]);
      } else {
#pragma unroll
        for (int e = 0; e < 8; ++e) {
          kf[u][e] = to_f32(kbase[off + e]);
          vf[u][e] = to_f32(vbase[off + e]);
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      float dot = 0.0f;
#pragma unroll
      for (int e = 0; e < 8; ++e)
        dot = fmaf(qv[e], kf[u][e], dot);
#pragma unroll
      for (int off = 1; off < LPK; off <<= 1)
        dot += __shfl_xor_sync(0xffffffffu, dot, off);
      const bool ok = k0 + u * STEP <= hi;
      const float sv = ok ? dot : neg_inf();
      float alpha, pr;
      if (st.update_if_finite(0, sv, alpha, pr)) {
#pragma unroll
        for (int e = 0; e < 8; ++e)
          acc[e] = acc[e] * alpha + pr * vf[u][e];
      }
    }
  }
  // Merge the lane groups of the warp, then the warps.
#pragma unroll
  for (int off = LPK; off < 32; off <<= 1) {
    const float mo = __shfl_xor_sync(0xffffffffu, m[0], off);
    const float lo_ = __shfl_xor_sync(0xffffffffu, l[0], off);
    st.merge(0, mo, lo_, [&](float a, float bb) {
#pragma unroll
      for (int e = 0; e < 8; ++e)
        acc[e] = acc[e] * a + __shfl_xor_sync(0xffffffffu, acc[e], off) * bb;
    });
  }
  if (grp == 0) {
#pragma unroll
    for (int e = 0; e < 8; ++e)
      sm[warp * (D + 2) + gl * 8 + e] = acc[e];
    if (gl == 0) {
      sm[warp * (D + 2) + D] = m[0];
      sm[warp * (D + 2) + D + 1] = l[0];
    }
  }
  __syncthreads();
  float mt = neg_inf();
#pragma unroll
  for (int w = 0; w < NW; ++w)
    mt = fmaxf(mt, sm[w * (D + 2) + D]);
  float lt = 0.0f;
  float wsc[NW];
#pragma unroll
  for (int w = 0; w < NW; ++w) {
    wsc[w] = merge_weight(sm[w * (D + 2) + D], mt);
    lt += wsc[w] * sm[w * (D + 2) + D + 1];
  }
  const i64 idx = ((i64)piece * n + j) * HEADS + h;
  const float inv = softmax_inv(lt);
  for (int d = threadIdx.x; d < D; d += 32 * NW) {
    float v = 0.0f;
#pragma unroll
    for (int w = 0; w < NW; ++w)
      v += wsc[w] * sm[w * (D + 2) + d];
    ws_o[idx * D + d] = v * inv;
  }
  if (threadIdx.x == 0)
    ws_lse[idx] = softmax_lse(mt, lt);
}

// msa_decode_combine: grid (n*HEADS), block 128, no dynamic smem. See msa_decode_attention.
template <typename T, int HEADS, int HEAD_DIM, int NUM_SPANS, int SPLITS_R, int SPLIT_W,
          int SPLIT_S>
__device__ void msa_decode_combine(const float *part_scores, const i32 *part_idx,
                                   const float *ws_o, const float *ws_lse, T *out, i32 ldo,
                                   i32 n) {
  using namespace msa_detail;
  constexpr int K = NUM_SPANS;
  constexpr int D = HEAD_DIM;
  const int j = blockIdx.x / HEADS, h = blockIdx.x % HEADS;
  if (j >= n)
    return;
  float ts[K], g[K];
  int ti[K];
  resolve_partials<HEADS, K, SPLITS_R>(part_scores, part_idx, n, j, h, ts, ti);
  gate_weights<K>(ts, g);
  // LSE of the window and of each slot over their pieces.
  auto piece = [&](int p) { return ((i64)p * n + j) * HEADS + h; };
  const float lse_w = lse_reduce(SPLIT_W, ws_lse, piece);
  float lse_s[K];
#pragma unroll
  for (int k = 0; k < K; ++k)
    lse_s[k] = lse_reduce(SPLIT_S, ws_lse, [&](int p) { return piece(SPLIT_W + k * SPLIT_S + p); });
  for (int d = threadIdx.x; d < D; d += 128) {
    float ow = 0.0f;
    for (int p = 0; p < SPLIT_W; ++p) {
      const float lp = ws_lse[piece(p)];
      if (lp != neg_inf())
        ow += __expf(lp - lse_w) * ws_o[piece(p) * D + d];
    }
    float acc = 0.0f;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      float os = 0.0f;
      if (lse_s[k] != neg_inf()) {
        for (int p = 0; p < SPLIT_S; ++p) {
          const i64 pi = piece(SPLIT_W + k * SPLIT_S + p);
          const float lp = ws_lse[pi];
          if (lp != neg_inf())
            os += __expf(lp - lse_s[k]) * ws_o[pi * D + d];
        }
      }
      float wa, wb;
      lse_pair_weights(lse_w, lse_s[k], wa, wb);
      acc += g[k] * (wa * ow + wb * os);
    }
    store_f32(out + (i64)j * ldo + (i64)h * D + d, acc);
  }
}

}  // namespace slk
