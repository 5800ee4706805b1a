// sl-specialize-phases: forward -> prefill (chunk of <= N tokens) + decode (exactly 1 token).
#include "compiler/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

namespace mlir::sl {
#define GEN_PASS_DEF_SLSPECIALIZEPHASES
#include "compiler/Passes.h.inc"

namespace {

// The type with its token dimension (dimension 0 of an activation tensor) fixed to `tokens`.
Type withTokens(Type type, int64_t tokens) {
  auto tensor = llvm::dyn_cast<RankedTensorType>(type);
  if (!tensor || tensor.getRank() == 0 || !tensor.isDynamicDim(0))
    return type;
  SmallVector<int64_t> shape(tensor.getShape());
  shape[0] = tokens;
  return RankedTensorType::get(shape, tensor.getElementType(), tensor.getEncoding());
}

void fixTokens(func::FuncOp func, int64_t tokens) {
  Block &entry = func.getBody().front();
  for (BlockArgument argument : entry.getArguments())
    argument.setType(withTokens(argument.getType(), tokens));
  func.walk([&](Operation *op) {
    for (OpResult result : op->getResults())
      result.setType(withTokens(result.getType(), tokens));
  });
  SmallVector<Type> inputs, outputs;
  for (Type type : func.getFunctionType().getInputs())
    inputs.push_back(withTokens(type, tokens));
  for (Type type : func.getFunctionType().getResults())
    outputs.push_back(withTokens(type, tokens));
  func.setFunctionType(FunctionType::get(func.getContext(), inputs, outputs));
}

struct SpecializePhases : impl::SLSpecializePhasesBase<SpecializePhases> {
  using SLSpecializePhasesBase::SLSpecializePhasesBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (prefillChunk < 1) {
      module.emitError() << "sl-specialize-phases: prefill-chunk must be >= 1, got "
                         << prefillChunk;
      return signalPassFailure();
    }
    OpBuilder builder(module.getContext());
    // Other functions (hand-written tests of single ops) keep their name and are planned for
    // prefill-chunk tokens.
    for (func::FuncOp func : module.getOps<func::FuncOp>())
      if (func.getSymName() != function && !func->hasAttr("sl.phase")) {
        func->setAttr("sl.phase", builder.getStringAttr("function"));
        func->setAttr("sl.max_tokens", builder.getI64IntegerAttr(prefillChunk));
      }
    auto forward = module.lookupSymbol<func::FuncOp>(function);
    if (!forward)
      return;
    builder.setInsertionPoint(forward);
    auto annotate = [&](func::FuncOp func, StringRef name, StringRef phase, int64_t tokens) {
      func.setSymName(name);
      func->setAttr("sl.phase", builder.getStringAttr(phase));
      func->setAttr("sl.max_tokens", builder.getI64IntegerAttr(tokens));
    };
    auto prefill = llvm::cast<func::FuncOp>(builder.clone(*forward));
    annotate(prefill, "prefill", "prefill", prefillChunk);
    auto decode = llvm::cast<func::FuncOp>(builder.clone(*forward));
    annotate(decode, "decode", "decode", 1);
    fixTokens(decode, 1);
    forward.erase();
  }
};

}  // namespace
}  // namespace mlir::sl
