#include "runtime/cuda/CudaBackend.h"

#include "runtime/cuda/CudaExecutor.h"
#include "runtime/cuda/CudaRankGroup.h"

#include <iostream>

namespace sl::cuda {

runtime::Backend cudaBackend() {
  return {"cuda", /*hostMemory=*/false,
          [](const runtime::Model &model,
             const std::vector<int> &devices) -> StatusOr<std::unique_ptr<runtime::Executor>> {
            const int world = model.artifact().worldSize();
            if (world > 1 && devices.empty())
              return Status::error("artifact " + model.artifact().path() + " is split over " +
                                   std::to_string(world) +
                                   " ranks (slc compile --tensor-parallel): name a GPU per rank "
                                   "with --devices (e.g. --devices=0,1)");
            if (world > 1 || devices.size() > 1) {
              auto group = CudaRankGroup::create(model.artifact(), model.weights(),
                                                 model.randomSeed(), devices);
              if (!group)
                return Status::error("--device=cuda: " + group.status().message());
              std::cerr << "slrun: CUDA backend on " << (*group)->ranks() << " GPUs ("
                        << *(*group)->deviceName() << " ...), the artifact's "
                        << (*group)->plan().target()->str() << " plans\n";
              return std::unique_ptr<runtime::Executor>(std::move(*group));
            }
            Placement placement;
            placement.device = devices.empty() ? 0 : devices[0];
            auto cuda = CudaExecutor::create(model.artifact(), model.weights(), model.randomSeed(),
                                             placement);
            if (!cuda)
              return Status::error("--device=cuda: " + cuda.status().message());
            std::cerr << "slrun: CUDA backend on " << *(*cuda)->deviceName() << ", the artifact's "
                      << (*cuda)->arch() << " plan (of " << model.artifact().targets() << ")\n";
            return std::unique_ptr<runtime::Executor>(std::move(*cuda));
          }};
}

}  // namespace sl::cuda
