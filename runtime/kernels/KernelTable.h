// The signature of every template of the kernel library (runtime/kernels/*.cuh), in one table
// that the compiler and the runtime both read (plain C++17, no MLIR or LLVM): its header, its
// template parameters and their labels in kernel symbols, its run-time parameters, the dynamic
// shared memory a specialisation needs, and the CPU backend's reference of it.
//  - slc writes each specialisation's extern "C" wrapper (wrapperSource), its symbol
//    (kernelSymbol) and its shared memory (sharedBytes) from it, and checks every launch's
//    argument list against `params`;
//  - the CPU backend reads template and run-time arguments by the names of this table;
//  - tests/unit/runtime/KernelTableTest.cpp compiles, with NVRTC, static_asserts that each
//    shared-memory formula equals the header's own constexpr function (`smemCheck`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sl::kernels {

struct KernelParam {
  std::string type;  // C++ type, may name template parameters ("const T *", "i32", "float")
  std::string name;
};

class TemplateArgs;

// Dynamic shared memory (bytes) of a specialisation, from its template arguments and the
// constant run-time arguments the formula names (TemplateArgs::constant).
using SmemFormula = int64_t (*)(const TemplateArgs &args);

struct KernelSignature {
  std::string name;    // slk::<name>; the CPU backend registers its reference under it too
  std::string header;  // library header that defines it
  // Template parameter names, in order; a name that is also used in `params` types is a type
  // parameter. `labels` name the parameters in kernel symbols ("" = value only).
  std::vector<std::string> templateParams;
  std::vector<std::string> labels;
  std::vector<KernelParam> params;
  SmemFormula sharedBytes = nullptr;  // null: no dynamic shared memory
  // The header's constexpr function computing the same bytes, spelled with the template
  // parameter (and constant run-time parameter) names, e.g.
  // "slk::ssd_chunk_scan_smem(HEAD_DIM, CHUNK)". Empty when sharedBytes is null.
  std::string smemCheck;
  // Specialisations at which tests/unit/runtime/KernelTableTest.cpp checks sharedBytes against
  // smemCheck under NVRTC (real model shapes and the heuristics' tiles; both dtypes).
  struct SmemSample {
    std::vector<std::string> args;                          // every template argument
    std::vector<std::pair<std::string, int64_t>> constants;  // constant run-time arguments
  };
  std::vector<SmemSample> smemSamples;

  // Index of template parameter / run-time parameter `name`, or -1.
  int templateIndex(const std::string &name) const;
  int paramIndex(const std::string &name) const;
  // Whether run-time parameter i is a pointer ("T *"), else a scalar (i32, i64, float).
  bool isPointer(size_t i) const { return !params[i].type.empty() && params[i].type.back() == '*'; }
};

// A template argument spelled as a whole decimal integer ("128", "-1"), else nullopt.
std::optional<int64_t> parseInteger(const std::string &spelling);

// Every template of the library.
const std::vector<KernelSignature> &kernelTable();

// The template called `name`, or null.
const KernelSignature *findKernel(const std::string &name);

// The template arguments of one specialisation (C++ spellings: "slk::bf16", "128", "true"), read
// by parameter name. Errors throw std::invalid_argument naming the template and parameter.
class TemplateArgs {
public:
  TemplateArgs(const KernelSignature &kernel, const std::vector<std::string> &values,
               const std::vector<std::pair<std::string, int64_t>> &constants = {})
      : kernel_(kernel), values_(values), constants_(constants) {}

  const std::string &operator[](const std::string &param) const;
  int64_t integer(const std::string &param) const;       // a decimal integer argument
  int64_t elementBytes(const std::string &param) const;  // slk::bf16: 2, float: 4
  bool flag(const std::string &param) const;             // true / false
  // A constant run-time argument the shared memory depends on (gemv_rmsnorm's k).
  int64_t constant(const std::string &param) const;

private:
  const KernelSignature &kernel_;
  const std::vector<std::string> &values_;
  const std::vector<std::pair<std::string, int64_t>> &constants_;
};

// Template arguments of `kernel` given by parameter name; parameters not named stay empty (a
// formula that reads one throws). For callers that know only what a formula needs.
std::vector<std::string> argsByName(
    const KernelSignature &kernel,
    const std::vector<std::pair<std::string, std::string>> &named);

// Dynamic shared memory of `kernel` specialised with `args` (0 when it uses none).
int64_t sharedBytes(const KernelSignature &kernel, const std::vector<std::string> &args,
                    const std::vector<std::pair<std::string, int64_t>> &constants = {});

// `kernel.smemCheck` spelled for `args` (and `constants`): a C++ expression over the library
// headers, e.g. "slk::ssd_chunk_scan_smem(64, 128)".
std::string smemCheckExpression(const KernelSignature &kernel,
                                const std::vector<std::string> &args,
                                const std::vector<std::pair<std::string, int64_t>> &constants = {});

// Symbol of a specialisation: the template name followed by its labelled arguments, e.g.
// gemm_bf16_bm128_bn128_bk32_s3_wm2_wn4_relu2_res.
std::string kernelSymbol(const KernelSignature &kernel, const std::vector<std::string> &args);

// The extern "C" wrapper that instantiates `kernel` with `args` under the name `symbol`.
std::string wrapperSource(const KernelSignature &kernel, const std::vector<std::string> &args,
                          const std::string &symbol, int64_t threads);

}  // namespace sl::kernels
