// GPU correctness check of the dense kernels: rms_norm, add_rms_norm, gated_rms_norm, gemm
// (bf16 tensor-core and float FMA paths), gemm_wgmma (sm_90a), gemv, embedding, argmax. Every template is launched
// exactly as docs/kernels.md / docs/kernels-dense.md document it (grid, block, dynamic smem)
// on random normal inputs and compared with a naive host reference computed in double from
// the same (already T-representable) inputs, with the same roundings to T as the kernels.
//
// Tolerances (|got - want| <= atol + rtol·|want|):
//  - float kernels: atol 1e-4, rtol 1e-4 (fp32 summation order only);
//  - bf16 norms: atol 1e-3, rtol 1.6e-2 (a 1-ulp flip of the rounded normalised value);
//  - bf16 gemm / gemv: atol 3e-2, rtol 2e-2 (fp32 sums in another order can flip the bf16
//    rounding of the linear output by 1 ulp = 2^-8 relative; relu2 doubles it; a residual add
//    turns it into an absolute error of ~2^-8·|linear output| <= ~0.03 for outputs ~N(0,1));
//  - embedding, argmax: exact.
// Build: nvcc -std=c++17 -O2 -arch=sm_90a -I runtime/kernels -I tests/gpu tests/gpu/dense_check.cu
#include "check_util.h"

#include "sl_embedding.cuh"
#include "sl_gemm.cuh"
#include "sl_norm.cuh"
#include "sl_sample.cuh"

using check::DeviceBuffer;
using slk::bf16;
using slk::i32;

// ------------------------------------------------------------------------------------------
// Kernel wrappers (what the compiler emits: the template's arguments as parameters).
// ------------------------------------------------------------------------------------------
template <typename T, typename WT, int H, int TH>
__global__ void __launch_bounds__(TH) k_rms(const T *x, const WT *w, T *y, i32 n, float eps) {
  slk::rms_norm<T, WT, H, TH>(x, w, y, n, eps);
}
template <typename T, typename WT, int H, int TH>
__global__ void __launch_bounds__(TH)
    k_add_rms(const T *x, const T *r, T *s, const WT *w, T *y, i32 n, float eps) {
  slk::add_rms_norm<T, WT, H, TH>(x, r, s, w, y, n, eps);
}
template <typename T, typename WT, int C, int G, int TH>
__global__ void __launch_bounds__(TH) k_gated(const T *y, i32 ldy, const T *g, i32 ldg, const WT *w, T *out,
                                              i32 n, float eps) {
  slk::gated_rms_norm<T, WT, C, G, TH>(y, ldy, g, ldg, w, out, n, eps);
}
template <typename T, typename O, int BM, int BN, int BK, int S, int WM, int WN, int ACT, bool B, bool R>
__global__ void __launch_bounds__(32 * WM * WN)
    k_gemm(const T *a, i32 lda, const T *w, const T *bias, const T *res, O *c, i32 ldc, i32 m, i32 n, i32 k) {
  slk::gemm<T, O, BM, BN, BK, S, WM, WN, ACT, B, R>(a, lda, w, bias, res, c, ldc, m, n, k);
}
template <typename O, int BM, int BN, int S, int ACT, bool B, bool R>
__global__ void __launch_bounds__(2 * BM) k_gemm_wgmma(const bf16 *a, i32 lda, const bf16 *w, const bf16 *bias,
                                                      const bf16 *res, O *c, i32 ldc, i32 m, i32 n, i32 k) {
  slk::gemm_wgmma<bf16, O, BM, BN, S, ACT, B, R>(a, lda, w, bias, res, c, ldc, m, n, k);
}
template <typename T, typename O, int WARPS, int MAXM, int ACT, bool B, bool R>
__global__ void __launch_bounds__(32 * WARPS)
    k_gemv(const T *a, i32 lda, const T *w, const T *bias, const T *res, O *c, i32 ldc, i32 m, i32 n, i32 k) {
  slk::gemv<T, O, WARPS, MAXM, ACT, B, R>(a, lda, w, bias, res, c, ldc, m, n, k);
}
template <typename T, int H, int TH>
__global__ void __launch_bounds__(TH) k_embed(const i32 *tok, const T *table, T *out, i32 n, i32 vocab, i32 *err) {
  slk::embedding<T, H, TH>(tok, table, out, n, vocab, err);
}
template <int TH>
__global__ void __launch_bounds__(TH) k_argmax(const float *l, i32 *out, i32 n, i32 vocab) {
  slk::argmax<TH>(l, out, n, vocab);
}

template <typename K, typename... Args>
static void launch(K kernel, dim3 grid, dim3 block, size_t smem, Args... args) {
  if (smem > 48 * 1024)
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  kernel<<<grid, block, smem>>>(args...);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaDeviceSynchronize());
}

// check::round_to / check::to_float call to_f32 unqualified, which is ambiguous with
// slk::to_f32 (found by ADL) for slk::bf16; these helpers qualify the call.
template <typename T> static float rt(float v) { return check::to_f32(check::from_f32<T>(v)); }
template <typename T> static std::vector<float> tofl(const std::vector<T> &v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = check::to_f32(v[i]);
  return out;
}
static double silu_h(double x) { return x / (1.0 + std::exp(-x)); }
static float act_h(int act, float v) {
  if (act == slk::kActSilu)
    return float(silu_h(v));
  if (act == slk::kActRelu2)
    return v > 0 ? v * v : 0.0f;
  return v;
}
template <typename T> static const char *tname() { return sizeof(T) == 2 ? "bf16" : "f32"; }

// ------------------------------------------------------------------------------------------
// Norms
// ------------------------------------------------------------------------------------------
template <typename T, typename WT, int H, int TH, bool ADD>
static void test_rms(int n, uint64_t seed) {
  const float eps = 1e-5f;
  auto x = check::random_vector<T>(size_t(n) * H, 1.5f, seed);
  auto r = check::random_vector<T>(size_t(n) * H, 1.0f, seed + 1);
  auto w = check::random_vector<WT>(H, 1.0f, seed + 2);
  DeviceBuffer<T> dx(x), dr(r), ds(size_t(n) * H), dy(size_t(n) * H);
  DeviceBuffer<WT> dw(w);
  if (ADD)
    launch(k_add_rms<T, WT, H, TH>, dim3(n), dim3(TH), 0, (const T *)dx.ptr, (const T *)dr.ptr, ds.ptr,
           (const WT *)dw.ptr, dy.ptr, n, eps);
  else
    launch(k_rms<T, WT, H, TH>, dim3(n), dim3(TH), 0, (const T *)dx.ptr, (const WT *)dw.ptr, dy.ptr, n, eps);
  std::vector<float> want(size_t(n) * H), want_sum(size_t(n) * H);
  for (int i = 0; i < n; ++i) {
    double ss = 0;
    for (int c = 0; c < H; ++c) {
      float v = check::to_f32(x[size_t(i) * H + c]);
      if (ADD)
        v = rt<T>(v + check::to_f32(r[size_t(i) * H + c]));
      want_sum[size_t(i) * H + c] = v;
      ss += double(v) * v;
    }
    const double rstd = 1.0 / std::sqrt(ss / H + eps);
    for (int c = 0; c < H; ++c)
      want[size_t(i) * H + c] =
          rt<T>(check::to_f32(w[c]) * rt<T>(float(want_sum[size_t(i) * H + c] * rstd)));
  }
  const bool bf = sizeof(T) == 2;
  std::string name = std::string(ADD ? "add_rms_norm" : "rms_norm") + "<" + tname<T>() + "," + tname<WT>() +
                     "," + std::to_string(H) + "," + std::to_string(TH) + "> n=" + std::to_string(n);
  check::compare(name, tofl(dy.download()), want, bf ? 1e-3f : 1e-4f, bf ? 1.6e-2f : 1e-4f);
  if (ADD)
    check::compare(name + " sum", tofl(ds.download()), want_sum, 0.0f, 0.0f);
}

template <typename T, typename WT, int C, int G, int TH>
static void test_gated(int n, int ldy, int ldg, int goff, uint64_t seed) {
  const float eps = 1e-5f;
  auto y = check::random_vector<T>(size_t(n) * ldy, 1.0f, seed);
  auto g = check::random_vector<T>(size_t(n) * ldg, 1.5f, seed + 1);
  auto w = check::random_vector<WT>(C, 1.0f, seed + 2);
  DeviceBuffer<T> dy(y), dg(g), dout(size_t(n) * C);
  DeviceBuffer<WT> dw(w);
  launch(k_gated<T, WT, C, G, TH>, dim3(n, C / G), dim3(TH), 0, (const T *)dy.ptr, ldy,
         (const T *)(dg.ptr + goff), ldg, (const WT *)dw.ptr, dout.ptr, n, eps);
  std::vector<float> want(size_t(n) * C);
  for (int i = 0; i < n; ++i)
    for (int g0 = 0; g0 < C; g0 += G) {
      std::vector<double> h(G);
      double ss = 0;
      for (int c = 0; c < G; ++c) {
        const double gv = check::to_f32(g[size_t(i) * ldg + goff + g0 + c]);
        h[c] = float(double(check::to_f32(y[size_t(i) * ldy + g0 + c])) * float(silu_h(gv)));
        ss += h[c] * h[c];
      }
      const double rstd = 1.0 / std::sqrt(ss / G + eps);
      for (int c = 0; c < G; ++c)
        want[size_t(i) * C + g0 + c] = rt<T>(check::to_f32(w[g0 + c]) * rt<T>(float(h[c] * rstd)));
    }
  const bool bf = sizeof(T) == 2;
  check::compare(std::string("gated_rms_norm<") + tname<T>() + "," + std::to_string(C) + "," +
                     std::to_string(G) + "> n=" + std::to_string(n),
                 tofl(dout.download()), want, bf ? 1e-3f : 1e-4f, bf ? 1.6e-2f : 1e-4f);
}

// ------------------------------------------------------------------------------------------
// Linear layers
// ------------------------------------------------------------------------------------------
struct LinearCase {
  int m, n, k, lda, ldc;
};

// Runs `run(a, w, bias, res, c)` and compares the whole c buffer (ldc padding must keep its
// initial values) with the reference.
template <typename T, typename O, int ACT, bool B, bool R, class Run>
static void check_linear(const std::string &name, LinearCase s, uint64_t seed, Run run) {
  auto a = check::random_vector<T>(size_t(s.m) * s.lda, 1.0f, seed);
  auto w = check::random_vector<T>(size_t(s.n) * s.k, 1.0f / std::sqrt(float(s.k)), seed + 1);
  auto bias = check::random_vector<T>(s.n, 0.5f, seed + 2);
  auto res = check::random_vector<T>(size_t(s.m) * s.ldc, 1.0f, seed + 3);
  auto c0 = check::random_vector<O>(size_t(s.m) * s.ldc, 1.0f, seed + 4);
  DeviceBuffer<T> da(a), dw(w), db(bias), dr(res);
  DeviceBuffer<O> dc(c0);
  run(da.ptr, dw.ptr, db.ptr, dr.ptr, dc.ptr);
  std::vector<float> want = tofl(c0);
  std::vector<float> wf = tofl(w);
  for (int i = 0; i < s.m; ++i) {
    std::vector<double> ar(s.k);
    for (int kk = 0; kk < s.k; ++kk)
      ar[kk] = check::to_f32(a[size_t(i) * s.lda + kk]);
    for (int j = 0; j < s.n; ++j) {
      double acc = 0;
      const float *wr = wf.data() + size_t(j) * s.k;
      for (int kk = 0; kk < s.k; ++kk)
        acc += ar[kk] * wr[kk];
      float v = float(acc);
      if (B)
        v += check::to_f32(bias[j]);
      v = rt<T>(v);
      if (ACT != slk::kActNone)
        v = rt<T>(act_h(ACT, v));
      if (R)
        v += check::to_f32(res[size_t(i) * s.ldc + j]);
      want[size_t(i) * s.ldc + j] = rt<O>(v);
    }
  }
  const bool bf = sizeof(T) == 2;
  char shape[96];
  std::snprintf(shape, sizeof shape, " m=%d n=%d k=%d lda=%d ldc=%d", s.m, s.n, s.k, s.lda, s.ldc);
  check::compare(name + shape, tofl(dc.download()), want, bf ? 3e-2f : 1e-4f, bf ? 2e-2f : 1e-4f);
}

template <typename T, typename O, int BM, int BN, int BK, int S, int WM, int WN, int ACT, bool B, bool R>
static void test_gemm(LinearCase s, uint64_t seed) {
  char name[160];
  std::snprintf(name, sizeof name, "gemm<%s,%s,%d,%d,%d,%d,%d,%d,act%d,%d,%d>", tname<T>(), tname<O>(), BM, BN,
                BK, S, WM, WN, ACT, int(B), int(R));
  check_linear<T, O, ACT, B, R>(name, s, seed, [&](T *a, T *w, T *bias, T *res, O *c) {
    const size_t smem = size_t(S) * (BM + BN) * (BK + 8) * sizeof(T);
    launch(k_gemm<T, O, BM, BN, BK, S, WM, WN, ACT, B, R>, dim3((s.n + BN - 1) / BN, (s.m + BM - 1) / BM),
           dim3(32 * WM * WN), smem, (const T *)a, s.lda, (const T *)w, (const T *)bias, (const T *)res, c, s.ldc,
           s.m, s.n, s.k);
  });
}

template <typename O, int BM, int BN, int S, int ACT, bool B, bool R>
static void test_gemm_wgmma(LinearCase s, uint64_t seed) {
  char name[160];
  std::snprintf(name, sizeof name, "gemm_wgmma<bf16,%s,%d,%d,%d,act%d,%d,%d>", tname<O>(), BM, BN, S, ACT,
                int(B), int(R));
  check_linear<bf16, O, ACT, B, R>(name, s, seed, [&](bf16 *a, bf16 *w, bf16 *bias, bf16 *res, O *c) {
    launch(k_gemm_wgmma<O, BM, BN, S, ACT, B, R>, dim3((s.n + BN - 1) / BN, (s.m + BM - 1) / BM), dim3(2 * BM),
           size_t(slk::gemm_wgmma_smem<BM, BN, S>()), (const bf16 *)a, s.lda, (const bf16 *)w,
           (const bf16 *)bias, (const bf16 *)res, c, s.ldc, s.m, s.n, s.k);
  });
}

template <typename T, typename O, int WARPS, int MAXM, int ACT, bool B, bool R>
static void test_gemv(LinearCase s, uint64_t seed) {
  char name[160];
  std::snprintf(name, sizeof name, "gemv<%s,%s,%d,%d,act%d,%d,%d>", tname<T>(), tname<O>(), WARPS, MAXM, ACT,
                int(B), int(R));
  check_linear<T, O, ACT, B, R>(name, s, seed, [&](T *a, T *w, T *bias, T *res, O *c) {
    launch(k_gemv<T, O, WARPS, MAXM, ACT, B, R>, dim3((s.n + WARPS - 1) / WARPS), dim3(32 * WARPS), 0,
           (const T *)a, s.lda, (const T *)w, (const T *)bias, (const T *)res, c, s.ldc, s.m, s.n, s.k);
  });
}

// ------------------------------------------------------------------------------------------
// Embedding, argmax
// ------------------------------------------------------------------------------------------
template <typename T, int H, int TH>
static void test_embedding(int n, int vocab, uint64_t seed) {
  auto table = check::random_vector<T>(size_t(vocab) * H, 1.0f, seed);
  std::mt19937 rng(seed);
  std::vector<i32> tok(n);
  for (auto &t : tok)
    t = int(rng() % vocab);
  tok[n - 1] = vocab - 1;
  DeviceBuffer<T> dt(table), dout(size_t(n) * H);
  DeviceBuffer<i32> derr(1);
  {
    DeviceBuffer<i32> dtok(tok);
    launch(k_embed<T, H, TH>, dim3(n), dim3(TH), 0, (const i32 *)dtok.ptr, (const T *)dt.ptr, dout.ptr, n, vocab,
           derr.ptr);
  }
  std::vector<float> want(size_t(n) * H);
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < H; ++c)
      want[size_t(i) * H + c] = check::to_f32(table[size_t(tok[i]) * H + c]);
  std::string name = std::string("embedding<") + tname<T>() + "," + std::to_string(H) + ">";
  check::compare(name + " n=" + std::to_string(n), tofl(dout.download()), want, 0, 0);
  check::expect_equal_ints(name + " no error", derr.download(), {0});
  // Out-of-range ids (vocab and -1 at rows 1 and 2): zeros there, *error = row + 1 of one of them.
  if (n >= 3) {
    tok[1] = vocab;
    tok[2] = -1;
    DeviceBuffer<i32> dtok(tok), derr2(1);
    launch(k_embed<T, H, TH>, dim3(n), dim3(TH), 0, (const i32 *)dtok.ptr, (const T *)dt.ptr, dout.ptr, n, vocab,
           derr2.ptr);
    for (int c = 0; c < H; ++c)
      want[size_t(1) * H + c] = want[size_t(2) * H + c] = 0.0f;
    check::compare(name + " bad ids", tofl(dout.download()), want, 0, 0);
    const int e = derr2.download()[0];
    check::expect_equal_ints(name + " error index", {e == 2 || e == 3 ? 1 : 0}, {1});
  }
}

template <int TH>
static void test_argmax(int n, int vocab, int offset, uint64_t seed) {
  auto l = check::random_vector<float>(size_t(n) * vocab + offset, 3.0f, seed);
  std::vector<int> want(n);
  for (int i = 0; i < n; ++i) {
    float *row = l.data() + offset + size_t(i) * vocab;
    if (i % 2 == 1) {  // ties: the maximum at several places, the lowest must win
      row[vocab / 3] = 100.0f;
      row[vocab / 2] = 100.0f;
      row[vocab - 1] = 100.0f;
    }
    int best = 0;
    for (int j = 1; j < vocab; ++j)
      if (row[j] > row[best])
        best = j;
    want[i] = best;
  }
  DeviceBuffer<float> dl(l);
  DeviceBuffer<i32> dout(n);
  launch(k_argmax<TH>, dim3(n), dim3(TH), 0, (const float *)(dl.ptr + offset), dout.ptr, n, vocab);
  check::expect_equal_ints("argmax<" + std::to_string(TH) + "> n=" + std::to_string(n) + " vocab=" +
                               std::to_string(vocab) + " offset=" + std::to_string(offset),
                           dout.download(), want);
}

int main() {
  using namespace slk;
  // Norms: real hidden 2688 (vector path), tiny, odd (scalar path), fp32 weights.
  test_rms<bf16, bf16, 2688, 256, false>(7, 10);
  test_rms<bf16, bf16, 2688, 256, false>(1, 11);
  test_rms<float, float, 64, 128, false>(5, 12);
  test_rms<bf16, float, 100, 128, false>(3, 13);
  test_rms<float, float, 63, 64, false>(4, 14);
  test_rms<bf16, bf16, 2688, 256, true>(6, 20);
  test_rms<float, float, 63, 64, true>(3, 21);
  test_rms<bf16, bf16, 64, 32, true>(2, 22);
  // Gated: Mamba d_inner 4096, group 512; y contiguous, gate a slice of in_proj's output.
  test_gated<bf16, bf16, 4096, 512, 256>(5, 4096, 10304, 0, 30);
  test_gated<bf16, bf16, 4096, 512, 256>(1, 4096, 10304, 8, 31);
  test_gated<float, float, 64, 16, 32>(4, 70, 77, 3, 32);

  // gemm, bf16: the prefill configuration on real shapes (in_proj, out_proj), tails, m = 1.
  test_gemm<bf16, bf16, 128, 128, 32, 4, 2, 4, kActNone, false, false>({40, 10304, 2688, 2688, 10304}, 40);
  test_gemm<bf16, bf16, 128, 128, 32, 4, 2, 4, kActNone, false, false>({1, 2688, 4096, 4096, 2688}, 41);
  test_gemm<bf16, bf16, 128, 128, 32, 4, 2, 4, kActNone, false, false>({333, 1000, 264, 272, 1004}, 42);
  test_gemm<bf16, bf16, 128, 128, 64, 3, 2, 4, kActRelu2, true, true>({77, 3712, 2688, 2688, 3712}, 43);
  test_gemm<bf16, bf16, 128, 128, 64, 3, 2, 4, kActRelu2, true, true>({130, 200, 72, 80, 202}, 44);
  test_gemm<bf16, float, 64, 128, 32, 3, 2, 4, kActSilu, true, false>({130, 300, 128, 128, 301}, 45);
  test_gemm<bf16, bf16, 32, 32, 16, 2, 2, 2, kActNone, false, true>({45, 70, 48, 64, 73}, 46);
  test_gemm<bf16, bf16, 32, 32, 16, 2, 2, 2, kActNone, false, true>({1, 7, 8, 8, 7}, 47);
  // gemm_wgmma (Hopper): real shapes (in_proj, out_proj, a 30B MoE-free MLP, the LM head's
  // float output), tails in m, n and k (k % 64 != 0), one k tile, both warpgroup counts.
  test_gemm_wgmma<bf16, 128, 256, 4, kActNone, false, false>({520, 10304, 2688, 2688, 10304}, 140);
  test_gemm_wgmma<bf16, 128, 128, 5, kActNone, false, true>({300, 2688, 4096, 4096, 2688}, 141);
  test_gemm_wgmma<bf16, 128, 256, 4, kActRelu2, true, true>({77, 3712, 2688, 2696, 3720}, 142);
  test_gemm_wgmma<float, 128, 256, 4, kActNone, false, false>({129, 4099, 3136, 3136, 4099}, 143);
  test_gemm_wgmma<bf16, 64, 256, 3, kActSilu, true, false>({100, 300, 72, 80, 301}, 144);
  test_gemm_wgmma<bf16, 64, 128, 3, kActNone, false, true>({1, 7, 8, 8, 7}, 145);
  test_gemm_wgmma<bf16, 128, 128, 3, kActNone, false, false>({64, 130, 40, 40, 130}, 146);
  // gemm, float (FMA path): any k and lda.
  test_gemm<float, float, 64, 64, 16, 2, 2, 4, kActSilu, true, true>({100, 130, 75, 80, 131}, 50);
  test_gemm<float, float, 64, 64, 16, 2, 2, 4, kActSilu, true, true>({1, 64, 64, 64, 64}, 51);
  test_gemm<float, float, 32, 32, 32, 1, 2, 2, kActNone, false, false>({33, 33, 17, 17, 33}, 52);

  // gemv (decode): m = 1 on out_proj / lm_head shapes, m up to MAX_M, scalar paths.
  test_gemv<bf16, bf16, 8, 1, kActNone, false, false>({1, 2688, 4096, 4096, 2688}, 60);
  test_gemv<bf16, float, 8, 8, kActNone, false, false>({1, 131072, 2688, 2688, 131072}, 61);
  test_gemv<bf16, float, 8, 8, kActNone, false, false>({8, 1000, 2688, 2688, 1000}, 62);
  test_gemv<bf16, bf16, 4, 4, kActRelu2, true, true>({3, 1000, 264, 272, 1001}, 63);
  test_gemv<bf16, bf16, 4, 4, kActRelu2, true, true>({4, 50, 100, 100, 50}, 64);
  test_gemv<float, float, 8, 2, kActSilu, true, true>({2, 130, 75, 75, 130}, 65);
  test_gemv<float, float, 8, 2, kActSilu, true, true>({2, 128, 64, 68, 129}, 66);

  test_embedding<bf16, 2688, 256>(9, 131072, 70);
  test_embedding<float, 64, 64>(5, 100, 71);
  test_embedding<bf16, 13, 32>(4, 50, 72);

  test_argmax<1024>(4, 131072, 0, 80);
  test_argmax<1024>(3, 1001, 0, 81);
  test_argmax<32>(5, 37, 1, 82);
  test_argmax<256>(2, 4096, 2, 83);
  return check::finish("dense_check");
}
