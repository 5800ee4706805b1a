#ifndef SL_ATTRS_TD
#define SL_ATTRS_TD

include "dialects/SL/SLDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def SL_Activation_SiLU : I32EnumAttrCase<"silu", 0>;
def SL_Activation_ReLU2 : I32EnumAttrCase<"relu2", 1>;
def SL_ActivationKind : I32EnumAttr<"Activation",
    "element-wise activation function", [SL_Activation_SiLU, SL_Activation_ReLU2]> {
  let cppNamespace = "::mlir::sl";
}

def SL_MultiStepConfigAttr : AttrDef<SL_Dialect, "MultiStepConfig"> {
  let mnemonic = "msa";
  let summary = "Hyper-parameters of multi-step (superlinear) attention";
  let description = [{
    The six hyper-parameters of one multi-step attention layer (SUPERLINEAR.md section 2):

    - `sw_index`: index of the first anchor stripe; fixes the sliding window length;
    - `num_spans`: k, the number of anchors kept by top-k routing (1..8);
    - `backward_factor`, `forward_factor`: span reach before/after an anchor, times t^span_power;
    - `search_power` (0 < p < 1): the anchor grid is floor(i^(1/p)), about t^p anchors;
    - `span_power` (0 < sp < 1): span length grows as t^sp.

    Derived values (the window length W = floor(( sw_index+1)^(1/p)) - 1) are methods of this
    attribute that call the one shared definition in `runtime/math/SuperlinearMath.h`.

    Example:
    ```mlir
    #sl.msa<sw_index = 65, num_spans = 3, backward_factor = 3.0, forward_factor = 1.0,
            search_power = 0.55, span_power = 0.55>
    ```
  }];
  let parameters = (ins
    "int64_t":$swIndex,
    "int64_t":$numSpans,
    APFloatParameter<"">:$backwardFactor,
    APFloatParameter<"">:$forwardFactor,
    APFloatParameter<"">:$searchPower,
    APFloatParameter<"">:$spanPower);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Sliding-window length W derived from sw_index and search_power.
    int64_t getWindowLength() const;
    double getSearchPowerValue() const { return getSearchPower().convertToDouble(); }
    double getSpanPowerValue() const { return getSpanPower().convertToDouble(); }
    double getBackwardFactorValue() const { return getBackwardFactor().convertToDouble(); }
    double getForwardFactorValue() const { return getForwardFactor().convertToDouble(); }
  }];
}

#endif // SL_ATTRS_TD
