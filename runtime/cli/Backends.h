// What the slrun commands share: the --device check, the model (--weights or --random-weights),
// its backend, and error reporting.
#pragma once

#include "runtime/cli/CommandLine.h"
#include "runtime/core/Executor.h"
#include "runtime/core/Model.h"

#include <memory>

namespace sl::runtime {

// --device is cpu or cuda.
Status checkDevice(const cli::CommandLine &options);
// The backend of `device` ("cpu": the CPU reference backend, "cuda": the CUDA backend, which
// logs the GPU it runs on).
StatusOr<std::unique_ptr<Executor>> makeExecutor(const std::string &device, const Model &model);
// The backend of --device.
inline StatusOr<std::unique_ptr<Executor>> makeExecutor(const cli::CommandLine &options,
                                                        const Model &model) {
  return makeExecutor(options.get("device", "cpu"), model);
}
// --weights DIR, or --random-weights (synthesised in place: on the host for the CPU backend, on
// the device for the CUDA backend).
StatusOr<std::unique_ptr<Model>> loadModel(const cli::CommandLine &options, bool weightsRequired);
// A session of `capacity` tokens must fit the memory the backend has left, checked before it is
// allocated: its state (KV caches, Mamba states, stripe tables), one call's arena and
// `hostOutputBytes` of results kept on the host, in host memory on the CPU backend; the state in
// device memory on the CUDA backend. `flag` names what asked for the capacity
// ("--max-context=N"); the message gives the bytes needed and available.
Status checkSessionFits(const Model &model, Executor &executor, const std::string &device,
                        int64_t capacity, uint64_t hostOutputBytes, const std::string &flag);
// Prints "slrun: message" to stderr; returns the exit status 1.
int fail(const Status &status);

int benchCommand(int argc, char **argv);

}  // namespace sl::runtime
