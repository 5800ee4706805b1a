// Which kernel template an op runs as, its tuning bucket, and the heuristic tile parameters used
// when the tuning database has no matching record (docs/pipeline.md lists the rules).
#pragma once

#include "mlir/IR/Operation.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sl::compiler {

struct TileProblem {
  std::string kernel;                         // kernel template name
  std::map<std::string, std::string> bucket;  // tuning bucket
  std::map<std::string, int64_t> heuristic;   // tile parameters without a tuning record
};

// Dynamic shared memory a block may use on the targets (sm_90a, sm_100a): 227 KiB.
constexpr int64_t kMaxDynamicSmem = 232448;

// Shared memory of the SSD prefill kernels, in bytes: the kernel table's formulas (equal to
// sl_ssd.cuh's ssd_chunk_scan_smem, ssd_chunk_state_smem; tests/unit/runtime/KernelTableTest).
int64_t ssdChunkScanSmem(int64_t headDim, int64_t chunk);
int64_t ssdChunkStateSmem(int64_t headDim, int64_t stateSize, int64_t chunk);

// The tile problem of `op` in a function planned for `maxTokens` tokens on GPU `target`
// ("sm_90a"), or nullopt when the op has no tile parameters.
std::optional<TileProblem> tileProblem(mlir::Operation *op, int64_t maxTokens,
                                       const std::string &target);

// The tile parameters a sweep measures for `problem` on `target` (`slc compile --tuning-sweep`,
// docs/tuning.md): the heuristic's first, then the variants of its kernel template worth timing
// (pruned by hand; sl-check-kernel-shapes' rules drop those that do not fit the op).
std::vector<std::map<std::string, int64_t>> tileCandidates(const TileProblem &problem,
                                                           const std::string &target);

// What sl-check-kernel-shapes reports for `op` with its sl.kernel / sl.tiles in a function of
// `maxTokens` tokens (compiler/CheckKernelShapes.cpp): empty when the kernels support it.
std::vector<std::string> kernelShapeErrors(mlir::Operation *op, int64_t maxTokens);

}  // namespace sl::compiler
