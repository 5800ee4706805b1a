// The launch-argument contract: the artifact check refuses enum values outside the schema and
// state references of the wrong kind, and resolveArg (the one resolver both backends call) gives
// every argument kind its value.
#include "runtime/core/LaunchArgs.h"
#include "runtime/schema/ArtifactVersion.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace {

namespace fs = sl::schema;
using sl::runtime::ArgValue;

// One function with one launch whose arguments are `args(b)`; state slot 0 is a multi-step KV
// cache, slot 1 a Mamba state; buffers 0 (at 0) and 1 (at 256); one weight; one input.
template <typename Args>
std::vector<uint8_t> artifactWith(Args args) {
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<flatbuffers::String>> noStrings;
  std::vector<flatbuffers::Offset<fs::Cubin>> noCubins;
  std::vector<flatbuffers::Offset<fs::Kernel>> kernels{
      fs::CreateKernel(b, b.CreateString("k"), b.CreateString("tmpl"), b.CreateVector(noStrings),
                       b.CreateString("source"), 32, 0, b.CreateVector(noCubins))};
  std::vector<int64_t> shape{4};
  std::vector<flatbuffers::Offset<fs::WeightBinding>> weights{
      fs::CreateWeightBindingDirect(b, "w", fs::DType::f32, &shape)};
  auto msa = fs::CreateMultiStepConfig(b, 3, 2, 3.0, 1.0, 0.5, 0.5, 15);
  auto kvLocation = b.CreateString("layer0"), mambaLocation = b.CreateString("layer1");
  fs::StateSlotBuilder kv(b);
  kv.add_kind(fs::StateKind::kv_cache);
  kv.add_location(kvLocation);
  kv.add_dtype(fs::DType::f32);
  kv.add_kv_heads(1);
  kv.add_head_dim(4);
  kv.add_msa(msa);
  auto kvSlot = kv.Finish();
  fs::StateSlotBuilder mamba(b);
  mamba.add_kind(fs::StateKind::mamba_state);
  mamba.add_location(mambaLocation);
  mamba.add_dtype(fs::DType::f32);
  mamba.add_heads(1);
  mamba.add_head_dim(4);
  mamba.add_groups(1);
  mamba.add_state_size(4);
  mamba.add_conv_kernel(4);
  mamba.add_ssm_dtype(fs::DType::f32);
  std::vector<flatbuffers::Offset<fs::StateSlot>> slots{kvSlot, mamba.Finish()};
  std::vector<fs::Extent> grid{{1, 0, 1}, {0, 1, 1}, {0, 1, 1}};
  std::vector<flatbuffers::Offset<fs::Arg>> launchArgs = args(b);
  std::vector<flatbuffers::Offset<fs::Launch>> launches{
      fs::CreateLaunchDirect(b, 0, &grid, &launchArgs, "loc", false)};
  std::vector<fs::Buffer> buffers{{0, 256}, {256, 256}};
  std::vector<flatbuffers::Offset<fs::Tensor>> inputs{
      fs::CreateTensorDirect(b, fs::DType::f32, &shape)},
      outputs{fs::CreateTensorDirect(b, fs::DType::f32, &shape)};
  std::vector<uint32_t> states{0, 1}, outputBuffers{0};
  std::vector<flatbuffers::Offset<fs::Function>> functions{fs::CreateFunctionDirect(
      b, "prefill", "prefill", 16, 512, &buffers, &inputs, &states, &outputs, &outputBuffers,
      &launches)};
  std::vector<flatbuffers::Offset<fs::LibraryHeader>> headers;
  std::vector<flatbuffers::Offset<fs::Plan>> plans{fs::CreatePlanDirect(b, "sm_90a", &functions)};
  auto root = fs::CreateArtifactDirect(b, fs::kSchemaVersion, "test", "t.mlir", "{}", &headers,
                                       &kernels, &weights, &slots, &plans);
  fs::FinishArtifactBuffer(b, root);
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

flatbuffers::Offset<fs::Arg> arg(flatbuffers::FlatBufferBuilder &b, fs::ArgKind kind,
                                 int32_t index, fs::StatePart part = fs::StatePart::k,
                                 fs::RuntimeValue value = fs::RuntimeValue::n) {
  return fs::CreateArg(b, kind, index, 0, part, value);
}

std::string loadError(const std::vector<uint8_t> &bytes) {
  auto loaded = sl::runtime::Artifact::fromBytes(bytes, "t.slpkg");
  return loaded.ok() ? "" : loaded.status().message();
}

std::string oneArgError(fs::ArgKind kind, int32_t index, fs::StatePart part,
                        fs::RuntimeValue value) {
  return loadError(artifactWith([&](flatbuffers::FlatBufferBuilder &b) {
    return std::vector<flatbuffers::Offset<fs::Arg>>{arg(b, kind, index, part, value)};
  }));
}

TEST(LaunchArgs, EnumsOutsideTheSchemaAreRefused) {
  const auto k = fs::StatePart::k;
  const auto n = fs::RuntimeValue::n;
  EXPECT_EQ(oneArgError(fs::ArgKind::runtime, -1, k, n), "");
  EXPECT_EQ(oneArgError(fs::ArgKind::state_part, 1, fs::StatePart::ssm, n), "");
  EXPECT_EQ(oneArgError(fs::ArgKind::runtime, 0, k, fs::RuntimeValue::span_reach), "");

  std::string error = oneArgError(static_cast<fs::ArgKind>(8), 0, k, n);
  EXPECT_NE(error.find("has kind 8, outside the schema's ArgKind (0..7)"), std::string::npos)
      << error;
  error = oneArgError(fs::ArgKind::state_part, 0, static_cast<fs::StatePart>(4), n);
  EXPECT_NE(error.find("has state part 4, outside the schema's StatePart (0..3)"),
            std::string::npos)
      << error;
  error = oneArgError(fs::ArgKind::runtime, -1, k, static_cast<fs::RuntimeValue>(200));
  EXPECT_NE(error.find("has run-time value 200, outside the schema's RuntimeValue (0..8)"),
            std::string::npos)
      << error;
  // A part of the other kind of state, a table of a slot without a multi-step config, a slot
  // that does not exist.
  error = oneArgError(fs::ArgKind::state_part, 0, fs::StatePart::conv, n);
  EXPECT_NE(error.find("points to part conv of state slot 0, which is a kv_cache"),
            std::string::npos)
      << error;
  error = oneArgError(fs::ArgKind::runtime, 1, k, fs::RuntimeValue::anchor_offsets);
  EXPECT_NE(error.find("refers to nothing"), std::string::npos) << error;
  error = oneArgError(fs::ArgKind::state_part, 2, fs::StatePart::k, n);
  EXPECT_NE(error.find("refers to nothing"), std::string::npos) << error;
}

// Addresses that name what was asked for, so a test can tell them apart.
struct FakeMemory final : sl::runtime::LaunchArgMemory {
  uint64_t arena() override { return 0x100000; }
  uint64_t weight(uint32_t binding) override { return 0x200000 + binding; }
  uint64_t input(uint32_t index) override { return 0x300000 + 0x1000 * index; }
  uint64_t statePart(uint32_t slot, fs::StatePart part) override {
    return 0x400000 + 0x100 * slot + uint64_t(part);
  }
  uint64_t errorFlag() override { return 0x500000; }
  uint64_t anchorOffsets(uint32_t slot) override { return 0x600000 + slot; }
  uint64_t spanReach(uint32_t slot) override { return 0x700000 + slot; }
};

TEST(LaunchArgs, ResolverGivesEveryKindItsValue) {
  auto loaded = sl::runtime::Artifact::fromBytes(
      artifactWith([](flatbuffers::FlatBufferBuilder &b) {
        using K = fs::ArgKind;
        using V = fs::RuntimeValue;
        return std::vector<flatbuffers::Offset<fs::Arg>>{
            fs::CreateArg(b, K::buffer, 1, 8, fs::StatePart::k, V::n, 0, 0.0f, 16),
            fs::CreateArg(b, K::input, 0, 4, fs::StatePart::k, V::n, 0, 0.0f, 32),
            arg(b, K::weight, 0),
            arg(b, K::state_part, 0, fs::StatePart::v),
            arg(b, K::state_part, 1, fs::StatePart::ssm),
            arg(b, K::runtime, -1, fs::StatePart::k, V::n),
            arg(b, K::runtime, -1, fs::StatePart::k, V::start),
            arg(b, K::runtime, -1, fs::StatePart::k, V::cache_len),
            arg(b, K::runtime, -1, fs::StatePart::k, V::capacity),
            arg(b, K::runtime, -1, fs::StatePart::k, V::null),
            arg(b, K::runtime, -1, fs::StatePart::k, V::error_flag),
            arg(b, K::runtime, 0, fs::StatePart::k, V::anchor_offsets),
            arg(b, K::runtime, 0, fs::StatePart::k, V::num_stripes),
            arg(b, K::runtime, 0, fs::StatePart::k, V::span_reach),
            fs::CreateArg(b, K::const_i32, 0, 0, fs::StatePart::k, V::n, 2688),
            fs::CreateArg(b, K::const_i64, 0, 0, fs::StatePart::k, V::n, int64_t(1) << 40),
            fs::CreateArg(b, K::const_f32, 0, 0, fs::StatePart::k, V::n, 0, 1e-5f)};
      }),
      "t.slpkg");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const fs::Function &function = *loaded->function("prefill");
  sl::runtime::Session session(*loaded, /*capacity=*/100, /*hostState=*/false);
  session.advance(7);
  // A launch of a 5-token call that runs for its last 2 rows (an output-rows launch).
  const sl::runtime::LaunchCall call{function, session, session.length(), 5, 2, 3};
  FakeMemory memory;
  std::vector<ArgValue> values;
  for (const auto *a : *function.launches()->Get(0)->args()) {
    auto value = sl::runtime::resolveArg(*a, call, memory);
    ASSERT_TRUE(value.ok()) << value.status().message();
    values.push_back(*value);
  }
  auto pointerAt = [&](size_t i) {
    EXPECT_EQ(values[i].type, ArgValue::Type::pointer) << "argument " << i;
    return values[i].address;
  };
  auto integerAt = [&](size_t i, ArgValue::Type type) {
    EXPECT_EQ(values[i].type, type) << "argument " << i;
    return values[i].integer;
  };
  const auto i32 = ArgValue::Type::i32;
  EXPECT_EQ(pointerAt(0), 0x100000u + 256 + 8 + 3 * 16);  // arena + buffer + offset + 3 rows
  EXPECT_EQ(pointerAt(1), 0x300000u + 4 + 3 * 32);
  EXPECT_EQ(pointerAt(2), 0x200000u);
  EXPECT_EQ(pointerAt(3), 0x400000u + uint64_t(fs::StatePart::v));
  EXPECT_EQ(pointerAt(4), 0x400100u + uint64_t(fs::StatePart::ssm));
  EXPECT_EQ(integerAt(5, i32), 2);           // n: the rows this launch runs for
  EXPECT_EQ(integerAt(6, i32), 7);           // start
  EXPECT_EQ(integerAt(7, i32), 12);          // cache_len = start + the call's tokens
  EXPECT_EQ(integerAt(8, i32), 100);         // capacity
  EXPECT_EQ(pointerAt(9), 0u);               // null
  EXPECT_EQ(pointerAt(10), 0x500000u);       // error flag
  EXPECT_EQ(pointerAt(11), 0x600000u);       // anchor offsets of slot 0
  EXPECT_EQ(integerAt(12, i32), int64_t(session.state(0).anchorOffsets.size()));
  EXPECT_GT(session.state(0).anchorOffsets.size(), 0u);
  EXPECT_EQ(pointerAt(13), 0x700000u);       // span reach of slot 0
  EXPECT_EQ(integerAt(14, i32), 2688);
  EXPECT_EQ(integerAt(15, ArgValue::Type::i64), int64_t(1) << 40);
  EXPECT_EQ(values[16].type, ArgValue::Type::f32);
  EXPECT_FLOAT_EQ(values[16].real, 1e-5f);
}

}  // namespace
