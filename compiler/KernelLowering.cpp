#include "compiler/KernelLowering.h"

#include "compiler/KernelRegistry.h"

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

void LaunchBuilder::launch(StringRef templateName, const std::vector<std::string> &templateArgs,
                           int64_t threads, int64_t sharedBytes, Extent x, Extent y, Extent z) {
  slk::KernelOp kernel =
      lowering_.declareKernel(templateName, templateArgs, threads, sharedBytes, loc_);
  OpBuilder &b = lowering_.builder();
  SmallVector<int64_t> grid = {x.mul, x.add, x.div, y.mul, y.add, y.div, z.mul, z.add, z.div};
  b.create<slk::LaunchOp>(loc_, FlatSymbolRefAttr::get(kernel.getSymNameAttr()), operands_,
                          b.getArrayAttr(args_), b.getDenseI64ArrayAttr(grid));
}

//===----------------------------------------------------------------------===//
// FunctionLowering: buffers, kernels
//===----------------------------------------------------------------------===//

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
  OpBuilder moduleBuilder = OpBuilder::atBlockBegin(module_.getBody());
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
  Value a = L.lookup(x);
  Value c = L.allocate(result);
  LaunchBuilder launch(L, loc);
  launch.pointer(a).rowStride(a).pointer(L.lookup(weight));
  bias ? launch.pointer(L.lookup(bias)) : launch.null();
  residual ? launch.pointer(L.lookup(residual)) : launch.null();
  launch.pointer(c).rowStride(c).runtime("n").i32(n).i32(k);
  std::vector<std::string> epilogue = {activationArg(activation), boolArg(bool(bias)),
                                       boolArg(bool(residual))};
  if (kernel.getValue() == "gemv") {
    int64_t warps = tile(op, "warps"), maxM = tile(op, "max_m");
    std::vector<std::string> args = {*inType, *outType, std::to_string(warps),
                                     std::to_string(maxM)};
    args.insert(args.end(), epilogue.begin(), epilogue.end());
    launch.launch("gemv", args, 32 * warps, 0, Extent::fixed((n + warps - 1) / warps));
    return success();
  }
  int64_t bm = tile(op, "bm"), bn = tile(op, "bn"), bk = tile(op, "bk"),
          stages = tile(op, "stages"), wm = tile(op, "warps_m"), wn = tile(op, "warps_n");
  int64_t elementBytes = getElementTypeOrSelf(x.getType()).isBF16() ? 2 : 4;
  std::vector<std::string> args = {*inType, *outType, std::to_string(bm), std::to_string(bn),
                                   std::to_string(bk), std::to_string(stages),
                                   std::to_string(wm), std::to_string(wn)};
  args.insert(args.end(), epilogue.begin(), epilogue.end());
  launch.launch("gemm", args, 32 * wm * wn, stages * (bm + bn) * (bk + 8) * elementBytes,
                Extent::fixed((n + bn - 1) / bn), Extent::perTokens(bm));
  return success();
}

LogicalResult lowerRMSNorm(FunctionLowering &L, sld::RMSNormOp op) {
  Location loc = op.getLoc();
  auto t = L.elementSpelling(loc, getElementTypeOrSelf(op.getX().getType()));
  auto wt = L.elementSpelling(loc, getElementTypeOrSelf(op.getWeight().getType()));
  Value x = L.lookup(op.getX());
  if (failed(t) || failed(wt) || failed(L.expectContiguous(loc, x, "the input of rms_norm")))
    return failure();
  int64_t hidden = featureSize(op.getX());
  int64_t threads = rowThreads(hidden, *t == "float" ? 4 : 8);
  Value y = L.allocate(op.getResult());
  LaunchBuilder(L, loc)
      .pointer(x)
      .pointer(L.lookup(op.getWeight()))
      .pointer(y)
      .runtime("n")
      .f32(op.getEpsilon().convertToDouble())
      .launch("rms_norm", {*t, *wt, std::to_string(hidden), std::to_string(threads)}, threads,
              0, Extent::perTokens(1));
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
      .Default([&](Operation *other) {
        return other->emitError() << "sl-lower-to-slk: no kernel lowering for "
                                  << other->getName();
      });
}

}  // namespace sl::compiler
