#include "runtime/cuda/CudaRankGroup.h"

#include "runtime/core/Collectives.h"

#include <algorithm>
#include <functional>
#include <iostream>
#include <mutex>

namespace sl::cuda {

StatusOr<std::unique_ptr<CudaRankGroup>>
CudaRankGroup::create(const runtime::Artifact &artifact,
                      const std::vector<std::vector<uint8_t>> &weights,
                      std::optional<uint64_t> randomSeed, const std::vector<int> &devices) {
  const int world = artifact.worldSize();
  if (int(devices.size()) != world)
    return Status::error("artifact " + artifact.path() + " has " + std::to_string(world) +
                         " rank(s) (slc compile --tensor-parallel); --devices names " +
                         std::to_string(devices.size()) + " GPUs: give one GPU per rank");
  for (size_t i = 0; i < devices.size(); ++i)
    if (std::count(devices.begin(), devices.end(), devices[i]) > 1)
      return Status::error("--devices names GPU " + std::to_string(devices[i]) +
                           " twice: each rank needs a GPU of its own");
  auto driver = Driver::get();
  if (!driver)
    return driver.status();
  const Driver &d = **driver;
  int count = 0;
  if (Status s = d.check(d.cuDeviceGetCount(&count), "cuDeviceGetCount"); !s)
    return s;
  for (int device : devices)
    if (device < 0 || device >= count)
      return Status::error("--devices names GPU " + std::to_string(device) +
                           "; the CUDA driver reports " + std::to_string(count) + " GPU(s)");
  // The target of rank 0's GPU picks the plans; every GPU must take the same (checked by
  // CudaExecutor::create).
  CUdevice first;
  if (Status s = d.check(d.cuDeviceGet(&first, devices[0]), "cuDeviceGet"); !s)
    return s;
  int major = 0, minor = 0;
  d.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, first);
  d.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, first);
  auto plan = artifact.planFor(major, minor);
  if (!plan)
    return plan.status();
  const std::vector<const sl::schema::Plan *> plans = artifact.ranksOf(**plan);
  if (int(plans.size()) != world)
    return Status::error("artifact " + artifact.path() + ": the " + (*plan)->target()->str() +
                         " target has " + std::to_string(plans.size()) + " rank plans, not " +
                         std::to_string(world));
  auto nccl = Nccl::get();
  if (!nccl)
    return Status::error("--devices: " + nccl.status().message());
  std::unique_ptr<CudaRankGroup> group(new CudaRankGroup(*plans[0], **nccl));
  group->comms_.assign(size_t(world), nullptr);
  if (Status s = (*nccl)->check((*nccl)->ncclCommInitAll(group->comms_.data(), world,
                                                         devices.data()),
                                "ncclCommInitAll");
      !s) {
    group->comms_.clear();
    return s;
  }
  std::cerr << "slrun: NCCL " << (*nccl)->versionText() << " (" << (*nccl)->path << "), "
            << world << " GPUs\n";
  // Weights and kernels on every GPU at once.
  group->ranks_.resize(size_t(world));
  std::vector<Status> made(size_t(world), Status::success());
  runtime::onRankThreads(size_t(world), [&](size_t rank) {
    auto executor = CudaExecutor::create(
        artifact, weights, randomSeed,
        Placement{devices[rank], plans[rank], *nccl, group->comms_[rank], int(rank)});
    if (executor)
      group->ranks_[rank] = std::move(*executor);
    else
      made[rank] = Status::error("rank " + std::to_string(rank) + " (GPU " +
                                 std::to_string(devices[rank]) + "): " +
                                 executor.status().message());
  });
  for (const Status &status : made)
    if (!status)
      return status;
  if (Status s = group->onEveryRank(
          [&](size_t rank) { return group->ranks_[rank]->checkAllReduce(); }, true);
      !s)
    return s;
  return group;
}

CudaRankGroup::~CudaRankGroup() {
  ranks_.clear();
  for (Nccl::Comm comm : comms_)  // none after an abort
    nccl_.ncclCommDestroy(comm);
}

Status CudaRankGroup::onEveryRank(const std::function<Status(size_t)> &work, bool collectives) {
  if (aborted_)
    return Status::error("a rank failed inside a collective earlier: the group's NCCL "
                         "communicators were aborted; restart slrun");
  std::vector<Status> results(ranks_.size(), Status::success());
  // A failed rank's partners may wait forever in a collective it never joins: the first failure
  // aborts the communicators at once (from the failing rank's thread), which releases them and
  // ends the group.
  std::once_flag abort;
  auto run = [&](size_t rank) {
    results[rank] = work(rank);
    if (!results[rank] && collectives)
      std::call_once(abort, [&] {
        aborted_ = true;
        for (Nccl::Comm comm : comms_)
          nccl_.ncclCommAbort(comm);
      });
  };
  runtime::onRankThreads(ranks_.size(), run);
  if (aborted_)
    comms_.clear();
  for (size_t rank = 0; rank < results.size(); ++rank)
    if (!results[rank])
      return Status::error(results[rank].message() +
                           (ranks_.size() > 1 ? " (rank " + std::to_string(rank) + ")" : ""));
  return Status::success();
}

Status CudaRankGroup::claim(runtime::Session &session) {
  if (Status status = checkOwner(session); !status)
    return status;
  if (!session.backendState())
    session.setBackendState(std::make_unique<RankStates>(id(), ranks()));
  return Status::success();
}

StatusOr<std::vector<runtime::Tensor>>
CudaRankGroup::call(const sl::schema::Function &function, runtime::Session &session,
                    const std::vector<const void *> &inputs, int64_t tokens,
                    runtime::OutputRows rows) {
  // Checked once here, so that no rank refuses a call the others run (and waits for).
  if (Status status = runtime::checkCall(function, session, inputs.size(), tokens); !status)
    return status;
  if (Status status = claim(session); !status)
    return Status::error("slrun (cuda): " + function.name()->str() + ": " + status.message());
  if (capturesOf(function.name()->str()))
    return Status::error("slrun (cuda): " + function.name()->str() +
                         ": capturing buffers (--expert-choices, attention maps) is not "
                         "supported on a tensor-parallel artifact yet");
  std::vector<StatusOr<std::vector<runtime::Tensor>>> outputs(
      ranks_.size(), Status::error("rank did not run"));
  Status status = onEveryRank(
      [&](size_t rank) {
        auto own = ranks_[rank]->own(function);
        if (!own)
          return own.status();
        outputs[rank] = ranks_[rank]->call(function, session, inputs, tokens,
                                           runtime::rowsOfRank(**own, rank, rows));
        return outputs[rank].status();
      },
      true);
  if (!status)
    return status;
  if (function.states()->size() > 0)
    session.advance(tokens);
  return std::move(outputs[0]);
}

Status CudaRankGroup::synthesizeState(runtime::Session &session, int64_t length, uint64_t seed) {
  if (Status status = claim(session); !status)
    return status;
  if (Status status = onEveryRank(
          [&](size_t rank) { return ranks_[rank]->synthesizeState(session, length, seed); },
          false);
      !status)
    return status;
  session.restoreLength(length);
  return Status::success();
}

// Each rank copies its own slots: they are disjoint parts of the session's host buffers.
Status CudaRankGroup::stateToHost(runtime::Session &session, bool kv) {
  if (Status status = claim(session); !status)
    return status;
  return onEveryRank([&](size_t rank) { return ranks_[rank]->stateToHost(session, kv); }, false);
}

Status CudaRankGroup::stateToDevice(runtime::Session &session, bool kv) {
  if (Status status = claim(session); !status)
    return status;
  return onEveryRank([&](size_t rank) { return ranks_[rank]->stateToDevice(session, kv); },
                     false);
}

bool CudaRankGroup::setProfile(std::map<std::string, KernelTime> *profile) {
  otherProfiles_.assign(ranks_.size(), {});
  for (size_t rank = 0; rank < ranks_.size(); ++rank)
    ranks_[rank]->setProfile(rank == 0 || !profile ? profile : &otherProfiles_[rank]);
  return true;
}

std::optional<double> CudaRankGroup::lastCallDeviceMs() const {
  std::optional<double> slowest;
  for (const auto &rank : ranks_)
    if (auto ms = rank->lastCallDeviceMs())
      slowest = std::max(slowest.value_or(0.0), *ms);
  return slowest;
}

std::optional<std::pair<size_t, size_t>> CudaRankGroup::deviceMemory() const {
  std::optional<std::pair<size_t, size_t>> least;
  for (const auto &rank : ranks_)
    if (auto memory = rank->deviceMemory())
      if (!least || memory->first < least->first)
        least = std::make_pair(memory->first, least ? least->second : memory->second);
  return least;
}

}  // namespace sl::cuda
