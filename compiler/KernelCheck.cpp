#include "compiler/KernelCheck.h"

#include "runtime/kernels/KernelLibrary.h"

#include <atomic>
#include <mutex>
#include <thread>

namespace sl::compiler {

StatusOr<KernelCubins> compileKernels(const std::vector<KernelSource> &kernels, unsigned threads) {
  KernelCubins cubins;
  std::vector<std::string> failures;
  std::mutex mutex;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t k; (k = next++) < kernels.size();) {
      auto compiled = nvrtc::compile(kernels[k].name + ".cu", kernels[k].source,
                                     kernels::libraryHeaders(), kernels[k].target);
      std::lock_guard<std::mutex> lock(mutex);
      if (compiled)
        cubins[{kernels[k].name, kernels[k].target}] = std::move(compiled->cubin);
      else
        failures.push_back(compiled.status().message());
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < std::max(1u, threads); ++t)
    pool.emplace_back(worker);
  for (std::thread &thread : pool)
    thread.join();
  if (!failures.empty()) {
    std::string message = std::to_string(failures.size()) + " kernel compilation(s) failed:\n";
    for (const std::string &failure : failures)
      message += failure + "\n";
    return Status::error(message);
  }
  return cubins;
}

}  // namespace sl::compiler
