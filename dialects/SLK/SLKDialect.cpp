#include "dialects/SLK/SLKDialect.h"
#include "runtime/schema/ArgNames.h"

#include "dialects/SL/SLDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;
using namespace mlir::slk;

#include "dialects/SLK/SLKOpsDialect.cpp.inc"

#define GET_OP_CLASSES
#include "dialects/SLK/SLKOps.cpp.inc"

void SLKDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/SLK/SLKOps.cpp.inc"
      >();
}

LogicalResult ColumnSliceOp::verify() {
  auto source = llvm::cast<MemRefType>(getSource().getType());
  auto view = llvm::cast<MemRefType>(getView().getType());
  if (source.getRank() != 2 || view.getRank() != 2)
    return emitOpError("expects rank-2 source and view");
  int64_t columns = source.getDimSize(1), width = view.getDimSize(1);
  int64_t offset = getOffsetAttr().getInt();
  if (offset < 0 || ShapedType::isDynamic(width) || offset + width > columns)
    return emitOpError() << "expects columns [" << offset << ", " << offset + width
                         << ") within the source's " << columns << " columns";
  return success();
}

LogicalResult LaunchOp::verify() {
  auto kernel = SymbolTable::lookupNearestSymbolFrom<KernelOp>(*this, getKernelAttr());
  if (!kernel)
    return emitOpError() << "references unknown kernel " << getKernelAttr();
  if (getGrid().size() != 9)
    return emitOpError() << "expects 9 grid integers (mul, add, div for x, y, z), got "
                         << getGrid().size();
  for (int d = 0; d < 3; ++d)
    if (getGrid()[3 * d + 2] <= 0)
      return emitOpError() << "expects a positive divisor for grid dimension " << d;
  if (auto rows = getRowBytes()) {
    if (rows->size() != getArgs().size())
      return emitOpError() << "expects one row_bytes entry per argument (" << getArgs().size()
                           << "), got " << rows->size();
    for (auto [i, bytes] : llvm::enumerate(*rows)) {
      auto pointer = llvm::dyn_cast<IntegerAttr>(getArgs()[i]);
      if (bytes < 0 || (bytes > 0 && !(pointer && pointer.getType().isIndex())))
        return emitOpError() << "row_bytes " << bytes << " of argument " << i
                             << ": expects 0, or a positive row size of a pointer argument";
    }
  }
  int64_t operands = getOperands().size();
  for (Attribute arg : getArgs()) {
    auto checkIndex = [&](Attribute attr) -> LogicalResult {
      auto index = llvm::dyn_cast<IntegerAttr>(attr);
      if (!index || !index.getType().isIndex() || index.getInt() < 0 ||
          index.getInt() >= operands)
        return emitOpError() << "argument " << attr << " is not an operand index < " << operands;
      return success();
    };
    if (auto integer = llvm::dyn_cast<IntegerAttr>(arg)) {
      if (integer.getType().isIndex() && failed(checkIndex(integer)))
        return failure();
    } else if (auto part = llvm::dyn_cast<ArrayAttr>(arg)) {
      auto name = part.size() == 2 ? llvm::dyn_cast<StringAttr>(part[1]) : StringAttr();
      if (!name || failed(checkIndex(part[0])))
        return emitOpError() << "expects a state part as [operand : index, \"part\"], got "
                             << arg;
      auto table = ::sl::schema::runtimeValueNamed(name.getValue().str());
      if (!::sl::schema::statePartNamed(name.getValue().str()) &&
          !(table && ::sl::schema::isStateTable(*table)))
        return emitOpError() << "state argument " << arg
                             << " names neither a state part (k, v, conv, ssm) nor a host table "
                                "(anchor_offsets, num_stripes, span_reach)";
    } else if (auto value = llvm::dyn_cast<StringAttr>(arg)) {
      auto known = ::sl::schema::runtimeValueNamed(value.getValue().str());
      if (!known || ::sl::schema::isStateTable(*known))
        return emitOpError() << "run-time argument " << arg
                             << " is not one of n, start, cache_len, capacity, null, error_flag "
                                "(host tables are [operand : index, \"table\"])";
    } else if (!llvm::isa<FloatAttr>(arg)) {
      return emitOpError() << "unsupported argument " << arg;
    }
  }
  return success();
}
