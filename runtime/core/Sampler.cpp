#include "runtime/core/Sampler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <sstream>

namespace sl::runtime {

namespace {

using u128 = unsigned __int128;
using i128 = __int128;

constexpr uint64_t kOne = uint64_t(1) << 62;                   // 1.0 in Q62
constexpr uint64_t kLog2eQ62 = 6653256548922161246ull;        // log2(e) * 2^62
constexpr uint64_t kLn2Q62 = 3196577161300663915ull;          // ln(2) * 2^62
constexpr double kMaxExponent = 45.0;  // exp(-45) * 2^62 < 1: weight 0

uint64_t mulQ62(uint64_t a, uint64_t b) { return uint64_t((u128(a) * b) >> 62); }

// exp(-t) in Q62 for 0 <= t < 1 given in Q62, by its Taylor series in integer arithmetic.
uint64_t expNegSeries(uint64_t t, int terms) {
  i128 sum = kOne;
  uint64_t term = kOne;
  for (int k = 1; k <= terms; ++k) {
    term = mulQ62(term, t) / uint64_t(k);
    sum += (k & 1) ? -i128(term) : i128(term);
  }
  return uint64_t(sum);
}

// 2^(-i/256) in Q62, i = 0 .. 255.
const std::array<uint64_t, 256> &exp2Table() {
  static const std::array<uint64_t, 256> table = [] {
    std::array<uint64_t, 256> t{};
    for (uint64_t i = 0; i < 256; ++i)
      t[i] = expNegSeries((u128(kLn2Q62) * i) >> 8, 30);  // t = i * ln2 / 256 < 0.7
    return t;
  }();
  return table;
}

// exp(-a) * 2^62, rounded down, for a >= 0 given in Q32 (a < 64).
uint64_t fixedExpNeg(uint64_t aQ32) {
  // y = a * log2(e) in Q40: integer part n, fraction g; exp(-a) = 2^-n * 2^-g.
  const u128 y = (u128(aQ32) * kLog2eQ62) >> 54;
  const uint64_t n = uint64_t(y >> 40);
  if (n >= 63)
    return 0;
  const uint64_t g = uint64_t(y) & ((uint64_t(1) << 40) - 1);
  const uint64_t hi = g >> 32;                              // top 8 bits of the fraction
  const uint64_t lo = g & ((uint64_t(1) << 32) - 1);        // remainder < 2^-8, Q40
  const uint64_t t = uint64_t((u128(lo) * kLn2Q62) >> 40);  // lo * ln2 in Q62, < 0.0028
  const uint64_t v = mulQ62(exp2Table()[hi], expNegSeries(t, 7));
  return v >> n;
}

// A strict total order: larger logit first, then lower id.
bool before(float la, int32_t ia, float lb, int32_t ib) {
  return la > lb || (la == lb && ia < ib);
}

std::string formatDouble(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

Status validateSamplingParams(const SamplingParams &p) {
  if (!(p.temperature >= 0.0) || std::isinf(p.temperature))
    return Status::error("sampling: temperature must be a finite number >= 0 (0 = greedy), got " +
                         formatDouble(p.temperature));
  if (!(p.top_p > 0.0 && p.top_p <= 1.0))
    return Status::error("sampling: top_p must be in (0, 1] (1 = off), got " +
                         formatDouble(p.top_p));
  if (p.top_k < 0)
    return Status::error("sampling: top_k must be >= 0 (0 = off), got " +
                         std::to_string(p.top_k));
  return Status::success();
}

StatusOr<int32_t> greedyToken(const float *logits, int64_t vocab) {
  if (vocab <= 0 || vocab > std::numeric_limits<int32_t>::max())
    return Status::error("sampling: invalid vocabulary size " + std::to_string(vocab));
  if (!logits)
    return Status::error("sampling: no logits");
  int32_t best = -1;
  float bestLogit = 0.0f;
  for (int64_t i = 0; i < vocab; ++i) {
    const float l = logits[i];
    if (std::isnan(l))
      return Status::error("sampling: logit of token " + std::to_string(i) + " is NaN");
    if (best < 0 || l > bestLogit) {
      best = int32_t(i);
      bestLogit = l;
    }
  }
  return best;
}

StatusOr<Sampler> Sampler::create(const SamplingParams &params) {
  if (Status s = validateSamplingParams(params); !s.ok())
    return s;
  return Sampler(params);
}

StatusOr<int32_t> Sampler::sample(const float *logits, int64_t vocab) {
  StatusOr<int32_t> argmax = greedyToken(logits, vocab);  // validates vocab and NaN
  if (!argmax.ok() || greedy())
    return argmax;
  const float maxLogit = logits[*argmax];
  if (maxLogit == -std::numeric_limits<float>::infinity())
    return Status::error("sampling: every logit is -inf; no token can be sampled");
  const bool maxIsInf = std::isinf(maxLogit);

  // Candidates with non-zero probability, in id order.
  std::vector<Candidate> &cands = candidates_;
  cands.clear();
  const double m = maxLogit, temperature = params_.temperature;
  for (int64_t i = 0; i < vocab; ++i) {
    const float l = logits[i];
    if (maxIsInf) {  // +inf logits share all the probability
      if (l == maxLogit)
        cands.push_back({l, int32_t(i), 0});
      continue;
    }
    const double a = (m - double(l)) / temperature;  // >= 0; +inf for -inf logits
    if (a > kMaxExponent)
      continue;
    cands.push_back({l, int32_t(i), uint64_t(std::llround(a * 4294967296.0))});
  }
  auto order = [](const Candidate &x, const Candidate &y) {
    return before(x.logit, x.id, y.logit, y.id);
  };

  // Top-k: the k largest logits, lowest ids on ties, sorted (a canonical order).
  const size_t k = size_t(params_.top_k);
  if (k > 0 && k < cands.size()) {
    std::nth_element(cands.begin(), cands.begin() + std::ptrdiff_t(k), cands.end(), order);
    cands.resize(k);
    std::sort(cands.begin(), cands.end(), order);
  }

  // Weights (the `weight` field held a in Q32 until now).
  size_t kept = 0;
  for (size_t i = 0; i < cands.size(); ++i) {
    Candidate c = cands[i];
    c.weight = maxIsInf ? kOne : fixedExpNeg(c.weight);
    if (c.weight)
      cands[kept++] = c;
  }
  cands.resize(kept);  // never empty: the max has weight 2^62

  // Top-p: the shortest prefix, in (logit desc, id asc) order, whose weight reaches top_p of
  // the total, i.e. cumulative * 2^32 >= P * total with P = top_p in Q32.
  if (params_.top_p < 1.0) {
    u128 total = 0;
    for (const Candidate &c : cands)
      total += c.weight;
    const u128 p = u128(std::llround(params_.top_p * 4294967296.0));
    const u128 threshold = p * total;  // < 2^33 * 2^80
    u128 cumulative = 0;
    size_t sorted = 0, cut = cands.size();
    for (size_t chunk = 256; sorted < cands.size() && cut == cands.size(); chunk *= 8) {
      const size_t end = std::min(cands.size(), sorted + chunk);
      // Everything before `sorted` is already in place and precedes the rest. The order is a
      // strict total one, so the partition and the sorted chunk do not depend on the library.
      if (end < cands.size())
        std::nth_element(cands.begin() + std::ptrdiff_t(sorted),
                         cands.begin() + std::ptrdiff_t(end), cands.end(), order);
      std::sort(cands.begin() + std::ptrdiff_t(sorted), cands.begin() + std::ptrdiff_t(end),
                order);
      for (size_t i = sorted; i < end; ++i) {
        cumulative += cands[i].weight;
        if ((cumulative << 32) >= threshold) {
          cut = i + 1;
          break;
        }
      }
      sorted = end;
    }
    cands.resize(cut);
  }

  // Draw r uniform in [0, total): floor(x * total / 2^64) for one raw 64-bit output x.
  u128 total = 0;
  for (const Candidate &c : cands)
    total += c.weight;
  const uint64_t x = rng_();
  const uint64_t totalHi = uint64_t(total >> 64), totalLo = uint64_t(total);
  const u128 r = u128(x) * totalHi + ((u128(x) * totalLo) >> 64);
  u128 cumulative = 0;
  for (const Candidate &c : cands) {
    cumulative += c.weight;
    if (r < cumulative)
      return c.id;
  }
  return cands.back().id;  // unreachable: r < total
}

}  // namespace sl::runtime
