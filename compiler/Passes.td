#ifndef SL_PASSES_TD
#define SL_PASSES_TD

include "mlir/Pass/PassBase.td"

def SLDecomposeMultiStepAttention
    : Pass<"sl-decompose-multi-step-attention", "::mlir::func::FuncOp"> {
  let summary = "Decompose sl.multi_step_attention into its search, span and gate ops";
  let description = [{
    Rewrites every `sl.multi_step_attention` into `sl.kv_append`, `sl.anchor_grid`,
    `sl.route_topk`, `sl.segment_attention` and `sl.gate_combine`, so that later passes can
    fuse, tile and lower the stages separately.

    Before:
    ```mlir
    %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c0 {config = #msa, num_heads = 4 : i64}
        : (...) -> (tensor<?x64xbf16>, !sl.kv_cache<...>)
    ```
    After:
    ```mlir
    %c1 = sl.kv_append %k, %v, %c0 : (...) -> !sl.kv_cache<...>
    %s = sl.anchor_grid %q1, %c1 {config = #msa, num_heads = 4 : i64} : (...) -> tensor<?x4x?xf32>
    %top, %lo, %hi = sl.route_topk %s, %c1 {config = #msa} : (...) -> (...)
    %outs, %lse = sl.segment_attention %q2, %c1, %lo, %hi
        {config = #msa, num_heads = 4 : i64, window = 6 : i64} : (...) -> (...)
    %o = sl.gate_combine %outs, %top : (...) -> tensor<?x64xbf16>
    ```
  }];
  let dependentDialects = ["::mlir::sl::SLDialect"];
}

#endif // SL_PASSES_TD
