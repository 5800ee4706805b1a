// Runs a function of an artifact on the CPU backend: resolves every launch argument (arena
// buffers, weights, inputs, session state, run-time values, multi-step host tables) and calls the
// reference kernel of the launch's template (runtime/cpu).
#pragma once

#include "runtime/core/Executor.h"

#include <optional>

namespace sl::runtime {

class InProcessCollectives;

// What a rank of a tensor-parallel plan needs besides its plan: the group it meets at each
// collective launch, and its rank in it.
struct RankLink {
  InProcessCollectives *collectives = nullptr;
  int rank = 0;
};

class CpuExecutor : public Executor {
public:
  // `weights[i]` holds weight binding i of `artifact` in its binding dtype and shape. Runs the
  // first plan (the first `slc compile --target`): the reference kernels compute the same for
  // every plan's tile choices.
  CpuExecutor(const Artifact &artifact, const std::vector<std::vector<uint8_t>> &weights)
      : Executor(*artifact.root().plans()->Get(0)), artifact_(artifact), weights_(weights) {}
  // One rank of a tensor-parallel plan, run by a CpuRankGroup: it reads and writes its own
  // state slots of the group's session, which the group claims and advances.
  CpuExecutor(const Artifact &artifact, const std::vector<std::vector<uint8_t>> &weights,
              const sl::schema::Plan &plan, RankLink link)
      : Executor(plan), artifact_(artifact), weights_(weights), link_(link) {}

  StatusOr<std::vector<Tensor>> call(const sl::schema::Function &function, Session &session,
                                     const std::vector<const void *> &inputs,
                                     int64_t tokens, runtime::OutputRows rows) override;
  Status synthesizeState(Session &session, int64_t length, uint64_t seed) override;

private:
  // Refuses another executor's session; makes the session this executor's on its first use.
  Status claim(Session &session);
  const Artifact &artifact_;
  const std::vector<std::vector<uint8_t>> &weights_;
  std::optional<RankLink> link_;
};

// Synthetic state of every slot of the session (all ranks' slots) as if `length` tokens had
// been seen.
Status synthesizeHostState(const Artifact &artifact, Session &session, int64_t length,
                           uint64_t seed);

}  // namespace sl::runtime
