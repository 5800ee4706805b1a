// CPU reference of the dense causal attention kernels (sl_attention.cuh): kv_append, the
// flash-style prefill and the split-K decode (partial + combine).
//
// KV cache [KV_HEADS][capacity][HEAD_DIM] of T. Query j of a call sits at
// pos = cache_len - n + j and sees keys 0..pos; query head h reads kv head h / (HEADS/KV_HEADS).
// Scores are scaled by 1/sqrt(HEAD_DIM) and the softmax runs in base 2 with log2(e) folded into
// the scale, as on the device. Keys are visited in the device's tiles of BN keys with an online
// softmax (running max m, denominator l, numerator o); with T = bf16 each weight p is rounded to
// bf16 for the P.V product while l keeps the unrounded p (the device's mma path does the same).
// attention_decode_partial walks the same (split, warp) tile assignment as the device, so its
// part_o / part_lse are interchangeable with the GPU's for attention_decode_combine.
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cpu/Elements.h"
#include "runtime/cpu/KernelPlumbing.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sl::cpu {

namespace {

using namespace plumbing;

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

size_t elemSize(Elem e) { return e == Elem::bf16 ? 2 : 4; }

// ------------------------------------------------------------------------------------------
// Attention geometry and the online softmax over key tiles.
// ------------------------------------------------------------------------------------------
struct Attn {
  Elem t = Elem::f32;
  int64_t heads = 0, kvHeads = 0, headDim = 0;
  int64_t group() const { return heads / kvHeads; }
};

// <T, HEADS, KV_HEADS, HEAD_DIM, ...>: any head_dim (the CUDA limits are checked by slc).
Attn parseAttn(const Args &args) {
  Attn a;
  a.t = elemArg(args, "T");
  a.heads = sizeArg(args, "HEADS");
  a.kvHeads = sizeArg(args, "KV_HEADS");
  a.headDim = sizeArg(args, "HEAD_DIM");
  require(a.heads % a.kvHeads == 0, "HEADS (" + std::to_string(a.heads) +
                                        ") must be a multiple of KV_HEADS (" +
                                        std::to_string(a.kvHeads) + ")");
  return a;
}

// Key tile size BN: a multiple of 16 (bf16) or 32 (float), as the device requires.
int64_t parseTile(const Attn &a, const Args &args) {
  const int64_t bn = sizeArg(args, "BN");
  require(bn % (a.t == Elem::bf16 ? 16 : 32) == 0,
          a.t == Elem::bf16 ? "BN must be a multiple of 16" : "BN must be a multiple of 32");
  return bn;
}

// The cache arguments shared by prefill and decode partial:
// (q, ldq, k_cache, v_cache, capacity, <out...>, n, cache_len) with n at index 7.
struct CacheView {
  const void *q, *kCache, *vCache;
  int64_t ldq, capacity, n, cacheLen;
};

CacheView parseCache(const Attn &a, const Args &args) {
  CacheView v;
  v.n = countArg(args, "n");
  v.cacheLen = countArg(args, "cache_len");
  v.capacity = countArg(args, "capacity");
  require(v.n <= v.cacheLen, "n (" + std::to_string(v.n) + ") exceeds cache_len (" +
                                 std::to_string(v.cacheLen) + ")");
  require(v.cacheLen <= v.capacity, "cache_len (" + std::to_string(v.cacheLen) +
                                        ") exceeds capacity (" + std::to_string(v.capacity) +
                                        ")");
  v.q = v.n > 0 ? pointerArg(args, "q") : nullptr;
  v.ldq = v.n > 0 ? strideArg(args, "ldq", a.heads * a.headDim) : 0;
  v.kCache = v.n > 0 ? pointerArg(args, "k_cache") : nullptr;
  v.vCache = v.n > 0 ? pointerArg(args, "v_cache") : nullptr;
  return v;
}

// Running softmax of one query row: m = max of the scaled scores seen (base 2), l = sum of
// 2^(s - m), o = sum of 2^(s - m) v (p rounded to bf16 for T = bf16).
struct Running {
  double m = kNegInf;
  double l = 0.0;
  std::vector<double> o;
};

// Folds the keys [key0, key0 + bn) of query row (j, h) into `run`; keys past `last` (the
// query's position) are masked. One call = one device tile: the running max moves once per
// tile, which decides the values p that are rounded to bf16.
void foldTile(const Attn &a, const CacheView &v, const std::vector<float> &query, int64_t h,
              int64_t key0, int64_t bn, int64_t last, Running &run) {
  const int64_t keyEnd = std::min(key0 + bn, last + 1);
  if (keyEnd <= key0)
    return;  // every key of the tile is masked: nothing changes
  const int64_t kvh = h / a.group();
  const int64_t D = a.headDim;
  const double scaleLog2 = 1.0 / std::sqrt(double(D)) * 1.4426950408889634;
  std::vector<double> scores(keyEnd - key0);
  double tileMax = kNegInf;
  for (int64_t key = key0; key < keyEnd; ++key) {
    const int64_t base = (kvh * v.capacity + key) * D;
    double dot = 0.0;
    for (int64_t d = 0; d < D; ++d)
      dot += double(query[d]) * load(a.t, v.kCache, base + d);
    scores[key - key0] = dot * scaleLog2;
    tileMax = std::max(tileMax, scores[key - key0]);
  }
  const double mNew = std::max(run.m, tileMax);
  const double mUse = mNew == kNegInf ? 0.0 : mNew;   // as the device: no NaN from -inf - -inf
  const double correction = std::exp2(run.m - mUse);  // 0 when nothing was seen yet
  run.m = mNew;
  run.l *= correction;
  for (double &o : run.o)
    o *= correction;
  for (int64_t key = key0; key < keyEnd; ++key) {
    const double p = std::exp2(scores[key - key0] - mUse);
    run.l += p;
    const double pv = a.t == Elem::bf16 ? roundTo(Elem::bf16, float(p)) : p;
    const int64_t base = (kvh * v.capacity + key) * D;
    for (int64_t d = 0; d < D; ++d)
      run.o[d] += pv * load(a.t, v.vCache, base + d);
  }
}

std::vector<float> loadQuery(const Attn &a, const CacheView &v, int64_t j, int64_t h) {
  std::vector<float> q(a.headDim);
  for (int64_t d = 0; d < a.headDim; ++d)
    q[d] = load(a.t, v.q, j * v.ldq + h * a.headDim + d);
  return q;
}

// ------------------------------------------------------------------------------------------
// Kernels
// ------------------------------------------------------------------------------------------

// kv_append<T, KV_HEADS, HEAD_DIM, THREADS>(k, ldk, v, ldv, k_cache, v_cache, capacity,
// start, n): token t -> cache position start + t (a bit-exact copy).
Status kvAppend(const KernelCall &call) {
  return runKernel("kv_append", call, [&](const Args &args) {
    const Elem t = elemArg(args, "T");
    const int64_t kvHeads = sizeArg(args, "KV_HEADS"), D = sizeArg(args, "HEAD_DIM");
    sizeArg(args, "THREADS");
    const int64_t n = countArg(args, "n");
    const int64_t capacity = countArg(args, "capacity");
    const int64_t start = countArg(args, "start");
    require(start + n <= capacity, "start + n (" + std::to_string(start + n) +
                                       ") exceeds capacity (" + std::to_string(capacity) + ")");
    if (n == 0)
      return;
    const char *k = static_cast<const char *>(pointerArg(args, "k"));
    const int64_t ldk = strideArg(args, "ldk", kvHeads * D);
    const char *v = static_cast<const char *>(pointerArg(args, "v"));
    const int64_t ldv = strideArg(args, "ldv", kvHeads * D);
    char *kCache = static_cast<char *>(pointerArg(args, "k_cache"));
    char *vCache = static_cast<char *>(pointerArg(args, "v_cache"));
    const size_t es = elemSize(t);
    for (int64_t tok = 0; tok < n; ++tok)
      for (int64_t kvh = 0; kvh < kvHeads; ++kvh) {
        const int64_t dst = (kvh * capacity + start + tok) * D;
        std::memcpy(kCache + dst * es, k + (tok * ldk + kvh * D) * es, D * es);
        std::memcpy(vCache + dst * es, v + (tok * ldv + kvh * D) * es, D * es);
      }
  });
}

// attention_prefill<T, HEADS, KV_HEADS, HEAD_DIM, BM, BN>(q, ldq, k_cache, v_cache, capacity,
// out, ldo, n, cache_len): causal softmax attention of the n queries over the cache.
Status attentionPrefill(const KernelCall &call) {
  return runKernel("attention_prefill", call, [&](const Args &args) {
    const Attn a = parseAttn(args);
    const int64_t bm = sizeArg(args, "BM");
    require(bm % 16 == 0, "BM must be a multiple of 16");
    const int64_t bn = parseTile(a, args);
    const CacheView v = parseCache(a, args);
    if (v.n == 0)
      return;
    void *out = pointerArg(args, "out");
    const int64_t ldo = strideArg(args, "ldo", a.heads * a.headDim);
    const int64_t pos0 = v.cacheLen - v.n;
    parallelFor(v.n * a.heads, v.cacheLen * a.headDim, [&](int64_t row) {
      const int64_t j = row / a.heads, h = row % a.heads;
      const int64_t pos = pos0 + j;
      const std::vector<float> q = loadQuery(a, v, j, h);
      Running run;
      run.o.assign(a.headDim, 0.0);
      for (int64_t key0 = 0; key0 <= pos; key0 += bn)
        foldTile(a, v, q, h, key0, bn, pos, run);
      const double inv = run.l > 0.0 ? 1.0 / run.l : 0.0;
      for (int64_t d = 0; d < a.headDim; ++d)
        store(a.t, out, j * ldo + h * a.headDim + d, float(run.o[d] * inv));
    });
  });
}

// attention_decode_partial<T, HEADS, KV_HEADS, HEAD_DIM, SPLITS, BN, WARPS>(q, ldq, k_cache,
// v_cache, capacity, part_o, part_lse, n, cache_len): the cache is cut into tiles of BN keys;
// warp w of split s walks tiles s*WARPS + w, + SPLITS*WARPS, ...; the split merges its warps
// and writes part_o [SPLITS][n][HEADS][HEAD_DIM] (normalised within the split) and part_lse
// [SPLITS][n][HEADS] (log2 of the split's denominator, -inf when it saw no key).
Status attentionDecodePartial(const KernelCall &call) {
  return runKernel("attention_decode_partial", call, [&](const Args &args) {
    const Attn a = parseAttn(args);
    const int64_t splits = sizeArg(args, "SPLITS");
    const int64_t bn = parseTile(a, args);
    const int64_t warps = sizeArg(args, "WARPS");
    const CacheView v = parseCache(a, args);
    if (v.n == 0)
      return;
    float *partO = static_cast<float *>(pointerArg(args, "part_o"));
    float *partLse = static_cast<float *>(pointerArg(args, "part_lse"));
    const int64_t D = a.headDim;
    const int64_t pos0 = v.cacheLen - v.n;
    const int64_t tiles = (v.cacheLen + bn - 1) / bn;
    parallelFor(v.n * a.heads, 2 * v.cacheLen * a.headDim, [&](int64_t row) {
      const int64_t j = row / a.heads, h = row % a.heads;
      const int64_t pos = pos0 + j;
      const std::vector<float> q = loadQuery(a, v, j, h);
      for (int64_t s = 0; s < splits; ++s) {
        // Each warp's running softmax over its share of the tiles.
        std::vector<Running> perWarp(warps);
        for (int64_t w = 0; w < warps; ++w) {
          perWarp[w].o.assign(D, 0.0);
          for (int64_t it = s * warps + w; it < tiles; it += splits * warps)
            foldTile(a, v, q, h, it * bn, bn, pos, perWarp[w]);
        }
        // Merge the warps (attn_decode_merge).
        double m = kNegInf;
        for (const Running &r : perWarp)
          m = std::max(m, r.m);
        double l = 0.0;
        std::vector<double> o(D, 0.0);
        if (m != kNegInf)
          for (const Running &r : perWarp) {
            const double scale = r.m == kNegInf ? 0.0 : std::exp2(r.m - m);
            l += r.l * scale;
            for (int64_t d = 0; d < D; ++d)
              o[d] += r.o[d] * scale;
          }
        const int64_t out = (s * v.n + j) * a.heads + h;
        for (int64_t d = 0; d < D; ++d)
          partO[out * D + d] = l > 0.0 ? float(o[d] / l) : 0.0f;
        partLse[out] = l > 0.0 ? float(m + std::log2(l)) : -std::numeric_limits<float>::infinity();
      }
    });
  });
}

// attention_decode_combine<T, HEADS, HEAD_DIM, SPLITS>(part_o, part_lse, out, ldo, n):
// out = sum_s w_s part_o[s] / sum_s w_s, w_s = 2^(lse_s - max lse); splits with -inf skipped.
Status attentionDecodeCombine(const KernelCall &call) {
  return runKernel("attention_decode_combine", call, [&](const Args &args) {
    const Elem t = elemArg(args, "T");
    const int64_t heads = sizeArg(args, "HEADS"), D = sizeArg(args, "HEAD_DIM");
    const int64_t splits = sizeArg(args, "SPLITS");
    const int64_t n = countArg(args, "n");
    if (n == 0)
      return;
    const float *partO = static_cast<const float *>(pointerArg(args, "part_o"));
    const float *partLse = static_cast<const float *>(pointerArg(args, "part_lse"));
    void *out = pointerArg(args, "out");
    const int64_t ldo = strideArg(args, "ldo", heads * D);
    const float negInf = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < n; ++j)
      for (int64_t h = 0; h < heads; ++h) {
        float m = negInf;
        for (int64_t s = 0; s < splits; ++s)
          m = std::max(m, partLse[(s * n + j) * heads + h]);
        double weightSum = 0.0;
        std::vector<double> acc(D, 0.0);
        if (m != negInf)
          for (int64_t s = 0; s < splits; ++s) {
            const int64_t row = (s * n + j) * heads + h;
            if (partLse[row] == negInf)
              continue;
            const double w = std::exp2(double(partLse[row]) - m);
            weightSum += w;
            for (int64_t d = 0; d < D; ++d)
              acc[d] += w * partO[row * D + d];
          }
        for (int64_t d = 0; d < D; ++d)
          store(t, out, j * ldo + h * D + d, weightSum > 0.0 ? float(acc[d] / weightSum) : 0.0f);
      }
  });
}

}  // namespace

std::vector<KernelEntry> attentionKernels() {
  return {
      {"kv_append", kvAppend},
      {"attention_prefill", attentionPrefill},
      {"attention_decode_partial", attentionDecodePartial},
      {"attention_decode_combine", attentionDecodeCombine},
  };
}

}  // namespace sl::cpu
