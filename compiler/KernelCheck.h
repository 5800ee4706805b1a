// NVRTC check of every emitted kernel for the target whose plan launches it, in parallel. The cubins are
// kept for `slc compile --aot`.
#pragma once

#include "runtime/support/Status.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sl::compiler {

// A kernel of one target's plan, compiled for that target.
struct KernelSource {
  std::string name;
  std::string source;
  std::string target;
};

// (kernel name, target) -> cubin. A failure names the kernel and the target and carries
// NVRTC's log.
using KernelCubins = std::map<std::pair<std::string, std::string>, std::vector<char>>;

StatusOr<KernelCubins> compileKernels(const std::vector<KernelSource> &kernels, unsigned threads);

}  // namespace sl::compiler
