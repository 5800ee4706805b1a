// slc-opt: MlirOptMain with the project's dialects and passes, for lit tests and exploration.
#include "compiler/NestingCheck.h"
#include "compiler/Passes.h"
#include "dialects/SL/SLDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  mlir::registerTransformsPasses();
  mlir::sl::registerSLPasses();
  mlir::DialectRegistry registry;
  registry.insert<mlir::sl::SLDialect, mlir::slk::SLKDialect, mlir::func::FuncDialect>();
  auto [inputName, outputName] =
      mlir::registerAndParseCLIOptions(argc, argv, "sl optimizer driver\n", registry);
  mlir::MlirOptMainConfig config = mlir::MlirOptMainConfig::createFromCLOptions();
  if (config.shouldShowDialects())
    return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, inputName, outputName, registry));

  // The input is read here, not by MlirOptMain, so that a deeply nested file is refused before
  // MLIR's recursive parser sees it (compiler/NestingCheck.h).
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> input = mlir::openInputFile(inputName, &error);
  if (!input) {
    llvm::errs() << "slc-opt: " << error << "\n";
    return 1;
  }
  if (sl::Status status = sl::compiler::checkNesting(
          input->getBuffer(), inputName == "-" ? "<stdin>" : inputName);
      !status) {
    llvm::errs() << "slc-opt: " << status.message() << "\n";
    return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> output = mlir::openOutputFile(outputName, &error);
  if (!output) {
    llvm::errs() << "slc-opt: " << error << "\n";
    return 1;
  }
  if (mlir::failed(mlir::MlirOptMain(output->os(), std::move(input), registry, config)))
    return 1;
  output->keep();
  return 0;
}
