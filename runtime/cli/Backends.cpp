#include "runtime/cli/Backends.h"

#include "runtime/core/CpuExecutor.h"
#include "runtime/cuda/CudaExecutor.h"

#include <iostream>

namespace sl::runtime {

namespace {
constexpr uint64_t kRandomWeightsSeed = 1;
}  // namespace

Status checkDevice(const cli::CommandLine &options) {
  std::string device = options.get("device", "cpu");
  if (device == "cpu" || device == "cuda")
    return Status::success();
  return Status::error("--device must be cpu or cuda, got '" + device + "'");
}

StatusOr<std::unique_ptr<Executor>> makeExecutor(const std::string &device, const Model &model) {
  if (device == "cpu")
    return std::unique_ptr<Executor>(
        std::make_unique<CpuExecutor>(model.artifact(), model.weights()));
  auto cuda = sl::cuda::CudaExecutor::create(model.artifact(), model.weights(), model.randomSeed());
  if (!cuda)
    return Status::error("--device=cuda: " + cuda.status().message());
  std::cerr << "slrun: CUDA backend on " << (*cuda)->deviceName() << " (" << (*cuda)->arch()
            << ")\n";
  return std::unique_ptr<Executor>(std::move(*cuda));
}

StatusOr<std::unique_ptr<Model>> loadModel(const cli::CommandLine &options, bool weightsRequired) {
  auto artifact = options.required("artifact");
  if (!artifact)
    return artifact.status();
  if (options.has("random-weights")) {
    if (options.has("weights"))
      return Status::error("--random-weights excludes --weights");
    return Model::synthesize(*artifact, kRandomWeightsSeed,
                             /*materialize=*/options.get("device", "cpu") == "cpu");
  }
  if (weightsRequired && !options.has("weights"))
    return Status::error("missing --weights (or --random-weights)");
  return Model::load(*artifact, options.get("weights"));
}

int fail(const Status &status) {
  std::cerr << "slrun: " << status.message() << "\n";
  return 1;
}

}  // namespace sl::runtime
