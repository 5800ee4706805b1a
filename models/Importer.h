// HuggingFace Nemotron-H / superlinear-exp config.json -> sl graph.
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/ArrayRef.h"

#include <string>

namespace sl::importer {

struct ImportOptions {
  std::string modelDir;     // directory holding config.json (or the config.json file itself)
  std::string nameMapFile;  // optional JSON file overriding checkpoint tensor-name patterns
  bool q1FromQ = false;     // training-free routing: Q1 := Q2 (reuses q_proj), off by default
};

// Builds the whole model graph. On failure returns null and sets `error` to a message that names
// the file, the key and the problem ("<file>: key '<key>': <problem>"); the caller prefixes the
// tool name.
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context,
                                              const ImportOptions &options, std::string &error);

// One entry of the checkpoint tensor-name table: a logical name, its default pattern ({i} = layer
// index, {e} = expert index, kept in the sl.weight name: one tensor per expert, stacked) and what
// it is. `--name-map=file.json` overrides patterns by logical name; docs/importer.md lists them.
struct NameMapEntry {
  const char *logical;
  const char *pattern;
  const char *description;
};
llvm::ArrayRef<NameMapEntry> defaultNameMap();

}  // namespace sl::importer
