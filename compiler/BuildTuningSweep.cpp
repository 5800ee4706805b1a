// sl-build-tuning-sweep: replaces the model's functions by one function per (tile problem,
// candidate tiles), the input of sltune (docs/tuning.md).
#include "compiler/Passes.h"
#include "compiler/TileHeuristics.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/TypeUtilities.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>

namespace mlir::sl {
#define GEN_PASS_DEF_SLBUILDTUNINGSWEEP
#include "compiler/Passes.h.inc"

namespace {

bool isState(Type type) { return llvm::isa<KVCacheType, MambaStateType>(type); }

// The argument of `func` a state value continues: state operands are threaded from the function's
// arguments through the ops that update them.
std::optional<unsigned> stateArgument(Value state) {
  while (state) {
    if (auto arg = llvm::dyn_cast<BlockArgument>(state))
      return arg.getArgNumber();
    Operation *op = state.getDefiningOp();
    Value previous;
    for (Value operand : op->getOperands())
      if (operand.getType() == state.getType())
        previous = operand;
    state = previous;
  }
  return std::nullopt;
}

int64_t elementBytes(Type type) {
  return std::max<int64_t>(1, (getElementTypeOrSelf(type).getIntOrFloatBitWidth() + 7) / 8);
}

// Floating-point work and weight bytes of one call of `tokens` tokens (0: not estimated), for
// the TFLOP/s and GB/s sltune reports.
std::pair<double, double> workOf(Operation *op, int64_t tokens) {
  auto shape = [](Value value) { return llvm::cast<ShapedType>(value.getType()).getShape(); };
  Value weight;
  if (auto linear = llvm::dyn_cast<LinearOp>(op))
    weight = linear.getWeight();
  if (auto head = llvm::dyn_cast<LMHeadOp>(op))
    weight = head.getWeight();
  if (weight) {
    double n = double(shape(weight)[0]), k = double(shape(weight)[1]);
    return {2.0 * double(tokens) * n * k, n * k * double(elementBytes(weight.getType()))};
  }
  if (auto experts = llvm::dyn_cast<MoEExpertsOp>(op)) {
    auto up = shape(experts.getUp()), down = shape(experts.getDown());
    double perExpert = double(up[1] * up[2] + down[1] * down[2]);
    double pairs = double(tokens) * double(shape(experts.getWeights())[1]);
    double touched = std::min(double(up[0]), pairs);
    return {2.0 * pairs * perExpert,
            touched * perExpert * double(elementBytes(experts.getUp().getType()))};
  }
  return {0.0, 0.0};
}

struct Problem {
  func::FuncOp func;
  Operation *op;
  int64_t maxTokens;
  ::sl::compiler::TileProblem tiles;
};

struct BuildTuningSweep : impl::SLBuildTuningSweepBase<BuildTuningSweep> {
  using SLBuildTuningSweepBase::SLBuildTuningSweepBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // The distinct problems, in program order: the same bucket in two layers is one problem.
    std::vector<Problem> problems;
    std::set<std::string> seen;
    SmallVector<func::FuncOp> functions(module.getOps<func::FuncOp>());
    for (func::FuncOp func : functions) {
      auto maxTokens = func->getAttrOfType<IntegerAttr>("sl.max_tokens");
      if (!maxTokens) {
        func.emitError("sl-build-tuning-sweep expects functions specialised by "
                       "sl-specialize-phases (no sl.max_tokens attribute)");
        return signalPassFailure();
      }
      func.walk([&](Operation *op) {
        auto tiles = ::sl::compiler::tileProblem(op, maxTokens.getInt(), target);
        if (!tiles)
          return;
        std::string key = tiles->kernel;
        for (auto &[name, value] : tiles->bucket)
          key += " " + name + "=" + value;
        if (seen.insert(key).second)
          problems.push_back({func, op, maxTokens.getInt(), *tiles});
      });
    }
    OpBuilder builder(module.getContext());
    builder.setInsertionPointToEnd(module.getBody());
    for (size_t p = 0; p < problems.size(); ++p) {
      auto candidates = ::sl::compiler::tileCandidates(problems[p].tiles, target);
      for (size_t c = 0; c < candidates.size(); ++c)
        if (failed(buildCase(builder, problems[p], candidates[c], c == 0,
                             "sweep_" + std::to_string(p) + "_" + std::to_string(c))))
          return signalPassFailure();
    }
    for (func::FuncOp func : functions)
      func.erase();
  }

  // The function of one candidate: the op (and the router that feeds a MoE op) with its weights;
  // its other tensor operands become inputs; it takes every state of the model function, in
  // order, so that all functions of the sweep share the model's state slots.
  LogicalResult buildCase(OpBuilder &builder, const Problem &problem,
                          const std::map<std::string, int64_t> &params, bool heuristic,
                          const std::string &name) {
    func::FuncOp source = problem.func;
    SmallVector<Operation *> ops;
    SmallVector<Value> inputs;
    std::function<void(Operation *)> gather = [&](Operation *op) {
      for (Value operand : op->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (isState(operand.getType()))
          continue;
        if (def && llvm::isa<WeightOp, MoERouterOp>(def)) {
          if (llvm::isa<MoERouterOp>(def))
            gather(def);
          if (!llvm::is_contained(ops, def))
            ops.push_back(def);
        } else if (!llvm::is_contained(inputs, operand)) {
          inputs.push_back(operand);
        }
      }
    };
    gather(problem.op);
    ops.push_back(problem.op);

    SmallVector<Type> argTypes, resultTypes;
    for (Value input : inputs)
      argTypes.push_back(input.getType());
    SmallVector<unsigned> stateArgs;
    for (BlockArgument arg : source.getArguments())
      if (isState(arg.getType())) {
        stateArgs.push_back(arg.getArgNumber());
        argTypes.push_back(arg.getType());
      }
    for (Value result : problem.op->getResults())
      if (!isState(result.getType()))
        resultTypes.push_back(result.getType());
    for (unsigned arg : stateArgs)
      resultTypes.push_back(source.getArgument(arg).getType());

    auto func = builder.create<func::FuncOp>(problem.op->getLoc(), name,
                                             builder.getFunctionType(argTypes, resultTypes));
    Block *entry = func.addEntryBlock();
    IRMapping mapping;
    for (size_t i = 0; i < inputs.size(); ++i)
      mapping.map(inputs[i], entry->getArgument(i));
    std::map<unsigned, Value> states;  // source argument -> its value in the new function
    for (size_t i = 0; i < stateArgs.size(); ++i) {
      BlockArgument arg = entry->getArgument(inputs.size() + i);
      states[stateArgs[i]] = arg;
      if (DictionaryAttr attrs = source.getArgAttrDict(stateArgs[i]))
        func.setArgAttrs(arg.getArgNumber(), attrs);
    }
    OpBuilder body = OpBuilder::atBlockEnd(entry);
    Operation *tuned = nullptr;
    for (Operation *op : ops) {
      for (Value operand : op->getOperands())
        if (isState(operand.getType()))
          if (auto arg = stateArgument(operand))
            mapping.map(operand, states.at(*arg));
      Operation *clone = body.clone(*op, mapping);
      // An op returns the update of its state operand of the same type.
      for (auto [old, now] : llvm::zip(op->getResults(), clone->getResults()))
        if (isState(old.getType()))
          for (Value operand : op->getOperands())
            if (operand.getType() == old.getType())
              if (auto arg = stateArgument(operand))
                states[*arg] = now;
      tuned = clone;
    }

    SmallVector<NamedAttribute> tiles, bucket;
    for (auto &[key, value] : params)
      tiles.push_back(builder.getNamedAttr(key, builder.getI64IntegerAttr(value)));
    for (auto &[key, value] : problem.tiles.bucket)
      bucket.push_back(builder.getNamedAttr(key, builder.getStringAttr(value)));
    tuned->setAttr("sl.kernel", builder.getStringAttr(problem.tiles.kernel));
    tuned->setAttr("sl.tiles", builder.getDictionaryAttr(tiles));
    tuned->setAttr("sl.tile_source", builder.getStringAttr(heuristic ? "heuristic" : "sweep"));

    std::vector<std::string> errors = ::sl::compiler::kernelShapeErrors(tuned, problem.maxTokens);
    if (!errors.empty()) {
      func.erase();
      // The heuristic's tiles are what the model compiles with: refused, the model is too.
      if (heuristic)
        return problem.op->emitOpError() << errors.front();
      return success();
    }
    SmallVector<Value> results;
    for (Value result : tuned->getResults())
      if (!isState(result.getType()))
        results.push_back(result);
    for (unsigned arg : stateArgs)
      results.push_back(states.at(arg));
    body.create<func::ReturnOp>(problem.op->getLoc(), results);

    auto [flops, bytes] = workOf(tuned, problem.maxTokens);
    func->setAttr("sl.phase", builder.getStringAttr("sweep"));
    func->setAttr("sl.max_tokens", builder.getI64IntegerAttr(problem.maxTokens));
    func->setAttr("sl.tuning_case",
                  builder.getDictionaryAttr({
                      builder.getNamedAttr("kernel", builder.getStringAttr(problem.tiles.kernel)),
                      builder.getNamedAttr("bucket", builder.getDictionaryAttr(bucket)),
                      builder.getNamedAttr("params", builder.getDictionaryAttr(tiles)),
                      builder.getNamedAttr("heuristic", builder.getBoolAttr(heuristic)),
                      builder.getNamedAttr("flops", builder.getF64FloatAttr(flops)),
                      builder.getNamedAttr("bytes", builder.getF64FloatAttr(bytes)),
                  }));
    return success();
  }
};

}  // namespace
}  // namespace mlir::sl
