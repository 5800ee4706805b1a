// Hand-made artifacts for the runtime's unit tests: the parts a test builds in `b` (kernels,
// weights, state slots, functions; no targets or library headers) finished into an artifact
// and loaded as the runtime loads one.
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
  std::vector<flatbuffers::Offset<flatbuffers::String>> targets;
  std::vector<flatbuffers::Offset<schema::LibraryHeader>> headers;
  auto root = schema::CreateArtifactDirect(b, schema::kSchemaVersion, "test", "t.mlir", "{}",
                                           &targets, &headers, &kernels, &weights, &slots,
                                           &functions);
  schema::FinishArtifactBuffer(b, root);
  auto loaded = runtime::Artifact::fromBytes(
      std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()), "t.slpkg");
  EXPECT_TRUE(loaded.ok()) << loaded.status().message();
  return std::move(*loaded);
}

}  // namespace sl::test
