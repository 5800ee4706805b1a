#ifndef SL_DIALECT_TD
#define SL_DIALECT_TD

include "mlir/IR/OpBase.td"

def SL_Dialect : Dialect {
  let name = "sl";
  let cppNamespace = "::mlir::sl";
  let summary = "Graph-level dialect of hybrid Mamba-2 / MoE / multi-step attention models";
  let description = [{
    The `sl` dialect describes a whole Nemotron-H style model as a dataflow graph on tensors.
    Activations are ranked tensors whose first dimension is the (dynamic) token dimension; every
    other dimension is static. Weights are values produced by `sl.weight`, bound to a checkpoint
    tensor by name. The per-sequence state (the KV cache of an attention layer, the conv and SSM
    state of a Mamba-2 layer) is an explicit SSA value of its own type, consumed and produced by
    the ops that update it, so the state flow of a decode step is visible in the IR.

    Multi-step (superlinear) attention is one op, `sl.multi_step_attention`, lowered as a whole
    to its kernel launches. `sl.kv_append`, which appends keys and values to a KV cache, also
    exists as an op of its own and lowers to kernels by itself.
  }];
  let useDefaultTypePrinterParser = 1;
  let useDefaultAttributePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerTypes();
    void registerAttributes();
  }];
}

#endif // SL_DIALECT_TD
