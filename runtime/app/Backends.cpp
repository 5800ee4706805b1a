#include "runtime/app/Backends.h"

#include "runtime/core/MemoryBudget.h"
#include "runtime/cpu/CpuBackend.h"
#include "runtime/cuda/CudaBackend.h"

#include <iostream>

namespace sl::runtime {

namespace {
constexpr uint64_t kRandomWeightsSeed = 1;
}  // namespace

const BackendRegistry &backends() {
  static const BackendRegistry registry = [] {
    BackendRegistry all;
    all.add(cpuBackend());
    all.add(cuda::cudaBackend());
    return all;
  }();
  return registry;
}

StatusOr<const Backend *> selectBackend(const std::string &device) {
  return backends().find(device);
}

StatusOr<const Backend *> selectBackend(const cli::CommandLine &options) {
  return selectBackend(options.get("device", "cpu"));
}

StatusOr<std::unique_ptr<Executor>> makeExecutor(const std::string &device, const Model &model) {
  auto backend = selectBackend(device);
  if (!backend)
    return backend.status();
  // Only the CPU backend simulates ranks; several GPUs need NCCL (docs/parallel.md).
  if (model.artifact().worldSize() > 1 && !(*backend)->hostMemory)
    return Status::error("artifact " + model.artifact().path() + " is split over " +
                         std::to_string(model.artifact().worldSize()) +
                         " ranks (slc compile --tensor-parallel): multi-GPU execution "
                         "(--devices, NCCL) is not built yet; run it with --device=cpu, or "
                         "compile without --tensor-parallel for one GPU");
  return (*backend)->create(model);
}

StatusOr<std::unique_ptr<Model>> loadModel(const cli::CommandLine &options, bool weightsRequired) {
  auto artifact = options.required("artifact");
  if (!artifact)
    return artifact.status();
  if (options.has("random-weights")) {
    if (options.has("weights"))
      return Status::error("--random-weights excludes --weights");
    auto backend = selectBackend(options);
    if (!backend)
      return backend.status();
    return Model::synthesize(*artifact, kRandomWeightsSeed, /*materialize=*/(*backend)->hostMemory);
  }
  if (weightsRequired && !options.has("weights"))
    return Status::error("missing --weights (or --random-weights)");
  return Model::load(*artifact, options.get("weights"));
}

Status checkSessionFits(const Model &model, Executor &executor, const Backend &backend,
                        int64_t capacity, uint64_t hostOutputBytes, const std::string &flag) {
  auto state = sessionBytes(model.artifact(), capacity);
  if (!state)
    return Status::error(flag + ": " + state.status().message());
  const uint64_t arena = largestArenaBytes(model.artifact());
  std::string parts = "KV caches " + std::to_string(state->kvCache) + ", Mamba states " +
                      std::to_string(state->mambaState) + ", stripe tables " +
                      std::to_string(state->stripeTables);
  const std::string session = flag + ": a session of " + std::to_string(capacity) + " tokens";
  if (backend.hostMemory) {
    auto needed = addBytes(state->total(), arena);
    needed = needed ? addBytes(*needed, hostOutputBytes) : std::nullopt;
    if (!needed)
      return Status::error(session + " needs more bytes than 64 bits count");
    return checkFits(session + " (" + parts + ", activations " + std::to_string(arena) +
                         ", outputs " + std::to_string(hostOutputBytes) + " bytes)",
                     *needed, availableHostBytes(), "host memory");
  }
  // A device backend keeps the state on the device (arenas are allocated already); the host
  // keeps the stripe tables and the outputs.
  auto hostNeeded = addBytes(state->stripeTables, hostOutputBytes);
  if (!hostNeeded)
    return Status::error(session + " needs more bytes than 64 bits count");
  if (Status status = checkFits(session + " (stripe tables " +
                                    std::to_string(state->stripeTables) + ", outputs " +
                                    std::to_string(hostOutputBytes) + " bytes)",
                                *hostNeeded, availableHostBytes(), "host memory");
      !status)
    return status;
  auto memory = executor.deviceMemory();
  if (!memory)
    return Status::error(session + ": the " + backend.name + " backend does not report its memory");
  return checkFits(session + " (" + parts + " bytes)", state->total(), memory->first,
                   "device memory on " + executor.deviceName().value_or("the device"));
}

int fail(const Status &status) {
  std::cerr << "slrun: " << status.message() << "\n";
  return 1;
}

}  // namespace sl::runtime
