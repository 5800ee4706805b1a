// Choosing the next token from the fp32 logits of one position.
//
// Greedy (temperature 0, or top_k 1): the argmax, ties to the lowest id; consumes no randomness.
// Otherwise: logits / temperature, keep the top_k largest (0 = all; ties to the lowest ids),
// softmax, keep the nucleus (the smallest set of most likely tokens whose probability reaches
// top_p; 1 = all), renormalise and draw.
//
// Reproducibility: the RNG is std::mt19937_64 seeded with `seed` (its output sequence is fixed
// by the C++ standard). Everything after the temperature division is integer arithmetic:
// probabilities are 2^-62 fixed-point weights from an integer exp, sums are exact, and the draw
// maps one raw 64-bit RNG output onto the integer total. No libm call, no
// std::*_distribution, no order dependent on the standard library's sort: the same seed and
// logits give the same tokens on every platform with IEEE-754 doubles.
#pragma once

#include "runtime/support/Status.h"

#include <cstdint>
#include <random>
#include <vector>

namespace sl::runtime {

struct SamplingParams {
  double temperature = 0.0;  // >= 0; 0 = greedy
  int32_t top_k = 0;         // >= 0; 0 = off
  double top_p = 1.0;        // (0, 1]; 1 = off
  uint64_t seed = 0;
};

// An error naming the offending parameter and value, or success.
Status validateSamplingParams(const SamplingParams &params);

// The argmax of logits[0 .. vocab), lowest id on ties. Errors: vocab <= 0, a NaN logit.
StatusOr<int32_t> greedyToken(const float *logits, int64_t vocab);

class Sampler {
public:
  // Validates `params` and seeds the RNG.
  static StatusOr<Sampler> create(const SamplingParams &params);

  // The next token for one position's logits. Each non-greedy call consumes exactly one 64-bit
  // RNG output, so a sequence of calls is reproducible from the seed. Errors: vocab <= 0 or
  // > INT32_MAX, a NaN logit, all logits -inf.
  StatusOr<int32_t> sample(const float *logits, int64_t vocab);
  StatusOr<int32_t> sample(const std::vector<float> &logits) {
    return sample(logits.data(), int64_t(logits.size()));
  }

  const SamplingParams &params() const { return params_; }
  bool greedy() const { return params_.temperature == 0.0 || params_.top_k == 1; }

private:
  explicit Sampler(const SamplingParams &params) : params_(params), rng_(params.seed) {}

  struct Candidate {
    float logit;
    int32_t id;
    uint64_t scaled;  // (max - logit) / temperature in Q32 (truncated)
    uint64_t weight;  // exp(-scaled) * 2^62, rounded down
  };

  SamplingParams params_;
  std::mt19937_64 rng_;
  // Scratch, reused across calls.
  std::vector<Candidate> candidates_, bucket_;
  std::vector<unsigned __int128> bucketSums_;
};

}  // namespace sl::runtime
