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

namespace {
// The GPU numbers of "0,1,2"; an error for anything else.
StatusOr<std::vector<int>> gpuList(const std::string &text) {
  std::vector<int> devices;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, end - begin);
    if (item.empty() || item.size() > 4 ||
        item.find_first_not_of("0123456789") != std::string::npos)
      return Status::error("--devices must be GPU numbers separated by commas (e.g. 0,1), "
                           "got '" + text + "'");
    devices.push_back(std::stoi(item));
    begin = end + 1;
  }
  return devices;
}
}  // namespace

StatusOr<std::string> deviceSpec(const cli::CommandLine &options) {
  if (!options.has("devices"))
    return options.get("device", "cpu");
  const std::string device = options.get("device", "cuda");
  if (device != "cuda")
    return Status::error("--devices names GPUs: it needs --device=cuda, got --device=" + device);
  const std::string list = options.get("devices");
  if (auto devices = gpuList(list); !devices)
    return devices.status();
  return "cuda:" + list;
}

StatusOr<const Backend *> selectBackend(const std::string &device) {
  return backends().find(device.substr(0, device.find(':')));
}

StatusOr<const Backend *> selectBackend(const cli::CommandLine &options) {
  auto spec = deviceSpec(options);
  if (!spec)
    return spec.status();
  return selectBackend(*spec);
}

StatusOr<std::unique_ptr<Executor>> makeExecutor(const std::string &device, const Model &model) {
  auto backend = selectBackend(device);
  if (!backend)
    return backend.status();
  std::vector<int> devices;
  if (const size_t colon = device.find(':'); colon != std::string::npos) {
    auto list = gpuList(device.substr(colon + 1));
    if (!list)
      return list.status();
    devices = std::move(*list);
  }
  return (*backend)->create(model, devices);
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
  // A device holds its rank's state only (a tensor-parallel group: its heads).
  auto state = sessionBytes(model.artifact(), capacity,
                            backend.hostMemory || model.artifact().worldSize() == 1
                                ? nullptr
                                : &executor.plan());
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
