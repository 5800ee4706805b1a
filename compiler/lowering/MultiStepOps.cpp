// Lowering rule of sl.multi_step_attention (docs/kernels-msa.md): one rule emits the whole launch
// sequence, kv_append then routing (msa_anchor_topk), attention and the merge: in prefill window
// attention, span order, span attention and msa_gate_merge; in a decode step the split-K
// msa_decode_attention and msa_decode_combine. The op is not decomposed: its launches share
// buffers (routing partials, per-span outputs, LSE) whose layout differs between the two
// sequences, so they are slk.alloc buffers of this rule, seen by sl-plan-buffers.
#include "compiler/lowering/Rules.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"


namespace sl::compiler::lowering {

using namespace mlir;
namespace sld = mlir::sl;

namespace {

struct MsaShape {
  std::string t;
  int64_t heads, kvHeads, headDim, spans, window;
  int64_t group() const { return heads / kvHeads; }
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

FailureOr<MsaShape> msaShape(FunctionLowering &L, sld::MultiStepAttentionOp op) {
  sld::KVCacheType cache = op.getCache().getType();
  sld::MultiStepConfigAttr config = op.getConfig();
  auto t = L.elementSpelling(op.getLoc(), cache.getElementType());
  if (failed(t))
    return failure();
  return MsaShape{*t, op.getNumHeadsAttr().getInt(), cache.getKvHeads(), cache.getHeadDim(),
                  config.getNumSpans(), config.getWindowLength()};
}

// Records the config on the session state the tables are built for.
void annotateMsaState(Value stateArg, sld::MultiStepConfigAttr config) {
  auto arg = llvm::cast<BlockArgument>(stateArg);
  auto func = llvm::cast<func::FuncOp>(arg.getOwner()->getParentOp());
  func.setArgAttr(arg.getArgNumber(), "sl.msa", config);
}

// The prefill launches after the append: routing, window attention, span order, span
// attention, gate merge. Every buffer one launch hands to the next is an slk.alloc of this rule.
LogicalResult lowerPrefill(FunctionLowering &L, sld::MultiStepAttentionOp op, const MsaShape &shape,
                           Value q1, Value q2, Value cache) {
  Location loc = op.getLoc();
  OpBuilder &b = L.builder();
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  Type element = getElementTypeOrSelf(op.getQ2().getType());
  int64_t tokens = llvm::cast<RankedTensorType>(op.getQ2().getType()).getDimSize(0);
  int64_t n = L.maxTokens(), h = shape.heads, d = shape.headDim, k = shape.spans;
  // Per (token, head, span): top scores, inclusive span extents, span outputs and their LSE.
  Value topScores = L.scratch(loc, {tokens, h, k}, f32);
  Value spanStart = L.scratch(loc, {tokens, h, k}, i32);
  Value spanEnd = L.scratch(loc, {tokens, h, k}, i32);
  LaunchBuilder(L, loc)
      .pointer(q1).rowStride(q1).statePart(cache, StatePart::k).runtime(RuntimeValue::capacity)
      .runtime(RuntimeValue::cache_len).runtime(RuntimeValue::n)
      .stateTable(RuntimeValue::anchor_offsets, cache)
      .stateTable(RuntimeValue::num_stripes, cache).stateTable(RuntimeValue::span_reach, cache)
      .pointer(topScores).pointer(spanStart).pointer(spanEnd).null().null()
      .launch("msa_anchor_topk",
              {shape.t, str(h), str(shape.kvHeads), str(d), str(k), str(shape.window), "4", "4",
               "1"},
              128, Extent::perTokens(4), Extent::fixed(shape.kvHeads), Extent::fixed(1));
  Value oW = L.scratch(loc, {n * h * d}, element);
  Value lseW = L.scratch(loc, {n * h}, f32);
  LaunchBuilder(L, loc)
      .pointer(q2).rowStride(q2).statePart(cache, StatePart::k).statePart(cache, StatePart::v)
      .runtime(RuntimeValue::capacity).runtime(RuntimeValue::cache_len).runtime(RuntimeValue::n)
      .pointer(oW).pointer(lseW)
      .launch("msa_window_attention",
              {shape.t, str(h), str(shape.kvHeads), str(d), str(shape.window), "4"}, 128,
              Extent{shape.group(), 0, 64}, Extent::fixed(shape.kvHeads));
  // Rows grouped by span start (a counting sort per kv head), so that a block's rows share K/V
  // tiles whatever the routing.
  Value rowOrder = L.scratch(loc, {shape.kvHeads * n * shape.group() * k}, i32);
  LaunchBuilder(L, loc)
      .pointer(spanStart).pointer(spanEnd).runtime(RuntimeValue::cache_len)
      .runtime(RuntimeValue::n).pointer(rowOrder)
      .launch("msa_span_order", {str(h), str(shape.kvHeads), str(k), str(kSpanOrderBuckets)},
              1024, Extent::fixed(shape.kvHeads));
  Value spanOut = L.scratch(loc, {tokens, h, k, d}, element);
  Value spanLse = L.scratch(loc, {tokens, h, k}, f32);
  LaunchBuilder(L, loc)
      .pointer(q2).rowStride(q2).statePart(cache, StatePart::k).statePart(cache, StatePart::v)
      .runtime(RuntimeValue::capacity).runtime(RuntimeValue::cache_len).runtime(RuntimeValue::n)
      .pointer(spanStart).pointer(spanEnd).pointer(rowOrder).pointer(spanOut).pointer(spanLse)
      .launch("msa_span_attention", {shape.t, str(h), str(shape.kvHeads), str(d), str(k), "4"},
              128, Extent{shape.group() * k, 0, 64}, Extent::fixed(shape.kvHeads));
  Value out = L.allocate(op.getResult());
  LaunchBuilder(L, loc)
      .pointer(oW).pointer(lseW).pointer(spanOut).pointer(spanLse).pointer(topScores)
      .pointer(out).rowStride(out).runtime(RuntimeValue::n)
      .launch("msa_gate_merge", {shape.t, str(h), str(d), str(k)}, 256, Extent::perTokens(1));
  return success();
}

// The decode launches after the append: the routing split SPLITS_R ways into partial top-k
// lists, one split-K attention over window and spans, and the combine that merges the routing
// partials and the attention pieces.
LogicalResult lowerDecode(FunctionLowering &L, sld::MultiStepAttentionOp op, const MsaShape &shape,
                          Value q1, Value q2, Value cache) {
  Location loc = op.getLoc();
  Type f32 = L.builder().getF32Type();
  int64_t n = L.maxTokens(), h = shape.heads, d = shape.headDim, k = shape.spans;
  MsaDecodeSplits splits = decodeSplits(shape);
  int64_t parts = splits.routing * n * h * k;
  Value partScores = L.scratch(loc, {parts}, f32);
  Value partIdx = L.scratch(loc, {parts}, L.builder().getI32Type());
  LaunchBuilder(L, loc)
      .pointer(q1).rowStride(q1).statePart(cache, StatePart::k).runtime(RuntimeValue::capacity)
      .runtime(RuntimeValue::cache_len).runtime(RuntimeValue::n)
      .stateTable(RuntimeValue::anchor_offsets, cache)
      .stateTable(RuntimeValue::num_stripes, cache).stateTable(RuntimeValue::span_reach, cache)
      .null().null().null().pointer(partScores).pointer(partIdx)
      .launch("msa_anchor_topk",
              {shape.t, str(h), str(shape.kvHeads), str(d), str(k), str(shape.window), "4", "1",
               str(splits.routing)},
              128, Extent::perTokens(1), Extent::fixed(shape.kvHeads),
              Extent::fixed(splits.routing));
  int64_t pieces = splits.window + k * splits.span;
  Value wsO = L.scratch(loc, {pieces * n * h * d}, f32);
  Value wsLse = L.scratch(loc, {pieces * n * h}, f32);
  LaunchBuilder(L, loc)
      .pointer(q2).rowStride(q2).statePart(cache, StatePart::k).statePart(cache, StatePart::v)
      .runtime(RuntimeValue::capacity).runtime(RuntimeValue::cache_len).runtime(RuntimeValue::n)
      .stateTable(RuntimeValue::anchor_offsets, cache).stateTable(RuntimeValue::span_reach, cache)
      .pointer(partScores).pointer(partIdx).pointer(wsO).pointer(wsLse)
      .launch("msa_decode_attention",
              {shape.t, str(h), str(shape.kvHeads), str(d), str(k), str(shape.window),
               str(splits.routing), str(splits.window), str(splits.span)},
              128, Extent::fixed(n * h * pieces));
  Value out = L.allocate(op.getResult());
  LaunchBuilder(L, loc)
      .pointer(partScores).pointer(partIdx).pointer(wsO).pointer(wsLse)
      .pointer(out).rowStride(out).runtime(RuntimeValue::n)
      .launch("msa_decode_combine",
              {shape.t, str(h), str(d), str(k), str(splits.routing), str(splits.window),
               str(splits.span)},
              128, Extent{h, 0, 1});
  return success();
}

}  // namespace

LogicalResult lowerMultiStepAttention(FunctionLowering &L, sld::MultiStepAttentionOp op) {
  auto shape = msaShape(L, op);
  if (failed(shape))
    return failure();
  Value cache = L.lookup(op.getCache());
  L.map(op.getNewCache(), cache);
  if (failed(appendToCache(L, op.getLoc(), op.getK(), op.getV(), op.getCache().getType(), cache)))
    return failure();
  annotateMsaState(cache, op.getConfig());
  Value q1 = L.lookup(op.getQ1()), q2 = L.lookup(op.getQ2());
  if (L.maxTokens() <= 8)
    return lowerDecode(L, op, *shape, q1, q2, cache);
  return lowerPrefill(L, op, *shape, q1, q2, cache);
}

}  // namespace sl::compiler::lowering
