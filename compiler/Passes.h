// Passes of the sl compiler (declared in Passes.td, one .cpp per pass).
#pragma once

#include "dialects/SL/SLDialect.h"
#include "dialects/SLK/SLKDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::sl {

#define GEN_PASS_DECL
#include "compiler/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "compiler/Passes.h.inc"

}  // namespace mlir::sl
