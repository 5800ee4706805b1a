// Shared helpers of the GPU kernel checks (tests/gpu/*_check.cu, built with nvcc by
// tools/gpu_check.sh and run on a GPU machine): host bf16 conversion, random inputs, device
// buffers, and a comparison that prints one PASS/FAIL line per check.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sl_common.cuh"

namespace check {

#define CUDA_CHECK(call)                                                                      \
  do {                                                                                        \
    cudaError_t err_ = (call);                                                                \
    if (err_ != cudaSuccess) {                                                                \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call,               \
                   cudaGetErrorName(err_));                                                   \
      std::exit(2);                                                                           \
    }                                                                                         \
  } while (0)

// Round-to-nearest-even fp32 -> bf16, the same rounding as the device's cvt.rn.bf16.f32.
inline slk::bf16 to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x7fffffu)) {
    slk::bf16 nan;
    nan.bits = 0x7fc0;
    return nan;
  }
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  slk::bf16 out;
  out.bits = static_cast<unsigned short>((bits + rounding) >> 16);
  return out;
}
inline float to_f32(slk::bf16 v) {
  uint32_t bits = uint32_t(v.bits) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline float to_f32(float v) { return v; }
template <typename T> T from_f32(float v);
template <> inline float from_f32<float>(float v) { return v; }
template <> inline slk::bf16 from_f32<slk::bf16>(float v) { return to_bf16(v); }
// The value a T can hold that is nearest to v (what the device sees after conversion).
template <typename T> inline float round_to(float v) { return check::to_f32(from_f32<T>(v)); }

// Normal(0, scale) values, already representable in T.
template <typename T>
std::vector<T> random_vector(size_t count, float scale, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<T> out(count);
  for (auto &v : out)
    v = from_f32<T>(dist(rng));
  return out;
}

template <typename T> std::vector<float> to_float(const std::vector<T> &v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = check::to_f32(v[i]);
  return out;
}

// A device copy of a host vector (or zero-filled storage), freed on destruction.
template <typename T> struct DeviceBuffer {
  T *ptr = nullptr;
  size_t count = 0;
  explicit DeviceBuffer(size_t n) : count(n) {
    CUDA_CHECK(cudaMalloc(&ptr, n * sizeof(T) + 16));
    CUDA_CHECK(cudaMemset(ptr, 0, n * sizeof(T) + 16));
  }
  explicit DeviceBuffer(const std::vector<T> &host) : DeviceBuffer(host.size()) {
    CUDA_CHECK(cudaMemcpy(ptr, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  std::vector<T> download() const {
    std::vector<T> host(count);
    CUDA_CHECK(cudaMemcpy(host.data(), ptr, count * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
};

inline int &failures() {
  static int count = 0;
  return count;
}

// Compares `actual` with `expected`: passes when every |a - e| <= atol + rtol * |e|. Prints one
// line with the worst absolute error.
inline bool compare(const std::string &name, const std::vector<float> &actual,
                    const std::vector<float> &expected, float atol, float rtol) {
  if (actual.size() != expected.size()) {
    std::printf("FAIL %s: size %zu != %zu\n", name.c_str(), actual.size(), expected.size());
    ++failures();
    return false;
  }
  double worst = 0.0, worstAllowed = 0.0;
  size_t worstIndex = 0, bad = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    double diff = std::fabs(double(actual[i]) - double(expected[i]));
    double allowed = atol + rtol * std::fabs(double(expected[i]));
    if (!(diff <= allowed))
      ++bad;
    if (!(diff <= worst) || std::isnan(diff)) {
      worst = diff;
      worstAllowed = allowed;
      worstIndex = i;
    }
  }
  bool ok = bad == 0;
  std::printf("%s %s: max abs err %.3g at %zu (got %.6g, want %.6g, allowed %.3g), %zu/%zu bad\n",
              ok ? "PASS" : "FAIL", name.c_str(), worst, worstIndex,
              actual.empty() ? 0.0 : actual[worstIndex], expected.empty() ? 0.0 : expected[worstIndex],
              worstAllowed, bad, actual.size());
  if (!ok)
    ++failures();
  return ok;
}

inline bool expect_equal_ints(const std::string &name, const std::vector<int> &actual,
                              const std::vector<int> &expected) {
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < actual.size() && i < expected.size(); ++i)
    if (actual[i] != expected[i] && bad++ == 0)
      first = i;
  bool ok = bad == 0 && actual.size() == expected.size();
  if (ok)
    std::printf("PASS %s: %zu values equal\n", name.c_str(), actual.size());
  else
    std::printf("FAIL %s: %zu mismatches, first at %zu (got %d, want %d)\n", name.c_str(), bad,
                first, actual.empty() ? 0 : actual[first], expected.empty() ? 0 : expected[first]);
  if (!ok)
    ++failures();
  return ok;
}

// A property that must hold.
inline bool expect(const std::string &name, bool ok) {
  std::printf("%s %s\n", ok ? "PASS" : "FAIL", name.c_str());
  if (!ok)
    ++failures();
  return ok;
}

// Ends a check program: prints a summary and returns its exit status.
inline int finish(const char *program) {
  std::printf("%s: %s (%d failed)\n", program, failures() ? "FAILED" : "all passed", failures());
  return failures() ? 1 : 0;
}

}  // namespace check
