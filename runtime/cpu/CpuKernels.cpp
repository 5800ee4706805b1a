#include "runtime/cpu/CpuKernel.h"

#include "runtime/kernels/KernelTable.h"

#include <map>
#include <stdexcept>

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

namespace {

const kernels::KernelSignature &signatureOf(const void *signature) {
  return *static_cast<const kernels::KernelSignature *>(signature);
}

std::string countProblem(const kernels::KernelSignature &kernel, const KernelCall &call) {
  if (call.templateArgs.size() != kernel.templateParams.size())
    return "expected " + std::to_string(kernel.templateParams.size()) +
           " template arguments, got " + std::to_string(call.templateArgs.size());
  if (call.args.size() != kernel.params.size())
    return "expected " + std::to_string(kernel.params.size()) + " run-time arguments, got " +
           std::to_string(call.args.size());
  return "";
}

}  // namespace

Args::Args(const std::string &kernel, const KernelCall &call) : call_(call) {
  const kernels::KernelSignature *signature = kernels::findKernel(kernel);
  if (!signature)
    throw std::invalid_argument("no template " + kernel + " in the kernel table");
  if (std::string problem = countProblem(*signature, call); !problem.empty())
    throw std::invalid_argument(problem);
  signature_ = signature;
}

const std::string &Args::kernel() const { return signatureOf(signature_).name; }

size_t Args::templateIndex(const char *param) const {
  int i = signatureOf(signature_).templateIndex(param);
  if (i < 0)
    throw std::invalid_argument(kernel() + " has no template parameter " + param +
                                " in the kernel table");
  return size_t(i);
}

size_t Args::paramIndex(const char *param) const {
  int i = signatureOf(signature_).paramIndex(param);
  if (i < 0)
    throw std::invalid_argument(kernel() + " has no parameter " + param +
                                " in the kernel table");
  return size_t(i);
}

Status checkSignature(const std::string &kernel, const KernelCall &call) {
  const kernels::KernelSignature *signature = kernels::findKernel(kernel);
  if (!signature)
    return Status::error(kernel + ": no such template in the kernel table");
  if (std::string problem = countProblem(*signature, call); !problem.empty())
    return Status::error(kernel + ": " + problem);
  return Status::success();
}

}  // namespace sl::cpu
