// Lowering rules of multi-step attention (docs/kernels-msa.md): anchor_grid + route_topk ->
// msa_anchor_topk; segment_attention -> window + span attention (prefill) or the fused decode
// attention; gate_combine -> gate merge (prefill) or decode combine. Stages hand buffers to each
// other through FunctionLowering::handoff().
#include "compiler/lowering/Rules.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"

#include <algorithm>

namespace sl::compiler::lowering {

using namespace mlir;
namespace sld = mlir::sl;

namespace {

struct MsaShape {
  std::string t;
  int64_t heads, kvHeads, headDim, spans, window;
  int64_t group() const { return heads / kvHeads; }
  bool bf16() const { return t == "slk::bf16"; }
};

// Buckets of msa_span_order (span starts per kv head sorted into this many ranges of the cache).
constexpr int64_t kSpanOrderBuckets = 4096;

// Decode splits of docs/kernels-msa.md (recommended; smaller for tiny shapes).
struct MsaDecodeSplits {
  int64_t routing, window, span;
};
MsaDecodeSplits decodeSplits(const MsaShape &shape) {
  return shape.headDim >= 64 ? MsaDecodeSplits{32, 8, 16} : MsaDecodeSplits{8, 4, 8};
}

FailureOr<MsaShape> msaShape(FunctionLowering &L, Operation *op, sld::KVCacheType cache,
                             int64_t heads, sld::MultiStepConfigAttr config) {
  auto t = L.elementSpelling(op->getLoc(), cache.getElementType());
  if (failed(t))
    return failure();
  return MsaShape{*t, heads, cache.getKvHeads(), cache.getHeadDim(), config.getNumSpans(),
                  config.getWindowLength()};
}

// Records the config on the session state the tables are built for.
void annotateMsaState(Value stateArg, sld::MultiStepConfigAttr config) {
  auto arg = llvm::cast<BlockArgument>(stateArg);
  auto func = llvm::cast<func::FuncOp>(arg.getOwner()->getParentOp());
  func.setArgAttr(arg.getArgNumber(), "sl.msa", config);
}

}  // namespace

LogicalResult lowerRouteTopK(FunctionLowering &L, sld::RouteTopKOp op) {
  auto grid = op.getScores().getDefiningOp<sld::AnchorGridOp>();
  if (!grid)
    return op.emitError("sl-lower-to-slk: route_topk lowers together with the anchor_grid that "
                        "produces its scores");
  Location loc = op.getLoc();
  sld::MultiStepConfigAttr config = op.getConfig();
  auto shape = msaShape(L, op, grid.getCache().getType(), grid.getNumHeadsAttr().getInt(), config);
  if (failed(shape))
    return failure();
  Value q1 = L.lookup(grid.getQ1()), cache = L.lookup(grid.getCache());
  annotateMsaState(cache, config);
  bool decode = L.maxTokens() <= 8;
  MsaDecodeSplits splits = decodeSplits(*shape);
  int64_t qpb = decode ? 1 : 4, routingSplits = decode ? splits.routing : 1;
  LaunchBuilder launch(L, loc);
  launch.pointer(q1).rowStride(q1).statePart(cache, StatePart::k).runtime(RuntimeValue::capacity)
      .runtime(RuntimeValue::cache_len).runtime(RuntimeValue::n).stateTable(RuntimeValue::anchor_offsets, cache)
      .stateTable(RuntimeValue::num_stripes, cache).stateTable(RuntimeValue::span_reach, cache);
  auto &handoff = L.handoff()[op];
  if (decode) {
    int64_t parts = routingSplits * L.maxTokens() * shape->heads * shape->spans;
    Value partScores = L.scratch(loc, {parts}, L.builder().getF32Type());
    Value partIdx = L.scratch(loc, {parts}, L.builder().getI32Type());
    handoff["part_scores"] = partScores;
    handoff["part_idx"] = partIdx;
    launch.null().null().null().pointer(partScores).pointer(partIdx);
  } else {
    launch.pointer(L.allocate(op.getTopScores()))
        .pointer(L.allocate(op.getSpanStart()))
        .pointer(L.allocate(op.getSpanEnd()))
        .null()
        .null();
  }
  launch.launch("msa_anchor_topk",
                {shape->t, str(shape->heads), str(shape->kvHeads), str(shape->headDim),
                 str(shape->spans), str(shape->window), "4", str(qpb), str(routingSplits)},
                128, Extent::perTokens(qpb), Extent::fixed(shape->kvHeads),
                Extent::fixed(routingSplits));
  return success();
}

LogicalResult lowerSegmentAttention(FunctionLowering &L, sld::SegmentAttentionOp op) {
  Location loc = op.getLoc();
  sld::MultiStepConfigAttr config = op.getConfig();
  auto shape = msaShape(L, op, op.getCache().getType(), op.getNumHeadsAttr().getInt(), config);
  auto route = op.getSpanStart().getDefiningOp<sld::RouteTopKOp>();
  if (failed(shape))
    return failure();
  if (!route || op.getSpanEnd().getDefiningOp() != route.getOperation())
    return op.emitError("sl-lower-to-slk: segment_attention lowers together with the "
                        "route_topk that produces its spans");
  Value q2 = L.lookup(op.getQ2()), cache = L.lookup(op.getCache());
  auto &handoff = L.handoff()[op];
  Type f32 = L.builder().getF32Type();
  Type element = getElementTypeOrSelf(op.getQ2().getType());
  int64_t n = L.maxTokens(), h = shape->heads, d = shape->headDim, k = shape->spans;
  if (L.maxTokens() <= 8) {
    // The decode step: window and spans in one split-K launch, merged by the combine; its
    // per-span outputs exist only inside that pair of kernels.
    for (Value result : op->getResults())
      for (Operation *user : result.getUsers())
        if (!llvm::isa<sld::GateCombineOp>(user))
          return op.emitError("sl-lower-to-slk: in a decode step the outputs of "
                              "segment_attention can only feed its gate_combine");
    MsaDecodeSplits splits = decodeSplits(*shape);
    int64_t pieces = splits.window + k * splits.span;
    Value wsO = L.scratch(loc, {pieces * n * h * d}, f32);
    Value wsLse = L.scratch(loc, {pieces * n * h}, f32);
    auto &routed = L.handoff()[route];
    handoff["part_scores"] = routed.lookup("part_scores");
    handoff["part_idx"] = routed.lookup("part_idx");
    handoff["ws_o"] = wsO;
    handoff["ws_lse"] = wsLse;
    int64_t blocks = n * h * (splits.window + k * splits.span);
    LaunchBuilder(L, loc)
        .pointer(q2).rowStride(q2).statePart(cache, StatePart::k).statePart(cache, StatePart::v)
        .runtime(RuntimeValue::capacity).runtime(RuntimeValue::cache_len).runtime(RuntimeValue::n)
        .stateTable(RuntimeValue::anchor_offsets, cache).stateTable(RuntimeValue::span_reach, cache)
        .pointer(routed.lookup("part_scores")).pointer(routed.lookup("part_idx"))
        .pointer(wsO).pointer(wsLse)
        .launch("msa_decode_attention",
                {shape->t, str(h), str(shape->kvHeads), str(d), str(k), str(shape->window),
                 str(splits.routing), str(splits.window), str(splits.span)},
                128, Extent::fixed(blocks));
    return success();
  }
  Value oW = L.scratch(loc, {n * h * d}, element);
  Value lseW = L.scratch(loc, {n * h}, f32);
  handoff["o_w"] = oW;
  handoff["lse_w"] = lseW;
  LaunchBuilder(L, loc)
      .pointer(q2).rowStride(q2).statePart(cache, StatePart::k).statePart(cache, StatePart::v)
      .runtime(RuntimeValue::capacity).runtime(RuntimeValue::cache_len).runtime(RuntimeValue::n).pointer(oW).pointer(lseW)
      .launch("msa_window_attention",
              {shape->t, str(h), str(shape->kvHeads), str(d), str(shape->window), "4"}, 128, Extent{shape->group(), 0, 64},
              Extent::fixed(shape->kvHeads));
  // Rows grouped by span start (a counting sort per kv head), so that a block's rows share K/V
  // tiles whatever the routing.
  Value spanStart = L.lookup(op.getSpanStart()), spanEnd = L.lookup(op.getSpanEnd());
  Value rowOrder = L.scratch(loc, {shape->kvHeads * n * shape->group() * k},
                             L.builder().getI32Type());
  handoff["row_order"] = rowOrder;
  LaunchBuilder(L, loc)
      .pointer(spanStart).pointer(spanEnd).runtime(RuntimeValue::cache_len).runtime(RuntimeValue::n).pointer(rowOrder)
      .launch("msa_span_order", {str(h), str(shape->kvHeads), str(k), str(kSpanOrderBuckets)},
              1024, Extent::fixed(shape->kvHeads));
  LaunchBuilder(L, loc)
      .pointer(q2).rowStride(q2).statePart(cache, StatePart::k).statePart(cache, StatePart::v)
      .runtime(RuntimeValue::capacity).runtime(RuntimeValue::cache_len).runtime(RuntimeValue::n)
      .pointer(spanStart).pointer(spanEnd).pointer(rowOrder)
      .pointer(L.allocate(op.getOutputs())).pointer(L.allocate(op.getLse()))
      .launch("msa_span_attention",
              {shape->t, str(h), str(shape->kvHeads), str(d), str(k), "4"}, 128, Extent{shape->group() * k, 0, 64},
              Extent::fixed(shape->kvHeads));
  return success();
}

LogicalResult lowerGateCombine(FunctionLowering &L, sld::GateCombineOp op) {
  Location loc = op.getLoc();
  auto segment = op.getOutputs().getDefiningOp<sld::SegmentAttentionOp>();
  if (!segment)
    return op.emitError("sl-lower-to-slk: gate_combine lowers together with the "
                        "segment_attention that produces its outputs");
  auto shape = msaShape(L, op, segment.getCache().getType(), segment.getNumHeadsAttr().getInt(),
                        segment.getConfig());
  if (failed(shape))
    return failure();
  auto &handoff = L.handoff()[segment];
  int64_t h = shape->heads, d = shape->headDim, k = shape->spans;
  Value out = L.allocate(op.getResult());
  if (L.maxTokens() <= 8) {
    MsaDecodeSplits splits = decodeSplits(*shape);
    LaunchBuilder(L, loc)
        .pointer(handoff.lookup("part_scores")).pointer(handoff.lookup("part_idx"))
        .pointer(handoff.lookup("ws_o")).pointer(handoff.lookup("ws_lse"))
        .pointer(out).rowStride(out).runtime(RuntimeValue::n)
        .launch("msa_decode_combine",
                {shape->t, str(h), str(d), str(k), str(splits.routing), str(splits.window),
                 str(splits.span)},
                128, Extent{h, 0, 1});
    return success();
  }
  LaunchBuilder(L, loc)
      .pointer(handoff.lookup("o_w")).pointer(handoff.lookup("lse_w"))
      .pointer(L.lookup(op.getOutputs())).pointer(L.lookup(segment.getLse()))
      .pointer(L.lookup(op.getTopScores())).pointer(out).rowStride(out).runtime(RuntimeValue::n)
      .launch("msa_gate_merge", {shape->t, str(h), str(d), str(k)}, 256,
              Extent::perTokens(1));
  return success();
}

}  // namespace sl::compiler::lowering
