// The CPU reference of the dense and MoE templates (runtime/cpu/DenseKernels.cpp) against
// direct formulas written here: small random inputs, bf16 and f32, every epilogue variant,
// strided operands, the MoE prefill chain against a per-token formula and against the decode
// path, error reporting.
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cpu/Elements.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>

using namespace sl::cpu;

namespace {

// A buffer of bf16 or f32 elements with fp32 access.
struct Tensor {
  Elem elem;
  std::vector<uint16_t> bf;
  std::vector<float> f;
  Tensor(Elem e, size_t count, float value = 0.0f) : elem(e) {
    if (e == Elem::bf16)
      bf.assign(count, floatToBf16(value));
    else
      f.assign(count, value);
  }
  size_t size() const { return elem == Elem::bf16 ? bf.size() : f.size(); }
  void *data() { return elem == Elem::bf16 ? static_cast<void *>(bf.data()) : f.data(); }
  const void *data() const {
    return elem == Elem::bf16 ? static_cast<const void *>(bf.data()) : f.data();
  }
  float get(size_t i) const { return load(elem, data(), int64_t(i)); }
  void set(size_t i, float v) { store(elem, data(), int64_t(i), v); }
};

// Normal values (stddev `scale`), rounded to the element type.
Tensor randomTensor(Elem e, size_t count, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  Tensor t(e, count);
  for (size_t i = 0; i < count; ++i)
    t.set(i, dist(rng));
  return t;
}

KernelArg P(void *p) {
  KernelArg a;
  a.pointer = p;
  return a;
}
KernelArg P(const void *p) { return P(const_cast<void *>(p)); }
KernelArg P(std::nullptr_t) { return P(static_cast<void *>(nullptr)); }
KernelArg I(int64_t v) {
  KernelArg a;
  a.integer = v;
  return a;
}
KernelArg R(float v) {
  KernelArg a;
  a.real = v;
  return a;
}

sl::Status run(const std::string &name, const std::vector<std::string> &templateArgs,
               const std::vector<KernelArg> &args) {
  KernelFn fn = lookupKernel(name);
  if (fn == nullptr)
    return sl::Status::error("no cpu kernel " + name);
  return fn(KernelCall{templateArgs, args});
}

std::string spell(Elem e) { return e == Elem::bf16 ? "slk::bf16" : "float"; }
const char *tag(Elem e) { return e == Elem::bf16 ? "bf16" : "f32"; }
float rt(Elem e, float v) { return roundTo(e, v); }

float silu(float v) { return v / (1.0f + std::exp(-v)); }
float relu2(float v) { return v > 0.0f ? v * v : 0.0f; }
float applyAct(const std::string &act, float v) {
  return act == "slk::kActSilu" ? silu(v) : act == "slk::kActRelu2" ? relu2(v) : v;
}

// One ulp of T at the result's magnitude (the summation order of a dot product or a norm's
// statistic may flip one rounding to T); f32 gets a relative 1e-5.
void expectClose(float got, float want, Elem e, const std::string &what) {
  const float rel = e == Elem::bf16 ? 1.0f / 128 : 1e-5f;
  EXPECT_NEAR(got, want, 1e-6f + rel * std::fabs(want)) << what;
}

// --------------------------------------------------------------------------------------------
// Norms
// --------------------------------------------------------------------------------------------
// rsqrt(mean(v²) + eps): the statistic in double, the fp32 mean + eps, the correctly rounded
// reciprocal square root (the device's rsqrtf is within 2 ulp of it). With this rstd the
// expected norm outputs are bitwise those of the reference, so the tests compare exactly and
// catch a missing rounding to T.
float rstdOf(const std::vector<float> &v, size_t begin, size_t count, float eps) {
  double ss = 0;
  for (size_t i = begin; i < begin + count; ++i)
    ss += double(v[i]) * v[i];
  return float(1.0 / std::sqrt(double(float(ss / double(count)) + eps)));
}

TEST(DenseNorm, RmsNormMatchesFormula) {
  const float eps = 1e-5f;
  for (Elem t : {Elem::bf16, Elem::f32})
    for (Elem wt : {Elem::bf16, Elem::f32})
      for (int hidden : {37, 64}) {
        const int n = 5;
        Tensor x = randomTensor(t, size_t(n) * hidden, 2.0f, 1);
        Tensor w = randomTensor(wt, hidden, 1.0f, 2);
        Tensor y(t, size_t(n) * hidden);
        const std::vector<std::string> targs = {spell(t), spell(wt), std::to_string(hidden), "256"};
        ASSERT_TRUE(run("rms_norm", targs, {P(x.data()), P(w.data()), P(y.data()), I(n), R(eps)}));
        for (int r = 0; r < n; ++r) {
          std::vector<float> row(hidden);
          for (int c = 0; c < hidden; ++c)
            row[c] = x.get(size_t(r) * hidden + c);
          const float rstd = rstdOf(row, 0, hidden, eps);
          for (int c = 0; c < hidden; ++c)
            ASSERT_EQ(y.get(size_t(r) * hidden + c), rt(t, w.get(c) * rt(t, row[c] * rstd)))
                << "rms_norm " << tag(t) << "/" << tag(wt) << " row " << r << " col " << c;
        }
        // In place (y aliases x) gives the same values.
        ASSERT_TRUE(run("rms_norm", targs, {P(x.data()), P(w.data()), P(x.data()), I(n), R(eps)}));
        for (size_t i = 0; i < x.size(); ++i)
          ASSERT_EQ(x.get(i), y.get(i));
      }
}

TEST(DenseNorm, AddRmsNormRoundsTheSum) {
  const float eps = 1e-6f;
  const int hidden = 40, n = 3;
  for (Elem t : {Elem::bf16, Elem::f32}) {
    Tensor x = randomTensor(t, size_t(n) * hidden, 1.0f, 3);
    Tensor res = randomTensor(t, size_t(n) * hidden, 1.0f, 4);
    Tensor w = randomTensor(Elem::f32, hidden, 1.0f, 5);
    Tensor sum(t, size_t(n) * hidden), y(t, size_t(n) * hidden);
    const std::vector<std::string> targs = {spell(t), "float", std::to_string(hidden), "128"};
    ASSERT_TRUE(
        run("add_rms_norm", targs,
            {P(x.data()), P(res.data()), P(sum.data()), P(w.data()), P(y.data()), I(n), R(eps)}));
    std::vector<float> s(sum.size());
    for (size_t i = 0; i < s.size(); ++i) {
      s[i] = rt(t, x.get(i) + res.get(i));
      ASSERT_EQ(sum.get(i), s[i]);
    }
    for (int r = 0; r < n; ++r) {
      const float rstd = rstdOf(s, size_t(r) * hidden, hidden, eps);
      for (int c = 0; c < hidden; ++c) {
        const size_t i = size_t(r) * hidden + c;
        ASSERT_EQ(y.get(i), rt(t, w.get(c) * rt(t, s[i] * rstd))) << "add_rms_norm " << i;
      }
    }
    // sum aliasing residual, y aliasing x.
    Tensor y2 = x, s2 = res;
    ASSERT_TRUE(
        run("add_rms_norm", targs,
            {P(y2.data()), P(s2.data()), P(s2.data()), P(w.data()), P(y2.data()), I(n), R(eps)}));
    for (size_t i = 0; i < s.size(); ++i) {
      ASSERT_EQ(s2.get(i), sum.get(i));
      ASSERT_EQ(y2.get(i), y.get(i));
    }
  }
}

// A norm group split over two ranks (tensor parallelism): each rank's sum of squares into its
// group's column (the others zeroed), the columns summed (the all-reduce), then each rank's half
// normalised with the whole group's mean equals gated_rms_norm of the whole group.
TEST(DenseNorm, GatedRmsNormOfAGroupSplitOverRanks) {
  const int half = 8, n = 3, groups = 2, index = 1;
  const float eps = 1e-5f;
  Tensor y = randomTensor(Elem::f32, size_t(n) * 2 * half, 1.0f, 16);
  Tensor gate = randomTensor(Elem::f32, size_t(n) * 2 * half, 2.0f, 17);
  Tensor w = randomTensor(Elem::f32, 2 * half, 1.0f, 18);
  Tensor whole(Elem::f32, size_t(n) * 2 * half);
  const std::string c = std::to_string(2 * half), h = std::to_string(half);
  ASSERT_TRUE(run("gated_rms_norm", {"float", "float", c, c, "32"},
                  {P(y.data()), I(2 * half), P(gate.data()), I(2 * half), P(w.data()),
                   P(whole.data()), I(n), R(eps)}));
  std::vector<std::vector<float>> sums(2, std::vector<float>(size_t(n) * groups, 7.0f));
  for (int rank = 0; rank < 2; ++rank) {
    const float *yr = static_cast<const float *>(y.data()) + rank * half;
    const float *gr = static_cast<const float *>(gate.data()) + rank * half;
    ASSERT_TRUE(run("gated_sum_squares", {"float", h, h, "32"},
                    {P(yr), I(2 * half), P(gr), I(2 * half), P(sums[rank].data()), I(groups),
                     I(index), I(n)}));
  }
  for (size_t i = 0; i < sums[0].size(); ++i) {
    if (i % groups != index) {
      EXPECT_EQ(sums[0][i], 0.0f);  // other groups' columns: zero, for the sum
      EXPECT_EQ(sums[1][i], 0.0f);
    }
    sums[0][i] += sums[1][i];
  }
  for (int rank = 0; rank < 2; ++rank) {
    const float *yr = static_cast<const float *>(y.data()) + rank * half;
    const float *gr = static_cast<const float *>(gate.data()) + rank * half;
    const float *wr = static_cast<const float *>(w.data()) + rank * half;
    std::vector<float> out(size_t(n) * half);
    ASSERT_TRUE(run("gated_rms_norm_sums", {"float", "float", h, h, "32"},
                    {P(yr), I(2 * half), P(gr), I(2 * half), P(wr), P(sums[0].data()), I(groups),
                     I(index), P(out.data()), I(n), R(eps), I(2 * half)}));
    for (int r = 0; r < n; ++r)
      for (int col = 0; col < half; ++col)
        EXPECT_NEAR(out[size_t(r) * half + col],
                    whole.get(size_t(r) * 2 * half + rank * half + col), 1e-5)
            << "rank " << rank << " row " << r << " col " << col;
  }
}

TEST(DenseNorm, GatedRmsNormStridedGroups) {
  const int channels = 24, group = 8, n = 3, ldy = 40, ldg = 33, y0 = 3, g0 = 5;
  const float eps = 1e-5f;
  for (Elem t : {Elem::bf16, Elem::f32}) {
    Tensor ybuf = randomTensor(t, size_t(n) * ldy, 1.0f, 6);
    Tensor gbuf = randomTensor(t, size_t(n) * ldg, 2.0f, 7);
    Tensor w = randomTensor(t, channels, 1.0f, 8);
    Tensor out(t, size_t(n) * channels);
    const void *yp = static_cast<const char *>(ybuf.data()) + y0 * (t == Elem::bf16 ? 2 : 4);
    const void *gp = static_cast<const char *>(gbuf.data()) + g0 * (t == Elem::bf16 ? 2 : 4);
    ASSERT_TRUE(run("gated_rms_norm",
                    {spell(t), spell(t), std::to_string(channels), std::to_string(group), "64"},
                    {P(yp), I(ldy), P(gp), I(ldg), P(w.data()), P(out.data()), I(n), R(eps)}));
    for (int r = 0; r < n; ++r) {
      std::vector<float> h(channels);
      for (int c = 0; c < channels; ++c)
        h[c] = ybuf.get(size_t(r) * ldy + y0 + c) * silu(gbuf.get(size_t(r) * ldg + g0 + c));
      for (int g = 0; g < channels; g += group) {
        const float rstd = rstdOf(h, g, group, eps);
        for (int c = g; c < g + group; ++c)
          ASSERT_EQ(out.get(size_t(r) * channels + c), rt(t, w.get(c) * rt(t, h[c] * rstd)))
              << "gated_rms_norm " << tag(t) << " row " << r << " col " << c;
      }
    }
  }
  // CHANNELS not a multiple of GROUP is rejected.
  float dummy[64] = {};
  EXPECT_FALSE(run("gated_rms_norm", {"float", "float", "24", "7", "64"},
                   {P(dummy), I(24), P(dummy), I(24), P(dummy), P(dummy), I(1), R(eps)}));
}

// --------------------------------------------------------------------------------------------
// gemm / gemv
// --------------------------------------------------------------------------------------------
struct LinearCase {
  Elem t, out;
  std::string act;
  bool bias, residual;
};

// c = OUT_T(T(act(T(a·w^T + bias))) + residual) on strided a / c; padding columns untouched.
void checkLinear(const std::string &name, const LinearCase &lc, int m, int n, int k, int lda,
                 int ldc, uint32_t seed) {
  const std::string what = name + " " + tag(lc.t) + "->" + tag(lc.out) + " " + lc.act +
                           (lc.bias ? " bias" : "") + (lc.residual ? " residual" : "");
  Tensor a = randomTensor(lc.t, size_t(m) * lda, 1.0f, seed);
  Tensor w = randomTensor(lc.t, size_t(n) * k, 1.0f / std::sqrt(float(k)), seed + 1);
  Tensor bias = randomTensor(lc.t, n, 0.5f, seed + 2);
  Tensor res = randomTensor(lc.t, size_t(m) * ldc, 1.0f, seed + 3);
  const float sentinel = 123.0f;
  Tensor c(lc.out, size_t(m) * ldc, sentinel);
  std::vector<std::string> targs = {spell(lc.t), spell(lc.out)};
  if (name == "gemm")
    for (const char *tile : {"64", "128", "32", "3", "2", "4"})
      targs.push_back(tile);
  else
    targs.insert(targs.end(), {"8", "8"});
  targs.insert(targs.end(), {lc.act, lc.bias ? "true" : "false", lc.residual ? "true" : "false"});
  ASSERT_TRUE(run(name, targs,
                  {P(a.data()), I(lda), P(w.data()), P(lc.bias ? bias.data() : nullptr),
                   P(lc.residual ? res.data() : nullptr), P(c.data()), I(ldc), I(m), I(n), I(k)}))
      << what;
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < ldc; ++j) {
      const float got = c.get(size_t(i) * ldc + j);
      if (j >= n) {
        ASSERT_EQ(got, sentinel) << what << ": padding column written";
        continue;
      }
      double dot = 0;
      for (int q = 0; q < k; ++q)
        dot += double(a.get(size_t(i) * lda + q)) * w.get(size_t(j) * k + q);
      float v = rt(lc.t, float(dot) + (lc.bias ? bias.get(j) : 0.0f));
      if (lc.act != "slk::kActNone")
        v = rt(lc.t, applyAct(lc.act, v));
      if (lc.residual)
        v += res.get(size_t(i) * ldc + j);
      expectClose(got, rt(lc.out, v), lc.t, what);
    }
}

TEST(DenseGemm, EpilogueVariantsStrided) {
  uint32_t seed = 10;
  for (Elem t : {Elem::bf16, Elem::f32})
    for (Elem out : {t, Elem::f32})
      for (const char *act : {"slk::kActNone", "slk::kActSilu", "slk::kActRelu2"})
        for (bool bias : {false, true})
          for (bool residual : {false, true}) {
            if (out != t && t == Elem::f32)
              continue;
            checkLinear("gemm", {t, out, act, bias, residual}, 7, 13, 24, 30, 17, seed++);
          }
  // Larger than one thread's share of work, odd sizes.
  checkLinear("gemm", {Elem::bf16, Elem::bf16, "slk::kActRelu2", true, true}, 37, 150, 72, 80, 151,
              99);
  checkLinear("gemm", {Elem::f32, Elem::f32, "slk::kActNone", false, false}, 33, 97, 45, 45, 97,
              100);
}

TEST(DenseGemm, ResidualMayAliasOutput) {
  const int m = 5, n = 9, k = 16, ldc = 11;
  for (Elem t : {Elem::bf16, Elem::f32}) {
    Tensor a = randomTensor(t, size_t(m) * k, 1.0f, 20);
    Tensor w = randomTensor(t, size_t(n) * k, 0.25f, 21);
    Tensor res = randomTensor(t, size_t(m) * ldc, 1.0f, 22);
    Tensor separate(t, size_t(m) * ldc), inPlace = res;
    const std::vector<std::string> targs = {
        spell(t), spell(t), "64", "64", "32", "2", "2", "2", "slk::kActNone", "false", "true"};
    ASSERT_TRUE(run("gemm", targs,
                    {P(a.data()), I(k), P(w.data()), P(nullptr), P(res.data()), P(separate.data()),
                     I(ldc), I(m), I(n), I(k)}));
    ASSERT_TRUE(run("gemm", targs,
                    {P(a.data()), I(k), P(w.data()), P(nullptr), P(inPlace.data()),
                     P(inPlace.data()), I(ldc), I(m), I(n), I(k)}));
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j)
        ASSERT_EQ(inPlace.get(size_t(i) * ldc + j), separate.get(size_t(i) * ldc + j));
  }
}

TEST(DenseGemm, GemvMatchesFormulaAndChecksMaxM) {
  uint32_t seed = 40;
  for (Elem t : {Elem::bf16, Elem::f32})
    for (bool bias : {false, true})
      checkLinear("gemv", {t, Elem::f32, "slk::kActNone", bias, !bias}, 3, 21, 40, 48, 23, seed++);
  checkLinear("gemv", {Elem::bf16, Elem::bf16, "slk::kActSilu", true, true}, 8, 19, 24, 24, 19, 50);
  // m > MAX_M is an invalid launch.
  float buf[256] = {};
  sl::Status s =
      run("gemv", {"float", "float", "8", "2", "slk::kActNone", "false", "false"},
          {P(buf), I(4), P(buf), P(nullptr), P(nullptr), P(buf), I(4), I(3), I(4), I(4)});
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("MAX_M"), std::string::npos) << s.message();
}

TEST(DenseGemm, InvalidTemplateArgumentsAreErrors) {
  float buf[64] = {};
  const std::vector<KernelArg> args = {P(buf), I(4), P(buf), P(nullptr), P(nullptr),
                                       P(buf), I(4), I(2),   I(2),       I(4)};
  sl::Status half = run(
      "gemm", {"half", "float", "64", "64", "32", "2", "2", "2", "slk::kActNone", "false", "false"},
      args);
  EXPECT_FALSE(half);
  EXPECT_NE(half.message().find("half"), std::string::npos) << half.message();
  EXPECT_FALSE(
      run("gemm",
          {"float", "float", "64", "64", "32", "2", "2", "2", "slk::kActGelu", "false", "false"},
          args));
  EXPECT_FALSE(run(
      "gemm", {"float", "float", "64", "64", "32", "2", "2", "2", "slk::kActNone", "yes", "false"},
      args));
  EXPECT_FALSE(run("gemm", {"float", "float"}, args)); // too few template arguments
  EXPECT_FALSE(
      run("rms_norm", {"float", "float", "x16", "256"}, {P(buf), P(buf), P(buf), I(1), R(1e-5f)}));
  // A required pointer that is null.
  EXPECT_FALSE(run(
      "gemm", {"float", "float", "64", "64", "32", "2", "2", "2", "slk::kActNone", "true", "false"},
      args));
}

// --------------------------------------------------------------------------------------------
// embedding, argmax, elementwise
// --------------------------------------------------------------------------------------------
TEST(DenseEmbedding, CopiesRowsAndFlagsBadIds) {
  const int hidden = 5, vocab = 8;
  for (Elem t : {Elem::bf16, Elem::f32}) {
    Tensor table = randomTensor(t, size_t(vocab) * hidden, 1.0f, 60);
    std::vector<int32_t> tokens = {3, 0, 7, 2};
    Tensor out(t, tokens.size() * hidden, 9.0f);
    int32_t error = 0;
    const std::vector<std::string> targs = {spell(t), std::to_string(hidden), "128"};
    ASSERT_TRUE(run("embedding", targs,
                    {P(tokens.data()), P(table.data()), P(out.data()), I(4), I(vocab), P(&error)}));
    EXPECT_EQ(error, 0);
    for (size_t i = 0; i < tokens.size(); ++i)
      for (int c = 0; c < hidden; ++c)
        ASSERT_EQ(out.get(i * hidden + c), table.get(size_t(tokens[i]) * hidden + c));

    tokens = {3, 0, 7, -1, 9, 2};
    Tensor bad(t, tokens.size() * hidden, 9.0f);
    sl::Status s =
        run("embedding", targs,
            {P(tokens.data()), P(table.data()), P(bad.data()), I(6), I(vocab), P(&error)});
    EXPECT_FALSE(s);
    EXPECT_EQ(error, 4); // index 3 + 1: the first bad token
    EXPECT_NE(s.message().find("-1"), std::string::npos) << s.message();
    for (size_t i = 0; i < tokens.size(); ++i)
      for (int c = 0; c < hidden; ++c) {
        const bool ok = tokens[i] >= 0 && tokens[i] < vocab;
        ASSERT_EQ(bad.get(i * hidden + c), ok ? table.get(size_t(tokens[i]) * hidden + c) : 0.0f);
      }
    // An error recorded earlier is kept.
    error = 2;
    EXPECT_FALSE(
        run("embedding", targs,
            {P(tokens.data()), P(table.data()), P(bad.data()), I(6), I(vocab), P(&error)}));
    EXPECT_EQ(error, 2);
  }
}

TEST(DenseArgmax, TiesNanAndInfinity) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const int vocab = 5;
  std::vector<float> logits = {
      1,    5,    2,    5,    0,    // tie -> 1
      -inf, -inf, -inf, -inf, -inf, // all -inf -> 0
      1,    nan,  7,    nan,  2,    // first NaN -> 1
      3,    3,    3,    3,    3,    // all equal -> 0
      -2,   -1,   -3,   -1,   -7,   // -> 1
      0,    0,    0,    0,    4,    // last -> 4
  };
  const int n = int(logits.size()) / vocab;
  std::vector<int32_t> out(n, -5);
  ASSERT_TRUE(run("argmax", {"1024"}, {P(logits.data()), P(out.data()), I(n), I(vocab)}));
  EXPECT_EQ(out, (std::vector<int32_t>{1, 0, 1, 0, 1, 4}));

  // Random rows with many ties (small integers).
  const int rows = 7, wide = 1000;
  std::mt19937 rng(70);
  std::uniform_int_distribution<int> dist(-20, 20);
  std::vector<float> big(size_t(rows) * wide);
  for (float &v : big)
    v = float(dist(rng));
  std::vector<int32_t> got(rows);
  ASSERT_TRUE(run("argmax", {"256"}, {P(big.data()), P(got.data()), I(rows), I(wide)}));
  for (int r = 0; r < rows; ++r)
    EXPECT_EQ(got[r],
              std::max_element(big.begin() + size_t(r) * wide, big.begin() + size_t(r + 1) * wide) -
                  (big.begin() + size_t(r) * wide));
}

TEST(DenseElementwise, AddAndActivation) {
  const int cols = 11, n = 4;
  for (Elem t : {Elem::bf16, Elem::f32}) {
    Tensor a = randomTensor(t, size_t(n) * cols, 2.0f, 80);
    Tensor b = randomTensor(t, size_t(n) * cols, 2.0f, 81);
    Tensor out(t, size_t(n) * cols);
    ASSERT_TRUE(run("add", {spell(t), std::to_string(cols), "256"},
                    {P(a.data()), P(b.data()), P(out.data()), I(n)}));
    for (size_t i = 0; i < out.size(); ++i)
      ASSERT_EQ(out.get(i), rt(t, a.get(i) + b.get(i)));
    for (const char *act : {"slk::kActNone", "slk::kActSilu", "slk::kActRelu2"}) {
      ASSERT_TRUE(run("activation", {spell(t), std::to_string(cols), act, "256"},
                      {P(a.data()), P(out.data()), I(n)}));
      for (size_t i = 0; i < out.size(); ++i)
        expectClose(out.get(i), rt(t, applyAct(act, a.get(i))), t, act);
    }
  }
}

// --------------------------------------------------------------------------------------------
// MoE
// --------------------------------------------------------------------------------------------
// The router's direct formula: fp32 logits, sigmoid, stable descending sort of s + bias.
void routerFormula(const Tensor &x, const Tensor &gw, const std::vector<float> &cb, int n, int h,
                   int e, int k, float scale, bool norm, std::vector<int32_t> &idx,
                   std::vector<float> &wts) {
  idx.assign(size_t(n) * k, 0);
  wts.assign(size_t(n) * k, 0);
  for (int t = 0; t < n; ++t) {
    std::vector<float> s(e), c(e);
    for (int j = 0; j < e; ++j) {
      double acc = 0;
      for (int q = 0; q < h; ++q)
        acc += double(x.get(size_t(t) * h + q)) * gw.get(size_t(j) * h + q);
      s[j] = 1.0f / (1.0f + std::exp(-float(acc)));
      c[j] = s[j] + cb[j];
    }
    std::vector<int> order(e);
    for (int j = 0; j < e; ++j)
      order[j] = j;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return c[a] > c[b]; });
    float sum = 0;
    for (int j = 0; j < k; ++j)
      sum += s[order[j]];
    for (int j = 0; j < k; ++j) {
      idx[size_t(t) * k + j] = order[j];
      wts[size_t(t) * k + j] = (norm ? s[order[j]] / (sum + 1e-20f) : s[order[j]]) * scale;
    }
  }
}

TEST(DenseMoe, RouterTiesPickTheLowerExpert) {
  const int h = 8, e = 5, k = 2, n = 3;
  Tensor x = randomTensor(Elem::f32, size_t(n) * h, 1.0f, 90);
  Tensor gw = randomTensor(Elem::f32, size_t(e) * h, 0.3f, 91);
  for (int q = 0; q < h; ++q)
    gw.set(size_t(3) * h + q, gw.get(size_t(1) * h + q)); // experts 1 and 3 identical
  std::vector<float> cb = {0.0f, 4.0f, 0.0f, 4.0f, 0.0f};
  std::vector<float> wts(size_t(n) * k);
  std::vector<int32_t> idx(size_t(n) * k);
  ASSERT_TRUE(run("moe_router", {"float", "float", "8", "5", "2", "256"},
                  {P(x.data()), P(gw.data()), P(cb.data()), P(wts.data()), P(idx.data()), I(n),
                   R(2.0f), I(0)}));
  for (int t = 0; t < n; ++t) {
    EXPECT_EQ(idx[size_t(t) * k], 1);
    EXPECT_EQ(idx[size_t(t) * k + 1], 3);
    double dot = 0;
    for (int q = 0; q < h; ++q)
      dot += double(x.get(size_t(t) * h + q)) * gw.get(size_t(1) * h + q);
    const float s = 1.0f / (1.0f + std::exp(-float(dot)));
    EXPECT_EQ(wts[size_t(t) * k], s * 2.0f); // norm_topk_prob = 0: weight = s · scale
    EXPECT_EQ(wts[size_t(t) * k + 1], s * 2.0f);
  }
}

TEST(DenseMoe, AlignRejectsBadExpertIds) {
  std::vector<int32_t> idx = {0, -1, 1, 2};
  std::vector<int32_t> sp(64, 0), te(16, 0), nt(1, 0);
  EXPECT_FALSE(run("moe_align", {"4", "2", "4", "1024"},
                   {P(idx.data()), I(2), P(sp.data()), P(te.data()), P(nt.data()), I(0)}));
  idx[1] = 3;
  EXPECT_FALSE(run("moe_align", {"4", "2", "4", "1024"},
                   {P(idx.data()), I(2), P(sp.data()), P(te.data()), P(nt.data()), I(-1)}));
}

// An expert-parallel rank holding experts [2, 4) of 6: the pairs routed to other experts are
// dropped, the rest grouped by local expert (id - 2).
TEST(DenseMoe, AlignKeepsOnlyTheRanksExperts) {
  const int K = 2, n = 4, BM = 2;
  std::vector<int32_t> idx = {0, 3, 2, 5, 4, 1, 3, 2};  // [n, K]: pairs 1, 2, 6, 7 are local
  std::vector<int32_t> sp(32, -7), te(16, -7), nt(1, -7);
  ASSERT_TRUE(run("moe_align", {"2", std::to_string(K), std::to_string(BM), "1024"},
                  {P(idx.data()), I(n), P(sp.data()), P(te.data()), P(nt.data()), I(2)}));
  ASSERT_EQ(nt[0], 2);  // local expert 0 (id 2): pairs 2, 7; local expert 1 (id 3): pairs 1, 6
  EXPECT_EQ(te[0], 0);
  EXPECT_EQ(te[1], 1);
  EXPECT_EQ(std::multiset<int>(sp.begin(), sp.begin() + 2), (std::multiset<int>{2, 7}));
  EXPECT_EQ(std::multiset<int>(sp.begin() + 2, sp.begin() + 4), (std::multiset<int>{1, 6}));
  EXPECT_EQ(sp[4], -7);  // nothing written past the kept rows
  EXPECT_EQ(te[2], -7);
  // Without an offset the same ids in [0, 2) are kept instead.
  ASSERT_TRUE(run("moe_align", {"2", std::to_string(K), std::to_string(BM), "1024"},
                  {P(idx.data()), I(n), P(sp.data()), P(te.data()), P(nt.data()), I(0)}));
  ASSERT_EQ(nt[0], 2);
  EXPECT_EQ(sp[0], 0);
  EXPECT_EQ(sp[1], -1);
  EXPECT_EQ(sp[2], 5);
  EXPECT_EQ(sp[3], -1);
}

// Prefill chain (router -> align -> up -> down -> combine) against the per-token formula, and
// the decode chain (router -> decode_up -> decode_down) against the prefill chain.
void checkMoe(Elem t, bool hasShared, bool hasResidual, uint32_t seed) {
  const int H = 32, E = 8, K = 3, INTER = 24, BM = 4, n = 9;
  const float scale = 2.5f;
  const std::string what = std::string("moe ") + tag(t) + (hasShared ? " shared" : "") +
                           (hasResidual ? " residual" : "");
  const std::string T = spell(t), sH = std::to_string(H), sE = std::to_string(E),
                    sK = std::to_string(K), sI = std::to_string(INTER), sBM = std::to_string(BM);
  Tensor x = randomTensor(t, size_t(n) * H, 1.0f, seed);
  Tensor gw = randomTensor(t, size_t(E) * H, 1.0f / std::sqrt(float(H)), seed + 1);
  Tensor cbT = randomTensor(Elem::f32, E, 0.3f, seed + 2);
  Tensor up = randomTensor(t, size_t(E) * INTER * H, 1.0f / std::sqrt(float(H)), seed + 3);
  Tensor down = randomTensor(t, size_t(E) * H * INTER, 1.0f / std::sqrt(float(INTER)), seed + 4);
  Tensor shared = randomTensor(t, size_t(n) * H, 1.0f, seed + 5);
  Tensor residual = randomTensor(t, size_t(n) * H, 1.0f, seed + 6);
  std::vector<float> cb(cbT.f);

  // Router.
  std::vector<float> wts(size_t(n) * K);
  std::vector<int32_t> idx(size_t(n) * K);
  ASSERT_TRUE(run("moe_router", {T, T, sH, sE, sK, "256"},
                  {P(x.data()), P(gw.data()), P(cb.data()), P(wts.data()), P(idx.data()), I(n),
                   R(scale), I(1)}));
  std::vector<int32_t> wantIdx;
  std::vector<float> wantW;
  routerFormula(x, gw, cb, n, H, E, K, scale, true, wantIdx, wantW);
  ASSERT_EQ(idx, wantIdx) << what;
  for (size_t i = 0; i < wts.size(); ++i)
    EXPECT_NEAR(wts[i], wantW[i], 1e-6f * std::fabs(wantW[i])) << what;

  // moe_topk: the same selection from logits computed elsewhere (here in double).
  std::vector<float> logits(size_t(n) * E);
  for (int row = 0; row < n; ++row)
    for (int e = 0; e < E; ++e) {
      double acc = 0;
      for (int q = 0; q < H; ++q)
        acc += double(x.get(size_t(row) * H + q)) * gw.get(size_t(e) * H + q);
      logits[size_t(row) * E + e] = float(acc);
    }
  std::vector<float> topkW(size_t(n) * K);
  std::vector<int32_t> topkIdx(size_t(n) * K);
  ASSERT_TRUE(run("moe_topk", {sE, sK, "256"},
                  {P(logits.data()), P(cb.data()), P(topkW.data()), P(topkIdx.data()), I(n),
                   R(scale), I(1)}));
  ASSERT_EQ(topkIdx, wantIdx) << what;
  for (size_t i = 0; i < topkW.size(); ++i)
    EXPECT_NEAR(topkW[i], wantW[i], 1e-6f * std::fabs(wantW[i])) << what;

  // Align: padded per-expert ranges, each pair once, padding -1, nothing written past the end.
  const int pairs = n * K, maxTiles = (pairs + BM - 1) / BM + E;
  std::vector<int32_t> sp(size_t(maxTiles) * BM, -7), te(maxTiles, -7), nt(1, -7);
  ASSERT_TRUE(run("moe_align", {sE, sK, sBM, "1024"},
                  {P(idx.data()), I(n), P(sp.data()), P(te.data()), P(nt.data()), I(0)}));
  std::vector<int> count(E, 0);
  for (int32_t e : idx)
    ++count[e];
  int row = 0;
  for (int e = 0; e < E; ++e) {
    const int tiles = (count[e] + BM - 1) / BM;
    std::multiset<int> got, want;
    for (int p = 0; p < pairs; ++p)
      if (idx[p] == e)
        want.insert(p);
    for (int r = row; r < row + tiles * BM; ++r) {
      if (sp[r] >= 0)
        got.insert(sp[r]);
      else
        ASSERT_EQ(sp[r], -1) << what;
    }
    ASSERT_EQ(got, want) << what << " expert " << e;
    for (int tile = row / BM; tile < row / BM + tiles; ++tile)
      ASSERT_EQ(te[tile], e);
    row += tiles * BM;
  }
  ASSERT_EQ(nt[0], row / BM);
  for (size_t r = size_t(row); r < sp.size(); ++r)
    ASSERT_EQ(sp[r], -7);
  for (size_t tile = size_t(nt[0]); tile < te.size(); ++tile)
    ASSERT_EQ(te[tile], -7);

  // up -> down -> combine.
  const std::vector<std::string> tiles = {"64", "64", "32", "3", "2", "2"};
  std::vector<std::string> upArgs = {T, sH, sI, sK, sBM};
  upArgs.insert(upArgs.end(), tiles.begin() + 1, tiles.end());
  std::vector<std::string> downArgs = upArgs;
  upArgs.push_back("slk::kActRelu2");
  Tensor hbuf(t, size_t(maxTiles) * BM * INTER, 77.0f);
  Tensor slot(t, size_t(pairs) * H);
  Tensor out(t, size_t(n) * H);
  ASSERT_TRUE(
      run("moe_up", upArgs,
          {P(x.data()), P(up.data()), P(sp.data()), P(te.data()), P(nt.data()), P(hbuf.data())}));
  for (size_t r = 0; r < sp.size(); ++r) {
    if (sp[r] < 0) {
      for (int i = 0; i < INTER; ++i)
        ASSERT_EQ(hbuf.get(r * INTER + i), 77.0f) << what << ": padding row written";
    }
  }
  ASSERT_TRUE(run(
      "moe_down", downArgs,
      {P(hbuf.data()), P(down.data()), P(sp.data()), P(te.data()), P(nt.data()), P(slot.data())}));
  const std::string sh = hasShared ? "true" : "false", rs = hasResidual ? "true" : "false";
  ASSERT_TRUE(
      run("moe_combine", {T, sH, sK, "256", sh, rs},
          {P(slot.data()), P(wts.data()), P(idx.data()), P(hasShared ? shared.data() : nullptr),
           P(hasResidual ? residual.data() : nullptr), P(out.data()), I(n), I(0), I(E)}));

  // The per-token formula (transformers' NemotronHMoE numerics).
  for (int tok = 0; tok < n; ++tok) {
    std::vector<int> order(K);
    for (int j = 0; j < K; ++j)
      order[j] = j;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      return wantIdx[size_t(tok) * K + a] < wantIdx[size_t(tok) * K + b];
    });
    std::vector<float> routed(H, 0.0f);
    for (int j : order) {
      const int e = wantIdx[size_t(tok) * K + j];
      std::vector<float> a(INTER);
      for (int i = 0; i < INTER; ++i) {
        double acc = 0;
        for (int q = 0; q < H; ++q)
          acc += double(x.get(size_t(tok) * H + q)) * up.get((size_t(e) * INTER + i) * H + q);
        a[i] = rt(t, relu2(rt(t, float(acc))));
      }
      for (int c = 0; c < H; ++c) {
        double acc = 0;
        for (int i = 0; i < INTER; ++i)
          acc += double(a[i]) * down.get((size_t(e) * H + c) * INTER + i);
        const float y = rt(t, float(acc));
        expectClose(slot.get((size_t(tok) * K + j) * H + c), y, t, what + " slot_out");
        volatile float product = wts[size_t(tok) * K + j] * y; // no FMA: rounded product
        routed[c] = routed[c] + product;
      }
    }
    for (int c = 0; c < H; ++c) {
      const size_t off = size_t(tok) * H + c;
      float v = rt(t, routed[c]);
      if (hasShared)
        v = rt(t, v + shared.get(off));
      if (hasResidual)
        v = rt(t, v + residual.get(off));
      expectClose(out.get(off), v, t, what + " out");
    }
  }

  // Decode path: same router output, one warp-per-row kernel pair; on the CPU both paths
  // compute the same dot products, so the results are bitwise equal.
  Tensor hdec(t, size_t(pairs) * INTER);
  Tensor outDec(t, size_t(n) * H);
  ASSERT_TRUE(run("moe_decode_up", {T, sH, sI, sK, "8", "slk::kActRelu2"},
                  {P(x.data()), P(up.data()), P(idx.data()), P(hdec.data()), I(n), I(0), I(E)}));
  for (size_t r = 0; r < sp.size(); ++r) {
    if (sp[r] >= 0) {
      for (int i = 0; i < INTER; ++i)
        ASSERT_EQ(hdec.get(size_t(sp[r]) * INTER + i), hbuf.get(r * INTER + i)) << what;
    }
  }
  ASSERT_TRUE(run("moe_decode_down", {T, sH, sI, sK, "8", sh, rs},
                  {P(hdec.data()), P(down.data()), P(wts.data()), P(idx.data()),
                   P(hasShared ? shared.data() : nullptr),
                   P(hasResidual ? residual.data() : nullptr), P(outDec.data()), I(n), I(0),
                   I(E)}));
  for (size_t i = 0; i < out.size(); ++i)
    ASSERT_EQ(outDec.get(i), out.get(i)) << what << " decode vs prefill at " << i;

  // Expert parallelism: ranks holding experts [0, E/2) and [E/2, E) (their slices of up and
  // down, the router's global ids) each sum their own pairs; the two partial sums add up to the
  // unsharded routed sum (fp32: up to rounding; no shared / residual, added once elsewhere).
  if (t != Elem::f32 || hasShared || hasResidual)
    return;
  const int half = E / 2;
  std::vector<float> prefillSum(size_t(n) * H, 0.0f);
  for (int rank = 0; rank < 2; ++rank) {
    const int offset = rank * half;
    Tensor upPart(t, size_t(half) * INTER * H), downPart(t, size_t(half) * H * INTER);
    for (size_t i = 0; i < upPart.size(); ++i) {
      upPart.set(i, up.get(size_t(offset) * INTER * H + i));
      downPart.set(i, down.get(size_t(offset) * H * INTER + i));
    }
    std::vector<int32_t> spR(size_t(maxTiles) * BM, -7), teR(maxTiles, -7), ntR(1, -7);
    ASSERT_TRUE(run("moe_align", {std::to_string(half), sK, sBM, "1024"},
                    {P(idx.data()), I(n), P(spR.data()), P(teR.data()), P(ntR.data()),
                     I(offset)}));
    Tensor hR(t, size_t(maxTiles) * BM * INTER), slotR(t, size_t(pairs) * H, 99.0f);
    Tensor outR(t, size_t(n) * H), hDecR(t, size_t(pairs) * INTER), outDecR(t, size_t(n) * H);
    ASSERT_TRUE(run("moe_up", upArgs,
                    {P(x.data()), P(upPart.data()), P(spR.data()), P(teR.data()),
                     P(ntR.data()), P(hR.data())}));
    ASSERT_TRUE(run("moe_down", downArgs,
                    {P(hR.data()), P(downPart.data()), P(spR.data()), P(teR.data()),
                     P(ntR.data()), P(slotR.data())}));
    for (int p = 0; p < pairs; ++p)  // another rank's pairs: not computed here
      if (idx[p] < offset || idx[p] >= offset + half)
        ASSERT_EQ(slotR.get(size_t(p) * H), 99.0f) << what << " pair " << p;
    ASSERT_TRUE(run("moe_combine", {T, sH, sK, "256", "false", "false"},
                    {P(slotR.data()), P(wts.data()), P(idx.data()), P(nullptr), P(nullptr),
                     P(outR.data()), I(n), I(offset), I(half)}));
    ASSERT_TRUE(run("moe_decode_up", {T, sH, sI, sK, "8", "slk::kActRelu2"},
                    {P(x.data()), P(upPart.data()), P(idx.data()), P(hDecR.data()), I(n),
                     I(offset), I(half)}));
    ASSERT_TRUE(run("moe_decode_down", {T, sH, sI, sK, "8", "false", "false"},
                    {P(hDecR.data()), P(downPart.data()), P(wts.data()), P(idx.data()),
                     P(nullptr), P(nullptr), P(outDecR.data()), I(n), I(offset), I(half)}));
    for (size_t i = 0; i < prefillSum.size(); ++i) {
      ASSERT_EQ(outDecR.get(i), outR.get(i)) << what << " rank " << rank << " decode at " << i;
      prefillSum[i] += outR.get(i);
    }
  }
  for (size_t i = 0; i < prefillSum.size(); ++i)
    ASSERT_NEAR(prefillSum[i], out.get(i), 1e-5f * (1.0f + std::fabs(out.get(i))))
        << what << " expert-parallel sum at " << i;
}

TEST(DenseMoe, PrefillChainMatchesFormulaAndDecode) {
  uint32_t seed = 100;
  for (Elem t : {Elem::bf16, Elem::f32}) {
    checkMoe(t, true, true, seed);
    checkMoe(t, false, false, seed + 10);
    checkMoe(t, true, false, seed + 20);
    seed += 100;
  }
}

TEST(DenseMoe, CombineOutputMayAliasResidual) {
  const int H = 16, K = 2, n = 3;
  for (Elem t : {Elem::bf16, Elem::f32}) {
    Tensor slot = randomTensor(t, size_t(n) * K * H, 1.0f, 150);
    Tensor shared = randomTensor(t, size_t(n) * H, 1.0f, 151);
    Tensor residual = randomTensor(t, size_t(n) * H, 1.0f, 152);
    std::vector<float> wts = {0.5f, 1.5f, 0.25f, 0.75f, 1.0f, 2.0f};
    std::vector<int32_t> idx = {3, 1, 0, 2, 5, 5}; // includes a repeated expert id
    Tensor separate(t, size_t(n) * H), inPlace = residual;
    const std::vector<std::string> targs = {
        spell(t), std::to_string(H), std::to_string(K), "128", "true", "true"};
    ASSERT_TRUE(run("moe_combine", targs,
                    {P(slot.data()), P(wts.data()), P(idx.data()), P(shared.data()),
                     P(residual.data()), P(separate.data()), I(n), I(0), I(6)}));
    ASSERT_TRUE(run("moe_combine", targs,
                    {P(slot.data()), P(wts.data()), P(idx.data()), P(shared.data()),
                     P(inPlace.data()), P(inPlace.data()), I(n), I(0), I(6)}));
    for (size_t i = 0; i < separate.size(); ++i)
      ASSERT_EQ(inPlace.get(i), separate.get(i));
  }
}

// The routed sum runs over the slots in ascending expert id (stable for a repeated id), in fp32:
// values chosen so that any other order gives a different float result.
TEST(DenseMoe, CombineSumsInAscendingExpertOrder) {
  const int K = 3, n = 2;
  std::vector<float> slot = {1.0f, 1e8f, -1e8f,  // token 0: experts 5, 1, 3
                             1e8f, 1.0f, -1e8f}; // token 1: experts 2, 2, 1
  std::vector<float> wts(size_t(n) * K, 1.0f);
  std::vector<int32_t> idx = {5, 1, 3, 2, 2, 1}; // [n, K]
  std::vector<float> out(n, -5.0f);
  ASSERT_TRUE(run(
      "moe_combine", {"float", "1", "3", "32", "false", "false"},
      {P(slot.data()), P(wts.data()), P(idx.data()), P(nullptr), P(nullptr), P(out.data()), I(n),
       I(0), I(6)}));
  EXPECT_EQ(out[0], 1.0f); // (1e8 + -1e8) + 1; slot order would give 0
  EXPECT_EQ(out[1], 1.0f); // (-1e8 + 1e8) + 1; reversed tie order would give 0
}

} // namespace
