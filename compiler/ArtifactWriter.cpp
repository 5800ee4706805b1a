#include "compiler/ArtifactWriter.h"

#include "compiler/LocationText.h"

#include "dialects/SL/SLDialect.h"
#include "dialects/SLK/SLKDialect.h"
#include "runtime/kernels/KernelLibrary.h"
#include "runtime/schema/ArgNames.h"
#include "runtime/schema/ArtifactVersion.h"
#include "runtime/support/Version.h"
#include "runtime/schema/artifact_generated.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

namespace sl::compiler {

using namespace mlir;
namespace fb = flatbuffers;
namespace schema = ::sl::schema;

namespace {

StatusOr<schema::DType> dtypeOf(Type type) {
  if (type.isF32())
    return schema::DType::f32;
  if (type.isF16())
    return schema::DType::f16;
  if (type.isBF16())
    return schema::DType::bf16;
  if (type.isInteger(32))
    return schema::DType::i32;
  if (type.isInteger(64))
    return schema::DType::i64;
  std::string text;
  llvm::raw_string_ostream(text) << type;
  return Status::error("artifact: unsupported element type " + text);
}

int64_t elementBytes(Type type) { return std::max<unsigned>(1, type.getIntOrFloatBitWidth() / 8); }

class Writer {
public:
  Writer(const std::vector<TargetModule> &plans, const ArtifactOptions &options)
      : plans_(plans), options_(options) {}

  StatusOr<std::vector<uint8_t>> run() {
    if (plans_.empty())
      return Status::error("artifact: no plans");
    // Kernels of every plan, once each (the name encodes the specialisation: two targets that
    // choose alike share the kernel), with the targets whose plans launch it.
    std::vector<slk::KernelOp> kernelOps;
    std::vector<std::vector<std::string>> kernelTargets;
    for (TargetModule plan : plans_)
      for (slk::KernelOp kernel : plan.module.getOps<slk::KernelOp>()) {
        if (!kernel.getSource())
          return Status::error("artifact: kernel " + kernel.getSymName().str() +
                               " has no source (run sl-emit-cuda first)");
        auto [it, inserted] = kernelIndex_.try_emplace(kernel.getSymName(), kernelOps.size());
        if (inserted) {
          kernelOps.push_back(kernel);
          kernelTargets.emplace_back();
        } else if (kernelOps[it->second].getSource() != kernel.getSource()) {
          return Status::error("artifact: kernel " + kernel.getSymName().str() +
                               " has other sources for " + kernelTargets[it->second].front() +
                               " and " + plan.target);
        }
        kernelTargets[it->second].push_back(plan.target);
      }
    std::vector<fb::Offset<schema::Kernel>> kernels;
    for (size_t k = 0; k < kernelOps.size(); ++k) {
      slk::KernelOp kernel = kernelOps[k];
      std::vector<fb::Offset<fb::String>> args;
      for (Attribute arg : kernel.getTemplateArgs())
        args.push_back(fbb_.CreateString(llvm::cast<StringAttr>(arg).str()));
      std::vector<fb::Offset<schema::Cubin>> cubins;
      if (options_.cubins)
        for (const std::string &target : kernelTargets[k]) {
          auto it = options_.cubins->find({kernel.getSymName().str(), target});
          if (it == options_.cubins->end())
            return Status::error("artifact: no cubin of kernel " + kernel.getSymName().str() +
                                 " for " + target);
          auto data = fbb_.CreateVector(reinterpret_cast<const uint8_t *>(it->second.data()),
                                        it->second.size());
          cubins.push_back(schema::CreateCubin(fbb_, fbb_.CreateString(target), data));
        }
      kernels.push_back(schema::CreateKernel(
          fbb_, fbb_.CreateString(kernel.getSymName().str()),
          fbb_.CreateString(kernel.getTemplateName().str()), fbb_.CreateVector(args),
          fbb_.CreateString(kernel.getSource()->str()),
          static_cast<uint32_t>(kernel.getThreadsAttr().getInt()),
          static_cast<uint32_t>(kernel.getSmemAttr().getInt()), fbb_.CreateVector(cubins)));
    }

    // Weights and state slots are shared: each plan's functions must bind the same ones.
    std::vector<fb::Offset<schema::Plan>> plans;
    for (TargetModule plan : plans_) {
      rank_ = plan.rank;
      std::vector<fb::Offset<schema::Function>> functions;
      std::vector<fb::Offset<schema::TuningCase>> tuning;
      for (func::FuncOp func : plan.module.getOps<func::FuncOp>()) {
        auto function = writeFunction(func);
        if (!function)
          return Status::error(function.status().message() + " (plan " + plan.target + ")");
        functions.push_back(*function);
        if (auto tuningCase = func->getAttrOfType<DictionaryAttr>("sl.tuning_case"))
          tuning.push_back(writeTuningCase(func.getSymName().str(), tuningCase));
      }
      plans.push_back(schema::CreatePlan(fbb_, fbb_.CreateString(plan.target),
                                         fbb_.CreateVector(functions),
                                         tuning.empty() ? 0 : fbb_.CreateVector(tuning),
                                         int32_t(plan.rank), int32_t(plan.worldSize)));
    }

    std::vector<fb::Offset<schema::LibraryHeader>> headers;
    for (const auto &header : kernels::libraryHeaders())
      headers.push_back(schema::CreateLibraryHeader(fbb_, fbb_.CreateString(header.name),
                                                    fbb_.CreateString(header.text)));
    auto root = schema::CreateArtifact(
        fbb_, schema::kSchemaVersion, fbb_.CreateString(std::string("slc ") + kVersion),
        fbb_.CreateString(options_.sourceName), fbb_.CreateString(modelJson()),
        fbb_.CreateVector(headers), fbb_.CreateVector(kernels), fbb_.CreateVector(weights_),
        fbb_.CreateVector(states_), fbb_.CreateVector(plans));
    schema::FinishArtifactBuffer(fbb_, root);
    return std::vector<uint8_t>(fbb_.GetBufferPointer(), fbb_.GetBufferPointer() + fbb_.GetSize());
  }

private:
  // Module attributes with plain values, as a JSON object.
  std::string modelJson() {
    std::string json = "{";
    for (NamedAttribute attr : plans_.front().module->getAttrs()) {
      std::string value;
      llvm::raw_string_ostream os(value);
      if (auto text = llvm::dyn_cast<StringAttr>(attr.getValue()))
        os << '"' << text.getValue() << '"';
      else if (auto integer = llvm::dyn_cast<IntegerAttr>(attr.getValue()))
        os << integer.getInt();
      else
        continue;
      json += (json.size() > 1 ? ", \"" : "\"") + attr.getName().str() + "\": " + value;
    }
    return json + "}";
  }

  // One binding per checkpoint tensor and ranges (the ranks of a tensor-parallel model bind
  // slices of their own; the plans of one rank share them).
  StatusOr<uint32_t> weightIndex(slk::WeightOp weight) {
    std::string key = weight.getName().str();
    std::vector<schema::WeightRange> ranges;
    if (auto triples = weight.getRanges())
      for (size_t i = 0; i + 2 < triples->size(); i += 3) {
        key += "|" + std::to_string((*triples)[i]) + ":" + std::to_string((*triples)[i + 1]) +
               "+" + std::to_string((*triples)[i + 2]);
        ranges.emplace_back((*triples)[i], (*triples)[i + 1], (*triples)[i + 2]);
      }
    auto [it, inserted] = weightIndex_.try_emplace(key, weights_.size());
    auto [type, first] = weightTypes_.try_emplace(key, weight.getType());
    if (!first && type->second != weight.getType())
      return Status::error("artifact: weight " + weight.getName().str() +
                           " is bound with different types in different plans");
    if (inserted) {
      auto type = llvm::cast<MemRefType>(weight.getType());
      auto dtype = dtypeOf(type.getElementType());
      if (!dtype)
        return dtype.status();
      std::vector<int64_t> whole;
      if (auto shape = weight.getCheckpointShape())
        whole.assign(shape->begin(), shape->end());
      weights_.push_back(schema::CreateWeightBinding(
          fbb_, fbb_.CreateString(weight.getName().str()), *dtype,
          fbb_.CreateVector(std::vector<int64_t>(type.getShape().begin(), type.getShape().end())),
          ranges.empty() ? 0 : fbb_.CreateVectorOfStructs(ranges),
          whole.empty() ? 0 : fbb_.CreateVector(whole)));
    }
    return it->second;
  }

  // The state slot of the k-th state argument; every function must agree on the types.
  // Each rank has slots of its own (its heads' caches and states), shared by its plans.
  StatusOr<uint32_t> stateSlot(func::FuncOp func, unsigned argIndex, unsigned ordinal) {
    Type type = func.getArgument(argIndex).getType();
    std::vector<uint32_t> &slots = rankSlots_[rank_];
    if (ordinal < slots.size()) {
      if (stateTypes_[slots[ordinal]] != type)
        return Status::error("artifact: function " + func.getSymName().str() + " has state #" +
                             std::to_string(ordinal) + " of another type than earlier functions");
      return slots[ordinal];
    }
    const uint32_t slotIndex = stateTypes_.size();
    slots.push_back(slotIndex);
    stateTypes_.push_back(type);
    auto location = func.getArgAttrOfType<StringAttr>(argIndex, "sl.location");
    fb::Offset<schema::MultiStepConfig> msa = 0;
    if (auto config = func.getArgAttrOfType<mlir::sl::MultiStepConfigAttr>(argIndex, "sl.msa"))
      msa = schema::CreateMultiStepConfig(
          fbb_, config.getSwIndex(), config.getNumSpans(), config.getBackwardFactorValue(),
          config.getForwardFactorValue(), config.getSearchPowerValue(),
          config.getSpanPowerValue(), config.getWindowLength());
    auto locationString = fbb_.CreateString(location ? location.str() : "");
    if (auto kv = llvm::dyn_cast<mlir::sl::KVCacheType>(type)) {
      auto dtype = dtypeOf(kv.getElementType());
      if (!dtype)
        return dtype.status();
      schema::StateSlotBuilder slot(fbb_);
      slot.add_kind(schema::StateKind::kv_cache);
      slot.add_location(locationString);
      slot.add_dtype(*dtype);
      slot.add_kv_heads(kv.getKvHeads());
      slot.add_head_dim(kv.getHeadDim());
      if (!msa.IsNull())
        slot.add_msa(msa);
      states_.push_back(slot.Finish());
    } else {
      auto mamba = llvm::cast<mlir::sl::MambaStateType>(type);
      auto conv = dtypeOf(mamba.getConvType()), ssm = dtypeOf(mamba.getSsmType());
      if (!conv)
        return conv.status();
      if (!ssm)
        return ssm.status();
      schema::StateSlotBuilder slot(fbb_);
      slot.add_kind(schema::StateKind::mamba_state);
      slot.add_location(locationString);
      slot.add_dtype(*conv);
      slot.add_heads(mamba.getHeads());
      slot.add_head_dim(mamba.getHeadDim());
      slot.add_groups(mamba.getGroups());
      slot.add_state_size(mamba.getStateSize());
      slot.add_conv_kernel(mamba.getConvKernel());
      slot.add_ssm_dtype(*ssm);
      states_.push_back(slot.Finish());
    }
    return slotIndex;
  }

  StatusOr<fb::Offset<schema::Tensor>> tensor(Type type) {
    auto memref = llvm::cast<MemRefType>(type);
    auto dtype = dtypeOf(memref.getElementType());
    if (!dtype)
      return dtype.status();
    std::vector<int64_t> shape;
    for (int64_t dim : memref.getShape())
      shape.push_back(ShapedType::isDynamic(dim) ? -1 : dim);
    return schema::CreateTensor(fbb_, *dtype, fbb_.CreateVector(shape));
  }

  // sl-build-tuning-sweep's description of a sweep function (its attributes are well formed:
  // the pass wrote them).
  fb::Offset<schema::TuningCase> writeTuningCase(const std::string &function,
                                                 DictionaryAttr tuningCase) {
    std::vector<fb::Offset<schema::TuningBucketKey>> bucket;
    for (NamedAttribute key : tuningCase.getAs<DictionaryAttr>("bucket"))
      bucket.push_back(schema::CreateTuningBucketKey(
          fbb_, fbb_.CreateString(key.getName().str()),
          fbb_.CreateString(llvm::cast<StringAttr>(key.getValue()).str())));
    std::vector<fb::Offset<schema::TuningParam>> params;
    for (NamedAttribute param : tuningCase.getAs<DictionaryAttr>("params"))
      params.push_back(schema::CreateTuningParam(
          fbb_, fbb_.CreateString(param.getName().str()),
          llvm::cast<IntegerAttr>(param.getValue()).getInt()));
    return schema::CreateTuningCase(
        fbb_, fbb_.CreateString(function),
        fbb_.CreateString(tuningCase.getAs<StringAttr>("kernel").str()),
        fbb_.CreateVector(bucket), fbb_.CreateVector(params),
        tuningCase.getAs<BoolAttr>("heuristic").getValue(),
        tuningCase.getAs<FloatAttr>("flops").getValueAsDouble(),
        tuningCase.getAs<FloatAttr>("bytes").getValueAsDouble());
  }

  StatusOr<fb::Offset<schema::Function>> writeFunction(func::FuncOp func) {
    std::string name = func.getSymName().str();
    auto phase = func->getAttrOfType<StringAttr>("sl.phase");
    auto maxTokens = func->getAttrOfType<IntegerAttr>("sl.max_tokens");
    auto arena = func->getAttrOfType<IntegerAttr>("slk.arena_bytes");
    if (!phase || !maxTokens || !arena)
      return Status::error("artifact: function " + name +
                           " is not planned (run the whole slc compile pipeline)");
    DenseMap<Value, uint32_t> bufferIndex, inputIndex, stateIndex;
    std::vector<schema::Buffer> buffers;
    std::vector<fb::Offset<schema::Tensor>> inputs, outputs;
    std::vector<uint32_t> states, outputBuffers;
    unsigned ordinal = 0;
    for (BlockArgument arg : func.getArguments()) {
      if (llvm::isa<mlir::sl::KVCacheType, mlir::sl::MambaStateType>(arg.getType())) {
        auto slot = stateSlot(func, arg.getArgNumber(), ordinal++);
        if (!slot)
          return slot.status();
        stateIndex[arg] = *slot;
        states.push_back(*slot);
        continue;
      }
      auto input = tensor(arg.getType());
      if (!input)
        return input.status();
      inputIndex[arg] = inputs.size();
      inputs.push_back(*input);
    }
    func.walk([&](slk::AllocOp alloc) {
      bufferIndex[alloc] = buffers.size();
      buffers.push_back(schema::Buffer(static_cast<int64_t>(alloc.getOffset().value_or(0)),
                                       static_cast<int64_t>(alloc.getBytes().value_or(0))));
    });
    std::vector<fb::Offset<schema::Launch>> launches;
    Status failure = Status::success();
    func.walk([&](Operation *op) {
      if (!failure.ok())
        return;
      if (auto ret = llvm::dyn_cast<func::ReturnOp>(op)) {
        for (Value value : ret.getOperands()) {
          auto output = tensor(value.getType());
          if (!bufferIndex.count(value) || !output) {
            failure = Status::error("artifact: output of " + name + " is not an arena buffer");
            return;
          }
          outputs.push_back(*output);
          outputBuffers.push_back(bufferIndex[value]);
        }
      }
      if (auto reduce = llvm::dyn_cast<slk::AllReduceOp>(op)) {
        auto written = writeAllReduce(reduce, bufferIndex);
        if (!written)
          failure = written.status();
        else
          launches.push_back(*written);
      }
      if (auto launch = llvm::dyn_cast<slk::LaunchOp>(op)) {
        auto written = writeLaunch(launch, bufferIndex, inputIndex, stateIndex);
        if (!written)
          failure = written.status();
        else
          launches.push_back(*written);
      }
    });
    if (!failure.ok())
      return failure;
    return schema::CreateFunction(
        fbb_, fbb_.CreateString(name), fbb_.CreateString(phase.str()), maxTokens.getInt(),
        arena.getInt(), fbb_.CreateVectorOfStructs(buffers), fbb_.CreateVector(inputs),
        fbb_.CreateVector(states), fbb_.CreateVector(outputs), fbb_.CreateVector(outputBuffers),
        fbb_.CreateVector(launches));
  }

  StatusOr<fb::Offset<schema::Launch>> writeLaunch(slk::LaunchOp launch,
                                                   const DenseMap<Value, uint32_t> &buffers,
                                                   const DenseMap<Value, uint32_t> &inputs,
                                                   const DenseMap<Value, uint32_t> &states) {
    std::string where = locationText(launch.getLoc());
    auto error = [&](const std::string &message) {
      return Status::error("artifact: launch of " + launch.getKernel().str() + " at " + where +
                           ": " + message);
    };
    std::vector<fb::Offset<schema::Arg>> args;
    std::optional<ArrayRef<int64_t>> rowBytes = launch.getRowBytes();
    for (auto [argIndex, arg] : llvm::enumerate(launch.getArgs())) {
      ArgSpec spec;
      if (rowBytes)
        spec.rowBytes = (*rowBytes)[argIndex];
      if (auto index = llvm::dyn_cast<IntegerAttr>(arg); index && index.getType().isIndex()) {
        // A pointer: walk views down to their base, accumulating the byte offset.
        Value value = launch.getOperands()[index.getInt()];
        while (auto view = value.getDefiningOp<slk::ColumnSliceOp>()) {
          spec.byteOffset += view.getOffsetAttr().getInt() *
                             elementBytes(llvm::cast<MemRefType>(view.getType()).getElementType());
          value = view.getSource();
        }
        if (auto weight = value.getDefiningOp<slk::WeightOp>()) {
          auto weightId = weightIndex(weight);
          if (!weightId)
            return weightId.status();
          spec.kind = schema::ArgKind::weight;
          spec.index = *weightId;
        } else if (buffers.count(value)) {
          spec.kind = schema::ArgKind::buffer;
          spec.index = buffers.lookup(value);
        } else if (inputs.count(value)) {
          spec.kind = schema::ArgKind::input;
          spec.index = inputs.lookup(value);
        } else {
          return error("pointer operand is neither a buffer, a weight nor an input");
        }
      } else if (auto pair = llvm::dyn_cast<ArrayAttr>(arg)) {
        // [operand, "k"]: a part of a state operand; [operand, "span_reach"]: a host table of
        // a multi-step state operand's config.
        Value state = launch.getOperands()[llvm::cast<IntegerAttr>(pair[0]).getInt()];
        StringRef what = llvm::cast<StringAttr>(pair[1]).getValue();
        if (!states.count(state))
          return error("'" + what.str() + "' of a value that is not a state argument");
        spec.index = states.lookup(state);
        if (auto part = schema::statePartNamed(what)) {
          spec.kind = schema::ArgKind::state_part;
          spec.part = *part;
        } else if (auto table = schema::runtimeValueNamed(what);
                   table && schema::isStateTable(*table)) {
          spec.kind = schema::ArgKind::runtime;
          spec.value = *table;
        } else {
          return error("'" + what.str() + "' is neither a state part nor a state table");
        }
      } else if (auto name = llvm::dyn_cast<StringAttr>(arg)) {
        auto value = schema::runtimeValueNamed(name.getValue());
        if (!value || schema::isStateTable(*value))
          return error("unknown run-time value '" + name.str() + "'");
        spec.kind = schema::ArgKind::runtime;
        spec.value = *value;
      } else if (auto integer = llvm::dyn_cast<IntegerAttr>(arg)) {
        spec.kind = integer.getType().isInteger(64) ? schema::ArgKind::const_i64
                                                    : schema::ArgKind::const_i32;
        spec.intValue = integer.getInt();
      } else if (auto real = llvm::dyn_cast<FloatAttr>(arg)) {
        spec.kind = schema::ArgKind::const_f32;
        spec.floatValue = static_cast<float>(real.getValueAsDouble());
      } else {
        return error("unsupported argument");
      }
      args.push_back(makeArg(spec));
    }
    auto kernel = kernelIndex_.find(launch.getKernel());
    if (kernel == kernelIndex_.end())
      return error("unknown kernel");
    ArrayRef<int64_t> grid = launch.getGrid();
    std::vector<schema::Extent> extents;
    for (int d = 0; d < 3; ++d)
      extents.emplace_back(grid[3 * d], grid[3 * d + 1], grid[3 * d + 2]);
    return schema::CreateLaunch(fbb_, kernel->second, fbb_.CreateVectorOfStructs(extents),
                                fbb_.CreateVector(args), fbb_.CreateString(where),
                                rowBytes.has_value());
  }

  // A collective launch: the token rows of an arena buffer, summed over the ranks.
  StatusOr<fb::Offset<schema::Launch>> writeAllReduce(slk::AllReduceOp reduce,
                                                      const DenseMap<Value, uint32_t> &buffers) {
    std::string where = locationText(reduce.getLoc());
    auto type = llvm::cast<MemRefType>(reduce.getBuffer().getType());
    auto dtype = dtypeOf(type.getElementType());
    if (!dtype)
      return dtype.status();
    if (!buffers.count(reduce.getBuffer()) || !type.getLayout().isIdentity())
      return Status::error("artifact: the all-reduce at " + where +
                           " does not sum a whole arena buffer");
    int64_t rowBytes = elementBytes(type.getElementType());
    for (int64_t d = 1; d < type.getRank(); ++d)
      rowBytes *= type.getDimSize(d);
    auto collective = schema::CreateCollective(fbb_, schema::CollectiveOp::all_reduce_sum,
                                               buffers.lookup(reduce.getBuffer()), 0, rowBytes,
                                               *dtype);
    std::vector<schema::Extent> extents(3, schema::Extent(0, 1, 1));
    return schema::CreateLaunch(fbb_, 0, fbb_.CreateVectorOfStructs(extents),
                                fbb_.CreateVector(std::vector<fb::Offset<schema::Arg>>()),
                                fbb_.CreateString(where), false, collective);
  }

  struct ArgSpec {
    schema::ArgKind kind = schema::ArgKind::runtime;
    int32_t index = -1;
    int64_t byteOffset = 0;
    schema::StatePart part = schema::StatePart::k;
    schema::RuntimeValue value = schema::RuntimeValue::n;
    int64_t intValue = 0;
    float floatValue = 0.0f;
    int64_t rowBytes = 0;
  };

  fb::Offset<schema::Arg> makeArg(const ArgSpec &spec) {
    return schema::CreateArg(fbb_, spec.kind, spec.index, spec.byteOffset, spec.part, spec.value,
                             spec.intValue, spec.floatValue, spec.rowBytes);
  }

  const std::vector<TargetModule> &plans_;
  const ArtifactOptions &options_;
  fb::FlatBufferBuilder fbb_;
  llvm::StringMap<uint32_t> kernelIndex_;
  llvm::StringMap<uint32_t> weightIndex_;
  llvm::StringMap<Type> weightTypes_;
  std::vector<fb::Offset<schema::WeightBinding>> weights_;
  std::vector<fb::Offset<schema::StateSlot>> states_;
  std::vector<Type> stateTypes_;
  int64_t rank_ = 0;
  std::map<int64_t, std::vector<uint32_t>> rankSlots_;  // rank -> slot of each state ordinal
};

}  // namespace

StatusOr<std::vector<uint8_t>> writeArtifact(const std::vector<TargetModule> &plans,
                                             const ArtifactOptions &options) {
  return Writer(plans, options).run();
}

}  // namespace sl::compiler
