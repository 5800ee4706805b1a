#include "runtime/cpu/CpuRankGroup.h"


namespace sl::runtime {

CpuRankGroup::CpuRankGroup(const Artifact &artifact,
                           const std::vector<std::vector<uint8_t>> &weights)
    : Executor(*artifact.root().plans()->Get(0)), artifact_(artifact),
      collectives_(artifact.worldSize()) {
  std::vector<const sl::schema::Plan *> plans = artifact.ranksOf(plan());
  for (size_t rank = 0; rank < plans.size(); ++rank)
    ranks_.push_back(std::make_unique<CpuExecutor>(artifact, weights, *plans[rank],
                                                   RankLink{&collectives_, int(rank)}));
}

Status CpuRankGroup::claim(Session &session) {
  if (Status status = checkOwner(session); !status)
    return status;
  if (!session.backendState())
    session.setBackendState(std::make_unique<BackendState>(id()));
  return Status::success();
}

StatusOr<std::vector<Tensor>> CpuRankGroup::call(const sl::schema::Function &function,
                                                 Session &session,
                                                 const std::vector<const void *> &inputs,
                                                 int64_t tokens, OutputRows rows) {
  if (Status status = checkCall(function, session, inputs.size(), tokens); !status)
    return status;
  if (!session.hasHostState())
    return Status::error("the CPU backend needs a session with host state");
  if (Status status = claim(session); !status)
    return Status::error("slrun: " + function.name()->str() + ": " + status.message());
  // Captures name launches of one plan; a rank's launch list is its own (not built yet).
  if (capturesOf(function.name()->str()))
    return Status::error("slrun: " + function.name()->str() +
                         ": capturing buffers (--expert-choices, attention maps) is not "
                         "supported on a tensor-parallel artifact yet");
  collectives_.reset();
  // Every rank runs its plan's function on its own thread; a rank that fails releases the
  // others from the collective they wait at.
  std::vector<StatusOr<std::vector<Tensor>>> results(ranks_.size(),
                                                     Status::error("rank did not run"));
  onRankThreads(ranks_.size(), [&](size_t rank) {
    auto own = ranks_[rank]->own(function);
    results[rank] = own ? ranks_[rank]->call(function, session, inputs, tokens,
                                             rowsOfRank(**own, rank, rows))
                        : own.status();
    if (!results[rank])
      collectives_.abort();
  });
  // The first failure in rank order that is not another rank's abort says what went wrong.
  for (size_t rank = 0; rank < ranks_.size(); ++rank)
    if (!results[rank] &&
        results[rank].status().message().find("another rank failed") == std::string::npos)
      return Status::error(results[rank].status().message() +
                           (ranks_.size() > 1 ? " (rank " + std::to_string(rank) + ")" : ""));
  for (auto &result : results)
    if (!result)
      return result.status();
  if (function.states()->size() > 0)
    session.advance(tokens);
  return std::move(results[0]);
}

Status CpuRankGroup::synthesizeState(Session &session, int64_t length, uint64_t seed) {
  if (!session.hasHostState())
    return Status::error("the CPU backend needs a session with host state");
  if (Status status = claim(session); !status)
    return status;
  return synthesizeHostState(artifact_, session, length, seed);
}

}  // namespace sl::runtime
