// The CPU reference of gemv_rmsnorm equals rms_norm followed by gemv (the unfused pair the
// compiler emits for prefill), for bf16 and f32, with every epilogue.
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cpu/Elements.h"

#include <gtest/gtest.h>

#include <random>

namespace {

using namespace sl::cpu;

std::vector<uint8_t> randomElements(Elem elem, int64_t count, std::mt19937 &rng, float offset = 0) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<uint8_t> bytes(size_t(count) * (elem == Elem::bf16 ? 2 : 4));
  for (int64_t i = 0; i < count; ++i)
    store(elem, bytes.data(), i, dist(rng) + offset);
  return bytes;
}

KernelArg ptr(void *p) { return KernelArg{p, 0, 0.0f}; }
KernelArg num(int64_t v) { return KernelArg{nullptr, v, 0.0f}; }
KernelArg real(float v) { return KernelArg{nullptr, 0, v}; }

void run(const char *name, const std::vector<std::string> &targs, const std::vector<KernelArg> &args) {
  KernelFn fn = lookupKernel(name);
  ASSERT_NE(fn, nullptr) << name;
  sl::Status status = fn(KernelCall{targs, args});
  ASSERT_TRUE(status.ok()) << status.message();
}

TEST(GemvNorm, EqualsRmsNormThenGemv) {
  std::mt19937 rng(5);
  for (const char *type : {"slk::bf16", "float"})
    for (const char *act : {"slk::kActNone", "slk::kActRelu2"})
      for (bool withBias : {false, true}) {
        const Elem t = elemOf(type);
        const int64_t m = 3, n = 13, k = 40, lda = 48;
        auto a = randomElements(t, m * lda, rng);
        auto nw = randomElements(t, k, rng, 1.0f);
        auto w = randomElements(t, n * k, rng);
        auto bias = randomElements(t, n, rng);
        auto residual = randomElements(t, m * n, rng);
        const size_t bytes = t == Elem::bf16 ? 2 : 4;
        std::vector<uint8_t> fused(size_t(m * n) * bytes), normed(size_t(m * k) * bytes),
            unfused(size_t(m * n) * bytes);
        std::string hasBias = withBias ? "true" : "false";
        run("gemv_rmsnorm", {type, type, type, "4", "4", act, hasBias, "true"},
            {ptr(a.data()), num(lda), ptr(nw.data()), real(1e-5f), ptr(w.data()),
             ptr(withBias ? bias.data() : nullptr), ptr(residual.data()), ptr(fused.data()),
             num(n), num(m), num(n), num(k)});
        // The unfused pair reads contiguous rows.
        std::vector<uint8_t> rows(size_t(m * k) * bytes);
        for (int64_t r = 0; r < m; ++r)
          std::copy_n(a.data() + r * lda * bytes, k * bytes, rows.data() + r * k * bytes);
        run("rms_norm", {type, type, std::to_string(k), "64"},
            {ptr(rows.data()), ptr(nw.data()), ptr(normed.data()), num(m), real(1e-5f)});
        run("gemv", {type, type, "4", "4", act, hasBias, "true"},
            {ptr(normed.data()), num(k), ptr(w.data()), ptr(withBias ? bias.data() : nullptr),
             ptr(residual.data()), ptr(unfused.data()), num(n), num(m), num(n), num(k)});
        EXPECT_EQ(fused, unfused) << type << " " << act << " bias " << withBias;
      }
}

}  // namespace
