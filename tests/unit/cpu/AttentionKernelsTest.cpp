// The CPU reference of the dense attention kernels (runtime/cpu/AttentionKernels.cpp) against
// naive softmax attention written here in double: kv_append, prefill and decode (partial +
// combine) in f32 and bf16, GQA, several calls appending to the cache, empty splits.
#include "runtime/cpu/CpuKernel.h"
#include "runtime/cpu/Elements.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace sl::cpu {
namespace {

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

Status launch(const std::string &name, const std::vector<std::string> &templateArgs,
              const std::vector<KernelArg> &args) {
  KernelFn fn = lookupKernel(name);
  if (!fn)
    return Status::error("no CPU kernel '" + name + "'");
  return fn(KernelCall{templateArgs, args});
}

// Storage of element type T addressed as floats.
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
  float get(size_t i) const { return elem == Elem::bf16 ? bf16ToFloat(b16[i]) : f32[i]; }
  void set(size_t i, float v) { store(elem, data(), int64_t(i), v); }
  void fillNaN() {
    if (elem == Elem::bf16)
      b16.assign(b16.size(), 0x7fc1);
    else
      f32.assign(f32.size(), std::numeric_limits<float>::quiet_NaN());
  }
};

std::string spelling(Elem e) { return e == Elem::bf16 ? "slk::bf16" : "float"; }

struct Config {
  Elem t;
  int heads, kvHeads, headDim;
  int bm, bn;                // prefill tiles
  int splits, dbn, warps;    // decode
  int capacity;
};

// One attention layer: its cache (garbage beyond cache_len) and the history of the appended
// keys and values as the reference sees them.
class AttentionLayer {
public:
  explicit AttentionLayer(const Config &c)
      : c_(c), kCache_(c.t, size_t(c.kvHeads) * c.capacity * c.headDim),
        vCache_(c.t, size_t(c.kvHeads) * c.capacity * c.headDim) {
    kCache_.fillNaN();  // never read past cache_len
    vCache_.fillNaN();
  }

  // One call of n tokens: append k/v, then attention by prefill and by decode; both are
  // compared with the naive reference.
  void call(int n, std::mt19937 &rng) {
    const int qw = c_.heads * c_.headDim, kw = c_.kvHeads * c_.headDim;
    const int ldq = qw + 8, ldk = kw + 16, ldv = kw + 24, ldo = qw + 8;
    std::normal_distribution<float> u(0.0f, 1.0f);
    Buffer q(c_.t, size_t(n) * ldq), k(c_.t, size_t(n) * ldk), v(c_.t, size_t(n) * ldv);
    for (size_t i = 0; i < size_t(n) * ldq; ++i)
      q.set(i, 1.5f * u(rng));
    for (size_t i = 0; i < size_t(n) * ldk; ++i)
      k.set(i, u(rng));
    for (size_t i = 0; i < size_t(n) * ldv; ++i)
      v.set(i, u(rng));

    const int start = cacheLen_;
    Status s = launch("kv_append",
                      {spelling(c_.t), std::to_string(c_.kvHeads), std::to_string(c_.headDim),
                       "128"},
                      {ptr(k.data()), num(ldk), ptr(v.data()), num(ldv), ptr(kCache_.data()),
                       ptr(vCache_.data()), num(c_.capacity), num(start), num(n)});
    ASSERT_TRUE(s.ok()) << s.message();
    cacheLen_ += n;
    // The cache holds the appended rows bit for bit.
    for (int tok = 0; tok < n; ++tok)
      for (int e = 0; e < kw; ++e) {
        const size_t dst = (size_t(e / c_.headDim) * c_.capacity + start + tok) * c_.headDim +
                           e % c_.headDim;
        ASSERT_EQ(kCache_.get(dst), k.get(size_t(tok) * ldk + e));
        ASSERT_EQ(vCache_.get(dst), v.get(size_t(tok) * ldv + e));
      }
    for (int tok = 0; tok < n; ++tok) {
      for (int e = 0; e < kw; ++e) {
        keys_.push_back(k.get(size_t(tok) * ldk + e));
        values_.push_back(v.get(size_t(tok) * ldv + e));
      }
    }

    const std::vector<double> want = reference(q, ldq, n);

    Buffer out(c_.t, size_t(n) * ldo);
    s = launch("attention_prefill",
               {spelling(c_.t), std::to_string(c_.heads), std::to_string(c_.kvHeads),
                std::to_string(c_.headDim), std::to_string(c_.bm), std::to_string(c_.bn)},
               {ptr(q.data()), num(ldq), ptr(kCache_.data()), ptr(vCache_.data()),
                num(c_.capacity), ptr(out.data()), num(ldo), num(n), num(cacheLen_)});
    ASSERT_TRUE(s.ok()) << s.message();
    expectClose(want, rows(out, ldo, n), "prefill n=" + std::to_string(n));

    std::vector<float> partO(size_t(c_.splits) * n * qw, NAN);
    std::vector<float> partLse(size_t(c_.splits) * n * c_.heads, NAN);
    s = launch("attention_decode_partial",
               {spelling(c_.t), std::to_string(c_.heads), std::to_string(c_.kvHeads),
                std::to_string(c_.headDim), std::to_string(c_.splits), std::to_string(c_.dbn),
                std::to_string(c_.warps)},
               {ptr(q.data()), num(ldq), ptr(kCache_.data()), ptr(vCache_.data()),
                num(c_.capacity), ptr(partO.data()), ptr(partLse.data()), num(n),
                num(cacheLen_)});
    ASSERT_TRUE(s.ok()) << s.message();
    checkPartials(partO, partLse, n);
    Buffer out2(c_.t, size_t(n) * ldo);
    s = launch("attention_decode_combine",
               {spelling(c_.t), std::to_string(c_.heads), std::to_string(c_.headDim),
                std::to_string(c_.splits)},
               {ptr(partO.data()), ptr(partLse.data()), ptr(out2.data()), num(ldo), num(n)});
    ASSERT_TRUE(s.ok()) << s.message();
    expectClose(want, rows(out2, ldo, n), "decode n=" + std::to_string(n));
  }

  int cacheLen() const { return cacheLen_; }

private:
  // Naive softmax attention in double over the T-rounded q, k, v.
  std::vector<double> reference(const Buffer &q, int ldq, int n) const {
    const int D = c_.headDim, kw = c_.kvHeads * D, group = c_.heads / c_.kvHeads;
    std::vector<double> out;
    for (int j = 0; j < n; ++j) {
      const int pos = cacheLen_ - n + j;
      for (int h = 0; h < c_.heads; ++h) {
        const int kvh = h / group;
        std::vector<double> score(pos + 1);
        double mx = -INFINITY;
        for (int key = 0; key <= pos; ++key) {
          double dot = 0.0;
          for (int d = 0; d < D; ++d)
            dot += double(q.get(size_t(j) * ldq + h * D + d)) *
                   keys_[size_t(key) * kw + kvh * D + d];
          score[key] = dot / std::sqrt(double(D));
          mx = std::max(mx, score[key]);
        }
        double sum = 0.0;
        std::vector<double> o(D, 0.0);
        for (int key = 0; key <= pos; ++key) {
          const double p = std::exp(score[key] - mx);
          sum += p;
          for (int d = 0; d < D; ++d)
            o[d] += p * values_[size_t(key) * kw + kvh * D + d];
        }
        for (int d = 0; d < D; ++d)
          out.push_back(o[d] / sum);
      }
    }
    return out;
  }

  // part_lse is -inf exactly for the splits that own no visible key; other entries finite.
  void checkPartials(const std::vector<float> &partO, const std::vector<float> &partLse,
                     int n) const {
    const int tiles = (cacheLen_ + c_.dbn - 1) / c_.dbn;
    for (int s = 0; s < c_.splits; ++s)
      for (int j = 0; j < n; ++j) {
        const int pos = cacheLen_ - n + j;
        bool sees = false;
        for (int w = 0; w < c_.warps; ++w)
          for (int it = s * c_.warps + w; it < tiles; it += c_.splits * c_.warps)
            sees |= it * c_.dbn <= pos;
        for (int h = 0; h < c_.heads; ++h) {
          const size_t row = (size_t(s) * n + j) * c_.heads + h;
          if (sees) {
            EXPECT_TRUE(std::isfinite(partLse[row])) << "split " << s << " j " << j;
          } else {
            EXPECT_EQ(partLse[row], -INFINITY) << "split " << s << " j " << j;
            for (int d = 0; d < c_.headDim; ++d)
              EXPECT_EQ(partO[row * c_.headDim + d], 0.0f);
          }
        }
      }
  }

  std::vector<double> rows(const Buffer &out, int ldo, int n) const {
    std::vector<double> r;
    for (int j = 0; j < n; ++j)
      for (int e = 0; e < c_.heads * c_.headDim; ++e)
        r.push_back(out.get(size_t(j) * ldo + e));
    return r;
  }

  // Tolerances of tests/gpu/attention_check.cu.
  void expectClose(const std::vector<double> &want, const std::vector<double> &got,
                   const std::string &what) const {
    const bool bf = c_.t == Elem::bf16;
    const double abs = bf ? 1.5e-2 : 2e-5, rel = bf ? 2e-2 : 1e-4;
    ASSERT_EQ(want.size(), got.size());
    int bad = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const double tol = abs + rel * std::fabs(want[i]);
      if (!(std::fabs(got[i] - want[i]) <= tol) && bad++ < 5)
        ADD_FAILURE() << what << " [" << i << "]: got " << got[i] << ", want " << want[i];
    }
    EXPECT_EQ(bad, 0) << what << " (cache_len " << cacheLen_ << ")";
  }

  Config c_;
  Buffer kCache_, vCache_;
  std::vector<double> keys_, values_;  // [token][KV_HEADS * HEAD_DIM]
  int cacheLen_ = 0;
};

void runCalls(const Config &c, const std::vector<int> &calls, uint32_t seed) {
  std::mt19937 rng(seed);
  AttentionLayer layer(c);
  for (int n : calls) {
    layer.call(n, rng);
    if (::testing::Test::HasFatalFailure())
      return;
  }
}

TEST(AttentionKernels, F32GqaSeveralCalls) {
  // 4 query heads on 2 kv heads, d 16; decode tiles of 32 keys over 3 splits x 2 warps, so
  // the cache is first shorter than SPLITS*WARPS*BN (empty splits), then longer.
  const Config c{Elem::f32, 4, 2, 16, 16, 32, 3, 32, 2, 512};
  runCalls(c, {37, 20, 1, 3, 1, 150, 1}, 1);
}

TEST(AttentionKernels, F32SingleKvHead) {
  const Config c{Elem::f32, 8, 1, 32, 64, 64, 4, 64, 1, 300};
  runCalls(c, {1, 2, 77, 1, 50}, 2);
}

TEST(AttentionKernels, Bf16GqaSeveralCalls) {
  const Config c{Elem::bf16, 8, 2, 64, 64, 64, 2, 16, 4, 400};
  runCalls(c, {77, 50, 1, 2, 3, 1, 100, 1}, 3);
}

TEST(AttentionKernels, Bf16NoGqa) {
  const Config c{Elem::bf16, 2, 2, 16, 16, 16, 8, 16, 2, 200};
  runCalls(c, {1, 5, 40, 1, 1}, 4);
}

TEST(AttentionKernels, CombineSkipsEmptySplits) {
  // Two splits: the first empty (-inf), the second holding o = [1, 2].
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> partO = {NAN, NAN, 1.0f, 2.0f}, partLse = {-inf, 3.0f};
  std::vector<float> out(2, 0.0f);
  Status s = launch("attention_decode_combine", {"float", "1", "2", "2"},
                    {ptr(partO.data()), ptr(partLse.data()), ptr(out.data()), num(2), num(1)});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(out, (std::vector<float>{1.0f, 2.0f}));
  // Two splits weighted 2^(lse - max): lse 1 and 0 -> weights 1 and 1/2.
  partO = {3.0f, 0.0f, 0.0f, 3.0f};
  partLse = {1.0f, 0.0f};
  s = launch("attention_decode_combine", {"float", "1", "2", "2"},
             {ptr(partO.data()), ptr(partLse.data()), ptr(out.data()), num(2), num(1)});
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_FLOAT_EQ(out[0], 2.0f);
  EXPECT_FLOAT_EQ(out[1], 1.0f);
}

TEST(AttentionKernels, InvalidArgumentsAreErrors) {
  std::vector<float> buf(1 << 14, 0.0f);
  const std::vector<KernelArg> args = {ptr(buf.data()), num(64),        ptr(buf.data()),
                                       ptr(buf.data()), num(16),        ptr(buf.data()),
                                       num(64),         num(2),         num(4)};
  auto prefill = [&](std::vector<std::string> tmpl, std::vector<KernelArg> a) {
    return launch("attention_prefill", tmpl, a);
  };
  EXPECT_TRUE(prefill({"float", "4", "2", "16", "16", "32"}, args).ok());
  EXPECT_FALSE(prefill({"float", "4", "3", "16", "16", "32"}, args).ok());   // GQA
  EXPECT_FALSE(prefill({"float", "4", "2", "24", "16", "32"}, args).ok());   // HEAD_DIM
  EXPECT_FALSE(prefill({"float", "4", "2", "16", "16", "16"}, args).ok());   // float BN
  EXPECT_FALSE(prefill({"slk::fp8", "4", "2", "16", "16", "32"}, args).ok());
  EXPECT_FALSE(prefill({"float", "4", "2", "16", "16"}, args).ok());
  std::vector<KernelArg> bad = args;
  bad[8] = num(17);  // cache_len > capacity
  EXPECT_FALSE(prefill({"float", "4", "2", "16", "16", "32"}, bad).ok());
  bad = args;
  bad[7] = num(5);  // n > cache_len
  EXPECT_FALSE(prefill({"float", "4", "2", "16", "16", "32"}, bad).ok());
  bad = args;
  bad[2] = ptr(nullptr);
  EXPECT_FALSE(prefill({"float", "4", "2", "16", "16", "32"}, bad).ok());

  Status s = launch("kv_append", {"float", "2", "16", "128"},
                    {ptr(buf.data()), num(32), ptr(buf.data()), num(32), ptr(buf.data()),
                     ptr(buf.data()), num(16), num(15), num(2)});
  EXPECT_FALSE(s.ok());  // start + n > capacity
  EXPECT_NE(s.message().find("kv_append"), std::string::npos) << s.message();
  EXPECT_FALSE(launch("attention_decode_partial", {"float", "4", "2", "16", "0", "32", "2"},
                      args)
                   .ok());  // SPLITS = 0
}

TEST(AttentionKernels, AllTemplatesRegistered) {
  for (const char *name : {"kv_append", "attention_prefill", "attention_decode_partial",
                           "attention_decode_combine"})
    EXPECT_NE(lookupKernel(name), nullptr) << name;
}

}  // namespace
}  // namespace sl::cpu
