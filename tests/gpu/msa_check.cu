// GPU check of the multi-step attention kernels (runtime/kernels/sl_msa.cuh) against a naive host
// implementation of ../shared/docs/SUPERLINEAR.md section 3 (per query/head: enumerate anchors,
// score, top-k with ties -> farther anchor, spans, softmax over span U window, gate).
// Build: nvcc -std=c++17 -O2 -arch=sm_90a -Iruntime/kernels -Iruntime/math -Itests/gpu
//        tests/gpu/msa_check.cu -o build/gpu/msa_check
#include <algorithm>
#include <utility>

#include "check_util.h"
#include "SuperlinearMath.h"
#include "sl_msa.cuh"

using check::DeviceBuffer;
using slk::bf16;
using slk::i32;
using slk::i64;

// ---------------------------------------------------------------------------------------------
// __global__ wrappers (the compiler emits the same ones).
// ---------------------------------------------------------------------------------------------
template <typename T, int H, int KVH, int D, int K, int W, int NW, int QPB, int SPLITS>
__global__ void __launch_bounds__(128)
    k_anchor(const T *q1, i32 ldq1, const T *kc, i32 cap, i32 len, i32 n, const i64 *off, i32 ns,
             const i32 *reach, float *ts, i32 *st, i32 *en, float *ps, i32 *pi) {
  slk::msa_anchor_topk<T, H, KVH, D, K, W, NW, QPB, SPLITS>(q1, ldq1, kc, cap, len, n, off, ns,
                                                            reach, ts, st, en, ps, pi);
}
template <int H, int K, int W, int SPLITS>
__global__ void __launch_bounds__(128)
    k_route_merge(const float *ps, const i32 *pi, i32 len, i32 n, const i64 *off,
                  const i32 *reach, float *ts, i32 *st, i32 *en) {
  slk::msa_route_merge<H, K, W, SPLITS>(ps, pi, len, n, off, reach, ts, st, en);
}
template <typename T, int H, int KVH, int D, int W>
__global__ void __launch_bounds__(128)
    k_window(const T *q2, i32 ldq2, const T *kc, const T *vc, i32 cap, i32 len, i32 n, T *ow,
             float *lw) {
  slk::msa_window_attention<T, H, KVH, D, W, 4>(q2, ldq2, kc, vc, cap, len, n, ow, lw);
}
template <typename T, int H, int KVH, int D, int K>
__global__ void __launch_bounds__(128)
    k_span(const T *q2, i32 ldq2, const T *kc, const T *vc, i32 cap, i32 len, i32 n,
           const i32 *st, const i32 *en, const i32 *order, T *os, float *ls) {
  slk::msa_span_attention<T, H, KVH, D, K, 4>(q2, ldq2, kc, vc, cap, len, n, st, en, order, os,
                                              ls);
}
template <int H, int KVH, int K>
__global__ void __launch_bounds__(1024)
    k_order(const i32 *st, const i32 *en, i32 len, i32 n, i32 *order) {
  slk::msa_span_order<H, KVH, K, 4096>(st, en, len, n, order);
}
template <typename T, int H, int D, int K>
__global__ void __launch_bounds__(256)
    k_gate(const T *ow, const float *lw, const T *os, const float *ls, const float *ts, T *out,
           i32 ldo, i32 n) {
  slk::msa_gate_merge<T, H, D, K>(ow, lw, os, ls, ts, out, ldo, n);
}
template <typename T, int H, int KVH, int D, int K, int W, int SR, int SW, int SS>
__global__ void __launch_bounds__(128)
    k_dec_attn(const T *q2, i32 ldq2, const T *kc, const T *vc, i32 cap, i32 len, i32 n,
               const i64 *off, const i32 *reach, const float *ps, const i32 *pi, float *wo,
               float *wl) {
  slk::msa_decode_attention<T, H, KVH, D, K, W, SR, SW, SS>(q2, ldq2, kc, vc, cap, len, n, off,
                                                           reach, ps, pi, wo, wl);
}
template <typename T, int H, int D, int K, int SR, int SW, int SS>
__global__ void __launch_bounds__(128)
    k_dec_combine(const float *ps, const i32 *pi, const float *wo, const float *wl, T *out,
                  i32 ldo, i32 n) {
  slk::msa_decode_combine<T, H, D, K, SR, SW, SS>(ps, pi, wo, wl, out, ldo, n);
}

// check::to_float is ambiguous for bf16 under nvcc (ADL also finds the device slk::to_f32).
template <typename T> std::vector<float> host_float(const std::vector<T> &v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = check::to_f32(v[i]);
  return out;
}

struct Cfg {
  int sw;
  double p, sp, bf, ff;
};

// ---------------------------------------------------------------------------------------------
// One problem: a cache of L positions with random K/V and random q1/q2 for every position.
// ---------------------------------------------------------------------------------------------
template <typename T, int H, int KVH, int D, int K, int W> struct Problem {
  static constexpr int G = H / KVH;
  static constexpr int SR = 8, SW = 4, SS = 8;  // decode splits
  Cfg cfg;
  int L;
  std::string name;
  std::vector<T> q1, q2, kc, vc;  // q [L][H*D], cache [KVH][L][D]
  std::vector<float> fq1, fq2, fk, fv;
  std::vector<i64> off;

  Problem(const std::string &nm, Cfg c, int len, uint64_t seed, float qscale = 1.0f)
      : cfg(c), L(len), name(nm) {
    const int64_t w = sl::math::windowLength(c.sw, c.p);
    if (w != W) {
      std::printf("FAIL %s: template W %d != derived %lld\n", nm.c_str(), W, (long long)w);
      ++check::failures();
    }
    q1 = check::random_vector<T>((size_t)L * H * D, qscale, seed + 1);
    q2 = check::random_vector<T>((size_t)L * H * D, qscale, seed + 2);
    kc = check::random_vector<T>((size_t)KVH * L * D, 1.0f, seed + 3);
    vc = check::random_vector<T>((size_t)KVH * L * D, 1.0f, seed + 4);
    for (int64_t i = c.sw + 1;; ++i) {
      const int64_t o = sl::math::floorPower(i, c.p) - 1;
      off.push_back(o);
      if (o > L)
        break;
    }
    refresh();
  }
  void refresh() {
    fq1 = host_float(q1);
    fq2 = host_float(q2);
    fk = host_float(kc);
    fv = host_float(vc);
  }
  const float *krow(int kvh, int r) const { return &fk[((size_t)kvh * L + r) * D]; }
  const float *vrow(int kvh, int r) const { return &fv[((size_t)kvh * L + r) * D]; }

  // Naive reference of one (pos, h). clear = no near-tie among the top K+1 scores.
  void reference(int pos, int h, float *top, int *st, int *en, float *out, bool &clear,
                 int *stripe = nullptr) const {
    const int kvh = h / G;
    const float *q = &fq1[((size_t)pos * H + h) * D];
    std::vector<std::pair<double, int>> cands;
    for (int i = 0; i < (int)off.size() && off[i] <= pos; ++i) {
      const int a = pos - (int)off[i];
      double s = 0.0;
      for (int d = 0; d < D; ++d)
        s += (double)q[d] * krow(kvh, a)[d];
      cands.push_back({s, i});
    }
    std::sort(cands.begin(), cands.end(), [](const auto &x, const auto &y) {
      return x.first > y.first || (x.first == y.first && x.second > y.second);
    });
    clear = true;
    for (int k = 0; k < K && k + 1 < (int)cands.size(); ++k)
      if (cands[k].first - cands[k + 1].first < 2e-3 * (1.0 + std::fabs(cands[k].first)))
        clear = false;
    const int rb = (int)sl::math::spanReach(pos, cfg.bf, cfg.sp);
    const int rf = (int)sl::math::spanReach(pos, cfg.ff, cfg.sp);
    const int swS = std::max(pos - W + 1, 0);
    const float *q2r = &fq2[((size_t)pos * H + h) * D];
    const double scale = 1.0 / std::sqrt((double)D);
    std::vector<double> o(D, 0.0), oj(D);
    double gs[K], gmax = -1e300;
    bool any = false;
    for (int k = 0; k < K; ++k) {
      int lo = 0, hi = -1;
      if (k < (int)cands.size()) {
        const int a = pos - (int)off[cands[k].second];
        lo = std::max(a - rb, 0);
        hi = std::min({a + rf, pos, swS - 1});
        top[k] = (float)cands[k].first;
        gs[k] = cands[k].first;
        gmax = std::max(gmax, gs[k]);
        any = true;
        if (stripe)
          stripe[k] = cands[k].second;
      } else {
        top[k] = -INFINITY;
        gs[k] = -INFINITY;
        if (stripe)
          stripe[k] = -1;
      }
      st[k] = lo;
      en[k] = hi;
    }
    double gsum = 0.0, g[K];
    for (int k = 0; k < K; ++k) {
      g[k] = !any ? 1.0 : (std::isinf(gs[k]) ? 0.0 : std::exp(gs[k] - gmax));
      gsum += g[k];
    }
    for (int k = 0; k < K; ++k) {
      std::vector<int> keys;
      for (int r = st[k]; r <= en[k]; ++r)
        keys.push_back(r);
      for (int r = swS; r <= pos; ++r)
        keys.push_back(r);
      double mx = -1e300;
      std::vector<double> sc(keys.size());
      for (size_t u = 0; u < keys.size(); ++u) {
        double s = 0.0;
        for (int d = 0; d < D; ++d)
          s += (double)q2r[d] * krow(kvh, keys[u])[d];
        sc[u] = s * scale;
        mx = std::max(mx, sc[u]);
      }
      double l = 0.0;
      std::fill(oj.begin(), oj.end(), 0.0);
      for (size_t u = 0; u < keys.size(); ++u) {
        const double p = std::exp(sc[u] - mx);
        l += p;
        for (int d = 0; d < D; ++d)
          oj[d] += p * vrow(kvh, keys[u])[d];
      }
      for (int d = 0; d < D; ++d)
        o[d] += g[k] / gsum * oj[d] / l;
    }
    for (int d = 0; d < D; ++d)
      out[d] = (float)o[d];
  }

  // Device results for positions [0, L) (only the rows the calls produced are meaningful).
  std::vector<float> top, out;
  std::vector<int> st, en;

  // Prefill: one call per chunk [b, e) against the full cache (cache_len = e).
  void prefill(const std::vector<int> &bounds, bool with_order = false) {
    top.assign((size_t)L * H * K, 0.0f);
    st.assign((size_t)L * H * K, 0);
    en.assign((size_t)L * H * K, 0);
    out.assign((size_t)L * H * D, 0.0f);
    DeviceBuffer<T> dq1(q1), dq2(q2), dk(kc), dv(vc);
    DeviceBuffer<i64> doff(off);
    constexpr int SMEM = slk::msa_attention_smem<T, D, 4>();
    CUDA_CHECK(cudaFuncSetAttribute(k_window<T, H, KVH, D, W>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
    CUDA_CHECK(cudaFuncSetAttribute(k_span<T, H, KVH, D, K>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
    for (size_t c = 0; c + 1 < bounds.size(); ++c) {
      const int b = bounds[c], e = bounds[c + 1], n = e - b;
      std::vector<i32> reach(2 * n);
      for (int j = 0; j < n; ++j) {
        reach[2 * j] = (i32)sl::math::spanReach(b + j, cfg.bf, cfg.sp);
        reach[2 * j + 1] = (i32)sl::math::spanReach(b + j, cfg.ff, cfg.sp);
      }
      DeviceBuffer<i32> dreach(reach);
      DeviceBuffer<float> dts((size_t)n * H * K), dlw((size_t)n * H), dls((size_t)n * H * K);
      DeviceBuffer<i32> dst((size_t)n * H * K), den((size_t)n * H * K);
      DeviceBuffer<T> dow((size_t)n * H * D), dos((size_t)n * H * K * D), dout((size_t)n * H * D);
      const T *q1p = dq1.ptr + (size_t)b * H * D, *q2p = dq2.ptr + (size_t)b * H * D;
      k_anchor<T, H, KVH, D, K, W, 4, 4, 1><<<dim3((n + 3) / 4, KVH, 1), 128>>>(
          q1p, H * D, dk.ptr, L, e, n, doff.ptr, (i32)off.size(), dreach.ptr, dts.ptr, dst.ptr,
          den.ptr, nullptr, nullptr);
      CUDA_CHECK(cudaGetLastError());
      k_window<T, H, KVH, D, W><<<dim3((n * G + 63) / 64, KVH), 128, SMEM>>>(
          q2p, H * D, dk.ptr, dv.ptr, L, e, n, dow.ptr, dlw.ptr);
      CUDA_CHECK(cudaGetLastError());
      k_span<T, H, KVH, D, K><<<dim3((n * G * K + 63) / 64, KVH), 128, SMEM>>>(
          q2p, H * D, dk.ptr, dv.ptr, L, e, n, dst.ptr, den.ptr, nullptr, dos.ptr, dls.ptr);
      CUDA_CHECK(cudaGetLastError());
      if (with_order) {
        // The rows sorted by span start on the device (msa_span_order), fed through row_order:
        // a permutation in bucket order, and the same outputs bit for bit (tiles on the key grid
        // make a row's arithmetic independent of its block).
        std::vector<T> os_nat = dos.download();
        std::vector<i32> hst = dst.download(), hen = den.download();
        DeviceBuffer<i32> dorder_dev((size_t)KVH * n * G * K);
        k_order<H, KVH, K><<<KVH, 1024>>>(dst.ptr, den.ptr, e, n, dorder_dev.ptr);
        CUDA_CHECK(cudaGetLastError());
        std::vector<i32> order = dorder_dev.download();
        const int rows = n * G * K, width = std::max(1, (e + 4095) / 4096);
        bool sorted = true;
        for (int kvh = 0; kvh < KVH; ++kvh) {
          std::vector<char> seen(rows, 0);
          int last = -1;
          for (int r = 0; r < rows; ++r) {
            const int id = order[(size_t)kvh * rows + r];
            if (id < 0 || id >= rows || seen[id]) {
              sorted = false;
              break;
            }
            seen[id] = 1;
            const int j = id / (G * K), rest = id % (G * K);
            const size_t x = (size_t)j * H * K + kvh * G * K + rest;
            const int bucket = hst[x] <= hen[x] ? std::min(hst[x] / width, 4095) : 0;
            sorted = sorted && bucket >= last;
            last = bucket;
          }
        }
        check::expect(name + " msa_span_order: a permutation sorted by span start", sorted);
        DeviceBuffer<i32> dorder(order);
        DeviceBuffer<T> dos2((size_t)n * H * K * D);
        DeviceBuffer<float> dls2((size_t)n * H * K);
        k_span<T, H, KVH, D, K><<<dim3((n * G * K + 63) / 64, KVH), 128, SMEM>>>(
            q2p, H * D, dk.ptr, dv.ptr, L, e, n, dst.ptr, den.ptr, dorder.ptr, dos2.ptr, dls2.ptr);
        CUDA_CHECK(cudaGetLastError());
        check::compare(name + " span attention with row_order == natural order (exact)",
                       host_float(dos2.download()), host_float(os_nat), 0.0f, 0.0f);
        auto finite = [](std::vector<float> v) {  // -inf (empty span) compares as a sentinel
          for (float &x : v)
            x = std::isinf(x) ? -1e30f : x;
          return v;
        };
        check::compare(name + " span lse with row_order == natural order (exact)",
                       finite(dls2.download()), finite(dls.download()), 0.0f, 0.0f);
      }
      k_gate<T, H, D, K><<<n, 256>>>(dow.ptr, dlw.ptr, dos.ptr, dls.ptr, dts.ptr, dout.ptr, H * D,
                                     n);
      CUDA_CHECK(cudaGetLastError());
      CUDA_CHECK(cudaDeviceSynchronize());
      auto ts = dts.download();
      auto s0 = dst.download(), e0 = den.download();
      auto o = host_float(dout.download());
      std::copy(ts.begin(), ts.end(), top.begin() + (size_t)b * H * K);
      std::copy(s0.begin(), s0.end(), st.begin() + (size_t)b * H * K);
      std::copy(e0.begin(), e0.end(), en.begin() + (size_t)b * H * K);
      std::copy(o.begin(), o.end(), out.begin() + (size_t)b * H * D);
    }
  }

  // Decode: n queries ending at position last (cache_len = last + 1), the fused decode path.
  void decode(int last, int n) {
    const int len = last + 1, b = len - n;
    DeviceBuffer<T> dq1(q1), dq2(q2), dk(kc), dv(vc);
    DeviceBuffer<i64> doff(off);
    std::vector<i32> reach(2 * n);
    for (int j = 0; j < n; ++j) {
      reach[2 * j] = (i32)sl::math::spanReach(b + j, cfg.bf, cfg.sp);
      reach[2 * j + 1] = (i32)sl::math::spanReach(b + j, cfg.ff, cfg.sp);
    }
    DeviceBuffer<i32> dreach(reach);
    DeviceBuffer<float> dps((size_t)SR * n * H * K), dts((size_t)n * H * K);
    DeviceBuffer<i32> dpi((size_t)SR * n * H * K), dst((size_t)n * H * K), den((size_t)n * H * K);
    DeviceBuffer<float> dwo((size_t)(SW + K * SS) * n * H * D), dwl((size_t)(SW + K * SS) * n * H);
    DeviceBuffer<T> dout((size_t)n * H * D);
    constexpr int SMEM = slk::msa_attention_smem<T, D, 4>();
    const T *q1p = dq1.ptr + (size_t)b * H * D, *q2p = dq2.ptr + (size_t)b * H * D;
    k_anchor<T, H, KVH, D, K, W, 4, 1, SR><<<dim3(n, KVH, SR), 128>>>(
        q1p, H * D, dk.ptr, L, len, n, doff.ptr, (i32)off.size(), dreach.ptr, nullptr, nullptr,
        nullptr, dps.ptr, dpi.ptr);
    CUDA_CHECK(cudaGetLastError());
    const int grid = n * H * (SW + K * SS);
    k_dec_attn<T, H, KVH, D, K, W, SR, SW, SS><<<grid, 128>>>(
        q2p, H * D, dk.ptr, dv.ptr, L, len, n, doff.ptr, dreach.ptr, dps.ptr, dpi.ptr, dwo.ptr,
        dwl.ptr);
    CUDA_CHECK(cudaGetLastError());
    k_dec_combine<T, H, D, K, SR, SW, SS><<<n * H, 128>>>(dps.ptr, dpi.ptr, dwo.ptr, dwl.ptr,
                                                          dout.ptr, H * D, n);
    CUDA_CHECK(cudaGetLastError());
    k_route_merge<H, K, W, SR><<<(n * H + 127) / 128, 128>>>(dps.ptr, dpi.ptr, len, n, doff.ptr,
                                                            dreach.ptr, dts.ptr, dst.ptr, den.ptr);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaDeviceSynchronize());
    top.assign((size_t)L * H * K, 0.0f);
    st.assign((size_t)L * H * K, 0);
    en.assign((size_t)L * H * K, 0);
    out.assign((size_t)L * H * D, 0.0f);
    auto ts = dts.download();
    auto s0 = dst.download(), e0 = den.download();
    auto o = host_float(dout.download());
    std::copy(ts.begin(), ts.end(), top.begin() + (size_t)b * H * K);
    std::copy(s0.begin(), s0.end(), st.begin() + (size_t)b * H * K);
    std::copy(e0.begin(), e0.end(), en.begin() + (size_t)b * H * K);
    std::copy(o.begin(), o.end(), out.begin() + (size_t)b * H * D);
  }

  // Compares the device results of positions `positions` with the reference.
  void verify(const std::string &what, const std::vector<int> &positions, float atol, float rtol) {
    std::vector<int> gs, ge, rs, re;
    std::vector<float> gt, rt, go, ro;
    size_t unclear = 0;
    std::vector<float> top_r(K), out_r(D);
    std::vector<int> st_r(K), en_r(K);
    for (int pos : positions)
      for (int h = 0; h < H; ++h) {
        bool clear;
        reference(pos, h, top_r.data(), st_r.data(), en_r.data(), out_r.data(), clear);
        if (!clear) {
          ++unclear;
          continue;
        }
        const size_t base = ((size_t)pos * H + h) * K;
        for (int k = 0; k < K; ++k) {
          gs.push_back(st[base + k]);
          ge.push_back(en[base + k]);
          rs.push_back(st_r[k]);
          re.push_back(en_r[k]);
          const bool inf = std::isinf(top_r[k]);
          gt.push_back(inf ? (std::isinf(top[base + k]) ? 0.0f : 1e30f) : top[base + k]);
          rt.push_back(inf ? 0.0f : top_r[k]);
        }
        for (int d = 0; d < D; ++d) {
          go.push_back(out[((size_t)pos * H + h) * D + d]);
          ro.push_back(out_r[d]);
        }
      }
    const std::string p = name + " " + what;
    std::printf("     %s: %zu (pos, head) pairs, %zu skipped for near-ties\n", p.c_str(),
                gs.size() / K, unclear);
    check::expect_equal_ints(p + " span start", gs, rs);
    check::expect_equal_ints(p + " span end", ge, re);
    check::compare(p + " top scores", gt, rt, 2e-3f, 1e-4f);
    check::compare(p + " output", go, ro, atol, rtol);
  }
};

std::vector<int> all_positions(int a, int b) {
  std::vector<int> v;
  for (int i = a; i < b; ++i)
    v.push_back(i);
  return v;
}
std::vector<int> sampled_positions(int a, int b, int count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int> v;
  for (int i = 0; i < count; ++i)
    v.push_back(a + (int)(rng() % (uint64_t)(b - a)));
  v.push_back(b - 1);
  return v;
}

// Random inputs: whole-sequence prefill, chunked prefill, decode steps.
template <typename T, int H, int KVH, int D, int K, int W>
void run_suite(const std::string &nm, Cfg cfg, int L, float atol, float rtol, uint64_t seed) {
  Problem<T, H, KVH, D, K, W> pb(nm, cfg, L, seed);
  std::printf("---- %s, L = %d\n", nm.c_str(), L);
  pb.prefill({0, L});
  pb.verify("prefill one call", all_positions(0, L), atol, rtol);
  pb.prefill({0, 7, L / 3, L / 3 + 1, L / 2 + 5, L});
  pb.verify("prefill in chunks", all_positions(0, L), atol, rtol);
  for (int last : {W - 2, W, W + 1, L / 2, L - 1}) {
    if (last < 0 || last >= L)
      continue;
    pb.decode(last, 1);
    pb.verify("decode n=1 at " + std::to_string(last), {last}, atol, rtol);
  }
  pb.decode(L - 1, 3);
  pb.verify("decode n=3", {L - 3, L - 2, L - 1}, atol, rtol);
}

// L < W: every top slot is missing and the output equals dense causal attention.
template <typename T, int H, int KVH, int D, int K, int W>
void run_short(const std::string &nm, Cfg cfg, int L, float atol, float rtol) {
  Problem<T, H, KVH, D, K, W> pb(nm, cfg, L, 77);
  pb.prefill({0, L});
  std::vector<float> got, want;
  size_t finite = 0;
  for (float s : pb.top)
    finite += std::isinf(s) ? 0 : 1;
  if (finite) {
    std::printf("FAIL %s: %zu finite routing scores with L < W\n", nm.c_str(), finite);
    ++check::failures();
  }
  for (int pos = 0; pos < L; ++pos)
    for (int h = 0; h < H; ++h) {
      const float *q = &pb.fq2[((size_t)pos * H + h) * D];
      std::vector<double> sc(pos + 1), o(D, 0.0);
      double mx = -1e300, l = 0.0;
      for (int r = 0; r <= pos; ++r) {
        double s = 0.0;
        for (int d = 0; d < D; ++d)
          s += (double)q[d] * pb.krow(h / (H / KVH), r)[d];
        sc[r] = s / std::sqrt((double)D);
        mx = std::max(mx, sc[r]);
      }
      for (int r = 0; r <= pos; ++r) {
        const double p = std::exp(sc[r] - mx);
        l += p;
        for (int d = 0; d < D; ++d)
          o[d] += p * pb.vrow(h / (H / KVH), r)[d];
      }
      for (int d = 0; d < D; ++d) {
        want.push_back((float)(o[d] / l));
        got.push_back(pb.out[((size_t)pos * H + h) * D + d]);
      }
    }
  check::compare(nm + " L < W equals dense causal attention", got, want, atol, rtol);
}

// A far key planted as a scaled copy of one query's q1 is routed to and dominates the output;
// two identical copies in two stripes test the tie rule (the farther anchor wins slot 0).
template <typename T, int H, int KVH, int D, int K, int W>
void run_needle(const std::string &nm, Cfg cfg, int L) {
  Problem<T, H, KVH, D, K, W> pb(nm, cfg, L, 99);
  const int pos = L - 1, h = H - 1, kvh = h / (H / KVH);
  const int nstripes = (int)std::count_if(pb.off.begin(), pb.off.end(),
                                          [&](i64 o) { return o <= pos; });
  const int i_far = nstripes - 2, i_near = nstripes / 2;  // two stripes far from the window
  const int a_far = pos - (int)pb.off[i_far], a_near = pos - (int)pb.off[i_near];
  for (int d = 0; d < D; ++d) {
    const float q = pb.fq1[((size_t)pos * H + h) * D + d];
    const T kv = check::from_f32<T>(4.0f * q);
    pb.kc[((size_t)kvh * L + a_far) * D + d] = kv;
    pb.kc[((size_t)kvh * L + a_near) * D + d] = kv;
    pb.vc[((size_t)kvh * L + a_far) * D + d] = check::from_f32<T>(d % 2 ? 10.0f : -10.0f);
    pb.vc[((size_t)kvh * L + a_near) * D + d] = check::from_f32<T>(d % 2 ? 10.0f : -10.0f);
    // q2 aligned with the needle so that attention concentrates on it.
    pb.q2[((size_t)pos * H + h) * D + d] = check::from_f32<T>(2.0f * q);
  }
  pb.refresh();
  float top_r[K], out_r[D];
  int st_r[K], en_r[K], stripe_r[K];
  bool clear;
  pb.reference(pos, h, top_r, st_r, en_r, out_r, clear, stripe_r);
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 0)
      pb.prefill({0, L / 2, L});
    else
      pb.decode(pos, 1);
    const std::string what = nm + (pass == 0 ? " needle prefill" : " needle decode");
    const size_t base = ((size_t)pos * H + h) * K;
    const int a0 = pos - (int)pb.off[i_far];
    const bool slot0 = pb.st[base] <= a0 && a0 <= pb.en[base] && stripe_r[0] == i_far &&
                       pb.st[base] == st_r[0] && pb.en[base] == en_r[0];
    std::printf("%s %s: slot 0 span [%d, %d] holds the farther needle at %d (tie rule)\n",
                slot0 ? "PASS" : "FAIL", what.c_str(), pb.st[base], pb.en[base], a0);
    if (!slot0)
      ++check::failures();
    if (K >= 2) {
      const bool slot1 = pb.st[base + 1] == st_r[1] && pb.en[base + 1] == en_r[1] &&
                         stripe_r[1] == i_near;
      std::printf("%s %s: slot 1 span [%d, %d] holds the nearer copy\n", slot1 ? "PASS" : "FAIL",
                  what.c_str(), pb.st[base + 1], pb.en[base + 1]);
      if (!slot1)
        ++check::failures();
    }
    std::vector<float> got(D), want(D), planted(D);
    for (int d = 0; d < D; ++d) {
      got[d] = pb.out[((size_t)pos * H + h) * D + d];
      want[d] = out_r[d];
      planted[d] = d % 2 ? 10.0f : -10.0f;
    }
    check::compare(what + " output vs reference", got, want, 0.05f, 0.02f);
    check::compare(what + " output is the needle's value", got, planted, 1.0f, 0.0f);
  }
}


// --bench: timings at the real shape (32/2/128, k 3, W 2032) with a random cache of L positions:
// the decode step at L and one prefill chunk of CH queries ending at L. Not a check.
template <int SS> void bench(int L, int CH) {
  constexpr int H = 32, KVH = 2, D = 128, K = 3, W = 2032, G = 16, SR = 32, SW = 8;
  std::printf("BENCH SPLIT_S = %d\n", SS);
  const Cfg cfg{65, 0.55, 0.55, 3.0, 1.0};
  std::vector<i64> off;
  for (int64_t i = cfg.sw + 1;; ++i) {
    off.push_back(sl::math::floorPower(i, cfg.p) - 1);
    if (off.back() > L)
      break;
  }
  DeviceBuffer<bf16> dk(check::random_vector<bf16>((size_t)KVH * L * D, 1.0f, 1));
  DeviceBuffer<bf16> dv(check::random_vector<bf16>((size_t)KVH * L * D, 1.0f, 2));
  DeviceBuffer<bf16> dq1(check::random_vector<bf16>((size_t)CH * H * D, 1.0f, 3));
  DeviceBuffer<bf16> dq2(check::random_vector<bf16>((size_t)CH * H * D, 1.0f, 4));
  DeviceBuffer<i64> doff(off);
  std::vector<i32> reach(2 * CH);
  for (int j = 0; j < CH; ++j) {
    reach[2 * j] = (i32)sl::math::spanReach(L - CH + j, cfg.bf, cfg.sp);
    reach[2 * j + 1] = (i32)sl::math::spanReach(L - CH + j, cfg.ff, cfg.sp);
  }
  DeviceBuffer<i32> dreach(reach);
  constexpr int SMEM = slk::msa_attention_smem<bf16, D, 4>();
  CUDA_CHECK(cudaFuncSetAttribute(k_window<bf16, H, KVH, D, W>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
  CUDA_CHECK(cudaFuncSetAttribute(k_span<bf16, H, KVH, D, K>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  auto time = [&](const char *what, auto fn) {
    std::vector<float> ms;
    for (int it = 0; it < 12; ++it) {
      cudaEventRecord(e0);
      fn();
      cudaEventRecord(e1);
      CUDA_CHECK(cudaEventSynchronize(e1));
      float t;
      cudaEventElapsedTime(&t, e0, e1);
      if (it >= 2)
        ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    std::printf("BENCH %s L=%d: %.4f ms (median)\n", what, L, ms[ms.size() / 2]);
  };
  {  // decode n = 1 at position L - 1 (the last q row)
    const int n = 1;
    DeviceBuffer<float> dps((size_t)SR * n * H * K), dwo((size_t)(SW + K * SS) * n * H * D),
        dwl((size_t)(SW + K * SS) * n * H);
    DeviceBuffer<i32> dpi((size_t)SR * n * H * K), dr2(std::vector<i32>{reach[2 * CH - 2], reach[2 * CH - 1]});
    DeviceBuffer<bf16> dout((size_t)n * H * D);
    const bf16 *q1p = dq1.ptr + (size_t)(CH - 1) * H * D, *q2p = dq2.ptr + (size_t)(CH - 1) * H * D;
    const int grid = n * H * (SW + K * SS);
    auto route = [&] {
      k_anchor<bf16, H, KVH, D, K, W, 4, 1, SR><<<dim3(n, KVH, SR), 128>>>(
          q1p, H * D, dk.ptr, L, L, n, doff.ptr, (i32)off.size(), dr2.ptr, nullptr, nullptr,
          nullptr, dps.ptr, dpi.ptr);
    };
    auto attn = [&] {
      k_dec_attn<bf16, H, KVH, D, K, W, SR, SW, SS><<<grid, 128>>>(
          q2p, H * D, dk.ptr, dv.ptr, L, L, n, doff.ptr, dr2.ptr, dps.ptr, dpi.ptr, dwo.ptr,
          dwl.ptr);
    };
    auto comb = [&] {
      k_dec_combine<bf16, H, D, K, SR, SW, SS><<<n * H, 128>>>(dps.ptr, dpi.ptr, dwo.ptr, dwl.ptr,
                                                              dout.ptr, H * D, n);
    };
    time("decode route", route);
    time("decode attention", attn);
    time("decode combine", comb);
    time("decode step (3 launches)", [&] { route(); attn(); comb(); });
    CUDA_CHECK(cudaGetLastError());
  }
  {  // prefill chunk of CH queries ending at L
    const int n = CH;
    DeviceBuffer<float> dts((size_t)n * H * K), dlw((size_t)n * H), dls((size_t)n * H * K);
    DeviceBuffer<i32> dst((size_t)n * H * K), den((size_t)n * H * K);
    DeviceBuffer<bf16> dow((size_t)n * H * D), dos((size_t)n * H * K * D), dout((size_t)n * H * D);
    time("prefill route", [&] {
      k_anchor<bf16, H, KVH, D, K, W, 4, 4, 1><<<dim3((n + 3) / 4, KVH, 1), 128>>>(
          dq1.ptr, H * D, dk.ptr, L, L, n, doff.ptr, (i32)off.size(), dreach.ptr, dts.ptr,
          dst.ptr, den.ptr, nullptr, nullptr);
    });
    time("prefill window", [&] {
      k_window<bf16, H, KVH, D, W><<<dim3((n * G + 63) / 64, KVH), 128, SMEM>>>(
          dq2.ptr, H * D, dk.ptr, dv.ptr, L, L, n, dow.ptr, dlw.ptr);
    });
    time("prefill spans (natural row order)", [&] {
      k_span<bf16, H, KVH, D, K><<<dim3((n * G * K + 63) / 64, KVH), 128, SMEM>>>(
          dq2.ptr, H * D, dk.ptr, dv.ptr, L, L, n, dst.ptr, den.ptr, nullptr, dos.ptr, dls.ptr);
    });
    DeviceBuffer<i32> dorder((size_t)KVH * n * G * K);
    time("prefill span order", [&] {
      k_order<H, KVH, K><<<KVH, 1024>>>(dst.ptr, den.ptr, L, n, dorder.ptr);
    });
    time("prefill spans (sorted by start)", [&] {
      k_span<bf16, H, KVH, D, K><<<dim3((n * G * K + 63) / 64, KVH), 128, SMEM>>>(
          dq2.ptr, H * D, dk.ptr, dv.ptr, L, L, n, dst.ptr, den.ptr, dorder.ptr, dos.ptr, dls.ptr);
    });
    time("prefill gate", [&] {
      k_gate<bf16, H, D, K><<<n, 256>>>(dow.ptr, dlw.ptr, dos.ptr, dls.ptr, dts.ptr, dout.ptr,
                                        H * D, n);
    });
    CUDA_CHECK(cudaGetLastError());
    std::printf("BENCH prefill chunk n=%d at L=%d (per-kernel times above)\n", n, L);
  }
}

int main(int argc, char **argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc > 1 && std::string(argv[1]) == "--bench") {
    const int L = argc > 2 ? std::atoi(argv[2]) : 1000000, CH = argc > 3 ? std::atoi(argv[3]) : 4096;
    bench<16>(L, CH);
    bench<32>(L, CH);
    return 0;
  }
  const Cfg c3{3, 0.5, 0.5, 3.0, 1.0};      // W = 15
  const Cfg c5{5, 0.55, 0.55, 3.0, 1.0};    // W = 24
  const Cfg c8{8, 0.5, 0.55, 3.0, 1.0};     // W = 80
  const Cfg c6{6, 0.55, 0.5, 2.0, 1.0};     // W = 33
  const Cfg real{65, 0.55, 0.55, 3.0, 1.0}; // W = 2032
  // Tiny shapes, float and bf16, k = 1, 2, 3.
  run_suite<float, 4, 2, 16, 2, 15>("f32 h4/2 d16 k2 sw3 p.5", c3, 2000, 1e-4f, 1e-3f, 1);
  run_suite<float, 4, 2, 16, 3, 24>("f32 h4/2 d16 k3 sw5 p.55", c5, 3000, 1e-4f, 1e-3f, 2);
  run_suite<float, 4, 1, 16, 1, 80>("f32 h4/1 d16 k1 sw8 p.5", c8, 5000, 1e-4f, 1e-3f, 3);
  run_suite<bf16, 4, 2, 16, 2, 15>("bf16 h4/2 d16 k2 sw3 p.5", c3, 2000, 2e-2f, 2e-2f, 4);
  run_suite<bf16, 32, 2, 64, 3, 33>("bf16 h32/2 d64 k3 sw6 p.55", c6, 2500, 2e-2f, 2e-2f, 5);
  run_suite<bf16, 8, 1, 128, 2, 24>("bf16 h8/1 d128 k2 sw5 p.55", c5, 2200, 2e-2f, 2e-2f, 6);
  // Sequences shorter than the window: dense causal attention.
  run_short<float, 4, 2, 16, 2, 80>("f32 short", c8, 60, 1e-4f, 1e-3f);
  run_short<bf16, 4, 2, 16, 3, 80>("bf16 short", c8, 79, 2e-2f, 2e-2f);
  // Planted needles (and the tie rule).
  run_needle<float, 4, 2, 16, 2, 15>("f32 h4/2 d16 k2", c3, 3000);
  run_needle<bf16, 32, 2, 128, 3, 2032>("bf16 real", real, 6000);
  // Real sizes: 32/2/128, k 3, W 2032, L ~ 20K, sampled positions.
  {
    Problem<bf16, 32, 2, 128, 3, 2032> pb("bf16 real 32/2/128 k3 W2032", real, 20000, 11);
    const auto sample = sampled_positions(0, 20000, 48, 5);
    pb.prefill({0, 20000}, true);
    pb.verify("prefill one call (sampled)", sample, 2e-2f, 2e-2f);
    pb.prefill({0, 8192, 16384, 20000});
    pb.verify("prefill in chunks (sampled)", sample, 2e-2f, 2e-2f);
    pb.decode(19999, 1);
    pb.verify("decode n=1", {19999}, 2e-2f, 2e-2f);
    pb.decode(12345, 1);
    pb.verify("decode n=1", {12345}, 2e-2f, 2e-2f);
  }
  return check::finish("msa_check");
}
