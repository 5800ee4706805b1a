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
