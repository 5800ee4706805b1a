// Helpers the per-op lowering rules share (compiler/lowering/Rules.h).
#include "compiler/lowering/Rules.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"

#include <algorithm>

namespace sl::compiler::lowering {

using namespace mlir;
namespace sld = mlir::sl;

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

int64_t featureSize(Value value, unsigned dim) {
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


std::string str(int64_t value) { return std::to_string(value); }

// Templates read fp32 for these small per-head / per-expert parameters.
LogicalResult expectF32(Operation *op, Value value, StringRef what) {
  if (getElementTypeOrSelf(value.getType()).isF32())
    return success();
  return op->emitError() << "sl-lower-to-slk: the kernels read " << what
                         << " as f32; the importer binds it so (got "
                         << getElementTypeOrSelf(value.getType()) << ")";
}

// Adds the launch of gemm<inType, outType, tiles..., epilogue> for `columns` output columns to
// `launch`, whose arguments are in place.
void launchGemm(LaunchBuilder &launch, const std::string &inType, const std::string &outType,
                const GemmTiles &t, const std::vector<std::string> &epilogue, int64_t columns) {
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
                Extent::fixed((columns + t.bn - 1) / t.bn), Extent::perTokens(t.bm));
}

}  // namespace sl::compiler::lowering
