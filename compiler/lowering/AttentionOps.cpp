// Lowering rules of dense attention and of KV-cache appends (docs/kernels-attention.md).
#include "compiler/lowering/Rules.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"

namespace sl::compiler::lowering {

using namespace mlir;
namespace sld = mlir::sl;

// Appends k, v to the cache (token t of the call at position start + t).
LogicalResult appendToCache(FunctionLowering &L, Location loc, Value k, Value v,
                            sld::KVCacheType cache, Value stateArg) {
  auto t = L.elementSpelling(loc, cache.getElementType());
  if (failed(t))
    return failure();
  Value keys = L.lookup(k), values = L.lookup(v);
  LaunchBuilder(L, loc)
      .pointer(keys).rowStride(keys).pointer(values).rowStride(values)
      .statePart(stateArg, StatePart::k).statePart(stateArg, StatePart::v)
      .runtime(RuntimeValue::capacity).runtime(RuntimeValue::start).runtime(RuntimeValue::n)
      .launch("kv_append", {*t, str(cache.getKvHeads()), str(cache.getHeadDim()), "128"}, 128, Extent::perTokens(1));
  return success();
}

LogicalResult lowerDenseAttention(FunctionLowering &L, sld::DenseAttentionOp op) {
  Location loc = op.getLoc();
  sld::KVCacheType cache = op.getCache().getType();
  Value stateArg = L.lookup(op.getCache());
  L.map(op.getNewCache(), stateArg);
  if (failed(appendToCache(L, loc, op.getK(), op.getV(), cache, stateArg)))
    return failure();
  auto kernel = op->getAttrOfType<StringAttr>("sl.kernel");
  if (!kernel)
    return op.emitError("sl-lower-to-slk expects tile choices from sl-select-tiles");
  auto t = L.elementSpelling(loc, cache.getElementType());
  if (failed(t))
    return failure();
  int64_t heads = op.getNumHeadsAttr().getInt(), kvHeads = cache.getKvHeads(),
          headDim = cache.getHeadDim(), group = heads / kvHeads;
  Value q = L.lookup(op.getQ());
  Value out = L.allocate(op.getResult());
  if (kernel.getValue() == "attention_decode") {
    int64_t splits = tile(op, "splits"), bn = tile(op, "bn"), warps = tile(op, "warps");
    Type f32 = L.builder().getF32Type();
    Value partO = L.scratch(loc, {splits * L.maxTokens() * heads * headDim}, f32);
    Value partLse = L.scratch(loc, {splits * L.maxTokens() * heads}, f32);
    LaunchBuilder(L, loc)
        .pointer(q).rowStride(q).statePart(stateArg, StatePart::k).statePart(stateArg, StatePart::v)
        .runtime(RuntimeValue::capacity).pointer(partO).pointer(partLse).runtime(RuntimeValue::n).runtime(RuntimeValue::cache_len)
        .launch("attention_decode_partial",
                {*t, str(heads), str(kvHeads), str(headDim), str(splits), str(bn), str(warps)},
                32 * warps, Extent::fixed(splits), Extent::fixed(kvHeads),
                Extent{group, 0, 16});
    LaunchBuilder(L, loc)
        .pointer(partO).pointer(partLse).pointer(out).rowStride(out).runtime(RuntimeValue::n)
        .launch("attention_decode_combine", {*t, str(heads), str(headDim), str(splits)},
                headDim, Extent::perTokens(1), Extent::fixed(heads));
    return success();
  }
  int64_t bm = tile(op, "bm"), bn = tile(op, "bn");
  LaunchBuilder(L, loc)
      .pointer(q).rowStride(q).statePart(stateArg, StatePart::k).statePart(stateArg, StatePart::v)
      .runtime(RuntimeValue::capacity).pointer(out).rowStride(out).runtime(RuntimeValue::n).runtime(RuntimeValue::cache_len)
      .launch("attention_prefill", {*t, str(heads), str(kvHeads), str(headDim), str(bm), str(bn)},
              32 * bm / 16, Extent::perTokens(bm), Extent::fixed(heads));
  return success();
}

}  // namespace sl::compiler::lowering
