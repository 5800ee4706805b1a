// sl-fuse-epilogues: activation and residual adds into the epilogues of linear / moe_experts.
#include "compiler/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::sl {
#define GEN_PASS_DEF_SLFUSEEPILOGUES
#include "compiler/Passes.h.inc"

namespace {

// Builds a copy of `linear` at `rewriter`'s insertion point with a new activation / residual.
Value rebuildLinear(PatternRewriter &rewriter, LinearOp linear, Value residual,
                    ActivationAttr activation) {
  return rewriter.create<LinearOp>(linear.getLoc(), linear.getType(), linear.getX(),
                                   linear.getWeight(), linear.getBias(), residual,
                                   linear.getNormWeight(), activation,
                                   linear.getNormEpsilonAttr());
}

// sl.rms_norm whose every user is the input of a projection -> the projections normalise
// their input themselves (a decode GEMV normalises in its prologue; a prefill GEMM gets the
// norm computed once for all of them).
struct NormIntoProjections : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp norm, PatternRewriter &rewriter) const override {
    if (norm->use_empty())
      return failure();
    for (OpOperand &use : norm->getUses()) {
      auto linear = llvm::dyn_cast<LinearOp>(use.getOwner());
      if (!linear || use.getOperandNumber() != 0 || linear.getNormWeight())
        return failure();
    }
    SmallVector<LinearOp> users;
    for (Operation *user : norm->getUsers())
      users.push_back(llvm::cast<LinearOp>(user));
    for (LinearOp linear : users) {
      rewriter.setInsertionPoint(linear);
      Value fused = rewriter.create<LinearOp>(
          linear.getLoc(), linear.getType(), norm.getX(), linear.getWeight(), linear.getBias(),
          linear.getResidual(), norm.getWeight(), linear.getActivationAttr(),
          norm.getEpsilonAttr());
      rewriter.replaceOp(linear, fused);
    }
    rewriter.eraseOp(norm);
    return success();
  }
};

struct ActivationIntoLinear : OpRewritePattern<ActivationOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ActivationOp op, PatternRewriter &rewriter) const override {
    auto linear = op.getX().getDefiningOp<LinearOp>();
    if (!linear || !linear->hasOneUse() || linear.getActivation() || linear.getResidual())
      return failure();
    rewriter.setInsertionPoint(op);
    rewriter.replaceOp(op, rebuildLinear(rewriter, linear, Value(), op.getKindAttr()));
    rewriter.eraseOp(linear);
    return success();
  }
};

// sl.add(linear, r) -> linear with residual r. The new linear sits where the add was, so r
// dominates it.
struct AddIntoLinear : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op, PatternRewriter &rewriter) const override {
    for (auto [producer, other] : {std::pair{op.getLhs(), op.getRhs()},
                                   std::pair{op.getRhs(), op.getLhs()}}) {
      auto linear = producer.getDefiningOp<LinearOp>();
      if (!linear || !linear->hasOneUse() || linear.getResidual())
        continue;
      rewriter.setInsertionPoint(op);
      rewriter.replaceOp(op, rebuildLinear(rewriter, linear, other, linear.getActivationAttr()));
      rewriter.eraseOp(linear);
      return success();
    }
    return failure();
  }
};

// sl.add(moe_experts, s) -> moe_experts with shared s; once shared is set, the next add becomes
// the residual. It outranks AddIntoLinear: folding the shared expert's add into its down
// projection would leave the residual add of the layer unfused.
struct AddIntoExperts : OpRewritePattern<AddOp> {
  AddIntoExperts(MLIRContext *context) : OpRewritePattern(context, /*benefit=*/2) {}
  LogicalResult matchAndRewrite(AddOp op, PatternRewriter &rewriter) const override {
    for (auto [producer, other] : {std::pair{op.getLhs(), op.getRhs()},
                                   std::pair{op.getRhs(), op.getLhs()}}) {
      auto experts = producer.getDefiningOp<MoEExpertsOp>();
      if (!experts || !experts->hasOneUse() || experts.getResidual())
        continue;
      Value shared = experts.getShared() ? experts.getShared() : other;
      Value residual = experts.getShared() ? other : Value();
      rewriter.setInsertionPoint(op);
      Value fused = rewriter.create<MoEExpertsOp>(
          experts.getLoc(), experts.getType(), experts.getX(), experts.getWeights(),
          experts.getIndices(), experts.getUp(), experts.getDown(), shared, residual,
          experts.getActivationAttr(), experts.getExpertOffsetAttr());
      rewriter.replaceOp(op, fused);
      rewriter.eraseOp(experts);
      return success();
    }
    return failure();
  }
};

struct FuseEpilogues : impl::SLFuseEpiloguesBase<FuseEpilogues> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ActivationIntoLinear, AddIntoLinear, AddIntoExperts, NormIntoProjections>(
        &getContext());
#if LLVM_VERSION_MAJOR >= 20
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
#else
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
#endif
      signalPassFailure();
  }
};

}  // namespace
}  // namespace mlir::sl
