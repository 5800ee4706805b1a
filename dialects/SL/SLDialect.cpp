// Dialect registration, types and attributes of `sl`.
#include "dialects/SL/SLDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"
#include "runtime/math/SuperlinearMath.h"

#include <cstdio>
#include <cstdlib>

using namespace mlir;
using namespace mlir::sl;

#include "dialects/SL/SLOpsDialect.cpp.inc"
#include "dialects/SL/SLEnums.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "dialects/SL/SLTypes.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/SL/SLAttrs.cpp.inc"

namespace {
// Short aliases (`!kv_cache`, `!mamba_state`, `#msa`) keep printed models readable.
struct SLOpAsmInterface : public OpAsmDialectInterface {
  using OpAsmDialectInterface::OpAsmDialectInterface;
  AliasResult getAlias(Type type, raw_ostream &os) const override {
    if (llvm::isa<KVCacheType>(type)) {
      os << "kv_cache";
      return AliasResult::FinalAlias;
    }
    if (llvm::isa<MambaStateType>(type)) {
      os << "mamba_state";
      return AliasResult::FinalAlias;
    }
    return AliasResult::NoAlias;
  }
  AliasResult getAlias(Attribute attr, raw_ostream &os) const override {
    if (llvm::isa<MultiStepConfigAttr>(attr)) {
      os << "msa";
      return AliasResult::FinalAlias;
    }
    return AliasResult::NoAlias;
  }
};
}  // namespace

void SLDialect::initialize() {
  addInterfaces<SLOpAsmInterface>();
  registerTypes();
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "dialects/SL/SLOps.cpp.inc"
      >();
}

void SLDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialects/SL/SLTypes.cpp.inc"
      >();
}

void SLDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/SL/SLAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Types
//===----------------------------------------------------------------------===//

LogicalResult KVCacheType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  int64_t kvHeads, int64_t headDim, Type elementType) {
  if (kvHeads <= 0)
    return emitError() << "kv_cache expects kv_heads > 0, got " << kvHeads;
  if (headDim <= 0)
    return emitError() << "kv_cache expects head_dim > 0, got " << headDim;
  if (!llvm::isa<FloatType>(elementType))
    return emitError() << "kv_cache expects a floating-point element_type, got " << elementType;
  return success();
}

LogicalResult MambaStateType::verify(function_ref<InFlightDiagnostic()> emitError,
                                     int64_t heads, int64_t headDim, int64_t groups,
                                     int64_t stateSize, int64_t convKernel, Type convType,
                                     Type ssmType) {
  if (heads <= 0 || headDim <= 0 || groups <= 0 || stateSize <= 0)
    return emitError() << "mamba_state expects heads, head_dim, groups and state_size > 0, got "
                       << heads << ", " << headDim << ", " << groups << ", " << stateSize;
  if (heads % groups != 0)
    return emitError() << "mamba_state expects heads (" << heads
                       << ") to be a multiple of groups (" << groups << ")";
  if (convKernel < 1)
    return emitError() << "mamba_state expects conv_kernel >= 1, got " << convKernel;
  if (!llvm::isa<FloatType>(convType) || !llvm::isa<FloatType>(ssmType))
    return emitError() << "mamba_state expects floating-point conv_type and ssm_type, got "
                       << convType << " and " << ssmType;
  return success();
}

//===----------------------------------------------------------------------===//
// #sl.msa
//===----------------------------------------------------------------------===//

std::string mlir::sl::formatDouble(double value) {
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value)
      break;
  }
  std::string text(buffer);
  if (text.find_first_of(".en") == std::string::npos)
    text += ".0";
  return text;
}

int64_t MultiStepConfigAttr::getWindowLength() const {
  return ::sl::math::windowLength(getSwIndex(), getSearchPowerValue());
}

LogicalResult MultiStepConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                          int64_t swIndex, int64_t numSpans,
                                          APFloat backwardFactorValue,
                                          APFloat forwardFactorValue, APFloat searchPowerValue,
                                          APFloat spanPowerValue) {
  auto problem = ::sl::math::checkConfig(
      swIndex, numSpans, backwardFactorValue.convertToDouble(),
      forwardFactorValue.convertToDouble(), searchPowerValue.convertToDouble(),
      spanPowerValue.convertToDouble());
  if (problem)
    return emitError() << "msa " << problem->field << " " << problem->message;
  return success();
}

Attribute MultiStepConfigAttr::parse(AsmParser &parser, Type) {
  static constexpr const char *kKeys[] = {"sw_index",       "num_spans",    "backward_factor",
                                          "forward_factor", "search_power", "span_power"};
  static constexpr const char *kOrder =
      "#sl.msa expects all of sw_index, num_spans, backward_factor, forward_factor, "
      "search_power, span_power, in this order";
  int64_t integers[2] = {0, 0};
  double floats[4] = {0, 0, 0, 0};
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess())
    return {};
  for (int i = 0; i < 6; ++i) {
    SMLoc keyLoc = parser.getCurrentLocation();
    if ((i > 0 && failed(parser.parseOptionalComma())) ||
        failed(parser.parseOptionalKeyword(kKeys[i])) || failed(parser.parseOptionalEqual())) {
      parser.emitError(keyLoc) << kOrder << "; expected '" << kKeys[i] << " = <value>' here";
      return {};
    }
    if (i < 2 ? parser.parseInteger(integers[i]) : parser.parseFloat(floats[i - 2]))
      return {};
  }
  if (failed(parser.parseOptionalGreater())) {
    parser.emitError(parser.getCurrentLocation()) << kOrder << "; expected '>' after span_power";
    return {};
  }
  return parser.getChecked<MultiStepConfigAttr>(
      loc, parser.getContext(), integers[0], integers[1], APFloat(floats[0]), APFloat(floats[1]),
      APFloat(floats[2]), APFloat(floats[3]));
}

void MultiStepConfigAttr::print(AsmPrinter &printer) const {
  printer << "<sw_index = " << getSwIndex() << ", num_spans = " << getNumSpans()
          << ", backward_factor = " << formatDouble(getBackwardFactorValue())
          << ", forward_factor = " << formatDouble(getForwardFactorValue())
          << ", search_power = " << formatDouble(getSearchPowerValue())
          << ", span_power = " << formatDouble(getSpanPowerValue()) << ">";
}
