// The experts the MoE routers chose for every token, read back from either backend (`slrun
// logits --expert-choices`): compared with transformers' choices (tests/golden/*/experts.npy)
// and between the CUDA and CPU backends (tools/gpu_e2e_check.sh), where a rounding difference
// that flips a choice must be told apart from a wrong kernel.
#pragma once

#include "runtime/core/Artifact.h"
#include "runtime/core/Executor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sl::runtime {

// One MoE layer's router launch: its index in the function's launch list, the argument that is
// its `indices` output (int32 [n, TOPK]), TOPK and the number of experts.
struct RouterLaunch {
  size_t launch = 0;
  size_t indicesArg = 0;
  int64_t topK = 0, experts = 0;
  std::string location;
};

// The router launches of `function`, one per MoE layer in launch (= layer) order. The artifact
// does not mark a buffer as "the router's choices", so they are found by the kernel templates
// that write them and the signatures docs/kernels-moe.md gives them:
//   moe_router<T, WT, HIDDEN, EXPERTS, TOPK, THREADS>(x, gate_w, bias, weights, indices, n, ...)
//   moe_topk<EXPERTS, TOPK, THREADS>(logits, bias, weights, indices, n, ...)
// A launch of either template whose arguments or template arguments do not fit is an error.
StatusOr<std::vector<RouterLaunch>> routerLaunches(const Artifact &artifact,
                                                   const sl::schema::Function &function);

// Collects the expert choices of a sequence of calls (prefill chunks, decode steps) in position
// order: [layers, positions, topK], each row sorted ascending (the routers write them in
// descending order of score; the order carries no choice).
class ExpertChoices {
public:
  // For calls of the functions whose router launches are `routers` (every function alike).
  explicit ExpertChoices(std::vector<RouterLaunch> routers) : routers_(std::move(routers)) {}

  // Finds the routers of `functions` of `artifact` (which must agree in number, TOPK and experts)
  // and sets `executor` to capture their indices in every call of those functions. An artifact
  // without MoE layers is an error.
  static StatusOr<ExpertChoices> attach(const Artifact &artifact, Executor &executor,
                                        const std::vector<std::string> &functions);

  // Appends the rows of one captured call (`call.buffers[i]`: layer i's indices, int32
  // [call.tokens, topK]); an error names a missing or short layer, an expert id outside
  // [0, experts) and an expert chosen twice for one token.
  Status append(const CapturedCall &call);

  int64_t layers() const { return int64_t(routers_.size()); }
  int64_t topK() const { return routers_.empty() ? 0 : routers_[0].topK; }
  int64_t positions() const { return positions_; }
  // int32 [layers, positions, topK], row-major.
  std::vector<int32_t> values() const;

private:
  std::vector<RouterLaunch> routers_;
  int64_t positions_ = 0;
  std::vector<std::vector<int32_t>> rows_;  // per layer: [positions, topK]
};

}  // namespace sl::runtime
