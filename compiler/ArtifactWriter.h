// Serialises modules in the slk form (after sl-emit-cuda), one per target, into the flatbuffer
// artifact of runtime/schema/artifact.fbs: one plan per module, the kernels of all of them.
#pragma once

#include "compiler/KernelCheck.h"
#include "runtime/support/Status.h"

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sl::compiler {

struct ArtifactOptions {
  std::string sourceName;                // the compiled .mlir
  const KernelCubins *cubins = nullptr;  // with --aot: shipped in the artifact
};

// The module compiled for one target (tiles selected for it).
struct TargetModule {
  std::string target;  // sm_90a, ...
  mlir::ModuleOp module;
  // slc compile --tensor-parallel: this module is the graph of rank `rank` of `worldSize`
  // (the ranks of a target follow one another, rank 0 first).
  int64_t rank = 0;
  int64_t worldSize = 1;
};

StatusOr<std::vector<uint8_t>> writeArtifact(const std::vector<TargetModule> &plans,
                                             const ArtifactOptions &options);

}  // namespace sl::compiler
