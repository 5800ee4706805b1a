// GPU check of the Mamba-2 kernels (sl_conv.cuh, sl_ssd.cuh) against a naive sequential host
// reference. Every template is launched exactly as docs/kernels-mamba.md documents it.
// Build: nvcc -std=c++17 -O2 -arch=sm_90a -I runtime/kernels -I tests/gpu tests/gpu/mamba_check.cu
//
// Tolerances (|a - e| <= atol + rtol |e|, atol scaled by max |e| of the tensor):
//   conv output: float 1e-5 / 1e-5; bf16 one rounding step (1e-2 rel) since device SiLU uses
//                __expf and the fp32 sum order may differ before rounding to bf16;
//   conv state:  exact (a copy of inputs);
//   SSD y:       float 2e-4*max + 1e-3 rel (fp32 chunked vs sequential summation order, __expf);
//                bf16 adds the final rounding to bf16: 4e-3*max + 1e-2 rel;
//   SSD state:   fp32 in both cases: 2e-4*max + 1e-3 rel.
// The SSD reference consumes the device's conv output (downloaded), so a one-ulp bf16 flip of the
// conv does not propagate into the SSD comparison.
#include <algorithm>
#include <cmath>
#include <vector>

#include "check_util.h"
#include "sl_conv.cuh"
#include "sl_ssd.cuh"

using check::DeviceBuffer;
using slk::bf16;
using slk::i32;

// ------------------------------------------------------------------------------------------
// __global__ wrappers (what the compiler emits).
// ------------------------------------------------------------------------------------------
template <typename T, typename ST, int C, int K, int THREADS, int TOKENS>
__global__ void __launch_bounds__(THREADS)
    w_conv(const T *x, i32 ldx, const T *w, const T *b, const ST *st, T *y, i32 ldy, i32 n) {
  slk::causal_conv1d<T, T, ST, C, K, true, slk::kActSilu, THREADS, TOKENS>(x, ldx, w, b, st, y,
                                                                          ldy, n);
}
template <typename T, typename ST, int C, int K, int THREADS>
__global__ void __launch_bounds__(THREADS) w_conv_update(const T *x, i32 ldx, ST *st, i32 n) {
  slk::conv_state_update<T, ST, C, K, THREADS>(x, ldx, st, n);
}
template <typename T, typename ST, int C, int K, int THREADS>
__global__ void __launch_bounds__(THREADS)
    w_conv_step(const T *x, i32 ldx, const T *w, const T *b, ST *st, T *y, i32 ldy, i32 n) {
  slk::causal_conv1d_step<T, T, ST, C, K, true, slk::kActSilu, THREADS>(x, ldx, w, b, st, y, ldy,
                                                                       n);
}
template <typename T, int H, int L>
__global__ void __launch_bounds__(L)
    w_cumsum(const T *dt, i32 lddt, const float *dt_bias, const float *A_log, float *dt_s,
             float *cum_s, i32 n, float dt_min, float dt_max) {
  slk::ssd_chunk_cumsum<T, H, L>(dt, lddt, dt_bias, A_log, dt_s, cum_s, n, dt_min, dt_max);
}
template <typename T, int H, int P, int G, int N, int L, int THREADS>
__global__ void __launch_bounds__(THREADS)
    w_chunk_state(const T *xbc, i32 ldxbc, const float *dt_s, const float *cum_s, float *states,
                  i32 n) {
  slk::ssd_chunk_state<T, H, P, G, N, L, THREADS>(xbc, ldxbc, dt_s, cum_s, states, n);
}
template <int H, int P, int N, int L, int THREADS>
__global__ void __launch_bounds__(THREADS)
    w_state_pass(float *states, const float *cum_s, float *ssm_state, i32 n) {
  slk::ssd_state_pass<H, P, N, L, THREADS>(states, cum_s, ssm_state, n);
}
template <typename T, int H, int P, int G, int N, int L, int THREADS>
__global__ void __launch_bounds__(THREADS)
    w_chunk_scan(const T *xbc, i32 ldxbc, const float *D, const float *dt_s, const float *cum_s,
                 const float *states, T *y, i32 ldy, i32 n) {
  slk::ssd_chunk_scan<T, H, P, G, N, L, THREADS>(xbc, ldxbc, D, dt_s, cum_s, states, y, ldy, n);
}
template <typename T, int H, int P, int G, int N, int ROWS>
__global__ void __launch_bounds__(32 * ROWS)
    w_step(const T *xbc, i32 ldxbc, const T *dt, i32 lddt, const float *A_log, const float *D,
           const float *dt_bias, float *ssm_state, T *y, i32 ldy, i32 n, float dt_min,
           float dt_max) {
  slk::ssd_step<T, H, P, G, N, ROWS>(xbc, ldxbc, dt, lddt, A_log, D, dt_bias, ssm_state, y, ldy, n,
                                     dt_min, dt_max);
}

// check::to_float / check::round_to call to_f32 unqualified, which is ambiguous for slk::bf16
// (argument-dependent lookup also finds the __device__ slk::to_f32), so this file uses its own.
template <typename T> static std::vector<float> to_float(const std::vector<T> &v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = check::to_f32(v[i]);
  return out;
}
template <typename T> static float round_to(float v) {
  return check::to_f32(check::from_f32<T>(v));
}

static double max_abs(const std::vector<float> &v) {
  double m = 0;
  for (float x : v)
    m = std::fmax(m, std::fabs(x));
  return m;
}
static void compare_scaled(const std::string &name, const std::vector<float> &a,
                           const std::vector<float> &e, float atol_rel_max, float rtol) {
  check::compare(name, a, e, float(atol_rel_max * max_abs(e) + 1e-6), rtol);
}

// ------------------------------------------------------------------------------------------
// One configuration.
// ------------------------------------------------------------------------------------------
template <typename T, typename ST, int H, int P, int G, int N, int L, int K> struct MambaCase {
  static constexpr int C = H * P + 2 * G * N;
  static constexpr int LDIN = C + H + 24;    // in_proj-like row: [xBC | dt | pad]
  static constexpr int LDX = C + 8;           // conv output row stride
  static constexpr int LDY = H * P + 16;      // y row stride
  static constexpr int CONV_THREADS = 128, CONV_TOKENS = 16;
  static constexpr int SSD_THREADS = 256, PASS_THREADS = 256;
  static constexpr int STEP_ROWS = P % 4 == 0 ? 4 : P % 2 == 0 ? 2 : 1;  // as the compiler picks
  static constexpr bool BF = sizeof(T) == 2;

  std::string name;
  float dt_min, dt_max;
  std::vector<float> w, b, A_log, D, dt_bias;  // conv weight [C][K], bias [C]
  std::vector<float> conv_state0, ssm_state0;

  MambaCase(const std::string &n, uint64_t seed, float dtmin, float dtmax)
      : name(n), dt_min(dtmin), dt_max(dtmax) {
    w = to_float(check::random_vector<T>(size_t(C) * K, 0.5f, seed + 1));
    b = to_float(check::random_vector<T>(C, 0.5f, seed + 2));
    std::mt19937_64 rng(seed + 3);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (int h = 0; h < H; ++h) {
      A_log.push_back(-2.0f + 2.5f * u(rng));   // A in [-1.65, -0.14]
      D.push_back(-1.0f + 2.0f * u(rng));
      dt_bias.push_back(-3.0f + 1.5f * u(rng)); // small dt: the state lives across chunks
    }
    conv_state0 = to_float(check::random_vector<ST>(size_t(C) * (K - 1), 1.0f, seed + 4));
    ssm_state0 = check::random_vector<float>(size_t(H) * P * N, 1.0f, seed + 5);
  }

  // Host reference: conv over the whole token sequence (in: [n][LDIN]) starting from state0.
  void ref_conv(const std::vector<float> &in, int n, std::vector<float> &y,
                std::vector<float> &state) const {
    y.assign(size_t(n) * C, 0.0f);
    state = conv_state0;
    for (int c = 0; c < C; ++c) {
      std::vector<float> seq(K - 1 + n);
      for (int k = 0; k < K - 1; ++k)
        seq[k] = conv_state0[size_t(c) * (K - 1) + k];
      for (int t = 0; t < n; ++t)
        seq[K - 1 + t] = in[size_t(t) * LDIN + c];
      for (int t = 0; t < n; ++t) {
        float acc = b[c];
        for (int k = 0; k < K; ++k)
          acc += w[size_t(c) * K + k] * seq[t + k];
        acc = round_to<T>(acc);
        y[size_t(t) * C + c] = round_to<T>(acc / (1.0f + std::exp(-acc)));
      }
      for (int k = 0; k < K - 1; ++k)
        state[size_t(c) * (K - 1) + k] = round_to<ST>(seq[n + k]);
    }
  }

  // Host reference SSD: xbc [n][C] (the device conv output), dt raw from in [n][LDIN] col C.
  void ref_ssd(const std::vector<float> &xbc, const std::vector<float> &in, int n,
               std::vector<float> &y, std::vector<float> &state) const {
    y.assign(size_t(n) * H * P, 0.0f);
    std::vector<double> st(ssm_state0.begin(), ssm_state0.end());
    for (int t = 0; t < n; ++t) {
      const float *row = xbc.data() + size_t(t) * C;
      for (int h = 0; h < H; ++h) {
        const int g = h / (H / G);
        double raw = double(in[size_t(t) * LDIN + C + h]) + dt_bias[h];
        double dt = raw > 20.0 ? raw : std::log1p(std::exp(raw));
        dt = std::fmin(std::fmax(dt, double(dt_min)), double(dt_max));
        const double A = -std::exp(double(A_log[h]));
        const double dA = std::exp(dt * A);
        for (int p = 0; p < P; ++p) {
          const double xv = row[h * P + p];
          double acc = 0.0;
          for (int s = 0; s < N; ++s) {
            double &hs = st[(size_t(h) * P + p) * N + s];
            hs = dA * hs + dt * xv * row[H * P + g * N + s];
            acc += hs * row[H * P + G * N + g * N + s];
          }
          y[size_t(t) * H * P + h * P + p] = float(acc + D[h] * xv);
        }
      }
    }
    state.assign(st.begin(), st.end());
  }

  struct Result {
    std::vector<float> xbc, y, conv_state, ssm_state;  // xbc [n][C], y [n][H*P]
  };

  // Runs the calls (prefill: true -> chunked prefill path, false -> decode step path) in order
  // on device over the token rows of `in`, carrying the state.
  Result run(const std::vector<float> &in, const std::vector<std::pair<int, bool>> &calls) {
    int total = 0;
    for (auto &c : calls)
      total += c.first;
    std::vector<T> in_t(in.size());
    for (size_t i = 0; i < in.size(); ++i)
      in_t[i] = check::from_f32<T>(in[i]);
    std::vector<T> w_t(w.size()), b_t(b.size());
    for (size_t i = 0; i < w.size(); ++i)
      w_t[i] = check::from_f32<T>(w[i]);
    for (size_t i = 0; i < b.size(); ++i)
      b_t[i] = check::from_f32<T>(b[i]);
    std::vector<ST> cs(conv_state0.size());
    for (size_t i = 0; i < cs.size(); ++i)
      cs[i] = check::from_f32<ST>(conv_state0[i]);
    DeviceBuffer<T> d_in(in_t), d_w(w_t), d_b(b_t);
    DeviceBuffer<ST> d_cs(cs);
    DeviceBuffer<float> d_ss(ssm_state0), d_A(A_log), d_D(D), d_dtb(dt_bias);
    DeviceBuffer<T> d_xbc(size_t(total) * LDX), d_y(size_t(total) * LDY);
    const int max_nc = (int)slk::ceil_div(total, L);
    DeviceBuffer<float> d_dt(size_t(H) * max_nc * L), d_cum(size_t(H) * max_nc * L);
    DeviceBuffer<float> d_states(size_t(max_nc) * H * P * N);
    constexpr int scan_smem = slk::ssd_chunk_scan_smem(P, L);
    constexpr int state_smem = slk::ssd_chunk_state_smem(P, N, L);
    auto scan_kernel = w_chunk_scan<T, H, P, G, N, L, SSD_THREADS>;
    auto state_kernel = w_chunk_state<T, H, P, G, N, L, SSD_THREADS>;
    CUDA_CHECK(cudaFuncSetAttribute(scan_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    scan_smem));
    CUDA_CHECK(cudaFuncSetAttribute(state_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    state_smem));
    int t0 = 0;
    for (auto &call : calls) {
      const int n = call.first;
      const T *x = d_in.ptr + size_t(t0) * LDIN;
      const T *dt = x + C;
      T *xbc = d_xbc.ptr + size_t(t0) * LDX;
      T *y = d_y.ptr + size_t(t0) * LDY;
      if (call.second) {
        // Prefill: causal_conv1d, conv_state_update, then the four SSD kernels.
        dim3 cg((unsigned)slk::ceil_div(C, CONV_THREADS), (unsigned)slk::ceil_div(n, CONV_TOKENS));
        w_conv<T, ST, C, K, CONV_THREADS, CONV_TOKENS>
            <<<cg, CONV_THREADS>>>(x, LDIN, d_w.ptr, d_b.ptr, d_cs.ptr, xbc, LDX, n);
        w_conv_update<T, ST, C, K, CONV_THREADS>
            <<<(unsigned)slk::ceil_div(C, CONV_THREADS), CONV_THREADS>>>(x, LDIN, d_cs.ptr, n);
        const unsigned nc = (unsigned)slk::ceil_div(n, L);
        w_cumsum<T, H, L><<<dim3(nc, H), L>>>(dt, LDIN, d_dtb.ptr, d_A.ptr, d_dt.ptr, d_cum.ptr,
                                               n, dt_min, dt_max);
        state_kernel<<<dim3(nc, H), SSD_THREADS, state_smem>>>(xbc, LDX, d_dt.ptr, d_cum.ptr,
                                                               d_states.ptr, n);
        w_state_pass<H, P, N, L, PASS_THREADS>
            <<<(unsigned)slk::ceil_div(H * P * N, PASS_THREADS), PASS_THREADS>>>(
                d_states.ptr, d_cum.ptr, d_ss.ptr, n);
        scan_kernel<<<dim3(nc, H), SSD_THREADS, scan_smem>>>(xbc, LDX, d_D.ptr, d_dt.ptr,
                                                             d_cum.ptr, d_states.ptr, y, LDY, n);
      } else {
        w_conv_step<T, ST, C, K, CONV_THREADS>
            <<<(unsigned)slk::ceil_div(C, CONV_THREADS), CONV_THREADS>>>(
                x, LDIN, d_w.ptr, d_b.ptr, d_cs.ptr, xbc, LDX, n);
        w_step<T, H, P, G, N, STEP_ROWS><<<dim3(H, P / STEP_ROWS), 32 * STEP_ROWS>>>(
            xbc, LDX, dt, LDIN, d_A.ptr, d_D.ptr, d_dtb.ptr, d_ss.ptr, y, LDY, n, dt_min, dt_max);
      }
      CUDA_CHECK(cudaGetLastError());
      t0 += n;
    }
    CUDA_CHECK(cudaDeviceSynchronize());
    Result r;
    auto xbc_all = d_xbc.download();
    auto y_all = d_y.download();
    r.xbc.resize(size_t(total) * C);
    r.y.resize(size_t(total) * H * P);
    for (int t = 0; t < total; ++t) {
      for (int c = 0; c < C; ++c)
        r.xbc[size_t(t) * C + c] = check::to_f32(xbc_all[size_t(t) * LDX + c]);
      for (int e = 0; e < H * P; ++e)
        r.y[size_t(t) * H * P + e] = check::to_f32(y_all[size_t(t) * LDY + e]);
    }
    r.conv_state = to_float(d_cs.download());
    r.ssm_state = d_ss.download();
    return r;
  }

  void check_calls(const std::string &what, const std::vector<std::pair<int, bool>> &calls,
                   uint64_t seed, Result *keep = nullptr) {
    int total = 0;
    for (auto &c : calls)
      total += c.first;
    auto in = to_float(check::random_vector<T>(size_t(total) * LDIN, 1.0f, seed));
    Result r = run(in, calls);
    std::vector<float> cy, cst, sy, sst;
    ref_conv(in, total, cy, cst);
    ref_ssd(r.xbc, in, total, sy, sst);
    const std::string tag = name + " " + what;
    compare_scaled(tag + " conv y", r.xbc, cy, BF ? 2e-3f : 1e-5f, BF ? 1e-2f : 1e-5f);
    check::compare(tag + " conv state", r.conv_state, cst, 0.0f, 0.0f);
    compare_scaled(tag + " ssd y", r.y, sy, BF ? 4e-3f : 2e-4f, BF ? 1e-2f : 1e-3f);
    compare_scaled(tag + " ssm state", r.ssm_state, sst, 2e-4f, 1e-3f);
    if (keep)
      *keep = r;
  }

  void run_all(int n_long) {
    const int a = n_long / 2 + 3, bb = n_long - a;
    check_calls("prefill n=" + std::to_string(n_long), {{n_long, true}}, 100);
    check_calls("prefill n=1", {{1, true}}, 101);
    check_calls("prefill n=2 (< K-1)", {{2, true}}, 102);
    check_calls("decode n=1", {{1, false}}, 103);
    check_calls("decode n=3", {{3, false}}, 104);
    // Two prefill calls (state carried) equal one call.
    Result one, two;
    check_calls("prefill one call", {{n_long, true}}, 105, &one);
    check_calls("prefill two calls", {{a, true}, {bb, true}}, 105, &two);
    compare_scaled(name + " two calls == one call: y", two.y, one.y, BF ? 4e-3f : 2e-4f,
                   BF ? 1e-2f : 1e-3f);
    compare_scaled(name + " two calls == one call: ssm state", two.ssm_state, one.ssm_state, 2e-4f,
                   1e-3f);
    check::compare(name + " two calls == one call: conv state", two.conv_state, one.conv_state,
                   0.0f, 0.0f);
    // Decode after prefill equals a longer prefill.
    Result pd, longer;
    check_calls("prefill+decode", {{n_long - 4, true}, {1, false}, {3, false}}, 106, &pd);
    check_calls("longer prefill", {{n_long, true}}, 106, &longer);
    compare_scaled(name + " prefill+decode == longer prefill: y", pd.y, longer.y,
                   BF ? 4e-3f : 2e-4f, BF ? 1e-2f : 1e-3f);
    compare_scaled(name + " prefill+decode == longer prefill: ssm state", pd.ssm_state,
                   longer.ssm_state, 2e-4f, 1e-3f);
    // Prefill with tiny pieces (n < K-1 twice) and a partial chunk.
    check_calls("prefill 2+1+L+5", {{2, true}, {1, true}, {L, true}, {5, true}}, 107);
  }
};

// Optional timing (--bench): real sizes, bf16, median of 7 runs after warm-up.
template <typename F> static float time_ms(F f) {
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  f();
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<float> ms;
  for (int i = 0; i < 7; ++i) {
    CUDA_CHECK(cudaEventRecord(a));
    f();
    CUDA_CHECK(cudaEventRecord(b));
    CUDA_CHECK(cudaEventSynchronize(b));
    float t;
    CUDA_CHECK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[3];
}

template <int H, int P, int G, int N, int L> static void bench(int n) {
  constexpr int K = 4, C = H * P + 2 * G * N;
  constexpr int LDIN = C + H + 64, THREADS = 256;
  using T = bf16;
  DeviceBuffer<T> in(check::random_vector<T>(size_t(n) * LDIN, 1.0f, 1));
  DeviceBuffer<T> w(check::random_vector<T>(size_t(C) * K, 0.5f, 2)), b(check::random_vector<T>(C, 0.5f, 3));
  DeviceBuffer<float> cs(size_t(C) * (K - 1)), ss(size_t(H) * P * N);
  DeviceBuffer<float> A(std::vector<float>(H, -1.0f)), D(std::vector<float>(H, 0.5f)),
      dtb(std::vector<float>(H, -2.0f));
  DeviceBuffer<T> xbc(size_t(n) * C), y(size_t(n) * H * P);
  const unsigned nc = (unsigned)slk::ceil_div(n, L);
  DeviceBuffer<float> dts(size_t(H) * nc * L), cum(size_t(H) * nc * L), st(size_t(nc) * H * P * N);
  constexpr int smem = slk::ssd_chunk_scan_smem(P, L);
  constexpr int state_smem = slk::ssd_chunk_state_smem(P, N, L);
  auto scan = w_chunk_scan<T, H, P, G, N, L, THREADS>;
  auto chunk_state = w_chunk_state<T, H, P, G, N, L, THREADS>;
  CUDA_CHECK(cudaFuncSetAttribute(scan, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  CUDA_CHECK(cudaFuncSetAttribute(chunk_state, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  state_smem));
  const T *dt = in.ptr + C;
  float t_conv = time_ms([&] {
    w_conv<T, float, C, K, 128, 32><<<dim3((unsigned)slk::ceil_div(C, 128), (unsigned)slk::ceil_div(n, 32)), 128>>>(
        in.ptr, LDIN, w.ptr, b.ptr, cs.ptr, xbc.ptr, C, n);
    w_conv_update<T, float, C, K, 128><<<(unsigned)slk::ceil_div(C, 128), 128>>>(in.ptr, LDIN, cs.ptr, n);
  });
  float t_cum = time_ms([&] {
    w_cumsum<T, H, L><<<dim3(nc, H), L>>>(dt, LDIN, dtb.ptr, A.ptr, dts.ptr, cum.ptr, n, 0.0f, INFINITY);
  });
  float t_state = time_ms([&] {
    chunk_state<<<dim3(nc, H), THREADS, state_smem>>>(xbc.ptr, C, dts.ptr, cum.ptr, st.ptr, n);
  });
  float t_pass = time_ms([&] {
    w_state_pass<H, P, N, L, 256><<<(unsigned)slk::ceil_div(H * P * N, 256), 256>>>(st.ptr, cum.ptr, ss.ptr, n);
  });
  float t_scan = time_ms([&] {
    scan<<<dim3(nc, H), THREADS, smem>>>(xbc.ptr, C, D.ptr, dts.ptr, cum.ptr, st.ptr, y.ptr, H * P, n);
  });
  float t_step = time_ms([&] {
    w_step<T, H, P, G, N, 4><<<dim3(H, P / 4), 128>>>(xbc.ptr, C, dt, LDIN, A.ptr, D.ptr, dtb.ptr,
                                                     ss.ptr, y.ptr, H * P, 1, 0.0f, INFINITY);
  });
  float t_cstep = time_ms([&] {
    w_conv_step<T, float, C, K, 128><<<(unsigned)slk::ceil_div(C, 128), 128>>>(in.ptr, LDIN, w.ptr, b.ptr, cs.ptr, xbc.ptr, C, 1);
  });
  // Per element: the SSD kernels' time over the n * H * P outputs (head_dim 80 against 64).
  const double ssd = t_cum + t_state + t_pass + t_scan;
  std::printf("BENCH mamba prefill H=%d P=%d G=%d N=%d L=%d n=%d: conv+update %.3f ms, cumsum "
              "%.3f, chunk_state %.3f, state_pass %.3f, chunk_scan %.3f ms (total %.3f ms, %.1f "
              "us/token; SSD %.3f ps/element)\n",
              H, P, G, N, L, n, t_conv, t_cum, t_state, t_pass, t_scan, t_conv + ssd,
              1000.0 * (t_conv + ssd) / n, 1e9 * ssd / (double(n) * H * P));
  std::printf("BENCH mamba decode H=%d P=%d n=1: conv_step %.4f ms, ssd_step %.4f ms\n", H, P,
              t_cstep, t_step);
}

int main(int argc, char **argv) {
  if (argc > 1 && std::string(argv[1]) == "--bench") {
    bench<64, 64, 8, 128, 128>(8192);  // Nemotron-3-Nano-30B-A3B
    bench<64, 80, 8, 128, 128>(8192);  // head_dim 80 (Nemotron-Nano-9B-v2 / 3-Nano-4B), same heads
    bench<96, 80, 8, 128, 128>(8192);  // Nemotron-3-Nano-4B
    bench<128, 80, 8, 128, 128>(8192); // Nemotron-Nano-9B-v2 / 12B-v2
    return 0;
  }
  const float inf = INFINITY;
  {
    MambaCase<float, float, 8, 8, 2, 16, 32, 4> c("f32 tiny", 1, 0.0f, inf);
    c.run_all(150);
  }
  {
    MambaCase<bf16, bf16, 8, 8, 2, 16, 32, 4> c("bf16 tiny (bf16 conv state)", 2, 0.0f, inf);
    c.run_all(150);
  }
  {
    MambaCase<bf16, float, 8, 8, 2, 16, 32, 4> c("bf16 tiny clamped dt", 3, 0.06f, 0.2f);
    c.run_all(45);
  }
  {
    MambaCase<bf16, float, 64, 64, 8, 128, 128, 4> c("bf16 real", 4, 0.0f, inf);
    c.run_all(300);
  }
  {
    MambaCase<float, float, 64, 64, 8, 128, 128, 4> c("f32 real", 5, 0.0f, inf);
    c.run_all(200);
  }
  // Sizes that are not powers of two (the Nemotron-H family: head_dim 80, 96 heads; tiny
  // transformers configs: 6 heads, head_dim 24, 3 groups, state 24; chunk 64 over short calls).
  {
    MambaCase<float, float, 6, 24, 3, 24, 64, 4> c("f32 H6 P24 G3 N24 L64", 6, 0.0f, inf);
    c.run_all(150);
  }
  {
    MambaCase<bf16, float, 12, 80, 3, 48, 32, 4> c("bf16 H12 P80 G3 N48 L32", 7, 0.0f, inf);
    c.run_all(120);
  }
  {
    MambaCase<bf16, float, 96, 80, 8, 128, 128, 4> c("bf16 H96 P80 G8 N128 L128 (3-Nano-4B)", 8,
                                                      0.0f, inf);
    c.run_all(300);
  }
  {
    MambaCase<float, float, 5, 18, 1, 130, 32, 4> c("f32 H5 P18 G1 N130 L32", 9, 0.0f, inf);
    c.run_all(100);
  }
  return check::finish("mamba_check");
}
