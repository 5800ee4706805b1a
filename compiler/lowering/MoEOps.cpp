// Lowering rules of the MoE router and experts (docs/kernels-moe.md).
#include "compiler/lowering/Rules.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"

namespace sl::compiler::lowering {

using namespace mlir;
namespace sld = mlir::sl;

LogicalResult lowerMoERouter(FunctionLowering &L, sld::MoERouterOp op) {
  Location loc = op.getLoc();
  auto t = L.elementSpelling(loc, getElementTypeOrSelf(op.getX().getType()));
  auto wt = L.elementSpelling(loc, getElementTypeOrSelf(op.getGate().getType()));
  Value x = L.lookup(op.getX());
  if (failed(t) || failed(wt) || failed(L.expectContiguous(loc, x, "the MoE router input")) ||
      failed(expectF32(op, op.getCorrectionBias(), "the router correction bias")))
    return failure();
  int64_t experts = featureSize(op.getGate(), 0), hidden = featureSize(op.getX());
  int64_t topK = op.getTopKAttr().getInt();
  // The arguments of moe_router and moe_topk by parameter name: both take the selection
  // arguments (correction_bias .. norm_topk_prob), in the order of the kernel table.
  Value logits;
  auto routerArg = [&](StringRef param, LaunchBuilder &launch) {
    if (param == "x")
      launch.pointer(x);
    else if (param == "gate_w")
      launch.pointer(L.lookup(op.getGate()));
    else if (param == "logits")
      launch.pointer(logits);
    else if (param == "correction_bias")
      launch.pointer(L.lookup(op.getCorrectionBias()));
    else if (param == "weights")
      launch.pointer(L.allocate(op.getWeights()));
    else if (param == "indices")
      launch.pointer(L.allocate(op.getIndices()));
    else if (param == "n")
      launch.runtime(RuntimeValue::n);
    else if (param == "routed_scaling_factor")
      launch.f32(op.getRoutedScalingFactor().convertToDouble());
    else if (param == "norm_topk_prob")
      launch.i32(op.getNormTopkProb() ? 1 : 0);
  };
  if (L.maxTokens() > 8 && *t == *wt && *t == "slk::bf16") {
    // A prefill chunk: logits = x · gate^T on the tensor cores (the GEMM tile of
    // docs/kernels-dense.md's defaults), then one warp per token selects the experts.
    logits = L.scratch(loc, {ShapedType::kDynamic, experts}, L.builder().getF32Type());
    LaunchBuilder gemm(L, loc);
    gemm.pointer(x).rowStride(x).pointer(L.lookup(op.getGate())).null().null()
        .pointer(logits).i32(experts).runtime(RuntimeValue::n).i32(experts).i32(hidden);
    launchGemm(gemm, *t, "float", GemmTiles{128, 128, 32, 3, 2, 4},
               {activationArg(std::nullopt), boolArg(false), boolArg(false)}, experts);
    LaunchBuilder(L, loc)
        .byName("moe_topk", routerArg)
        .launch("moe_topk", {str(experts), str(topK), "256"}, 256, Extent::perTokens(8));
    return success();
  }
  int64_t threads = L.maxTokens() <= 8 ? 1024 : 256;
  LaunchBuilder(L, loc)
      .byName("moe_router", routerArg)
      // One block per token: a decode step has a single token, so its block takes 32 warps
      // (4 experts each) instead of 8 (16 each), a quarter of the dependent loads per warp.
      .launch("moe_router", {*t, *wt, str(hidden), str(experts), str(topK), str(threads)},
              threads, Extent::perTokens(1));
  return success();
}

LogicalResult lowerMoEExperts(FunctionLowering &L, sld::MoEExpertsOp op) {
  Location loc = op.getLoc();
  auto t = L.elementSpelling(loc, getElementTypeOrSelf(op.getX().getType()));
  Value x = L.lookup(op.getX());
  if (failed(t) || failed(L.expectContiguous(loc, x, "the MoE experts input")))
    return failure();
  auto kernel = op->getAttrOfType<StringAttr>("sl.kernel");
  if (!kernel)
    return op.emitError("sl-lower-to-slk expects tile choices from sl-select-tiles");
  auto up = llvm::cast<RankedTensorType>(op.getUp().getType());
  int64_t experts = up.getDimSize(0), inter = up.getDimSize(1), hidden = up.getDimSize(2);
  int64_t topK = featureSize(op.getWeights());
  std::string act = activationArg(op.getActivation());
  bool hasShared = bool(op.getShared()), hasResidual = bool(op.getResidual());
  Value weights = L.lookup(op.getWeights()), indices = L.lookup(op.getIndices());
  Type element = getElementTypeOrSelf(op.getX().getType());
  // An expert-parallel rank's first expert: the kernels map the router's global ids to its
  // `experts` and skip the other pairs (0 and all experts when unsharded).
  const int64_t offset = op.getExpertOffset();
  auto optional = [&](LaunchBuilder &launch, Value value) -> LaunchBuilder & {
    return value ? launch.pointer(L.lookup(value)) : launch.null();
  };
  if (kernel.getValue() == "moe_decode") {
    int64_t warps = tile(op, "warps");
    Value h = L.scratch(loc, {L.maxTokens() * topK, inter}, element);
    LaunchBuilder(L, loc)
        .pointer(x)
        .pointer(L.lookup(op.getUp()))
        .pointer(indices)
        .pointer(h)
        .runtime(RuntimeValue::n)
        .i32(offset)
        .i32(experts)
        .launch("moe_decode_up", {*t, str(hidden), str(inter), str(topK), str(warps), act},
                32 * warps, Extent::fixed((inter + warps - 1) / warps),
                Extent{topK, 0, 1});
    LaunchBuilder down(L, loc);
    down.pointer(h).pointer(L.lookup(op.getDown())).pointer(weights).pointer(indices);
    optional(down, op.getShared());
    optional(down, op.getResidual());
    down.pointer(L.allocate(op.getResult())).runtime(RuntimeValue::n).i32(offset).i32(experts);
    down.launch("moe_decode_down",
                {*t, str(hidden), str(inter), str(topK), str(warps), boolArg(hasShared),
                 boolArg(hasResidual)},
                32 * warps, Extent::fixed((hidden + warps - 1) / warps),
                Extent::perTokens(1));
    return success();
  }
  int64_t bm = tile(op, "bm"), bn = tile(op, "bn"), bk = tile(op, "bk"),
          stages = tile(op, "stages"), wm = tile(op, "warps_m"), wn = tile(op, "warps_n");
  int64_t maxTiles = (L.maxTokens() * topK + bm - 1) / bm + experts;
  Type i32 = L.builder().getI32Type();
  Value sortedPair = L.scratch(loc, {maxTiles * bm}, i32);
  Value tileExpert = L.scratch(loc, {maxTiles}, i32);
  Value numTiles = L.scratch(loc, {1}, i32);
  Value h = L.scratch(loc, {maxTiles * bm, inter}, element);
  Value slotOut = L.scratch(loc, {L.maxTokens() * topK, hidden}, element);
  Extent tiles{topK, experts * bm, bm};  // ceil(n * TOPK / BM) + EXPERTS
  std::vector<std::string> gemmTiles = {str(bm), str(bn), str(bk), str(stages), str(wm),
                                        str(wn)};
  LaunchBuilder(L, loc)
      .pointer(indices)
      .runtime(RuntimeValue::n)
      .pointer(sortedPair)
      .pointer(tileExpert)
      .pointer(numTiles)
      .i32(offset)
      .launch("moe_align", {str(experts), str(topK), str(bm), "1024"}, 1024,
              Extent::fixed(1));
  std::vector<std::string> upArgs = {*t, str(hidden), str(inter), str(topK)};
  upArgs.insert(upArgs.end(), gemmTiles.begin(), gemmTiles.end());
  std::vector<std::string> downArgs = upArgs;
  upArgs.push_back(act);
  LaunchBuilder(L, loc)
      .pointer(x)
      .pointer(L.lookup(op.getUp()))
      .pointer(sortedPair)
      .pointer(tileExpert)
      .pointer(numTiles)
      .pointer(h)
      .launch("moe_up", upArgs, 32 * wm * wn, Extent::fixed((inter + bn - 1) / bn),
              tiles);
  LaunchBuilder(L, loc)
      .pointer(h)
      .pointer(L.lookup(op.getDown()))
      .pointer(sortedPair)
      .pointer(tileExpert)
      .pointer(numTiles)
      .pointer(slotOut)
      .launch("moe_down", downArgs, 32 * wm * wn, Extent::fixed((hidden + bn - 1) / bn),
              tiles);
  LaunchBuilder combine(L, loc);
  combine.pointer(slotOut).pointer(weights).pointer(indices);
  optional(combine, op.getShared());
  optional(combine, op.getResidual());
  combine.pointer(L.allocate(op.getResult())).runtime(RuntimeValue::n).i32(offset).i32(experts);
  combine.launch("moe_combine",
                 {*t, str(hidden), str(topK), "256", boolArg(hasShared), boolArg(hasResidual)},
                 256, Extent::perTokens(1));
  return success();
}

}  // namespace sl::compiler::lowering
