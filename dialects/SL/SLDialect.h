// The `sl` dialect: types, attributes and ops of the model graph.
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <string>

namespace mlir::sl {
/// Shortest decimal spelling of `value` that parses back to it ("0.55", "3.0", "inf"), used by
/// the printer and by diagnostics.
std::string formatDouble(double value);
}  // namespace mlir::sl

#include "dialects/SL/SLOpsDialect.h.inc"
#include "dialects/SL/SLEnums.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/SL/SLTypes.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/SL/SLAttrs.h.inc"

#define GET_OP_CLASSES
#include "dialects/SL/SLOps.h.inc"
