// The CPU simulation of a tensor-parallel artifact (world_size > 1): the ranks of the first
// target run in lockstep, one CpuExecutor and one thread each, with their own weight slices
// and state slots of one session; at every collective launch their buffers are summed in memory
// in rank order (InProcessCollectives). Callers see one executor whose outputs are rank 0's
// (the LM head is replicated: every rank computes the same logits).
#pragma once

#include "runtime/core/Collectives.h"
#include "runtime/cpu/CpuExecutor.h"

#include <memory>
#include <vector>

namespace sl::runtime {

class CpuRankGroup : public Executor {
public:
  // `weights[i]` holds weight binding i of `artifact` (every rank's slices).
  CpuRankGroup(const Artifact &artifact, const std::vector<std::vector<uint8_t>> &weights);
  int ranks() const { return int(ranks_.size()); }

  StatusOr<std::vector<Tensor>> call(const sl::schema::Function &function, Session &session,
                                     const std::vector<const void *> &inputs, int64_t tokens,
                                     OutputRows rows) override;
  Status synthesizeState(Session &session, int64_t length, uint64_t seed) override;

private:
  Status claim(Session &session);
  const Artifact &artifact_;
  InProcessCollectives collectives_;
  std::vector<std::unique_ptr<CpuExecutor>> ranks_;
};

}  // namespace sl::runtime
