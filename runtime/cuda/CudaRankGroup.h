// A tensor-parallel artifact (world_size > 1) on several GPUs of one host (slrun --devices):
// one CudaExecutor per rank, each on its GPU with its plan, weight slices and state slots, and an
// NCCL communicator of the group (ncclCommInitAll); the collective launches of the plans are
// ncclAllReduce calls on the ranks' streams, inside the CUDA graph of a decode step. A call runs
// every rank's launch list on a thread of its own; callers see one executor whose outputs are
// rank 0's (the LM head is replicated).
#pragma once

#include "runtime/cuda/CudaExecutor.h"

#include <memory>
#include <vector>

namespace sl::cuda {

class CudaRankGroup : public runtime::Executor {
public:
  // `devices[r]` runs rank r: as many GPUs as the artifact has ranks, all taking the same
  // target's plans. Weights are uploaded (or synthesised) on every GPU in parallel; an
  // all-reduce of each rank's number checks the communicator before the first call.
  static StatusOr<std::unique_ptr<CudaRankGroup>>
  create(const runtime::Artifact &artifact, const std::vector<std::vector<uint8_t>> &weights,
         std::optional<uint64_t> randomSeed, const std::vector<int> &devices);
  ~CudaRankGroup() override;

  StatusOr<std::vector<runtime::Tensor>> call(const sl::schema::Function &function,
                                              runtime::Session &session,
                                              const std::vector<const void *> &inputs,
                                              int64_t tokens, runtime::OutputRows rows) override;
  Status synthesizeState(runtime::Session &session, int64_t length, uint64_t seed) override;
  Status stateToHost(runtime::Session &session, bool kv) override;
  Status stateToDevice(runtime::Session &session, bool kv) override;

  // Rank 0's kernels (the ranks run alike; one map is not shared between threads). The other
  // ranks are profiled too, into maps of their own: whether a collective runs inside a graph
  // must be the same on every rank (NCCL), and a profiled call launches without one.
  bool setProfile(std::map<std::string, KernelTime> *profile) override;
  // The slowest rank's device time.
  std::optional<double> lastCallDeviceMs() const override;
  // The least free memory of the GPUs, and rank 0's total.
  std::optional<std::pair<size_t, size_t>> deviceMemory() const override;
  std::optional<std::string> deviceName() const override { return ranks_[0]->deviceName(); }
  std::optional<int> deviceMultiprocessors() const override {
    return ranks_[0]->deviceMultiprocessors();
  }
  int ranks() const { return int(ranks_.size()); }

private:
  CudaRankGroup(const sl::schema::Plan &plan, const Nccl &nccl) : Executor(plan), nccl_(nccl) {}
  // The session's RankStates, made on its first use here.
  Status claim(runtime::Session &session);
  // Runs `work(rank)` on a thread per rank; the first failure in rank order. A rank that fails
  // inside a call may leave the others waiting in a collective: the communicators are aborted
  // and the group refuses later calls.
  Status onEveryRank(const std::function<Status(size_t)> &work, bool collectives);

  const Nccl &nccl_;
  std::vector<Nccl::Comm> comms_;
  std::vector<std::unique_ptr<CudaExecutor>> ranks_;
  std::vector<std::map<std::string, KernelTime>> otherProfiles_;  // of ranks 1.. (not read)
  bool aborted_ = false;
};

}  // namespace sl::cuda
