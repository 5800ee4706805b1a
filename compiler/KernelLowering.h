// Lowering of one sl function to slk: per-op rules that choose kernel-library templates and
// build their launches (arguments in template order, grid, block, shared memory). Used by
// sl-lower-to-slk; the launch geometry of every template follows docs/kernels*.md.
#pragma once

#include "dialects/SL/SLDialect.h"
#include "dialects/SLK/SLKDialect.h"
#include "runtime/schema/ArgNames.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <string>
#include <vector>

namespace sl::compiler {

// Launch arguments the runtime supplies: the artifact schema's own enums.
using sl::schema::RuntimeValue;
using sl::schema::StatePart;

// One grid dimension: ceil((mul * n + add) / div), n = tokens of the call.
struct Extent {
  int64_t mul = 0, add = 1, div = 1;
  static Extent fixed(int64_t count) { return {0, count, 1}; }
  static Extent perTokens(int64_t tokensPerBlock) { return {1, 0, tokensPerBlock}; }
  static Extent perElements(int64_t elementsPerToken, int64_t elementsPerBlock) {
    return {elementsPerToken, 0, elementsPerBlock};
  }
};

class FunctionLowering;

// Builds one slk.launch: operands and the argument list in the order of the template's
// parameters.
class LaunchBuilder {
public:
  LaunchBuilder(FunctionLowering &lowering, mlir::Location loc)
      : lowering_(lowering), loc_(loc) {}

  LaunchBuilder &pointer(mlir::Value buffer);                 // buffer, weight or view
  // A part of a state operand (IR: [operand, "k"]).
  LaunchBuilder &statePart(mlir::Value state, StatePart part);
  LaunchBuilder &null();                                      // absent optional pointer
  // A value the runtime supplies (IR: "n", "start", ...), not a host table.
  LaunchBuilder &runtime(RuntimeValue value);
  // A host table of the multi-step config of `state` (anchor_offsets, num_stripes, span_reach;
  // IR: [operand, "span_reach"]): the runtime builds it from the state's config.
  LaunchBuilder &stateTable(RuntimeValue table, mlir::Value state);
  LaunchBuilder &i32(int64_t value);
  LaunchBuilder &i64(int64_t value);
  LaunchBuilder &f32(double value);
  LaunchBuilder &rowStride(mlir::Value buffer);               // i32 elements between rows
  // Marks the last argument (a pointer to `buffer`) as the token rows of an output-rows launch
  // (slk.launch row_bytes): the runtime may run the launch for the last rows only.
  LaunchBuilder &tokenRows(mlir::Value buffer);

  // Appends the arguments of `templateName` in the order of its parameters in the kernel table
  // (runtime/kernels/KernelTable.h): `each` is called with every parameter's name and appends
  // that argument.
  LaunchBuilder &byName(llvm::StringRef templateName,
                        llvm::function_ref<void(llvm::StringRef param, LaunchBuilder &)> each);

  // Declares (once) the specialisation and adds the launch. The dynamic shared memory comes from
  // the kernel table's formula (of the template arguments and the constant arguments); the
  // argument list must match the table's parameters (count, pointer or scalar, float or not).
  void launch(llvm::StringRef templateName, const std::vector<std::string> &templateArgs,
              int64_t threads, Extent x, Extent y = Extent::fixed(1),
              Extent z = Extent::fixed(1));

private:
  unsigned operandIndex(mlir::Value value);
  FunctionLowering &lowering_;
  mlir::Location loc_;
  llvm::SmallVector<mlir::Value> operands_;
  llvm::SmallVector<mlir::Attribute> args_;
  llvm::SmallVector<int64_t> rowBytes_;  // per argument; empty: not an output-rows launch
};

class FunctionLowering {
public:
  FunctionLowering(mlir::ModuleOp module, mlir::Block *body, int64_t maxTokens);

  void map(mlir::Value from, mlir::Value to) { values_[from] = to; }
  mlir::Value lookup(mlir::Value value) const { return values_.lookup(value); }
  int64_t maxTokens() const { return maxTokens_; }
  mlir::OpBuilder &builder() { return builder_; }
  mlir::ModuleOp module() { return module_; }

  // Lowers one op of the sl function (appending to the body); emits a diagnostic on failure.
  mlir::LogicalResult lower(mlir::Operation *op);

  // A new arena buffer for the tensor value `result`, mapped to it.
  mlir::Value allocate(mlir::Value result);
  // A scratch buffer of the given shape (dimension 0 may be dynamic: sized for max tokens).
  mlir::Value scratch(mlir::Location loc, llvm::ArrayRef<int64_t> shape, mlir::Type element);

  // The C++ spelling of an element type in the kernel library, or an error at `loc`.
  mlir::FailureOr<std::string> elementSpelling(mlir::Location loc, mlir::Type type);
  // `buffer` as a contiguous row-major buffer, or an error naming `what`.
  mlir::LogicalResult expectContiguous(mlir::Location loc, mlir::Value buffer,
                                       llvm::StringRef what);

  // The RMSNorm of `x` with `weight`, computed once per (x, weight) by an rms_norm launch into
  // a new buffer (shared by the projections that fused the same norm).
  mlir::FailureOr<mlir::Value> normalized(mlir::Location loc, mlir::Value x, mlir::Value weight,
                                          double epsilon);

  // The specialisation's slk.kernel, declared once; `constants` are the constant arguments
  // (by parameter name) its shared memory may depend on.
  mlir::slk::KernelOp declareKernel(
      llvm::StringRef templateName, const std::vector<std::string> &templateArgs,
      int64_t threads, const std::vector<std::pair<std::string, int64_t>> &constants,
      mlir::Location loc);

private:
  mlir::ModuleOp module_;
  mlir::OpBuilder builder_;
  int64_t maxTokens_;
  llvm::DenseMap<mlir::Value, mlir::Value> values_;
  llvm::DenseMap<std::pair<mlir::Value, mlir::Value>, mlir::Value> normalized_;
};

}  // namespace sl::compiler
