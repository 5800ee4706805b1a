// CPU reference of the Mamba-2 mixer kernels: sl_conv.cuh (depthwise causal conv1d and its
// state) and sl_ssd.cuh (chunked SSD prefill and the sequential decode step).
//
// Semantics, layouts and rounding points follow the device code (docs/kernels-mamba.md):
//   - conv: y = act(round_T(bias + sum_k w[k] in[t-(K-1)+k])), conv state [C][K-1] of ST,
//     oldest first; the prefill conv only reads the state, conv_state_update advances it.
//   - SSD: dt = clamp(softplus(dt_raw + dt_bias), dt_min, dt_max), A = -exp(A_log),
//     h_t = exp(dt A) h + dt x B^T, y = C.h + D x, y rounded to T once.
//   - chunked prefill scratch: dt_s / cum_s [HEADS][NP] (index h*NP + t, padded tokens dt = 0),
//     states [NC][HEADS][HEAD_DIM][STATE]. ssd_chunk_state writes each chunk's own
//     contribution, ssd_state_pass replaces it by the state entering the chunk and writes the
//     final state, ssd_chunk_scan combines both.
// Sums are accumulated in double; stored scratch and states are fp32 as on the device.
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cpu/Elements.h"
#include "runtime/cpu/KernelPlumbing.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sl::cpu {

namespace {

using namespace plumbing;

// ------------------------------------------------------------------------------------------
// Plumbing: argument checks, error reporting, a small thread pool.
// ------------------------------------------------------------------------------------------


// The device's ACT spellings.
std::string actArg(const Args &args, const char *param) {
  const std::string &act = args.templateArg(param);
  require(act == "slk::kActNone" || act == "slk::kActSilu" || act == "slk::kActRelu2",
          "unsupported activation '" + act + "'");
  return act;
}

// softplus as the device computes it (x above 20 passes through), then the clamp.
float ssdDt(float raw, float bias, float dtMin, float dtMax) {
  const float x = raw + bias;
  const float dt = x > 20.0f ? x : std::log1p(std::exp(x));
  return std::min(std::max(dt, dtMin), dtMax);
}

// ------------------------------------------------------------------------------------------
// Depthwise causal conv1d (sl_conv.cuh)
// ------------------------------------------------------------------------------------------
struct Conv {
  Elem t, wt, st;
  int64_t channels, kernel;
  bool hasBias;
  std::string act;
};

// Template arguments <T, WT, ST, C, K, HAS_BIAS, ACT, ...>.
Conv parseConv(const Args &args) {
  Conv conv;
  conv.t = elemArg(args, "T");
  conv.wt = elemArg(args, "WT");
  conv.st = elemArg(args, "ST");
  conv.channels = sizeArg(args, "C");
  conv.kernel = sizeArg(args, "K");
  require(conv.kernel >= 2, "conv kernel K must be at least 2");
  conv.hasBias = boolArg(args, "HAS_BIAS");
  conv.act = actArg(args, "ACT");
  return conv;
}

// Runs channel c over the n tokens: the window starts from the state (the K-1 inputs before
// token 0) and slides over x. Writes y; with `updateState`, the state ends as the last K-1
// inputs. Arguments in the order (x, ldx, weight, bias, conv_state, y, ldy, n).
void convolve(const Conv &conv, const Args &args, bool updateState) {
  const int64_t C = conv.channels, K = conv.kernel;
  const int64_t n = countArg(args, "n");
  if (n == 0)
    return;
  const void *x = pointerArg(args, "x");
  const int64_t ldx = strideArg(args, "ldx", C);
  const void *weight = pointerArg(args, "weight");
  const void *bias = conv.hasBias ? pointerArg(args, "bias") : nullptr;
  void *state = pointerArg(args, "conv_state");
  void *y = pointerArg(args, "y");
  const int64_t ldy = strideArg(args, "ldy", C);
  for (int64_t c = 0; c < C; ++c) {
    std::vector<float> w(K), window(K);
    for (int64_t k = 0; k < K; ++k)
      w[k] = load(conv.wt, weight, c * K + k);
    const float b = conv.hasBias ? load(conv.wt, bias, c) : 0.0f;
    for (int64_t k = 0; k < K - 1; ++k)
      window[k] = load(conv.st, state, c * (K - 1) + k);
    for (int64_t t = 0; t < n; ++t) {
      window[K - 1] = load(conv.t, x, t * ldx + c);
      float acc = b;
      for (int64_t k = 0; k < K; ++k)
        acc = std::fma(w[k], window[k], acc);
      // The pre-activation sum is rounded to T, as transformers' conv output is.
      store(conv.t, y, t * ldy + c, activate(conv.act, roundTo(conv.t, acc)));
      std::rotate(window.begin(), window.begin() + 1, window.end());
    }
    if (updateState)
      for (int64_t k = 0; k < K - 1; ++k)
        store(conv.st, state, c * (K - 1) + k, window[k]);
  }
}

// causal_conv1d<T, WT, ST, C, K, HAS_BIAS, ACT, THREADS, TOKENS>(x, ldx, weight, bias,
// conv_state, y, ldy, n): prefill; reads the state, never writes it.
Status causalConv1d(const KernelCall &call) {
  return runKernel("causal_conv1d", call, [&](const Args &args) {
    const Conv conv = parseConv(args);
    sizeArg(args, "THREADS");
    sizeArg(args, "TOKENS");
    convolve(conv, args, /*updateState=*/false);
  });
}

// conv_state_update<T, ST, C, K, THREADS>(x, ldx, conv_state, n): state <- the last K-1
// entries of (old state ++ x[0..n)).
Status convStateUpdate(const KernelCall &call) {
  return runKernel("conv_state_update", call, [&](const Args &args) {
    const Elem t = elemArg(args, "T"), st = elemArg(args, "ST");
    const int64_t C = sizeArg(args, "C"), K = sizeArg(args, "K");
    require(K >= 2, "conv kernel K must be at least 2");
    sizeArg(args, "THREADS");
    const int64_t n = countArg(args, "n");
    if (n == 0)
      return;
    const void *x = pointerArg(args, "x");
    const int64_t ldx = strideArg(args, "ldx", C);
    void *state = pointerArg(args, "conv_state");
    std::vector<float> next(K - 1);
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t j = 0; j < K - 1; ++j) {
        const int64_t i = n + j;  // index into (old state ++ x)
        next[j] = i < K - 1 ? load(st, state, c * (K - 1) + i)
                            : load(t, x, (i - (K - 1)) * ldx + c);
      }
      for (int64_t j = 0; j < K - 1; ++j)
        store(st, state, c * (K - 1) + j, next[j]);
    }
  });
}

// causal_conv1d_step<T, WT, ST, C, K, HAS_BIAS, ACT, THREADS>(x, ldx, weight, bias,
// conv_state, y, ldy, n): decode; uses and updates the state in place.
Status causalConv1dStep(const KernelCall &call) {
  return runKernel("causal_conv1d_step", call, [&](const Args &args) {
    const Conv conv = parseConv(args);
    sizeArg(args, "THREADS");
    convolve(conv, args, /*updateState=*/true);
  });
}

// ------------------------------------------------------------------------------------------
// SSD (sl_ssd.cuh)
// ------------------------------------------------------------------------------------------
struct Ssd {
  Elem t = Elem::f32;
  int64_t heads = 0, headDim = 0, groups = 0, state = 0, chunk = 0;

  int64_t headsPerGroup() const { return heads / groups; }
  int64_t xColumn(int64_t h) const { return h * headDim; }
  int64_t bColumn(int64_t h) const { return heads * headDim + (h / headsPerGroup()) * state; }
  int64_t cColumn(int64_t h) const { return bColumn(h) + groups * state; }
  int64_t xbcWidth() const { return heads * headDim + 2 * groups * state; }
};

// Head h reads group h / (HEADS / GROUPS).
void checkGroups(const Ssd &s) {
  require(s.heads % s.groups == 0, "HEADS (" + std::to_string(s.heads) +
                                       ") must be a multiple of GROUPS (" +
                                       std::to_string(s.groups) + ")");
}

// Template arguments <T, HEADS, HEAD_DIM, GROUPS, STATE, CHUNK, THREADS> (chunk_state, scan).
Ssd parseChunked(const Args &args) {
  Ssd s;
  s.t = elemArg(args, "T");
  s.heads = sizeArg(args, "HEADS");
  s.headDim = sizeArg(args, "HEAD_DIM");
  s.groups = sizeArg(args, "GROUPS");
  s.state = sizeArg(args, "STATE");
  s.chunk = sizeArg(args, "CHUNK");
  sizeArg(args, "THREADS");
  checkGroups(s);
  return s;
}

int64_t chunkCount(int64_t n, int64_t chunk) { return (n + chunk - 1) / chunk; }

// One token row of xbc, converted to float: x of head h, B and C of its group.
struct TokenRow {
  std::vector<float> x, b, c;
};

TokenRow loadRow(const Ssd &s, const void *xbc, int64_t ldxbc, int64_t t, int64_t h) {
  TokenRow row{std::vector<float>(s.headDim), std::vector<float>(s.state),
               std::vector<float>(s.state)};
  for (int64_t p = 0; p < s.headDim; ++p)
    row.x[p] = load(s.t, xbc, t * ldxbc + s.xColumn(h) + p);
  for (int64_t k = 0; k < s.state; ++k) {
    row.b[k] = load(s.t, xbc, t * ldxbc + s.bColumn(h) + k);
    row.c[k] = load(s.t, xbc, t * ldxbc + s.cColumn(h) + k);
  }
  return row;
}

// ssd_chunk_cumsum<T, HEADS, CHUNK>(dt_raw, lddt, dt_bias, A_log, dt_s, cum_s, n, dt_min,
// dt_max): dt_s[h*NP + t] = dt (0 past n), cum_s = inclusive cumsum of dt*A within the chunk.
Status ssdChunkCumsum(const KernelCall &call) {
  return runKernel("ssd_chunk_cumsum", call, [&](const Args &args) {
    const Elem t = elemArg(args, "T");
    const int64_t heads = sizeArg(args, "HEADS"), chunk = sizeArg(args, "CHUNK");
    const int64_t n = countArg(args, "n");
    if (n == 0)
      return;
    const void *dtRaw = pointerArg(args, "dt_raw");
    const int64_t lddt = strideArg(args, "lddt", heads);
    const float *dtBias = static_cast<const float *>(pointerArg(args, "dt_bias"));
    const float *aLog = static_cast<const float *>(pointerArg(args, "A_log"));
    float *dtS = static_cast<float *>(pointerArg(args, "dt_s"));
    float *cumS = static_cast<float *>(pointerArg(args, "cum_s"));
    const float dtMin = args.arg("dt_min").real, dtMax = args.arg("dt_max").real;
    const int64_t np = chunkCount(n, chunk) * chunk;
    for (int64_t h = 0; h < heads; ++h) {
      const float a = -std::exp(aLog[h]);
      double cum = 0.0;
      for (int64_t i = 0; i < np; ++i) {
        if (i % chunk == 0)
          cum = 0.0;
        const float dt = i < n ? ssdDt(load(t, dtRaw, i * lddt + h), dtBias[h], dtMin, dtMax)
                               : 0.0f;
        cum += double(dt) * a;
        dtS[h * np + i] = dt;
        cumS[h * np + i] = float(cum);
      }
    }
  });
}

// ssd_chunk_state<T, HEADS, HEAD_DIM, GROUPS, STATE, CHUNK, THREADS>(xbc, ldxbc, dt_s, cum_s,
// states, n): states[c][h] = sum_{t in chunk c} exp(cum_last - cum_t) dt_t x_t B_t^T.
Status ssdChunkState(const KernelCall &call) {
  return runKernel("ssd_chunk_state", call, [&](const Args &args) {
    const Ssd s = parseChunked(args);
    const int64_t n = countArg(args, "n");
    if (n == 0)
      return;
    const void *xbc = pointerArg(args, "xbc");
    const int64_t ldxbc = strideArg(args, "ldxbc", s.xbcWidth());
    const float *dtS = static_cast<const float *>(pointerArg(args, "dt_s"));
    const float *cumS = static_cast<const float *>(pointerArg(args, "cum_s"));
    float *states = static_cast<float *>(pointerArg(args, "states"));
    const int64_t nc = chunkCount(n, s.chunk), np = nc * s.chunk;
    parallelFor(nc * s.heads, s.chunk * s.headDim * s.state, [&](int64_t task) {
      const int64_t c = task / s.heads, h = task % s.heads;
      const int64_t t0 = c * s.chunk, t1 = std::min(t0 + s.chunk, n);
      const float *cum = cumS + h * np;
      const float *dt = dtS + h * np;
      const double cumLast = cum[t0 + s.chunk - 1];
      std::vector<double> acc(s.headDim * s.state, 0.0);
      for (int64_t t = t0; t < t1; ++t) {
        const TokenRow row = loadRow(s, xbc, ldxbc, t, h);
        const double w = std::exp(cumLast - cum[t]) * dt[t];
        for (int64_t p = 0; p < s.headDim; ++p)
          for (int64_t k = 0; k < s.state; ++k)
            acc[p * s.state + k] += w * row.x[p] * row.b[k];
      }
      float *out = states + (c * s.heads + h) * s.headDim * s.state;
      for (int64_t e = 0; e < s.headDim * s.state; ++e)
        out[e] = float(acc[e]);
    });
  });
}

// ssd_state_pass<HEADS, HEAD_DIM, STATE, CHUNK, THREADS>(states, cum_s, ssm_state, n):
// states[c] <- the state entering chunk c (starting from ssm_state); ssm_state <- final state.
Status ssdStatePass(const KernelCall &call) {
  return runKernel("ssd_state_pass", call, [&](const Args &args) {
    Ssd s;
    s.heads = sizeArg(args, "HEADS");
    s.headDim = sizeArg(args, "HEAD_DIM");
    s.groups = 1;
    s.state = sizeArg(args, "STATE");
    s.chunk = sizeArg(args, "CHUNK");
    sizeArg(args, "THREADS");
    const int64_t n = countArg(args, "n");
    if (n == 0)
      return;
    float *states = static_cast<float *>(pointerArg(args, "states"));
    const float *cumS = static_cast<const float *>(pointerArg(args, "cum_s"));
    float *ssmState = static_cast<float *>(pointerArg(args, "ssm_state"));
    const int64_t nc = chunkCount(n, s.chunk), np = nc * s.chunk;
    const int64_t perHead = s.headDim * s.state, total = s.heads * perHead;
    for (int64_t e = 0; e < total; ++e) {
      const int64_t h = e / perHead;
      double run = ssmState[e];
      for (int64_t c = 0; c < nc; ++c) {
        const double own = states[c * total + e];
        states[c * total + e] = float(run);
        const double decay = std::exp(double(cumS[h * np + c * s.chunk + s.chunk - 1]));
        run = decay * run + own;
      }
      ssmState[e] = float(run);
    }
  });
}

// ssd_chunk_scan<T, HEADS, HEAD_DIM, GROUPS, STATE, CHUNK, THREADS>(xbc, ldxbc, D, dt_s,
// cum_s, states, y, ldy, n):
//   y_t = exp(cum_t) C_t . S_c + sum_{u<=t in chunk} (C_t . B_u) exp(cum_t - cum_u) dt_u x_u
//         + D x_t, rounded to T once.
Status ssdChunkScan(const KernelCall &call) {
  return runKernel("ssd_chunk_scan", call, [&](const Args &args) {
    const Ssd s = parseChunked(args);
    const int64_t n = countArg(args, "n");
    if (n == 0)
      return;
    const void *xbc = pointerArg(args, "xbc");
    const int64_t ldxbc = strideArg(args, "ldxbc", s.xbcWidth());
    const float *dParam = static_cast<const float *>(pointerArg(args, "D"));
    const float *dtS = static_cast<const float *>(pointerArg(args, "dt_s"));
    const float *cumS = static_cast<const float *>(pointerArg(args, "cum_s"));
    const float *states = static_cast<const float *>(pointerArg(args, "states"));
    void *y = pointerArg(args, "y");
    const int64_t ldy = strideArg(args, "ldy", s.heads * s.headDim);
    const int64_t nc = chunkCount(n, s.chunk), np = nc * s.chunk;
    const int64_t work = s.chunk * (s.chunk * (s.state + s.headDim) / 2 + s.headDim * s.state);
    parallelFor(nc * s.heads, work, [&](int64_t task) {
      const int64_t c = task / s.heads, h = task % s.heads;
      const int64_t t0 = c * s.chunk, t1 = std::min(t0 + s.chunk, n);
      const float *cum = cumS + h * np;
      const float *dt = dtS + h * np;
      const float *entering = states + (c * s.heads + h) * s.headDim * s.state;
      std::vector<TokenRow> rows;
      for (int64_t t = t0; t < t1; ++t)
        rows.push_back(loadRow(s, xbc, ldxbc, t, h));
      std::vector<double> out(s.headDim);
      for (int64_t t = t0; t < t1; ++t) {
        const TokenRow &rt = rows[t - t0];
        // Inter-chunk: the state entering the chunk, decayed to token t.
        const double decayIn = std::exp(double(cum[t]));
        for (int64_t p = 0; p < s.headDim; ++p) {
          double dot = 0.0;
          for (int64_t k = 0; k < s.state; ++k)
            dot += double(rt.c[k]) * entering[p * s.state + k];
          out[p] = decayIn * dot;
        }
        // Intra-chunk: tokens u <= t of this chunk.
        for (int64_t u = t0; u <= t; ++u) {
          const TokenRow &ru = rows[u - t0];
          double cb = 0.0;
          for (int64_t k = 0; k < s.state; ++k)
            cb += double(rt.c[k]) * ru.b[k];
          const double coef = cb * std::exp(double(cum[t]) - cum[u]) * dt[u];
          for (int64_t p = 0; p < s.headDim; ++p)
            out[p] += coef * ru.x[p];
        }
        for (int64_t p = 0; p < s.headDim; ++p)
          store(s.t, y, t * ldy + s.xColumn(h) + p, float(out[p] + double(dParam[h]) * rt.x[p]));
      }
    });
  });
}

// ssd_step<T, HEADS, HEAD_DIM, GROUPS, STATE, ROWS>(xbc, ldxbc, dt_raw, lddt, A_log, D,
// dt_bias, ssm_state, y, ldy, n, dt_min, dt_max): sequential over the n tokens; the fp32
// state is updated once per token, as on the device.
Status ssdStep(const KernelCall &call) {
  return runKernel("ssd_step", call, [&](const Args &args) {
    Ssd s;
    s.t = elemArg(args, "T");
    s.heads = sizeArg(args, "HEADS");
    s.headDim = sizeArg(args, "HEAD_DIM");
    s.groups = sizeArg(args, "GROUPS");
    s.state = sizeArg(args, "STATE");
    const int64_t rowsPerBlock = sizeArg(args, "ROWS");
    checkGroups(s);
    require(s.headDim % rowsPerBlock == 0, "ROWS must divide HEAD_DIM");
    const int64_t n = countArg(args, "n");
    if (n == 0)
      return;
    const void *xbc = pointerArg(args, "xbc");
    const int64_t ldxbc = strideArg(args, "ldxbc", s.xbcWidth());
    const void *dtRaw = pointerArg(args, "dt_raw");
    const int64_t lddt = strideArg(args, "lddt", s.heads);
    const float *aLog = static_cast<const float *>(pointerArg(args, "A_log"));
    const float *dParam = static_cast<const float *>(pointerArg(args, "D"));
    const float *dtBias = static_cast<const float *>(pointerArg(args, "dt_bias"));
    float *ssmState = static_cast<float *>(pointerArg(args, "ssm_state"));
    void *y = pointerArg(args, "y");
    const int64_t ldy = strideArg(args, "ldy", s.heads * s.headDim);
    const float dtMin = args.arg("dt_min").real, dtMax = args.arg("dt_max").real;
    parallelFor(s.heads, n * s.headDim * s.state, [&](int64_t h) {
      const float a = -std::exp(aLog[h]);
      float *state = ssmState + h * s.headDim * s.state;  // [HEAD_DIM][STATE]
      for (int64_t t = 0; t < n; ++t) {
        const TokenRow row = loadRow(s, xbc, ldxbc, t, h);
        const float dt = ssdDt(load(s.t, dtRaw, t * lddt + h), dtBias[h], dtMin, dtMax);
        const float decay = std::exp(dt * a);
        for (int64_t p = 0; p < s.headDim; ++p) {
          float *sp = state + p * s.state;
          double out = 0.0;
          for (int64_t k = 0; k < s.state; ++k) {
            sp[k] = decay * sp[k] + dt * row.x[p] * row.b[k];
            out += double(row.c[k]) * sp[k];
          }
          store(s.t, y, t * ldy + s.xColumn(h) + p, float(out + double(dParam[h]) * row.x[p]));
        }
      }
    });
  });
}

}  // namespace

std::vector<KernelEntry> mambaKernels() {
  return {
      {"causal_conv1d", causalConv1d},       {"conv_state_update", convStateUpdate},
      {"causal_conv1d_step", causalConv1dStep}, {"ssd_chunk_cumsum", ssdChunkCumsum},
      {"ssd_chunk_state", ssdChunkState},    {"ssd_state_pass", ssdStatePass},
      {"ssd_chunk_scan", ssdChunkScan},      {"ssd_step", ssdStep},
  };
}

}  // namespace sl::cpu
