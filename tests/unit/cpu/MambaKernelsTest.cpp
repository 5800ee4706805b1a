// The CPU reference of the Mamba-2 mixer kernels (runtime/cpu/MambaKernels.cpp) against a
// sequential recurrence written here in double: chunked prefill (n not a multiple of the
// chunk), two calls == one call, decode after prefill == a longer prefill, dt clamping, and
// invalid template arguments.
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cpu/Elements.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sl::cpu {
namespace {

// Tiny shapes (the device's tiny model: 8x8 heads would do; here 4 heads of 8, 2 groups).
constexpr int kHeads = 4, kHeadDim = 8, kGroups = 2, kState = 16, kChunk = 32, kK = 4;
constexpr int kChannels = kHeads * kHeadDim + 2 * kGroups * kState;  // conv channels (xBC)
constexpr int kInner = kHeads * kHeadDim;
// The in_proj-like input row: [xBC (kChannels) | dt (kHeads) | 3 spare columns].
constexpr int kLdIn = kChannels + kHeads + 3;
constexpr int kLdXbc = kChannels + 5;  // conv output rows
constexpr int kLdY = kInner + 2;

KernelArg ptr(const void *p) {
  KernelArg a;
  a.pointer = const_cast<void *>(p);
  return a;
}
KernelArg num(int64_t v) {
  KernelArg a;
  a.integer = v;
  return a;
}
KernelArg real(float v) {
  KernelArg a;
  a.real = v;
  return a;
}

Status launch(const std::string &name, const std::vector<std::string> &templateArgs,
              const std::vector<KernelArg> &args) {
  KernelFn fn = lookupKernel(name);
  if (!fn)
    return Status::error("no CPU kernel '" + name + "'");
  return fn(KernelCall{templateArgs, args});
}

// Storage of element type T (bf16 as uint16_t, f32 as float) addressed as floats.
struct Buffer {
  Elem elem;
  std::vector<uint16_t> b16;
  std::vector<float> f32;
  Buffer(Elem e, size_t count) : elem(e) {
    if (e == Elem::bf16)
      b16.assign(count, 0);
    else
      f32.assign(count, 0.0f);
  }
  void *data() { return elem == Elem::bf16 ? (void *)b16.data() : (void *)f32.data(); }
  float get(size_t i) const {
    return elem == Elem::bf16 ? bf16ToFloat(b16[i]) : f32[i];
  }
  void set(size_t i, float v) { store(elem, data(), int64_t(i), v); }
};

std::string spelling(Elem e) { return e == Elem::bf16 ? "slk::bf16" : "float"; }

struct Params {
  std::vector<float> convW, convB;  // [C][K], [C] (held as f32: WT = float)
  std::vector<float> aLog, d, dtBias;
  float dtMin = 0.0f, dtMax = INFINITY;
};

Params makeParams(std::mt19937 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Params p;
  for (int i = 0; i < kChannels * kK; ++i)
    p.convW.push_back(0.5f * u(rng));
  for (int i = 0; i < kChannels; ++i)
    p.convB.push_back(0.2f * u(rng));
  for (int h = 0; h < kHeads; ++h) {
    p.aLog.push_back(0.5f * u(rng));  // A in about [-1.6, -0.6]
    p.d.push_back(u(rng));
    p.dtBias.push_back(-2.0f + u(rng));  // dt around 0.05 .. 0.3
  }
  return p;
}

// One Mamba layer's state plus the kernels' launch sequences (prefill and decode).
struct Layer {
  Elem t, st;
  Params params;
  Buffer convState;
  std::vector<float> ssmState;

  Layer(Elem t, Elem st, Params p)
      : t(t), st(st), params(std::move(p)), convState(st, kChannels * (kK - 1)),
        ssmState(kHeads * kHeadDim * kState, 0.0f) {}

  std::vector<std::string> convTemplate(bool prefill) const {
    std::vector<std::string> args = {spelling(t), "float", spelling(st),
                                     std::to_string(kChannels), std::to_string(kK), "true",
                                     "slk::kActSilu", "128"};
    if (prefill)
      args.push_back("16");
    return args;
  }
  std::vector<std::string> ssdTemplate() const {
    return {spelling(t), std::to_string(kHeads), std::to_string(kHeadDim),
            std::to_string(kGroups), std::to_string(kState), std::to_string(kChunk), "64"};
  }

  // Chunked prefill of n tokens of `in` (rows kLdIn); writes xbc (the conv output) and y.
  void prefill(Buffer &in, int n, Buffer &xbc, Buffer &y) {
    ASSERT_TRUE(launch("causal_conv1d", convTemplate(true),
                       {ptr(in.data()), num(kLdIn), ptr(params.convW.data()),
                        ptr(params.convB.data()), ptr(convState.data()), ptr(xbc.data()),
                        num(kLdXbc), num(n)})
                    .ok());
    ASSERT_TRUE(launch("conv_state_update",
                       {spelling(t), spelling(st), std::to_string(kChannels), std::to_string(kK),
                        "128"},
                       {ptr(in.data()), num(kLdIn), ptr(convState.data()), num(n)})
                    .ok());
    const int nc = (n + kChunk - 1) / kChunk, np = nc * kChunk;
    std::vector<float> dtS(kHeads * np, NAN), cumS(kHeads * np, NAN);
    std::vector<float> states(size_t(nc) * kHeads * kHeadDim * kState, NAN);
    Status s = launch("ssd_chunk_cumsum", {spelling(t), std::to_string(kHeads), std::to_string(kChunk)},
                      {ptr(dtColumn(in)),
                       num(kLdIn), ptr(params.dtBias.data()), ptr(params.aLog.data()),
                       ptr(dtS.data()), ptr(cumS.data()), num(n), real(params.dtMin),
                       real(params.dtMax)});
    ASSERT_TRUE(s.ok()) << s.message();
    s = launch("ssd_chunk_state", ssdTemplate(),
               {ptr(xbc.data()), num(kLdXbc), ptr(dtS.data()), ptr(cumS.data()),
                ptr(states.data()), num(n)});
    ASSERT_TRUE(s.ok()) << s.message();
    s = launch("ssd_state_pass",
               {std::to_string(kHeads), std::to_string(kHeadDim), std::to_string(kState),
                std::to_string(kChunk), "256"},
               {ptr(states.data()), ptr(cumS.data()), ptr(ssmState.data()), num(n)});
    ASSERT_TRUE(s.ok()) << s.message();
    s = launch("ssd_chunk_scan", ssdTemplate(),
               {ptr(xbc.data()), num(kLdXbc), ptr(params.d.data()), ptr(dtS.data()),
                ptr(cumS.data()), ptr(states.data()), ptr(y.data()), num(kLdY), num(n)});
    ASSERT_TRUE(s.ok()) << s.message();
  }

  // Decode of n tokens: conv step + ssd step.
  void decode(Buffer &in, int n, Buffer &xbc, Buffer &y) {
    Status s = launch("causal_conv1d_step", convTemplate(false),
                      {ptr(in.data()), num(kLdIn), ptr(params.convW.data()),
                       ptr(params.convB.data()), ptr(convState.data()), ptr(xbc.data()),
                       num(kLdXbc), num(n)});
    ASSERT_TRUE(s.ok()) << s.message();
    s = launch("ssd_step",
               {spelling(t), std::to_string(kHeads), std::to_string(kHeadDim),
                std::to_string(kGroups), std::to_string(kState), "4"},
               {ptr(xbc.data()), num(kLdXbc), ptr(dtColumn(in)), num(kLdIn),
                ptr(params.aLog.data()), ptr(params.d.data()), ptr(params.dtBias.data()),
                ptr(ssmState.data()), ptr(y.data()), num(kLdY), num(n), real(params.dtMin),
                real(params.dtMax)});
    ASSERT_TRUE(s.ok()) << s.message();
  }

  void *dtColumn(Buffer &in) const {
    return (char *)in.data() + kChannels * (t == Elem::bf16 ? 2 : 4);
  }
};

// Sequential reference in double: the conv (sum rounded to T before SiLU, output rounded to
// T) and the SSD recurrence. State: conv window history and the SSM state.
struct Reference {
  Elem t, st;
  Params params;
  std::vector<double> convHist;  // [C][K-1], values as ST holds them
  std::vector<double> ssm;       // [H][P][N]

  Reference(Elem t, Elem st, Params p)
      : t(t), st(st), params(std::move(p)), convHist(kChannels * (kK - 1), 0.0),
        ssm(kHeads * kHeadDim * kState, 0.0) {}

  double dtOf(float raw, int h) const {
    const double x = double(raw) + params.dtBias[h];
    const double sp = x > 20.0 ? x : std::log1p(std::exp(x));
    return std::min(std::max(sp, double(params.dtMin)), double(params.dtMax));
  }

  // One token: `in` row (xBC | dt) as the kernels read it; returns y[kInner] and the conv row.
  void step(const Buffer &in, int row, std::vector<double> &y, std::vector<float> &conv) {
    conv.assign(kChannels, 0.0f);
    for (int c = 0; c < kChannels; ++c) {
      const double xin = in.get(size_t(row) * kLdIn + c);
      double acc = params.convB[c];
      for (int k = 0; k < kK - 1; ++k)
        acc += double(params.convW[c * kK + k]) * convHist[c * (kK - 1) + k];
      acc += double(params.convW[c * kK + kK - 1]) * xin;
      const double pre = roundTo(t, float(acc));
      conv[c] = roundTo(t, float(pre / (1.0 + std::exp(-pre))));
      for (int k = 0; k < kK - 2; ++k)
        convHist[c * (kK - 1) + k] = convHist[c * (kK - 1) + k + 1];
      convHist[c * (kK - 1) + kK - 2] = roundTo(st, float(xin));
    }
    y.assign(kInner, 0.0);
    for (int h = 0; h < kHeads; ++h) {
      const int g = h / (kHeads / kGroups);
      const double dt = dtOf(in.get(size_t(row) * kLdIn + kChannels + h), h);
      const double decay = std::exp(dt * -std::exp(double(params.aLog[h])));
      for (int p = 0; p < kHeadDim; ++p) {
        const double xv = conv[h * kHeadDim + p];
        double out = 0.0;
        for (int s = 0; s < kState; ++s) {
          double &hs = ssm[(h * kHeadDim + p) * kState + s];
          hs = decay * hs + dt * xv * conv[kInner + g * kState + s];
          out += conv[kInner + kGroups * kState + g * kState + s] * hs;
        }
        y[h * kHeadDim + p] = out + params.d[h] * xv;
      }
    }
  }
};

// |got - want| <= abs * max|want| + rel * |want| over all entries.
void expectClose(const std::vector<double> &want, const std::vector<double> &got, double abs,
                 double rel, const std::string &what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  double scale = 0.0;
  for (double w : want)
    scale = std::max(scale, std::fabs(w));
  int bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double tol = abs * scale + rel * std::fabs(want[i]);
    if (!(std::fabs(got[i] - want[i]) <= tol) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i]
                    << " (tol " << tol << ")";
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " mismatches of " << want.size();
}

Buffer randomInput(Elem t, int n, std::mt19937 &rng, float dtSpread = 1.0f) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  Buffer in(t, size_t(n) * kLdIn);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < kLdIn; ++c)
      in.set(size_t(r) * kLdIn + c, c >= kChannels && c < kChannels + kHeads ? dtSpread * u(rng)
                                                                              : u(rng));
  return in;
}

// Rows [from, from + n) of `in` as a fresh buffer.
Buffer slice(const Buffer &in, int from, int n) {
  Buffer out(in.elem, size_t(n) * kLdIn);
  for (size_t i = 0; i < size_t(n) * kLdIn; ++i)
    out.set(i, in.get(size_t(from) * kLdIn + i));
  return out;
}

std::vector<double> yRows(const Buffer &y, int n) {
  std::vector<double> out;
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < kInner; ++c)
      out.push_back(y.get(size_t(r) * kLdY + c));
  return out;
}

std::vector<double> convRows(const Buffer &xbc, int n) {
  std::vector<double> out;
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < kChannels; ++c)
      out.push_back(xbc.get(size_t(r) * kLdXbc + c));
  return out;
}

struct Tolerance {
  double convAbs, convRel, yAbs, yRel, stateAbs, stateRel;
};
Tolerance toleranceFor(Elem t) {
  if (t == Elem::bf16)  // as tests/gpu/mamba_check.cu
    return {2e-3, 1e-2, 4e-3, 1e-2, 2e-4, 1e-3};
  return {1e-5, 1e-5, 2e-5, 1e-4, 2e-5, 1e-4};
}

// Starts both the layer and the reference from the same non-trivial state.
void randomState(Layer &layer, Reference &ref, std::mt19937 &rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int i = 0; i < kChannels * (kK - 1); ++i) {
    layer.convState.set(i, u(rng));
    ref.convHist[i] = layer.convState.get(i);
  }
  for (size_t i = 0; i < layer.ssmState.size(); ++i) {
    layer.ssmState[i] = u(rng);
    ref.ssm[i] = layer.ssmState[i];
  }
}

// Runs `calls` (token counts; prefill or decode each) on the kernels and the reference and
// compares the conv output, y and both states after every call.
void runSequence(Elem t, Elem st, const std::vector<std::pair<int, bool>> &calls,
                 uint32_t seed, float dtMin = 0.0f, float dtMax = INFINITY,
                 float dtSpread = 1.0f) {
  std::mt19937 rng(seed);
  Params params = makeParams(rng);
  params.dtMin = dtMin;
  params.dtMax = dtMax;
  Layer layer(t, st, params);
  Reference ref(t, st, params);
  randomState(layer, ref, rng);
  const Tolerance tol = toleranceFor(t);
  int done = 0;
  for (auto [n, isPrefill] : calls) {
    const std::string what = std::string(isPrefill ? "prefill" : "decode") + " n=" +
                             std::to_string(n) + " after " + std::to_string(done);
    Buffer in = randomInput(t, n, rng, dtSpread);
    Buffer xbc(t, size_t(n) * kLdXbc), y(t, size_t(n) * kLdY);
    if (isPrefill)
      layer.prefill(in, n, xbc, y);
    else
      layer.decode(in, n, xbc, y);
    std::vector<double> wantY, wantConv;
    for (int r = 0; r < n; ++r) {
      std::vector<double> yr;
      std::vector<float> cr;
      ref.step(in, r, yr, cr);
      wantY.insert(wantY.end(), yr.begin(), yr.end());
      wantConv.insert(wantConv.end(), cr.begin(), cr.end());
    }
    expectClose(wantConv, convRows(xbc, n), tol.convAbs, tol.convRel, what + " conv");
    expectClose(wantY, yRows(y, n), tol.yAbs, tol.yRel, what + " y");
    std::vector<double> gotState(layer.ssmState.begin(), layer.ssmState.end());
    expectClose(ref.ssm, gotState, tol.stateAbs, tol.stateRel, what + " ssm state");
    std::vector<double> gotConv;
    for (int i = 0; i < kChannels * (kK - 1); ++i)
      gotConv.push_back(layer.convState.get(i));
    expectClose(ref.convHist, gotConv, 0.0, 0.0, what + " conv state");
    done += n;
  }
}

TEST(MambaKernels, ChunkedPrefillMatchesRecurrenceF32) {
  for (int n : {1, 2, 31, 32, 33, 75, 150})
    runSequence(Elem::f32, Elem::f32, {{n, true}}, 100 + n);
}

TEST(MambaKernels, ChunkedPrefillMatchesRecurrenceBf16) {
  for (int n : {1, 45, 75, 200})
    runSequence(Elem::bf16, Elem::bf16, {{n, true}}, 200 + n);
  runSequence(Elem::bf16, Elem::f32, {{75, true}}, 7);  // fp32 conv state
}

TEST(MambaKernels, CallSequencesMatchRecurrence) {
  // prefill calls of 2+1+CHUNK+5 tokens, decode after prefill, prefill after decode.
  runSequence(Elem::f32, Elem::f32, {{2, true}, {1, true}, {32, true}, {5, true}}, 1);
  runSequence(Elem::f32, Elem::f32, {{40, true}, {1, false}, {3, false}, {37, true}}, 2);
  runSequence(Elem::bf16, Elem::bf16, {{70, true}, {1, false}, {2, false}, {1, false}}, 3);
}

// The kernels against themselves: one prefill call == two calls, and prefill + decode ==
// a longer prefill (the state carries exactly across calls, up to fp32 rounding).
void expectSplitEqualsWhole(Elem t, const std::vector<std::pair<int, bool>> &parts,
                            uint32_t seed) {
  std::mt19937 rng(seed);
  const Params params = makeParams(rng);
  int total = 0;
  for (auto part : parts)
    total += part.first;
  Buffer in = randomInput(t, total, rng);
  Layer whole(t, t, params), split(t, t, params);
  Reference unused(t, t, params);
  std::mt19937 stateRng(seed + 1);
  randomState(whole, unused, stateRng);
  split.convState = whole.convState;
  split.ssmState = whole.ssmState;

  Buffer xbc(t, size_t(total) * kLdXbc), y(t, size_t(total) * kLdY);
  whole.prefill(in, total, xbc, y);
  std::vector<double> wantY = yRows(y, total);

  std::vector<double> gotY;
  int from = 0;
  for (auto [n, isPrefill] : parts) {
    Buffer part = slice(in, from, n);
    Buffer px(t, size_t(n) * kLdXbc), py(t, size_t(n) * kLdY);
    if (isPrefill)
      split.prefill(part, n, px, py);
    else
      split.decode(part, n, px, py);
    std::vector<double> rows = yRows(py, n);
    gotY.insert(gotY.end(), rows.begin(), rows.end());
    from += n;
  }
  const bool bf = t == Elem::bf16;
  // bf16: y is rounded once, so an fp32 difference can flip one bf16 step.
  expectClose(wantY, gotY, bf ? 1e-2 : 1e-5, bf ? 1e-2 : 1e-5, "y");
  expectClose(std::vector<double>(whole.ssmState.begin(), whole.ssmState.end()),
              std::vector<double>(split.ssmState.begin(), split.ssmState.end()), 1e-5, 1e-5,
              "ssm state");
  for (int i = 0; i < kChannels * (kK - 1); ++i)
    EXPECT_EQ(whole.convState.get(i), split.convState.get(i)) << "conv state " << i;
}

TEST(MambaKernels, TwoCallsEqualOneCall) {
  expectSplitEqualsWhole(Elem::f32, {{37, true}, {50, true}}, 11);
  expectSplitEqualsWhole(Elem::f32, {{2, true}, {64, true}}, 12);  // n < K-1 first
  expectSplitEqualsWhole(Elem::bf16, {{40, true}, {33, true}}, 13);
}

TEST(MambaKernels, DecodeAfterPrefillEqualsLongerPrefill) {
  expectSplitEqualsWhole(Elem::f32, {{40, true}, {1, false}, {3, false}, {1, false}}, 21);
  expectSplitEqualsWhole(Elem::bf16, {{33, true}, {1, false}, {2, false}}, 22);
}

TEST(MambaKernels, DtIsClamped) {
  // Wide raw dt (softplus saturating, including the x > 20 branch) clamped to [0.05, 0.5].
  runSequence(Elem::f32, Elem::f32, {{75, true}, {2, false}}, 31, 0.05f, 0.5f, 30.0f);
  runSequence(Elem::bf16, Elem::bf16, {{40, true}, {1, false}}, 32, 0.05f, 0.5f, 30.0f);

  // Directly: dt_s holds the clamped softplus, 0 on the padded tokens; cum_s restarts per chunk.
  std::vector<float> raw = {-40.0f, -1.0f, 0.0f, 25.0f, 3.0f};  // n = 5, one head
  std::vector<float> bias = {0.0f}, aLog = {0.0f};                // A = -1
  std::vector<float> dtS(kChunk, NAN), cumS(kChunk, NAN);
  Status s = launch("ssd_chunk_cumsum", {"float", "1", std::to_string(kChunk)},
                    {ptr(raw.data()), num(1), ptr(bias.data()), ptr(aLog.data()),
                     ptr(dtS.data()), ptr(cumS.data()), num(5), real(0.1f), real(2.0f)});
  ASSERT_TRUE(s.ok()) << s.message();
  const float want[5] = {0.1f, std::log1p(std::exp(-1.0f)), std::log(2.0f), 2.0f, 2.0f};
  double cum = 0.0;
  for (int i = 0; i < kChunk; ++i) {
    const double dt = i < 5 ? want[i] : 0.0;
    cum -= dt;
    EXPECT_NEAR(dtS[i], dt, 1e-6) << i;
    EXPECT_NEAR(cumS[i], cum, 1e-5) << i;
  }
}

TEST(MambaKernels, ConvStateUpdateKeepsNewestEntries) {
  // n < K-1: the state shifts by n and appends the new inputs.
  std::vector<float> state = {1, 2, 3};  // C = 1, K = 4
  std::vector<float> x = {10, 20};
  Status s = launch("conv_state_update", {"float", "float", "1", "4", "32"},
                    {ptr(x.data()), num(1), ptr(state.data()), num(2)});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(state, (std::vector<float>{3, 10, 20}));
  std::vector<float> x5 = {4, 5, 6, 7, 8};
  s = launch("conv_state_update", {"float", "float", "1", "4", "32"},
             {ptr(x5.data()), num(1), ptr(state.data()), num(5)});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(state, (std::vector<float>{6, 7, 8}));
}

TEST(MambaKernels, ConvRoundsBeforeActivation) {
  // bf16: the sum 1 + 2^-9 rounds to 1 before SiLU.
  const uint16_t one = floatToBf16(1.0f);
  std::vector<uint16_t> x = {one}, y = {0}, state = {0};
  std::vector<float> w = {0.0f, 1.0f}, b = {std::ldexp(1.0f, -9)};
  Status s = launch("causal_conv1d",
                    {"slk::bf16", "float", "slk::bf16", "1", "2", "true", "slk::kActSilu", "32", "8"},
                    {ptr(x.data()), num(1), ptr(w.data()), ptr(b.data()), ptr(state.data()),
                     ptr(y.data()), num(1), num(1)});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(y[0], floatToBf16(float(1.0 / (1.0 + std::exp(-1.0)))));
  EXPECT_EQ(state[0], 0);  // the prefill conv does not write the state
}

TEST(MambaKernels, InvalidArgumentsAreErrors) {
  std::vector<float> buf(4096, 0.0f);
  const std::vector<KernelArg> scanArgs = {ptr(buf.data()), num(kLdXbc), ptr(buf.data()),
                                           ptr(buf.data()), ptr(buf.data()), ptr(buf.data()),
                                           ptr(buf.data()), num(kLdY),       num(1)};
  auto scan = [&](std::vector<std::string> tmpl, std::vector<KernelArg> args) {
    return launch("ssd_chunk_scan", tmpl, args);
  };
  EXPECT_FALSE(scan({"half", "4", "8", "2", "16", "32", "64"}, scanArgs).ok());
  EXPECT_FALSE(scan({"float", "4", "8", "3", "16", "32", "64"}, scanArgs).ok());  // groups
  // Any chunk length and head size on the CPU (the CUDA limits are slc's to check).
  EXPECT_TRUE(scan({"float", "4", "6", "2", "12", "48", "64"}, scanArgs).ok());
  EXPECT_FALSE(scan({"float", "x", "8", "2", "16", "32", "64"}, scanArgs).ok());
  EXPECT_FALSE(scan({"float", "4", "8", "2", "16", "32"}, scanArgs).ok());        // count
  std::vector<KernelArg> nullX = scanArgs;
  nullX[0] = ptr(nullptr);
  Status s = scan({"float", "4", "8", "2", "16", "32", "64"}, nullX);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("xbc"), std::string::npos) << s.message();
  std::vector<KernelArg> shortStride = scanArgs;
  shortStride[1] = num(10);
  EXPECT_FALSE(scan({"float", "4", "8", "2", "16", "32", "64"}, shortStride).ok());
  EXPECT_TRUE(scan({"float", "4", "8", "2", "16", "32", "64"}, scanArgs).ok());

  const std::vector<KernelArg> convArgs = {ptr(buf.data()), num(8), ptr(buf.data()),
                                           ptr(nullptr),    ptr(buf.data()), ptr(buf.data()),
                                           num(8),          num(1)};
  EXPECT_FALSE(launch("causal_conv1d_step",
                      {"float", "float", "float", "8", "1", "false", "slk::kActSilu", "32"},
                      convArgs)
                   .ok());  // K < 2
  EXPECT_FALSE(launch("causal_conv1d_step",
                      {"float", "float", "float", "8", "4", "false", "slk::kActGelu", "32"},
                      convArgs)
                   .ok());
  EXPECT_FALSE(launch("causal_conv1d_step",
                      {"float", "float", "float", "8", "4", "true", "slk::kActSilu", "32"},
                      convArgs)
                   .ok());  // HAS_BIAS with a null bias
  EXPECT_TRUE(launch("causal_conv1d_step",
                     {"float", "float", "float", "8", "4", "false", "slk::kActSilu", "32"},
                     convArgs)
                  .ok());
  EXPECT_FALSE(launch("ssd_step", {"float", "4", "8", "2", "16", "3"},
                      std::vector<KernelArg>(13, ptr(buf.data())))
                   .ok());  // ROWS does not divide HEAD_DIM
}

TEST(MambaKernels, AllTemplatesRegistered) {
  for (const char *name : {"causal_conv1d", "conv_state_update", "causal_conv1d_step",
                           "ssd_chunk_cumsum", "ssd_chunk_state", "ssd_state_pass",
                           "ssd_chunk_scan", "ssd_step"})
    EXPECT_NE(lookupKernel(name), nullptr) << name;
}

}  // namespace
}  // namespace sl::cpu
