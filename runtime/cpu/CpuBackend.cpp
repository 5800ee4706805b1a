#include "runtime/cpu/CpuBackend.h"

#include "runtime/cpu/CpuExecutor.h"
#include "runtime/cpu/CpuRankGroup.h"

#include <iostream>

namespace sl::runtime {

Backend cpuBackend() {
  return {"cpu", /*hostMemory=*/true,
          [](const Model &model, const std::vector<int> &devices)
              -> StatusOr<std::unique_ptr<Executor>> {
            if (!devices.empty())
              return Status::error("--devices names GPUs: it needs --device=cuda");
            // A tensor-parallel artifact: its ranks simulated on this machine.
            if (model.artifact().worldSize() > 1) {
              std::cerr << "slrun: " << model.artifact().worldSize()
                        << " simulated ranks (tensor parallelism on the CPU backend)\n";
              return std::unique_ptr<Executor>(
                  std::make_unique<CpuRankGroup>(model.artifact(), model.weights()));
            }
            return std::unique_ptr<Executor>(
                std::make_unique<CpuExecutor>(model.artifact(), model.weights()));
          }};
}

}  // namespace sl::runtime
