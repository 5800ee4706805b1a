#include "runtime/core/MemoryBudget.h"

#include "runtime/core/Session.h"
#include "runtime/schema/ArtifactVersion.h"
#include "tests/unit/runtime/TestArtifact.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

namespace fs = sl::schema;
using sl::runtime::Artifact;

// An artifact with no function, weights of `weightShapes` (bf16) and state slots: a multi-step
// KV cache (2 KV heads of 16, f32, search power `searchPower`) and a Mamba state (8 heads of 8,
// 2 groups of 16 states, conv kernel 4, f32).
Artifact artifact(const std::vector<std::vector<int64_t>> &weightShapes, double searchPower = 0.5) {
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<fs::WeightBinding>> weights;
  for (const auto &shape : weightShapes)
    weights.push_back(fs::CreateWeightBindingDirect(b, "w", fs::DType::bf16, &shape));
  auto msa = fs::CreateMultiStepConfig(b, /*sw_index=*/3, /*num_spans=*/2, 3.0, 1.0, searchPower,
                                       0.5, /*window=*/15);
  std::vector<flatbuffers::Offset<fs::StateSlot>> slots{
      fs::CreateStateSlotDirect(b, fs::StateKind::kv_cache, "attention", fs::DType::f32, 2, 16, 0,
                                0, 0, 0, fs::DType::f32, msa),
      fs::CreateStateSlotDirect(b, fs::StateKind::mamba_state, "mamba", fs::DType::f32, 0, 8, 8, 2,
                                16, 4, fs::DType::f32)};
  std::vector<flatbuffers::Offset<fs::Kernel>> kernels;
  std::vector<flatbuffers::Offset<fs::Function>> functions;
  return sl::test::finishArtifact(b, kernels, weights, slots, functions);
}

// The estimate is what Session allocates (the stripe table: at least its entries).
TEST(MemoryBudget, SessionBytesMatchTheSession) {
  Artifact model = artifact({{4}});
  for (int64_t capacity : {1, 2, 15, 16, 100, 4096, 100000}) {
    auto bytes = sl::runtime::sessionBytes(model, capacity);
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    sl::runtime::Session session(model, capacity);
    const auto &kv = session.state(0), &mamba = session.state(1);
    EXPECT_EQ(bytes->kvCache, kv.k.size() + kv.v.size()) << capacity;
    EXPECT_EQ(bytes->kvCache, uint64_t(2 * 2 * 16 * 4) * uint64_t(capacity));
    EXPECT_EQ(bytes->mambaState, mamba.conv.size() + mamba.ssm.size()) << capacity;
    EXPECT_GE(bytes->stripeTables, kv.anchorOffsets.size() * sizeof(int64_t)) << capacity;
    EXPECT_LE(bytes->stripeTables, (kv.anchorOffsets.size() + 2) * sizeof(int64_t)) << capacity;
  }
}

TEST(MemoryBudget, CapacityIsBounded) {
  Artifact model = artifact({{4}});
  EXPECT_FALSE(sl::runtime::sessionBytes(model, 0).ok());
  auto past = sl::runtime::sessionBytes(model, sl::runtime::kMaxSessionTokens + 1);
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.status().message().find("32-bit"), std::string::npos) << past.status().message();
  auto largest = sl::runtime::sessionBytes(model, sl::runtime::kMaxSessionTokens);
  ASSERT_TRUE(largest.ok());
  EXPECT_EQ(largest->kvCache, uint64_t(256) * uint64_t(sl::runtime::kMaxSessionTokens));
}

// A search power outside (0, 1) would make Session's stripe table endless; it is refused, and
// the Session itself stops after capacity + 2 stripes.
TEST(MemoryBudget, BrokenSearchPowerIsRefused) {
  Artifact model = artifact({{4}}, /*searchPower=*/-1.0);
  auto bytes = sl::runtime::sessionBytes(model, 100);
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.status().message().find("search power"), std::string::npos);
  sl::runtime::Session session(model, 100);
  EXPECT_LE(session.state(0).anchorOffsets.size(), 102u);
}

TEST(MemoryBudget, WeightBytes) {
  auto bytes = sl::runtime::weightBytes(artifact({{4}, {3, 5}}));
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, uint64_t(2 * (4 + 15)));
  // 2^40 x 2^40 bf16 elements overflow 64 bits: an error, not a wrapped count.
  auto overflow = sl::runtime::weightBytes(artifact({{int64_t(1) << 40, int64_t(1) << 40}}));
  ASSERT_FALSE(overflow.ok());
  EXPECT_NE(overflow.status().message().find("64 bits"), std::string::npos);
}

TEST(MemoryBudget, CheckFits) {
  EXPECT_TRUE(sl::runtime::checkFits("x", 10, 10, "host memory").ok());
  EXPECT_TRUE(sl::runtime::checkFits("x", 10, std::nullopt, "host memory").ok());
  EXPECT_EQ(sl::runtime::checkFits("--max-context=9", uint64_t(3) << 30, uint64_t(1) << 30,
                                   "host memory")
                .message(),
            "--max-context=9: 3221225472 bytes (3.0 GiB) of host memory needed, but only "
            "1073741824 bytes (1.0 GiB) available");
  EXPECT_FALSE(sl::runtime::mulBytes(uint64_t(1) << 32, uint64_t(1) << 32).has_value());
  EXPECT_FALSE(sl::runtime::addBytes(UINT64_MAX, 1).has_value());
  EXPECT_EQ(sl::runtime::mulBytes(3, 5), 15u);
}

TEST(MemoryBudget, HostMemoryIsKnown) {
  auto available = sl::runtime::availableHostBytes();
  ASSERT_TRUE(available.has_value());  // /proc/meminfo exists on every supported host
  EXPECT_GT(*available, 0u);
}

}  // namespace
