// GPU correctness check of the MoE kernels (sl_moe.cuh): router, align, grouped up / down
// GEMMs, combine (prefill) and the decode pair, launched exactly as docs/kernels-moe.md
// documents them, on random normal inputs, against a naive host reference in double with the
// kernels' roundings to T (transformers' NemotronHMoE numerics).
//
// Tolerances (|got - want| <= atol + rtol·|want|):
//  - router weights: atol 1e-6, rtol 1e-5 (fp32); router indices: exact, except tokens whose
//    (k)th and (k+1)th bias-corrected scores (or two chosen ones) differ by < 1e-5, where fp32
//    vs double rounding may legitimately reorder (counted and printed, expected ~0);
//  - align: exact (tile list, expert ranges, each pair exactly once, padding -1);
//  - expert outputs (slot_out) and the layer output: float atol 1e-4 rtol 1e-4; bf16 atol
//    3e-2 rtol 2e-2 (1-ulp flips of the bf16-rounded up-projection / relu2 / down outputs).
// Build: nvcc -std=c++17 -O2 -arch=sm_90a -I runtime/kernels -I tests/gpu tests/gpu/moe_check.cu
#include <set>
#include "check_util.h"

#include "sl_moe.cuh"

#include <algorithm>

using check::DeviceBuffer;
using slk::bf16;
using slk::i32;

template <typename T, int H, int E, int K, int TH>
__global__ void __launch_bounds__(TH) k_router(const T *x, const T *gw, const float *bias, float *w, i32 *idx,
                                               i32 n, float scale, i32 norm) {
  slk::moe_router<T, T, H, E, K, TH>(x, gw, bias, w, idx, n, scale, norm);
}
template <int E, int K, int TH>
__global__ void __launch_bounds__(TH) k_topk(const float *logits, const float *bias, float *w,
                                             i32 *idx, i32 n, float scale, i32 norm) {
  slk::moe_topk<E, K, TH>(logits, bias, w, idx, n, scale, norm);
}
template <int E, int K, int BM, int TH>
__global__ void __launch_bounds__(TH) k_align(const i32 *idx, i32 n, i32 *sp, i32 *te, i32 *nt, i32 off) {
  slk::moe_align<E, K, BM, TH>(idx, n, sp, te, nt, off);
}
template <typename T, int H, int I, int K, int BM, int BN, int BK, int S, int WM, int WN>
__global__ void __launch_bounds__(32 * WM * WN)
    k_up(const T *x, const T *up, const i32 *sp, const i32 *te, const i32 *nt, T *h) {
  slk::moe_up<T, H, I, K, BM, BN, BK, S, WM, WN, slk::kActRelu2>(x, up, sp, te, nt, h);
}
template <typename T, int H, int I, int K, int BM, int BN, int BK, int S, int WM, int WN>
__global__ void __launch_bounds__(32 * WM * WN)
    k_down(const T *h, const T *down, const i32 *sp, const i32 *te, const i32 *nt, T *so) {
  slk::moe_down<T, H, I, K, BM, BN, BK, S, WM, WN>(h, down, sp, te, nt, so);
}
template <typename T, int H, int K, int TH, bool SH, bool RES>
__global__ void __launch_bounds__(TH) k_combine(const T *so, const float *w, const i32 *idx, const T *sh,
                                                const T *res, T *out, i32 n, i32 off, i32 local) {
  slk::moe_combine<T, H, K, TH, SH, RES>(so, w, idx, sh, res, out, n, off, local);
}
template <typename T, int H, int I, int K, int WARPS>
__global__ void __launch_bounds__(32 * WARPS) k_dec_up(const T *x, const T *up, const i32 *idx, T *h, i32 n,
                                                      i32 off, i32 local) {
  slk::moe_decode_up<T, H, I, K, WARPS, slk::kActRelu2>(x, up, idx, h, n, off, local);
}
template <typename T, int H, int I, int K, int WARPS, bool SH, bool RES>
__global__ void __launch_bounds__(32 * WARPS) k_dec_down(const T *h, const T *down, const float *w,
                                                         const i32 *idx, const T *sh, const T *res, T *out,
                                                         i32 n, i32 off, i32 local) {
  slk::moe_decode_down<T, H, I, K, WARPS, SH, RES>(h, down, w, idx, sh, res, out, n, off, local);
}

template <typename Kern, typename... Args>
static void launch(Kern kernel, dim3 grid, dim3 block, size_t smem, Args... args) {
  if (smem > 48 * 1024)
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  kernel<<<grid, block, smem>>>(args...);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaDeviceSynchronize());
}

// check::round_to / to_float are ambiguous with slk::to_f32 (ADL) for slk::bf16: qualify.
template <typename T> static float rt(float v) { return check::to_f32(check::from_f32<T>(v)); }
template <typename T> static std::vector<float> tofl(const std::vector<T> &v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = check::to_f32(v[i]);
  return out;
}
template <typename T> static const char *tname() { return sizeof(T) == 2 ? "bf16" : "f32"; }

// The cases to run, by seed (command-line arguments; none: all). The host reference of the big
// cases takes minutes, so a run inside a short GPU lease picks the cases it needs.
static std::set<uint64_t> g_only;

// One MoE configuration: T, sizes, the grouped-GEMM tiles (BM is also the align granule).
// moe_align's output for the experts [offset, offset + experts): tile t of expert e (ascending)
// holds e's pairs then -1 rows, each of those pairs exactly once, the other pairs nowhere.
static void check_align(const std::string &what, const std::vector<i32> &sp, std::vector<i32> te, int nt,
                        const std::vector<i32> &idx, int pairs, int BM, int offset, int experts) {
  std::vector<int> cnt(experts, 0);
  for (int p = 0; p < pairs; ++p)
    if (idx[p] >= offset && idx[p] < offset + experts)
      ++cnt[idx[p] - offset];
  int want_nt = 0;
  std::vector<int> want_te, seen(pairs, 0);
  bool ok = true;
  for (int e = 0; e < experts; ++e) {
    const int tiles = (cnt[e] + BM - 1) / BM;
    for (int q = 0; q < tiles; ++q)
      want_te.push_back(e);
    for (int r = 0; r < tiles * BM; ++r) {
      const int p = sp[size_t(want_nt) * BM + r];
      if (r < cnt[e]) {
        ok &= p >= 0 && p < pairs && idx[p] == e + offset;
        if (p >= 0 && p < pairs)
          ++seen[p];
      } else {
        ok &= p == -1;
      }
    }
    want_nt += tiles;
  }
  for (int p = 0; p < pairs; ++p)
    ok &= seen[p] == (idx[p] >= offset && idx[p] < offset + experts ? 1 : 0);
  check::expect_equal_ints(what + " num_tiles", {nt}, {want_nt});
  te.resize(std::min<size_t>(te.size(), size_t(want_nt)));
  check::expect_equal_ints(what + " tile_expert", te, want_te);
  check::expect_equal_ints(what + " sorted_pair", {ok ? 1 : 0}, {1});
}

template <typename T, int H, int E, int K, int I, int BM, int BN, int BK, int S, int WM, int WN>
static void test_moe(int n, bool decode, uint64_t seed) {
  if (!g_only.empty() && !g_only.count(seed))
    return;
  const float scale = 2.5f;
  const bool bf = sizeof(T) == 2;
  std::string tag = std::string("<") + tname<T>() + " H" + std::to_string(H) + " E" + std::to_string(E) +
                    " K" + std::to_string(K) + " I" + std::to_string(I) + "> n=" + std::to_string(n);
  auto x = check::random_vector<T>(size_t(n) * H, 1.0f, seed);
  auto gw = check::random_vector<T>(size_t(E) * H, 1.0f / std::sqrt(float(H)), seed + 1);
  auto cb = check::random_vector<float>(E, 0.3f, seed + 2);
  auto up = check::random_vector<T>(size_t(E) * I * H, 1.0f / std::sqrt(float(H)), seed + 3);
  auto down = check::random_vector<T>(size_t(E) * H * I, 1.0f / std::sqrt(float(I)), seed + 4);
  auto sh = check::random_vector<T>(size_t(n) * H, 1.0f, seed + 5);
  auto res = check::random_vector<T>(size_t(n) * H, 1.0f, seed + 6);
  DeviceBuffer<T> dx(x), dgw(gw), dup(up), ddown(down), dsh(sh), dres(res);
  DeviceBuffer<float> dcb(cb);

  // ---- router -------------------------------------------------------------------------
  DeviceBuffer<float> dw(size_t(n) * K);
  DeviceBuffer<i32> didx(size_t(n) * K);
  // Logits in double on the host, for moe_topk (which selects from logits made elsewhere).
  std::vector<float> logits(size_t(n) * E);
  for (int t = 0; t < n; ++t)
    for (int e = 0; e < E; ++e) {
      double acc = 0;
      for (int k = 0; k < H; ++k)
        acc += double(check::to_f32(x[size_t(t) * H + k])) * check::to_f32(gw[size_t(e) * H + k]);
      logits[size_t(t) * E + e] = float(acc);
    }
  DeviceBuffer<float> dlogits(logits);
  // Variants: the fused router with 8 warps (prefill size) and 32 warps (decode), and moe_topk.
  for (int variant = 0; variant < 3; ++variant)
  for (int norm = 0; norm < 2; ++norm) {
    if (variant == 0)
      launch(k_router<T, H, E, K, 256>, dim3(n), dim3(256), 0, (const T *)dx.ptr,
             (const T *)dgw.ptr, (const float *)dcb.ptr, dw.ptr, didx.ptr, n, scale, norm);
    else if (variant == 1)
      launch(k_router<T, H, E, K, 1024>, dim3(n), dim3(1024), 0, (const T *)dx.ptr,
             (const T *)dgw.ptr, (const float *)dcb.ptr, dw.ptr, didx.ptr, n, scale, norm);
    else
      launch(k_topk<E, K, 256>, dim3((n + 7) / 8), dim3(256), 0, (const float *)dlogits.ptr,
             (const float *)dcb.ptr, dw.ptr, didx.ptr, n, scale, norm);
    auto got_idx = didx.download();
    std::vector<int> want_idx(size_t(n) * K);
    std::vector<float> want_w(size_t(n) * K);
    int near_ties = 0;
    for (int t = 0; t < n; ++t) {
      std::vector<double> s(E), c(E);
      for (int e = 0; e < E; ++e) {
        double acc = 0;
        for (int k = 0; k < H; ++k)
          acc += double(check::to_f32(x[size_t(t) * H + k])) * check::to_f32(gw[size_t(e) * H + k]);
        s[e] = 1.0 / (1.0 + std::exp(-acc));
        c[e] = s[e] + cb[e];
      }
      std::vector<int> order(E);
      for (int e = 0; e < E; ++e)
        order[e] = e;
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return c[a] > c[b]; });
      bool tie = false;
      for (int j = 0; j < K && j + 1 < E; ++j)
        tie |= c[order[j]] - c[order[j + 1]] < 1e-5;
      double sum = 0;
      for (int j = 0; j < K; ++j)
        sum += s[order[j]];
      for (int j = 0; j < K; ++j) {
        want_idx[size_t(t) * K + j] = order[j];
        want_w[size_t(t) * K + j] = float((norm ? s[order[j]] / (sum + 1e-20) : s[order[j]]) * scale);
      }
      if (tie) {  // accept the device's choice for a near tie (weights follow its indices)
        ++near_ties;
        for (int j = 0; j < K; ++j) {
          const int e = got_idx[size_t(t) * K + j];
          want_idx[size_t(t) * K + j] = e;
          want_w[size_t(t) * K + j] = float((norm ? s[e] / (sum + 1e-20) : s[e]) * scale);
        }
      }
    }
    std::string rn = std::string(variant == 0 ? "moe_router t256" : variant == 1 ? "moe_router t1024" : "moe_topk") +
                     tag + " norm=" + std::to_string(norm);
    if (near_ties)
      std::printf("note %s: %d near-tie tokens accepted as computed\n", rn.c_str(), near_ties);
    check::expect_equal_ints(rn + " indices", got_idx, want_idx);
    check::compare(rn + " weights", dw.download(), want_w, 1e-6f, 1e-5f);
  }
  // The expert stage uses the device router's (norm=1) output as its input.
  const auto idx = didx.download();
  const auto wts = dw.download();

  // ---- host reference of the experts and the layer ------------------------------------
  std::vector<float> upf = tofl(up), downf = tofl(down);
  std::vector<float> want_slot(size_t(n) * K * H), want_out(size_t(n) * H), want_routed(size_t(n) * H);
  for (int t = 0; t < n; ++t) {
    std::vector<int> ord(K);
    for (int j = 0; j < K; ++j)
      ord[j] = j;
    std::stable_sort(ord.begin(), ord.end(),
                     [&](int a, int b) { return idx[size_t(t) * K + a] < idx[size_t(t) * K + b]; });
    std::vector<double> xr(H);
    for (int k = 0; k < H; ++k)
      xr[k] = check::to_f32(x[size_t(t) * H + k]);
    std::vector<float> routed(H, 0.0f);
    for (int jj = 0; jj < K; ++jj) {
      const int j = ord[jj], e = idx[size_t(t) * K + j];
      std::vector<double> hv(I);
      for (int i = 0; i < I; ++i) {
        const float *wr = upf.data() + (size_t(e) * I + i) * H;
        double acc = 0;
        for (int k = 0; k < H; ++k)
          acc += xr[k] * wr[k];
        const float u = rt<T>(float(acc));
        hv[i] = rt<T>(u > 0 ? u * u : 0.0f);
      }
      for (int c = 0; c < H; ++c) {
        const float *wr = downf.data() + (size_t(e) * H + c) * I;
        double acc = 0;
        for (int i = 0; i < I; ++i)
          acc += hv[i] * wr[i];
        const float y = rt<T>(float(acc));
        want_slot[(size_t(t) * K + j) * H + c] = y;
        routed[c] = routed[c] + wts[size_t(t) * K + j] * y;
      }
    }
    for (int c = 0; c < H; ++c) {
      float v = rt<T>(routed[c]);
      want_routed[size_t(t) * H + c] = v;
      v = rt<T>(v + check::to_f32(sh[size_t(t) * H + c]));
      want_out[size_t(t) * H + c] = rt<T>(v + check::to_f32(res[size_t(t) * H + c]));
    }
  }
  const float atol = bf ? 3e-2f : 1e-4f, rtol = bf ? 2e-2f : 1e-4f;
  // Expert parallelism: a rank holding experts [OFF, E) (its slices of up and down start at
  // expert OFF) skips the other pairs; its routed sum is that of its own slots, in ascending
  // expert order.
  constexpr int EL = E / 2, OFF = E - EL;
  std::vector<float> want_local(size_t(n) * H);
  for (int t = 0; t < n; ++t) {
    std::vector<int> ord(K);
    for (int j = 0; j < K; ++j)
      ord[j] = j;
    std::stable_sort(ord.begin(), ord.end(),
                     [&](int a, int b) { return idx[size_t(t) * K + a] < idx[size_t(t) * K + b]; });
    for (int c = 0; c < H; ++c) {
      float routed = 0.0f;
      for (int j : ord)
        if (idx[size_t(t) * K + j] >= OFF)
          routed = routed + wts[size_t(t) * K + j] * want_slot[(size_t(t) * K + j) * H + c];
      want_local[size_t(t) * H + c] = rt<T>(routed);
    }
  }
  const T *up_local = dup.ptr + size_t(OFF) * I * H, *down_local = ddown.ptr + size_t(OFF) * H * I;

  if (!decode) {
    // ---- prefill: align -> up -> down -> combine ---------------------------------------
    const int pairs = n * K;
    const int max_tiles = (pairs + BM - 1) / BM + E;
    DeviceBuffer<i32> dsp(size_t(max_tiles) * BM), dte(max_tiles), dnt(1);
    launch(k_align<E, K, BM, 1024>, dim3(1), dim3(1024), 0, (const i32 *)didx.ptr, n, dsp.ptr, dte.ptr, dnt.ptr,
           0);
    auto sp = dsp.download();
    auto te = dte.download();
    const int nt = dnt.download()[0];
    check_align("moe_align" + tag, sp, te, nt, idx, pairs, BM, 0, E);
    DeviceBuffer<T> dh(size_t(max_tiles) * BM * I), dso(size_t(pairs) * H), dout(size_t(n) * H);
    const size_t smem = size_t(S) * (BM + BN) * (BK + 8) * sizeof(T);
    launch(k_up<T, H, I, K, BM, BN, BK, S, WM, WN>, dim3((I + BN - 1) / BN, max_tiles), dim3(32 * WM * WN), smem,
           (const T *)dx.ptr, (const T *)dup.ptr, (const i32 *)dsp.ptr, (const i32 *)dte.ptr,
           (const i32 *)dnt.ptr, dh.ptr);
    launch(k_down<T, H, I, K, BM, BN, BK, S, WM, WN>, dim3((H + BN - 1) / BN, max_tiles), dim3(32 * WM * WN),
           smem, (const T *)dh.ptr, (const T *)ddown.ptr, (const i32 *)dsp.ptr, (const i32 *)dte.ptr,
           (const i32 *)dnt.ptr, dso.ptr);
    check::compare("moe_up+moe_down" + tag + " slot_out", tofl(dso.download()), want_slot, atol, rtol);
    launch(k_combine<T, H, K, 256, true, true>, dim3(n), dim3(256), 0, (const T *)dso.ptr, (const float *)dw.ptr,
           (const i32 *)didx.ptr, (const T *)dsh.ptr, (const T *)dres.ptr, dout.ptr, n, 0, E);
    check::compare("moe_combine" + tag + " out (shared+residual)", tofl(dout.download()), want_out, atol, rtol);
    launch(k_combine<T, H, K, 64, false, false>, dim3(n), dim3(64), 0, (const T *)dso.ptr, (const float *)dw.ptr,
           (const i32 *)didx.ptr, (const T *)nullptr, (const T *)nullptr, dout.ptr, n, 0, E);
    check::compare("moe_combine" + tag + " out (routed only)", tofl(dout.download()), want_routed, atol, rtol);
    // The rank of experts [OFF, E): align keeps only its pairs, by local expert.
    DeviceBuffer<i32> lsp(size_t(max_tiles) * BM), lte(max_tiles), lnt(1);
    launch(k_align<EL, K, BM, 1024>, dim3(1), dim3(1024), 0, (const i32 *)didx.ptr, n, lsp.ptr, lte.ptr,
           lnt.ptr, OFF);
    check_align("moe_align offset" + tag, lsp.download(), lte.download(), lnt.download()[0], idx, pairs, BM,
                OFF, EL);
    DeviceBuffer<T> lso(size_t(pairs) * H);
    launch(k_up<T, H, I, K, BM, BN, BK, S, WM, WN>, dim3((I + BN - 1) / BN, max_tiles), dim3(32 * WM * WN), smem,
           (const T *)dx.ptr, up_local, (const i32 *)lsp.ptr, (const i32 *)lte.ptr, (const i32 *)lnt.ptr,
           dh.ptr);
    launch(k_down<T, H, I, K, BM, BN, BK, S, WM, WN>, dim3((H + BN - 1) / BN, max_tiles), dim3(32 * WM * WN),
           smem, (const T *)dh.ptr, down_local, (const i32 *)lsp.ptr, (const i32 *)lte.ptr,
           (const i32 *)lnt.ptr, lso.ptr);
    launch(k_combine<T, H, K, 64, false, false>, dim3(n), dim3(64), 0, (const T *)lso.ptr, (const float *)dw.ptr,
           (const i32 *)didx.ptr, (const T *)nullptr, (const T *)nullptr, dout.ptr, n, OFF, EL);
    check::compare("moe prefill experts [E/2, E)" + tag + " out", tofl(dout.download()), want_local, atol,
                   rtol);
  } else {
    // ---- decode: decode_up -> decode_down ---------------------------------------------
    constexpr int WARPS = 8;
    DeviceBuffer<T> dh(size_t(n) * K * I), dout(size_t(n) * H);
    launch(k_dec_up<T, H, I, K, WARPS>, dim3((I + WARPS - 1) / WARPS, n * K), dim3(32 * WARPS), 0,
           (const T *)dx.ptr, (const T *)dup.ptr, (const i32 *)didx.ptr, dh.ptr, n, 0, E);
    launch(k_dec_down<T, H, I, K, WARPS, true, true>, dim3((H + WARPS - 1) / WARPS, n), dim3(32 * WARPS), 0,
           (const T *)dh.ptr, (const T *)ddown.ptr, (const float *)dw.ptr, (const i32 *)didx.ptr,
           (const T *)dsh.ptr, (const T *)dres.ptr, dout.ptr, n, 0, E);
    check::compare("moe_decode" + tag + " out (shared+residual)", tofl(dout.download()), want_out, atol, rtol);
    launch(k_dec_down<T, H, I, K, 4, false, false>, dim3((H + 3) / 4, n), dim3(128), 0, (const T *)dh.ptr,
           (const T *)ddown.ptr, (const float *)dw.ptr, (const i32 *)didx.ptr, (const T *)nullptr,
           (const T *)nullptr, dout.ptr, n, 0, E);
    check::compare("moe_decode" + tag + " out (routed only)", tofl(dout.download()), want_routed, atol, rtol);
    launch(k_dec_up<T, H, I, K, WARPS>, dim3((I + WARPS - 1) / WARPS, n * K), dim3(32 * WARPS), 0,
           (const T *)dx.ptr, up_local, (const i32 *)didx.ptr, dh.ptr, n, OFF, EL);
    launch(k_dec_down<T, H, I, K, WARPS, false, false>, dim3((H + WARPS - 1) / WARPS, n), dim3(32 * WARPS), 0,
           (const T *)dh.ptr, down_local, (const float *)dw.ptr, (const i32 *)didx.ptr, (const T *)nullptr,
           (const T *)nullptr, dout.ptr, n, OFF, EL);
    check::compare("moe_decode experts [E/2, E)" + tag + " out", tofl(dout.download()), want_local, atol, rtol);
  }
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i)
    g_only.insert(std::strtoull(argv[i], nullptr, 10));
  // Real Nemotron-H layer (hidden 2688, 128 experts, top-6, I 1856) in bf16 with the prefill
  // tiles; decode with 1 and 4 tokens.
  test_moe<bf16, 2688, 128, 6, 1856, 128, 128, 32, 4, 2, 4>(48, false, 100);
  test_moe<bf16, 2688, 128, 6, 1856, 128, 128, 32, 4, 2, 4>(1, true, 101);
  test_moe<bf16, 2688, 128, 6, 1856, 128, 128, 32, 4, 2, 4>(4, true, 102);
  // Few experts, many tokens: several tiles per expert, row / column tails (I 200 % 64 != 0).
  test_moe<bf16, 256, 8, 2, 200, 64, 64, 32, 3, 2, 2>(700, false, 110);
  test_moe<bf16, 256, 8, 2, 200, 64, 64, 32, 3, 2, 2>(3, true, 111);
  // The tiles that run the Hopper main loop on sm_90a (moe::UsesWgmma: BK 64, BM/16 warps): the
  // real layer with 128x128 and 128x256 tiles (~12 and ~14 rows per expert: partial tiles),
  // and few experts with k tails (I 200 and hidden 72: not multiples of 64).
  test_moe<bf16, 2688, 128, 6, 1856, 128, 128, 64, 4, 2, 4>(256, false, 130);
  test_moe<bf16, 2688, 128, 6, 1856, 128, 256, 64, 3, 2, 4>(300, false, 131);
  test_moe<bf16, 256, 8, 2, 200, 128, 128, 64, 3, 2, 4>(700, false, 132);
  test_moe<bf16, 72, 8, 2, 200, 64, 128, 64, 4, 1, 4>(90, false, 133);
  // Tiny float (FMA path), odd sizes: hidden 72, 40 experts, top-3, I 44.
  test_moe<float, 72, 40, 3, 44, 32, 32, 16, 2, 2, 4>(37, false, 120);
  test_moe<float, 72, 40, 3, 44, 32, 32, 16, 2, 2, 4>(2, true, 121);
  test_moe<float, 64, 8, 2, 40, 32, 32, 16, 2, 2, 4>(1, false, 122);
  return check::finish("moe_check");
}
