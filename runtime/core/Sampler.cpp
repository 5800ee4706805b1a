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

// exp(-t) in Q62 for 0 <= t < 1 given in Q62, by its Taylor series (table construction only).
uint64_t expNegSeries(uint64_t t, int terms) {
  i128 sum = kOne;
  uint64_t term = kOne;
  for (int k = 1; k <= terms; ++k) {
    term = mulQ62(term, t) / uint64_t(k);
    sum += (k & 1) ? -i128(term) : i128(term);
  }
  return uint64_t(sum);
}

// 2^(-i/256) and 2^(-i/65536) in Q62, i = 0 .. 255, computed in integer arithmetic.
struct Exp2Tables {
  std::array<uint64_t, 256> hi, mid;
  Exp2Tables() {
    for (uint64_t i = 0; i < 256; ++i) {
      hi[i] = expNegSeries(uint64_t((u128(kLn2Q62) * i) >> 8), 30);    // t < 0.7
      mid[i] = expNegSeries(uint64_t((u128(kLn2Q62) * i) >> 16), 30);  // t < 0.003
    }
  }
};

const Exp2Tables &exp2Tables() {
  static const Exp2Tables tables;
  return tables;
}

// exp(-a) * 2^62, rounded down, for 0 <= a < 64 given in Q32. Integer arithmetic only.
uint64_t fixedExpNeg(uint64_t aQ32, const Exp2Tables &tables) {
  // y = a * log2(e) in Q40: integer part n, fraction g; exp(-a) = 2^-n * 2^-g, and
  // 2^-g = 2^-(hi/256) * 2^-(mid/65536) * exp(-lo * ln2) with lo < 2^-16.
  const u128 y = (u128(aQ32) * kLog2eQ62) >> 54;
  const uint64_t n = uint64_t(y >> 40);
  if (n >= 63)
    return 0;
  const uint64_t g = uint64_t(y) & ((uint64_t(1) << 40) - 1);
  const uint64_t hi = g >> 32, mid = (g >> 24) & 0xFF, lo = g & ((uint64_t(1) << 24) - 1);
  const uint64_t t = uint64_t((u128(lo) * kLn2Q62) >> 40);  // Q62, < 1.1e-5
  const uint64_t t2 = mulQ62(t, t), t3 = mulQ62(t2, t);     // next term < 2^-68
  const uint64_t e = kOne - t + t2 / 2 - t3 / 6;
  return mulQ62(mulQ62(tables.hi[hi], tables.mid[mid]), e) >> n;
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
  auto order = [](const Candidate &x, const Candidate &y) {
    return before(x.logit, x.id, y.logit, y.id);
  };

  // 1. Candidates: the top_k largest logits (lowest ids on ties), or every token. Their order
  // is canonical: (logit desc, id asc) after top-k, id order otherwise.
  std::vector<Candidate> &cands = candidates_;
  cands.clear();
  const size_t k = size_t(params_.top_k);
  if (k > 0 && k < size_t(vocab) / 8) {
    // One pass with a heap whose top is the worst kept candidate.
    for (int64_t i = 0; i < vocab; ++i) {
      const float l = logits[i];
      if (cands.size() < k) {
        cands.push_back({l, int32_t(i), 0, 0});
        std::push_heap(cands.begin(), cands.end(), order);
      } else if (before(l, int32_t(i), cands.front().logit, cands.front().id)) {
        std::pop_heap(cands.begin(), cands.end(), order);
        cands.back() = {l, int32_t(i), 0, 0};
        std::push_heap(cands.begin(), cands.end(), order);
      }
    }
    std::sort(cands.begin(), cands.end(), order);
  } else {
    for (int64_t i = 0; i < vocab; ++i)
      cands.push_back({logits[i], int32_t(i), 0, 0});
    if (k > 0 && k < cands.size()) {
      std::nth_element(cands.begin(), cands.begin() + std::ptrdiff_t(k), cands.end(), order);
      cands.resize(k);
      std::sort(cands.begin(), cands.end(), order);
    }
  }

  // 2. Weights exp((logit - max) / temperature) in fixed point; drop those that are 0. The
  // only floating-point steps are one subtraction, one division and an exact scaling by 2^32.
  const Exp2Tables &tables = exp2Tables();
  const double m = maxLogit, temperature = params_.temperature;
  size_t kept = 0;
  for (size_t i = 0; i < cands.size(); ++i) {
    Candidate c = cands[i];
    if (maxIsInf) {  // the +inf logits share all the probability
      if (c.logit != maxLogit)
        continue;
      c.scaled = 0;
    } else {
      const double a = (m - double(c.logit)) / temperature;  // >= 0; +inf for -inf logits
      if (!(a <= kMaxExponent))
        continue;
      c.scaled = uint64_t(a * 4294967296.0);
    }
    c.weight = fixedExpNeg(c.scaled, tables);
    if (c.weight)
      cands[kept++] = c;
  }
  cands.resize(kept);  // never empty: the max has weight 2^62

  // 3. Top-p: the shortest prefix, in (logit desc, id asc) order, whose weight reaches top_p
  // of the total: cumulative * 2^32 >= P * total with P = top_p in Q32. `scaled` is monotone in
  // that order, so weights are summed per band of `scaled` (1/16 wide); bands before the one
  // where the threshold is crossed are kept whole, and only that band is sorted.
  if (params_.top_p < 1.0) {
    constexpr int kBandShift = 28;
    const size_t bands = size_t((uint64_t(kMaxExponent) << 32) >> kBandShift) + 2;
    std::vector<u128> &sums = bucketSums_;
    sums.assign(bands, 0);
    u128 total = 0;
    for (const Candidate &c : cands) {
      sums[c.scaled >> kBandShift] += c.weight;
      total += c.weight;
    }
    const u128 threshold = u128(std::llround(params_.top_p * 4294967296.0)) * total;
    u128 cumulative = 0;
    size_t crossing = 0;
    for (; crossing + 1 < bands; ++crossing) {
      if (((cumulative + sums[crossing]) << 32) >= threshold)
        break;
      cumulative += sums[crossing];
    }
    std::vector<Candidate> &band = bucket_;
    band.clear();
    kept = 0;
    for (size_t i = 0; i < cands.size(); ++i) {
      const size_t b = size_t(cands[i].scaled >> kBandShift);
      if (b < crossing)
        cands[kept++] = cands[i];
      else if (b == crossing)
        band.push_back(cands[i]);
    }
    cands.resize(kept);
    std::sort(band.begin(), band.end(), order);
    for (const Candidate &c : band) {
      cands.push_back(c);
      cumulative += c.weight;
      if ((cumulative << 32) >= threshold)
        break;
    }
  }

  // 4. Draw r uniform in [0, total): floor(x * total / 2^64) for one raw 64-bit output x, and
  // take the candidate whose cumulative weight interval holds r.
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
