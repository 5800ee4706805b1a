// sl-shard-graph: the graph of one rank of a tensor-parallel model (docs/parallel.md).
//
// Activations between blocks stay replicated; every block's mixer works on its rank's heads
// (Mamba-2, attention, multi-step attention) or its slice of the intermediate dimension (MLP,
// routed and shared experts), and its output projection's partial products are summed over the
// ranks by one sl.all_reduce before the residual add. Weights bind their rank's ranges of the
// checkpoint tensor (sl.weight ranges); state types shrink to the rank's heads and groups.
//
// Expert parallelism (M expert groups of N/M ranks each): rank r of group g = r / (N/M) holds
// the routed experts [g·E/M, (g+1)·E/M), their intermediate dimension sliced by the N/M ranks
// of the group; the router stays replicated and the rank's sl.moe_experts skips the pairs
// routed to other groups (expert_offset), its partial sum joining the block's all-reduce.
#include "compiler/LocationText.h"
#include "compiler/Passes.h"

#include "mlir/IR/Builders.h"

#include <functional>
#include <optional>
#include <string>

namespace mlir::sl {
#define GEN_PASS_DEF_SLSHARDGRAPH
#include "compiler/Passes.h.inc"

namespace {

// One (offset, size) piece of a dimension.
struct Range {
  int64_t offset, size;
};

// A rule that a layer's dimension must satisfy for world size n: nullopt when it does, else
// what is wrong ("kv heads (3) ...").
using DivisionRule = std::function<std::optional<std::string>(int64_t n)>;

// The checkpoint name of the layer `op` belongs to ("backbone.layers.5.mixer"), from the first
// weight it reads directly or through a projection; its location when it reads none.
std::string layerName(Operation *op) {
  for (Value operand : op->getOperands()) {
    auto weight = operand.getDefiningOp<WeightOp>();
    if (auto linear = operand.getDefiningOp<LinearOp>())
      weight = linear.getWeight().getDefiningOp<WeightOp>();
    if (!weight)
      continue;
    StringRef name = weight.getName();
    if (size_t mixer = name.find(".mixer."); mixer != StringRef::npos)
      return name.take_front(mixer + 6).str();
    return name.rsplit('.').first.rsplit('.').first.str();
  }
  return ::sl::compiler::locationText(op->getLoc());
}

// The error of a layer whose shapes do not split over `worldSize` ranks: the layer, what does
// not divide, and the world sizes (powers of two up to 64) for which this layer splits.
LogicalResult divisionError(Operation *layer, int64_t worldSize, const std::string &problem,
                            const DivisionRule &rule) {
  std::string works;
  for (int64_t n = 1; n <= 64; n *= 2)
    if (!rule(n))
      works += (works.empty() ? "" : ", ") + std::to_string(n);
  return layer->emitError() << "sl-shard-graph: layer " << layerName(layer)
                            << " cannot be split over --tensor-parallel=" << worldSize << ": "
                            << problem << "; world sizes that work for this layer: " << works;
}

// Checks `rule` for `worldSize`, reporting at `layer`.
LogicalResult require(Operation *layer, int64_t worldSize, const DivisionRule &rule) {
  if (auto problem = rule(worldSize))
    return divisionError(layer, worldSize, *problem, rule);
  return success();
}

std::string dividesText(const std::string &what, int64_t value, int64_t n) {
  return what + " (" + std::to_string(value) + ") is not divisible by " + std::to_string(n);
}

RankedTensorType withDim(Type type, int64_t dim, int64_t size) {
  auto tensor = llvm::cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(tensor.getShape());
  shape[dim] = size;
  return RankedTensorType::get(shape, tensor.getElementType());
}

// One dimension's ranges of a sliced weight.
struct DimRanges {
  int64_t dim;
  SmallVector<Range> ranges;
};

class RankSharder {
public:
  RankSharder(func::FuncOp function, int64_t rank, int64_t worldSize, int64_t expertGroups)
      : function_(function), rank_(rank), n_(worldSize), m_(expertGroups),
        builder_(function.getContext()) {}

  LogicalResult run();

private:
  // The weight op behind operand `operandIndex` of `user`, replaced by one that binds `ranges`
  // of it along `dim`. An error when the operand is not a checkpoint weight.
  LogicalResult sliceWeight(Operation *user, unsigned operandIndex, int64_t dim,
                            ArrayRef<Range> ranges) {
    return sliceWeight(user, operandIndex, {DimRanges{dim, SmallVector<Range>(ranges)}});
  }
  // The same along several dimensions (ascending): the product of their ranges.
  LogicalResult sliceWeight(Operation *user, unsigned operandIndex, ArrayRef<DimRanges> dims);
  // The projection (sl.linear of a weight) that produces `value`, or an error naming `what`.
  FailureOr<LinearOp> projectionOf(Operation *layer, Value value, StringRef what);
  // A row-parallel projection: its input is the rank's slice; its result the partial product.
  LogicalResult sliceInputColumns(Operation *layer, LinearOp projection, ArrayRef<Range> columns);
  // A column-parallel projection: the rank computes `rows` of its output.
  LogicalResult sliceOutputRows(Operation *layer, LinearOp projection, ArrayRef<Range> rows);
  // Sums `partial` over the ranks: an sl.all_reduce right after its producer, which every
  // other user of `partial` reads instead.
  void allReduceAfter(Value partial);

  LogicalResult shardMamba(SSDScanOp scan);
  LogicalResult shardAttention(Operation *attention, Value q1, Value q, Value k, Value v,
                               Value cache, int64_t numHeads);
  // up -> activation -> down, the MLP and the shared expert: up's rows and down's columns of
  // this rank's slice of the intermediate dimension. Returns down.
  FailureOr<LinearOp> shardMlp(Operation *layer, LinearOp down);
  LogicalResult shardMoE(MoEExpertsOp experts);

  // The rank's slice [rank * size / n, (rank + 1) * size / n) of `size`.
  Range mySlice(int64_t size, int64_t offset = 0) const {
    return {offset + rank_ * (size / n_), size / n_};
  }

  func::FuncOp function_;
  int64_t rank_, n_, m_;  // m_: expert groups (--expert-parallel), dividing n_
  OpBuilder builder_;
  DenseSet<Operation *> done_;
};

LogicalResult RankSharder::sliceWeight(Operation *user, unsigned operandIndex,
                                       ArrayRef<DimRanges> dims) {
  Value value = user->getOperand(operandIndex);
  auto weight = value.getDefiningOp<WeightOp>();
  if (!weight || weight.getRanges())
    return user->emitError() << "sl-shard-graph: operand " << operandIndex
                             << " is not a whole checkpoint weight";
  auto type = llvm::cast<RankedTensorType>(weight.getType());
  SmallVector<int64_t> triples;
  Type slicedType = type;
  for (const DimRanges &along : dims) {
    int64_t total = 0;
    for (Range range : along.ranges) {
      triples.append({along.dim, range.offset, range.size});
      total += range.size;
    }
    slicedType = withDim(slicedType, along.dim, total);
  }
  builder_.setInsertionPoint(weight);
  auto sliced = builder_.create<WeightOp>(weight.getLoc(), slicedType,
                                          weight.getNameAttr(),
                                          builder_.getDenseI64ArrayAttr(triples),
                                          builder_.getDenseI64ArrayAttr(type.getShape()));
  user->setOperand(operandIndex, sliced);
  if (weight->use_empty())
    weight->erase();
  return success();
}

FailureOr<LinearOp> RankSharder::projectionOf(Operation *layer, Value value, StringRef what) {
  auto linear = value.getDefiningOp<LinearOp>();
  if (!linear || !linear.getWeight().getDefiningOp<WeightOp>())
    return layer->emitError() << "sl-shard-graph: the " << what << " of layer "
                              << ::sl::compiler::locationText(layer->getLoc())
                              << " is not a projection of a checkpoint weight";
  return linear;
}

LogicalResult RankSharder::sliceOutputRows(Operation *layer, LinearOp projection,
                                           ArrayRef<Range> rows) {
  if (failed(sliceWeight(projection, 1, 0, rows)))
    return failure();
  int64_t total = 0;
  for (Range range : rows)
    total += range.size;
  if (projection.getBias() &&
      failed(sliceWeight(projection, projection.getODSOperandIndexAndLength(2).first, 0, rows)))
    return failure();
  auto type = llvm::cast<RankedTensorType>(projection.getType());
  projection.getResult().setType(withDim(type, type.getRank() - 1, total));
  done_.insert(projection);
  return success();
}

LogicalResult RankSharder::sliceInputColumns(Operation *layer, LinearOp projection,
                                             ArrayRef<Range> columns) {
  if (projection.getBias())
    return layer->emitError() << "sl-shard-graph: the output projection of layer "
                              << ::sl::compiler::locationText(layer->getLoc())
                              << " has a bias, which a rank-split projection would add once "
                                 "per rank (not supported yet)";
  done_.insert(projection);
  return sliceWeight(projection, 1, 1, columns);
}

void RankSharder::allReduceAfter(Value partial) {
  builder_.setInsertionPointAfterValue(partial);
  auto sum = builder_.create<AllReduceOp>(partial.getLoc(), partial.getType(), partial);
  partial.replaceAllUsesExcept(sum.getResult(), sum);
}

LogicalResult RankSharder::shardMamba(SSDScanOp scan) {
  auto state = llvm::cast<MambaStateType>(scan.getState().getType());
  const int64_t heads = state.getHeads(), headDim = state.getHeadDim();
  const int64_t groups = state.getGroups(), stateSize = state.getStateSize();
  const int64_t inner = heads * headDim;
  auto conv = scan.getXbc().getDefiningOp<CausalConv1dOp>();
  auto split = conv ? conv.getX().getDefiningOp<SplitOp>() : SplitOp();
  if (!conv || !split || split.getPieces().size() != 3 || scan.getDt() != split.getPieces()[2])
    return scan.emitError("sl-shard-graph: expected the Mamba-2 layer as slc import writes it "
                          "(in_proj -> split z, xBC, dt -> causal_conv1d -> ssd_scan)");
  if (!scan.getResult().hasOneUse())
    return scan.emitError("sl-shard-graph: expected the scan's output to feed the gated norm");
  auto norm = llvm::dyn_cast<GatedRMSNormOp>(*scan.getResult().getUsers().begin());
  if (!norm || norm.getGate() != split.getPieces()[0] || !norm.getResult().hasOneUse())
    return scan.emitError("sl-shard-graph: expected the scan's output and z to feed the gated "
                          "norm, and the norm the out_proj");
  const int64_t normGroup = norm.getGroupSize();
  DivisionRule rule = [&](int64_t n) -> std::optional<std::string> {
    if (heads % n)
      return dividesText("heads", heads, n);
    if (groups % n && n % groups)
      return "groups (" + std::to_string(groups) + ") and the world size " + std::to_string(n) +
             " do not divide one another";
    // Whole norm groups on a rank, or a rank's channels inside one group (whose sum of squares
    // is then all-reduced).
    if ((inner / n) % normGroup && normGroup % (inner / n))
      return "a rank's " + std::to_string(inner / n) + " channels and the gated norm's groups of " +
             std::to_string(normGroup) + " do not divide one another";
    return std::nullopt;
  };
  if (failed(require(scan, n_, rule)))
    return failure();
  auto inProj = projectionOf(scan, split.getX(), "in_proj");
  if (failed(inProj))
    return failure();
  auto outProj = llvm::dyn_cast<LinearOp>(*norm.getResult().getUsers().begin());
  if (!outProj || outProj.getX() != norm.getResult())
    return scan.emitError("sl-shard-graph: expected the gated norm to feed the out_proj");

  const int64_t myHeads = heads / n_;
  const Range innerRange = mySlice(inner);
  // The groups this rank's heads read: its share of them, or the one group all its heads are in.
  const int64_t myGroups = groups % n_ == 0 ? groups / n_ : 1;
  const int64_t firstGroup = groups % n_ == 0 ? rank_ * myGroups : rank_ / (n_ / groups);
  const int64_t groupRows = groups * stateSize;
  const Range bRange{firstGroup * stateSize, myGroups * stateSize};
  const Range cRange{groupRows + firstGroup * stateSize, myGroups * stateSize};

  // in_proj rows: z, x, B, C, dt.
  auto shifted = [](Range range, int64_t by) { return Range{range.offset + by, range.size}; };
  if (failed(sliceOutputRows(scan, *inProj,
                             {innerRange, shifted(innerRange, inner), shifted(bRange, 2 * inner),
                              shifted(cRange, 2 * inner), mySlice(heads, 2 * inner + 2 * groupRows)})))
    return failure();
  const int64_t myConv = innerRange.size + 2 * bRange.size;
  Value z = split.getPieces()[0], xbc = split.getPieces()[1], dt = split.getPieces()[2];
  z.setType(withDim(z.getType(), 1, innerRange.size));
  xbc.setType(withDim(xbc.getType(), 1, myConv));
  dt.setType(withDim(dt.getType(), 1, myHeads));

  // Conv channels: x, B, C.
  const SmallVector<Range> convRanges{innerRange, shifted(bRange, inner), shifted(cRange, inner)};
  if (failed(sliceWeight(conv, 2, 0, convRanges)) ||
      (conv.getBias() && failed(sliceWeight(conv, 3, 0, convRanges))))
    return failure();
  conv.getResult().setType(withDim(conv.getResult().getType(), 1, myConv));
  // Per head: A_log, D, dt_bias (operands 3, 4, 5).
  for (unsigned operand = 3; operand <= 5; ++operand)
    if (failed(sliceWeight(scan, operand, 0, {mySlice(heads)})))
      return failure();
  scan.getResult().setType(withDim(scan.getResult().getType(), 1, innerRange.size));
  if (failed(sliceWeight(norm, 2, 0, {innerRange})))
    return failure();
  norm.getResult().setType(withDim(norm.getResult().getType(), 1, innerRange.size));
  if (normGroup > innerRange.size) {
    // The rank holds part of one norm group: [ranks sharing it, its index, groups].
    norm.setGroupSize(innerRange.size);
    norm.setSharedGroupAttr(builder_.getDenseI64ArrayAttr(
        {normGroup / innerRange.size, innerRange.offset / normGroup, inner / normGroup}));
  }
  if (failed(sliceInputColumns(scan, outProj, {innerRange})))
    return failure();

  auto myState = MambaStateType::get(state.getContext(), myHeads, headDim, myGroups, stateSize,
                                     state.getConvKernel(), state.getConvType(), state.getSsmType());
  for (Value value : {conv.getState(), conv.getNewState(), scan.getState(), scan.getNewState()})
    value.setType(myState);
  allReduceAfter(outProj.getResult());
  return success();
}

LogicalResult RankSharder::shardAttention(Operation *attention, Value q1, Value q, Value k,
                                          Value v, Value cache, int64_t numHeads) {
  auto cacheType = llvm::cast<KVCacheType>(cache.getType());
  const int64_t kvHeads = cacheType.getKvHeads(), headDim = cacheType.getHeadDim();
  DivisionRule rule = [&](int64_t n) -> std::optional<std::string> {
    if (numHeads % n)
      return dividesText("query heads", numHeads, n);
    if (kvHeads % n && n % kvHeads)
      return "kv heads (" + std::to_string(kvHeads) + ") and the world size " +
             std::to_string(n) + " do not divide one another";
    return std::nullopt;
  };
  if (failed(require(attention, n_, rule)))
    return failure();
  Value output = attention->getResult(0);
  if (!output.hasOneUse())
    return attention->emitError("sl-shard-graph: expected the attention output to feed o_proj");
  auto oProj = llvm::dyn_cast<LinearOp>(*output.getUsers().begin());
  if (!oProj || oProj.getX() != output)
    return attention->emitError("sl-shard-graph: expected the attention output to feed o_proj");

  const Range queryRows = mySlice(numHeads * headDim);
  // Each rank's query heads read kv heads of their own: split, or the one they share.
  const int64_t myKvHeads = kvHeads % n_ == 0 ? kvHeads / n_ : 1;
  const int64_t firstKv = kvHeads % n_ == 0 ? rank_ * myKvHeads : rank_ / (n_ / kvHeads);
  const Range kvRows{firstKv * headDim, myKvHeads * headDim};
  SmallVector<std::pair<Value, Range>> projections{{q, queryRows}, {k, kvRows}, {v, kvRows}};
  if (q1)
    projections.push_back({q1, queryRows});
  for (auto [value, rows] : projections) {
    auto projection = projectionOf(attention, value, "q/k/v projection");
    if (failed(projection) || failed(sliceOutputRows(attention, *projection, {rows})))
      return failure();
  }
  output.setType(withDim(output.getType(), 1, queryRows.size));
  if (failed(sliceInputColumns(attention, oProj, {queryRows})))
    return failure();
  auto myCache = KVCacheType::get(cacheType.getContext(), myKvHeads, headDim,
                                  cacheType.getElementType());
  cache.setType(myCache);
  attention->getResult(1).setType(myCache);
  attention->setAttr("num_heads", builder_.getI64IntegerAttr(numHeads / n_));
  allReduceAfter(oProj.getResult());
  return success();
}

FailureOr<LinearOp> RankSharder::shardMlp(Operation *layer, LinearOp down) {
  auto activation = down.getX().getDefiningOp<ActivationOp>();
  Value upOutput = activation ? activation.getX() : down.getX();
  auto up = projectionOf(layer, upOutput, "up projection");
  if (failed(up))
    return failure();
  const int64_t intermediate = llvm::cast<RankedTensorType>(upOutput.getType()).getDimSize(1);
  if (failed(require(layer, n_, [&](int64_t n) -> std::optional<std::string> {
        if (intermediate % n)
          return dividesText("the MLP intermediate size", intermediate, n);
        return std::nullopt;
      })))
    return failure();
  const Range slice = mySlice(intermediate);
  if (failed(sliceOutputRows(layer, *up, {slice})))
    return failure();
  if (activation)
    activation.getResult().setType(llvm::cast<RankedTensorType>(upOutput.getType()));
  if (failed(sliceInputColumns(layer, down, {slice})))
    return failure();
  return down;
}

LogicalResult RankSharder::shardMoE(MoEExpertsOp experts) {
  auto upType = llvm::cast<RankedTensorType>(experts.getUp().getType());
  const int64_t numExperts = upType.getDimSize(0), intermediate = upType.getDimSize(1);
  // A group's ranks share its experts' intermediate dimension (all N ranks when m_ = 1).
  const int64_t groupSize = n_ / m_;
  if (m_ > 1 && (numExperts % m_ || intermediate % groupSize)) {
    std::string works;
    for (int64_t m = 1; m <= n_; m *= 2)
      if (numExperts % m == 0 && n_ % m == 0 && intermediate % (n_ / m) == 0)
        works += (works.empty() ? "" : ", ") + std::to_string(m);
    return experts.emitError()
           << "sl-shard-graph: layer " << layerName(experts)
           << " cannot be split over --expert-parallel=" << m_ << " with --tensor-parallel=" << n_
           << ": "
           << (numExperts % m_ ? dividesText("the routed experts", numExperts, m_)
                               : dividesText("the routed experts' intermediate size", intermediate,
                                             groupSize) +
                                     " (the ranks of an expert group)")
           << "; expert-parallel sizes that work for this layer: " << works;
  }
  if (m_ == 1 && failed(require(experts, n_, [&](int64_t n) -> std::optional<std::string> {
        if (intermediate % n)
          return dividesText("the routed experts' intermediate size", intermediate, n);
        return std::nullopt;
      })))
    return failure();
  if (experts.getShared() || experts.getResidual())
    return experts.emitError("sl-shard-graph: runs before sl-fuse-epilogues (the routed and "
                             "shared partial sums are added before the all-reduce)");
  // The rank's experts (its group's range of dimension 0) and its share of their intermediate
  // dimension; a dimension the rank holds whole gets no range.
  const int64_t group = rank_ / groupSize, localExperts = numExperts / m_;
  const Range interSlice{(rank_ % groupSize) * (intermediate / groupSize),
                         intermediate / groupSize};
  SmallVector<DimRanges> upRanges, downRanges;
  if (m_ > 1) {
    upRanges.push_back({0, {Range{group * localExperts, localExperts}}});
    downRanges.push_back(upRanges.back());
  }
  if (groupSize > 1) {
    upRanges.push_back({1, {interSlice}});
    downRanges.push_back({2, {interSlice}});
  }
  if (failed(sliceWeight(experts, 3, upRanges)) || failed(sliceWeight(experts, 4, downRanges)))
    return failure();
  if (m_ > 1)
    experts.setExpertOffset(group * localExperts);
  done_.insert(experts);
  // The shared expert's partial product joins the routed one before the block's one all-reduce.
  Value blockOutput = experts.getResult();
  if (experts.getResult().hasOneUse())
    if (auto add = llvm::dyn_cast<AddOp>(*experts.getResult().getUsers().begin())) {
      Value other = add.getLhs() == experts.getResult() ? add.getRhs() : add.getLhs();
      if (auto shared = other.getDefiningOp<LinearOp>()) {
        if (failed(shardMlp(experts, shared)))
          return failure();
        blockOutput = add.getResult();
      }
    }
  allReduceAfter(blockOutput);
  return success();
}

LogicalResult RankSharder::run() {
  SmallVector<Operation *> layers;
  function_.walk([&](Operation *op) {
    if (llvm::isa<SSDScanOp, DenseAttentionOp, MultiStepAttentionOp, MoEExpertsOp>(op))
      layers.push_back(op);
  });
  for (Operation *layer : layers) {
    LogicalResult result = success();
    if (auto scan = llvm::dyn_cast<SSDScanOp>(layer))
      result = shardMamba(scan);
    else if (auto attention = llvm::dyn_cast<DenseAttentionOp>(layer))
      result = shardAttention(attention, Value(), attention.getQ(), attention.getK(),
                              attention.getV(), attention.getCache(), attention.getNumHeads());
    else if (auto msa = llvm::dyn_cast<MultiStepAttentionOp>(layer))
      result = shardAttention(msa, msa.getQ1(), msa.getQ2(), msa.getK(), msa.getV(),
                              msa.getCache(), msa.getNumHeads());
    else
      result = shardMoE(llvm::cast<MoEExpertsOp>(layer));
    if (failed(result))
      return failure();
  }
  // Dense MLP blocks: a projection of an activated projection, not sliced above.
  SmallVector<LinearOp> mlpDowns;
  function_.walk([&](LinearOp linear) {
    if (!done_.contains(linear) && linear.getX().getDefiningOp<ActivationOp>())
      mlpDowns.push_back(linear);
  });
  for (LinearOp down : mlpDowns) {
    if (failed(shardMlp(down, down)))
      return failure();
    allReduceAfter(down.getResult());
  }
  // State types changed: the signature follows the arguments and the returned values.
  Block &body = function_.getBody().front();
  auto ret = llvm::cast<func::ReturnOp>(body.getTerminator());
  function_.setFunctionType(FunctionType::get(function_.getContext(), body.getArgumentTypes(),
                                              ret.getOperandTypes()));
  return success();
}

struct ShardGraph : impl::SLShardGraphBase<ShardGraph> {
  using SLShardGraphBase::SLShardGraphBase;
  void runOnOperation() override {
    if (worldSize < 1 || rank < 0 || rank >= worldSize) {
      getOperation().emitError() << "sl-shard-graph: rank " << rank.getValue()
                                 << " is outside world size " << worldSize.getValue();
      return signalPassFailure();
    }
    if (expertParallel < 1 || worldSize % expertParallel) {
      getOperation().emitError() << "sl-shard-graph: expert-parallel " << expertParallel.getValue()
                                 << " does not divide world size " << worldSize.getValue();
      return signalPassFailure();
    }
    if (worldSize == 1)
      return;
    for (func::FuncOp function : getOperation().getOps<func::FuncOp>())
      if (failed(RankSharder(function, rank, worldSize, expertParallel).run()))
        return signalPassFailure();
  }
};

}  // namespace
}  // namespace mlir::sl
