// The CUDA backend: kernels compiled by NVRTC on first use (cubins kept in an on-disk cache, or
// the artifact's AOT cubins), weights and session state in device memory, launches from the
// artifact's launch list on one stream.
#pragma once

#include "runtime/core/Executor.h"
#include "runtime/cuda/CudaDriver.h"
#include "runtime/cuda/Nccl.h"
#include "runtime/core/RandomWeights.h"

#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace sl::cuda {

// The kernel cache: $SLC_CACHE_DIR (default ~/.cache/slc), one cubin per key = hash of the
// source, the NVRTC options and target, the NVRTC version and the artifact schema version;
// written atomically (temp file + rename). SLC_DISABLE_CACHE=1 bypasses it.
StatusOr<std::vector<char>> compileCached(const std::string &name, const std::string &source,
                                          const std::vector<std::pair<std::string, std::string>> &headers,
                                          const std::string &arch);

// Where an executor runs: a GPU, and for one rank of a tensor-parallel artifact (CudaRankGroup)
// its plan, its NCCL communicator, and its place in the session state the group owns.
struct Placement {
  int device = 0;                          // CUDA device ordinal
  const sl::schema::Plan *plan = nullptr;  // null: the artifact's plan for the GPU
  const Nccl *nccl = nullptr;              // set for a rank of a group
  Nccl::Comm comm = nullptr;
  int rank = 0;
};

// A session's state on the GPUs of a CudaRankGroup: one DeviceState per rank (each rank's
// heads), owned by the group (the session's executor).
struct RankStates final : runtime::BackendState {
  RankStates(uint64_t group, int ranks) : BackendState(group), ranks(size_t(ranks)) {}
  std::vector<std::unique_ptr<runtime::BackendState>> ranks;
};

class CudaExecutor : public runtime::Executor {
public:
  // Uploads the weights its plan binds (or, with `randomSeed`, synthesises them on the device:
  // RandomWeights.h) and compiles (or loads from the cache) every kernel of its plan.
  static StatusOr<std::unique_ptr<CudaExecutor>>
  create(const runtime::Artifact &artifact, const std::vector<std::vector<uint8_t>> &weights,
         std::optional<uint64_t> randomSeed = std::nullopt, Placement placement = {});
  ~CudaExecutor() override;

  StatusOr<std::vector<runtime::Tensor>> call(const sl::schema::Function &function,
                                              runtime::Session &session,
                                              const std::vector<const void *> &inputs,
                                              int64_t tokens, runtime::OutputRows rows) override;
  Status synthesizeState(runtime::Session &session, int64_t length, uint64_t seed) override;
  Status stateToHost(runtime::Session &session, bool kv) override;
  Status stateToDevice(runtime::Session &session, bool kv) override;

  // Profiles launch the kernels one by one between events (no graph).
  bool setProfile(std::map<std::string, KernelTime> *profile) override {
    profile_ = profile;
    return true;
  }
  // Events around the call's launches.
  std::optional<double> lastCallDeviceMs() const override { return lastCallDeviceMs_; }
  // cuMemGetInfo.
  std::optional<std::pair<size_t, size_t>> deviceMemory() const override;
  std::optional<std::string> deviceName() const override { return deviceName_; }
  std::optional<int> deviceMultiprocessors() const override { return multiprocessors_; }
  const std::string &arch() const { return arch_; }
  // A rank of a group: an all-reduce of rank + 1 over the communicator must give the sum over
  // the plan's world size (run on every rank at once, before the first call).
  Status checkAllReduce();

private:
  // One session's state on the device, owned by the session (runtime::Session::backendState):
  // its allocations are freed when the session is destroyed.
  struct DeviceState final : runtime::BackendState {
    DeviceState(uint64_t executor, const Driver &driver, CUcontext context)
        : BackendState(executor), driver(driver), context(context) {}
    ~DeviceState() override;
    const Driver &driver;
    CUcontext context;  // the device's primary context, retained for the process
    std::vector<CUdeviceptr> k, v, conv, ssm, anchorOffsets, spanReach;
    std::vector<CUdeviceptr> allocations;
  };
  CudaExecutor(const Driver &driver, const runtime::Artifact &artifact,
               const sl::schema::Plan &plan, Placement placement)
      : Executor(plan), driver_(driver), artifact_(artifact), placement_(placement) {}
  bool grouped() const { return placement_.nccl != nullptr; }
  // This executor's state of `session`: the session's BackendState, or for a rank of a group
  // its entry in the group's RankStates (the group made it and checked the owner).
  runtime::BackendState *ownState(runtime::Session &session) const;
  void setOwnState(runtime::Session &session, std::unique_ptr<runtime::BackendState> state);
  Status checkOwns(const runtime::Session &session) const;
  struct Launch {  // one launch of a call, arguments resolved
    uint32_t kernel = 0;
    // A collective (an all-reduce over the group's GPUs): `count` elements at `address`.
    const sl::schema::Collective *collective = nullptr;
    CUdeviceptr address = 0;
    size_t count = 0;
    unsigned grid[3] = {1, 1, 1};
    std::vector<uint64_t> slots;  // one 8-byte slot per kernel parameter
    const sl::schema::Launch *source = nullptr;  // in the artifact (for error messages)
    size_t index = 0;                             // in the function's launch list
    int64_t rows = 0, skippedRows = 0;            // token rows it runs for, rows skipped
  };
  struct Graph {  // a function's step as an executable graph (one kernel node per launch)
    CUgraph graph = nullptr;
    CUgraphExec exec = nullptr;
    int64_t tokens = 0;
    std::vector<CUgraphNode> nodes;
    std::vector<Launch> launches;  // the arguments the graph holds now
  };
  // SL_CUDA_GRAPHS=0 launches the decode step kernel by kernel (for comparisons).
  static bool graphsEnabled();
  CUDA_KERNEL_NODE_PARAMS nodeParams(Launch &launch, std::vector<void *> &params);
  std::string kernelLabel(const Launch &launch) const;
  Status launchOne(Launch &launch);
  Status launchDirect(std::vector<Launch> &launches);
  Status launchProfiled(std::vector<Launch> &launches);
  // Kernel by kernel, each capture copied to the host once its launch has finished.
  Status launchCapturing(const sl::schema::Function &function, CUdeviceptr arena,
                         std::vector<Launch> &launches,
                         const std::vector<runtime::Capture> &captures,
                         runtime::CapturedCall &captured);
  Status launchGraph(const std::string &function, int64_t tokens, std::vector<Launch> &launches);
  // The graph of a step with collectives, captured from the stream (NCCL's kernels enter it
  // that way); graph.nodes[i] is launch i's kernel node (null for a collective).
  Status captureGraph(const std::string &function, Graph &graph, std::vector<Launch> &launches);
  void releaseGraph(Graph &graph);
  StatusOr<CUdeviceptr> allocate(size_t bytes, const std::string &what);
  // The device state of `session`, made on its first use here; an error for another executor's
  // session. `keepsState`: the caller continues the session's sequence, which must then be
  // empty when the state is new.
  StatusOr<DeviceState *> deviceState(runtime::Session &session, bool keepsState);
  // slk::fill_random of `run` into the elements at `out` (synthetic weights and session state).
  Status fill(CUdeviceptr out, const runtime::RandomRun &run, sl::schema::DType dtype,
              uint64_t seed, uint32_t stream, float scale, float offset, const std::string &what);

  const Driver &driver_;
  const runtime::Artifact &artifact_;
  Placement placement_;
  std::vector<bool> usedSlots_;  // the state slots of the plan's functions (its heads)
  std::string deviceName_, arch_;
  int multiprocessors_ = 0;
  CUcontext context_ = nullptr;
  CUstream stream_ = nullptr;
  std::vector<CUfunction> functions_;   // per artifact kernel
  std::vector<CUdeviceptr> weights_;    // per weight binding (0: another rank's)
  CUdeviceptr arena_ = 0;                  // shared by the functions: one call at a time
  std::map<std::string, CUdeviceptr> inputs_;  // per function
  CUdeviceptr errorFlag_ = 0;
  // Copies between the device state and the host buffers of `session` (see stateToHost).
  Status copyState(runtime::Session &session, bool kv, bool toHost);
  std::vector<CUdeviceptr> allocations_;
  std::vector<std::pair<std::string, std::string>> headers_;  // the artifact's library
  std::map<sl::schema::DType, CUfunction> fills_;
  std::map<std::string, Graph> graphs_;  // per function
  std::map<std::string, KernelTime> *profile_ = nullptr;
  std::vector<CUevent> events_;
  CUevent callEvents_[2] = {nullptr, nullptr};
  double lastCallDeviceMs_ = 0;
};

}  // namespace sl::cuda
