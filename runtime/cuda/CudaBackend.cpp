#include "runtime/cuda/CudaBackend.h"

#include "runtime/cuda/CudaExecutor.h"

#include <iostream>

namespace sl::cuda {

runtime::Backend cudaBackend() {
  return {"cuda", /*hostMemory=*/false,
          [](const runtime::Model &model) -> StatusOr<std::unique_ptr<runtime::Executor>> {
            auto cuda = CudaExecutor::create(model.artifact(), model.weights(), model.randomSeed());
            if (!cuda)
              return Status::error("--device=cuda: " + cuda.status().message());
            std::cerr << "slrun: CUDA backend on " << *(*cuda)->deviceName() << ", the artifact's "
                      << (*cuda)->arch() << " plan (of " << model.artifact().targets() << ")\n";
            return std::unique_ptr<runtime::Executor>(std::move(*cuda));
          }};
}

}  // namespace sl::cuda
