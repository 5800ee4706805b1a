// Quantities of multi-step (superlinear) attention derived from its hyper-parameters.
//
// This header is the single definition shared by the compiler (verifiers, tile selection) and
// the runtime (host-side tables, CPU backend): a window length or anchor position computed in
// two places could differ by one near 10M tokens, so nobody else re-derives them.
// Definitions follow ../shared/docs/SUPERLINEAR.md section 3.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>

namespace sl::math {

// Largest value floorPower returns; callers (the #sl.msa verifier) reject configurations whose
// window would exceed it, so no computation here overflows.
constexpr double kMaxPower = 1e15;

// floor(i^(1/p)), evaluated in double precision on the host. When 1/p is an integer the power is
// computed exactly in integers. Results above kMaxPower saturate there.
inline int64_t floorPower(int64_t i, double searchPower) {
  double inv = 1.0 / searchPower;
  double real = std::pow(static_cast<double>(i), inv);
  if (!(real < kMaxPower))
    return static_cast<int64_t>(kMaxPower);
  double rounded = std::nearbyint(inv);
  if (rounded == inv) {
    int64_t r = 1;
    for (int e = 0; e < static_cast<int>(rounded); ++e)
      r *= i;
    return r;
  }
  return static_cast<int64_t>(std::floor(real));
}

// Sliding-window length W = floor_power(sw_index + 1) - 1.
inline int64_t windowLength(int64_t swIndex, double searchPower) {
  return floorPower(swIndex + 1, searchPower) - 1;
}

// First key of the window of the query at absolute position `pos`.
inline int64_t windowStart(int64_t pos, int64_t window) {
  return pos - window + 1 > 0 ? pos - window + 1 : 0;
}

// Position of the anchor of stripe i (i >= sw_index + 1) for the query at `pos`; negative means
// the stripe has no anchor for this query.
inline int64_t anchorPosition(int64_t pos, int64_t stripe, double searchPower) {
  return pos - floorPower(stripe, searchPower) + 1;
}

// Number of valid anchors of the query at `pos` (stripes sw_index+1, sw_index+2, ...).
inline int64_t anchorCount(int64_t pos, int64_t swIndex, double searchPower) {
  int64_t n = 0;
  for (int64_t i = swIndex + 1; anchorPosition(pos, i, searchPower) >= 0; ++i)
    ++n;
  return n;
}

// Keys a span reaches before / after its anchor: ceil(factor * t^span_power), t = pos + 1.
inline int64_t spanReach(int64_t pos, double factor, double spanPower) {
  return static_cast<int64_t>(
      std::ceil(factor * std::pow(static_cast<double>(pos + 1), spanPower)));
}

// What is wrong with a multi-step configuration: the hyper-parameter (SUPERLINEAR.md section 2
// names: sw_index, num_spans, backward_factor, forward_factor, search_power, span_power) and why.
struct ConfigProblem {
  std::string field;
  std::string message;
};

// The validity rules of a multi-step configuration, the one definition the #sl.msa verifier and
// the importer both report from: nullopt when the configuration is valid.
inline std::optional<ConfigProblem> checkConfig(int64_t swIndex, int64_t numSpans,
                                                double backwardFactor, double forwardFactor,
                                                double searchPower, double spanPower) {
  auto text = [](auto value) {
    std::ostringstream os;
    os << value;
    return os.str();
  };
  for (auto [field, value] : {std::pair<const char *, double>{"search_power", searchPower},
                              {"span_power", spanPower}})
    if (!(value > 0.0 && value < 1.0))
      return ConfigProblem{field, "must be in (0, 1) (exclusive), got " + text(value)};
  if (numSpans < 1 || numSpans > 8)
    return ConfigProblem{"num_spans", "must be in [1, 8] (the routing kernels keep the top-k in "
                                      "registers), got " + text(numSpans)};
  for (auto [field, value] : {std::pair<const char *, double>{"backward_factor", backwardFactor},
                              {"forward_factor", forwardFactor}})
    if (!(value >= 0.0) || std::isinf(value))
      return ConfigProblem{field, "must be a finite number >= 0, got " + text(value)};
  if (swIndex < 0)
    return ConfigProblem{"sw_index", "must be >= 0, got " + text(swIndex)};
  const double window = std::pow(static_cast<double>(swIndex) + 1.0, 1.0 / searchPower);
  if (!(window < kMaxPower))
    return ConfigProblem{"sw_index", "with search_power = " + text(searchPower) +
                                         " gives a sliding window of (sw_index + 1)^(1 / "
                                         "search_power) = " + text(window) +
                                         " tokens, above the supported " + text(kMaxPower)};
  if (windowLength(swIndex, searchPower) < 1)
    return ConfigProblem{"sw_index", "gives an empty sliding window: floor((sw_index + 1)^(1 / "
                                     "search_power)) - 1 = " +
                                         text(windowLength(swIndex, searchPower)) +
                                         " with sw_index = " + text(swIndex) +
                                         ", search_power = " + text(searchPower)};
  return std::nullopt;
}

}  // namespace sl::math
