// GPU check of the dense attention kernels (sl_attention.cuh) against naive softmax attention on
// the host. Every template is launched exactly as docs/kernels-attention.md documents it.
// Build: nvcc -std=c++17 -O2 -arch=sm_90a -I runtime/kernels -I tests/gpu \
//        tests/gpu/attention_check.cu
//
// Tolerances (|a - e| <= atol + rtol |e|):
//   kv cache: exact (a copy);
//   attention output: float 2e-5 / 1e-4 (fp32 FMA, exp2f); bf16 1.5e-2 / 2e-2 (P is rounded to
//   bf16 before the P.V mma, and the output is rounded to bf16).
#include <algorithm>
#include <cmath>
#include <vector>

#include "check_util.h"
#include "sl_attention.cuh"

using check::DeviceBuffer;
using slk::bf16;
using slk::i32;

template <typename T, int KVH, int D>
__global__ void __launch_bounds__(128)
    w_kv_append(const T *k, i32 ldk, const T *v, i32 ldv, T *kc, T *vc, i32 capacity, i32 start,
                i32 n) {
  slk::kv_append<T, KVH, D, 128>(k, ldk, v, ldv, kc, vc, capacity, start, n);
}
template <typename T, int H, int KVH, int D, int BM, int BN>
__global__ void __launch_bounds__(32 * (BM / 16))
    w_prefill(const T *q, i32 ldq, const T *kc, const T *vc, i32 capacity, T *out, i32 ldo, i32 n,
              i32 cache_len) {
  slk::attention_prefill<T, H, KVH, D, BM, BN>(q, ldq, kc, vc, capacity, out, ldo, n, cache_len);
}
template <typename T, int H, int KVH, int D, int SPLITS, int BN, int WARPS>
__global__ void __launch_bounds__(32 * WARPS)
    w_decode_partial(const T *q, i32 ldq, const T *kc, const T *vc, i32 capacity, float *part_o,
                     float *part_lse, i32 n, i32 cache_len) {
  slk::attention_decode_partial<T, H, KVH, D, SPLITS, BN, WARPS>(q, ldq, kc, vc, capacity, part_o,
                                                                 part_lse, n, cache_len);
}
template <typename T, int H, int D, int SPLITS>
__global__ void __launch_bounds__(D)
    w_decode_combine(const float *part_o, const float *part_lse, T *out, i32 ldo, i32 n) {
  slk::attention_decode_combine<T, H, D, SPLITS>(part_o, part_lse, out, ldo, n);
}

// check::to_float calls to_f32 unqualified, ambiguous for slk::bf16 (ADL finds slk::to_f32).
template <typename T> static std::vector<float> to_float(const std::vector<T> &v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = check::to_f32(v[i]);
  return out;
}

template <typename T, int H, int KVH, int D, int BM, int BN, int SPLITS, int DBN, int DWARPS>
struct AttnCase {
  static constexpr bool BF = sizeof(T) == 2;
  static constexpr int GROUP = H / KVH;
  static constexpr int LDQ = H * D + 8 * 3;    // q rows inside a wider tensor
  static constexpr int LDK = KVH * D + 8 * 5;
  static constexpr int LDO = H * D + 8;
  std::string name;
  int capacity;
  std::vector<float> kc, vc;  // host mirror of the cache [KVH][capacity][D]
  DeviceBuffer<T> d_kc, d_vc;
  int len = 0;

  AttnCase(const std::string &nm, int cap)
      : name(nm), capacity(cap), kc(size_t(KVH) * cap * D, 0.0f), vc(size_t(KVH) * cap * D, 0.0f),
        d_kc(size_t(KVH) * cap * D), d_vc(size_t(KVH) * cap * D) {
    // Fill the unused cache with NaN-free garbage the kernels must not read as keys.
    std::vector<T> junk = check::random_vector<T>(size_t(KVH) * cap * D, 100.0f, 999);
    CUDA_CHECK(cudaMemcpy(d_kc.ptr, junk.data(), junk.size() * sizeof(T), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d_vc.ptr, junk.data(), junk.size() * sizeof(T), cudaMemcpyHostToDevice));
  }

  std::vector<float> reference(const std::vector<float> &q, int n) const {
    std::vector<float> out(size_t(n) * H * D, 0.0f);
    const double scale = 1.0 / std::sqrt(double(D));
    for (int j = 0; j < n; ++j) {
      const int pos = len - n + j;
      for (int h = 0; h < H; ++h) {
        const int kvh = h / GROUP;
        std::vector<double> s(pos + 1);
        double mx = -1e300;
        for (int key = 0; key <= pos; ++key) {
          double acc = 0.0;
          for (int d = 0; d < D; ++d)
            acc += double(q[size_t(j) * LDQ + h * D + d]) * kc[(size_t(kvh) * capacity + key) * D + d];
          s[key] = acc * scale;
          mx = std::fmax(mx, s[key]);
        }
        double sum = 0.0;
        for (int key = 0; key <= pos; ++key)
          sum += (s[key] = std::exp(s[key] - mx));
        for (int d = 0; d < D; ++d) {
          double acc = 0.0;
          for (int key = 0; key <= pos; ++key)
            acc += s[key] * vc[(size_t(kvh) * capacity + key) * D + d];
          out[size_t(j) * H * D + h * D + d] = float(acc / sum);
        }
      }
    }
    return out;
  }

  // Appends n tokens and runs attention for them (prefill or split-K decode).
  void step(int n, bool prefill, uint64_t seed) {
    auto q_t = check::random_vector<T>(size_t(n) * LDQ, 1.0f, seed);
    auto k_t = check::random_vector<T>(size_t(n) * LDK, 1.0f, seed + 1);
    auto v_t = check::random_vector<T>(size_t(n) * LDK, 1.0f, seed + 2);
    auto q = to_float(q_t), k = to_float(k_t), v = to_float(v_t);
    DeviceBuffer<T> d_q(q_t), d_k(k_t), d_v(v_t), d_out(size_t(n) * LDO);
    const int start = len;
    for (int t = 0; t < n; ++t)
      for (int e = 0; e < KVH * D; ++e) {
        const size_t dst = (size_t(e / D) * capacity + start + t) * D + e % D;
        kc[dst] = k[size_t(t) * LDK + e];
        vc[dst] = v[size_t(t) * LDK + e];
      }
    len += n;
    // kv_append: grid (n), block 128.
    w_kv_append<T, KVH, D><<<n, 128>>>(d_k.ptr, LDK, d_v.ptr, LDK, d_kc.ptr, d_vc.ptr, capacity,
                                       start, n);
    CUDA_CHECK(cudaGetLastError());
    std::string tag = name + (prefill ? " prefill" : " decode") + " n=" + std::to_string(n) +
                      " cache_len=" + std::to_string(len);
    if (prefill) {
      constexpr int smem = slk::attention_prefill_smem<T, D, BM, BN>();
      auto kern = w_prefill<T, H, KVH, D, BM, BN>;
      CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      dim3 grid((unsigned)slk::ceil_div(n, BM), H);
      kern<<<grid, 32 * (BM / 16), smem>>>(d_q.ptr, LDQ, d_kc.ptr, d_vc.ptr, capacity, d_out.ptr,
                                           LDO, n, len);
    } else {
      constexpr int smem = slk::attention_decode_smem<T, D, DBN, DWARPS>();
      auto kern = w_decode_partial<T, H, KVH, D, SPLITS, DBN, DWARPS>;
      CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
      DeviceBuffer<float> part_o(size_t(SPLITS) * n * H * D), part_lse(size_t(SPLITS) * n * H);
      dim3 grid(SPLITS, KVH, (unsigned)slk::ceil_div(GROUP * n, 16));
      kern<<<grid, 32 * DWARPS, smem>>>(d_q.ptr, LDQ, d_kc.ptr, d_vc.ptr, capacity, part_o.ptr,
                                        part_lse.ptr, n, len);
      CUDA_CHECK(cudaGetLastError());
      w_decode_combine<T, H, D, SPLITS><<<dim3(n, H), D>>>(part_o.ptr, part_lse.ptr, d_out.ptr,
                                                            LDO, n);
      CUDA_CHECK(cudaDeviceSynchronize());
    }
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaDeviceSynchronize());
    auto out_all = to_float(d_out.download());
    std::vector<float> out(size_t(n) * H * D);
    for (int j = 0; j < n; ++j)
      for (int e = 0; e < H * D; ++e)
        out[size_t(j) * H * D + e] = out_all[size_t(j) * LDO + e];
    auto ref = reference(q, n);
    check::compare(tag, out, ref, BF ? 1.5e-2f : 2e-5f, BF ? 2e-2f : 1e-4f);
  }

  void check_cache() {
    auto k = to_float(d_kc.download()), v = to_float(d_vc.download());
    std::vector<float> ka, kb, va, vb;
    for (int h = 0; h < KVH; ++h)
      for (int p = 0; p < len; ++p)
        for (int d = 0; d < D; ++d) {
          const size_t i = (size_t(h) * capacity + p) * D + d;
          ka.push_back(k[i]);
          kb.push_back(kc[i]);
          va.push_back(v[i]);
          vb.push_back(vc[i]);
        }
    check::compare(name + " k cache", ka, kb, 0.0f, 0.0f);
    check::compare(name + " v cache", va, vb, 0.0f, 0.0f);
  }
};

template <typename T, int H, int KVH, int D, int BM, int BN, int SPLITS, int DBN, int DWARPS>
void run_case(const std::string &name, bool long_cache) {
  AttnCase<T, H, KVH, D, BM, BN, SPLITS, DBN, DWARPS> c(name, long_cache ? 2048 : 512);
  c.step(77, true, 10);   // first prefill, n not a multiple of the tiles
  c.step(50, true, 20);   // second prefill call: queries at positions 77..126
  c.step(1, false, 30);   // decode n = 1
  c.step(3, false, 40);   // decode n = 3
  c.step(1, true, 50);    // prefill path with n = 1
  c.step(long_cache ? 1500 : 200, true, 60);  // longer prefill over many tiles
  c.step(1, false, 70);   // decode over a cache longer than SPLITS*WARPS tiles
  c.step(2, false, 80);
  c.check_cache();
}

// Optional timing (--bench): median of 7 runs after warm-up, random cache contents.
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

template <int BM, int BN> static void bench_prefill(int n) {
  constexpr int H = 32, KVH = 2, D = 128;
  DeviceBuffer<bf16> q(check::random_vector<bf16>(size_t(n) * H * D, 1.0f, 1));
  DeviceBuffer<bf16> kc(check::random_vector<bf16>(size_t(KVH) * n * D, 1.0f, 2));
  DeviceBuffer<bf16> vc(check::random_vector<bf16>(size_t(KVH) * n * D, 1.0f, 3));
  DeviceBuffer<bf16> out(size_t(n) * H * D);
  constexpr int smem = slk::attention_prefill_smem<bf16, D, BM, BN>();
  auto kern = w_prefill<bf16, H, KVH, D, BM, BN>;
  CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  float ms = time_ms([&] {
    kern<<<dim3((unsigned)slk::ceil_div(n, BM), H), 32 * (BM / 16), smem>>>(
        q.ptr, H * D, kc.ptr, vc.ptr, n, out.ptr, H * D, n, n);
  });
  double flops = 4.0 * H * D * double(n) * n / 2;
  std::printf("BENCH attention_prefill bf16 h32 kv2 d128 BM%d BN%d n=%d: %.3f ms, %.1f TFLOP/s\n",
              BM, BN, n, ms, flops / ms / 1e9);
}

template <int SPLITS, int BN, int WARPS> static void bench_decode(int cache_len) {
  constexpr int H = 32, KVH = 2, D = 128, n = 1;
  DeviceBuffer<bf16> q(check::random_vector<bf16>(size_t(n) * H * D, 1.0f, 1));
  DeviceBuffer<bf16> kc(size_t(KVH) * cache_len * D), vc(size_t(KVH) * cache_len * D);
  DeviceBuffer<bf16> out(size_t(n) * H * D);
  DeviceBuffer<float> po(size_t(SPLITS) * n * H * D), pl(size_t(SPLITS) * n * H);
  constexpr int smem = slk::attention_decode_smem<bf16, D, BN, WARPS>();
  auto kern = w_decode_partial<bf16, H, KVH, D, SPLITS, BN, WARPS>;
  CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  float ms = time_ms([&] {
    kern<<<dim3(SPLITS, KVH, 1), 32 * WARPS, smem>>>(q.ptr, H * D, kc.ptr, vc.ptr, cache_len,
                                                     po.ptr, pl.ptr, n, cache_len);
    w_decode_combine<bf16, H, D, SPLITS><<<dim3(n, H), D>>>(po.ptr, pl.ptr, out.ptr, H * D, n);
  });
  double bytes = 2.0 * KVH * double(cache_len) * D * 2;
  std::printf("BENCH attention_decode bf16 h32 kv2 d128 SPLITS%d BN%d W%d cache=%d: %.4f ms, "
              "%.0f GB/s\n",
              SPLITS, BN, WARPS, cache_len, ms, bytes / ms / 1e6);
}

int main(int argc, char **argv) {
  if (argc > 1 && std::string(argv[1]) == "--bench") {
    bench_prefill<64, 64>(4096);
    bench_prefill<128, 64>(4096);
    bench_prefill<64, 64>(16384);
    bench_prefill<128, 64>(16384);
    for (int len : {65536, 1 << 20}) {
      bench_decode<64, 32, 4>(len);
      bench_decode<128, 32, 4>(len);
      bench_decode<128, 64, 2>(len);
      bench_decode<256, 32, 2>(len);
    }
    return 0;
  }
  // Real shapes: 32 heads, 2 kv heads, d 128.
  run_case<bf16, 32, 2, 128, 64, 64, 16, 32, 4>("bf16 h32 kv2 d128", true);
  run_case<bf16, 32, 2, 128, 128, 64, 8, 64, 2>("bf16 h32 kv2 d128 bm128", false);
  run_case<float, 32, 2, 128, 64, 32, 8, 32, 2>("f32 h32 kv2 d128", false);
  // d 64 and tiny.
  run_case<bf16, 8, 2, 64, 64, 64, 4, 32, 4>("bf16 h8 kv2 d64", false);
  run_case<bf16, 4, 2, 16, 32, 32, 4, 16, 2>("bf16 h4 kv2 d16", false);
  run_case<float, 4, 2, 16, 32, 32, 4, 32, 2>("f32 h4 kv2 d16", false);
  run_case<float, 8, 2, 64, 16, 64, 3, 64, 1>("f32 h8 kv2 d64", false);
  // The family's other head sizes and groups, with the tiles sl-select-tiles picks for them:
  // 40 heads on 8 kv heads (Nemotron-Nano-9B/12B-v2, 3-Nano-4B), head_dim 80 / 96 (the golden
  // models) and 256 (decode with 16-key tiles, f32 with 2 warps, to fit shared memory).
  run_case<bf16, 40, 8, 128, 64, 64, 64, 32, 4>("bf16 h40 kv8 d128", false);
  run_case<bf16, 6, 3, 80, 64, 64, 16, 32, 4>("bf16 h6 kv3 d80", false);
  run_case<float, 4, 2, 80, 64, 64, 16, 32, 4>("f32 h4 kv2 d80", false);
  run_case<bf16, 6, 3, 96, 64, 64, 16, 32, 4>("bf16 h6 kv3 d96", false);
  run_case<bf16, 8, 1, 256, 64, 64, 16, 16, 4>("bf16 h8 kv1 d256", false);
  run_case<float, 4, 1, 256, 64, 64, 16, 32, 2>("f32 h4 kv1 d256", false);
  return check::finish("attention_check");
}
