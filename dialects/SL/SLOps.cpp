// Verifiers and folders of the `sl` ops.
//
// Every rule a wrong model file (or a wrong importer) could break is checked here, and each
// message names the operand, the dimension, what was expected and why.
#include "dialects/SL/SLDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"

using namespace mlir;
using namespace mlir::sl;

#define GET_OP_CLASSES
#include "dialects/SL/SLOps.cpp.inc"

namespace {

std::string dimText(int64_t d) { return ShapedType::isDynamic(d) ? "?" : std::to_string(d); }

// Shape checks for one op, each emitting a complete diagnostic on failure.
class ShapeChecker {
public:
  explicit ShapeChecker(Operation *op) : op(op) {}

  // `what` must be a ranked tensor of `rank` whose dimensions after the first (the token
  // dimension, for activations) are static; with `allStatic`, the first one too.
  LogicalResult rank(StringRef what, Type type, int64_t rank, bool allStatic = false) {
    auto tensor = llvm::cast<RankedTensorType>(type);
    if (tensor.getRank() != rank)
      return op->emitOpError() << "expects " << what << " of rank " << rank << ", got "
                               << tensor;
    for (int64_t i = allStatic ? 0 : 1; i < rank; ++i)
      if (tensor.isDynamicDim(i))
        return op->emitOpError() << "expects dimension " << i << " of " << what
                                 << " to be static, got " << tensor;
    return success();
  }

  // Dimension `dim` of `what` must equal `expected` (a static size) because of `reason`.
  LogicalResult dim(StringRef what, Type type, int64_t dim, int64_t expected, StringRef reason) {
    auto tensor = llvm::cast<RankedTensorType>(type);
    int64_t actual = tensor.getDimSize(dim);
    if (ShapedType::isDynamic(actual) || ShapedType::isDynamic(expected) || actual == expected)
      return success();
    return op->emitOpError() << "expects dimension " << dim << " of " << what << " to be "
                             << expected << " (" << reason << "), got " << actual << " in "
                             << tensor;
  }

  // The token dimensions (dimension 0) of two values must agree where both are static.
  LogicalResult sameTokens(StringRef aName, Type a, StringRef bName, Type b) {
    int64_t ta = llvm::cast<RankedTensorType>(a).getDimSize(0);
    int64_t tb = llvm::cast<RankedTensorType>(b).getDimSize(0);
    if (ShapedType::isDynamic(ta) || ShapedType::isDynamic(tb) || ta == tb)
      return success();
    return op->emitOpError() << "expects " << aName << " and " << bName
                             << " to have the same number of tokens, got " << dimText(ta)
                             << " and " << dimText(tb);
  }

  LogicalResult elementType(StringRef what, Type type, Type expected, StringRef reason) {
    Type actual = getElementTypeOrSelf(type);
    if (actual == expected)
      return success();
    return op->emitOpError() << "expects " << what << " to have element type " << expected
                             << " (" << reason << "), got " << actual;
  }

  LogicalResult sameType(StringRef what, Type actual, Type expected, StringRef reason) {
    if (actual == expected)
      return success();
    return op->emitOpError() << "expects " << what << " to be " << expected << " (" << reason
                             << "), got " << actual;
  }

  // Query heads against a KV cache: GQA divisibility and the query width.
  LogicalResult queryHeads(StringRef what, Type query, int64_t numHeads, KVCacheType cache) {
    if (numHeads <= 0)
      return op->emitOpError() << "expects num_heads > 0, got " << numHeads;
    if (numHeads % cache.getKvHeads() != 0)
      return op->emitOpError() << "expects num_heads (" << numHeads
                               << ") to be a multiple of the cache's kv_heads ("
                               << cache.getKvHeads() << ") for grouped-query attention";
    if (failed(rank(what, query, 2)) ||
        failed(dim(what, query, 1, numHeads * cache.getHeadDim(), "num_heads * head_dim")))
      return failure();
    return elementType(what, query, cache.getElementType(), "the cache's element type");
  }

  // New keys or values for a KV cache: [T, kv_heads * head_dim] in the cache's element type.
  LogicalResult keysOrValues(StringRef what, Type type, KVCacheType cache) {
    if (failed(rank(what, type, 2)) ||
        failed(dim(what, type, 1, cache.getKvHeads() * cache.getHeadDim(),
                   "kv_heads * head_dim of the cache")))
      return failure();
    return elementType(what, type, cache.getElementType(), "the cache's element type");
  }

private:
  Operation *op;
};

int64_t dimOf(Value v, int64_t i) { return llvm::cast<RankedTensorType>(v.getType()).getDimSize(i); }

}  // namespace

//===----------------------------------------------------------------------===//
// Model ops
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  if (getName().empty())
    return emitOpError("expects a non-empty checkpoint tensor name");
  auto type = llvm::cast<RankedTensorType>(getResult().getType());
  if (!type.hasStaticShape())
    return emitOpError() << "expects a static shape for weight '" << getName() << "', got "
                         << type;
  if (isStackedPerExpert()) {
    size_t first = getName().find("{e}");
    if (getName().find("{e}", first + 1) != StringRef::npos)
      return emitOpError() << "expects at most one '{e}' in weight name '" << getName() << "'";
    if (type.getRank() < 2)
      return emitOpError() << "expects a per-expert weight ('{e}' in its name) to have rank >= 2 "
                              "(experts first), got "
                           << type;
  }
  if (!getRanges() && !getCheckpointShape())
    return success();
  if (!getRanges() || !getCheckpointShape())
    return emitOpError() << "expects 'ranges' and 'checkpoint_shape' together on weight '"
                         << getName() << "'";
  ArrayRef<int64_t> ranges = *getRanges(), whole = *getCheckpointShape();
  if (ranges.empty() || ranges.size() % 3 != 0)
    return emitOpError() << "expects ranges as (dim, offset, size) triples, got "
                         << ranges.size() << " integers";
  if (int64_t(whole.size()) != type.getRank())
    return emitOpError() << "expects checkpoint_shape of rank " << type.getRank() << ", got "
                         << whole.size() << " dimensions";
  // The triples of one dimension are consecutive, dimensions ascending: the slice is the
  // product of each dimension's concatenated pieces (an expert-parallel rank's experts along
  // dimension 0 and its share of their intermediate dimension).
  SmallVector<int64_t> expected(whole.begin(), whole.end());
  int64_t previous = -1;
  for (size_t i = 0; i < ranges.size(); i += 3) {
    const int64_t dim = ranges[i];
    if (dim < 0 || dim >= type.getRank())
      return emitOpError() << "range dimension " << dim << " is outside the rank "
                           << type.getRank() << " of weight '" << getName() << "'";
    if (dim < previous)
      return emitOpError() << "expects the ranges grouped by dimension in ascending order, got "
                           << "dimension " << dim << " after " << previous;
    if (dim != previous)
      expected[dim] = 0;
    previous = dim;
    if (ranges[i + 1] < 0 || ranges[i + 2] <= 0 || ranges[i + 1] + ranges[i + 2] > whole[dim])
      return emitOpError() << "range [" << ranges[i + 1] << ", " << ranges[i + 1] + ranges[i + 2]
                           << ") is outside dimension " << dim << " (" << whole[dim]
                           << ") of weight '" << getName() << "'";
    expected[dim] += ranges[i + 2];
  }
  for (int64_t d = 0; d < type.getRank(); ++d)
    if (type.getDimSize(d) != expected[d])
      return emitOpError() << "expects dimension " << d << " of the result to be "
                           << expected[d] << " (the ranges of checkpoint_shape), got " << type;
  return success();
}

LogicalResult AllReduceOp::verify() {
  auto type = llvm::cast<RankedTensorType>(getX().getType());
  for (int64_t d = 1; d < type.getRank(); ++d)
    if (type.isDynamicDim(d))
      return emitOpError() << "expects every dimension after the token dimension to be static "
                              "(each rank sums the same bytes), got "
                           << type;
  return success();
}

LogicalResult EmbeddingOp::verify() {
  ShapeChecker check(*this);
  Type tokens = getTokens().getType(), table = getTable().getType(), result = getType();
  if (failed(check.rank("tokens", tokens, 1)) || failed(check.rank("table", table, 2, true)) ||
      failed(check.rank("result", result, 2)) ||
      failed(check.dim("result", result, 1, dimOf(getTable(), 1), "hidden size of the table")) ||
      failed(check.sameTokens("tokens", tokens, "result", result)))
    return failure();
  return check.elementType("result", result, getElementTypeOrSelf(table), "the table's");
}

LogicalResult RMSNormOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.rank("x", getX().getType(), 2)) ||
      failed(check.rank("weight", getWeight().getType(), 1, true)) ||
      failed(check.dim("weight", getWeight().getType(), 0, dimOf(getX(), 1),
                       "hidden size of x")))
    return failure();
  if (!(getEpsilon().convertToDouble() > 0.0))
    return emitOpError() << "expects epsilon > 0, got "
                         << formatDouble(getEpsilon().convertToDouble());
  return success();
}

LogicalResult GatedRMSNormOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.rank("y", getY().getType(), 2)) ||
      failed(check.rank("weight", getWeight().getType(), 1, true)) ||
      failed(check.dim("weight", getWeight().getType(), 0, dimOf(getY(), 1),
                       "channels of y")))
    return failure();
  if (!(getEpsilon().convertToDouble() > 0.0))
    return emitOpError() << "expects epsilon > 0, got "
                         << formatDouble(getEpsilon().convertToDouble());
  int64_t channels = dimOf(getY(), 1);
  if (getGroupSizeAttr().getInt() <= 0 || channels % getGroupSizeAttr().getInt() != 0)
    return emitOpError() << "expects group_size (" << getGroupSizeAttr().getInt()
                         << ") to be positive and divide the channels of y (" << channels << ")";
  if (auto shared = getSharedGroup()) {
    if (shared->size() != 3 || (*shared)[0] < 2 || (*shared)[2] < 1 || (*shared)[1] < 0 ||
        (*shared)[1] >= (*shared)[2])
      return emitOpError("expects shared_group = [ranks > 1, index < count, count]");
    if (channels != getGroupSizeAttr().getInt())
      return emitOpError() << "expects y to hold the one shared group's " << getGroupSizeAttr().getInt()
                           << " channels, got " << channels;
  }
  return success();
}

LogicalResult LinearOp::verify() {
  ShapeChecker check(*this);
  Type x = getX().getType(), w = getWeight().getType(), result = getType();
  if (failed(check.rank("x", x, 2)) || failed(check.rank("weight", w, 2, true)) ||
      failed(check.rank("result", result, 2)) ||
      failed(check.dim("weight", w, 1, dimOf(getX(), 1), "in features = last dimension of x")) ||
      failed(check.dim("result", result, 1, dimOf(getWeight(), 0),
                       "out features = dimension 0 of the weight")) ||
      failed(check.sameTokens("x", x, "result", result)) ||
      failed(check.elementType("weight", w, getElementTypeOrSelf(x), "the element type of x")) ||
      failed(check.elementType("result", result, getElementTypeOrSelf(x),
                               "the element type of x")))
    return failure();
  if (Value bias = getBias())
    if (failed(check.rank("bias", bias.getType(), 1, true)) ||
        failed(check.dim("bias", bias.getType(), 0, dimOf(getWeight(), 0), "out features")) ||
        failed(check.elementType("bias", bias.getType(), getElementTypeOrSelf(x),
                                 "the element type of x")))
      return failure();
  if (Value residual = getResidual())
    if (failed(check.sameType("residual", residual.getType(), result, "same as the result")))
      return failure();
  if (bool(getNormWeight()) != bool(getNormEpsilon()))
    return emitOpError("expects norm_epsilon exactly when a norm weight is given");
  if (Value norm = getNormWeight()) {
    if (failed(check.rank("norm weight", norm.getType(), 1, true)) ||
        failed(check.dim("norm weight", norm.getType(), 0, dimOf(getX(), 1),
                         "in features = last dimension of x")))
      return failure();
    if (!(getNormEpsilon()->convertToDouble() > 0.0))
      return emitOpError() << "expects norm_epsilon > 0, got "
                           << formatDouble(getNormEpsilon()->convertToDouble());
  }
  return success();
}

LogicalResult SplitOp::verify() {
  ShapeChecker check(*this);
  auto input = llvm::cast<RankedTensorType>(getX().getType());
  if (getPieces().empty())
    return emitOpError("expects at least one result");
  int64_t last = input.getRank() - 1;
  if (input.getRank() < 1 || input.isDynamicDim(last))
    return emitOpError() << "expects an input with a static last dimension, got " << input;
  int64_t total = 0;
  for (auto [i, piece] : llvm::enumerate(getPieces())) {
    auto type = llvm::cast<RankedTensorType>(piece.getType());
    std::string name = "result #" + std::to_string(i);
    if (type.getRank() != input.getRank() || type.isDynamicDim(last))
      return emitOpError() << "expects " << name << " of rank " << input.getRank()
                           << " with a static last dimension, got " << type;
    for (int64_t d = 0; d < last; ++d)
      if (failed(check.dim(name, type, d, input.getDimSize(d), "same as the input")))
        return failure();
    if (failed(check.elementType(name, type, input.getElementType(), "the input's")))
      return failure();
    total += type.getDimSize(last);
  }
  if (total != input.getDimSize(last))
    return emitOpError() << "expects the last dimensions of the results to add up to the "
                            "input's last dimension ("
                         << input.getDimSize(last) << "), got " << total;
  return success();
}

LogicalResult SplitOp::fold(FoldAdaptor, SmallVectorImpl<OpFoldResult> &results) {
  if (getNumResults() != 1 || getPieces()[0].getType() != getX().getType())
    return failure();
  results.push_back(getX());
  return success();
}

LogicalResult CausalConv1dOp::verify() {
  ShapeChecker check(*this);
  MambaStateType state = getState().getType();
  Type x = getX().getType(), w = getWeight().getType();
  if (failed(check.rank("x", x, 2)))
    return failure();
  int64_t channels = dimOf(getX(), 1);
  if (channels != state.getConvChannels())
    return emitOpError() << "expects the state's conv channels (heads * head_dim + 2 * groups * "
                            "state_size = "
                         << state.getConvChannels() << ") to equal the channels of x ("
                         << channels << ")";
  if (failed(check.rank("weight", w, 3, true)) ||
      failed(check.dim("weight", w, 0, channels, "one filter per channel")) ||
      failed(check.dim("weight", w, 1, 1, "depthwise convolution")) ||
      failed(check.dim("weight", w, 2, state.getConvKernel(), "conv_kernel of the state")) ||
      failed(check.sameType("result", getResult().getType(), x, "same as x")) ||
      failed(check.sameType("new_state", getNewState().getType(), state, "same as state")))
    return failure();
  if (Value bias = getBias())
    if (failed(check.rank("bias", bias.getType(), 1, true)) ||
        failed(check.dim("bias", bias.getType(), 0, channels, "one per channel")))
      return failure();
  return success();
}

LogicalResult SSDScanOp::verify() {
  ShapeChecker check(*this);
  MambaStateType state = getState().getType();
  Type xbc = getXbc().getType(), dt = getDt().getType(), result = getResult().getType();
  if (failed(check.rank("xbc", xbc, 2)) ||
      failed(check.dim("xbc", xbc, 1, state.getConvChannels(),
                       "heads * head_dim + 2 * groups * state_size of the state")) ||
      failed(check.rank("dt", dt, 2)) ||
      failed(check.dim("dt", dt, 1, state.getHeads(), "one per head of the state")) ||
      failed(check.sameTokens("xbc", xbc, "dt", dt)) ||
      failed(check.elementType("dt", dt, getElementTypeOrSelf(xbc), "that of xbc")))
    return failure();
  for (auto [name, value] : {std::pair<StringRef, Value>{"a_log", getALog()},
                             {"d", getD()}, {"dt_bias", getDtBias()}})
    if (failed(check.rank(name, value.getType(), 1, true)) ||
        failed(check.dim(name, value.getType(), 0, state.getHeads(), "one per head")))
      return failure();
  if (failed(check.rank("result", result, 2)) ||
      failed(check.dim("result", result, 1, state.getInnerSize(), "heads * head_dim")) ||
      failed(check.sameTokens("xbc", xbc, "result", result)) ||
      failed(check.elementType("result", result, getElementTypeOrSelf(xbc), "that of xbc")) ||
      failed(check.sameType("new_state", getNewState().getType(), state, "same as state")))
    return failure();
  if (getChunkSizeAttr().getInt() <= 0)
    return emitOpError() << "expects chunk_size > 0, got " << getChunkSizeAttr().getInt();
  double lo = getDtMin() ? getDtMin()->convertToDouble() : 0.0;
  double hi = getDtMax() ? getDtMax()->convertToDouble() : INFINITY;
  if (!(lo >= 0.0 && lo <= hi))
    return emitOpError() << "expects 0 <= dt_min <= dt_max (an absent bound is 0 resp. "
                            "unbounded), got dt_min = "
                         << (getDtMin() ? formatDouble(lo) : "(absent)")
                         << ", dt_max = " << (getDtMax() ? formatDouble(hi) : "(absent)");
  return success();
}

LogicalResult MoERouterOp::verify() {
  ShapeChecker check(*this);
  Type x = getX().getType(), gate = getGate().getType(), bias = getCorrectionBias().getType();
  if (failed(check.rank("x", x, 2)) || failed(check.rank("gate", gate, 2, true)) ||
      failed(check.dim("gate", gate, 1, dimOf(getX(), 1), "hidden size of x")) ||
      failed(check.rank("correction_bias", bias, 1, true)))
    return failure();
  int64_t experts = dimOf(getGate(), 0);
  if (failed(check.dim("correction_bias", bias, 0, experts, "one per expert")))
    return failure();
  if (getTopKAttr().getInt() < 1 || getTopKAttr().getInt() > experts)
    return emitOpError() << "expects top_k in [1, " << experts << "] (the number of experts), got "
                         << getTopKAttr().getInt();
  if (!(getRoutedScalingFactor().convertToDouble() > 0.0))
    return emitOpError() << "expects routed_scaling_factor > 0, got "
                         << formatDouble(getRoutedScalingFactor().convertToDouble());
  Type weights = getWeights().getType(), indices = getIndices().getType();
  if (failed(check.rank("weights", weights, 2)) ||
      failed(check.dim("weights", weights, 1, getTopKAttr().getInt(), "top_k")) ||
      failed(check.elementType("weights", weights, Float32Type::get(getContext()),
                               "router weights are fp32")) ||
      failed(check.rank("indices", indices, 2)) ||
      failed(check.dim("indices", indices, 1, getTopKAttr().getInt(), "top_k")) ||
      failed(check.sameTokens("x", x, "weights", weights)) ||
      failed(check.sameTokens("x", x, "indices", indices)))
    return failure();
  return success();
}

LogicalResult MoEExpertsOp::verify() {
  ShapeChecker check(*this);
  Type x = getX().getType(), up = getUp().getType(), down = getDown().getType();
  Type weights = getWeights().getType(), indices = getIndices().getType();
  if (failed(check.rank("x", x, 2)) || failed(check.rank("up", up, 3, true)) ||
      failed(check.rank("down", down, 3, true)))
    return failure();
  int64_t experts = dimOf(getUp(), 0), inter = dimOf(getUp(), 1), hidden = dimOf(getX(), 1);
  if (failed(check.dim("up", up, 2, hidden, "hidden size of x")) ||
      failed(check.dim("down", down, 0, experts, "experts of up")) ||
      failed(check.dim("down", down, 1, hidden, "hidden size of x")) ||
      failed(check.dim("down", down, 2, inter, "intermediate size of up")) ||
      failed(check.rank("weights", weights, 2)) || failed(check.rank("indices", indices, 2)) ||
      failed(check.dim("indices", indices, 1, dimOf(getWeights(), 1), "top_k of weights")) ||
      failed(check.sameTokens("x", x, "weights", weights)) ||
      failed(check.sameTokens("x", x, "indices", indices)) ||
      failed(check.sameType("result", getType(), x, "same as x")) ||
      failed(check.elementType("up", up, getElementTypeOrSelf(x), "the element type of x")) ||
      failed(check.elementType("down", down, getElementTypeOrSelf(x), "the element type of x")) ||
      failed(check.elementType("weights", weights, Float32Type::get(getContext()),
                               "router weights are fp32")))
    return failure();
  for (auto [name, value] : {std::pair<StringRef, Value>{"shared", getShared()},
                             {"residual", getResidual()}})
    if (value && failed(check.sameType(name, value.getType(), x, "same as x")))
      return failure();
  int64_t topK = dimOf(getWeights(), 1);
  const int64_t offset = getExpertOffset();
  if (offset < 0)
    return emitOpError() << "expects expert_offset >= 0, got " << offset;
  // The indices hold global expert ids: with the router in sight, its experts bound the
  // rank's range and top_k; otherwise an unsharded op's own experts bound top_k.
  int64_t total = ShapedType::kDynamic;
  if (auto router = getIndices().getDefiningOp<MoERouterOp>())
    total = dimOf(router.getGate(), 0);
  else if (!(*this)->hasAttr(getExpertOffsetAttrName()))
    total = experts;
  if (!ShapedType::isDynamic(total) && !ShapedType::isDynamic(experts) &&
      offset + experts > total)
    return emitOpError() << "expects the experts [" << offset << ", " << offset + experts
                         << ") (expert_offset, plus the experts of up) inside the router's "
                         << total << " experts";
  if (topK < 1 || (!ShapedType::isDynamic(total) && topK > total))
    return emitOpError() << "expects top_k (" << topK << ") in [1, " << total
                         << "] (the number of experts)";
  return success();
}

LogicalResult DenseAttentionOp::verify() {
  ShapeChecker check(*this);
  KVCacheType cache = getCache().getType();
  if (failed(check.queryHeads("q", getQ().getType(), getNumHeadsAttr().getInt(), cache)) ||
      failed(check.keysOrValues("k", getK().getType(), cache)) ||
      failed(check.keysOrValues("v", getV().getType(), cache)) ||
      failed(check.sameTokens("q", getQ().getType(), "k", getK().getType())) ||
      failed(check.sameTokens("k", getK().getType(), "v", getV().getType())) ||
      failed(check.sameType("result", getResult().getType(), getQ().getType(), "same as q")) ||
      failed(check.sameType("new_cache", getNewCache().getType(), cache, "same as cache")))
    return failure();
  return success();
}

LogicalResult LMHeadOp::verify() {
  ShapeChecker check(*this);
  Type x = getX().getType(), w = getWeight().getType(), logits = getType();
  if (failed(check.rank("x", x, 2)) || failed(check.rank("weight", w, 2, true)) ||
      failed(check.dim("weight", w, 1, dimOf(getX(), 1), "hidden size of x")) ||
      failed(check.elementType("weight", w, getElementTypeOrSelf(x), "the element type of x")) ||
      failed(check.rank("logits", logits, 2)) ||
      failed(check.dim("logits", logits, 1, dimOf(getWeight(), 0), "vocabulary size")) ||
      failed(check.sameTokens("x", x, "logits", logits)) ||
      failed(check.elementType("logits", logits, Float32Type::get(getContext()),
                               "logits are fp32")))
    return failure();
  return success();
}

LogicalResult SampleOp::verify() {
  ShapeChecker check(*this);
  if (failed(check.rank("logits", getLogits().getType(), 2)) ||
      failed(check.rank("tokens", getTokens().getType(), 1)) ||
      failed(check.sameTokens("logits", getLogits().getType(), "tokens", getTokens().getType())))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Multi-step attention
//===----------------------------------------------------------------------===//

LogicalResult KVAppendOp::verify() {
  ShapeChecker check(*this);
  KVCacheType cache = getCache().getType();
  if (failed(check.keysOrValues("k", getK().getType(), cache)) ||
      failed(check.keysOrValues("v", getV().getType(), cache)) ||
      failed(check.sameTokens("k", getK().getType(), "v", getV().getType())) ||
      failed(check.sameType("new_cache", getNewCache().getType(), cache, "same as cache")))
    return failure();
  return success();
}

LogicalResult MultiStepAttentionOp::verify() {
  ShapeChecker check(*this);
  KVCacheType cache = getCache().getType();
  Type q1 = getQ1().getType(), q2 = getQ2().getType();
  if (failed(check.queryHeads("q1", q1, getNumHeadsAttr().getInt(), cache)) ||
      failed(check.sameType("q2", q2, q1, "same as q1")) ||
      failed(check.keysOrValues("k", getK().getType(), cache)) ||
      failed(check.keysOrValues("v", getV().getType(), cache)) ||
      failed(check.sameTokens("q1", q1, "k", getK().getType())) ||
      failed(check.sameTokens("k", getK().getType(), "v", getV().getType())) ||
      failed(check.sameType("result", getResult().getType(), q2, "same as q2")) ||
      failed(check.sameType("new_cache", getNewCache().getType(), cache, "same as cache")))
    return failure();
  return success();
}
