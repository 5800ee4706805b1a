#include "runtime/core/ExpertChoices.h"

#include "runtime/cpu/CpuExecutor.h"
#include "runtime/schema/ArtifactVersion.h"
#include "tests/unit/runtime/TestArtifact.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

namespace fs = sl::schema;
using sl::runtime::Artifact;
using sl::runtime::CapturedCall;
using sl::runtime::ExpertChoices;
using sl::runtime::RouterLaunch;

constexpr int64_t kExperts = 4, kTopK = 2, kTokens = 3;

// An artifact whose function "prefill" has two MoE layers that route with moe_topk<4, 2, 256>
// from fp32 logits (input 0 for the first, input 1 for the second; correction bias: weight 0),
// an unrelated launch between them, and both layers' `indices` in the same arena bytes (as the
// arena planner reuses a buffer once its last reader ran). With `brokenIndices` the second
// router's `indices` argument is a weight, not an arena buffer.
Artifact artifact(bool withRouters = true, bool brokenIndices = false) {
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<flatbuffers::String>> topkArgs{
      b.CreateString(std::to_string(kExperts)), b.CreateString(std::to_string(kTopK)),
      b.CreateString("256")};
  std::vector<flatbuffers::Offset<flatbuffers::String>> otherArgs{b.CreateString("float")};
  std::vector<flatbuffers::Offset<fs::Cubin>> cubins;
  std::vector<flatbuffers::Offset<fs::Kernel>> kernels{
      fs::CreateKernelDirect(b, "moe_topk_4_2", "moe_topk", &topkArgs, "", 256, 0, &cubins),
      fs::CreateKernelDirect(b, "rmsnorm_f", "rmsnorm", &otherArgs, "", 256, 0, &cubins)};
  const std::vector<int64_t> biasShape{kExperts};
  std::vector<flatbuffers::Offset<fs::WeightBinding>> weights{
      fs::CreateWeightBindingDirect(b, "bias", fs::DType::f32, &biasShape)};
  // Buffers: 0 = weights [n, 2] f32, 1 = indices [n, 2] i32 (both layers), 2 = unrelated.
  const int64_t rowBytes = kTopK * 4, bytes = kTokens * rowBytes;
  std::vector<fs::Buffer> buffers{fs::Buffer(0, bytes), fs::Buffer(bytes, bytes),
                                  fs::Buffer(2 * bytes, 64)};
  const std::vector<fs::Extent> grid{fs::Extent(1, 0, 1), fs::Extent(0, 1, 1),
                                     fs::Extent(0, 1, 1)};
  auto router = [&](int32_t logitsInput, bool broken, const char *location) {
    std::vector<flatbuffers::Offset<fs::Arg>> args{
        fs::CreateArg(b, fs::ArgKind::input, logitsInput),
        fs::CreateArg(b, fs::ArgKind::weight, 0),
        fs::CreateArg(b, fs::ArgKind::buffer, 0),
        broken ? fs::CreateArg(b, fs::ArgKind::weight, 0)
               : fs::CreateArg(b, fs::ArgKind::buffer, 1),
        fs::CreateArg(b, fs::ArgKind::runtime, -1, 0, fs::StatePart::k, fs::RuntimeValue::n),
        fs::CreateArg(b, fs::ArgKind::const_f32, 0, 0, fs::StatePart::k, fs::RuntimeValue::n, 0, 1.0f),
        fs::CreateArg(b, fs::ArgKind::const_i32, 0, 0, fs::StatePart::k, fs::RuntimeValue::n, 1)};
    return fs::CreateLaunchDirect(b, 0, &grid, &args, location);
  };
  std::vector<flatbuffers::Offset<fs::Arg>> noArgs;
  std::vector<flatbuffers::Offset<fs::Launch>> launches;
  if (withRouters)
    launches.push_back(router(0, false, "layer1"));
  // Never run (the CPU backend would reject its missing arguments): only in the unit tests
  // that do not call the function.
  if (!withRouters)
    launches.push_back(fs::CreateLaunchDirect(b, 1, &grid, &noArgs, "norm"));
  if (withRouters)
    launches.push_back(router(1, brokenIndices, "layer4"));
  const std::vector<int64_t> logitsShape{-1, kExperts};
  std::vector<flatbuffers::Offset<fs::Tensor>> inputs{
      fs::CreateTensorDirect(b, fs::DType::f32, &logitsShape),
      fs::CreateTensorDirect(b, fs::DType::f32, &logitsShape)};
  std::vector<flatbuffers::Offset<fs::Tensor>> outputs;
  std::vector<uint32_t> states, outputBuffers;
  std::vector<flatbuffers::Offset<fs::Function>> functions{fs::CreateFunctionDirect(
      b, "prefill", "prefill", kTokens, 2 * bytes + 64, &buffers, &inputs, &states, &outputs,
      &outputBuffers, &launches)};
  std::vector<flatbuffers::Offset<fs::StateSlot>> slots;
  return sl::test::finishArtifact(b, kernels, weights, slots, functions);
}

std::vector<uint8_t> bytesOf(const std::vector<int32_t> &values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(int32_t));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

std::vector<RouterLaunch> twoLayers() {
  return {{0, 3, kTopK, kExperts, "layer1"}, {2, 3, kTopK, kExperts, "layer4"}};
}

TEST(ExpertChoices, RoutersAreFoundByTemplate) {
  Artifact model = artifact();
  auto routers = sl::runtime::routerLaunches(model, *model.function("prefill"));
  ASSERT_TRUE(routers.ok()) << routers.status().message();
  ASSERT_EQ(routers->size(), 2u);
  EXPECT_EQ((*routers)[0].launch, 0u);
  EXPECT_EQ((*routers)[1].launch, 1u);
  for (const RouterLaunch &router : *routers) {
    EXPECT_EQ(router.indicesArg, 3u);
    EXPECT_EQ(router.topK, kTopK);
    EXPECT_EQ(router.experts, kExperts);
  }
  EXPECT_EQ((*routers)[1].location, "layer4");
}

TEST(ExpertChoices, IndicesThatAreNoBufferAreRefused) {
  Artifact model = artifact(/*withRouters=*/true, /*brokenIndices=*/true);
  auto routers = sl::runtime::routerLaunches(model, *model.function("prefill"));
  ASSERT_FALSE(routers.ok());
  EXPECT_NE(routers.status().message().find("layer4"), std::string::npos)
      << routers.status().message();
}

TEST(ExpertChoices, NoMoELayersIsAnError) {
  Artifact model = artifact(/*withRouters=*/false);
  std::vector<std::vector<uint8_t>> weights{std::vector<uint8_t>(kExperts * 4)};
  sl::runtime::CpuExecutor executor(model, weights);
  auto attached = ExpertChoices::attach(model, executor, {"prefill"});
  ASSERT_FALSE(attached.ok());
  EXPECT_NE(attached.status().message().find("no MoE layers"), std::string::npos)
      << attached.status().message();
  EXPECT_FALSE(ExpertChoices::attach(model, executor, {"decode"}).ok());
}

// Rows are sorted, calls follow each other in position order, layers are the outer dimension.
TEST(ExpertChoices, CallsAppendInPositionOrder) {
  ExpertChoices choices(twoLayers());
  ASSERT_TRUE(choices.append({"prefill", 2, {bytesOf({3, 1, 0, 2}), bytesOf({2, 3, 1, 0})}}).ok());
  ASSERT_TRUE(choices.append({"decode", 1, {bytesOf({2, 0}), bytesOf({3, 2})}}).ok());
  EXPECT_EQ(choices.layers(), 2);
  EXPECT_EQ(choices.positions(), 3);
  EXPECT_EQ(choices.topK(), kTopK);
  EXPECT_EQ(choices.values(), (std::vector<int32_t>{1, 3, 0, 2, 0, 2, 2, 3, 0, 1, 2, 3}));
}

TEST(ExpertChoices, WrongCapturesAreErrors) {
  ExpertChoices choices(twoLayers());
  auto message = [&](const CapturedCall &call) {
    sl::Status status = choices.append(call);
    return status.ok() ? std::string("ok") : status.message();
  };
  EXPECT_NE(message({"prefill", 1, {bytesOf({0, 1})}}).find("2 MoE layers"), std::string::npos);
  EXPECT_NE(message({"prefill", 2, {bytesOf({0, 1}), bytesOf({0, 1, 2, 3})}}).find("layer1"),
            std::string::npos);
  EXPECT_NE(message({"prefill", 1, {bytesOf({0, 4}), bytesOf({0, 1})}}).find("outside [0, 4)"),
            std::string::npos);
  EXPECT_NE(message({"prefill", 1, {bytesOf({0, -1}), bytesOf({0, 1})}}).find("outside"),
            std::string::npos);
  EXPECT_NE(message({"prefill", 1, {bytesOf({0, 1}), bytesOf({2, 2})}}).find("chosen twice"),
            std::string::npos);
  // A refused call leaves nothing behind.
  EXPECT_EQ(choices.positions(), 0);
  EXPECT_TRUE(choices.values().empty());
}

// On the CPU backend each router's indices are copied right after its launch: the second layer
// overwrites the first's bytes, which a read after the call would report for both.
TEST(ExpertChoices, CapturedRightAfterEachRouter) {
  Artifact model = artifact();
  std::vector<float> bias(kExperts, 0.0f);
  std::vector<std::vector<uint8_t>> weights{std::vector<uint8_t>(kExperts * 4)};
  std::memcpy(weights[0].data(), bias.data(), weights[0].size());
  sl::runtime::CpuExecutor executor(model, weights);
  auto attached = ExpertChoices::attach(model, executor, {"prefill"});
  ASSERT_TRUE(attached.ok()) << attached.status().message();
  // Layer 1 prefers experts 3 and 1, 0 and 2, 2 and 1; layer 4 always 0 and 1.
  const std::vector<float> first{0, 2, -1, 3, 3, -2, 2, -1, -1, 1, 2, 0};
  const std::vector<float> second{3, 2, 0, 0, 3, 2, 0, 0, 3, 2, 0, 0};
  sl::runtime::Session session(model, kTokens);
  auto outputs = executor.call(*model.function("prefill"), session,
                               {first.data(), second.data()}, kTokens,
                               sl::runtime::OutputRows::all);
  ASSERT_TRUE(outputs.ok()) << outputs.status().message();
  std::vector<CapturedCall> calls = executor.takeCaptured();
  ASSERT_EQ(calls.size(), 1u);
  ASSERT_TRUE(attached->append(calls[0]).ok());
  EXPECT_EQ(attached->values(),
            (std::vector<int32_t>{1, 3, 0, 2, 1, 2, 0, 1, 0, 1, 0, 1}));
  EXPECT_TRUE(executor.takeCaptured().empty());
  // Without captures a call logs nothing.
  executor.setCaptures("prefill", {});
  ASSERT_TRUE(
      executor
          .call(*model.function("prefill"), session, {first.data(), second.data()}, kTokens,
                sl::runtime::OutputRows::all)
          .ok());
  EXPECT_TRUE(executor.takeCaptured().empty());
}

}  // namespace
