#ifndef SL_TYPES_TD
#define SL_TYPES_TD

include "dialects/SL/SLDialect.td"
include "mlir/IR/AttrTypeBase.td"

class SL_Type<string name, string typeMnemonic> : TypeDef<SL_Dialect, name> {
  let mnemonic = typeMnemonic;
}

def SL_KVCacheType : SL_Type<"KVCache", "kv_cache"> {
  let summary = "KV cache of one attention layer for one sequence";
  let description = [{
    Keys and values of every position seen so far by one attention layer, `[kv_heads, L,
    head_dim]` each. The length L grows at run time; the cache is owned by the session, not by the
    compiled function. Ops that append to it return the updated cache as a new value.

    Example: `!sl.kv_cache<kv_heads = 2, head_dim = 128, element_type = bf16>`
  }];
  let parameters = (ins "int64_t":$kv_heads, "int64_t":$head_dim, "Type":$element_type);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def SL_MambaStateType : SL_Type<"MambaState", "mamba_state"> {
  let summary = "Recurrent state of one Mamba-2 layer for one sequence";
  let description = [{
    The convolution state (the last `conv_kernel - 1` inputs of every conv channel, in
    `conv_type`) and the SSM state (`[heads, head_dim, state_size]` in `ssm_type`) of one
    Mamba-2 layer. The conv channels are the x, B and C streams:
    `heads * head_dim + 2 * groups * state_size`.

    Example:
    `!sl.mamba_state<heads = 64, head_dim = 64, groups = 8, state_size = 128, conv_kernel = 4,
                     conv_type = bf16, ssm_type = f32>`
  }];
  let parameters = (ins "int64_t":$heads, "int64_t":$head_dim, "int64_t":$groups,
                        "int64_t":$state_size, "int64_t":$conv_kernel,
                        "Type":$conv_type, "Type":$ssm_type);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Width of the inner (x) stream: heads * head_dim.
    int64_t getInnerSize() const { return getHeads() * getHeadDim(); }
    /// Channels of the causal convolution: x, B and C.
    int64_t getConvChannels() const {
      return getInnerSize() + 2 * getGroups() * getStateSize();
    }
  }];
}

#endif // SL_TYPES_TD
