// sl_softmax.cuh: the online softmax of the attention kernels (sl_attention.cuh, sl_msa.cuh).
//
// One row's running state (max m, sum l), its update by a tile or a single score (with the
// factor that rescales the row's output accumulator), the merge of partial states of one row,
// the final 1/l and log-sum-exp, and merges of partial results by their log-sum-exp.
// Scores are base 2 (the caller folds scale * log2(e) into them) unless a name says "natural".
//
// Each helper is the exact sequence of operations of the kernels that share it (same exp2f /
// __expf / __log2f / __logf, same order, same -inf guards), so results are bitwise unchanged by
// the sharing. Where the kernels guard an empty row differently, the difference is kept, as a
// template argument (SoftmaxGuard) or as a second helper, not unified.
#pragma once

#include "sl_common.cuh"

namespace slk {

constexpr float kLog2e = 1.4426950408889634f;  // exp(x) = exp2(x * kLog2e)
constexpr float kLn2 = 0.6931471805599453f;    // ln(x) = log2(x) * kLn2

// How OnlineSoftmax::rescale treats a row whose max is still -inf after the step (every key
// it has seen was masked):
enum SoftmaxGuard : int {
  // None: the caller guarantees a finite max after the step. shift = m_new,
  // corr = exp2f(m_old - m_new). (The FMA paths: a step only sees a tile with a visible key.)
  kSoftmaxUnguarded = 0,
  // shift = m_new, or 0 while m_new = -inf (so exp2f(-inf - shift) = 0, never NaN);
  // corr = exp2f(m_old - shift), i.e. 0 for a still-empty row. (sl_attention.cuh mma tiles.)
  kSoftmaxShiftZero = 1,
  // shift as kSoftmaxShiftZero; corr = 1 for a still-empty row (selected, exp2f not applied),
  // else exp2f(m_old - m_new). (The msa_detail::Core mma tiles.)
  kSoftmaxShiftZeroKeepCorr = 2,
};

// 1/l, or 0 for an empty row (l = 0).
__device__ __forceinline__ float softmax_inv(float l) { return l > 0.0f ? 1.0f / l : 0.0f; }

// log2 of a row's softmax denominator on its base-2 scores, m + log2(l) (-inf when empty).
__device__ __forceinline__ float softmax_lse2(float m, float l) {
  return l > 0.0f ? m + __log2f(l) : neg_inf();
}

// Natural-log log-sum-exp of a row's unscaled natural scores, (m + log2(l)) * ln 2 (-inf when
// empty).
__device__ __forceinline__ float softmax_lse(float m, float l) {
  return l > 0.0f ? (m + __log2f(l)) * kLn2 : neg_inf();
}

// Weight exp2f(m_part - m_all) of a part (running max m_part) in a merge of parts whose max is
// m_all; guarded on the merge: 0 when every part is empty (m_all = -inf).
__device__ __forceinline__ float merge_weight(float m_part, float m_all) {
  return m_all == neg_inf() ? 0.0f : exp2f(m_part - m_all);
}

// The same weight guarded on the part instead: 0 for an empty part (m_part = -inf); m_all
// must be finite.
__device__ __forceinline__ float merge_weight_of_part(float m_part, float m_all) {
  return m_part == neg_inf() ? 0.0f : exp2f(m_part - m_all);
}

// The running softmax state of the ROWS rows a thread holds (its share of each row, where a
// row is spread over lanes), as a view of the kernel's own arrays (registers once inlined):
// m[r] = max of the scores seen (-inf before the first visible key), l[r] = sum of
// exp2f(s - m[r]) over them. Build it once, `OnlineSoftmax<2> st{m, l};`, and pass it by value.
template <int ROWS> struct OnlineSoftmax {
  float (&m)[ROWS];
  float (&l)[ROWS];

  __device__ __forceinline__ void reset(int r) const {
    m[r] = neg_inf();
    l[r] = 0.0f;
  }

  // Step of row r by a tile of scores whose max is tile_max (masked scores -inf): raises m[r],
  // sets corr (the factor that rescales l[r], see add, and the row's output accumulator) and
  // returns the shift to subtract from the tile's scores before exp2f.
  template <int GUARD>
  __device__ __forceinline__ float rescale(int r, float tile_max, float &corr) const {
    const float mnew = fmaxf(m[r], tile_max);
    if constexpr (GUARD == kSoftmaxUnguarded) {
      corr = exp2f(m[r] - mnew);
      m[r] = mnew;
      return mnew;
    } else if constexpr (GUARD == kSoftmaxShiftZero) {
      const float shift = mnew == neg_inf() ? 0.0f : mnew;
      corr = exp2f(m[r] - shift);
      m[r] = mnew;
      return shift;
    } else {
      static_assert(GUARD == kSoftmaxShiftZeroKeepCorr, "unknown SoftmaxGuard");
      corr = (mnew == neg_inf()) ? 1.0f : exp2f(m[r] - mnew);
      m[r] = mnew;
      return shift(r);
    }
  }

  // The shift of row r's scores after a guarded step: m[r], or 0 while m[r] = -inf.
  __device__ __forceinline__ float shift(int r) const { return m[r] == neg_inf() ? 0.0f : m[r]; }

  // l[r] = l[r] * corr + tile_sum (tile_sum: the sum of exp2f(s - shift) over the tile).
  __device__ __forceinline__ void add(int r, float corr, float tile_sum) const {
    l[r] = l[r] * corr + tile_sum;
  }

  // As add, with the tile sum reduce(p) of this lane's p, evaluated after l[r] * corr.
  template <typename Reduce>
  __device__ __forceinline__ void add(int r, float corr, float p, Reduce reduce) const {
    l[r] = l[r] * corr + reduce(p);
  }

  // One score s of row r, unguarded (a finite max after the step): returns p = exp2f(s - m_new)
  // and sets corr = exp2f(m_old - m_new); l = l * corr + p.
  __device__ __forceinline__ float update(int r, float s, float &corr) const {
    const float shift = rescale<kSoftmaxUnguarded>(r, s, corr);
    const float p = exp2f(s - shift);
    add(r, corr, p);
    return p;
  }

  // As update, but a score that leaves the max at -inf (a masked key before any visible one)
  // changes nothing and returns false (corr, p unset).
  __device__ __forceinline__ bool update_if_finite(int r, float s, float &corr, float &p) const {
    const float mnew = fmaxf(m[r], s);
    if (mnew == neg_inf())
      return false;
    corr = exp2f(m[r] - mnew);
    p = exp2f(s - mnew);
    l[r] = l[r] * corr + p;
    m[r] = mnew;
    return true;
  }

  // Merges another partial state of row r (disjoint keys) into it; a and b are the weights of
  // this part's and the other part's accumulator (both 0 if both parts are empty):
  // o = o * a + o_other * b.
  __device__ __forceinline__ void merge(int r, float m_other, float l_other, float &a,
                                        float &b) const {
    const float mnew = fmaxf(m[r], m_other);
    // merge_weight(m[r], mnew) and merge_weight(m_other, mnew), written out: the kernels' code
    // before the sharing (two calls compile to equivalent but differently scheduled SASS).
    a = mnew == neg_inf() ? 0.0f : exp2f(m[r] - mnew);
    b = mnew == neg_inf() ? 0.0f : exp2f(m_other - mnew);
    l[r] = l[r] * a + l_other * b;
    m[r] = mnew;
  }

  // As merge, but calls scale(a, b) (to rescale the accumulators) before l[r] is updated.
  template <typename Scale>
  __device__ __forceinline__ void merge(int r, float m_other, float l_other, Scale scale) const {
    const float mnew = fmaxf(m[r], m_other);
    const float a = mnew == neg_inf() ? 0.0f : exp2f(m[r] - mnew);
    const float b = mnew == neg_inf() ? 0.0f : exp2f(m_other - mnew);
    scale(a, b);
    l[r] = l[r] * a + l_other * b;
    m[r] = mnew;
  }

  __device__ __forceinline__ float inv(int r) const { return softmax_inv(l[r]); }
  __device__ __forceinline__ float lse2(int r) const { return softmax_lse2(m[r], l[r]); }
  __device__ __forceinline__ float lse(int r) const { return softmax_lse(m[r], l[r]); }
};

// ---------------------------------------------------------------------------------------------
// Natural-log merges of normalised partial results (o_i, lse_i): o = sum_i e^{lse_i - lse} o_i.
// (msa_decode_combine keeps its two weighted-sum loops inline: as a shared helper they were
// unrolled differently by nvcc, an equal result but a different instruction stream.)
// ---------------------------------------------------------------------------------------------

// Natural-log LSE of the parts i < count, part i's lse at part_lse[row_at(i)] (-inf when every
// part is -inf): mx + __logf(sum_i __expf(lse_i - mx)), mx = max_i lse_i.
template <typename RowAt>
__device__ __forceinline__ float lse_reduce(int count, const float *part_lse, RowAt row_at) {
  float mx = neg_inf();
  for (int i = 0; i < count; ++i)
    mx = fmaxf(mx, part_lse[row_at(i)]);
  float sum = 0.0f;
  for (int i = 0; i < count; ++i)
    sum += mx == neg_inf() ? 0.0f : __expf(part_lse[row_at(i)] - mx);
  return mx == neg_inf() ? neg_inf() : mx + __logf(sum);
}

// Weights of two partial results by their lse: (e^{a} x + e^{b} y) / (e^{a} + e^{b}) =
// wa x + wb y; both 0.5 when both are empty.
__device__ __forceinline__ void lse_pair_weights(float a, float b, float &wa, float &wb) {
  const float mx = fmaxf(a, b);
  if (mx == neg_inf()) {
    wa = 0.5f;
    wb = 0.5f;
    return;
  }
  const float ea = __expf(a - mx), eb = __expf(b - mx);
  wa = ea / (ea + eb);
  wb = eb / (ea + eb);
}

}  // namespace slk
