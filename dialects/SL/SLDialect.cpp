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

int64_t MultiStepConfigAttr::getWindowLength() const {
  return ::sl::math::windowLength(getSwIndex(), getSearchPowerValue());
}

LogicalResult MultiStepConfigAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                          int64_t swIndex, int64_t numSpans,
                                          APFloat backwardFactorValue,
                                          APFloat forwardFactorValue, APFloat searchPowerValue,
                                          APFloat spanPowerValue) {
  double backwardFactor = backwardFactorValue.convertToDouble();
  double forwardFactor = forwardFactorValue.convertToDouble();
  double searchPower = searchPowerValue.convertToDouble();
  double spanPower = spanPowerValue.convertToDouble();
  if (!(searchPower > 0.0 && searchPower < 1.0))
    return emitError() << "msa expects 0 < search_power < 1, got " << searchPower;
  if (!(spanPower > 0.0 && spanPower < 1.0))
    return emitError() << "msa expects 0 < span_power < 1, got " << spanPower;
  if (numSpans < 1 || numSpans > 8)
    return emitError() << "msa expects num_spans in [1, 8] (the routing kernels keep the top-k "
                          "in registers), got "
                       << numSpans;
  if (!(backwardFactor >= 0.0) || !(forwardFactor >= 0.0) || std::isinf(backwardFactor) ||
      std::isinf(forwardFactor))
    return emitError() << "msa expects finite backward_factor and forward_factor >= 0, got "
                       << backwardFactor << " and " << forwardFactor;
  if (swIndex < 0)
    return emitError() << "msa expects sw_index >= 0, got " << swIndex;
  if (::sl::math::windowLength(swIndex, searchPower) < 1)
    return emitError() << "msa expects a window of at least one token, but sw_index = "
                       << swIndex << " and search_power = " << searchPower
                       << " give floor((sw_index+1)^(1/search_power)) - 1 = "
                       << ::sl::math::windowLength(swIndex, searchPower);
  return success();
}

// Shortest decimal spelling that parses back to the same double, always with a '.' or exponent
// so that it reads as a float.
static std::string formatDouble(double value) {
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

Attribute MultiStepConfigAttr::parse(AsmParser &parser, Type) {
  int64_t swIndex = 0, numSpans = 0;
  double backward = 0, forward = 0, search = 0, span = 0;
  auto parseKey = [&](StringRef key) -> ParseResult {
    if (parser.parseKeyword(key) || parser.parseEqual())
      return parser.emitError(parser.getCurrentLocation(),
                              "#sl.msa expects '" + key + " = <value>' at this position "
                              "(keys in order: sw_index, num_spans, backward_factor, "
                              "forward_factor, search_power, span_power)");
    return success();
  };
  auto parseIntField = [&](StringRef key, int64_t &v) -> ParseResult {
    if (parseKey(key) || parser.parseInteger(v))
      return failure();
    return success();
  };
  auto parseFloatField = [&](StringRef key, double &v) -> ParseResult {
    if (parseKey(key) || parser.parseFloat(v))
      return failure();
    return success();
  };
  SMLoc loc = parser.getCurrentLocation();
  if (parser.parseLess() || parseIntField("sw_index", swIndex) || parser.parseComma() ||
      parseIntField("num_spans", numSpans) || parser.parseComma() ||
      parseFloatField("backward_factor", backward) || parser.parseComma() ||
      parseFloatField("forward_factor", forward) || parser.parseComma() ||
      parseFloatField("search_power", search) || parser.parseComma() ||
      parseFloatField("span_power", span) || parser.parseGreater())
    return {};
  return parser.getChecked<MultiStepConfigAttr>(loc, parser.getContext(), swIndex, numSpans,
                                                APFloat(backward), APFloat(forward),
                                                APFloat(search), APFloat(span));
}

void MultiStepConfigAttr::print(AsmPrinter &printer) const {
  printer << "<sw_index = " << getSwIndex() << ", num_spans = " << getNumSpans()
          << ", backward_factor = " << formatDouble(getBackwardFactorValue())
          << ", forward_factor = " << formatDouble(getForwardFactorValue())
          << ", search_power = " << formatDouble(getSearchPowerValue())
          << ", span_power = " << formatDouble(getSpanPowerValue()) << ">";
}
