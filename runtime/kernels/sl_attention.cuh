// sl_attention.cuh: dense causal attention with a KV cache (GQA, no positional encoding).
//
// Layouts (docs/kernels.md, docs/kernels-attention.md):
//   q    [n, ldq]: HEADS*HEAD_DIM columns;  out [n, ldo]: HEADS*HEAD_DIM columns
//   k, v [n, ldk/ldv]: KV_HEADS*HEAD_DIM columns (new keys/values of this call)
//   k_cache, v_cache [KV_HEADS][capacity][HEAD_DIM] (same element type T)
// Query j of a call (n new tokens, cache_len tokens in the cache including them) sits at
// absolute position pos = cache_len - n + j and sees keys 0..pos. Query head h reads kv head
// h / (HEADS / KV_HEADS). Scale 1/sqrt(HEAD_DIM). Softmax in fp32 (base 2, scale folded in).
// bf16: mma.sync m16n8k16 with fp32 accumulators; P is rounded to bf16 for the P.V product.
// float: an FMA path with the same launch geometry.
// cp.async needs 16-byte aligned rows: for T = bf16, q/k/v pointers 16-byte aligned and
// ldq/ldk/ldv multiples of 8.
#pragma once

#include "sl_common.cuh"
#include "sl_softmax.cuh"

namespace slk {

template <typename T> struct attn_is_bf16 { static constexpr bool value = false; };
template <> struct attn_is_bf16<bf16> { static constexpr bool value = true; };

__host__ __device__ constexpr int attn_max(int a, int b) { return a > b ? a : b; }

// Dynamic shared memory (bytes) of attention_prefill.
template <typename T, int HEAD_DIM, int BM, int BN>
__host__ __device__ constexpr int attention_prefill_smem() {
  return attn_is_bf16<T>::value ? (BM + 4 * BN) * (HEAD_DIM + 8) * 2
                                : 4 * (BM * HEAD_DIM + BN * (2 * HEAD_DIM + 1));
}

// Dynamic shared memory (bytes) of attention_decode_partial.
template <typename T, int HEAD_DIM, int BN, int WARPS>
__host__ __device__ constexpr int attention_decode_smem() {
  return attn_is_bf16<T>::value
             ? 16 * (HEAD_DIM + 8) * 2 +
                   attn_max(WARPS * 4 * BN * (HEAD_DIM + 8) * 2, WARPS * 16 * (HEAD_DIM + 2) * 4)
             : 16 * HEAD_DIM * 4 +
                   attn_max(WARPS * BN * (2 * HEAD_DIM + 1) * 4, WARPS * 16 * (HEAD_DIM + 2) * 4);
}

// ------------------------------------------------------------------------------------------
// kv_append: grid (n), block THREADS, no smem.
// ------------------------------------------------------------------------------------------
template <typename T, int KV_HEADS, int HEAD_DIM, int THREADS>
__device__ void kv_append(const T *k, i32 ldk, const T *v, i32 ldv, T *k_cache, T *v_cache,
                          i32 capacity, i32 start, i32 n) {
  const int t = blockIdx.x;
  if (t >= n)
    return;
  for (int e = threadIdx.x; e < KV_HEADS * HEAD_DIM; e += THREADS) {
    const int kvh = e / HEAD_DIM, d = e % HEAD_DIM;
    const i64 dst = ((i64)kvh * capacity + start + t) * HEAD_DIM + d;
    k_cache[dst] = k[(i64)t * ldk + e];
    v_cache[dst] = v[(i64)t * ldv + e];
  }
}

// ------------------------------------------------------------------------------------------
// Tensor-core building blocks (one warp owns 16 query rows).
// ------------------------------------------------------------------------------------------
// ROWS x HEAD_DIM bf16 rows -> smem [ROWS][HEAD_DIM + 8] with cp.async; rows >= valid are 0.
template <int HEAD_DIM, int ROWS, int NTHREADS>
__device__ __forceinline__ void attn_load_rows(bf16 *dst, const bf16 *src, i64 ld, int valid,
                                               int tid) {
  constexpr int CPR = HEAD_DIM / 8;  // 16-byte chunks per row
  constexpr int LDS = HEAD_DIM + 8;
  for (int idx = tid; idx < ROWS * CPR; idx += NTHREADS) {
    const int r = idx / CPR, cc = idx % CPR;
    const bool ok = r < valid;
    cp_async_16(dst + r * LDS + cc * 8, ok ? src + (i64)r * ld + cc * 8 : src, ok);
  }
}

// Q fragments of this warp's 16 rows (smem rows [16][HEAD_DIM + 8]).
template <int HEAD_DIM>
__device__ __forceinline__ void attn_load_q_frags(u32 (&qf)[HEAD_DIM / 16][4], const bf16 *qs) {
  constexpr int LDS = HEAD_DIM + 8;
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int kk = 0; kk < HEAD_DIM / 16; ++kk)
    ldmatrix_x4(qf[kk], qs + (lane % 16) * LDS + kk * 16 + (lane / 16) * 8);
}

// One K/V tile of BN keys (smem [BN][HEAD_DIM + 8]) for the warp's 16 rows: online softmax
// update of st (rows g and g+8; l is the thread's partial row sum) and o. lim0 / lim1 = last
// visible key of rows g / g+8 (applied only when need_mask). A row with every key so far masked
// shifts its scores by 0 and gets corr 0 (kSoftmaxShiftZero).
template <int HEAD_DIM, int BN>
__device__ __forceinline__ void attn_mma_tile(const u32 (&qf)[HEAD_DIM / 16][4], const bf16 *ks,
                                              const bf16 *vs, int key_base, int lim0, int lim1,
                                              bool need_mask, float scale_log2,
                                              OnlineSoftmax<2> st,
                                              float (&o)[HEAD_DIM / 8][4]) {
  constexpr int LDS = HEAD_DIM + 8;
  const int lane = threadIdx.x % 32;
  float s[BN / 8][4];
#pragma unroll
  for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      s[nt][e] = 0.0f;
#pragma unroll
  for (int kk = 0; kk < HEAD_DIM / 16; ++kk) {
#pragma unroll
    for (int np = 0; np < BN / 16; ++np) {
      u32 kf[4];
      const int mi = lane / 8;
      ldmatrix_x4(kf, ks + (np * 16 + (lane % 8) + (mi / 2) * 8) * LDS + kk * 16 + (mi % 2) * 8);
      const u32 b0[2] = {kf[0], kf[1]};
      const u32 b1[2] = {kf[2], kf[3]};
      mma_bf16_16816(s[2 * np], qf[kk], b0);
      mma_bf16_16816(s[2 * np + 1], qf[kk], b1);
    }
  }
  const int c = lane % 4;
  float mx[2] = {neg_inf(), neg_inf()};
#pragma unroll
  for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      float v = s[nt][e] * scale_log2;
      if (need_mask) {
        const int key = key_base + nt * 8 + 2 * c + (e % 2);
        if (key > (e < 2 ? lim0 : lim1))
          v = neg_inf();
      }
      s[nt][e] = v;
      mx[e / 2] = fmaxf(mx[e / 2], v);
    }
  float corr[2], muse[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    mx[r] = quad_max(mx[r]);
    muse[r] = st.rescale<kSoftmaxShiftZero>(r, mx[r], corr[r]);
  }
  float rs[2] = {0.0f, 0.0f};
#pragma unroll
  for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float p = exp2f(s[nt][e] - muse[e / 2]);
      s[nt][e] = p;
      rs[e / 2] += p;
    }
#pragma unroll
  for (int r = 0; r < 2; ++r)
    st.add(r, corr[r], rs[r]);
#pragma unroll
  for (int dt = 0; dt < HEAD_DIM / 8; ++dt) {
    o[dt][0] *= corr[0];
    o[dt][1] *= corr[0];
    o[dt][2] *= corr[1];
    o[dt][3] *= corr[1];
  }
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) {
    const u32 a[4] = {pack_bf16x2(s[2 * kk][0], s[2 * kk][1]),
                      pack_bf16x2(s[2 * kk][2], s[2 * kk][3]),
                      pack_bf16x2(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                      pack_bf16x2(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
    for (int dp = 0; dp < HEAD_DIM / 16; ++dp) {
      u32 vf[4];
      const int mi = lane / 8;
      ldmatrix_x4_trans(vf, vs + (kk * 16 + (lane % 8) + (mi % 2) * 8) * LDS + dp * 16 +
                                (mi / 2) * 8);
      const u32 b0[2] = {vf[0], vf[1]};
      const u32 b1[2] = {vf[2], vf[3]};
      mma_bf16_16816(o[2 * dp], a, b0);
      mma_bf16_16816(o[2 * dp + 1], a, b1);
    }
  }
}

// ------------------------------------------------------------------------------------------
// FMA building block (T = float): one warp, 16 query rows, a tile of 32 keys (lane = key).
// qs [16][HEAD_DIM] pre-scaled by scale*log2(e); ks [32][HEAD_DIM + 1]; vs [32][HEAD_DIM].
// lim[r] = last visible key of row r (-1: none). st (m, l), o per row, replicated across lanes
// (o: lane owns dims lane + 32 i). A row steps only by a tile holding a visible key of it, so
// the update is unguarded.
// ------------------------------------------------------------------------------------------
template <int HEAD_DIM>
__device__ __forceinline__ void attn_fma_tile(const float *qs, const float *ks, const float *vs,
                                              int key_base, const int (&lim)[16],
                                              OnlineSoftmax<16> st,
                                              float (&o)[16][(HEAD_DIM + 31) / 32]) {
  constexpr int DPL = (HEAD_DIM + 31) / 32;
  const int lane = threadIdx.x % 32;
  const int key = key_base + lane;
#pragma unroll
  for (int r = 0; r < 16; ++r) {
    if (key_base > lim[r])
      continue;  // warp-uniform
    float sc = neg_inf();
    if (key <= lim[r]) {
      float acc = 0.0f;
      const float *qr = qs + r * HEAD_DIM;
      const float *kr = ks + lane * (HEAD_DIM + 1);
#pragma unroll 8
      for (int d = 0; d < HEAD_DIM; ++d)
        acc += qr[d] * kr[d];
      sc = acc;
    }
    float corr;
    const float shift = st.rescale<kSoftmaxUnguarded>(r, warp_max(sc), corr);
    const float p = exp2f(sc - shift);
    st.add(r, corr, p, [](float v) { return warp_sum(v); });
#pragma unroll
    for (int i = 0; i < DPL; ++i)
      o[r][i] *= corr;
    for (int kk = 0; kk < 32; ++kk) {
      const float pk = __shfl_sync(0xffffffffu, p, kk);
#pragma unroll
      for (int i = 0; i < DPL; ++i) {
        const int d = lane + 32 * i;
        if (d < HEAD_DIM)
          o[r][i] += pk * vs[kk * HEAD_DIM + d];
      }
    }
  }
}

// Plain loads of ROWS float rows into smem with row stride LD; rows >= valid are 0.
template <int HEAD_DIM, int LD, int NTHREADS>
__device__ __forceinline__ void attn_load_rows_f32(float *dst, const float *src, i64 ld, int rows,
                                                   int valid, int tid) {
  for (int idx = tid; idx < rows * HEAD_DIM; idx += NTHREADS) {
    const int r = idx / HEAD_DIM, d = idx % HEAD_DIM;
    dst[r * LD + d] = r < valid ? src[(i64)r * ld + d] : 0.0f;
  }
}

// ------------------------------------------------------------------------------------------
// attention_prefill: grid (ceil(n/BM), HEADS), block 32*BM/16,
// dynamic smem attention_prefill_smem<T, HEAD_DIM, BM, BN>() bytes:
//   bf16: (BM + 4*BN) * (HEAD_DIM + 8) * 2;  float: 4 * (BM*HEAD_DIM + BN*(2*HEAD_DIM + 1)).
// ------------------------------------------------------------------------------------------
template <int HEADS, int KV_HEADS, int HEAD_DIM, int BM, int BN>
__device__ void attn_prefill_bf16(const bf16 *q, i32 ldq, const bf16 *k_cache,
                                  const bf16 *v_cache, i32 capacity, bf16 *out, i32 ldo, i32 n,
                                  i32 cache_len) {
  constexpr int WARPS = BM / 16;
  constexpr int NT = 32 * WARPS;
  constexpr int LDS = HEAD_DIM + 8;
  extern __shared__ __align__(16) unsigned char attn_smem[];
  bf16 *qs = reinterpret_cast<bf16 *>(attn_smem);
  bf16 *kst = qs + BM * LDS;         // [2][BN][LDS]
  bf16 *vst = kst + 2 * BN * LDS;    // [2][BN][LDS]
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int mb = gridDim.x - 1 - blockIdx.x;  // longest rows first
  const int h = blockIdx.y;
  const int kvh = h / (HEADS / KV_HEADS);
  const int j0 = mb * BM;
  const int pos0 = cache_len - n;  // absolute position of query 0
  const int kv_len = min(cache_len, pos0 + j0 + BM);
  const int ntiles = (kv_len + BN - 1) / BN;
  const bf16 *kbase = k_cache + (i64)kvh * capacity * HEAD_DIM;
  const bf16 *vbase = v_cache + (i64)kvh * capacity * HEAD_DIM;

  attn_load_rows<HEAD_DIM, BM, NT>(qs, q + (i64)j0 * ldq + (i64)h * HEAD_DIM, ldq, n - j0, tid);
  if (ntiles > 0) {
    attn_load_rows<HEAD_DIM, BN, NT>(kst, kbase, HEAD_DIM, cache_len, tid);
    attn_load_rows<HEAD_DIM, BN, NT>(vst, vbase, HEAD_DIM, cache_len, tid);
  }
  cp_async_commit();

  const float scale_log2 = rsqrtf((float)HEAD_DIM) * kLog2e;
  const int g = lane / 4, c = lane % 4;
  const int wpos = pos0 + j0 + warp * 16;  // position of the warp's first row
  const int lim0 = wpos + g, lim1 = wpos + g + 8;
  u32 qf[HEAD_DIM / 16][4];
  float m[2] = {neg_inf(), neg_inf()}, l[2] = {0.0f, 0.0f};
  OnlineSoftmax<2> st{m, l};
  float o[HEAD_DIM / 8][4];
#pragma unroll
  for (int dt = 0; dt < HEAD_DIM / 8; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      o[dt][e] = 0.0f;

  for (int it = 0; it < ntiles; ++it) {
    const int stage = it & 1;
    if (it + 1 < ntiles) {
      const int key0 = (it + 1) * BN;
      bf16 *kd = kst + (stage ^ 1) * BN * LDS;
      bf16 *vd = vst + (stage ^ 1) * BN * LDS;
      attn_load_rows<HEAD_DIM, BN, NT>(kd, kbase + (i64)key0 * HEAD_DIM, HEAD_DIM,
                                       cache_len - key0, tid);
      attn_load_rows<HEAD_DIM, BN, NT>(vd, vbase + (i64)key0 * HEAD_DIM, HEAD_DIM,
                                       cache_len - key0, tid);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    if (it == 0)
      attn_load_q_frags<HEAD_DIM>(qf, qs + warp * 16 * LDS);
    const int key_base = it * BN;
    if (key_base <= wpos + 15) {  // some row of this warp sees a key of this tile
      const bool need_mask = key_base + BN - 1 > wpos;
      attn_mma_tile<HEAD_DIM, BN>(qf, kst + stage * BN * LDS, vst + stage * BN * LDS, key_base,
                                  lim0, lim1, need_mask, scale_log2, st, o);
    }
    __syncthreads();
  }
  cp_async_wait<0>();

  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r)
    inv[r] = softmax_inv(quad_sum(l[r]));
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int j = j0 + warp * 16 + g + 8 * r;
    if (j >= n)
      continue;
    bf16 *orow = out + (i64)j * ldo + (i64)h * HEAD_DIM;
#pragma unroll
    for (int dt = 0; dt < HEAD_DIM / 8; ++dt) {
      const int d = dt * 8 + 2 * c;
      store_f32(orow + d, o[dt][2 * r] * inv[r]);
      store_f32(orow + d + 1, o[dt][2 * r + 1] * inv[r]);
    }
  }
}

template <int HEADS, int KV_HEADS, int HEAD_DIM, int BM, int BN>
__device__ void attn_prefill_f32(const float *q, i32 ldq, const float *k_cache,
                                 const float *v_cache, i32 capacity, float *out, i32 ldo, i32 n,
                                 i32 cache_len) {
  static_assert(BN % 32 == 0, "BN must be a multiple of 32");
  constexpr int WARPS = BM / 16;
  constexpr int NT = 32 * WARPS;
  constexpr int DPL = (HEAD_DIM + 31) / 32;
  extern __shared__ __align__(16) unsigned char attn_smem[];
  float *qs = reinterpret_cast<float *>(attn_smem);  // [BM][HEAD_DIM]
  float *ks = qs + BM * HEAD_DIM;                     // [BN][HEAD_DIM + 1]
  float *vs = ks + BN * (HEAD_DIM + 1);               // [BN][HEAD_DIM]
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const int mb = gridDim.x - 1 - blockIdx.x;
  const int h = blockIdx.y;
  const int kvh = h / (HEADS / KV_HEADS);
  const int j0 = mb * BM;
  const int pos0 = cache_len - n;
  const int kv_len = min(cache_len, pos0 + j0 + BM);
  const float *kbase = k_cache + (i64)kvh * capacity * HEAD_DIM;
  const float *vbase = v_cache + (i64)kvh * capacity * HEAD_DIM;
  const float scale_log2 = rsqrtf((float)HEAD_DIM) * kLog2e;
  for (int idx = tid; idx < BM * HEAD_DIM; idx += NT) {
    const int r = idx / HEAD_DIM, d = idx % HEAD_DIM;
    qs[idx] = j0 + r < n ? q[(i64)(j0 + r) * ldq + (i64)h * HEAD_DIM + d] * scale_log2 : 0.0f;
  }
  int lim[16];
  float m[16], l[16], o[16][DPL];
  OnlineSoftmax<16> st{m, l};
#pragma unroll
  for (int r = 0; r < 16; ++r) {
    const int j = j0 + warp * 16 + r;
    lim[r] = j < n ? pos0 + j : -1;
    st.reset(r);
#pragma unroll
    for (int i = 0; i < DPL; ++i)
      o[r][i] = 0.0f;
  }
  for (int key0 = 0; key0 < kv_len; key0 += BN) {
    __syncthreads();
    attn_load_rows_f32<HEAD_DIM, HEAD_DIM + 1, NT>(ks, kbase + (i64)key0 * HEAD_DIM, HEAD_DIM,
                                                   BN, cache_len - key0, tid);
    attn_load_rows_f32<HEAD_DIM, HEAD_DIM, NT>(vs, vbase + (i64)key0 * HEAD_DIM, HEAD_DIM, BN,
                                               cache_len - key0, tid);
    __syncthreads();
#pragma unroll 1
    for (int sub = 0; sub < BN; sub += 32)
      attn_fma_tile<HEAD_DIM>(qs + warp * 16 * HEAD_DIM, ks + sub * (HEAD_DIM + 1),
                              vs + sub * HEAD_DIM, key0 + sub, lim, st, o);
  }
#pragma unroll
  for (int r = 0; r < 16; ++r) {
    const int j = j0 + warp * 16 + r;
    if (j >= n)
      continue;
    const float inv = st.inv(r);
#pragma unroll
    for (int i = 0; i < DPL; ++i) {
      const int d = lane + 32 * i;
      if (d < HEAD_DIM)
        out[(i64)j * ldo + (i64)h * HEAD_DIM + d] = o[r][i] * inv;
    }
  }
}

template <typename T, int HEADS, int KV_HEADS, int HEAD_DIM, int BM, int BN>
__device__ void attention_prefill(const T *q, i32 ldq, const T *k_cache, const T *v_cache,
                                  i32 capacity, T *out, i32 ldo, i32 n, i32 cache_len) {
  static_assert(HEADS % KV_HEADS == 0, "GQA");
  static_assert(HEAD_DIM % 16 == 0 && HEAD_DIM <= 256, "HEAD_DIM");
  static_assert(BM % 16 == 0 && BN % 16 == 0, "tiles");
  if constexpr (is_bf16<T>::value)
    attn_prefill_bf16<HEADS, KV_HEADS, HEAD_DIM, BM, BN>(q, ldq, k_cache, v_cache, capacity, out,
                                                         ldo, n, cache_len);
  else
    attn_prefill_f32<HEADS, KV_HEADS, HEAD_DIM, BM, BN>(q, ldq, k_cache, v_cache, capacity, out,
                                                        ldo, n, cache_len);
}

// ------------------------------------------------------------------------------------------
// Split-K flash-decode. Rows of a block = 16 (query j, head-in-group hg) pairs of one kv head:
// row r = 16*blockIdx.z + i -> j = r / GROUP, h = kvh*GROUP + r % GROUP (valid if r < GROUP*n).
// Warp w of block split s walks key tiles s*WARPS + w, + SPLITS*WARPS, ... (BN keys each), so
// every K/V tile is loaded once for the whole GQA group. The block merges its warps and writes
//   part_o   [SPLITS][n][HEADS][HEAD_DIM] fp32 (normalised within the split)
//   part_lse [SPLITS][n][HEADS] fp32 (log2 of the split's softmax denominator, scaled scores;
//            -inf when the split saw no key).
// grid (SPLITS, KV_HEADS, ceil(GROUP*n/16)), block 32*WARPS,
// dynamic smem attention_decode_smem<T, HEAD_DIM, BN, WARPS>() bytes.
// ------------------------------------------------------------------------------------------
template <int HEAD_DIM, int WARPS>
__device__ __forceinline__ void attn_decode_merge(const float *sm, float *part_o, float *part_lse,
                                                  int split, int n, int heads, int group, int kvh,
                                                  int rt) {
  // sm layout: m [WARPS][16], l [WARPS][16], o [WARPS][16][HEAD_DIM] (filled by the caller).
  const float *sm_m = sm;
  const float *sm_l = sm + WARPS * 16;
  const float *sm_o = sm + 2 * WARPS * 16;
  for (int idx = threadIdx.x; idx < 16 * HEAD_DIM; idx += 32 * WARPS) {
    const int i = idx / HEAD_DIM, d = idx % HEAD_DIM;
    const int r = rt * 16 + i;
    if (r >= group * n)
      continue;
    const int j = r / group, h = kvh * group + r % group;
    float M = neg_inf();
#pragma unroll
    for (int w = 0; w < WARPS; ++w)
      M = fmaxf(M, sm_m[w * 16 + i]);
    float L = 0.0f, O = 0.0f;
    if (M != neg_inf()) {
#pragma unroll
      for (int w = 0; w < WARPS; ++w) {
        const float sc = merge_weight_of_part(sm_m[w * 16 + i], M);
        L += sm_l[w * 16 + i] * sc;
        O += sm_o[(w * 16 + i) * HEAD_DIM + d] * sc;
      }
    }
    const i64 row = ((i64)split * n + j) * heads + h;
    part_o[row * HEAD_DIM + d] = L > 0.0f ? O / L : 0.0f;
    if (d == 0)
      part_lse[row] = softmax_lse2(M, L);
  }
}

template <int HEADS, int KV_HEADS, int HEAD_DIM, int SPLITS, int BN, int WARPS>
__device__ void attn_decode_partial_bf16(const bf16 *q, i32 ldq, const bf16 *k_cache,
                                         const bf16 *v_cache, i32 capacity, float *part_o,
                                         float *part_lse, i32 n, i32 cache_len) {
  constexpr int GROUP = HEADS / KV_HEADS;
  constexpr int LDS = HEAD_DIM + 8;
  constexpr int CPR = HEAD_DIM / 8;
  extern __shared__ __align__(16) unsigned char attn_smem[];
  bf16 *qs = reinterpret_cast<bf16 *>(attn_smem);  // [16][LDS]
  unsigned char *rest = attn_smem + 16 * LDS * 2;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  bf16 *kst = reinterpret_cast<bf16 *>(rest) + warp * 4 * BN * LDS;  // [2][BN][LDS]
  bf16 *vst = kst + 2 * BN * LDS;                                     // [2][BN][LDS]
  const int split = blockIdx.x, kvh = blockIdx.y, rt = blockIdx.z;
  const int pos0 = cache_len - n;
  // Q rows of this block.
  for (int idx = tid; idx < 16 * CPR; idx += 32 * WARPS) {
    const int i = idx / CPR, cc = idx % CPR;
    const int r = rt * 16 + i;
    const bool ok = r < GROUP * n;
    const bf16 *src = ok ? q + (i64)(r / GROUP) * ldq + (i64)(kvh * GROUP + r % GROUP) * HEAD_DIM +
                               cc * 8
                         : q;
    cp_async_16(qs + i * LDS + cc * 8, src, ok);
  }
  cp_async_commit();
  const bf16 *kbase = k_cache + (i64)kvh * capacity * HEAD_DIM;
  const bf16 *vbase = v_cache + (i64)kvh * capacity * HEAD_DIM;
  const int ntiles = (cache_len + BN - 1) / BN;
  const int stride = SPLITS * WARPS;
  int it = split * WARPS + warp;
  if (it < ntiles) {
    attn_load_rows<HEAD_DIM, BN, 32>(kst, kbase + (i64)it * BN * HEAD_DIM, HEAD_DIM,
                                     cache_len - it * BN, lane);
    attn_load_rows<HEAD_DIM, BN, 32>(vst, vbase + (i64)it * BN * HEAD_DIM, HEAD_DIM,
                                     cache_len - it * BN, lane);
  }
  cp_async_commit();
  cp_async_wait<0>();  // Q (and the first tile) landed
  __syncthreads();
  u32 qf[HEAD_DIM / 16][4];
  attn_load_q_frags<HEAD_DIM>(qf, qs);
  const float scale_log2 = rsqrtf((float)HEAD_DIM) * kLog2e;
  const int g = lane / 4, c = lane % 4;
  // last visible key of rows g and g+8 (invalid rows: -1)
  const int r0 = rt * 16 + g, r1 = r0 + 8;
  const int lim0 = r0 < GROUP * n ? pos0 + r0 / GROUP : -1;
  const int lim1 = r1 < GROUP * n ? pos0 + r1 / GROUP : -1;
  float m[2] = {neg_inf(), neg_inf()}, l[2] = {0.0f, 0.0f};
  OnlineSoftmax<2> st{m, l};
  float o[HEAD_DIM / 8][4];
#pragma unroll
  for (int dt = 0; dt < HEAD_DIM / 8; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      o[dt][e] = 0.0f;
  int stage = 0;
  for (; it < ntiles; it += stride) {
    const int nx = it + stride;
    if (nx < ntiles) {
      attn_load_rows<HEAD_DIM, BN, 32>(kst + (stage ^ 1) * BN * LDS,
                                       kbase + (i64)nx * BN * HEAD_DIM, HEAD_DIM,
                                       cache_len - nx * BN, lane);
      attn_load_rows<HEAD_DIM, BN, 32>(vst + (stage ^ 1) * BN * LDS,
                                       vbase + (i64)nx * BN * HEAD_DIM, HEAD_DIM,
                                       cache_len - nx * BN, lane);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncwarp();
    const int key_base = it * BN;
    const bool need_mask = key_base + BN - 1 > pos0;
    attn_mma_tile<HEAD_DIM, BN>(qf, kst + stage * BN * LDS, vst + stage * BN * LDS, key_base,
                                lim0, lim1, need_mask, scale_log2, st, o);
    __syncwarp();
    stage ^= 1;
  }
  cp_async_wait<0>();
  __syncthreads();  // every warp is done with its K/V buffers: reuse them for the merge
  float *sm = reinterpret_cast<float *>(rest);
  float *sm_m = sm, *sm_l = sm + WARPS * 16, *sm_o = sm + 2 * WARPS * 16;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const float sum = quad_sum(l[r]);
    if (c == 0) {
      sm_m[warp * 16 + g + 8 * r] = m[r];
      sm_l[warp * 16 + g + 8 * r] = sum;
    }
#pragma unroll
    for (int dt = 0; dt < HEAD_DIM / 8; ++dt) {
      float *dst = sm_o + (warp * 16 + g + 8 * r) * HEAD_DIM + dt * 8 + 2 * c;
      dst[0] = o[dt][2 * r];
      dst[1] = o[dt][2 * r + 1];
    }
  }
  __syncthreads();
  attn_decode_merge<HEAD_DIM, WARPS>(sm, part_o, part_lse, split, n, HEADS, GROUP, kvh, rt);
}

template <int HEADS, int KV_HEADS, int HEAD_DIM, int SPLITS, int BN, int WARPS>
__device__ void attn_decode_partial_f32(const float *q, i32 ldq, const float *k_cache,
                                        const float *v_cache, i32 capacity, float *part_o,
                                        float *part_lse, i32 n, i32 cache_len) {
  static_assert(BN % 32 == 0, "BN must be a multiple of 32");
  constexpr int GROUP = HEADS / KV_HEADS;
  constexpr int DPL = (HEAD_DIM + 31) / 32;
  extern __shared__ __align__(16) unsigned char attn_smem[];
  float *qs = reinterpret_cast<float *>(attn_smem);  // [16][HEAD_DIM]
  float *rest = qs + 16 * HEAD_DIM;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  float *ks = rest + warp * BN * (2 * HEAD_DIM + 1);  // [BN][HEAD_DIM + 1]
  float *vs = ks + BN * (HEAD_DIM + 1);               // [BN][HEAD_DIM]
  const int split = blockIdx.x, kvh = blockIdx.y, rt = blockIdx.z;
  const int pos0 = cache_len - n;
  const float scale_log2 = rsqrtf((float)HEAD_DIM) * kLog2e;
  for (int idx = tid; idx < 16 * HEAD_DIM; idx += 32 * WARPS) {
    const int i = idx / HEAD_DIM, d = idx % HEAD_DIM;
    const int r = rt * 16 + i;
    qs[idx] = r < GROUP * n ? q[(i64)(r / GROUP) * ldq + (i64)(kvh * GROUP + r % GROUP) * HEAD_DIM +
                                d] * scale_log2
                            : 0.0f;
  }
  __syncthreads();
  int lim[16];
  float m[16], l[16], o[16][DPL];
  OnlineSoftmax<16> st{m, l};
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    const int r = rt * 16 + i;
    lim[i] = r < GROUP * n ? pos0 + r / GROUP : -1;
    st.reset(i);
#pragma unroll
    for (int e = 0; e < DPL; ++e)
      o[i][e] = 0.0f;
  }
  const float *kbase = k_cache + (i64)kvh * capacity * HEAD_DIM;
  const float *vbase = v_cache + (i64)kvh * capacity * HEAD_DIM;
  const int ntiles = (cache_len + BN - 1) / BN;
  for (int it = split * WARPS + warp; it < ntiles; it += SPLITS * WARPS) {
    const int key0 = it * BN;
    __syncwarp();
    attn_load_rows_f32<HEAD_DIM, HEAD_DIM + 1, 32>(ks, kbase + (i64)key0 * HEAD_DIM, HEAD_DIM,
                                                   BN, cache_len - key0, lane);
    attn_load_rows_f32<HEAD_DIM, HEAD_DIM, 32>(vs, vbase + (i64)key0 * HEAD_DIM, HEAD_DIM, BN,
                                               cache_len - key0, lane);
    __syncwarp();
#pragma unroll 1
    for (int sub = 0; sub < BN; sub += 32)
      attn_fma_tile<HEAD_DIM>(qs, ks + sub * (HEAD_DIM + 1), vs + sub * HEAD_DIM, key0 + sub, lim,
                              st, o);
  }
  __syncthreads();
  float *sm = rest;
  float *sm_m = sm, *sm_l = sm + WARPS * 16, *sm_o = sm + 2 * WARPS * 16;
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    if (lane == 0) {
      sm_m[warp * 16 + i] = m[i];
      sm_l[warp * 16 + i] = l[i];
    }
#pragma unroll
    for (int e = 0; e < DPL; ++e) {
      const int d = lane + 32 * e;
      if (d < HEAD_DIM)
        sm_o[(warp * 16 + i) * HEAD_DIM + d] = o[i][e];
    }
  }
  __syncthreads();
  attn_decode_merge<HEAD_DIM, WARPS>(sm, part_o, part_lse, split, n, HEADS, GROUP, kvh, rt);
}

template <typename T, int HEADS, int KV_HEADS, int HEAD_DIM, int SPLITS, int BN, int WARPS>
__device__ void attention_decode_partial(const T *q, i32 ldq, const T *k_cache, const T *v_cache,
                                         i32 capacity, float *part_o, float *part_lse, i32 n,
                                         i32 cache_len) {
  static_assert(HEADS % KV_HEADS == 0, "GQA");
  static_assert(HEAD_DIM % 16 == 0 && HEAD_DIM <= 256, "HEAD_DIM");
  static_assert(BN % 16 == 0, "BN");
  if constexpr (is_bf16<T>::value)
    attn_decode_partial_bf16<HEADS, KV_HEADS, HEAD_DIM, SPLITS, BN, WARPS>(
        q, ldq, k_cache, v_cache, capacity, part_o, part_lse, n, cache_len);
  else
    attn_decode_partial_f32<HEADS, KV_HEADS, HEAD_DIM, SPLITS, BN, WARPS>(
        q, ldq, k_cache, v_cache, capacity, part_o, part_lse, n, cache_len);
}

// Combine the splits: grid (n, HEADS), block HEAD_DIM, no smem.
// out[j][h*HEAD_DIM + d] = sum_s w_s part_o[s][j][h][d] / sum_s w_s, w_s = 2^(lse_s - max lse).
template <typename T, int HEADS, int HEAD_DIM, int SPLITS>
__device__ void attention_decode_combine(const float *part_o, const float *part_lse, T *out,
                                         i32 ldo, i32 n) {
  const int j = blockIdx.x, h = blockIdx.y, d = threadIdx.x;
  if (j >= n || d >= HEAD_DIM)
    return;
  float M = neg_inf();
  for (int s = 0; s < SPLITS; ++s)
    M = fmaxf(M, part_lse[((i64)s * n + j) * HEADS + h]);
  float W = 0.0f, O = 0.0f;
  if (M != neg_inf()) {
    for (int s = 0; s < SPLITS; ++s) {
      const i64 row = ((i64)s * n + j) * HEADS + h;
      const float lse = part_lse[row];
      if (lse == neg_inf())
        continue;
      const float w = exp2f(lse - M);
      W += w;
      O += w * part_o[row * HEAD_DIM + d];
    }
  }
  store_f32(out + (i64)j * ldo + (i64)h * HEAD_DIM + d, W > 0.0f ? O / W : 0.0f);
}

}  // namespace slk
