// Lowering rules of the Mamba-2 mixer: causal conv and the SSD scan (docs/kernels-mamba.md).
#include "compiler/lowering/Rules.h"

#include "compiler/TileHeuristics.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"

namespace sl::compiler::lowering {

using namespace mlir;
namespace sld = mlir::sl;

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
  conv.statePart(stateArg, StatePart::conv).pointer(y).rowStride(y).runtime(RuntimeValue::n);
  Extent channelBlocks = Extent::fixed((channels + 127) / 128);
  if (L.maxTokens() <= 8) {
    conv.launch("causal_conv1d_step", args, 128, channelBlocks);
    return success();
  }
  args.push_back("32");
  conv.launch("causal_conv1d", args, 128, channelBlocks, Extent::perTokens(32));
  LaunchBuilder(L, loc)
      .pointer(x)
      .rowStride(x)
      .statePart(stateArg, StatePart::conv)
      .runtime(RuntimeValue::n)
      .launch("conv_state_update", {*t, *st, str(channels), str(kernel), "128"}, 128,
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
        .statePart(stateArg, StatePart::ssm)
        .pointer(y).rowStride(y).runtime(RuntimeValue::n).f32(dtMin).f32(dtMax)
        .launch("ssd_step", {*t, str(heads), str(headDim), str(groups), str(stateSize), str(rows)},
                32 * rows, Extent::fixed(heads), Extent::fixed(headDim / rows));
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
      .runtime(RuntimeValue::n).f32(dtMin).f32(dtMax)
      .launch("ssd_chunk_cumsum", {*t, str(heads), str(chunk)}, chunk,
              Extent::perTokens(chunk), Extent::fixed(heads));
  LaunchBuilder(L, loc)
      .pointer(xbc).rowStride(xbc).pointer(dtS).pointer(cumS).pointer(states).runtime(RuntimeValue::n)
      .launch("ssd_chunk_state", shape, 256,
              Extent::perTokens(chunk), Extent::fixed(heads));
  LaunchBuilder(L, loc)
      .pointer(states).pointer(cumS).statePart(stateArg, StatePart::ssm).runtime(RuntimeValue::n)
      .launch("ssd_state_pass", {str(heads), str(headDim), str(stateSize), str(chunk), "256"},
              256, Extent::fixed((heads * headDim * stateSize + 255) / 256));
  LaunchBuilder(L, loc)
      .pointer(xbc).rowStride(xbc).pointer(d).pointer(dtS).pointer(cumS).pointer(states)
      .pointer(y).rowStride(y).runtime(RuntimeValue::n)
      .launch("ssd_chunk_scan", shape, 256, Extent::perTokens(chunk),
              Extent::fixed(heads));
  return success();
}

}  // namespace sl::compiler::lowering
