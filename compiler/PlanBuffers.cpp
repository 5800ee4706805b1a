// sl-plan-buffers: liveness-based arena offsets for every slk.alloc.
#include "compiler/ArenaPlanner.h"
#include "compiler/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::sl {
#define GEN_PASS_DEF_SLPLANBUFFERS
#include "compiler/Passes.h.inc"

namespace {

int64_t elementBytes(Type type) {
  return type.isIntOrFloat() ? std::max<int64_t>(1, type.getIntOrFloatBitWidth() / 8) : 8;
}

// Last position (in `positions`) at which `value` or a view of it is used.
int64_t lastUse(Value value, const DenseMap<Operation *, int64_t> &positions, int64_t end) {
  int64_t last = 0;
  for (Operation *user : value.getUsers()) {
    if (llvm::isa<func::ReturnOp>(user))
      return end;
    last = std::max(last, positions.lookup(user));
    if (auto view = llvm::dyn_cast<slk::ColumnSliceOp>(user))
      last = std::max(last, lastUse(view.getView(), positions, end));
  }
  return last;
}

LogicalResult planFunction(func::FuncOp func) {
  auto maxTokens = func->getAttrOfType<IntegerAttr>("sl.max_tokens");
  if (!maxTokens)
    return func.emitError("sl-plan-buffers expects sl.max_tokens on every function");
  DenseMap<Operation *, int64_t> positions;
  int64_t position = 0;
  func.walk([&](Operation *op) { positions[op] = position++; });
  SmallVector<slk::AllocOp> allocs;
  std::vector<::sl::compiler::ArenaRequest> requests;
  func.walk([&](slk::AllocOp alloc) {
    auto type = llvm::cast<MemRefType>(alloc.getType());
    int64_t elements = 1;
    for (int64_t dim : type.getShape())
      elements *= ShapedType::isDynamic(dim) ? maxTokens.getInt() : dim;
    int64_t first = positions[alloc];
    requests.push_back({elements * elementBytes(type.getElementType()), first,
                        std::max(first, lastUse(alloc, positions, position))});
    allocs.push_back(alloc);
  });
  auto plan = ::sl::compiler::planArena(requests);
  Builder builder(func.getContext());
  for (auto [index, alloc] : llvm::enumerate(allocs)) {
    alloc.setOffsetAttr(builder.getI64IntegerAttr(plan.offsets[index]));
    alloc.setBytesAttr(builder.getI64IntegerAttr(requests[index].bytes));
  }
  func->setAttr("slk.arena_bytes", builder.getI64IntegerAttr(plan.totalBytes));
  return success();
}

struct PlanBuffers : impl::SLPlanBuffersBase<PlanBuffers> {
  void runOnOperation() override {
    for (func::FuncOp func : getOperation().getOps<func::FuncOp>())
      if (failed(planFunction(func)))
        return signalPassFailure();
  }
};

}  // namespace
}  // namespace mlir::sl
