// Serialises a module in the slk form (after sl-emit-cuda) into the flatbuffer artifact of
// runtime/schema/artifact.fbs.
#pragma once

#include "compiler/KernelCheck.h"
#include "runtime/support/Status.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sl::compiler {

struct ArtifactOptions {
  std::string sourceName;            // the compiled .mlir
  std::vector<std::string> targets;  // sm_90a, ...
  const KernelCubins *cubins = nullptr;  // with --aot: shipped in the artifact
};

StatusOr<std::vector<uint8_t>> writeArtifact(mlir::ModuleOp module,
                                             const ArtifactOptions &options);

}  // namespace sl::compiler
