#include "runtime/cpu/CpuKernel.h"

#include <map>

namespace sl::cpu {

KernelFn lookupKernel(const std::string &name) {
  static const std::map<std::string, KernelFn> registry = [] {
    std::map<std::string, KernelFn> all;
    for (auto family : {denseKernels, mambaKernels, attentionKernels, msaKernels})
      for (const KernelEntry &entry : family())
        all[entry.name] = entry.fn;
    return all;
  }();
  auto it = registry.find(name);
  return it == registry.end() ? nullptr : it->second;
}

}  // namespace sl::cpu
