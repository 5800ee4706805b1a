#include "runtime/cpu/CpuBackend.h"

#include "runtime/cpu/CpuExecutor.h"

namespace sl::runtime {

Backend cpuBackend() {
  return {"cpu", /*hostMemory=*/true, [](const Model &model) -> StatusOr<std::unique_ptr<Executor>> {
            return std::unique_ptr<Executor>(
                std::make_unique<CpuExecutor>(model.artifact(), model.weights()));
          }};
}

}  // namespace sl::runtime
