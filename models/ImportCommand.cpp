// `slc import`: options, then importModel (models/Importer.cpp) and printing.
#include "models/ImportCommand.h"

#include "models/Importer.h"

#include "mlir/IR/OperationSupport.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

namespace sl::importer {

int runImportCommand(int argc, char **argv) {
  namespace cl = llvm::cl;
  cl::OptionCategory category("slc import options");
  cl::opt<std::string> modelDir(cl::Positional, cl::Required, cl::value_desc("hf-model-dir"),
                                cl::desc("<hf-model-dir>"),
                                cl::cat(category));
  cl::opt<std::string> output("o", cl::desc("Output file for the sl graph (default: stdout)"),
                              cl::value_desc("file"), cl::init("-"), cl::cat(category));
  cl::opt<std::string> nameMap(
      "name-map",
      cl::desc("JSON object overriding checkpoint tensor-name patterns by logical name, e.g. "
               "{\"q1_proj\": \"backbone.layers.{i}.mixer.q_search.weight\"} "
               "(the table is in docs/importer.md)"),
      cl::value_desc("file.json"), cl::cat(category));
  cl::opt<bool> q1FromQ("q1-from-q",
                        cl::desc("Training-free routing for superlinear-exp models: Q1 := Q2 "
                                 "(reuse q_proj, no q1_proj weights); off by default"),
                        cl::init(false), cl::cat(category));
  cl::opt<bool> debugInfo("mlir-print-debuginfo",
                          cl::desc("Print op locations (the layer each op belongs to)"),
                          cl::init(false), cl::cat(category));
  cl::HideUnrelatedOptions(category);
  if (!cl::ParseCommandLineOptions(
          argc, argv,
          "reads <hf-model-dir>/config.json (a HuggingFace Nemotron-H or superlinear-exp model; "
          "a config.json path is accepted too) and writes the whole model graph in the sl "
          "dialect (docs/importer.md)\n",
          &llvm::errs()))
    return 1;

  mlir::MLIRContext context;
  std::string error;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      importModel(context, ImportOptions{modelDir, nameMap, q1FromQ}, error);
  if (!module) {
    llvm::errs() << "slc import: " << error << "\n";
    return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> file = mlir::openOutputFile(output, &error);
  if (!file) {
    llvm::errs() << "slc import: " << output << ": cannot write: " << error << "\n";
    return 1;
  }
  mlir::OpPrintingFlags flags;
  if (debugInfo)
    flags.enableDebugInfo();
  module->print(file->os(), flags);
  file->os() << "\n";
  file->os().flush();
  if (file->os().has_error()) {
    llvm::errs() << "slc import: " << output << ": cannot write: "
                 << file->os().error().message() << "\n";
    file->os().clear_error();
    return 1;
  }
  file->keep();
  return 0;
}

}  // namespace sl::importer
