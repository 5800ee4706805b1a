// sl-decompose-multi-step-attention: composite op -> append, search, route, attend, gate.
#include "compiler/Passes.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::sl {
#define GEN_PASS_DEF_SLDECOMPOSEMULTISTEPATTENTION
#include "compiler/Passes.h.inc"

namespace {

void decompose(MultiStepAttentionOp op, RewriterBase &rewriter) {
  rewriter.setInsertionPoint(op);
  Location loc = op.getLoc();
  MultiStepConfigAttr config = op.getConfig();
  KVCacheType cacheType = op.getCache().getType();
  auto q2Type = llvm::cast<RankedTensorType>(op.getQ2().getType());
  int64_t tokens = q2Type.getDimSize(0), heads = op.getNumHeadsAttr().getInt(), k = config.getNumSpans();
  Type f32 = rewriter.getF32Type(), i32 = rewriter.getI32Type();
  auto routing = [&](Type element) {
    return RankedTensorType::get({tokens, heads, k}, element);
  };

  Value cache = rewriter.create<KVAppendOp>(loc, cacheType, op.getK(), op.getV(), op.getCache());
  Value scores = rewriter.create<AnchorGridOp>(
      loc, RankedTensorType::get({tokens, heads, ShapedType::kDynamic}, f32), op.getQ1(), cache,
      config, op.getNumHeadsAttr());
  auto route = rewriter.create<RouteTopKOp>(loc, routing(f32), routing(i32), routing(i32),
                                            scores, cache, config);
  auto outputsType = RankedTensorType::get({tokens, heads, k, cacheType.getHeadDim()},
                                           q2Type.getElementType());
  auto spans = rewriter.create<SegmentAttentionOp>(
      loc, outputsType, routing(f32), op.getQ2(), cache, route.getSpanStart(),
      route.getSpanEnd(), config, op.getNumHeadsAttr(),
      rewriter.getI64IntegerAttr(config.getWindowLength()));
  Value combined = rewriter.create<GateCombineOp>(loc, op.getResult().getType(),
                                                  spans.getOutputs(), route.getTopScores());
  rewriter.replaceOp(op, ValueRange{combined, cache});
}

struct DecomposeMultiStepAttention
    : impl::SLDecomposeMultiStepAttentionBase<DecomposeMultiStepAttention> {
  void runOnOperation() override {
    IRRewriter rewriter(&getContext());
    getOperation().walk([&](MultiStepAttentionOp op) { decompose(op, rewriter); });
  }
};

}  // namespace
}  // namespace mlir::sl
