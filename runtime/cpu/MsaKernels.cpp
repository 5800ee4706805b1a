// Reference implementations of the multi-step (superlinear) attention kernels of
// runtime/kernels/sl_msa.cuh. The contract is docs/kernels-msa.md; the algorithm is
// ../shared/docs/SUPERLINEAR.md section 3.
//
// These functions follow the device's data flow and rounding points, not its tiling:
//  - routing scores are fp32 dot products (sequential FMA, as the device's float path does; the
//    bf16 mma path sums in another order, so scores agree to ~1e-6 relative);
//  - attention is a softmax in base 2 with the scale 1/sqrt(HEAD_DIM) folded in, P rounded to
//    bf16 before P.V where the device does it (the tensor-core attention core in bf16), O
//    normalised in fp32 and stored in T where the device stores it in T (o_w, o_s, out);
//  - the decode path reproduces the device's pieces exactly (window cut into SPLIT_W equal
//    pieces, every span into SPLIT_S), so msa_decode_combine sees the same pieces.
// Tile parameters (NW, QPB) only change the device's work split, never a result.
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cpu/Elements.h"
#include "runtime/cpu/KernelPlumbing.h"
#include "runtime/kernels/KernelTable.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace sl::cpu {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// ---------------------------------------------------------------------------------------------
// Template and run-time arguments
// ---------------------------------------------------------------------------------------------

// The template arguments of one call, by the parameter names of the kernel table
// (runtime/kernels/KernelTable.h).
struct Params {
  Elem elem = Elem::f32;
  std::map<std::string, int64_t> ints;
  int64_t operator[](const std::string &name) const { return ints.at(name); }
};

// Checks the call against the kernel table's signature of `kernel` (argument counts) and parses
// its template arguments: "T" is an element type, every other parameter a positive integer.
Status readParams(const KernelCall &call, const std::string &kernel, Params &params) {
  if (Status s = checkSignature(kernel, call); !s)
    return s;
  const std::vector<std::string> &names = kernels::findKernel(kernel)->templateParams;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string &spelling = call.templateArgs[i];
    if (names[i] == "T") {
      if (spelling == "slk::bf16")
        params.elem = Elem::bf16;
      else if (spelling == "float")
        params.elem = Elem::f32;
      else
        return Status::error(kernel + ": unsupported element type T = '" + spelling +
                             "' (expected slk::bf16 or float)");
      continue;
    }
    size_t used = 0;
    int64_t value = 0;
    try {
      value = std::stoll(spelling, &used);
    } catch (const std::exception &) {
      used = 0;
    }
    if (used == 0 || used != spelling.size())
      return Status::error(kernel + ": template argument " + names[i] + " = '" + spelling +
                           "' is not an integer");
    if (value < 1 || value > (int64_t(1) << 30))
      return Status::error(kernel + ": template argument " + names[i] + " = " + spelling +
                           " is out of range");
    params.ints[names[i]] = value;
  }
  return Status::success();
}

// Checks shared by the templates that have HEADS / KV_HEADS / NUM_SPANS (any HEAD_DIM).
Status checkShape(const std::string &kernel, const Params &p) {
  if (p.ints.count("KV_HEADS") && p["HEADS"] % p["KV_HEADS"] != 0)
    return Status::error(kernel + ": HEADS (" + std::to_string(p["HEADS"]) +
                         ") must be a multiple of KV_HEADS (" + std::to_string(p["KV_HEADS"]) +
                         ")");
  if (p.ints.count("NUM_SPANS") && p["NUM_SPANS"] > 8)
    return Status::error(kernel + ": NUM_SPANS (" + std::to_string(p["NUM_SPANS"]) +
                         ") must be 1..8");
  return Status::success();
}

// Run-time arguments by parameter name (Args: the kernel table's signature).
template <typename P> P *ptrArg(const Args &args, const char *param) {
  return static_cast<P *>(args.arg(param).pointer);
}
int64_t iArg(const Args &args, const char *param) { return args.arg(param).integer; }

// Pointers that must not be null, with their parameter names.
Status requirePointers(const std::string &kernel,
                       std::initializer_list<std::pair<const char *, const void *>> pointers) {
  for (const auto &[name, pointer] : pointers)
    if (!pointer)
      return Status::error(kernel + ": argument '" + name + "' is null");
  return Status::success();
}

// cache_len / n / capacity of one call: n queries at positions cache_len - n .. cache_len - 1.
Status checkCall(const std::string &kernel, int64_t capacity, int64_t cacheLen, int64_t n) {
  if (capacity < 0 || cacheLen < 0 || n < 0 || cacheLen > capacity || n > cacheLen)
    return Status::error(kernel + ": need 0 <= n <= cache_len <= capacity, got n = " +
                         std::to_string(n) + ", cache_len = " + std::to_string(cacheLen) +
                         ", capacity = " + std::to_string(capacity));
  return Status::success();
}

Status checkLd(const std::string &kernel, const char *name, int64_t ld, int64_t minimum) {
  if (ld < minimum)
    return Status::error(kernel + ": " + name + " = " + std::to_string(ld) +
                         " is smaller than HEADS * HEAD_DIM = " + std::to_string(minimum));
  return Status::success();
}

// anchor_offsets must be non-negative and increasing (the device binary-searches it).
Status checkAnchorOffsets(const std::string &kernel, const int64_t *offsets, int64_t numStripes) {
  if (numStripes < 0)
    return Status::error(kernel + ": num_stripes is negative");
  for (int64_t i = 0; i < numStripes; ++i)
    if (offsets[i] < 0 || (i > 0 && offsets[i] <= offsets[i - 1]))
      return Status::error(kernel + ": anchor_offsets must be non-negative and increasing (entry " +
                           std::to_string(i) + " = " + std::to_string(offsets[i]) + ")");
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// Work split over threads
// ---------------------------------------------------------------------------------------------

// Runs body(i) for i in [0, count) on up to hardware_concurrency threads. Bodies write disjoint
// outputs and never fail (all checks happen before).
// One item per head (or kv head), each worth a thread: the shared pool (plumbing::parallelFor).
template <typename Body> void parallelFor(int64_t count, const Body &body) {
  plumbing::parallelFor(count, int64_t(1) << 18, body);
}

// ---------------------------------------------------------------------------------------------
// Views of the operands
// ---------------------------------------------------------------------------------------------

// q1 / q2: [n, ld], head h in columns h*dim ..
struct Queries {
  const void *base;
  int64_t ld;
  Elem elem;
  int64_t dim;
  std::vector<float> row(int64_t j, int64_t h) const {
    std::vector<float> q(dim);
    for (int64_t d = 0; d < dim; ++d)
      q[d] = load(elem, base, j * ld + h * dim + d);
    return q;
  }
};

// k_cache / v_cache: [KV_HEADS][capacity][dim].
struct Cache {
  const void *k;
  const void *v;
  Elem elem;
  int64_t capacity;
  int64_t dim;
  float key(int64_t kvh, int64_t t, int64_t d) const {
    return load(elem, k, (kvh * capacity + t) * dim + d);
  }
  float value(int64_t kvh, int64_t t, int64_t d) const {
    return load(elem, v, (kvh * capacity + t) * dim + d);
  }
};

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

// Top-K list sorted by (score desc, stripe desc): ties keep the larger stripe index (the farther
// anchor). Empty entries are (-inf, -1).
struct TopK {
  std::vector<float> score;
  std::vector<int32_t> stripe;
  explicit TopK(int64_t k) : score(k, kNegInf), stripe(k, -1) {}

  static bool better(float a, int32_t ai, float b, int32_t bi) {
    return a > b || (a == b && ai > bi);
  }
  void offer(float s, int32_t i) {
    for (size_t k = 0; k < score.size(); ++k)
      if (better(s, i, score[k], stripe[k])) {
        std::swap(s, score[k]);
        std::swap(i, stripe[k]);
      }
  }
};

// Number of stripes with an anchor at or before pos: entries of the increasing table <= pos.
int64_t stripeCount(const int64_t *offsets, int64_t numStripes, int64_t pos) {
  return std::upper_bound(offsets, offsets + numStripes, pos) - offsets;
}

// Inclusive extent [start, end] of the span of `stripe` (empty slot: [0, -1]).
void spanExtent(int32_t stripe, int64_t pos, const int64_t *offsets, int64_t window,
                int64_t reachBack, int64_t reachFwd, int32_t &start, int32_t &end) {
  if (stripe < 0) {
    start = 0;
    end = -1;
    return;
  }
  const int64_t anchor = pos - offsets[stripe];
  const int64_t swStart = std::max<int64_t>(pos - window + 1, 0);
  start = static_cast<int32_t>(std::max<int64_t>(anchor - reachBack, 0));
  end = static_cast<int32_t>(std::min({anchor + reachFwd, pos, swStart - 1}));
}

// Raw routing score q1 . K[anchor]: fp32, sequential FMA, no scale.
float routingScore(const std::vector<float> &q, const Cache &cache, int64_t kvh, int64_t anchor) {
  float dot = 0.0f;
  for (int64_t d = 0; d < cache.dim; ++d)
    dot = std::fma(q[d], cache.key(kvh, anchor, d), dot);
  return dot;
}

// The merge of the SPLITS partial lists of (query j, head h): the final slots.
TopK resolvePartials(const float *partScores, const int32_t *partIdx, int64_t splits, int64_t n,
                     int64_t heads, int64_t k, int64_t j, int64_t h) {
  TopK top(k);
  for (int64_t z = 0; z < splits; ++z) {
    const int64_t base = ((z * n + j) * heads + h) * k;
    for (int64_t s = 0; s < k; ++s)
      top.offer(partScores[base + s], partIdx[base + s]);
  }
  return top;
}

// Stripe indices of partial lists must be -1 or name an anchor in [0, pos] (the kernels that
// read them do not receive num_stripes, so an index past the table cannot be detected here).
Status checkPartials(const std::string &kernel, const int32_t *partIdx, const int64_t *offsets,
                     int64_t splits, int64_t n, int64_t heads, int64_t k, int64_t cacheLen) {
  for (int64_t z = 0; z < splits; ++z)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t e = 0; e < heads * k; ++e) {
        const int32_t stripe = partIdx[(z * n + j) * heads * k + e];
        if (stripe < -1)
          return Status::error(kernel + ": part_idx holds " + std::to_string(stripe));
        if (stripe >= 0 && offsets) {
          const int64_t anchor = cacheLen - n + j - offsets[stripe];
          if (anchor < 0)
            return Status::error(kernel + ": part_idx stripe " + std::to_string(stripe) +
                                 " has no anchor for query " + std::to_string(j));
        }
      }
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// Attention
// ---------------------------------------------------------------------------------------------

// Softmax attention of one query over the keys [lo, hi] of kv head kvh (lo > hi: empty).
// Scores are (q . k) * scoreScale in base-2 units (the caller folds 1/sqrt(D) * log2(e) either
// into scoreScale or into q, as the device does). roundP rounds the probabilities to bf16
// before P.V (the tensor-core path). Writes the normalised O (fp32) and the natural-log lse;
// an empty key set gives O = 0, lse = -inf.
void attendKeys(const Cache &cache, int64_t kvh, const std::vector<float> &q, float scoreScale,
                int64_t lo, int64_t hi, bool roundP, float *o, float &lse) {
  const int64_t dim = cache.dim;
  std::fill(o, o + dim, 0.0f);
  if (lo > hi) {
    lse = kNegInf;
    return;
  }
  std::vector<float> score(hi - lo + 1);
  float maxScore = kNegInf;
  for (int64_t t = lo; t <= hi; ++t) {
    float dot = 0.0f;
    for (int64_t d = 0; d < dim; ++d)
      dot += q[d] * cache.key(kvh, t, d);
    score[t - lo] = dot * scoreScale;
    maxScore = std::max(maxScore, score[t - lo]);
  }
  float sum = 0.0f;
  std::vector<float> acc(dim, 0.0f);
  for (int64_t t = lo; t <= hi; ++t) {
    const float p = std::exp2(score[t - lo] - maxScore);
    sum += p;
    const float pv = roundP ? roundTo(Elem::bf16, p) : p;
    for (int64_t d = 0; d < dim; ++d)
      acc[d] += pv * cache.value(kvh, t, d);
  }
  const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
  for (int64_t d = 0; d < dim; ++d)
    o[d] = acc[d] * inv;
  lse = sum > 0.0f ? (maxScore + std::log2(sum)) * kLn2 : kNegInf;
}

// 1/sqrt(HEAD_DIM) * log2(e), as the device forms it.
float softmaxScale2(int64_t dim) { return (1.0f / std::sqrt(static_cast<float>(dim))) * kLog2e; }

// The first key of the window of the query at pos.
int64_t windowStart(int64_t pos, int64_t window) { return std::max<int64_t>(pos - window + 1, 0); }

// Gate weights: softmax over the valid slots (score > -inf), uniform when none is valid.
std::vector<float> gateWeights(const std::vector<float> &score) {
  const size_t k = score.size();
  std::vector<float> g(k);
  const float mx = *std::max_element(score.begin(), score.end());
  if (mx == kNegInf) {
    std::fill(g.begin(), g.end(), 1.0f / static_cast<float>(k));
    return g;
  }
  float sum = 0.0f;
  for (size_t s = 0; s < k; ++s) {
    g[s] = score[s] == kNegInf ? 0.0f : std::exp(score[s] - mx);
    sum += g[s];
  }
  for (float &w : g)
    w /= sum;
  return g;
}

// Weights of (e^a x + e^b y) / (e^a + e^b); both -inf gives 1/2, 1/2 (both sides are then 0).
void lsePair(float a, float b, float &wa, float &wb) {
  const float mx = std::max(a, b);
  if (mx == kNegInf) {
    wa = wb = 0.5f;
    return;
  }
  const float ea = std::exp(a - mx), eb = std::exp(b - mx);
  wa = ea / (ea + eb);
  wb = eb / (ea + eb);
}

// ---------------------------------------------------------------------------------------------
// msa_anchor_topk
// ---------------------------------------------------------------------------------------------
Status anchorTopk(const KernelCall &call) {
  const std::string kernel = "msa_anchor_topk";
  Params p;
  if (Status s = readParams(call, kernel, p);
      !s)
    return s;
  if (Status s = checkShape(kernel, p); !s)
    return s;
  if (p["NW"] % p["QPB"] != 0)
    return Status::error(kernel + ": NW must be a multiple of QPB");
  const Args args(kernel, call);
  const auto *q1 = ptrArg<const void>(args, "q1");
  const int64_t ldq1 = iArg(args, "ldq1");
  const auto *kCache = ptrArg<const void>(args, "k_cache");
  const int64_t capacity = iArg(args, "capacity"), cacheLen = iArg(args, "cache_len"), n = iArg(args, "n");
  const auto *offsets = ptrArg<const int64_t>(args, "anchor_offsets");
  const int64_t numStripes = iArg(args, "num_stripes");
  const auto *spanReach = ptrArg<const int32_t>(args, "span_reach");
  auto *topScores = ptrArg<float>(args, "top_scores");
  auto *spanStart = ptrArg<int32_t>(args, "span_start");
  auto *spanEnd = ptrArg<int32_t>(args, "span_end");
  auto *partScores = ptrArg<float>(args, "part_scores");
  auto *partIdx = ptrArg<int32_t>(args, "part_idx");

  const int64_t heads = p["HEADS"], group = heads / p["KV_HEADS"], dim = p["HEAD_DIM"];
  const int64_t k = p["NUM_SPANS"], window = p["W"], splits = p["SPLITS"];
  if (Status s = checkCall(kernel, capacity, cacheLen, n); !s)
    return s;
  if (n == 0)
    return Status::success();
  if (Status s = checkLd(kernel, "ldq1", ldq1, heads * dim); !s)
    return s;
  if (Status s = requirePointers(kernel, {{"q1", q1}, {"k_cache", kCache}}); !s)
    return s;
  if (numStripes > 0)
    if (Status s = requirePointers(kernel, {{"anchor_offsets", offsets}}); !s)
      return s;
  if (Status s = checkAnchorOffsets(kernel, offsets, numStripes); !s)
    return s;
  if (splits == 1) {
    if (Status s = requirePointers(kernel, {{"span_reach", spanReach},
                                            {"top_scores", topScores},
                                            {"span_start", spanStart},
                                            {"span_end", spanEnd}});
        !s)
      return s;
  } else if (Status s = requirePointers(kernel,
                                        {{"part_scores", partScores}, {"part_idx", partIdx}});
             !s) {
    return s;
  }

  const Queries queries{q1, ldq1, p.elem, dim};
  const Cache cache{kCache, nullptr, p.elem, capacity, dim};
  parallelFor(heads, [&](int64_t h) {
    const int64_t kvh = h / group;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t pos = cacheLen - n + j;
      const std::vector<float> q = queries.row(j, h);
      const int64_t valid = stripeCount(offsets, numStripes, pos);
      // Split z covers the stripes [valid*z/SPLITS, valid*(z+1)/SPLITS) (the union of its
      // warps' equal parts on the device).
      for (int64_t z = 0; z < splits; ++z) {
        TopK top(k);
        for (int64_t i = valid * z / splits; i < valid * (z + 1) / splits; ++i)
          top.offer(routingScore(q, cache, kvh, pos - offsets[i]), static_cast<int32_t>(i));
        const int64_t row = (j * heads + h) * k;
        for (int64_t s = 0; s < k; ++s) {
          const float score = top.stripe[s] >= 0 ? top.score[s] : kNegInf;
          if (splits == 1) {
            topScores[row + s] = score;
            spanExtent(top.stripe[s], pos, offsets, window, spanReach[2 * j],
                       spanReach[2 * j + 1], spanStart[row + s], spanEnd[row + s]);
          } else {
            partScores[z * n * heads * k + row + s] = score;
            partIdx[z * n * heads * k + row + s] = top.stripe[s];
          }
        }
      }
    }
  });
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// msa_route_merge
// ---------------------------------------------------------------------------------------------
Status routeMerge(const KernelCall &call) {
  const std::string kernel = "msa_route_merge";
  Params p;
  if (Status s = readParams(call, kernel, p); !s)
    return s;
  if (Status s = checkShape(kernel, p); !s)
    return s;
  const Args args(kernel, call);
  const auto *partScores = ptrArg<const float>(args, "part_scores");
  const auto *partIdx = ptrArg<const int32_t>(args, "part_idx");
  const int64_t cacheLen = iArg(args, "cache_len"), n = iArg(args, "n");
  const auto *offsets = ptrArg<const int64_t>(args, "anchor_offsets");
  const auto *spanReach = ptrArg<const int32_t>(args, "span_reach");
  auto *topScores = ptrArg<float>(args, "top_scores");
  auto *spanStart = ptrArg<int32_t>(args, "span_start");
  auto *spanEnd = ptrArg<int32_t>(args, "span_end");
  const int64_t heads = p["HEADS"], k = p["NUM_SPANS"], window = p["W"], splits = p["SPLITS"];
  if (n < 0 || cacheLen < n)
    return Status::error(kernel + ": need 0 <= n <= cache_len");
  if (n == 0)
    return Status::success();
  if (Status s = requirePointers(kernel, {{"part_scores", partScores},
                                          {"part_idx", partIdx},
                                          {"anchor_offsets", offsets},
                                          {"span_reach", spanReach},
                                          {"top_scores", topScores},
                                          {"span_start", spanStart},
                                          {"span_end", spanEnd}});
      !s)
    return s;
  if (Status s = checkPartials(kernel, partIdx, offsets, splits, n, heads, k, cacheLen); !s)
    return s;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t pos = cacheLen - n + j;
      const TopK top = resolvePartials(partScores, partIdx, splits, n, heads, k, j, h);
      const int64_t row = (j * heads + h) * k;
      for (int64_t s = 0; s < k; ++s) {
        topScores[row + s] = top.stripe[s] >= 0 ? top.score[s] : kNegInf;
        spanExtent(top.stripe[s], pos, offsets, window, spanReach[2 * j], spanReach[2 * j + 1],
                   spanStart[row + s], spanEnd[row + s]);
      }
    }
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// msa_window_attention
// ---------------------------------------------------------------------------------------------
// The query and KV-cache arguments the attention steps of a multi-step layer read.
struct CachedQuery {
  explicit CachedQuery(const Args &args)
      : q2(ptrArg<const void>(args, "q2")), ldq2(iArg(args, "ldq2")),
        kCache(ptrArg<const void>(args, "k_cache")), vCache(ptrArg<const void>(args, "v_cache")),
        capacity(iArg(args, "capacity")), cacheLen(iArg(args, "cache_len")), n(iArg(args, "n")) {}
  const void *q2;
  int64_t ldq2;
  const void *kCache, *vCache;
  int64_t capacity, cacheLen, n;
};

Status windowAttention(const KernelCall &call) {
  const std::string kernel = "msa_window_attention";
  Params p;
  if (Status s =
          readParams(call, kernel, p);
      !s)
    return s;
  if (Status s = checkShape(kernel, p); !s)
    return s;
  const Args args(kernel, call);
  const CachedQuery in(args);
  auto *oW = ptrArg<void>(args, "o_w");
  auto *lseW = ptrArg<float>(args, "lse_w");
  const int64_t heads = p["HEADS"], group = heads / p["KV_HEADS"], dim = p["HEAD_DIM"];
  const int64_t window = p["W"];
  if (Status s = checkCall(kernel, in.capacity, in.cacheLen, in.n); !s)
    return s;
  if (in.n == 0)
    return Status::success();
  if (Status s = checkLd(kernel, "ldq2", in.ldq2, heads * dim); !s)
    return s;
  if (Status s = requirePointers(
          kernel, {{"q2", in.q2}, {"k_cache", in.kCache}, {"v_cache", in.vCache}, {"o_w", oW},
                   {"lse_w", lseW}});
      !s)
    return s;

  const Queries queries{in.q2, in.ldq2, p.elem, dim};
  const Cache cache{in.kCache, in.vCache, p.elem, in.capacity, dim};
  const bool roundP = p.elem == Elem::bf16;
  parallelFor(heads, [&](int64_t h) {
    std::vector<float> o(dim);
    for (int64_t j = 0; j < in.n; ++j) {
      const int64_t pos = in.cacheLen - in.n + j, row = j * heads + h;
      float lse;
      attendKeys(cache, h / group, queries.row(j, h), softmaxScale2(dim),
                 windowStart(pos, window), pos, roundP, o.data(), lse);
      for (int64_t d = 0; d < dim; ++d)
        store(p.elem, oW, row * dim + d, o[d]);
      lseW[row] = lse;
    }
  });
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// msa_span_attention
// ---------------------------------------------------------------------------------------------
Status spanAttention(const KernelCall &call) {
  const std::string kernel = "msa_span_attention";
  Params p;
  if (Status s = readParams(call, kernel, p);
      !s)
    return s;
  if (Status s = checkShape(kernel, p); !s)
    return s;
  const Args args(kernel, call);
  const CachedQuery in(args);
  const auto *spanStart = ptrArg<const int32_t>(args, "span_start");
  const auto *spanEnd = ptrArg<const int32_t>(args, "span_end");
  const auto *rowOrder = ptrArg<const int32_t>(args, "row_order");
  auto *oS = ptrArg<void>(args, "o_s");
  auto *lseS = ptrArg<float>(args, "lse_s");
  const int64_t kvHeads = p["KV_HEADS"], heads = p["HEADS"], group = heads / kvHeads;
  const int64_t dim = p["HEAD_DIM"], k = p["NUM_SPANS"];
  if (Status s = checkCall(kernel, in.capacity, in.cacheLen, in.n); !s)
    return s;
  if (in.n == 0)
    return Status::success();
  if (Status s = checkLd(kernel, "ldq2", in.ldq2, heads * dim); !s)
    return s;
  if (Status s = requirePointers(kernel, {{"q2", in.q2},
                                          {"k_cache", in.kCache},
                                          {"v_cache", in.vCache},
                                          {"span_start", spanStart},
                                          {"span_end", spanEnd},
                                          {"o_s", oS},
                                          {"lse_s", lseS}});
      !s)
    return s;
  // A non-empty span must lie inside the cache (the device would read keys past cache_len).
  for (int64_t e = 0; e < in.n * heads * k; ++e)
    if (spanStart[e] <= spanEnd[e] && (spanStart[e] < 0 || spanEnd[e] >= in.cacheLen))
      return Status::error(kernel + ": span [" + std::to_string(spanStart[e]) + ", " +
                           std::to_string(spanEnd[e]) + "] of row " + std::to_string(e) +
                           " lies outside the cache (cache_len " + std::to_string(in.cacheLen) +
                           ")");

  // The rows each kv head computes, ids (j*GROUP + hh)*K + slot: the natural order, or the
  // permutation row_order. The order never changes a result, only which rows a device block
  // groups together; a row_order that is not a permutation would leave rows unwritten (and a
  // negative id makes the device read before span_start), so it is rejected.
  const int64_t rowsPerKvHead = in.n * group * k;
  std::vector<std::vector<int64_t>> rows(kvHeads);
  for (int64_t kvh = 0; kvh < kvHeads; ++kvh) {
    std::vector<bool> seen(rowsPerKvHead, false);
    for (int64_t r = 0; r < rowsPerKvHead; ++r) {
      const int64_t id = rowOrder ? rowOrder[kvh * rowsPerKvHead + r] : r;
      if (id < 0 || id >= rowsPerKvHead || seen[id])
        return Status::error(kernel + ": row_order of kv head " + std::to_string(kvh) +
                             " is not a permutation of 0.." + std::to_string(rowsPerKvHead - 1) +
                             " (entry " + std::to_string(r) + " = " + std::to_string(id) + ")");
      seen[id] = true;
      rows[kvh].push_back(id);
    }
  }

  const Queries queries{in.q2, in.ldq2, p.elem, dim};
  const Cache cache{in.kCache, in.vCache, p.elem, in.capacity, dim};
  const bool roundP = p.elem == Elem::bf16;
  parallelFor(kvHeads, [&](int64_t kvh) {
    std::vector<float> o(dim);
    for (int64_t id : rows[kvh]) {
      const int64_t j = id / (group * k), hh = (id / k) % group, slot = id % k;
      const int64_t h = kvh * group + hh;
      const int64_t row = (j * heads + h) * k + slot;
      float lse;
      attendKeys(cache, kvh, queries.row(j, h), softmaxScale2(dim), spanStart[row],
                 spanEnd[row], roundP, o.data(), lse);
      for (int64_t d = 0; d < dim; ++d)
        store(p.elem, oS, row * dim + d, o[d]);
      lseS[row] = lse;
    }
  });
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// msa_span_order: each kv head's rows sorted by bucket = span_start / ceil(cache_len / BUCKETS)
// (empty spans: bucket 0). The reference keeps row-id order inside a bucket (a stable counting
// sort); the device's order inside a bucket is unspecified and changes no result.
// ---------------------------------------------------------------------------------------------
Status spanOrder(const KernelCall &call) {
  const std::string kernel = "msa_span_order";
  Params p;
  if (Status s = readParams(call, kernel, p); !s)
    return s;
  const Args args(kernel, call);
  const auto *spanStart = ptrArg<const int32_t>(args, "span_start");
  const auto *spanEnd = ptrArg<const int32_t>(args, "span_end");
  const int64_t cacheLen = iArg(args, "cache_len"), n = iArg(args, "n");
  auto *rowOrder = ptrArg<int32_t>(args, "row_order");
  const int64_t heads = p["HEADS"], kvHeads = p["KV_HEADS"], k = p["NUM_SPANS"];
  const int64_t buckets = p["BUCKETS"];
  if (heads % kvHeads != 0)
    return Status::error(kernel + ": HEADS must be a multiple of KV_HEADS");
  if (n < 0 || cacheLen < n)
    return Status::error(kernel + ": needs 0 <= n <= cache_len, got n = " + std::to_string(n) +
                         ", cache_len = " + std::to_string(cacheLen));
  if (n == 0)
    return Status::success();
  if (Status s = requirePointers(
          kernel, {{"span_start", spanStart}, {"span_end", spanEnd}, {"row_order", rowOrder}});
      !s)
    return s;
  const int64_t group = heads / kvHeads, rows = n * group * k;
  const int64_t width = std::max<int64_t>(1, (cacheLen + buckets - 1) / buckets);
  for (int64_t kvh = 0; kvh < kvHeads; ++kvh) {
    std::vector<std::vector<int32_t>> byBucket(buckets);
    for (int64_t id = 0; id < rows; ++id) {
      const int64_t j = id / (group * k), rest = id % (group * k);
      const int64_t e = j * heads * k + kvh * group * k + rest;
      const int64_t bucket =
          spanStart[e] <= spanEnd[e] ? std::min<int64_t>(spanStart[e] / width, buckets - 1) : 0;
      byBucket[bucket].push_back(int32_t(id));
    }
    int32_t *out = rowOrder + kvh * rows;
    for (const auto &ids : byBucket)
      out = std::copy(ids.begin(), ids.end(), out);
  }
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// msa_gate_merge
// ---------------------------------------------------------------------------------------------
Status gateMerge(const KernelCall &call) {
  const std::string kernel = "msa_gate_merge";
  Params p;
  if (Status s = readParams(call, kernel, p); !s)
    return s;
  if (Status s = checkShape(kernel, p); !s)
    return s;
  const Args args(kernel, call);
  const auto *oW = ptrArg<const void>(args, "o_w");
  const auto *lseW = ptrArg<const float>(args, "lse_w");
  const auto *oS = ptrArg<const void>(args, "o_s");
  const auto *lseS = ptrArg<const float>(args, "lse_s");
  const auto *topScores = ptrArg<const float>(args, "top_scores");
  auto *out = ptrArg<void>(args, "out");
  const int64_t ldo = iArg(args, "ldo"), n = iArg(args, "n");
  const int64_t heads = p["HEADS"], dim = p["HEAD_DIM"], k = p["NUM_SPANS"];
  if (n < 0)
    return Status::error(kernel + ": n is negative");
  if (n == 0)
    return Status::success();
  if (Status s = checkLd(kernel, "ldo", ldo, heads * dim); !s)
    return s;
  if (Status s = requirePointers(kernel, {{"o_w", oW},
                                          {"lse_w", lseW},
                                          {"o_s", oS},
                                          {"lse_s", lseS},
                                          {"top_scores", topScores},
                                          {"out", out}});
      !s)
    return s;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t row = j * heads + h;
      const std::vector<float> g =
          gateWeights(std::vector<float>(topScores + row * k, topScores + row * k + k));
      for (int64_t d = 0; d < dim; ++d) {
        const float ow = load(p.elem, oW, row * dim + d);
        float acc = 0.0f;
        for (int64_t s = 0; s < k; ++s) {
          float wa, wb;
          lsePair(lseW[row], lseS[row * k + s], wa, wb);
          const float os = wb > 0.0f ? load(p.elem, oS, (row * k + s) * dim + d) : 0.0f;
          acc += g[s] * (wa * ow + wb * os);
        }
        store(p.elem, out, j * ldo + h * dim + d, acc);
      }
    }
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// msa_decode_attention
// ---------------------------------------------------------------------------------------------

// Piece p of `parts` of the inclusive interval [first, last], cut as the device does:
// ceil(len / parts) keys per piece, the last ones possibly short or empty (lo > hi).
void piece(int64_t first, int64_t last, int64_t parts, int64_t p, int64_t &lo, int64_t &hi) {
  if (first > last) {
    lo = 1;
    hi = 0;
    return;
  }
  const int64_t chunk = (last - first + 1 + parts - 1) / parts;
  lo = first + p * chunk;
  hi = std::min(last, lo + chunk - 1);
}

Status decodeAttention(const KernelCall &call) {
  const std::string kernel = "msa_decode_attention";
  Params p;
  if (Status s = readParams(call, kernel, p);
      !s)
    return s;
  if (Status s = checkShape(kernel, p); !s)
    return s;
  if (p["HEAD_DIM"] > 256)
    return Status::error(kernel + ": HEAD_DIM must be at most 256");
  const Args args(kernel, call);
  const CachedQuery in(args);
  const auto *offsets = ptrArg<const int64_t>(args, "anchor_offsets");
  const auto *spanReach = ptrArg<const int32_t>(args, "span_reach");
  const auto *partScores = ptrArg<const float>(args, "part_scores");
  const auto *partIdx = ptrArg<const int32_t>(args, "part_idx");
  auto *wsO = ptrArg<float>(args, "ws_o");
  auto *wsLse = ptrArg<float>(args, "ws_lse");
  const int64_t heads = p["HEADS"], group = heads / p["KV_HEADS"], dim = p["HEAD_DIM"];
  const int64_t k = p["NUM_SPANS"], window = p["W"], splitsR = p["SPLITS_R"];
  const int64_t splitW = p["SPLIT_W"], splitS = p["SPLIT_S"];
  if (Status s = checkCall(kernel, in.capacity, in.cacheLen, in.n); !s)
    return s;
  if (in.n == 0)
    return Status::success();
  if (Status s = checkLd(kernel, "ldq2", in.ldq2, heads * dim); !s)
    return s;
  if (Status s = requirePointers(kernel, {{"q2", in.q2},
                                          {"k_cache", in.kCache},
                                          {"v_cache", in.vCache},
                                          {"anchor_offsets", offsets},
                                          {"span_reach", spanReach},
                                          {"part_scores", partScores},
                                          {"part_idx", partIdx},
                                          {"ws_o", wsO},
                                          {"ws_lse", wsLse}});
      !s)
    return s;
  if (Status s = checkPartials(kernel, partIdx, offsets, splitsR, in.n, heads, k, in.cacheLen); !s)
    return s;

  const Queries queries{in.q2, in.ldq2, p.elem, dim};
  const Cache cache{in.kCache, in.vCache, p.elem, in.capacity, dim};
  const float scale2 = softmaxScale2(dim);
  // Piece q of (query j, head h): ws_lse[(q*in.n + j)*HEADS + h], ws_o at that index * HEAD_DIM.
  auto pieceIndex = [&](int64_t q, int64_t j, int64_t h) { return (q * in.n + j) * heads + h; };
  parallelFor(heads, [&](int64_t h) {
    const int64_t kvh = h / group;
    for (int64_t j = 0; j < in.n; ++j) {
      const int64_t pos = in.cacheLen - in.n + j;
      const std::vector<float> q = queries.row(j, h);
      // Every piece is a flash-decode over its keys (q pre-scaled, P kept in fp32).
      std::vector<float> qScaled(dim);
      for (int64_t d = 0; d < dim; ++d)
        qScaled[d] = q[d] * scale2;
      for (int64_t w = 0; w < splitW; ++w) {
        int64_t lo, hi;
        piece(windowStart(pos, window), pos, splitW, w, lo, hi);
        const int64_t idx = pieceIndex(w, j, h);
        attendKeys(cache, kvh, qScaled, 1.0f, lo, hi, false, wsO + idx * dim, wsLse[idx]);
      }
      const TopK top = resolvePartials(partScores, partIdx, splitsR, in.n, heads, k, j, h);
      for (int64_t slot = 0; slot < k; ++slot) {
        int32_t start, end;
        spanExtent(top.stripe[slot], pos, offsets, window, spanReach[2 * j],
                   spanReach[2 * j + 1], start, end);
        for (int64_t s = 0; s < splitS; ++s) {
          int64_t lo, hi;
          piece(start, end, splitS, s, lo, hi);
          const int64_t idx = pieceIndex(splitW + slot * splitS + s, j, h);
          attendKeys(cache, kvh, qScaled, 1.0f, lo, hi, false, wsO + idx * dim, wsLse[idx]);
        }
      }
    }
  });
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// msa_decode_combine
// ---------------------------------------------------------------------------------------------
Status decodeCombine(const KernelCall &call) {
  const std::string kernel = "msa_decode_combine";
  Params p;
  if (Status s = readParams(call, kernel, p);
      !s)
    return s;
  if (Status s = checkShape(kernel, p); !s)
    return s;
  const Args args(kernel, call);
  const auto *partScores = ptrArg<const float>(args, "part_scores");
  const auto *partIdx = ptrArg<const int32_t>(args, "part_idx");
  const auto *wsO = ptrArg<const float>(args, "ws_o");
  const auto *wsLse = ptrArg<const float>(args, "ws_lse");
  auto *out = ptrArg<void>(args, "out");
  const int64_t ldo = iArg(args, "ldo"), n = iArg(args, "n");
  const int64_t heads = p["HEADS"], dim = p["HEAD_DIM"], k = p["NUM_SPANS"];
  const int64_t splitsR = p["SPLITS_R"], splitW = p["SPLIT_W"], splitS = p["SPLIT_S"];
  if (n < 0)
    return Status::error(kernel + ": n is negative");
  if (n == 0)
    return Status::success();
  if (Status s = checkLd(kernel, "ldo", ldo, heads * dim); !s)
    return s;
  if (Status s = requirePointers(kernel, {{"part_scores", partScores},
                                          {"part_idx", partIdx},
                                          {"ws_o", wsO},
                                          {"ws_lse", wsLse},
                                          {"out", out}});
      !s)
    return s;

  auto pieceIndex = [&](int64_t q, int64_t j, int64_t h) { return (q * n + j) * heads + h; };
  // LSE-merge of the pieces [first, first + count): merged lse and normalised O.
  auto mergePieces = [&](int64_t first, int64_t count, int64_t j, int64_t h, float &lse,
                         std::vector<float> &o) {
    float mx = kNegInf;
    for (int64_t q = first; q < first + count; ++q)
      mx = std::max(mx, wsLse[pieceIndex(q, j, h)]);
    float sum = 0.0f;
    for (int64_t q = first; q < first + count; ++q)
      sum += mx == kNegInf ? 0.0f : std::exp(wsLse[pieceIndex(q, j, h)] - mx);
    lse = mx == kNegInf ? kNegInf : mx + std::log(sum);
    std::fill(o.begin(), o.end(), 0.0f);
    if (lse == kNegInf)
      return;
    for (int64_t q = first; q < first + count; ++q) {
      const int64_t idx = pieceIndex(q, j, h);
      if (wsLse[idx] == kNegInf)
        continue;
      const float weight = std::exp(wsLse[idx] - lse);
      for (int64_t d = 0; d < dim; ++d)
        o[d] += weight * wsO[idx * dim + d];
    }
  };

  std::vector<float> oW(dim), oS(dim), acc(dim);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t h = 0; h < heads; ++h) {
      const TopK top = resolvePartials(partScores, partIdx, splitsR, n, heads, k, j, h);
      const std::vector<float> g = gateWeights(top.score);
      float lseW;
      mergePieces(0, splitW, j, h, lseW, oW);
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t slot = 0; slot < k; ++slot) {
        float lseS;
        mergePieces(splitW + slot * splitS, splitS, j, h, lseS, oS);
        float wa, wb;
        lsePair(lseW, lseS, wa, wb);
        for (int64_t d = 0; d < dim; ++d)
          acc[d] += g[slot] * (wa * oW[d] + wb * oS[d]);
      }
      for (int64_t d = 0; d < dim; ++d)
        store(p.elem, out, j * ldo + h * dim + d, acc[d]);
    }
  return Status::success();
}

}  // namespace

std::vector<KernelEntry> msaKernels() {
  return {
      {"msa_anchor_topk", anchorTopk},
      {"msa_route_merge", routeMerge},
      {"msa_window_attention", windowAttention},
      {"msa_span_order", spanOrder},
      {"msa_span_attention", spanAttention},
      {"msa_gate_merge", gateMerge},
      {"msa_decode_attention", decodeAttention},
      {"msa_decode_combine", decodeCombine},
  };
}

}  // namespace sl::cpu
