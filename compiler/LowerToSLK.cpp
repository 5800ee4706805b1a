// sl-lower-to-slk: specialised sl functions -> slk kernel launches over buffers.
#include "compiler/KernelLowering.h"
#include "compiler/LocationText.h"
#include "compiler/Passes.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::sl {
#define GEN_PASS_DEF_SLLOWERTOSLK
#include "compiler/Passes.h.inc"

namespace {

using ::sl::compiler::FunctionLowering;

bool isState(Type type) { return llvm::isa<KVCacheType, MambaStateType>(type); }

MemRefType bufferType(Type type) {
  auto tensor = llvm::cast<RankedTensorType>(type);
  return MemRefType::get(tensor.getShape(), tensor.getElementType());
}

LogicalResult lowerFunction(func::FuncOp func, ModuleOp module) {
  auto maxTokens = func->getAttrOfType<IntegerAttr>("sl.max_tokens");
  if (!maxTokens)
    return func.emitError("sl-lower-to-slk expects functions specialised by "
                          "sl-specialize-phases (no sl.max_tokens attribute)");
  OpBuilder builder(func);
  // The new signature: tensors become buffers, state results disappear (updated in place).
  SmallVector<Type> inputs, outputs;
  for (Type type : func.getArgumentTypes())
    inputs.push_back(isState(type) ? type : Type(bufferType(type)));
  for (Type type : func.getResultTypes())
    if (!isState(type))
      outputs.push_back(bufferType(type));
  auto lowered = builder.create<func::FuncOp>(func.getLoc(), func.getSymName(),
                                              builder.getFunctionType(inputs, outputs));
  lowered->setAttrs(func->getAttrs());
  lowered.setFunctionType(builder.getFunctionType(inputs, outputs));
  Block *entry = lowered.addEntryBlock();

  // Each state argument remembers the layer that owns it, for the artifact and diagnostics.
  for (BlockArgument arg : func.getArguments()) {
    if (!isState(arg.getType()) || arg.use_empty())
      continue;
    Location owner = (*arg.getUsers().begin())->getLoc();
    lowered.setArgAttr(arg.getArgNumber(), "sl.location",
                       builder.getStringAttr(::sl::compiler::locationText(owner)));
  }

  FunctionLowering lowering(module, entry, maxTokens.getInt());
  for (auto [oldArg, newArg] : llvm::zip(func.getArguments(), entry->getArguments()))
    lowering.map(oldArg, newArg);
  for (Operation &op : func.getBody().front()) {
    if (auto ret = llvm::dyn_cast<func::ReturnOp>(op)) {
      SmallVector<Value> results;
      for (Value value : ret.getOperands())
        if (!isState(value.getType()))
          results.push_back(lowering.lookup(value));
      OpBuilder::atBlockEnd(entry).create<func::ReturnOp>(ret.getLoc(), results);
      continue;
    }
    if (failed(lowering.lower(&op)))
      return failure();
  }
  func.erase();
  return success();
}

struct LowerToSLK : impl::SLLowerToSLKBase<LowerToSLK> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> functions(module.getOps<func::FuncOp>());
    for (func::FuncOp func : functions)
      if (failed(lowerFunction(func, module)))
        return signalPassFailure();
  }
};

}  // namespace
}  // namespace mlir::sl
