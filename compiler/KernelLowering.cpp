#include "compiler/KernelLowering.h"

#include "compiler/KernelRegistry.h"
#include "compiler/TileHeuristics.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/TypeSwitch.h"

namespace sl::compiler {

using namespace mlir;
namespace sld = mlir::sl;

namespace {

int64_t rowStrideOf(Value buffer) {
  auto type = llvm::cast<MemRefType>(buffer.getType());
  SmallVector<int64_t> strides;
  int64_t offset = 0;
#if LLVM_VERSION_MAJOR >= 20
  if (failed(type.getStridesAndOffset(strides, offset)))
#else
  if (failed(getStridesAndOffset(type, strides, offset)))
#endif
    return type.getDimSize(type.getRank() - 1);
  return strides.empty() ? 1 : strides.front();
}

int64_t featureSize(Value value, unsigned dim = 1) {
  return llvm::cast<ShapedType>(value.getType()).getDimSize(dim);
}

// Block size of a one-block-per-row kernel over `elements` values of `vectorWidth` each.
int64_t rowThreads(int64_t elements, int64_t vectorWidth) {
  int64_t vectors = (elements + vectorWidth - 1) / vectorWidth;
  int64_t threads = ((vectors + 31) / 32) * 32;
  return std::clamp<int64_t>(threads, 32, 256);
}

std::string boolArg(bool value) { return value ? "true" : "false"; }

std::string activationArg(std::optional<sld::Activation> activation) {
  if (!activation)
    return "slk::kActNone";
  return *activation == sld::Activation::silu ? "slk::kActSilu" : "slk::kActRelu2";
}

int64_t tile(Operation *op, StringRef name) {
  auto tiles = op->getAttrOfType<DictionaryAttr>("sl.tiles");
  auto value = tiles ? tiles.getAs<IntegerAttr>(name) : IntegerAttr();
  return value ? value.getInt() : -1;
}

}  // namespace

//===----------------------------------------------------------------------===//
// LaunchBuilder
//===----------------------------------------------------------------------===//

unsigned LaunchBuilder::operandIndex(Value value) {
  for (auto [index, operand] : llvm::enumerate(operands_))
    if (operand == value)
      return index;
  operands_.push_back(value);
  return operands_.size() - 1;
}

LaunchBuilder &LaunchBuilder::pointer(Value buffer) {
  args_.push_back(lowering_.builder().getIndexAttr(operandIndex(buffer)));
  return *this;
}

LaunchBuilder &LaunchBuilder::statePart(Value state, StringRef part) {
  OpBuilder &b = lowering_.builder();
  args_.push_back(b.getArrayAttr({b.getIndexAttr(operandIndex(state)), b.getStringAttr(part)}));
  return *this;
}

LaunchBuilder &LaunchBuilder::null() { return runtime("null"); }

LaunchBuilder &LaunchBuilder::runtime(StringRef name) {
  args_.push_back(lowering_.builder().getStringAttr(name));
  return *this;
}

LaunchBuilder &LaunchBuilder::stateTable(StringRef table, Value state) {
  return runtime((table + ":" + llvm::Twine(operandIndex(state))).str());
}

LaunchBuilder &LaunchBuilder::i32(int64_t value) {
  args_.push_back(lowering_.builder().getI32IntegerAttr(static_cast<int32_t>(value)));
  return *this;
}

LaunchBuilder &LaunchBuilder::i64(int64_t value) {
  args_.push_back(lowering_.builder().getI64IntegerAttr(value));
  return *this;
}

LaunchBuilder &LaunchBuilder::f32(double value) {
  args_.push_back(lowering_.builder().getF32FloatAttr(static_cast<float>(value)));
  return *this;
}

LaunchBuilder &LaunchBuilder::rowStride(Value buffer) { return i32(rowStrideOf(buffer)); }

LaunchBuilder &LaunchBuilder::tokenRows(Value buffer) {
  auto type = llvm::cast<MemRefType>(buffer.getType());
  rowBytes_.resize(args_.size(), 0);
  rowBytes_.back() = rowStrideOf(buffer) * ((type.getElementTypeBitWidth() + 7) / 8);
  return *this;
}

void LaunchBuilder::launch(StringRef templateName, const std::vector<std::string> &templateArgs,
                           int64_t threads, int64_t sharedBytes, Extent x, Extent y, Extent z) {
  slk::KernelOp kernel =
      lowering_.declareKernel(templateName, templateArgs, threads, sharedBytes, loc_);
  OpBuilder &b = lowering_.builder();
  SmallVector<int64_t> grid = {x.mul, x.add, x.div, y.mul, y.add, y.div, z.mul, z.add, z.div};
  auto op = b.create<slk::LaunchOp>(loc_, FlatSymbolRefAttr::get(kernel.getSymNameAttr()),
                                    operands_, b.getArrayAttr(args_),
                                    b.getDenseI64ArrayAttr(grid), DenseI64ArrayAttr());
  if (!rowBytes_.empty()) {
    rowBytes_.resize(args_.size(), 0);
    op.setRowBytesAttr(b.getDenseI64ArrayAttr(rowBytes_));
  }
}

//===----------------------------------------------------------------------===//
// FunctionLowering: buffers, kernels
//===----------------------------------------------------------------------===//

FailureOr<Value> FunctionLowering::normalized(Location loc, Value x, Value weight,
                                              double epsilon) {
  Value input = lookup(x);
  auto key = std::make_pair(input, lookup(weight));
  if (Value done = normalized_.lookup(key))
    return done;
  auto t = elementSpelling(loc, getElementTypeOrSelf(x.getType()));
  auto wt = elementSpelling(loc, getElementTypeOrSelf(weight.getType()));
  if (failed(t) || failed(wt) || failed(expectContiguous(loc, input, "the input of rms_norm")))
    return failure();
  int64_t hidden = featureSize(x);
  int64_t threads = rowThreads(hidden, *t == "float" ? 4 : 8);
  auto tensor = llvm::cast<RankedTensorType>(x.getType());
  Value y = builder_.create<slk::AllocOp>(
      loc, MemRefType::get(tensor.getShape(), tensor.getElementType()), IntegerAttr(),
      IntegerAttr());
  LaunchBuilder(*this, loc)
      .pointer(input)
      .pointer(key.second)
      .pointer(y)
      .runtime("n")
      .f32(epsilon)
      .launch("rms_norm", {*t, *wt, std::to_string(hidden), std::to_string(threads)}, threads,
              0, Extent::perTokens(1));
  normalized_[key] = y;
  return y;
}

FunctionLowering::FunctionLowering(ModuleOp module, Block *body, int64_t maxTokens)
    : module_(module), builder_(OpBuilder::atBlockEnd(body)), maxTokens_(maxTokens) {}

Value FunctionLowering::allocate(Value result) {
  auto tensor = llvm::cast<RankedTensorType>(result.getType());
  Value buffer = builder_.create<slk::AllocOp>(
      result.getLoc(), MemRefType::get(tensor.getShape(), tensor.getElementType()),
      IntegerAttr(), IntegerAttr());
  map(result, buffer);
  return buffer;
}

Value FunctionLowering::scratch(Location loc, ArrayRef<int64_t> shape, Type element) {
  return builder_.create<slk::AllocOp>(loc, MemRefType::get(shape, element), IntegerAttr(),
                                       IntegerAttr());
}

FailureOr<std::string> FunctionLowering::elementSpelling(Location loc, Type type) {
  if (type.isBF16())
    return std::string("slk::bf16");
  if (type.isF32())
    return std::string("float");
  return emitError(loc) << "sl-lower-to-slk: the kernel library supports bf16 and f32 "
                           "activations and weights, got "
                        << type;
}

LogicalResult FunctionLowering::expectContiguous(Location loc, Value buffer, StringRef what) {
  auto type = llvm::cast<MemRefType>(buffer.getType());
  if (type.getLayout().isIdentity())
    return success();
  return emitError(loc) << "sl-lower-to-slk: " << what
                        << " must be a contiguous buffer for its kernel, got the view " << type;
}

slk::KernelOp FunctionLowering::declareKernel(StringRef templateName,
                                              const std::vector<std::string> &templateArgs,
                                              int64_t threads, int64_t sharedBytes,
                                              Location loc) {
  const KernelTemplate *kernel = lookupKernelTemplate(templateName);
  assert(kernel && "lowering uses a template missing from the registry");
  std::string symbol = kernelSymbol(*kernel, templateArgs);
  if (auto existing = module_.lookupSymbol<slk::KernelOp>(symbol))
    return existing;
  // Kernels precede the functions, in the order they are first used.
  OpBuilder moduleBuilder(module_.getContext());
  auto functions = module_.getOps<func::FuncOp>();
  if (functions.empty())
    moduleBuilder.setInsertionPointToEnd(module_.getBody());
  else
    moduleBuilder.setInsertionPoint(*functions.begin());
  SmallVector<StringRef> args(templateArgs.begin(), templateArgs.end());
  return moduleBuilder.create<slk::KernelOp>(
      loc, moduleBuilder.getStringAttr(symbol), moduleBuilder.getStringAttr(kernel->name),
      moduleBuilder.getStringAttr(kernel->header), moduleBuilder.getStrArrayAttr(args),
      moduleBuilder.getI64IntegerAttr(threads), moduleBuilder.getI64IntegerAttr(sharedBytes),
      StringAttr());
}

//===----------------------------------------------------------------------===//
// Per-op rules
//===----------------------------------------------------------------------===//

namespace {

// Tiles of the gemm template (docs/kernels-dense.md).
struct GemmTiles {
  int64_t bm, bn, bk, stages, warpsM, warpsN;
};

// Adds the launch of gemm<inType, outType, tiles..., epilogue> for `columns` output columns to
// `launch`, whose arguments are in place.
void launchGemm(LaunchBuilder &launch, const std::string &inType, const std::string &outType,
                const GemmTiles &t, const std::vector<std::string> &epilogue, int64_t columns,
                int64_t elementBytes) {
  std::vector<std::string> args = {inType,
                                   outType,
                                   std::to_string(t.bm),
                                   std::to_string(t.bn),
                                   std::to_string(t.bk),
                                   std::to_string(t.stages),
                                   std::to_string(t.warpsM),
                                   std::to_string(t.warpsN)};
  args.insert(args.end(), epilogue.begin(), epilogue.end());
  launch.launch("gemm", args, 32 * t.warpsM * t.warpsN,
                t.stages * (t.bm + t.bn) * (t.bk + 8) * elementBytes,
                Extent::fixed((columns + t.bn - 1) / t.bn), Extent::perTokens(t.bm));
}

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
  int64_t elementBytes = getElementTypeOrSelf(x.getType()).isBF16() ? 2 : 4;
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
    launch.pointer(c).rowStride(c).runtime("n").i32(n).i32(k);
    std::vector<std::string> args = {*inType, *wt, *outType, std::to_string(warps),
                                     std::to_string(maxM)};
    args.insert(args.end(), epilogue.begin(), epilogue.end());
    launch.launch("gemv_rmsnorm", args, 32 * warps, maxM * ((k + 7) / 8 * 8) * elementBytes,
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
  launch.rowStride(c).runtime("n").i32(n).i32(k);
  if (kernel.getValue() == "gemv") {
    int64_t warps = tile(op, "warps"), maxM = tile(op, "max_m");
    std::vector<std::string> args = {*inType, *outType, std::to_string(warps),
                                     std::to_string(maxM)};
    args.insert(args.end(), epilogue.begin(), epilogue.end());
    launch.launch("gemv", args, 32 * warps, 0, Extent::fixed((n + warps - 1) / warps));
    return success();
  }
  GemmTiles tiles{tile(op, "bm"),     tile(op, "bn"),      tile(op, "bk"),
                  tile(op, "stages"), tile(op, "warps_m"), tile(op, "warps_n")};
  launchGemm(launch, *inType, *outType, tiles, epilogue, n, elementBytes);
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
  Value out = L.allocate(op.getResult());
  LaunchBuilder(L, loc)
      .pointer(y)
      .rowStride(y)
      .pointer(gate)
      .rowStride(gate)
      .pointer(L.lookup(op.getWeight()))
      .pointer(out)
      .runtime("n")
      .f32(op.getEpsilon().convertToDouble())
      .launch("gated_rms_norm",
              {*t, *wt, std::to_string(channels), std::to_string(group), std::to_string(threads)},
              threads, 0, Extent::perTokens(1), Extent::fixed(channels / group));
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
      .runtime("n")
      .i32(vocab)
      .runtime("error_flag")
      .launch("embedding", {*t, std::to_string(hidden), std::to_string(threads)}, threads, 0,
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
      .runtime("n")
      .i32(vocab)
      .launch("argmax", {"256"}, 256, 0, Extent::perTokens(1));
  return success();
}

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
  launch.pointer(L.allocate(op.getResult())).runtime("n");
  std::vector<std::string> args = {*t, std::to_string(cols)};
  if (act)
    args.push_back(activationArg(act));
  args.push_back("256");
  launch.launch(templateName, args, 256, 0, Extent::perElements(cols, 256 * 4));
  return success();
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

std::string str(int64_t value) { return std::to_string(value); }

// Templates read fp32 for these small per-head / per-expert parameters.
LogicalResult expectF32(Operation *op, Value value, StringRef what) {
  if (getElementTypeOrSelf(value.getType()).isF32())
    return success();
  return op->emitError() << "sl-lower-to-slk: the kernels read " << what
                         << " as f32; the importer binds it so (got "
                         << getElementTypeOrSelf(value.getType()) << ")";
}

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
  if (L.maxTokens() > 8 && *t == *wt && *t == "slk::bf16") {
    // A prefill chunk: logits = x · gate^T on the tensor cores (the GEMM tile of
    // docs/kernels-dense.md's defaults), then one warp per token selects the experts.
    Value logits = L.scratch(loc, {ShapedType::kDynamic, experts}, L.builder().getF32Type());
    LaunchBuilder gemm(L, loc);
    gemm.pointer(x).rowStride(x).pointer(L.lookup(op.getGate())).null().null()
        .pointer(logits).i32(experts).runtime("n").i32(experts).i32(hidden);
    launchGemm(gemm, *t, "float", GemmTiles{128, 128, 32, 3, 2, 4},
               {activationArg(std::nullopt), boolArg(false), boolArg(false)}, experts,
               /*elementBytes=*/2);
    LaunchBuilder(L, loc)
        .pointer(logits)
        .pointer(L.lookup(op.getCorrectionBias()))
        .pointer(L.allocate(op.getWeights()))
        .pointer(L.allocate(op.getIndices()))
        .runtime("n")
        .f32(op.getRoutedScalingFactor().convertToDouble())
        .i32(op.getNormTopkProb() ? 1 : 0)
        .launch("moe_topk", {str(experts), str(topK), "256"}, 256, 0, Extent::perTokens(8));
    return success();
  }
  int64_t threads = L.maxTokens() <= 8 ? 1024 : 256;
  LaunchBuilder(L, loc)
      .pointer(x)
      .pointer(L.lookup(op.getGate()))
      .pointer(L.lookup(op.getCorrectionBias()))
      .pointer(L.allocate(op.getWeights()))
      .pointer(L.allocate(op.getIndices()))
      .runtime("n")
      .f32(op.getRoutedScalingFactor().convertToDouble())
      .i32(op.getNormTopkProb() ? 1 : 0)
      // One block per token: a decode step has a single token, so its block takes 32 warps
      // (4 experts each) instead of 8 (16 each), a quarter of the dependent loads per warp.
      .launch("moe_router", {*t, *wt, str(hidden), str(experts), str(topK), str(threads)},
              threads, 0, Extent::perTokens(1));
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
        .runtime("n")
        .launch("moe_decode_up", {*t, str(hidden), str(inter), str(topK), str(warps), act},
                32 * warps, 0, Extent::fixed((inter + warps - 1) / warps),
                Extent{topK, 0, 1});
    LaunchBuilder down(L, loc);
    down.pointer(h).pointer(L.lookup(op.getDown())).pointer(weights).pointer(indices);
    optional(down, op.getShared());
    optional(down, op.getResidual());
    down.pointer(L.allocate(op.getResult())).runtime("n");
    down.launch("moe_decode_down",
                {*t, str(hidden), str(inter), str(topK), str(warps), boolArg(hasShared),
                 boolArg(hasResidual)},
                32 * warps, 0, Extent::fixed((hidden + warps - 1) / warps),
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
  int64_t smem = stages * (bm + bn) * (bk + 8) * (element.isBF16() ? 2 : 4);
  std::vector<std::string> gemmTiles = {str(bm), str(bn), str(bk), str(stages), str(wm),
                                        str(wn)};
  LaunchBuilder(L, loc)
      .pointer(indices)
      .runtime("n")
      .pointer(sortedPair)
      .pointer(tileExpert)
      .pointer(numTiles)
      .launch("moe_align", {str(experts), str(topK), str(bm), "1024"}, 1024, 0,
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
      .launch("moe_up", upArgs, 32 * wm * wn, smem, Extent::fixed((inter + bn - 1) / bn),
              tiles);
  LaunchBuilder(L, loc)
      .pointer(h)
      .pointer(L.lookup(op.getDown()))
      .pointer(sortedPair)
      .pointer(tileExpert)
      .pointer(numTiles)
      .pointer(slotOut)
      .launch("moe_down", downArgs, 32 * wm * wn, smem, Extent::fixed((hidden + bn - 1) / bn),
              tiles);
  LaunchBuilder combine(L, loc);
  combine.pointer(slotOut).pointer(weights).pointer(indices);
  optional(combine, op.getShared());
  optional(combine, op.getResidual());
  combine.pointer(L.allocate(op.getResult())).runtime("n");
  combine.launch("moe_combine",
                 {*t, str(hidden), str(topK), "256", boolArg(hasShared), boolArg(hasResidual)},
                 256, 0, Extent::perTokens(1));
  return success();
}

LogicalResult lowerCausalConv1d(FunctionLowering &L, sld::CausalConv1dOp op) {
  Location loc = op.getLoc();
  sld::MambaStateType state = op.getState().getType();
  auto t = L.elementSpelling(loc, getElementTypeOrSelf(op.getX().getType()));
  auto wt = L.elementSpelling(loc, getElementTypeOrSelf(op.getWeight().getType()));
  auto st = L.elementSpelling(loc, state.getConvType());
  if (failed(t) || failed(wt) || failed(st))
    return failure();
  if (op.getBias() &&
      getElementTypeOrSelf(op.getBias().getType()) != getElementTypeOrSelf(op.getWeight().getType()))
    return op.emitError("sl-lower-to-slk: the conv kernels read bias and weight in one type");
  int64_t channels = state.getConvChannels(), kernel = state.getConvKernel();
  Value x = L.lookup(op.getX()), stateArg = L.lookup(op.getState());
  L.map(op.getNewState(), stateArg);
  Value y = L.allocate(op.getResult());
  std::vector<std::string> args = {*t, *wt, *st, str(channels), str(kernel),
                                   boolArg(bool(op.getBias())), activationArg(op.getActivation()),
                                   "128"};
  LaunchBuilder conv(L, loc);
  conv.pointer(x).rowStride(x).pointer(L.lookup(op.getWeight()));
  op.getBias() ? conv.pointer(L.lookup(op.getBias())) : conv.null();
  conv.statePart(stateArg, "conv").pointer(y).rowStride(y).runtime("n");
  Extent channelBlocks = Extent::fixed((channels + 127) / 128);
  if (L.maxTokens() <= 8) {
    conv.launch("causal_conv1d_step", args, 128, 0, channelBlocks);
    return success();
  }
  args.push_back("32");
  conv.launch("causal_conv1d", args, 128, 0, channelBlocks, Extent::perTokens(32));
  LaunchBuilder(L, loc)
      .pointer(x)
      .rowStride(x)
      .statePart(stateArg, "conv")
      .runtime("n")
      .launch("conv_state_update", {*t, *st, str(channels), str(kernel), "128"}, 128, 0,
              channelBlocks);
  return success();
}

LogicalResult lowerSSDScan(FunctionLowering &L, sld::SSDScanOp op) {
  Location loc = op.getLoc();
  sld::MambaStateType state = op.getState().getType();
  auto t = L.elementSpelling(loc, getElementTypeOrSelf(op.getXbc().getType()));
  if (failed(t) || failed(expectF32(op, op.getALog(), "A_log")) ||
      failed(expectF32(op, op.getD(), "D")) || failed(expectF32(op, op.getDtBias(), "dt_bias")))
    return failure();
  if (!state.getSsmType().isF32())
    return op.emitError("sl-lower-to-slk: the SSD kernels keep the SSM state in f32");
  auto kernel = op->getAttrOfType<StringAttr>("sl.kernel");
  if (!kernel)
    return op.emitError("sl-lower-to-slk expects tile choices from sl-select-tiles");
  int64_t heads = state.getHeads(), headDim = state.getHeadDim(), groups = state.getGroups(),
          stateSize = state.getStateSize();
  double dtMin = op.getDtMin() ? op.getDtMin()->convertToDouble() : 0.0;
  double dtMax = op.getDtMax() ? op.getDtMax()->convertToDouble() : INFINITY;
  Value xbc = L.lookup(op.getXbc()), dt = L.lookup(op.getDt());
  Value stateArg = L.lookup(op.getState());
  L.map(op.getNewState(), stateArg);
  Value y = L.allocate(op.getResult());
  Value aLog = L.lookup(op.getALog()), d = L.lookup(op.getD()), dtBias = L.lookup(op.getDtBias());
  if (kernel.getValue() == "ssd_step") {
    int64_t rows = tile(op, "rows");
    LaunchBuilder(L, loc)
        .pointer(xbc).rowStride(xbc).pointer(dt).rowStride(dt)
        .pointer(aLog).pointer(d).pointer(dtBias)
        .statePart(stateArg, "ssm")
        .pointer(y).rowStride(y).runtime("n").f32(dtMin).f32(dtMax)
        .launch("ssd_step", {*t, str(heads), str(headDim), str(groups), str(stateSize), str(rows)},
                32 * rows, 0, Extent::fixed(heads), Extent::fixed(headDim / rows));
    return success();
  }
  // The scan's chunk length: the tile sl-select-tiles chose (sl-check-kernel-shapes checked it).
  int64_t chunk = tile(op, "chunk");
  int64_t chunks = (L.maxTokens() + chunk - 1) / chunk;
  Type f32 = L.builder().getF32Type();
  Value dtS = L.scratch(loc, {heads * chunks * chunk}, f32);
  Value cumS = L.scratch(loc, {heads * chunks * chunk}, f32);
  Value states = L.scratch(loc, {chunks * heads * headDim * stateSize}, f32);
  std::vector<std::string> shape = {*t, str(heads), str(headDim), str(groups), str(stateSize),
                                    str(chunk), "256"};
  LaunchBuilder(L, loc)
      .pointer(dt).rowStride(dt).pointer(dtBias).pointer(aLog).pointer(dtS).pointer(cumS)
      .runtime("n").f32(dtMin).f32(dtMax)
      .launch("ssd_chunk_cumsum", {*t, str(heads), str(chunk)}, chunk, 0,
              Extent::perTokens(chunk), Extent::fixed(heads));
  LaunchBuilder(L, loc)
      .pointer(xbc).rowStride(xbc).pointer(dtS).pointer(cumS).pointer(states).runtime("n")
      .launch("ssd_chunk_state", shape, 256, ssdChunkStateSmem(headDim, stateSize, chunk),
              Extent::perTokens(chunk), Extent::fixed(heads));
  LaunchBuilder(L, loc)
      .pointer(states).pointer(cumS).statePart(stateArg, "ssm").runtime("n")
      .launch("ssd_state_pass", {str(heads), str(headDim), str(stateSize), str(chunk), "256"},
              256, 0, Extent::fixed((heads * headDim * stateSize + 255) / 256));
  LaunchBuilder(L, loc)
      .pointer(xbc).rowStride(xbc).pointer(d).pointer(dtS).pointer(cumS).pointer(states)
      .pointer(y).rowStride(y).runtime("n")
      .launch("ssd_chunk_scan", shape, 256, ssdChunkScanSmem(headDim, chunk), Extent::perTokens(chunk),
              Extent::fixed(heads));
  return success();
}

// Appends k, v to the cache (token t of the call at position start + t).
LogicalResult appendToCache(FunctionLowering &L, Location loc, Value k, Value v,
                            sld::KVCacheType cache, Value stateArg) {
  auto t = L.elementSpelling(loc, cache.getElementType());
  if (failed(t))
    return failure();
  Value keys = L.lookup(k), values = L.lookup(v);
  LaunchBuilder(L, loc)
      .pointer(keys).rowStride(keys).pointer(values).rowStride(values)
      .statePart(stateArg, "k").statePart(stateArg, "v")
      .runtime("capacity").runtime("start").runtime("n")
      .launch("kv_append", {*t, str(cache.getKvHeads()), str(cache.getHeadDim()), "128"}, 128,
              0, Extent::perTokens(1));
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
  bool bf16 = cache.getElementType().isBF16();
  int64_t heads = op.getNumHeadsAttr().getInt(), kvHeads = cache.getKvHeads(),
          headDim = cache.getHeadDim(), group = heads / kvHeads;
  Value q = L.lookup(op.getQ());
  Value out = L.allocate(op.getResult());
  if (kernel.getValue() == "attention_decode") {
    int64_t splits = tile(op, "splits"), bn = tile(op, "bn"), warps = tile(op, "warps");
    Type f32 = L.builder().getF32Type();
    Value partO = L.scratch(loc, {splits * L.maxTokens() * heads * headDim}, f32);
    Value partLse = L.scratch(loc, {splits * L.maxTokens() * heads}, f32);
    int64_t smem = bf16 ? 16 * (headDim + 8) * 2 + std::max(warps * 4 * bn * (headDim + 8) * 2,
                                                             warps * 16 * (headDim + 2) * 4)
                        : 16 * headDim * 4 + std::max(warps * bn * (2 * headDim + 1) * 4,
                                                      warps * 16 * (headDim + 2) * 4);
    LaunchBuilder(L, loc)
        .pointer(q).rowStride(q).statePart(stateArg, "k").statePart(stateArg, "v")
        .runtime("capacity").pointer(partO).pointer(partLse).runtime("n").runtime("cache_len")
        .launch("attention_decode_partial",
                {*t, str(heads), str(kvHeads), str(headDim), str(splits), str(bn), str(warps)},
                32 * warps, smem, Extent::fixed(splits), Extent::fixed(kvHeads),
                Extent{group, 0, 16});
    LaunchBuilder(L, loc)
        .pointer(partO).pointer(partLse).pointer(out).rowStride(out).runtime("n")
        .launch("attention_decode_combine", {*t, str(heads), str(headDim), str(splits)},
                headDim, 0, Extent::perTokens(1), Extent::fixed(heads));
    return success();
  }
  int64_t bm = tile(op, "bm"), bn = tile(op, "bn");
  int64_t smem = bf16 ? (bm + 4 * bn) * (headDim + 8) * 2
                      : 4 * (bm * headDim + bn * (2 * headDim + 1));
  LaunchBuilder(L, loc)
      .pointer(q).rowStride(q).statePart(stateArg, "k").statePart(stateArg, "v")
      .runtime("capacity").pointer(out).rowStride(out).runtime("n").runtime("cache_len")
      .launch("attention_prefill", {*t, str(heads), str(kvHeads), str(headDim), str(bm), str(bn)},
              32 * bm / 16, smem, Extent::perTokens(bm), Extent::fixed(heads));
  return success();
}

//===----------------------------------------------------------------------===//
// Multi-step attention (docs/kernels-msa.md): anchor_grid + route_topk -> msa_anchor_topk;
// segment_attention -> window + span attention (prefill) or the fused decode attention;
// gate_combine -> gate merge (prefill) or decode combine. Stages hand buffers to each other
// through FunctionLowering::handoff().
//===----------------------------------------------------------------------===//

struct MsaShape {
  std::string t;
  int64_t heads, kvHeads, headDim, spans, window;
  int64_t group() const { return heads / kvHeads; }
  bool bf16() const { return t == "slk::bf16"; }
  // msa_attention_smem<T, HEAD_DIM, NW>()
  int64_t attentionSmem(int64_t warps) const {
    int64_t bytes = bf16() ? 2 : 4, ld = headDim + 8, rows = 16 * warps;
    return rows * ld * bytes + std::max(2 * 2 * 64 * ld * bytes, rows * headDim * 4) +
           rows * 12 + 8 * warps + 16;
  }
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
  launch.pointer(q1).rowStride(q1).statePart(cache, "k").runtime("capacity")
      .runtime("cache_len").runtime("n").stateTable("anchor_offsets", cache)
      .stateTable("num_stripes", cache).stateTable("span_reach", cache);
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
                128, 0, Extent::perTokens(qpb), Extent::fixed(shape->kvHeads),
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
        .pointer(q2).rowStride(q2).statePart(cache, "k").statePart(cache, "v")
        .runtime("capacity").runtime("cache_len").runtime("n")
        .stateTable("anchor_offsets", cache).stateTable("span_reach", cache)
        .pointer(routed.lookup("part_scores")).pointer(routed.lookup("part_idx"))
        .pointer(wsO).pointer(wsLse)
        .launch("msa_decode_attention",
                {shape->t, str(h), str(shape->kvHeads), str(d), str(k), str(shape->window),
                 str(splits.routing), str(splits.window), str(splits.span)},
                128, 0, Extent::fixed(blocks));
    return success();
  }
  Value oW = L.scratch(loc, {n * h * d}, element);
  Value lseW = L.scratch(loc, {n * h}, f32);
  handoff["o_w"] = oW;
  handoff["lse_w"] = lseW;
  LaunchBuilder(L, loc)
      .pointer(q2).rowStride(q2).statePart(cache, "k").statePart(cache, "v")
      .runtime("capacity").runtime("cache_len").runtime("n").pointer(oW).pointer(lseW)
      .launch("msa_window_attention",
              {shape->t, str(h), str(shape->kvHeads), str(d), str(shape->window), "4"}, 128,
              shape->attentionSmem(4), Extent{shape->group(), 0, 64},
              Extent::fixed(shape->kvHeads));
  // Rows grouped by span start (a counting sort per kv head), so that a block's rows share K/V
  // tiles whatever the routing.
  Value spanStart = L.lookup(op.getSpanStart()), spanEnd = L.lookup(op.getSpanEnd());
  Value rowOrder = L.scratch(loc, {shape->kvHeads * n * shape->group() * k},
                             L.builder().getI32Type());
  handoff["row_order"] = rowOrder;
  LaunchBuilder(L, loc)
      .pointer(spanStart).pointer(spanEnd).runtime("cache_len").runtime("n").pointer(rowOrder)
      .launch("msa_span_order", {str(h), str(shape->kvHeads), str(k), str(kSpanOrderBuckets)},
              1024, 0, Extent::fixed(shape->kvHeads));
  LaunchBuilder(L, loc)
      .pointer(q2).rowStride(q2).statePart(cache, "k").statePart(cache, "v")
      .runtime("capacity").runtime("cache_len").runtime("n")
      .pointer(spanStart).pointer(spanEnd).pointer(rowOrder)
      .pointer(L.allocate(op.getOutputs())).pointer(L.allocate(op.getLse()))
      .launch("msa_span_attention",
              {shape->t, str(h), str(shape->kvHeads), str(d), str(k), "4"}, 128,
              shape->attentionSmem(4), Extent{shape->group() * k, 0, 64},
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
        .pointer(out).rowStride(out).runtime("n")
        .launch("msa_decode_combine",
                {shape->t, str(h), str(d), str(k), str(splits.routing), str(splits.window),
                 str(splits.span)},
                128, 0, Extent{h, 0, 1});
    return success();
  }
  LaunchBuilder(L, loc)
      .pointer(handoff.lookup("o_w")).pointer(handoff.lookup("lse_w"))
      .pointer(L.lookup(op.getOutputs())).pointer(L.lookup(segment.getLse()))
      .pointer(L.lookup(op.getTopScores())).pointer(out).rowStride(out).runtime("n")
      .launch("msa_gate_merge", {shape->t, str(h), str(d), str(k)}, 256, 0,
              Extent::perTokens(1));
  return success();
}

}  // namespace

LogicalResult FunctionLowering::lower(Operation *op) {
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](sld::WeightOp weight) {
        auto tensor = llvm::cast<RankedTensorType>(weight.getType());
        map(weight.getResult(),
            builder_.create<slk::WeightOp>(
                weight.getLoc(), MemRefType::get(tensor.getShape(), tensor.getElementType()),
                weight.getNameAttr()));
        return success();
      })
      .Case([&](sld::SplitOp split) { return lowerSplit(*this, split); })
      .Case([&](sld::EmbeddingOp embedding) { return lowerEmbedding(*this, embedding); })
      .Case([&](sld::RMSNormOp norm) { return lowerRMSNorm(*this, norm); })
      .Case([&](sld::GatedRMSNormOp norm) { return lowerGatedRMSNorm(*this, norm); })
      .Case([&](sld::LinearOp linear) {
        return lowerProjection(*this, linear, linear.getX(), linear.getWeight(),
                               linear.getBias(), linear.getResidual(), linear.getActivation(),
                               linear.getResult());
      })
      .Case([&](sld::LMHeadOp head) {
        return lowerProjection(*this, head, head.getX(), head.getWeight(), Value(), Value(),
                               std::nullopt, head.getLogits());
      })
      .Case([&](sld::AddOp add) {
        return lowerElementwise(*this, add, "add", {add.getLhs(), add.getRhs()}, std::nullopt);
      })
      .Case([&](sld::ActivationOp act) {
        return lowerElementwise(*this, act, "activation", {act.getX()}, act.getKind());
      })
      .Case([&](sld::SampleOp sample) { return lowerSample(*this, sample); })
      .Case([&](sld::MoERouterOp router) { return lowerMoERouter(*this, router); })
      .Case([&](sld::MoEExpertsOp experts) { return lowerMoEExperts(*this, experts); })
      .Case([&](sld::CausalConv1dOp conv) { return lowerCausalConv1d(*this, conv); })
      .Case([&](sld::SSDScanOp scan) { return lowerSSDScan(*this, scan); })
      .Case([&](sld::DenseAttentionOp attention) { return lowerDenseAttention(*this, attention); })
      .Case([&](sld::AnchorGridOp) {
        return success();  // fused into the msa_anchor_topk launch of its route_topk
      })
      .Case([&](sld::RouteTopKOp route) { return lowerRouteTopK(*this, route); })
      .Case([&](sld::SegmentAttentionOp segment) {
        return lowerSegmentAttention(*this, segment);
      })
      .Case([&](sld::GateCombineOp gate) { return lowerGateCombine(*this, gate); })
      .Case([&](sld::KVAppendOp append) {
        Value stateArg = lookup(append.getCache());
        map(append.getNewCache(), stateArg);
        return appendToCache(*this, append.getLoc(), append.getK(), append.getV(),
                             append.getCache().getType(), stateArg);
      })
      .Default([&](Operation *other) {
        return other->emitError() << "sl-lower-to-slk: no kernel lowering for "
                                  << other->getName();
      });
}

}  // namespace sl::compiler
