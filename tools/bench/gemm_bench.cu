// The prefill GEMM benchmark: the kernel library's gemm (mma.sync, the heuristic tiles of
// other targets) and gemm_wgmma (Hopper, the sm_90a heuristic tiles) on the dense projection
// shapes of Nemotron-3-Nano-30B-A3B (an 8192-token chunk; lm_head at 8192 rows too), next to
// cuBLAS (cublasGemmEx, bf16 in and out, fp32 accumulation) on the same shapes in the same run.
// One JSON line per (kernel, shape): bench, kernel, m, n, k, ms (median of 7 timings of 10
// launches each), tflops, gpu.
//   nvcc -std=c++17 -O2 -gencode=arch=compute_90a,code=sm_90a -I runtime/kernels \
//     tools/bench/gemm_bench.cu -lcublas -o gemm_bench && ./gemm_bench
#include "sl_gemm.cuh"

#include <cublas_v2.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using slk::bf16;
using slk::i32;

#define CHECK(call)                                                                        \
  do {                                                                                     \
    cudaError_t e = (call);                                                                \
    if (e != cudaSuccess) {                                                                \
      std::fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, cudaGetErrorString(e));      \
      std::exit(1);                                                                        \
    }                                                                                      \
  } while (0)

template <int BM, int BN, int BK, int S, int WM, int WN>
__global__ void __launch_bounds__(32 * WM * WN)
    k_gemm(const bf16 *a, i32 lda, const bf16 *w, bf16 *c, i32 ldc, i32 m, i32 n, i32 k) {
  slk::gemm<bf16, bf16, BM, BN, BK, S, WM, WN, slk::kActNone, false, false>(a, lda, w, nullptr, nullptr, c,
                                                                           ldc, m, n, k);
}
template <int BM, int BN, int S>
__global__ void __launch_bounds__(2 * BM)
    k_wgmma(const bf16 *a, i32 lda, const bf16 *w, bf16 *c, i32 ldc, i32 m, i32 n, i32 k) {
  slk::gemm_wgmma<bf16, bf16, BM, BN, S, slk::kActNone, false, false>(a, lda, w, nullptr, nullptr, c, ldc,
                                                                     m, n, k);
}

template <class Launch> static double median_ms(Launch &&launch) {
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < 3; ++i)
    launch();
  CHECK(cudaDeviceSynchronize());
  std::vector<float> times;
  for (int rep = 0; rep < 7; ++rep) {
    CHECK(cudaEventRecord(start));
    for (int i = 0; i < 10; ++i)
      launch();
    CHECK(cudaEventRecord(stop));
    CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, start, stop));
    times.push_back(ms / 10);
  }
  CHECK(cudaGetLastError());
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

template <class K> static void allow_smem(K kernel, int bytes) {
  CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
}

int main() {
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  struct Shape {
    const char *name;
    int n, k;
  };
  const int m = 8192;
  const std::vector<Shape> shapes = {{"mamba.in_proj", 10304, 2688}, {"mamba.out_proj", 2688, 4096},
                                     {"attn.q_proj", 4096, 2688},    {"attn.kv_proj", 256, 2688},
                                     {"shared_expert.up", 3712, 2688}, {"shared_expert.down", 2688, 3712},
                                     {"lm_head", 131072, 2688}};
  size_t max_w = 0, max_a = 0, max_c = 0;
  for (const Shape &s : shapes) {
    max_w = std::max(max_w, size_t(s.n) * s.k);
    max_a = std::max(max_a, size_t(m) * s.k);
    max_c = std::max(max_c, size_t(m) * s.n);
  }
  bf16 *a, *w, *c;
  CHECK(cudaMalloc(&a, max_a * 2));
  CHECK(cudaMalloc(&w, max_w * 2));
  CHECK(cudaMalloc(&c, max_c * 2));
  // Small random-ish values (bit patterns of bf16 in [-1, 1)): the speed does not depend on them.
  std::vector<unsigned short> host(std::max(max_a, max_w));
  unsigned state = 12345;
  for (auto &v : host) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<unsigned short>(0x3c00 | ((state >> 16) & 0x3ff) | ((state >> 31) << 15));
  }
  CHECK(cudaMemcpy(a, host.data(), max_a * 2, cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(w, host.data(), max_w * 2, cudaMemcpyHostToDevice));

  allow_smem(k_gemm<128, 128, 32, 3, 2, 4>, slk::gemm_smem<bf16, 128, 128, 32, 3>());
  allow_smem(k_wgmma<128, 256, 4>, slk::gemm_wgmma_smem<128, 256, 4>());
  allow_smem(k_wgmma<128, 128, 6>, slk::gemm_wgmma_smem<128, 128, 6>());
  cublasHandle_t handle;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "cublasCreate failed\n");
    return 1;
  }
  auto report = [&](const char *kernel, const Shape &s, double ms) {
    const double tflops = 2.0 * m * s.n * s.k / (ms * 1e-3) / 1e12;
    std::printf("{\"bench\": \"gemm\", \"shape\": \"%s\", \"kernel\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, "
                "\"ms\": %.4f, \"tflops\": %.1f, \"gpu\": \"%s\"}\n",
                s.name, kernel, m, s.n, s.k, ms, tflops, prop.name);
    std::fflush(stdout);
  };
  for (const Shape &s : shapes) {
    report("gemm<128,128,32,3,2,4>", s, median_ms([&] {
             k_gemm<128, 128, 32, 3, 2, 4><<<dim3((s.n + 127) / 128, m / 128), 256,
                                             slk::gemm_smem<bf16, 128, 128, 32, 3>()>>>(a, s.k, w, c, s.n, m,
                                                                                        s.n, s.k);
           }));
    if (s.n >= 256)
      report("gemm_wgmma<128,256,4>", s, median_ms([&] {
               k_wgmma<128, 256, 4><<<dim3((s.n + 255) / 256, m / 128), 256,
                                      slk::gemm_wgmma_smem<128, 256, 4>()>>>(a, s.k, w, c, s.n, m, s.n, s.k);
             }));
    report("gemm_wgmma<128,128,6>", s, median_ms([&] {
             k_wgmma<128, 128, 6><<<dim3((s.n + 127) / 128, m / 128), 256, slk::gemm_wgmma_smem<128, 128, 6>()>>>(
                 a, s.k, w, c, s.n, m, s.n, s.k);
           }));
    const float alpha = 1.0f, beta = 0.0f;
    report("cublas", s, median_ms([&] {
             cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, s.n, m, s.k, &alpha, w, CUDA_R_16BF, s.k, a,
                          CUDA_R_16BF, s.k, &beta, c, CUDA_R_16BF, s.n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
           }));
  }
  cublasDestroy(handle);
  return 0;
}
