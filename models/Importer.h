// HuggingFace Nemotron-H / superlinear-exp config.json -> sl graph.
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace sl::importer {

struct ImportOptions {
  std::string modelDir;     // directory holding config.json
  std::string nameMapFile;  // optional JSON file overriding checkpoint tensor-name patterns
  bool q1FromQ = false;     // training-free routing: Q1 := Q2 (reuses q_proj), off by default
};

// Builds the whole model graph. On failure returns null and sets `error` to a message that names
// the file, the key and the problem.
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context,
                                              const ImportOptions &options, std::string &error);

}  // namespace sl::importer
