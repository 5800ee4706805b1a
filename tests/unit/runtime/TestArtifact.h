// Hand-made artifacts for the runtime's unit tests: the parts a test builds in `b` (kernels,
// weights, state slots, functions of one plan for sm_90a; no library headers) finished into an
// artifact and loaded as the runtime loads one.
#pragma once

#include "runtime/core/Artifact.h"
#include "runtime/schema/ArtifactVersion.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace sl::test {

inline runtime::Artifact finishArtifact(
    flatbuffers::FlatBufferBuilder &b,
    const std::vector<flatbuffers::Offset<schema::Kernel>> &kernels,
    const std::vector<flatbuffers::Offset<schema::WeightBinding>> &weights,
    const std::vector<flatbuffers::Offset<schema::StateSlot>> &slots,
    const std::vector<flatbuffers::Offset<schema::Function>> &functions) {
  std::vector<flatbuffers::Offset<schema::LibraryHeader>> headers;
  std::vector<flatbuffers::Offset<schema::Plan>> plans{
      schema::CreatePlanDirect(b, "sm_90a", &functions)};
  auto root = schema::CreateArtifactDirect(b, schema::kSchemaVersion, "test", "t.mlir", "{}",
                                           &headers, &kernels, &weights, &slots, &plans);
  schema::FinishArtifactBuffer(b, root);
  auto loaded = runtime::Artifact::fromBytes(
      std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()), "t.slpkg");
  EXPECT_TRUE(loaded.ok()) << loaded.status().message();
  return std::move(*loaded);
}

}  // namespace sl::test
