// What the slrun commands and the server share: the backends of this build (--device), the model
// (--weights or --random-weights), the session-size check, and error reporting.
#pragma once

#include "runtime/support/CommandLine.h"
#include "runtime/core/Backend.h"
#include "runtime/core/Executor.h"
#include "runtime/core/Model.h"

#include <memory>

namespace sl::runtime {

// The backends of this build: "cpu" (the CPU reference backend) and "cuda" (the CUDA backend,
// which logs the GPU it runs on).
const BackendRegistry &backends();
// --device and --devices as one device spec: "cpu", "cuda", or "cuda:0,1" (--devices: the
// GPUs of the ranks, in rank order; it implies --device=cuda). An error for a malformed list or
// --devices with another backend.
StatusOr<std::string> deviceSpec(const cli::CommandLine &options);
// The backend of a device spec, or of --device/--devices (default cpu); an error names the
// known ones.
StatusOr<const Backend *> selectBackend(const std::string &device);
StatusOr<const Backend *> selectBackend(const cli::CommandLine &options);
// Whether --device (and --devices) name a backend.
inline Status checkDevice(const cli::CommandLine &options) {
  return selectBackend(options).status();
}
// An executor of a device spec's backend (on its GPUs), or of --device's, for `model`.
StatusOr<std::unique_ptr<Executor>> makeExecutor(const std::string &device, const Model &model);
inline StatusOr<std::unique_ptr<Executor>> makeExecutor(const cli::CommandLine &options,
                                                        const Model &model) {
  auto spec = deviceSpec(options);
  if (!spec)
    return spec.status();
  return makeExecutor(*spec, model);
}
// --weights DIR, or --random-weights (synthesised in place: on the host for the CPU backend, on
// the device for the CUDA backend).
StatusOr<std::unique_ptr<Model>> loadModel(const cli::CommandLine &options, bool weightsRequired);
// A session of `capacity` tokens must fit the memory the backend has left, checked before it is
// allocated: its state (KV caches, Mamba states, stripe tables), one call's arena and
// `hostOutputBytes` of results kept on the host, in host memory for a backend that computes there;
// the state in device memory otherwise. `flag` names what asked for the capacity
// ("--max-context=N"); the message gives the bytes needed and available.
Status checkSessionFits(const Model &model, Executor &executor, const Backend &backend,
                        int64_t capacity, uint64_t hostOutputBytes, const std::string &flag);
// Prints "slrun: message" to stderr; returns the exit status 1.
int fail(const Status &status);

int benchCommand(int argc, char **argv);

}  // namespace sl::runtime
