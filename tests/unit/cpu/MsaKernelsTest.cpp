// Tests of the CPU reference kernels of multi-step attention (runtime/cpu/MsaKernels.cpp)
// against an independent, naive implementation of ../shared/docs/SUPERLINEAR.md section 3
// written here: per (query, head), in double precision, enumerate the anchors, score them, keep
// the top k (ties -> farther anchor), build the spans, one softmax over span U window per span,
// gate. The kernels run as the documented launch sequences (docs/kernels-msa.md) on a KV cache
// filled directly ([KV_HEADS][capacity][HEAD_DIM]).
//
// Routing inputs (q1 and K) are multiples of 1/4 in [-1, 1], so every routing score is an exact
// multiple of 1/16 in fp32 and in double whatever the summation order: scores, ties and extents
// must match the naive implementation exactly (and ties, which are frequent, exercise the tie
// rule).
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cpu/Elements.h"
#include "runtime/math/SuperlinearMath.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

using sl::cpu::Elem;
using sl::cpu::KernelArg;
using sl::cpu::KernelCall;

const double kInf = std::numeric_limits<double>::infinity();

// ---------------------------------------------------------------------------------------------
// Problem: hyper-parameters, inputs, the naive reference
// ---------------------------------------------------------------------------------------------
struct Config {
  int heads = 4, kvHeads = 2, dim = 16, k = 3;
  int swIndex = 4;
  double searchPower = 0.55, spanPower = 0.55, backward = 3.0, forward = 1.0;
};

std::string describe(const Config &c, Elem elem, int64_t L) {
  return std::string(elem == Elem::bf16 ? "bf16" : "f32") + " H=" + std::to_string(c.heads) +
         " KVH=" + std::to_string(c.kvHeads) + " D=" + std::to_string(c.dim) +
         " k=" + std::to_string(c.k) + " sw=" + std::to_string(c.swIndex) +
         " p=" + std::to_string(c.searchPower) + " L=" + std::to_string(L);
}

// floor(i^(1/p)), the test's own evaluation.
int64_t naiveFloorPower(int64_t i, double p) {
  return static_cast<int64_t>(std::floor(std::pow(static_cast<double>(i), 1.0 / p)));
}

struct Problem {
  Config cfg;
  Elem elem;
  int64_t L;         // sequence length (keys 0..L-1)
  int64_t capacity;  // cache positions
  int64_t W;         // window, by the naive floor_power
  // Values exactly representable in elem.
  std::vector<float> q1, q2;  // [L][heads*dim]
  std::vector<float> k, v;    // [kvHeads][capacity][dim] (positions >= L unused)
  int64_t qIndex(int64_t pos, int64_t h, int64_t d) const {
    return (pos * cfg.heads + h) * cfg.dim + d;
  }
  int64_t kvIndex(int64_t kvh, int64_t pos, int64_t d) const {
    return (kvh * capacity + pos) * cfg.dim + d;
  }
};

Problem makeProblem(const Config &cfg, Elem elem, int64_t L, unsigned seed) {
  Problem p{cfg, elem, L, L + 13, naiveFloorPower(cfg.swIndex + 1, cfg.searchPower) - 1, {}, {},
            {}, {}};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> quarter(-4, 4);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const int64_t qSize = L * cfg.heads * cfg.dim, kvSize = cfg.kvHeads * p.capacity * cfg.dim;
  p.q1.resize(qSize);
  p.q2.resize(qSize);
  p.k.assign(kvSize, 0.0f);
  p.v.assign(kvSize, 0.0f);
  for (int64_t i = 0; i < qSize; ++i) {
    p.q1[i] = quarter(rng) / 4.0f;
    p.q2[i] = sl::cpu::roundTo(elem, 1.5f * uniform(rng));
  }
  for (int64_t kvh = 0; kvh < cfg.kvHeads; ++kvh)
    for (int64_t t = 0; t < L; ++t)
      for (int64_t d = 0; d < cfg.dim; ++d) {
        p.k[p.kvIndex(kvh, t, d)] = quarter(rng) / 4.0f;
        p.v[p.kvIndex(kvh, t, d)] = sl::cpu::roundTo(elem, uniform(rng));
      }
  return p;
}

// One routing slot of the naive implementation.
struct NaiveSlot {
  double score = -kInf;
  int64_t stripe = -1;  // i - (sw_index + 1), the kernels' stripe index; -1 missing
  int64_t start = 0, end = -1;
};

struct NaiveQuery {
  std::vector<NaiveSlot> slots;  // best first
  std::vector<double> out;       // [dim]
};

double dotQK(const Problem &p, const std::vector<float> &q, int64_t pos, int64_t h, int64_t kvh,
             int64_t key) {
  double s = 0.0;
  for (int64_t d = 0; d < p.cfg.dim; ++d)
    s += static_cast<double>(q[p.qIndex(pos, h, d)]) * p.k[p.kvIndex(kvh, key, d)];
  return s;
}

// Softmax attention of q2[pos, h] over `keys` (scale 1/sqrt(D)).
std::vector<double> attendNaive(const Problem &p, int64_t pos, int64_t h,
                                const std::vector<int64_t> &keys) {
  const int64_t kvh = h / (p.cfg.heads / p.cfg.kvHeads);
  const double scale = 1.0 / std::sqrt(static_cast<double>(p.cfg.dim));
  std::vector<double> score(keys.size());
  double mx = -kInf;
  for (size_t i = 0; i < keys.size(); ++i) {
    score[i] = dotQK(p, p.q2, pos, h, kvh, keys[i]) * scale;
    mx = std::max(mx, score[i]);
  }
  std::vector<double> o(p.cfg.dim, 0.0);
  double sum = 0.0;
  for (size_t i = 0; i < keys.size(); ++i) {
    const double w = std::exp(score[i] - mx);
    sum += w;
    for (int64_t d = 0; d < p.cfg.dim; ++d)
      o[d] += w * p.v[p.kvIndex(kvh, keys[i], d)];
  }
  for (double &x : o)
    x /= sum;
  return o;
}

// SUPERLINEAR.md section 3 for the query at pos, head h.
NaiveQuery naiveQuery(const Problem &p, int64_t pos, int64_t h) {
  const Config &c = p.cfg;
  const int64_t kvh = h / (c.heads / c.kvHeads);
  const int64_t t = pos + 1;
  const int64_t swStart = std::max<int64_t>(pos - p.W + 1, 0);
  // Anchors and routing scores.
  struct Candidate {
    double score;
    int64_t i, anchor;
  };
  std::vector<Candidate> cands;
  for (int64_t i = c.swIndex + 1;; ++i) {
    const int64_t anchor = pos - naiveFloorPower(i, c.searchPower) + 1;
    if (anchor < 0)
      break;
    cands.push_back({dotQK(p, p.q1, pos, h, kvh, anchor), i, anchor});
  }
  std::sort(cands.begin(), cands.end(), [](const Candidate &a, const Candidate &b) {
    return a.score != b.score ? a.score > b.score : a.i > b.i;
  });
  // Spans.
  const double reach = std::pow(static_cast<double>(t), c.spanPower);
  const int64_t bl = static_cast<int64_t>(std::ceil(c.backward * reach));
  const int64_t fl = static_cast<int64_t>(std::ceil(c.forward * reach));
  std::vector<int64_t> windowKeys;
  for (int64_t key = swStart; key <= pos; ++key)
    windowKeys.push_back(key);
  NaiveQuery result;
  result.slots.resize(c.k);
  std::vector<std::vector<double>> outs;
  std::vector<double> gateScores;
  for (int j = 0; j < c.k; ++j) {
    std::vector<int64_t> keys;
    int64_t spanLo = 0, spanHi = -1;
    if (j < static_cast<int>(cands.size())) {
      NaiveSlot &slot = result.slots[j];
      slot.score = cands[j].score;
      slot.stripe = cands[j].i - (c.swIndex + 1);
      slot.start = std::max<int64_t>(cands[j].anchor - bl, 0);
      slot.end = std::min({cands[j].anchor + fl, pos, swStart - 1});
      spanLo = slot.start;
      spanHi = slot.end;
      for (int64_t key = spanLo; key <= spanHi; ++key)
        keys.push_back(key);
      gateScores.push_back(slot.score);
    } else {
      gateScores.push_back(-1e9);
    }
    for (int64_t key : windowKeys)  // the union: window keys not already in the span
      if (key < spanLo || key > spanHi)
        keys.push_back(key);
    outs.push_back(attendNaive(p, pos, h, keys));
  }
  // Gate: softmax over the k scores (missing: -1e9); uniform when all are missing.
  std::vector<double> g(c.k, 1.0 / c.k);
  if (!cands.empty()) {
    const double mx = *std::max_element(gateScores.begin(), gateScores.end());
    double sum = 0.0;
    for (int j = 0; j < c.k; ++j)
      sum += (g[j] = std::exp(gateScores[j] - mx));
    for (double &x : g)
      x /= sum;
  }
  result.out.assign(c.dim, 0.0);
  for (int j = 0; j < c.k; ++j)
    for (int64_t d = 0; d < c.dim; ++d)
      result.out[d] += g[j] * outs[j][d];
  return result;
}

// naive[pos][h] for all positions.
std::vector<std::vector<NaiveQuery>> naiveAll(const Problem &p) {
  std::vector<std::vector<NaiveQuery>> all(p.L);
  for (int64_t pos = 0; pos < p.L; ++pos)
    for (int64_t h = 0; h < p.cfg.heads; ++h)
      all[pos].push_back(naiveQuery(p, pos, h));
  return all;
}

// ---------------------------------------------------------------------------------------------
// Buffers and kernel calls
// ---------------------------------------------------------------------------------------------

// A device-style buffer of elements of type elem.
struct Buf {
  Elem elem;
  std::vector<uint16_t> b;
  std::vector<float> f;
  Buf(Elem e, size_t n, float fill = 0.0f) : elem(e) {
    if (e == Elem::bf16)
      b.assign(n, sl::cpu::floatToBf16(fill));
    else
      f.assign(n, fill);
  }
  void *at(size_t offset) {
    return elem == Elem::bf16 ? static_cast<void *>(b.data() + offset)
                              : static_cast<void *>(f.data() + offset);
  }
  float get(size_t i) const { return sl::cpu::load(elem, elem == Elem::bf16 ? (const void *)b.data() : (const void *)f.data(), i); }
  void set(size_t i, float value) { sl::cpu::store(elem, at(0), i, value); }
};

KernelArg P(const void *pointer) {
  KernelArg a;
  a.pointer = const_cast<void *>(pointer);
  return a;
}
KernelArg I(int64_t value) {
  KernelArg a;
  a.integer = value;
  return a;
}

sl::Status callKernel(const std::string &name, const std::vector<std::string> &templateArgs,
                      const std::vector<KernelArg> &args) {
  sl::cpu::KernelFn fn = sl::cpu::lookupKernel(name);
  if (!fn)
    return sl::Status::error("no CPU kernel " + name);
  return fn(KernelCall{templateArgs, args});
}

#define ASSERT_OK(expr)                                                                        \
  do {                                                                                         \
    sl::Status status_ = (expr);                                                               \
    ASSERT_TRUE(status_.ok()) << status_.message();                                            \
  } while (0)

std::string elemSpelling(Elem e) { return e == Elem::bf16 ? "slk::bf16" : "float"; }
std::string S(int64_t v) { return std::to_string(v); }

// Host tables, as the runtime builds them (SuperlinearMath.h is the one host definition).
std::vector<int64_t> anchorOffsets(const Config &c, int64_t capacity) {
  std::vector<int64_t> table;
  for (int64_t i = 0;; ++i) {
    table.push_back(sl::math::floorPower(c.swIndex + 1 + i, c.searchPower) - 1);
    if (table.back() > capacity - 1)
      break;
  }
  return table;
}
std::vector<int32_t> spanReach(const Config &c, int64_t firstPos, int64_t n) {
  std::vector<int32_t> reach;
  for (int64_t j = 0; j < n; ++j) {
    reach.push_back(static_cast<int32_t>(sl::math::spanReach(firstPos + j, c.backward, c.spanPower)));
    reach.push_back(static_cast<int32_t>(sl::math::spanReach(firstPos + j, c.forward, c.spanPower)));
  }
  return reach;
}

// The session state the kernels see: q1/q2 rows (row stride ldq), the KV cache (positions not
// yet appended hold NaN, so reading them poisons the result).
struct Session {
  const Problem &p;
  int64_t ldq;
  Buf q1, q2, kCache, vCache;
  std::vector<int64_t> offsets;
  int64_t W;  // the kernels' W, by SuperlinearMath.h
  explicit Session(const Problem &problem)
      : p(problem), ldq(problem.cfg.heads * problem.cfg.dim + 8),
        q1(problem.elem, problem.L * ldq), q2(problem.elem, problem.L * ldq),
        kCache(problem.elem, problem.k.size(), std::nanf("")),
        vCache(problem.elem, problem.v.size(), std::nanf("")),
        offsets(anchorOffsets(problem.cfg, problem.capacity)),
        W(sl::math::windowLength(problem.cfg.swIndex, problem.cfg.searchPower)) {
    const int64_t hd = p.cfg.heads * p.cfg.dim;
    for (int64_t pos = 0; pos < p.L; ++pos)
      for (int64_t e = 0; e < hd; ++e) {
        q1.set(pos * ldq + e, p.q1[pos * hd + e]);
        q2.set(pos * ldq + e, p.q2[pos * hd + e]);
      }
  }
  // kv_append of positions [from, to).
  void append(int64_t from, int64_t to) {
    for (int64_t kvh = 0; kvh < p.cfg.kvHeads; ++kvh)
      for (int64_t pos = from; pos < to; ++pos)
        for (int64_t d = 0; d < p.cfg.dim; ++d) {
          kCache.set(p.kvIndex(kvh, pos, d), p.k[p.kvIndex(kvh, pos, d)]);
          vCache.set(p.kvIndex(kvh, pos, d), p.v[p.kvIndex(kvh, pos, d)]);
        }
  }
};

// Routing results of one call, [n, heads, k].
struct Routing {
  std::vector<float> scores;
  std::vector<int32_t> start, end;
};

// Prefill launch sequence for queries [from, to) against a cache of length `to`: out [n][ldo]
// with ldo = heads*dim + 16 (columns beyond heads*dim untouched).
struct PrefillResult {
  Routing routing;
  std::vector<float> out;  // [n][heads*dim]
};

void runPrefill(Session &s, int64_t from, int64_t to, PrefillResult &result) {
  const Config &c = s.p.cfg;
  const Elem elem = s.p.elem;
  const int64_t n = to - from, H = c.heads, D = c.dim, K = c.k;
  const std::string T = elemSpelling(elem);
  std::vector<int32_t> reach = spanReach(c, from, n);
  Routing &r = result.routing;
  r.scores.assign(n * H * K, 0.0f);
  r.start.assign(n * H * K, 7);
  r.end.assign(n * H * K, 7);
  ASSERT_OK(callKernel("msa_anchor_topk",
                       {T, S(H), S(c.kvHeads), S(D), S(K), S(s.W), "4", "4", "1"},
                       {P(s.q1.at(from * s.ldq)), I(s.ldq), P(s.kCache.at(0)), I(s.p.capacity),
                        I(to), I(n), P(s.offsets.data()), I((int64_t)s.offsets.size()),
                        P(reach.data()), P(r.scores.data()), P(r.start.data()), P(r.end.data()),
                        P(nullptr), P(nullptr)}));
  Buf oW(elem, n * H * D), oS(elem, n * H * K * D);
  std::vector<float> lseW(n * H), lseS(n * H * K);
  ASSERT_OK(callKernel("msa_window_attention", {T, S(H), S(c.kvHeads), S(D), S(s.W), "4"},
                       {P(s.q2.at(from * s.ldq)), I(s.ldq), P(s.kCache.at(0)),
                        P(s.vCache.at(0)), I(s.p.capacity), I(to), I(n), P(oW.at(0)),
                        P(lseW.data())}));
  ASSERT_OK(callKernel("msa_span_attention", {T, S(H), S(c.kvHeads), S(D), S(K), "4"},
                       {P(s.q2.at(from * s.ldq)), I(s.ldq), P(s.kCache.at(0)),
                        P(s.vCache.at(0)), I(s.p.capacity), I(to), I(n), P(r.start.data()),
                        P(r.end.data()), P(nullptr), P(oS.at(0)), P(lseS.data())}));
  const int64_t ldo = H * D + 16;
  Buf out(elem, n * ldo, 123.0f);
  ASSERT_OK(callKernel("msa_gate_merge", {T, S(H), S(D), S(K)},
                       {P(oW.at(0)), P(lseW.data()), P(oS.at(0)), P(lseS.data()),
                        P(r.scores.data()), P(out.at(0)), I(ldo), I(n)}));
  result.out.assign(n * H * D, 0.0f);
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t e = 0; e < H * D; ++e)
      result.out[j * H * D + e] = out.get(j * ldo + e);
    for (int64_t e = H * D; e < ldo; ++e)
      ASSERT_EQ(out.get(j * ldo + e), 123.0f) << "gate_merge wrote past HEADS*HEAD_DIM";
  }
}

// Decode launch sequence for the last n queries of a cache of length `len`.
struct DecodeResult {
  std::vector<float> partScores;
  std::vector<int32_t> partIdx;
  Routing merged;          // msa_route_merge
  std::vector<float> out;  // [n][heads*dim]
  std::vector<float> wsO, wsLse;
};

struct DecodeSplits {
  int splitsR = 8, splitW = 4, splitS = 3;
};

void runDecode(Session &s, int64_t len, int64_t n, DecodeSplits sp, DecodeResult &result) {
  const Config &c = s.p.cfg;
  const Elem elem = s.p.elem;
  const int64_t H = c.heads, D = c.dim, K = c.k;
  const std::string T = elemSpelling(elem);
  const int64_t from = len - n;
  std::vector<int32_t> reach = spanReach(c, from, n);
  result.partScores.assign(sp.splitsR * n * H * K, 5.0f);
  result.partIdx.assign(sp.splitsR * n * H * K, 99999);
  ASSERT_OK(callKernel(
      "msa_anchor_topk", {T, S(H), S(c.kvHeads), S(D), S(K), S(s.W), "4", "1", S(sp.splitsR)},
      {P(s.q1.at(from * s.ldq)), I(s.ldq), P(s.kCache.at(0)), I(s.p.capacity), I(len), I(n),
       P(s.offsets.data()), I((int64_t)s.offsets.size()), P(reach.data()), P(nullptr),
       P(nullptr), P(nullptr), P(result.partScores.data()), P(result.partIdx.data())}));
  Routing &m = result.merged;
  m.scores.assign(n * H * K, 0.0f);
  m.start.assign(n * H * K, 7);
  m.end.assign(n * H * K, 7);
  ASSERT_OK(callKernel("msa_route_merge", {S(H), S(K), S(s.W), S(sp.splitsR)},
                       {P(result.partScores.data()), P(result.partIdx.data()), I(len), I(n),
                        P(s.offsets.data()), P(reach.data()), P(m.scores.data()),
                        P(m.start.data()), P(m.end.data())}));
  const int64_t pieces = sp.splitW + K * sp.splitS;
  result.wsO.assign(pieces * n * H * D, 77.0f);
  result.wsLse.assign(pieces * n * H, 77.0f);
  ASSERT_OK(callKernel("msa_decode_attention",
                       {T, S(H), S(c.kvHeads), S(D), S(K), S(s.W), S(sp.splitsR),
                        S(sp.splitW), S(sp.splitS)},
                       {P(s.q2.at(from * s.ldq)), I(s.ldq), P(s.kCache.at(0)),
                        P(s.vCache.at(0)), I(s.p.capacity), I(len), I(n),
                        P(s.offsets.data()), P(reach.data()), P(result.partScores.data()),
                        P(result.partIdx.data()), P(result.wsO.data()),
                        P(result.wsLse.data())}));
  for (float x : result.wsLse)
    ASSERT_NE(x, 77.0f) << "ws_lse slot not written";
  const int64_t ldo = H * D;
  Buf out(elem, n * ldo, 123.0f);
  ASSERT_OK(callKernel("msa_decode_combine",
                       {T, S(H), S(D), S(K), S(sp.splitsR), S(sp.splitW), S(sp.splitS)},
                       {P(result.partScores.data()), P(result.partIdx.data()),
                        P(result.wsO.data()), P(result.wsLse.data()), P(out.at(0)), I(ldo),
                        I(n)}));
  result.out.resize(n * ldo);
  for (int64_t e = 0; e < n * ldo; ++e)
    result.out[e] = out.get(e);
}

// ---------------------------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------------------------
double tolerance(Elem elem) { return elem == Elem::bf16 ? 1e-2 : 2e-5; }

// Routing of queries [from, from + n) must equal the naive one exactly.
void expectRouting(const Problem &p, const std::vector<std::vector<NaiveQuery>> &naive,
                   int64_t from, int64_t n, const Routing &r, const std::string &what) {
  const int64_t H = p.cfg.heads, K = p.cfg.k;
  int64_t mismatches = 0;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < K; ++s) {
        const NaiveSlot &ns = naive[from + j][h].slots[s];
        const int64_t e = (j * H + h) * K + s;
        const bool same = r.start[e] == ns.start && r.end[e] == ns.end &&
                          static_cast<double>(r.scores[e]) == ns.score;
        if (!same && ++mismatches <= 5)
          ADD_FAILURE() << what << ": pos " << from + j << " head " << h << " slot " << s
                        << ": kernel score " << r.scores[e] << " [" << r.start[e] << ", "
                        << r.end[e] << "], naive score " << ns.score << " [" << ns.start
                        << ", " << ns.end << "]";
      }
  EXPECT_EQ(mismatches, 0) << what;
}

// Outputs of queries [from, from + n) against the naive outputs.
void expectOutputs(const Problem &p, const std::vector<std::vector<NaiveQuery>> &naive,
                   int64_t from, int64_t n, const std::vector<float> &out,
                   const std::string &what) {
  const int64_t H = p.cfg.heads, D = p.cfg.dim;
  double maxErr = 0.0, sumErr = 0.0;
  int64_t worst = -1;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d) {
        const double err = std::abs(out[(j * H + h) * D + d] - naive[from + j][h].out[d]);
        if (!(err <= maxErr)) {  // NaN counts as worst
          maxErr = std::isnan(err) ? kInf : err;
          worst = from + j;
        }
        sumErr += err;
      }
  const double meanErr = sumErr / static_cast<double>(n * H * D);
  EXPECT_LE(maxErr, tolerance(p.elem)) << what << ": worst at pos " << worst;
  EXPECT_LE(meanErr, tolerance(p.elem) / 8) << what;
}

struct Case {
  Config cfg;
  int64_t L;
};

std::vector<Case> chainCases() {
  std::vector<Case> cases;
  Config a;  // p = 0.5 (integer 1/p), sw 3: W = 15, k = 1
  a.swIndex = 3, a.searchPower = 0.5, a.spanPower = 0.5, a.k = 1;
  cases.push_back({a, 300});
  Config b;  // p = 0.55, sw 5: W = 33, k = 2, GQA group 3, D 32
  b.swIndex = 5, b.k = 2, b.heads = 6, b.kvHeads = 2, b.dim = 32;
  cases.push_back({b, 1200});
  Config c;  // p = 0.55, sw 8: W = 53, k = 3
  c.swIndex = 8, c.k = 3;
  cases.push_back({c, 2000});
  Config d;  // p = 0.5, sw 6: W = 48, k = 3, group 4
  d.swIndex = 6, d.searchPower = 0.5, d.k = 3, d.heads = 4, d.kvHeads = 1;
  cases.push_back({d, 900});
  return cases;
}

class MsaKernels : public ::testing::TestWithParam<Elem> {};

// ---------------------------------------------------------------------------------------------
// Prefill chain: whole prefill in one call and in several chunks against the same cache.
// ---------------------------------------------------------------------------------------------
TEST_P(MsaKernels, PrefillChainMatchesNaive) {
  const Elem elem = GetParam();
  unsigned seed = 1;
  for (const Case &tc : chainCases()) {
    const Problem p = makeProblem(tc.cfg, elem, tc.L, seed++);
    const std::string what = describe(tc.cfg, elem, tc.L);
    ASSERT_EQ(p.W, sl::math::windowLength(tc.cfg.swIndex, tc.cfg.searchPower)) << what;
    ASSERT_GT(p.L, 5 * p.W) << what;
    const auto naive = naiveAll(p);

    // Whole prefill in one call.
    Session whole(p);
    whole.append(0, p.L);
    PrefillResult all;
    runPrefill(whole, 0, p.L, all);
    if (HasFatalFailure())
      return;
    expectRouting(p, naive, 0, p.L, all.routing, what + " whole");
    expectOutputs(p, naive, 0, p.L, all.out, what + " whole");

    // Chunked prefill: chunk boundaries of unequal sizes; not-yet-appended keys are NaN.
    Session chunked(p);
    std::vector<int64_t> bounds = {0, 1, 38, p.W + 2, 2 * p.W + 5, p.L / 2 + 7, p.L - 1, p.L};
    std::sort(bounds.begin(), bounds.end());
    bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
    for (size_t c = 0; c + 1 < bounds.size(); ++c) {
      const int64_t from = bounds[c], to = bounds[c + 1];
      chunked.append(from, to);
      PrefillResult part;
      runPrefill(chunked, from, to, part);
      if (HasFatalFailure())
        return;
      const std::string cw = what + " chunk [" + S(from) + ", " + S(to) + ")";
      expectRouting(p, naive, from, to - from, part.routing, cw);
      // Per-query computation: a chunk reproduces the whole prefill's rows bit for bit.
      const int64_t row = p.cfg.heads * p.cfg.dim;
      for (int64_t e = 0; e < (to - from) * row; ++e)
        ASSERT_EQ(part.out[e], all.out[from * row + e]) << cw << " element " << e;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decode chain: anchor_topk with SPLITS > 1 -> decode_attention -> decode_combine.
// ---------------------------------------------------------------------------------------------
TEST_P(MsaKernels, DecodeChainMatchesNaive) {
  const Elem elem = GetParam();
  unsigned seed = 100;
  for (const Case &tc : chainCases()) {
    const Problem p = makeProblem(tc.cfg, elem, tc.L, seed++);
    const std::string what = describe(tc.cfg, elem, tc.L);
    // Naive results of the last few queries only.
    std::vector<std::vector<NaiveQuery>> naive(p.L);
    for (int64_t pos = p.L - 3; pos < p.L; ++pos)
      for (int64_t h = 0; h < p.cfg.heads; ++h)
        naive[pos].push_back(naiveQuery(p, pos, h));
    Session s(p);
    s.append(0, p.L);
    for (DecodeSplits sp : {DecodeSplits{8, 4, 3}, DecodeSplits{3, 1, 1}, DecodeSplits{32, 8, 16}})
      for (int64_t n : {1, 3}) {
        const std::string dw = what + " decode n=" + S(n) + " SPLITS_R=" + S(sp.splitsR) +
                               " SPLIT_W=" + S(sp.splitW) + " SPLIT_S=" + S(sp.splitS);
        DecodeResult r;
        runDecode(s, p.L, n, sp, r);
        if (HasFatalFailure())
          return;
        const int64_t from = p.L - n;
        expectRouting(p, naive, from, n, r.merged, dw + " route_merge");
        expectOutputs(p, naive, from, n, r.out, dw);

        // Each split holds the top k of its documented share of the stripes:
        // [nv*z/SPLITS, nv*(z+1)/SPLITS), nv = number of valid stripes of the query.
        const int64_t H = p.cfg.heads, K = p.cfg.k;
        for (int64_t j = 0; j < n; ++j)
          for (int64_t h = 0; h < H; ++h) {
            const int64_t pos = from + j, kvh = h / (H / p.cfg.kvHeads);
            int64_t nv = 0;
            while (pos - naiveFloorPower(p.cfg.swIndex + 1 + nv, p.cfg.searchPower) + 1 >= 0)
              ++nv;
            for (int64_t z = 0; z < sp.splitsR; ++z) {
              std::vector<std::pair<double, int64_t>> share;
              for (int64_t i = nv * z / sp.splitsR; i < nv * (z + 1) / sp.splitsR; ++i) {
                const int64_t anchor =
                    pos - naiveFloorPower(p.cfg.swIndex + 1 + i, p.cfg.searchPower) + 1;
                share.push_back({dotQK(p, p.q1, pos, h, kvh, anchor), i});
              }
              std::sort(share.begin(), share.end(), [](auto &a, auto &b) {
                return a.first != b.first ? a.first > b.first : a.second > b.second;
              });
              for (int64_t slot = 0; slot < K; ++slot) {
                const int64_t e = ((z * n + j) * H + h) * K + slot;
                const bool has = slot < static_cast<int64_t>(share.size());
                ASSERT_EQ(r.partIdx[e], has ? share[slot].second : -1)
                    << dw << " split " << z << " pos " << pos << " head " << h;
                ASSERT_EQ(static_cast<double>(r.partScores[e]), has ? share[slot].first : -kInf)
                    << dw << " split " << z;
              }
            }
          }
      }
  }
}

// ---------------------------------------------------------------------------------------------
// Planted needle: a far key equal to a scaled copy of a query's q1 is selected, and its value
// dominates that query's output (prefill and decode).
// ---------------------------------------------------------------------------------------------
TEST_P(MsaKernels, PlantedNeedleIsFound) {
  const Elem elem = GetParam();
  Config c;
  c.swIndex = 4, c.k = 2;
  Problem p = makeProblem(c, elem, 1500, 7);
  const int64_t pos = p.L - 1, h = 1, kvh = h / (c.heads / c.kvHeads);
  // The farthest anchor of the query.
  int64_t stripe = 0;
  while (pos - naiveFloorPower(c.swIndex + 2 + stripe, c.searchPower) + 1 >= 0)
    ++stripe;
  const int64_t needle = pos - naiveFloorPower(c.swIndex + 1 + stripe, c.searchPower) + 1;
  ASSERT_GE(needle, 0);
  ASSERT_LT(needle, p.L / 4) << "the needle must be far from the query";
  double norm2 = 0.0;
  for (int64_t d = 0; d < c.dim; ++d) {
    if (d == 0)
      p.q1[p.qIndex(pos, h, d)] = 1.0f;  // q1 != 0
    const float q = p.q1[p.qIndex(pos, h, d)];
    norm2 += q * q;
    p.k[p.kvIndex(kvh, needle, d)] = 4.0f * q;
    p.q2[p.qIndex(pos, h, d)] = 2.0f * q;
    p.v[p.kvIndex(kvh, needle, d)] = 3.0f;
  }
  const NaiveQuery ref = naiveQuery(p, pos, h);
  ASSERT_EQ(ref.slots[0].stripe, stripe);
  ASSERT_EQ(ref.slots[0].score, 4.0 * norm2);

  Session s(p);
  s.append(0, p.L);
  PrefillResult pre;
  runPrefill(s, p.L - 50, p.L, pre);
  if (HasFatalFailure())
    return;
  const int64_t j = 49, e0 = (j * c.heads + h) * c.k;
  EXPECT_EQ(pre.routing.scores[e0], 4.0 * norm2);
  EXPECT_LE(pre.routing.start[e0], needle);
  EXPECT_GE(pre.routing.end[e0], needle);
  DecodeResult dec;
  runDecode(s, p.L, 1, DecodeSplits{}, dec);
  if (HasFatalFailure())
    return;
  for (int64_t d = 0; d < c.dim; ++d) {
    EXPECT_NEAR(pre.out[(j * c.heads + h) * c.dim + d], 3.0, 0.1) << "prefill d " << d;
    EXPECT_NEAR(dec.out[h * c.dim + d], 3.0, 0.1) << "decode d " << d;
    EXPECT_NEAR(ref.out[d], 3.0, 0.1) << "naive d " << d;
  }
}

// ---------------------------------------------------------------------------------------------
// L < W: no anchor is valid and the layer is exactly dense causal attention.
// ---------------------------------------------------------------------------------------------
TEST_P(MsaKernels, ShortSequenceIsDenseCausalAttention) {
  const Elem elem = GetParam();
  Config c;
  c.swIndex = 8, c.searchPower = 0.5, c.k = 3;  // W = 80
  const Problem p = makeProblem(c, elem, 70, 11);
  ASSERT_LT(p.L, p.W);
  // Dense causal attention, written directly.
  std::vector<std::vector<NaiveQuery>> dense(p.L);
  for (int64_t pos = 0; pos < p.L; ++pos)
    for (int64_t h = 0; h < c.heads; ++h) {
      std::vector<int64_t> keys;
      for (int64_t t = 0; t <= pos; ++t)
        keys.push_back(t);
      NaiveQuery q;
      q.slots.resize(c.k);  // all missing: score -inf, [0, -1]
      q.out = attendNaive(p, pos, h, keys);
      dense[pos].push_back(q);
    }
  Session s(p);
  s.append(0, p.L);
  PrefillResult pre;
  runPrefill(s, 0, p.L, pre);
  if (HasFatalFailure())
    return;
  expectRouting(p, dense, 0, p.L, pre.routing, "short prefill");
  expectOutputs(p, dense, 0, p.L, pre.out, "short prefill");
  DecodeResult dec;
  runDecode(s, p.L, 2, DecodeSplits{}, dec);
  if (HasFatalFailure())
    return;
  expectRouting(p, dense, p.L - 2, 2, dec.merged, "short decode");
  expectOutputs(p, dense, p.L - 2, 2, dec.out, "short decode");
  for (int32_t idx : dec.partIdx)
    EXPECT_EQ(idx, -1);
}

// ---------------------------------------------------------------------------------------------
// Decode pieces: the documented layout, the device's cut, empty pieces with lse = -inf.
// ---------------------------------------------------------------------------------------------
TEST_P(MsaKernels, DecodePiecesFollowTheDocumentedLayout) {
  const Elem elem = GetParam();
  Config c;
  c.swIndex = 3, c.searchPower = 0.5, c.k = 2, c.dim = 16;  // W = 15
  const Problem p = makeProblem(c, elem, 400, 21);
  Session s(p);
  s.append(0, p.L);
  const DecodeSplits sp{4, 4, 5};
  const int64_t n = 2, H = c.heads, D = c.dim;
  DecodeResult r;
  runDecode(s, p.L, n, sp, r);
  if (HasFatalFailure())
    return;
  auto index = [&](int64_t piece, int64_t j, int64_t h) { return (piece * n + j) * H + h; };
  for (int64_t j = 0; j < n; ++j)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t pos = p.L - n + j;
      // Window of 15 keys in 4 pieces of ceil(15/4) = 4: [pos-14, pos-11], ... [pos-2, pos].
      for (int64_t w = 0; w < sp.splitW; ++w) {
        const int64_t lo = pos - 14 + 4 * w, hi = std::min(pos, lo + 3);
        std::vector<int64_t> keys;
        for (int64_t t = lo; t <= hi; ++t)
          keys.push_back(t);
        const std::vector<double> o = attendNaive(p, pos, h, keys);
        for (int64_t d = 0; d < D; ++d)
          EXPECT_NEAR(r.wsO[index(w, j, h) * D + d], o[d], 1e-2)
              << "window piece " << w << " pos " << pos << " head " << h;
        EXPECT_TRUE(std::isfinite(r.wsLse[index(w, j, h)]));
      }
      // Span pieces: slot s piece q covers its ceil(len/SPLIT_S) share; a span shorter than
      // SPLIT_S pieces leaves empty pieces (lse -inf, O = 0). Missing slots: all empty.
      for (int64_t slot = 0; slot < c.k; ++slot) {
        const int64_t e = (j * H + h) * c.k + slot;
        const int64_t st = r.merged.start[e], en = r.merged.end[e];
        const int64_t len = en >= st ? en - st + 1 : 0;
        const int64_t chunk = len > 0 ? (len + sp.splitS - 1) / sp.splitS : 0;
        for (int64_t q = 0; q < sp.splitS; ++q) {
          const int64_t idx = index(sp.splitW + slot * sp.splitS + q, j, h);
          const int64_t lo = st + q * chunk, hi = std::min(en, lo + chunk - 1);
          if (len == 0 || lo > hi) {
            EXPECT_EQ(r.wsLse[idx], -std::numeric_limits<float>::infinity());
            for (int64_t d = 0; d < D; ++d)
              EXPECT_EQ(r.wsO[idx * D + d], 0.0f);
            continue;
          }
          std::vector<int64_t> keys;
          for (int64_t t = lo; t <= hi; ++t)
            keys.push_back(t);
          const std::vector<double> o = attendNaive(p, pos, h, keys);
          for (int64_t d = 0; d < D; ++d)
            EXPECT_NEAR(r.wsO[idx * D + d], o[d], 1e-4)
                << "slot " << slot << " piece " << q << " pos " << pos << " head " << h;
        }
      }
    }
}

// ---------------------------------------------------------------------------------------------
// msa_span_attention: any row_order permutation gives the same rows as the natural order.
// ---------------------------------------------------------------------------------------------
TEST_P(MsaKernels, SpanAttentionRowOrderIsOnlyAnOrder) {
  const Elem elem = GetParam();
  Config c;
  c.swIndex = 4, c.k = 3;
  const Problem p = makeProblem(c, elem, 500, 31);
  Session s(p);
  s.append(0, p.L);
  PrefillResult pre;
  const int64_t n = 60, from = p.L - n, H = c.heads, D = c.dim, K = c.k;
  runPrefill(s, from, p.L, pre);
  if (HasFatalFailure())
    return;
  const std::string T = elemSpelling(elem);
  const int64_t rows = n * (H / c.kvHeads) * K;
  std::vector<int32_t> order(c.kvHeads * rows);
  std::mt19937 rng(5);
  for (int64_t kvh = 0; kvh < c.kvHeads; ++kvh) {
    for (int64_t r = 0; r < rows; ++r)
      order[kvh * rows + r] = static_cast<int32_t>(r);
    std::shuffle(order.begin() + kvh * rows, order.begin() + (kvh + 1) * rows, rng);
  }
  Buf o1(elem, n * H * K * D), o2(elem, n * H * K * D);
  std::vector<float> l1(n * H * K), l2(n * H * K);
  for (int pass = 0; pass < 2; ++pass)
    ASSERT_OK(callKernel("msa_span_attention", {T, S(H), S(c.kvHeads), S(D), S(K), "4"},
                         {P(s.q2.at(from * s.ldq)), I(s.ldq), P(s.kCache.at(0)),
                          P(s.vCache.at(0)), I(p.capacity), I(p.L), I(n),
                          P(pre.routing.start.data()), P(pre.routing.end.data()),
                          P(pass ? order.data() : nullptr), P(pass ? o2.at(0) : o1.at(0)),
                          P(pass ? l2.data() : l1.data())}));
  for (int64_t e = 0; e < n * H * K * D; ++e)
    ASSERT_EQ(o1.get(e), o2.get(e));
  for (int64_t e = 0; e < n * H * K; ++e)
    ASSERT_EQ(l1[e], l2[e]);
  // Not a permutation (a repeated row, a negative id): an error, not unwritten rows.
  for (int32_t bad : {order[1], -1}) {
    std::vector<int32_t> broken = order;
    broken[0] = bad;
    const sl::Status status =
        callKernel("msa_span_attention", {T, S(H), S(c.kvHeads), S(D), S(K), "4"},
                   {P(s.q2.at(from * s.ldq)), I(s.ldq), P(s.kCache.at(0)), P(s.vCache.at(0)),
                    I(p.capacity), I(p.L), I(n), P(pre.routing.start.data()),
                    P(pre.routing.end.data()), P(broken.data()), P(o2.at(0)), P(l2.data())});
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.message().find("permutation"), std::string::npos) << status.message();
  }
}

// ---------------------------------------------------------------------------------------------
// msa_span_order: each kv head's rows, a permutation sorted by bucket of span start (stable).
// ---------------------------------------------------------------------------------------------
TEST(MsaSpanOrder, SortsRowsByBucketOfSpanStart) {
  const int64_t heads = 4, kvHeads = 2, k = 3, n = 37, cacheLen = 1000, buckets = 1024;
  const int64_t group = heads / kvHeads, rows = n * group * k;
  std::mt19937 rng(3);
  std::vector<int32_t> start(n * heads * k), end(n * heads * k);
  for (size_t e = 0; e < start.size(); ++e) {
    start[e] = int32_t(rng() % cacheLen);
    end[e] = rng() % 5 == 0 ? start[e] - 1 : start[e] + int32_t(rng() % 50);  // some empty
  }
  std::vector<int32_t> order(kvHeads * rows, -7);
  ASSERT_OK(callKernel("msa_span_order", {S(heads), S(kvHeads), S(k), S(buckets)},
                       {P(start.data()), P(end.data()), I(cacheLen), I(n), P(order.data())}));
  const int64_t width = (cacheLen + buckets - 1) / buckets;
  for (int64_t kvh = 0; kvh < kvHeads; ++kvh) {
    std::vector<bool> seen(rows, false);
    int64_t previousBucket = -1, previousId = -1;
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t id = order[kvh * rows + r];
      ASSERT_GE(id, 0);
      ASSERT_LT(id, rows);
      ASSERT_FALSE(seen[id]) << "row " << id << " twice";
      seen[id] = true;
      const int64_t j = id / (group * k), rest = id % (group * k);
      const int64_t e = j * heads * k + kvh * group * k + rest;
      const int64_t bucket = start[e] <= end[e] ? start[e] / width : 0;
      ASSERT_GE(bucket, previousBucket) << "kv head " << kvh << " entry " << r;
      if (bucket == previousBucket) {
        ASSERT_GT(id, previousId) << "not stable inside bucket " << bucket;
      }
      previousBucket = bucket;
      previousId = id;
    }
  }
  const sl::Status bad = callKernel("msa_span_order", {S(heads), S(kvHeads), S(k), S(buckets)},
                                    {P(start.data()), P(end.data()), I(5), I(n), P(order.data())});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("cache_len"), std::string::npos) << bad.message();
}

INSTANTIATE_TEST_SUITE_P(Msa, MsaKernels, ::testing::Values(Elem::f32, Elem::bf16),
                         [](const ::testing::TestParamInfo<Elem> &info) {
                           return std::string(info.param == Elem::bf16 ? "bf16" : "f32");
                         });

// ---------------------------------------------------------------------------------------------
// Invalid template or run-time arguments: a clear error, never a crash.
// ---------------------------------------------------------------------------------------------
TEST(MsaKernelsErrors, RejectInvalidArguments) {
  std::vector<float> buf(4096, 0.0f);
  std::vector<int64_t> offsets = {3, 8, 15};
  std::vector<int32_t> reach(16, 1), idx(4096, 0);
  const std::vector<KernelArg> topkArgs = {
      P(buf.data()), I(64), P(buf.data()), I(16), I(8), I(2), P(offsets.data()), I(3),
      P(reach.data()), P(buf.data()), P(idx.data()), P(idx.data()), P(nullptr), P(nullptr)};
  auto expectError = [](const sl::Status &status, const std::string &fragment) {
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.message().find(fragment), std::string::npos) << status.message();
  };
  // Valid call first, so the failures below are due to the one change each makes.
  ASSERT_OK(callKernel("msa_anchor_topk",
                       {"float", "4", "2", "16", "2", "3", "4", "4", "1"}, topkArgs));
  expectError(callKernel("msa_anchor_topk", {"half", "4", "2", "16", "2", "3", "4", "4", "1"},
                         topkArgs),
              "element type");
  expectError(callKernel("msa_anchor_topk",
                         {"float", "5", "2", "16", "2", "3", "4", "4", "1"}, topkArgs),
              "KV_HEADS");
  expectError(callKernel("msa_anchor_topk",
                         {"float", "4", "2", "16", "9", "3", "4", "4", "1"}, topkArgs),
              "NUM_SPANS");
  // Any head_dim on the CPU (the CUDA limits are slc's to check).
  EXPECT_TRUE(callKernel("msa_anchor_topk", {"float", "4", "2", "12", "2", "3", "4", "4", "1"},
                         topkArgs)
                  .ok());
  expectError(callKernel("msa_anchor_topk",
                         {"float", "4", "2", "16", "2", "3", "4", "3", "1"}, topkArgs),
              "QPB");
  expectError(callKernel("msa_anchor_topk",
                         {"float", "4", "2", "16", "x2", "3", "4", "4", "1"}, topkArgs),
              "NUM_SPANS");
  expectError(callKernel("msa_anchor_topk", {"float", "4", "2", "16", "2", "3", "4", "4"},
                         topkArgs),
              "template arguments");
  expectError(callKernel("msa_anchor_topk",
                         {"float", "4", "2", "16", "2", "3", "4", "4", "1"},
                         std::vector<KernelArg>(topkArgs.begin(), topkArgs.end() - 1)),
              "run-time arguments");
  // SPLITS > 1 needs the partial outputs.
  expectError(callKernel("msa_anchor_topk",
                         {"float", "4", "2", "16", "2", "3", "4", "4", "2"}, topkArgs),
              "part_scores");
  // n > cache_len.
  std::vector<KernelArg> bad = topkArgs;
  bad[5] = I(9);
  expectError(callKernel("msa_anchor_topk",
                         {"float", "4", "2", "16", "2", "3", "4", "4", "1"}, bad),
              "cache_len");
  // Decreasing anchor table.
  std::vector<int64_t> decreasing = {8, 3, 15};
  bad = topkArgs;
  bad[6] = P(decreasing.data());
  expectError(callKernel("msa_anchor_topk",
                         {"float", "4", "2", "16", "2", "3", "4", "4", "1"}, bad),
              "anchor_offsets");
  // Span outside the cache.
  std::vector<int32_t> start(64, 0), end(64, 100);
  expectError(callKernel("msa_span_attention", {"float", "4", "2", "16", "2", "4"},
                         {P(buf.data()), I(64), P(buf.data()), P(buf.data()), I(16), I(8), I(2),
                          P(start.data()), P(end.data()), P(nullptr), P(buf.data()),
                          P(buf.data())}),
              "outside the cache");
  // Null output.
  expectError(callKernel("msa_window_attention", {"slk::bf16", "4", "2", "16", "3", "4"},
                         {P(buf.data()), I(64), P(buf.data()), P(buf.data()), I(16), I(8), I(2),
                          P(nullptr), P(buf.data())}),
              "o_w");
  expectError(callKernel("msa_gate_merge", {"float", "4", "16", "2"},
                         {P(buf.data()), P(buf.data()), P(buf.data()), P(buf.data()),
                          P(buf.data()), P(buf.data()), I(32), I(2)}),
              "ldo");
  expectError(callKernel("msa_decode_combine", {"float", "4", "16", "2", "4", "0", "2"},
                         {P(buf.data()), P(idx.data()), P(buf.data()), P(buf.data()),
                          P(buf.data()), I(64), I(1)}),
              "SPLIT_W");
  // Every template is registered.
  for (const char *name : {"msa_anchor_topk", "msa_route_merge", "msa_window_attention",
                           "msa_span_order", "msa_span_attention", "msa_gate_merge",
                           "msa_decode_attention",
                           "msa_decode_combine"})
    EXPECT_NE(sl::cpu::lookupKernel(name), nullptr) << name;
}

}  // namespace
