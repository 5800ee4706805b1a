// sl-select-tiles: kernel template + tile parameters per op, from the tuning database or the
// documented heuristics.
#include "compiler/Passes.h"
#include "compiler/TileHeuristics.h"
#include "compiler/TuningDatabase.h"

#include "mlir/IR/Builders.h"

namespace mlir::sl {
#define GEN_PASS_DEF_SLSELECTTILES
#include "compiler/Passes.h.inc"

namespace {

struct SelectTiles : impl::SLSelectTilesBase<SelectTiles> {
  using SLSelectTilesBase::SLSelectTilesBase;

  void runOnOperation() override {
    std::optional<::sl::compiler::TuningDatabase> database;
    if (!tuningDb.empty()) {
      auto loaded = ::sl::compiler::TuningDatabase::load(tuningDb);
      if (!loaded) {
        // At the location only: the module printed in full would bury the message.
        emitError(getOperation().getLoc()) << loaded.status().message();
        return signalPassFailure();
      }
      database = std::move(loaded.value());
    }
    Builder builder(&getContext());
    getOperation().walk([&](func::FuncOp func) {
      auto maxTokens = func->getAttrOfType<IntegerAttr>("sl.max_tokens");
      if (!maxTokens) {
        func.emitError("sl-select-tiles expects functions specialised by sl-specialize-phases "
                       "(no sl.max_tokens attribute)");
        return signalPassFailure();
      }
      func.walk([&](Operation *op) {
        auto problem = ::sl::compiler::tileProblem(op, maxTokens.getInt(), target);
        if (!problem)
          return;
        std::map<std::string, int64_t> params = problem->heuristic;
        std::string source = "heuristic";
        if (database)
          if (auto record = database->lookup(problem->kernel, target, problem->bucket)) {
            params = record->params;
            source = record->origin;
          }
        SmallVector<NamedAttribute> tiles;
        for (auto &[name, value] : params)
          tiles.push_back(builder.getNamedAttr(name, builder.getI64IntegerAttr(value)));
        op->setAttr("sl.kernel", builder.getStringAttr(problem->kernel));
        op->setAttr("sl.tiles", builder.getDictionaryAttr(tiles));
        op->setAttr("sl.tile_source", builder.getStringAttr(source));
      });
    });
  }
};

}  // namespace
}  // namespace mlir::sl
