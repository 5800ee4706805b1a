// The CPU backend: a plain, readable reference implementation of every template of the CUDA
// kernel library (runtime/kernels/*.cuh), with the same name and the same run-time parameters.
// Tile parameters are ignored; everything else (element types, sizes, scratch layouts between
// the kernels of one op) follows docs/kernels*.md, so any launch list of an artifact runs here
// and the CUDA backend can be checked kernel by kernel against it.
#pragma once

#include "runtime/support/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sl::cpu {

// One run-time argument, as the kernel's extern "C" wrapper receives it.
struct KernelArg {
  void *pointer = nullptr;  // pointer parameters (null for an absent optional operand)
  int64_t integer = 0;      // i32 / i64 parameters
  float real = 0.0f;        // float parameters
};

struct KernelCall {
  const std::vector<std::string> &templateArgs;  // C++ spellings: "slk::bf16", "2688", "true"
  const std::vector<KernelArg> &args;            // in the template's parameter order
};

using KernelFn = Status (*)(const KernelCall &call);

// The template arguments and run-time arguments of a call of template `kernel`, read by the
// parameter names of the kernel table (runtime/kernels/KernelTable.h), the signature the
// compiler emits the wrappers from: a reference kernel names what it reads, never a position.
// The constructor throws std::invalid_argument when the table has no such template or the call
// has other argument counts than the table says; a parameter the template lacks throws too.
class Args {
public:
  Args(const std::string &kernel, const KernelCall &call);
  const std::string &kernel() const;
  const KernelCall &call() const { return call_; }
  size_t templateIndex(const char *param) const;
  size_t paramIndex(const char *param) const;
  const std::string &templateArg(const char *param) const {
    return call_.templateArgs[templateIndex(param)];
  }
  const KernelArg &arg(const char *param) const { return call_.args[paramIndex(param)]; }

private:
  const void *signature_;  // the kernels::KernelSignature
  const KernelCall &call_;
};

// The call's argument counts against the kernel table's signature of `kernel`.
Status checkSignature(const std::string &kernel, const KernelCall &call);

// The reference implementation of template `name`, or null when there is none.
KernelFn lookupKernel(const std::string &name);

// Each family registers its templates (runtime/cpu/<Family>Kernels.cpp).
struct KernelEntry {
  const char *name;
  KernelFn fn;
};
std::vector<KernelEntry> denseKernels();      // norms, gemm/gemv, embedding, argmax, elementwise, MoE
std::vector<KernelEntry> mambaKernels();      // conv1d, SSD
std::vector<KernelEntry> attentionKernels();  // kv_append, dense attention
std::vector<KernelEntry> msaKernels();        // multi-step attention

}  // namespace sl::cpu
