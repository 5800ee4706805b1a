// Lowering rules of the dense ops: projections (GEMM / GEMV, fused norm and epilogues), norms,
// embedding, sampling, element-wise ops and column splits (docs/kernels-dense.md).
#include "compiler/lowering/Rules.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"

namespace sl::compiler::lowering {

using namespace mlir;
namespace sld = mlir::sl;

LogicalResult lowerProjection(FunctionLowering &L, Operation *op, Value x, Value weight,
                              Value bias, Value residual,
                              std::optional<sld::Activation> activation, Value result) {
  Location loc = op->getLoc();
  auto kernel = op->getAttrOfType<StringAttr>("sl.kernel");
  if (!kernel)
    return op->emitError("sl-lower-to-slk expects tile choices from sl-select-tiles");
  auto inType = L.elementSpelling(loc, getElementTypeOrSelf(x.getType()));
  auto outType = L.elementSpelling(loc, getElementTypeOrSelf(result.getType()));
  if (failed(inType) || failed(outType))
    return failure();
  int64_t n = featureSize(weight, 0), k = featureSize(weight, 1);
  std::vector<std::string> epilogue = {activationArg(activation), boolArg(bool(bias)),
                                       boolArg(bool(residual))};
  Value a = L.lookup(x);
  auto linear = llvm::dyn_cast<sld::LinearOp>(op);
  Value norm = linear ? linear.getNormWeight() : Value();
  if (norm && kernel.getValue() == "gemv") {
    // Decode: the norm runs in the GEMV's prologue.
    auto wt = L.elementSpelling(loc, getElementTypeOrSelf(norm.getType()));
    if (failed(wt))
      return failure();
    int64_t warps = tile(op, "warps"), maxM = tile(op, "max_m");
    Value c = L.allocate(result);
    LaunchBuilder launch(L, loc);
    launch.pointer(a).rowStride(a).pointer(L.lookup(norm))
        .f32(linear.getNormEpsilon()->convertToDouble()).pointer(L.lookup(weight));
    bias ? launch.pointer(L.lookup(bias)) : launch.null();
    residual ? launch.pointer(L.lookup(residual)) : launch.null();
    launch.pointer(c).rowStride(c).runtime(RuntimeValue::n).i32(n).i32(k);
    std::vector<std::string> args = {*inType, *wt, *outType, std::to_string(warps),
                                     std::to_string(maxM)};
    args.insert(args.end(), epilogue.begin(), epilogue.end());
    launch.launch("gemv_rmsnorm", args, 32 * warps,
                  Extent::fixed((n + warps - 1) / warps));
    return success();
  }
  if (norm) {
    // Prefill: one rms_norm for every projection that fused this norm, then the GEMM.
    auto normed = L.normalized(loc, x, norm, linear.getNormEpsilon()->convertToDouble());
    if (failed(normed))
      return failure();
    a = *normed;
  }
  Value c = L.allocate(result);
  // The LM head of a prefill chunk: the caller reads the last position's logits at most, so
  // the runtime may compute those rows alone.
  const bool outputRows = llvm::isa<sld::LMHeadOp>(op) && kernel.getValue() != "gemv";
  LaunchBuilder launch(L, loc);
  launch.pointer(a);
  if (outputRows)
    launch.tokenRows(a);
  launch.rowStride(a).pointer(L.lookup(weight));
  bias ? launch.pointer(L.lookup(bias)) : launch.null();
  residual ? launch.pointer(L.lookup(residual)) : launch.null();
  launch.pointer(c);
  if (outputRows)
    launch.tokenRows(c);
  launch.rowStride(c).runtime(RuntimeValue::n).i32(n).i32(k);
  if (kernel.getValue() == "gemv") {
    int64_t warps = tile(op, "warps"), maxM = tile(op, "max_m");
    std::vector<std::string> args = {*inType, *outType, std::to_string(warps),
                                     std::to_string(maxM)};
    args.insert(args.end(), epilogue.begin(), epilogue.end());
    launch.launch("gemv", args, 32 * warps, Extent::fixed((n + warps - 1) / warps));
    return success();
  }
  if (kernel.getValue() == "gemm_wgmma") {
    int64_t bm = tile(op, "bm"), bn = tile(op, "bn");
    std::vector<std::string> args = {*inType, *outType, std::to_string(bm), std::to_string(bn),
                                     std::to_string(tile(op, "stages"))};
    args.insert(args.end(), epilogue.begin(), epilogue.end());
    launch.launch("gemm_wgmma", args, 2 * bm, Extent::fixed((n + bn - 1) / bn),
                  Extent::perTokens(bm));
    return success();
  }
  GemmTiles tiles{tile(op, "bm"),     tile(op, "bn"),      tile(op, "bk"),
                  tile(op, "stages"), tile(op, "warps_m"), tile(op, "warps_n")};
  launchGemm(launch, *inType, *outType, tiles, epilogue, n);
  return success();
}

LogicalResult lowerRMSNorm(FunctionLowering &L, sld::RMSNormOp op) {
  auto y = L.normalized(op.getLoc(), op.getX(), op.getWeight(),
                        op.getEpsilon().convertToDouble());
  if (failed(y))
    return failure();
  L.map(op.getResult(), *y);
  return success();
}

LogicalResult lowerGatedRMSNorm(FunctionLowering &L, sld::GatedRMSNormOp op) {
  Location loc = op.getLoc();
  auto t = L.elementSpelling(loc, getElementTypeOrSelf(op.getY().getType()));
  auto wt = L.elementSpelling(loc, getElementTypeOrSelf(op.getWeight().getType()));
  if (failed(t) || failed(wt))
    return failure();
  int64_t channels = featureSize(op.getY()), group = op.getGroupSizeAttr().getInt();
  int64_t threads = rowThreads(group, 4);
  Value y = L.lookup(op.getY()), gate = L.lookup(op.getGate());
  if (auto shared = op.getSharedGroup()) {
    // A group split over ranks: this rank's sum of squares into its group's column of a
    // [tokens, groups] buffer, summed over the ranks, then the norm with the whole group's mean.
    const int64_t ranks = (*shared)[0], index = (*shared)[1], count = (*shared)[2];
    Value sums = L.scratch(loc, {ShapedType::kDynamic, count}, L.builder().getF32Type());
    LaunchBuilder(L, loc)
        .pointer(y)
        .rowStride(y)
        .pointer(gate)
        .rowStride(gate)
        .pointer(sums)
        .i32(count)
        .i32(index)
        .runtime(RuntimeValue::n)
        .launch("gated_sum_squares",
                {*t, std::to_string(channels), std::to_string(group), std::to_string(threads)},
                threads, Extent::perTokens(1), Extent::fixed(channels / group));
    L.builder().create<slk::AllReduceOp>(loc, sums);
    Value out = L.allocate(op.getResult());
    LaunchBuilder(L, loc)
        .pointer(y)
        .rowStride(y)
        .pointer(gate)
        .rowStride(gate)
        .pointer(L.lookup(op.getWeight()))
        .pointer(sums)
        .i32(count)
        .i32(index)
        .pointer(out)
        .runtime(RuntimeValue::n)
        .f32(op.getEpsilon().convertToDouble())
        .i32(group * ranks)
        .launch("gated_rms_norm_sums",
                {*t, *wt, std::to_string(channels), std::to_string(group),
                 std::to_string(threads)},
                threads, Extent::perTokens(1), Extent::fixed(channels / group));
    return success();
  }
  Value out = L.allocate(op.getResult());
  LaunchBuilder(L, loc)
      .pointer(y)
      .rowStride(y)
      .pointer(gate)
      .rowStride(gate)
      .pointer(L.lookup(op.getWeight()))
      .pointer(out)
      .runtime(RuntimeValue::n)
      .f32(op.getEpsilon().convertToDouble())
      .launch("gated_rms_norm",
              {*t, *wt, std::to_string(channels), std::to_string(group), std::to_string(threads)},
              threads, Extent::perTokens(1), Extent::fixed(channels / group));
  return success();
}

LogicalResult lowerEmbedding(FunctionLowering &L, sld::EmbeddingOp op) {
  Location loc = op.getLoc();
  auto t = L.elementSpelling(loc, getElementTypeOrSelf(op.getTable().getType()));
  if (failed(t))
    return failure();
  if (!getElementTypeOrSelf(op.getTokens().getType()).isInteger(32))
    return op.emitError("sl-lower-to-slk: the embedding kernel reads i32 token ids");
  int64_t vocab = featureSize(op.getTable(), 0), hidden = featureSize(op.getTable());
  int64_t threads = rowThreads(hidden, *t == "float" ? 4 : 8);
  Value out = L.allocate(op.getResult());
  LaunchBuilder(L, loc)
      .pointer(L.lookup(op.getTokens()))
      .pointer(L.lookup(op.getTable()))
      .pointer(out)
      .runtime(RuntimeValue::n)
      .i32(vocab)
      .runtime(RuntimeValue::error_flag)
      .launch("embedding", {*t, std::to_string(hidden), std::to_string(threads)}, threads,
              Extent::perTokens(1));
  return success();
}

LogicalResult lowerSample(FunctionLowering &L, sld::SampleOp op) {
  int64_t vocab = featureSize(op.getLogits());
  Value out = L.allocate(op.getTokens());
  if (!getElementTypeOrSelf(op.getTokens().getType()).isInteger(32))
    return op.emitError("sl-lower-to-slk: the sampling kernel writes i32 token ids");
  LaunchBuilder(L, op.getLoc())
      .pointer(L.lookup(op.getLogits()))
      .pointer(out)
      .runtime(RuntimeValue::n)
      .i32(vocab)
      .launch("argmax", {"256"}, 256, Extent::perTokens(1));
  return success();
}

namespace {

template <typename OpT>
LogicalResult lowerElementwise(FunctionLowering &L, OpT op, StringRef templateName,
                               ArrayRef<Value> inputs, std::optional<sld::Activation> act) {
  Location loc = op.getLoc();
  auto t = L.elementSpelling(loc, getElementTypeOrSelf(op.getType()));
  if (failed(t))
    return failure();
  int64_t cols = featureSize(op.getResult());
  LaunchBuilder launch(L, loc);
  for (Value input : inputs) {
    Value buffer = L.lookup(input);
    if (failed(L.expectContiguous(loc, buffer, "an element-wise operand")))
      return failure();
    launch.pointer(buffer);
  }
  launch.pointer(L.allocate(op.getResult())).runtime(RuntimeValue::n);
  std::vector<std::string> args = {*t, std::to_string(cols)};
  if (act)
    args.push_back(activationArg(act));
  args.push_back("256");
  launch.launch(templateName, args, 256, Extent::perElements(cols, 256 * 4));
  return success();
}

}  // namespace

LogicalResult lowerAdd(FunctionLowering &L, sld::AddOp add) {
  return lowerElementwise(L, add, "add", {add.getLhs(), add.getRhs()}, std::nullopt);
}

LogicalResult lowerActivation(FunctionLowering &L, sld::ActivationOp act) {
  return lowerElementwise(L, act, "activation", {act.getX()}, act.getKind());
}

LogicalResult lowerSplit(FunctionLowering &L, sld::SplitOp op) {
  Value source = L.lookup(op.getX());
  auto sourceType = llvm::cast<MemRefType>(source.getType());
  if (sourceType.getRank() != 2 || !sourceType.getLayout().isIdentity())
    return op.emitError("sl-lower-to-slk: sl.split lowers to column views of a contiguous "
                        "rank-2 buffer");
  int64_t columns = sourceType.getDimSize(1), offset = 0;
  for (Value piece : op.getPieces()) {
    auto tensor = llvm::cast<RankedTensorType>(piece.getType());
    auto layout = StridedLayoutAttr::get(op.getContext(), offset, {columns, 1});
    auto viewType = MemRefType::get(tensor.getShape(), tensor.getElementType(), layout);
    Value view = L.builder().create<slk::ColumnSliceOp>(op.getLoc(), viewType, source,
                                                        L.builder().getI64IntegerAttr(offset));
    L.map(piece, view);
    offset += tensor.getDimSize(1);
  }
  return success();
}

}  // namespace sl::compiler::lowering
