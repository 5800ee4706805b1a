// An artifact's plans, one per target: the runtime picks the plan for the GPU it finds, callers
// take a function's interface from any plan, and an executor runs its own plan's launches.
// Artifacts whose plans disagree on an interface, repeat a target or have none are refused.
#include "runtime/core/Artifact.h"
#include "runtime/cpu/CpuExecutor.h"
#include "runtime/schema/ArtifactVersion.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

namespace fs = sl::schema;

struct PlanSpec {
  std::string target;
  int64_t maxTokens = 4;
  int64_t arenaBytes = 64;
  std::string function = "decode";
  int32_t rank = 0, worldSize = 1;
  bool collective = false;  // an all-reduce of the buffer after the kernel
};

// Kernels "k0" and "k1"; plan i launches kernel i (a different launch list per plan).
std::vector<uint8_t> artifact(const std::vector<PlanSpec> &specs,
                              uint32_t version = fs::kSchemaVersion) {
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<flatbuffers::String>> noStrings;
  std::vector<flatbuffers::Offset<fs::Cubin>> noCubins;
  std::vector<flatbuffers::Offset<fs::Kernel>> kernels;
  for (const char *name : {"k0", "k1"})
    kernels.push_back(fs::CreateKernel(b, b.CreateString(name), b.CreateString("tmpl"),
                                       b.CreateVector(noStrings), b.CreateString("source"), 32, 0,
                                       b.CreateVector(noCubins)));
  std::vector<int64_t> shape{-1, 4};
  std::vector<flatbuffers::Offset<fs::Plan>> plans;
  for (size_t p = 0; p < specs.size(); ++p) {
    std::vector<fs::Extent> grid{{1, 0, 1}, {0, 1, 1}, {0, 1, 1}};
    std::vector<flatbuffers::Offset<fs::Arg>> args{fs::CreateArg(b, fs::ArgKind::buffer, 0)};
    std::vector<flatbuffers::Offset<fs::Launch>> launches{
        fs::CreateLaunchDirect(b, uint32_t(p % 2), &grid, &args, "loc", false)};
    if (specs[p].collective) {
      std::vector<flatbuffers::Offset<fs::Arg>> none;
      launches.push_back(fs::CreateLaunchDirect(
          b, 0, &grid, &none, "sum", false,
          fs::CreateCollective(b, fs::CollectiveOp::all_reduce_sum, 0, 0, 16, fs::DType::f32)));
    }
    std::vector<fs::Buffer> buffers{{0, specs[p].arenaBytes}};
    std::vector<flatbuffers::Offset<fs::Tensor>> inputs,
        outputs{fs::CreateTensorDirect(b, fs::DType::f32, &shape)};
    std::vector<uint32_t> states, outputBuffers{0};
    std::vector<flatbuffers::Offset<fs::Function>> functions{fs::CreateFunctionDirect(
        b, specs[p].function.c_str(), "decode", specs[p].maxTokens, specs[p].arenaBytes,
        &buffers, &inputs, &states, &outputs, &outputBuffers, &launches)};
    plans.push_back(fs::CreatePlanDirect(
        b, specs[p].target.empty() ? nullptr : specs[p].target.c_str(), &functions, nullptr,
        specs[p].rank, specs[p].worldSize));
  }
  std::vector<flatbuffers::Offset<fs::WeightBinding>> weights;
  std::vector<flatbuffers::Offset<fs::LibraryHeader>> headers;
  std::vector<flatbuffers::Offset<fs::StateSlot>> slots;
  auto root = fs::CreateArtifactDirect(b, version, "test", "t.mlir", "{}", &headers,
                                       &kernels, &weights, &slots, &plans);
  fs::FinishArtifactBuffer(b, root);
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

std::string loadError(const std::vector<uint8_t> &bytes) {
  auto loaded = sl::runtime::Artifact::fromBytes(bytes, "t.slpkg");
  return loaded.ok() ? "" : loaded.status().message();
}

TEST(Plans, PickedByComputeCapability) {
  auto loaded = sl::runtime::Artifact::fromBytes(
      artifact({{"sm_90a", 4, 64}, {"sm_100a", 4, 128}, {"sm_80", 4, 256}}), "t.slpkg");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->targets(), "sm_90a, sm_100a, sm_80");
  auto hopper = loaded->planFor(9, 0);
  ASSERT_TRUE(hopper.ok()) << hopper.status().message();
  EXPECT_EQ((*hopper)->target()->str(), "sm_90a");
  auto blackwell = loaded->planFor(10, 0);
  ASSERT_TRUE(blackwell.ok());
  EXPECT_EQ((*blackwell)->target()->str(), "sm_100a");
  EXPECT_EQ((*blackwell)->functions()->Get(0)->arena_bytes(), 128);
  auto ampere = loaded->planFor(8, 0);  // no a-variant: the plain target
  ASSERT_TRUE(ampere.ok());
  EXPECT_EQ((*ampere)->target()->str(), "sm_80");
  auto ada = loaded->planFor(8, 9);
  ASSERT_FALSE(ada.ok());
  EXPECT_EQ(ada.status().message(),
            "artifact t.slpkg has plans for sm_90a, sm_100a, sm_80, none for this sm_89 GPU "
            "(recompile with slc compile --target=sm_89)");
  // The interface comes from the first plan.
  ASSERT_NE(loaded->function("decode"), nullptr);
  EXPECT_EQ(loaded->function("decode")->arena_bytes(), 64);
}

TEST(Plans, ExecutorRunsItsOwnPlansFunction) {
  auto loaded = sl::runtime::Artifact::fromBytes(
      artifact({{"sm_90a", 4, 64}, {"sm_100a", 4, 128}}), "t.slpkg");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  std::vector<std::vector<uint8_t>> weights;
  sl::runtime::CpuExecutor cpu(*loaded, weights);
  EXPECT_EQ(cpu.plan().target()->str(), "sm_90a");  // the CPU backend runs the first plan
  // A function taken from another plan resolves to the executor's own of that name.
  const fs::Function *other = loaded->root().plans()->Get(1)->functions()->Get(0);
  auto own = cpu.own(*other);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ((*own)->arena_bytes(), 64);
  EXPECT_EQ(*own, loaded->function("decode"));
}

TEST(Plans, InconsistentPlansAreRefused) {
  EXPECT_EQ(loadError(artifact({{"sm_90a"}, {"sm_100a"}})), "");
  EXPECT_EQ(loadError(artifact({})), "artifact t.slpkg: corrupt (no plans)");
  EXPECT_EQ(loadError(artifact({{"sm_90a"}, {"sm_90a"}})),
            "artifact t.slpkg: corrupt (two plans for sm_90a)");
  EXPECT_EQ(loadError(artifact({{""}})),
            "artifact t.slpkg: corrupt (a plan without target or functions)");
  EXPECT_EQ(loadError(artifact({{"sm_90a", 4}, {"sm_100a", 8}})),
            "artifact t.slpkg: corrupt (plan sm_100a: function decode has another interface "
            "(phase, max_tokens, inputs, states or outputs) than in plan sm_90a)");
  EXPECT_EQ(loadError(artifact({{"sm_90a", 4, 64, "decode"}, {"sm_100a", 4, 64, "prefill"}})),
            "artifact t.slpkg: corrupt (plan sm_100a: no function decode)");
  // A plan's own problems name the plan.
  EXPECT_EQ(loadError(artifact({{"sm_90a", 0}})),
            "artifact t.slpkg: corrupt (plan sm_90a: function decode: max_tokens below 1 or a "
            "negative arena size)");
}

TEST(Plans, ArtifactsOfAnotherSchemaAreRefused) {
  // Version 2 had one launch list for all targets.
  EXPECT_EQ(loadError(artifact({{"sm_90a"}}, 2)),
            "artifact t.slpkg: schema version 2, but this slrun reads version 4; recompile the "
            "model with the matching slc");
}

}  // namespace

namespace {

// The ranks of a tensor-parallel artifact: consecutive per target, rank 0 first; collectives only
// in plans of several ranks, inside their buffer.
TEST(Plans, RanksOfATarget) {
  auto loaded = sl::runtime::Artifact::fromBytes(
      artifact({{"sm_90a", 4, 64, "decode", 0, 2, true},
                {"sm_90a", 4, 64, "decode", 1, 2, true},
                {"sm_100a", 4, 64, "decode", 0, 2, true},
                {"sm_100a", 4, 64, "decode", 1, 2, true}}),
      "t.slpkg");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->worldSize(), 2);
  EXPECT_EQ(loaded->targets(), "sm_90a, sm_100a");
  auto ranks = loaded->ranksOf(*loaded->root().plans()->Get(2));
  ASSERT_EQ(ranks.size(), 2u);
  EXPECT_EQ(ranks[0]->rank(), 0);
  EXPECT_EQ(ranks[1]->rank(), 1);
  EXPECT_EQ(ranks[1]->target()->str(), "sm_100a");

  EXPECT_EQ(loadError(artifact({{"sm_90a", 4, 64, "decode", 1, 2}, {"sm_90a", 4, 64, "decode", 0, 2}})),
            "artifact t.slpkg: corrupt (plan 0 (sm_90a) is rank 1 of 2, expected rank 0 of 2)");
  EXPECT_EQ(loadError(artifact({{"sm_90a", 4, 64, "decode", 0, 2}})),
            "artifact t.slpkg: corrupt (world size 2 does not divide the 1 plans)");
  EXPECT_EQ(loadError(artifact({{"sm_90a", 4, 64, "decode", 0, 1, true}})),
            "artifact t.slpkg: corrupt (plan sm_90a: function decode: the collective at sum is "
            "in a plan of one rank)");
  // 4 tokens of 16 bytes do not fit the 32-byte buffer.
  EXPECT_EQ(loadError(artifact({{"sm_90a", 4, 32, "decode", 0, 2, true},
                                {"sm_90a", 4, 32, "decode", 1, 2, true}})),
            "artifact t.slpkg: corrupt (plan sm_90a: function decode: the collective at sum "
            "covers bytes outside its buffer)");
}

}  // namespace
