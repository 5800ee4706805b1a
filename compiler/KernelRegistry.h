// What the compiler knows about each template of the kernel library (runtime/kernels/*.cuh):
// its header, template parameters and run-time parameters. Emission writes the extern "C"
// wrapper from it; lowering builds launch argument lists in the same order. The launch geometry
// of each template is documented in docs/kernels*.md and computed where the op is lowered.
#pragma once

#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace sl::compiler {

struct KernelParam {
  std::string type;  // C++ type, may name template parameters ("const T *", "i32")
  std::string name;
};

struct KernelTemplate {
  std::string name;    // slk::<name>
  std::string header;  // library header that defines it
  // Template parameter names, in order; a name that is also used in `params` types is a type
  // parameter. `labels` name the parameters in kernel symbols ("" = value only).
  std::vector<std::string> templateParams;
  std::vector<std::string> labels;
  std::vector<KernelParam> params;
};

// The template called `name`, or null.
const KernelTemplate *lookupKernelTemplate(llvm::StringRef name);

// Every registered template (for tests that instantiate them all).
const std::vector<KernelTemplate> &kernelTemplates();

// Symbol of a specialisation: the template name followed by its labelled arguments, e.g.
// gemm_bf16_bm128_bn128_bk32_s3_wm2_wn4_relu2_res.
std::string kernelSymbol(const KernelTemplate &kernel, const std::vector<std::string> &args);

// The extern "C" wrapper that instantiates `kernel` with `args` under the name `symbol`.
std::string kernelWrapperSource(const KernelTemplate &kernel,
                                const std::vector<std::string> &args, llvm::StringRef symbol,
                                int64_t threads);

}  // namespace sl::compiler
