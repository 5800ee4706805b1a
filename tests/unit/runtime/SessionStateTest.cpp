// A session owns what its executor keeps of it (BackendState): made on the session's first call,
// kept across reset(), freed with the session; another executor refuses the session.
#include "runtime/core/Session.h"

#include "runtime/cpu/CpuExecutor.h"
#include "tests/unit/runtime/TestArtifact.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

namespace fs = sl::schema;
using sl::runtime::Artifact;
using sl::runtime::BackendState;
using sl::runtime::CpuExecutor;
using sl::runtime::OutputRows;
using sl::runtime::Session;

// One KV-cache slot (1 head of 4 floats) and a stateful "prefill" of up to 4 tokens that
// launches nothing: a call checks the session, claims it and advances it.
Artifact artifact() {
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<fs::StateSlot>> slots{
      fs::CreateStateSlotDirect(b, fs::StateKind::kv_cache, "layer0", fs::DType::f32, 1, 4)};
  std::vector<fs::Buffer> buffers{fs::Buffer(0, 64)};
  std::vector<flatbuffers::Offset<fs::Tensor>> inputs, outputs;
  std::vector<uint32_t> states{0}, outputBuffers;
  std::vector<flatbuffers::Offset<fs::Launch>> launches;
  std::vector<flatbuffers::Offset<fs::Function>> functions{
      fs::CreateFunctionDirect(b, "prefill", "prefill", 4, 64, &buffers, &inputs, &states,
                               &outputs, &outputBuffers, &launches)};
  return sl::test::finishArtifact(b, {}, {}, slots, functions);
}

const std::vector<std::vector<uint8_t>> kNoWeights;

sl::Status callPrefill(CpuExecutor &executor, const Artifact &model, Session &session,
                       int64_t tokens) {
  auto outputs = executor.call(*model.function("prefill"), session, {}, tokens, OutputRows::all);
  return outputs.status();
}

bool refusedAsForeign(const sl::Status &status) {
  return !status.ok() &&
         status.message().find("belongs to another executor") != std::string::npos;
}

TEST(SessionState, MadeOnTheFirstCallAndKeptAcrossReset) {
  Artifact model = artifact();
  CpuExecutor executor(model, kNoWeights);
  Session session(model, /*capacity=*/8);
  EXPECT_EQ(session.backendState(), nullptr);
  ASSERT_TRUE(callPrefill(executor, model, session, 3).ok());
  const BackendState *state = session.backendState();
  ASSERT_NE(state, nullptr);
  EXPECT_EQ(state->executor(), executor.id());
  EXPECT_EQ(session.length(), 3);
  ASSERT_TRUE(callPrefill(executor, model, session, 2).ok());
  EXPECT_EQ(session.backendState(), state);
  EXPECT_EQ(session.length(), 5);
  // Host buffers and the owner's state alike: checkpoints and snapshots need no copy.
  EXPECT_TRUE(executor.stateToHost(session, /*kv=*/true).ok());
  EXPECT_TRUE(executor.stateToDevice(session, /*kv=*/true).ok());
  session.reset();
  EXPECT_EQ(session.length(), 0);
  EXPECT_EQ(session.backendState(), state);
  ASSERT_TRUE(callPrefill(executor, model, session, 4).ok());
  EXPECT_EQ(session.length(), 4);
  // synthesizeState claims a new session too.
  Session synthesized(model, 8);
  ASSERT_TRUE(executor.synthesizeState(synthesized, 6, /*seed=*/1).ok());
  ASSERT_NE(synthesized.backendState(), nullptr);
  EXPECT_EQ(synthesized.backendState()->executor(), executor.id());
  EXPECT_EQ(synthesized.length(), 6);
}

TEST(SessionState, AnotherExecutorRefusesTheSession) {
  Artifact model = artifact();
  CpuExecutor first(model, kNoWeights), second(model, kNoWeights);
  EXPECT_NE(first.id(), second.id());
  Session session(model, 8);
  ASSERT_TRUE(callPrefill(first, model, session, 2).ok());

  sl::Status call = callPrefill(second, model, session, 1);
  EXPECT_TRUE(refusedAsForeign(call)) << call.message();
  EXPECT_NE(call.message().find("prefill"), std::string::npos) << call.message();
  EXPECT_TRUE(refusedAsForeign(second.synthesizeState(session, 4, 1)));
  EXPECT_TRUE(refusedAsForeign(second.stateToHost(session, /*kv=*/true)));
  EXPECT_TRUE(refusedAsForeign(second.stateToDevice(session, /*kv=*/false)));
  // Nothing changed: the owner goes on.
  EXPECT_EQ(session.length(), 2);
  EXPECT_EQ(session.backendState()->executor(), first.id());
  ASSERT_TRUE(callPrefill(first, model, session, 1).ok());
  EXPECT_EQ(session.length(), 3);
  // A reset session still belongs to its executor.
  session.reset();
  EXPECT_TRUE(refusedAsForeign(callPrefill(second, model, session, 1)));
  // A new session is the other executor's from its first call on.
  Session other(model, 8);
  ASSERT_TRUE(callPrefill(second, model, other, 1).ok());
  EXPECT_TRUE(refusedAsForeign(callPrefill(first, model, other, 1)));
}

// A backend state that records its destruction.
struct Probe final : BackendState {
  Probe(uint64_t executor, int *freed) : BackendState(executor), freed(freed) {}
  ~Probe() override { ++*freed; }
  int *freed;
};

TEST(SessionState, FreedWithTheSession) {
  Artifact model = artifact();
  int freed = 0;
  {
    Session session(model, 8);
    session.setBackendState(std::make_unique<Probe>(/*executor=*/12345, &freed));
    session.reset();
    EXPECT_EQ(freed, 0);
    // A foreign state refuses this executor without touching the state.
    CpuExecutor executor(model, kNoWeights);
    EXPECT_TRUE(refusedAsForeign(callPrefill(executor, model, session, 1)));
    EXPECT_EQ(freed, 0);
  }
  EXPECT_EQ(freed, 1);
  // A session may end after its executor.
  {
    Session session(model, 8);
    {
      CpuExecutor executor(model, kNoWeights);
      ASSERT_TRUE(callPrefill(executor, model, session, 1).ok());
    }
    EXPECT_NE(session.backendState(), nullptr);
  }
}

}  // namespace
