// HuggingFace Nemotron-H / superlinear-exp config.json -> sl graph (docs/importer.md).
//
// Three steps, each with its own error path:
//   1. read config.json (the limited JSON parser of runtime/io/Json.h) and validate it into a
//      ModelConfig: every required key present and of the right JSON type, every value in range
//      (sizes within the bounds of docs/importer.md), the values consistent with each other, the
//      whole model below 1 TiB of weights; absent optional keys get their documented default and
//      are recorded (sl.defaults_applied). Every message is
//      "<config.json>: key '<key>': <problem>".
//   2. resolve checkpoint tensor names from one table of logical names (--name-map overrides).
//   3. build the graph with OpBuilder (locations name the layer of every op) and verify it; a
//      verifier failure at this point is an importer bug and is reported as an internal error.
//
// The steps and the architectures live in: ImportJson.cpp, ConfigReader.cpp, ModelConfig.cpp
// (shared config reading, ImportConfig.h), NameMap.cpp, GraphBuilder.cpp (names and the model
// skeleton, ImportGraph.h), NemotronH.cpp (nemotron_h layers), SuperlinearExp.cpp (the
// multi-step attention of superlinear-exp).
#include "models/Importer.h"

#include "models/ImportConfig.h"
#include "models/ImportGraph.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

namespace sl::importer {

using namespace detail;

namespace {

// The innermost "backbone.layers.N..." (or other) name of a location, for messages.
std::string describeLocation(mlir::Location location) {
  std::string found;
  location->walk([&](mlir::Location l) {
    if (auto name = llvm::dyn_cast<mlir::NameLoc>(l)) {
      found = name.getName().str();
      return mlir::WalkResult::interrupt();
    }
    return mlir::WalkResult::advance();
  });
  return found.empty() ? "an unnamed location" : found;
}

}  // namespace

mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &context,
                                              const ImportOptions &options, std::string &error) {
  context.getOrLoadDialect<mlir::sl::SLDialect>();
  context.getOrLoadDialect<mlir::func::FuncDialect>();

  // <dir>/config.json, or the file itself when given one.
  std::string configPath = options.modelDir;
  if (!llvm::sys::fs::is_regular_file(configPath)) {
    llvm::SmallString<256> path(options.modelDir);
    llvm::sys::path::append(path, "config.json");
    configPath = path.str().str();
  }

  std::optional<json> root = readJsonFile(configPath, error);
  if (!root)
    return nullptr;
  ModelConfig cfg;
  if (!readConfig(*root, configPath, cfg, error))
    return nullptr;
  NameMap names;
  if (!options.nameMapFile.empty() && !names.loadOverrides(options.nameMapFile, error))
    return nullptr;

  // Diagnostics raised while building or verifying are importer bugs: keep the first one.
  std::string diagnostic;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
    if (diagnostic.empty())
      diagnostic = "at " + describeLocation(diag.getLocation()) + ": " + diag.str();
    return mlir::success();
  });
  GraphBuilder builder(context, cfg, names, configPath, options.q1FromQ);
  mlir::OwningOpRef<mlir::ModuleOp> module = builder.build();
  if (failed(mlir::verify(*module)) || !diagnostic.empty()) {
    error = configPath + ": internal error: the imported graph does not verify " +
            (diagnostic.empty() ? std::string("(no diagnostic)") : diagnostic) +
            " (please report this importer bug with the config.json)";
    return nullptr;
  }
  return module;
}

}  // namespace sl::importer
