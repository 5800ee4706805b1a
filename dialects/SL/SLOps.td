#ifndef SL_OPS_TD
#define SL_OPS_TD

include "dialects/SL/SLDialect.td"
include "dialects/SL/SLAttrs.td"
include "dialects/SL/SLTypes.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

class SL_Op<string mnemonic, list<Trait> traits = []> : Op<SL_Dialect, mnemonic, traits> {
  // Every op checks the shapes and types a wrong model file could get wrong.
  let hasVerifier = 1;
}

def SL_FloatTensor : RankedTensorOf<[AnyFloat]>;
def SL_IntTensor : RankedTensorOf<[I32, I64]>;
def SL_KVCache : Type<CPred<"::llvm::isa<::mlir::sl::KVCacheType>($_self)">,
                      "KV cache", "::mlir::sl::KVCacheType">;
def SL_MambaState : Type<CPred<"::llvm::isa<::mlir::sl::MambaStateType>($_self)">,
                         "Mamba-2 state", "::mlir::sl::MambaStateType">;

//===----------------------------------------------------------------------===//
// Weights and model ops
//===----------------------------------------------------------------------===//

def SL_WeightOp : SL_Op<"weight", [Pure]> {
  let summary = "A tensor of the checkpoint, bound by name";
  let description = [{
    Produces the checkpoint tensor called `name`, with the result's shape and element type. The
    runtime checks the checkpoint against this type when it loads the weights. A name containing
    `{e}` stands for one tensor per expert (`{e}` = 0, 1, ...), stacked along the first dimension
    of the result.

    ```mlir
    %w = sl.weight "backbone.layers.0.mixer.in_proj.weight" : tensor<10304x2688xbf16>
    %up = sl.weight "backbone.layers.1.mixer.experts.{e}.up_proj.weight"
        : tensor<128x1856x2688xbf16>
    ```

    A rank of a tensor-parallel model (`sl-shard-graph`) binds part of the tensor: `ranges`
    lists `(dim, offset, size)` triples, all along the same dimension, whose slices of the
    whole tensor (`checkpoint_shape`, experts stacked as in the result) are concatenated in that
    order along `dim` (a Mamba `in_proj` of one rank: its z rows, x rows, B and C rows, dt rows).

    ```mlir
    %w = sl.weight "backbone.layers.0.mixer.in_proj.weight"
        {checkpoint_shape = array<i64: 200, 64>,
         ranges = array<i64: 0, 0, 32, 0, 64, 64, 0, 192, 4>} : tensor<100x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<DenseI64ArrayAttr>:$ranges,
                       OptionalAttr<DenseI64ArrayAttr>:$checkpoint_shape);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::llvm::StringRef":$name), [{
      build($_builder, $_state, result, $_builder.getStringAttr(name), nullptr, nullptr);
    }]>
  ];
  let extraClassDeclaration = [{
    /// True when the name stands for one tensor per expert, stacked along dimension 0.
    bool isStackedPerExpert() { return getName().contains("{e}"); }
  }];
}

def SL_AllReduceOp : SL_Op<"all_reduce", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "Sum of a tensor over the ranks of a tensor-parallel model";
  let description = [{
    Every rank holds a partial `x` of the same type (the partial products of its slice of an
    output projection); the result, on every rank, is their element-wise sum. Inserted by
    `sl-shard-graph` before a block's residual add; the runtime sums in a fixed rank order, so
    every rank gets the same bits.

    ```mlir
    %sum = sl.all_reduce %partial : tensor<?x2688xbf16>
    ```
  }];
  let arguments = (ins SL_FloatTensor:$x);
  let results = (outs SL_FloatTensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x)";
}

def SL_EmbeddingOp : SL_Op<"embedding", [Pure]> {
  let summary = "Token embedding lookup";
  let description = [{
    Gathers one row of `table` (`[vocab, hidden]`) per token id. Ids outside `[0, vocab)` are a
    run-time error of the runtime, not undefined behaviour.

    ```mlir
    %h = sl.embedding %tokens, %table : (tensor<?xi32>, tensor<131072x2688xbf16>)
        -> tensor<?x2688xbf16>
    ```
  }];
  let arguments = (ins SL_IntTensor:$tokens, SL_FloatTensor:$table);
  let results = (outs SL_FloatTensor:$result);
  let assemblyFormat = "$tokens `,` $table attr-dict `:` functional-type(operands, results)";
}

def SL_RMSNormOp : SL_Op<"rms_norm", [Pure, AllTypesMatch<["x", "result"]>]> {
  let summary = "RMSNorm over the hidden dimension, computed in fp32";
  let description = [{
    `y = x / sqrt(mean(x^2) + epsilon) * weight`, per token, accumulated in fp32.

    ```mlir
    %y = sl.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x2688xbf16>, tensor<2688xbf16>
    ```
  }];
  let arguments = (ins SL_FloatTensor:$x, SL_FloatTensor:$weight, F64Attr:$epsilon);
  let results = (outs SL_FloatTensor:$result);
  let assemblyFormat = "$x `,` $weight attr-dict `:` type($x) `,` type($weight)";
}

def SL_GatedRMSNormOp : SL_Op<"gated_rms_norm",
    [Pure, AllTypesMatch<["y", "gate", "result"]>]> {
  let summary = "Grouped RMSNorm of y * silu(gate) (Mamba-2 output norm)";
  let description = [{
    `norm(y * silu(gate)) * weight`, where the norm is an RMSNorm over consecutive groups of
    `group_size` channels (the gate is applied before the norm), computed in fp32.

    ```mlir
    %o = sl.gated_rms_norm %y, %z, %w {epsilon = 1.0e-05 : f64, group_size = 512 : i64}
        : tensor<?x4096xbf16>, tensor<4096xbf16>
    ```

    On a rank of a tensor-parallel model whose heads hold part of a norm group,
    `shared_group = array<i64: ranks, index, count>` says that y holds `group_size` channels,
    1/`ranks` of group `index` of the model's `count` groups: the mean of squares is taken over
    the whole group (its sums all-reduced over the ranks, `sl-lower-to-slk`).
  }];
  let arguments = (ins SL_FloatTensor:$y, SL_FloatTensor:$gate, SL_FloatTensor:$weight,
                       F64Attr:$epsilon, I64Attr:$group_size,
                       OptionalAttr<DenseI64ArrayAttr>:$shared_group);
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$y, "::mlir::Value":$gate,
                   "::mlir::Value":$weight, "::mlir::FloatAttr":$epsilon,
                   "::mlir::IntegerAttr":$group_size), [{
      build($_builder, $_state, result, y, gate, weight, epsilon, group_size, nullptr);
    }]>
  ];
  let results = (outs SL_FloatTensor:$result);
  let assemblyFormat = "$y `,` $gate `,` $weight attr-dict `:` type($y) `,` type($weight)";
}

def SL_LinearOp : SL_Op<"linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "Projection act(norm(x) W^T + bias) + residual with a checkpoint weight";
  let description = [{
    `y[t, n] = act(sum_k x'[t, k] * weight[n, k] + bias[n]) + residual[t, n]`, with the weight in
    the checkpoint's `[out, in]` layout, accumulated in fp32; `x' = x`, or with `norm(%w)` the
    RMSNorm of x (weight `%w`, `norm_epsilon`), computed as `sl.rms_norm` does. The bias, the
    norm, the activation and the residual are optional; the importer sets none of the last
    three, `sl-fuse-epilogues` folds a preceding `sl.rms_norm`, a following `sl.activation` and
    a residual `sl.add` into them.

    ```mlir
    %y = sl.linear %x, %w : (tensor<?x2688xbf16>, tensor<10304x2688xbf16>)
        -> tensor<?x10304xbf16>
    %h = sl.linear %a, %w2 residual(%h0) activation(relu2)
        : (tensor<?x1856xbf16>, tensor<2688x1856xbf16>, tensor<?x2688xbf16>)
        -> tensor<?x2688xbf16>
    %p = sl.linear %h, %w3 norm(%nw) {norm_epsilon = 1.0e-05 : f64}
        : (tensor<?x2688xbf16>, tensor<10304x2688xbf16>, tensor<2688xbf16>)
        -> tensor<?x10304xbf16>
    ```
  }];
  let arguments = (ins SL_FloatTensor:$x, SL_FloatTensor:$weight,
                       Optional<SL_FloatTensor>:$bias, Optional<SL_FloatTensor>:$residual,
                       Optional<SL_FloatTensor>:$norm_weight,
                       OptionalAttr<SL_ActivationKind>:$activation,
                       OptionalAttr<F64Attr>:$norm_epsilon);
  let results = (outs SL_FloatTensor:$result);
  let assemblyFormat = [{
    $x `,` $weight (`,` $bias^)? (`residual` `(` $residual^ `)`)? (`norm` `(` $norm_weight^ `)`)?
    (`activation` `(` $activation^ `)`)? attr-dict `:` functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$x, "::mlir::Value":$weight,
                   "::mlir::Value":$bias), [{
      build($_builder, $_state, result, x, weight, bias, ::mlir::Value(), ::mlir::Value(),
            nullptr, nullptr);
    }]>
  ];
}

def SL_AddOp : SL_Op<"add", [Pure, Commutative, SameOperandsAndResultType]> {
  let hasVerifier = 0;
  let summary = "Residual add";
  let description = [{
    Element-wise sum of two activations of the same type: the residual connection around every
    mixer.

    ```mlir
    %r = sl.add %x, %mixed : tensor<?x2688xbf16>
    ```
  }];
  let arguments = (ins SL_FloatTensor:$lhs, SL_FloatTensor:$rhs);
  let results = (outs SL_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def SL_ActivationOp : SL_Op<"activation", [Pure, AllTypesMatch<["x", "result"]>]> {
  let hasVerifier = 0;
  let summary = "Element-wise activation (silu, relu2)";
  let description = [{
    `silu(x) = x * sigmoid(x)`; `relu2(x) = max(x, 0)^2` (the MoE experts' activation).

    ```mlir
    %a = sl.activation relu2 %h : tensor<?x3712xbf16>
    ```
  }];
  let arguments = (ins SL_ActivationKind:$kind, SL_FloatTensor:$x);
  let results = (outs SL_FloatTensor:$result);
  let assemblyFormat = "$kind $x attr-dict `:` type($x)";
}

def SL_SplitOp : SL_Op<"split", [Pure]> {
  let summary = "Split the last dimension into consecutive pieces";
  let description = [{
    Splits the last dimension of `x` into consecutive pieces whose sizes are the last dimensions
    of the results (in order). Used to separate the z, xBC and dt streams of a Mamba-2 `in_proj`.
    A split into one piece folds to its operand.

    ```mlir
    %z, %xbc, %dt = sl.split %p : tensor<?x10304xbf16>
        -> tensor<?x4096xbf16>, tensor<?x6144xbf16>, tensor<?x64xbf16>
    ```
  }];
  let arguments = (ins SL_FloatTensor:$x);
  let results = (outs Variadic<SL_FloatTensor>:$pieces);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($pieces)";
  let hasFolder = 1;
}

def SL_CausalConv1dOp : SL_Op<"causal_conv1d", [Pure]> {
  let summary = "Depthwise causal conv1d over the xBC channels, with carried state";
  let description = [{
    Depthwise causal convolution of every channel of `x` (`[T, C]`) with `weight`
    (`[C, 1, K]`, the checkpoint layout) and optional `bias` (`[C]`), continuing from the last
    `K - 1` inputs held in `state`; then the optional activation. Returns the output and the state
    with its conv part advanced by T tokens.

    ```mlir
    %y, %s1 = sl.causal_conv1d %xbc, %s0, %w, %b activation(silu)
        : (tensor<?x6144xbf16>, !sl.mamba_state<...>, tensor<6144x1x4xbf16>, tensor<6144xbf16>)
        -> (tensor<?x6144xbf16>, !sl.mamba_state<...>)
    ```
  }];
  let arguments = (ins SL_FloatTensor:$x, SL_MambaState:$state, SL_FloatTensor:$weight,
                       Optional<SL_FloatTensor>:$bias,
                       OptionalAttr<SL_ActivationKind>:$activation);
  let results = (outs SL_FloatTensor:$result, SL_MambaState:$new_state);
  let assemblyFormat = [{
    $x `,` $state `,` $weight (`,` $bias^)? (`activation` `(` $activation^ `)`)? attr-dict
    `:` functional-type(operands, results)
  }];
}

def SL_SSDScanOp : SL_Op<"ssd_scan", [Pure]> {
  let summary = "Mamba-2 selective state-space scan (SSD), with carried state";
  let description = [{
    Splits `xbc` (`[T, heads*head_dim + 2*groups*state_size]`) into x, B and C; computes
    `dt = softplus(dt + dt_bias)` clamped to `[dt_min, dt_max]` and `A = -exp(a_log)`; runs the
    recurrence `h_t = exp(dt_t*A) h_{t-1} + dt_t x_t B_t^T`, `y_t = C_t h_t + D x_t` per head
    (each group of B/C serves heads/groups heads), starting from the SSM part of `state`.
    The result does not depend on how the scan is chunked: `chunk_size` is the checkpoint's value,
    kept as the model's description; the kernels' chunk length is a tile choice of
    `sl-select-tiles` (`sl.tiles = {chunk = ...}` for prefill, `{rows = ...}` for decode).

    ```mlir
    %y, %s2 = sl.ssd_scan %xbc, %dt, %s1 params(%a_log, %d, %dt_bias) {chunk_size = 128 : i64}
        : (tensor<?x6144xbf16>, tensor<?x64xbf16>, !sl.mamba_state<...>,
           tensor<64xf32>, tensor<64xf32>, tensor<64xf32>)
        -> (tensor<?x4096xbf16>, !sl.mamba_state<...>)
    ```
  }];
  let arguments = (ins SL_FloatTensor:$xbc, SL_FloatTensor:$dt, SL_MambaState:$state,
                       SL_FloatTensor:$a_log, SL_FloatTensor:$d, SL_FloatTensor:$dt_bias,
                       I64Attr:$chunk_size, OptionalAttr<F64Attr>:$dt_min,
                       OptionalAttr<F64Attr>:$dt_max);
  let results = (outs SL_FloatTensor:$result, SL_MambaState:$new_state);
  let assemblyFormat = [{
    $xbc `,` $dt `,` $state `params` `(` $a_log `,` $d `,` $dt_bias `)` attr-dict
    `:` functional-type(operands, results)
  }];
}

def SL_MoERouterOp : SL_Op<"moe_router", [Pure]> {
  let summary = "Sigmoid MoE router with bias-corrected top-k";
  let description = [{
    `scores = sigmoid(x W_gate^T)` in fp32; the `top_k` experts are chosen by
    `scores + correction_bias`; their weights are the uncorrected scores, normalised to sum 1
    when `norm_topk_prob` is set, times `routed_scaling_factor`. Returns the weights and the
    expert indices, `[T, top_k]` each.

    ```mlir
    %wts, %ids = sl.moe_router %x, %gate, %bias
        {top_k = 6 : i64, routed_scaling_factor = 2.5 : f64, norm_topk_prob}
        : (tensor<?x2688xbf16>, tensor<128x2688xbf16>, tensor<128xf32>)
        -> (tensor<?x6xf32>, tensor<?x6xi32>)
    ```
  }];
  let arguments = (ins SL_FloatTensor:$x, SL_FloatTensor:$gate, SL_FloatTensor:$correction_bias,
                       I64Attr:$top_k, F64Attr:$routed_scaling_factor,
                       UnitAttr:$norm_topk_prob);
  let results = (outs SL_FloatTensor:$weights, SL_IntTensor:$indices);
  let assemblyFormat = [{
    $x `,` $gate `,` $correction_bias attr-dict `:` functional-type(operands, results)
  }];
}

def SL_MoEExpertsOp : SL_Op<"moe_experts", [Pure, AttrSizedOperandSegments]> {
  let summary = "Routed (non-gated) experts: sum_e w_e down_e(act(up_e(x))) + shared + residual";
  let description = [{
    For every token, applies its `top_k` routed experts and sums them weighted by the router's
    weights: `sum_j w[t,j] * down[e_j] act(up[e_j] x[t])` with `e_j = indices[t,j]`, then adds
    the optional `shared` (shared-expert output) and `residual` operands, in that order.
    `up` is `[experts, intermediate, hidden]`, `down` is `[experts, hidden, intermediate]`.
    The importer never sets `shared`/`residual`; `sl-fuse-epilogues` folds the adds into them.

    ```mlir
    %y = sl.moe_experts %x, %wts, %ids, %up, %down activation(relu2)
        : (tensor<?x2688xbf16>, tensor<?x6xf32>, tensor<?x6xi32>,
           tensor<128x1856x2688xbf16>, tensor<128x2688x1856xbf16>) -> tensor<?x2688xbf16>
    ```

    A rank of an expert-parallel model (`sl-shard-graph` with `--expert-parallel`) holds only
    the experts `[expert_offset, expert_offset + experts)` of `up` and `down` (`experts` = their
    first dimension), while `indices` keep the router's global expert ids: a pair routed to
    expert `e` uses `up[e - expert_offset]`, and pairs outside the range are skipped (their
    share of the sum is another rank's, added by the block's all-reduce). `expert_offset`
    defaults to 0, where every id must be a local expert. Rank 1 of 8 experts over 2 groups:

    ```mlir
    %y = sl.moe_experts %x, %wts, %ids, %up, %down activation(relu2) {expert_offset = 4 : i64}
        : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>,
           tensor<4x32x64xf32>, tensor<4x64x32xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins SL_FloatTensor:$x, SL_FloatTensor:$weights, SL_IntTensor:$indices,
                       SL_FloatTensor:$up, SL_FloatTensor:$down,
                       Optional<SL_FloatTensor>:$shared, Optional<SL_FloatTensor>:$residual,
                       SL_ActivationKind:$activation,
                       DefaultValuedOptionalAttr<I64Attr, "0">:$expert_offset);
  let results = (outs SL_FloatTensor:$result);
  let assemblyFormat = [{
    $x `,` $weights `,` $indices `,` $up `,` $down (`shared` `(` $shared^ `)`)?
    (`residual` `(` $residual^ `)`)? `activation` `(` $activation `)` attr-dict
    `:` functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$x, "::mlir::Value":$weights,
                   "::mlir::Value":$indices, "::mlir::Value":$up, "::mlir::Value":$down,
                   "::mlir::sl::ActivationAttr":$activation), [{
      build($_builder, $_state, result, x, weights, indices, up, down, ::mlir::Value(),
            ::mlir::Value(), activation, ::mlir::IntegerAttr());
    }]>,
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$x, "::mlir::Value":$weights,
                   "::mlir::Value":$indices, "::mlir::Value":$up, "::mlir::Value":$down,
                   "::mlir::sl::Activation":$activation), [{
      build($_builder, $_state, result, x, weights, indices, up, down, ::mlir::Value(),
            ::mlir::Value(), ::mlir::sl::ActivationAttr::get($_builder.getContext(), activation),
            ::mlir::IntegerAttr());
    }]>
  ];
}

def SL_DenseAttentionOp : SL_Op<"dense_attention", [Pure]> {
  let summary = "Causal GQA attention over the whole KV cache (no positional encoding)";
  let description = [{
    Appends the new keys and values (`[T, kv_heads*head_dim]`) to `cache`, then computes causal
    softmax attention (scale 1/sqrt(head_dim)) of the `num_heads` query heads over every cached
    position up to their own; query head h reads kv head h / (num_heads / kv_heads). The new
    tokens occupy the last T positions of the returned cache.

    ```mlir
    %o, %c1 = sl.dense_attention %q, %k, %v, %c0 {num_heads = 32 : i64}
        : (tensor<?x4096xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>,
           !sl.kv_cache<kv_heads = 2, head_dim = 128, element_type = bf16>)
        -> (tensor<?x4096xbf16>, !sl.kv_cache<kv_heads = 2, head_dim = 128, element_type = bf16>)
    ```
  }];
  let arguments = (ins SL_FloatTensor:$q, SL_FloatTensor:$k, SL_FloatTensor:$v,
                       SL_KVCache:$cache, I64Attr:$num_heads);
  let results = (outs SL_FloatTensor:$result, SL_KVCache:$new_cache);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $cache attr-dict `:` functional-type(operands, results)
  }];
}

def SL_LMHeadOp : SL_Op<"lm_head", [Pure]> {
  let summary = "Output projection to fp32 vocabulary logits";
  let description = [{
    `logits = x W^T` with `W` `[vocab, hidden]`, accumulated and returned in fp32.

    ```mlir
    %logits = sl.lm_head %h, %w : (tensor<?x2688xbf16>, tensor<131072x2688xbf16>)
        -> tensor<?x131072xf32>
    ```
  }];
  let arguments = (ins SL_FloatTensor:$x, SL_FloatTensor:$weight);
  let results = (outs SL_FloatTensor:$logits);
  let assemblyFormat = "$x `,` $weight attr-dict `:` functional-type(operands, results)";
}

def SL_SampleOp : SL_Op<"sample"> {
  let summary = "Draw the next token from logits with the session's sampling parameters";
  let description = [{
    One token id per row of logits. The sampling parameters (greedy, temperature, top-p, top-k,
    seed) belong to the request, not to the compiled graph: the runtime supplies them, and the
    op reads and advances the session's random state (hence it is not `Pure`).

    ```mlir
    %next = sl.sample %logits : tensor<?x131072xf32> -> tensor<?xi32>
    ```
  }];
  let arguments = (ins SL_FloatTensor:$logits);
  let results = (outs SL_IntTensor:$tokens);
  let assemblyFormat = "$logits attr-dict `:` type($logits) `->` type($tokens)";
}

//===----------------------------------------------------------------------===//
// Multi-step attention
//===----------------------------------------------------------------------===//

def SL_KVAppendOp : SL_Op<"kv_append", [Pure]> {
  let summary = "Append the keys and values of new tokens to a KV cache";
  let description = [{
    Returns `cache` extended by T positions holding `k` and `v` (`[T, kv_heads*head_dim]`).
    The queries of these tokens sit at the last T positions of the result.

    ```mlir
    %c1 = sl.kv_append %k, %v, %c0 : (tensor<?x256xbf16>, tensor<?x256xbf16>,
        !sl.kv_cache<kv_heads = 2, head_dim = 128, element_type = bf16>)
        -> !sl.kv_cache<kv_heads = 2, head_dim = 128, element_type = bf16>
    ```
  }];
  let arguments = (ins SL_FloatTensor:$k, SL_FloatTensor:$v, SL_KVCache:$cache);
  let results = (outs SL_KVCache:$new_cache);
  let assemblyFormat = "$k `,` $v `,` $cache attr-dict `:` functional-type(operands, results)";
}

def SL_MultiStepAttentionOp : SL_Op<"multi_step_attention", [Pure]> {
  let summary = "Multi-step (superlinear) attention, composite";
  let description = [{
    Appends `k`/`v` to `cache`, then for every query: scores the anchor grid with `q1`, keeps the
    top `num_spans` anchors, attends with `q2` to each anchor's span plus the sliding window, and
    mixes the results with a softmax gate over the routing scores (SUPERLINEAR.md).
    `sl-lower-to-slk` lowers it as one op to the launch sequence of docs/kernels-msa.md
    (prefill or decode), whose intermediate buffers are its own.

    ```mlir
    %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c0
        {config = #sl.msa<sw_index = 65, num_spans = 3, backward_factor = 3.0,
            forward_factor = 1.0, search_power = 0.55, span_power = 0.55>, num_heads = 32 : i64}
        : (tensor<?x4096xbf16>, tensor<?x4096xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>,
           !sl.kv_cache<kv_heads = 2, head_dim = 128, element_type = bf16>)
        -> (tensor<?x4096xbf16>, !sl.kv_cache<kv_heads = 2, head_dim = 128, element_type = bf16>)
    ```
  }];
  let arguments = (ins SL_FloatTensor:$q1, SL_FloatTensor:$q2, SL_FloatTensor:$k,
                       SL_FloatTensor:$v, SL_KVCache:$cache,
                       SL_MultiStepConfigAttr:$config, I64Attr:$num_heads);
  let results = (outs SL_FloatTensor:$result, SL_KVCache:$new_cache);
  let assemblyFormat = [{
    $q1 `,` $q2 `,` $k `,` $v `,` $cache attr-dict `:` functional-type(operands, results)
  }];
}

#endif // SL_OPS_TD
