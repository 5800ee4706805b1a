// slc-opt: MlirOptMain with the project's dialects and passes, for lit tests and exploration.
#include "compiler/Passes.h"
#include "dialects/SL/SLDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerTransformsPasses();
  mlir::sl::registerSLPasses();
  mlir::DialectRegistry registry;
  registry.insert<mlir::sl::SLDialect, mlir::slk::SLKDialect, mlir::func::FuncDialect>();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "sl optimizer driver\n", registry));
}
