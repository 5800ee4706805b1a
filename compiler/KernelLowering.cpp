#include "compiler/KernelLowering.h"

#include "compiler/lowering/Rules.h"
#include "runtime/kernels/KernelTable.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/TypeSwitch.h"

namespace sl::compiler {

using namespace mlir;
namespace sld = mlir::sl;
using namespace lowering;

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

// Run-time values and state parts are spelled in the slk IR by the names flatc gives the
// schema's enums (runtime/schema/ArgNames.h); the artifact writer reads them back by name.
LaunchBuilder &LaunchBuilder::statePart(Value state, StatePart part) {
  OpBuilder &b = lowering_.builder();
  args_.push_back(b.getArrayAttr({b.getIndexAttr(operandIndex(state)),
                                  b.getStringAttr(schema::EnumNameStatePart(part))}));
  return *this;
}

LaunchBuilder &LaunchBuilder::null() { return runtime(RuntimeValue::null); }

LaunchBuilder &LaunchBuilder::runtime(RuntimeValue value) {
  assert(!schema::isStateTable(value) && "a host table names its state: use stateTable");
  args_.push_back(lowering_.builder().getStringAttr(schema::EnumNameRuntimeValue(value)));
  return *this;
}

LaunchBuilder &LaunchBuilder::stateTable(RuntimeValue table, Value state) {
  assert(schema::isStateTable(table) && "not a host table of a multi-step state");
  OpBuilder &b = lowering_.builder();
  args_.push_back(b.getArrayAttr({b.getIndexAttr(operandIndex(state)),
                                  b.getStringAttr(schema::EnumNameRuntimeValue(table))}));
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

LaunchBuilder &LaunchBuilder::tokenRows(Value buffer) {
  auto type = llvm::cast<MemRefType>(buffer.getType());
  rowBytes_.resize(args_.size(), 0);
  rowBytes_.back() = rowStrideOf(buffer) * ((type.getElementTypeBitWidth() + 7) / 8);
  return *this;
}

LaunchBuilder &LaunchBuilder::byName(StringRef templateName,
                                     llvm::function_ref<void(StringRef, LaunchBuilder &)> each) {
  const kernels::KernelSignature *kernel = kernels::findKernel(templateName.str());
  if (!kernel)
    llvm::report_fatal_error("sl-lower-to-slk: no template " + templateName +
                             " in the kernel table");
  for (const kernels::KernelParam &param : kernel->params) {
    size_t before = args_.size();
    each(param.name, *this);
    if (args_.size() != before + 1)
      llvm::report_fatal_error("sl-lower-to-slk: " + templateName + ": the rule gave " +
                               llvm::Twine(args_.size() - before) +
                               " arguments for parameter " + param.name);
  }
  return *this;
}

namespace {

// Checks the argument list of a launch against the template's parameters in the kernel table
// (a lowering rule and the table disagreeing is a bug of the compiler) and collects the constant
// integer arguments by parameter name.
std::vector<std::pair<std::string, int64_t>>
checkArguments(const kernels::KernelSignature &kernel, ArrayRef<Attribute> args) {
  auto fail = [&](const llvm::Twine &message) {
    llvm::report_fatal_error("sl-lower-to-slk: launch of " + llvm::Twine(kernel.name) + ": " +
                             message);
  };
  if (args.size() != kernel.params.size())
    fail(llvm::Twine(args.size()) + " arguments for " + llvm::Twine(kernel.params.size()) +
         " parameters");
  std::vector<std::pair<std::string, int64_t>> constants;
  for (size_t i = 0; i < args.size(); ++i) {
    const kernels::KernelParam &param = kernel.params[i];
    Attribute arg = args[i];
    bool pointer = false, real = false;
    if (auto integer = llvm::dyn_cast<IntegerAttr>(arg)) {
      pointer = integer.getType().isIndex();
      if (!pointer)
        constants.emplace_back(param.name, integer.getInt());
    } else if (llvm::isa<FloatAttr>(arg)) {
      real = true;
    } else if (auto pair = llvm::dyn_cast<ArrayAttr>(arg)) {
      auto value = schema::runtimeValueNamed(llvm::cast<StringAttr>(pair[1]).getValue());
      pointer = !value || *value != RuntimeValue::num_stripes;  // a state part or a table
    } else if (auto name = llvm::dyn_cast<StringAttr>(arg)) {
      auto value = schema::runtimeValueNamed(name.getValue());
      pointer = value == RuntimeValue::null || value == RuntimeValue::error_flag;
    }
    if (pointer != kernel.isPointer(i))
      fail("parameter " + llvm::Twine(param.name) + " (" + param.type + ") gets " +
           (pointer ? "a pointer" : "a scalar"));
    if (!pointer && real != (param.type == "float"))
      fail("parameter " + llvm::Twine(param.name) + " (" + param.type + ") gets " +
           (real ? "a float" : "an integer"));
  }
  return constants;
}

}  // namespace

void LaunchBuilder::launch(StringRef templateName, const std::vector<std::string> &templateArgs,
                           int64_t threads, Extent x, Extent y, Extent z) {
  const kernels::KernelSignature *signature = kernels::findKernel(templateName.str());
  if (!signature)
    llvm::report_fatal_error("sl-lower-to-slk: no template " + templateName +
                             " in the kernel table");
  auto constants = checkArguments(*signature, args_);
  slk::KernelOp kernel =
      lowering_.declareKernel(templateName, templateArgs, threads, constants, loc_);
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
      .runtime(RuntimeValue::n)
      .f32(epsilon)
      .launch("rms_norm", {*t, *wt, std::to_string(hidden), std::to_string(threads)}, threads,
              Extent::perTokens(1));
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

slk::KernelOp FunctionLowering::declareKernel(
    StringRef templateName, const std::vector<std::string> &templateArgs, int64_t threads,
    const std::vector<std::pair<std::string, int64_t>> &constants, Location loc) {
  const kernels::KernelSignature *kernel = kernels::findKernel(templateName.str());
  assert(kernel && "lowering uses a template missing from the kernel table");
  if (templateArgs.size() != kernel->templateParams.size())
    llvm::report_fatal_error("sl-lower-to-slk: " + templateName + ": " +
                             llvm::Twine(templateArgs.size()) + " template arguments for " +
                             llvm::Twine(kernel->templateParams.size()) + " parameters");
  std::string symbol = kernels::kernelSymbol(*kernel, templateArgs);
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
      moduleBuilder.getI64IntegerAttr(threads),
      moduleBuilder.getI64IntegerAttr(kernels::sharedBytes(*kernel, templateArgs, constants)),
      StringAttr());
}


LogicalResult FunctionLowering::lower(Operation *op) {
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](sld::WeightOp weight) {
        auto tensor = llvm::cast<RankedTensorType>(weight.getType());
        map(weight.getResult(),
            builder_.create<slk::WeightOp>(
                weight.getLoc(), MemRefType::get(tensor.getShape(), tensor.getElementType()),
                weight.getNameAttr(), weight.getRangesAttr(), weight.getCheckpointShapeAttr()));
        return success();
      })
      .Case([&](sld::AllReduceOp reduce) {
        // In place: the sum replaces the partial products in their buffer.
        Value buffer = lookup(reduce.getX());
        builder_.create<slk::AllReduceOp>(reduce.getLoc(), buffer);
        map(reduce.getResult(), buffer);
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
        return lowerAdd(*this, add);
      })
      .Case([&](sld::ActivationOp act) {
        return lowerActivation(*this, act);
      })
      .Case([&](sld::SampleOp sample) { return lowerSample(*this, sample); })
      .Case([&](sld::MoERouterOp router) { return lowerMoERouter(*this, router); })
      .Case([&](sld::MoEExpertsOp experts) { return lowerMoEExperts(*this, experts); })
      .Case([&](sld::CausalConv1dOp conv) { return lowerCausalConv1d(*this, conv); })
      .Case([&](sld::SSDScanOp scan) { return lowerSSDScan(*this, scan); })
      .Case([&](sld::DenseAttentionOp attention) { return lowerDenseAttention(*this, attention); })
      .Case([&](sld::MultiStepAttentionOp msa) { return lowerMultiStepAttention(*this, msa); })
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
