// The `sl` dialect: types, attributes and ops of the model graph.
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/SL/SLOpsDialect.h.inc"
#include "dialects/SL/SLEnums.h.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/SL/SLTypes.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/SL/SLAttrs.h.inc"

#define GET_OP_CLASSES
#include "dialects/SL/SLOps.h.inc"
