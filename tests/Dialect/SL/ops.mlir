// Round trip of every sl op, type and attribute, in custom and in generic form.
// RUN: slc-opt %s | slc-opt | FileCheck %s
// RUN: slc-opt %s --mlir-print-op-generic | slc-opt | FileCheck %s

// CHECK-DAG: #[[MSA:.+]] = #sl.msa<sw_index = 65, num_spans = 3, backward_factor = 3.0, forward_factor = 1.0, search_power = 0.55, span_power = 0.55>
// CHECK-DAG: ![[KV:.+]] = !sl.kv_cache<kv_heads = 2, head_dim = 16, element_type = bf16>
// CHECK-DAG: ![[MAMBA:.+]] = !sl.mamba_state<heads = 8, head_dim = 8, groups = 2, state_size = 16, conv_kernel = 4, conv_type = bf16, ssm_type = f32>
#msa = #sl.msa<sw_index = 65, num_spans = 3, backward_factor = 3.0, forward_factor = 1.0,
               search_power = 0.55, span_power = 0.55>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 16, element_type = bf16>
!mamba = !sl.mamba_state<heads = 8, head_dim = 8, groups = 2, state_size = 16, conv_kernel = 4,
                         conv_type = bf16, ssm_type = f32>

// CHECK-LABEL: func @weights_and_embedding
func.func @weights_and_embedding(%tokens: tensor<?xi64>) -> (tensor<?x64xbf16>, tensor<8x32x64xbf16>) {
  // CHECK: %[[T:.+]] = sl.weight "backbone.embeddings.weight" : tensor<256x64xbf16>
  %table = sl.weight "backbone.embeddings.weight" : tensor<256x64xbf16>
  // CHECK: sl.weight "backbone.layers.1.mixer.experts.{e}.up_proj.weight" : tensor<8x32x64xbf16>
  %up = sl.weight "backbone.layers.1.mixer.experts.{e}.up_proj.weight" : tensor<8x32x64xbf16>
  // CHECK: sl.embedding %{{.+}}, %[[T]] : (tensor<?xi64>, tensor<256x64xbf16>) -> tensor<?x64xbf16>
  %h = sl.embedding %tokens, %table : (tensor<?xi64>, tensor<256x64xbf16>) -> tensor<?x64xbf16>
  return %h, %up : tensor<?x64xbf16>, tensor<8x32x64xbf16>
}

// A rank's slice of a tensor-parallel weight, and the all-reduce of a partial product.
// CHECK-LABEL: func @ranges_and_all_reduce
func.func @ranges_and_all_reduce(%x: tensor<?x64xbf16>) -> (tensor<100x64xbf16>, tensor<?x64xbf16>) {
  // CHECK: sl.weight "backbone.layers.0.mixer.in_proj.weight" {checkpoint_shape = array<i64: 200, 64>, ranges = array<i64: 0, 32, 32, 0, 96, 32, 0, 144, 16, 0, 176, 16, 0, 196, 4>} : tensor<100x64xbf16>
  %w = sl.weight "backbone.layers.0.mixer.in_proj.weight"
      {checkpoint_shape = array<i64: 200, 64>,
       ranges = array<i64: 0, 32, 32, 0, 96, 32, 0, 144, 16, 0, 176, 16, 0, 196, 4>}
      : tensor<100x64xbf16>
  // CHECK: sl.all_reduce %{{.+}} : tensor<?x64xbf16>
  %s = sl.all_reduce %x : tensor<?x64xbf16>
  return %w, %s : tensor<100x64xbf16>, tensor<?x64xbf16>
}

// CHECK-LABEL: func @norms_linear_add_activation
func.func @norms_linear_add_activation(%x: tensor<?x64xbf16>, %z: tensor<?x64xbf16>,
    %w: tensor<64xbf16>, %wp: tensor<128x64xbf16>, %b: tensor<128xbf16>) -> tensor<?x128xbf16> {
  // CHECK: sl.rms_norm %{{.+}}, %{{.+}} {epsilon = 1.000000e-05 : f64} : tensor<?x64xbf16>, tensor<64xbf16>
  %n = sl.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x64xbf16>, tensor<64xbf16>
  // CHECK: sl.gated_rms_norm %{{.+}}, %{{.+}}, %{{.+}} {epsilon = 1.000000e-05 : f64, group_size = 32 : i64} : tensor<?x64xbf16>, tensor<64xbf16>
  %g = sl.gated_rms_norm %n, %z, %w {epsilon = 1.0e-05 : f64, group_size = 32 : i64}
      : tensor<?x64xbf16>, tensor<64xbf16>
  // CHECK: sl.add %{{.+}}, %{{.+}} : tensor<?x64xbf16>
  %r = sl.add %g, %x : tensor<?x64xbf16>
  // CHECK: sl.activation silu %{{.+}} : tensor<?x64xbf16>
  %s = sl.activation silu %r : tensor<?x64xbf16>
  // CHECK: sl.linear %{{.+}}, %{{.+}}, %{{.+}} : (tensor<?x64xbf16>, tensor<128x64xbf16>, tensor<128xbf16>) -> tensor<?x128xbf16>
  %y = sl.linear %s, %wp, %b : (tensor<?x64xbf16>, tensor<128x64xbf16>, tensor<128xbf16>)
      -> tensor<?x128xbf16>
  // CHECK: sl.linear %{{.+}}, %{{.+}} : (tensor<?x64xbf16>, tensor<128x64xbf16>) -> tensor<?x128xbf16>
  %y2 = sl.linear %s, %wp : (tensor<?x64xbf16>, tensor<128x64xbf16>) -> tensor<?x128xbf16>
  // CHECK: sl.linear %{{.+}}, %{{.+}} residual(%{{.+}}) activation(relu2) : (tensor<?x64xbf16>, tensor<128x64xbf16>, tensor<?x128xbf16>) -> tensor<?x128xbf16>
  %y3 = sl.linear %s, %wp residual(%y2) activation(relu2)
      : (tensor<?x64xbf16>, tensor<128x64xbf16>, tensor<?x128xbf16>) -> tensor<?x128xbf16>
  // CHECK: sl.linear %{{.+}}, %{{.+}} norm(%{{.+}}) {norm_epsilon = 1.000000e-05 : f64} : (tensor<?x64xbf16>, tensor<128x64xbf16>, tensor<64xbf16>) -> tensor<?x128xbf16>
  %y4 = sl.linear %s, %wp norm(%w) {norm_epsilon = 1.0e-05 : f64}
      : (tensor<?x64xbf16>, tensor<128x64xbf16>, tensor<64xbf16>) -> tensor<?x128xbf16>
  %y5 = sl.add %y3, %y4 : tensor<?x128xbf16>
  %sum = sl.add %y, %y5 : tensor<?x128xbf16>
  return %sum : tensor<?x128xbf16>
}

// CHECK-LABEL: func @mamba
func.func @mamba(%p: tensor<?x200xbf16>, %s0: !mamba, %cw: tensor<128x1x4xbf16>,
    %cb: tensor<128xbf16>, %a: tensor<8xf32>, %d: tensor<8xf32>, %dtb: tensor<8xf32>)
    -> (tensor<?x64xbf16>, !mamba) {
  // CHECK: sl.split %{{.+}} : tensor<?x200xbf16> -> tensor<?x64xbf16>, tensor<?x128xbf16>, tensor<?x8xbf16>
  %z, %xbc, %dt = sl.split %p : tensor<?x200xbf16>
      -> tensor<?x64xbf16>, tensor<?x128xbf16>, tensor<?x8xbf16>
  // CHECK: sl.causal_conv1d %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} activation(silu) : (tensor<?x128xbf16>, ![[MAMBA]], tensor<128x1x4xbf16>, tensor<128xbf16>) -> (tensor<?x128xbf16>, ![[MAMBA]])
  %c, %s1 = sl.causal_conv1d %xbc, %s0, %cw, %cb activation(silu)
      : (tensor<?x128xbf16>, !mamba, tensor<128x1x4xbf16>, tensor<128xbf16>)
      -> (tensor<?x128xbf16>, !mamba)
  // CHECK: sl.causal_conv1d %{{.+}}, %{{.+}}, %{{.+}} : (tensor<?x128xbf16>, ![[MAMBA]], tensor<128x1x4xbf16>) -> (tensor<?x128xbf16>, ![[MAMBA]])
  %c2, %s2 = sl.causal_conv1d %c, %s1, %cw
      : (tensor<?x128xbf16>, !mamba, tensor<128x1x4xbf16>) -> (tensor<?x128xbf16>, !mamba)
  // CHECK: sl.ssd_scan %{{.+}}, %{{.+}}, %{{.+}} params(%{{.+}}, %{{.+}}, %{{.+}}) {chunk_size = 64 : i64, dt_max = 1.000000e+01 : f64, dt_min = 1.000000e-03 : f64}
  %y, %s3 = sl.ssd_scan %c2, %dt, %s2 params(%a, %d, %dtb)
      {chunk_size = 64 : i64, dt_min = 1.0e-03 : f64, dt_max = 10.0 : f64}
      : (tensor<?x128xbf16>, tensor<?x8xbf16>, !mamba, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
      -> (tensor<?x64xbf16>, !mamba)
  return %y, %s3 : tensor<?x64xbf16>, !mamba
}

// CHECK-LABEL: func @moe
func.func @moe(%x: tensor<?x64xbf16>, %gate: tensor<8x64xbf16>, %bias: tensor<8xf32>,
    %up: tensor<8x32x64xbf16>, %down: tensor<8x64x32xbf16>) -> tensor<?x64xbf16> {
  // CHECK: sl.moe_router %{{.+}}, %{{.+}}, %{{.+}} {norm_topk_prob, routed_scaling_factor = 2.500000e+00 : f64, top_k = 2 : i64} : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  %w, %i = sl.moe_router %x, %gate, %bias
      {top_k = 2 : i64, routed_scaling_factor = 2.5 : f64, norm_topk_prob}
      : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  // CHECK: sl.moe_experts %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} activation(relu2)
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x32x64xbf16>,
         tensor<8x64x32xbf16>) -> tensor<?x64xbf16>
  // CHECK: sl.moe_experts %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} shared(%{{.+}}) residual(%{{.+}}) activation(relu2)
  %y2 = sl.moe_experts %x, %w, %i, %up, %down shared(%y) residual(%x) activation(relu2)
      : (tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x32x64xbf16>,
         tensor<8x64x32xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>) -> tensor<?x64xbf16>
  return %y2 : tensor<?x64xbf16>
}

// An expert-parallel rank holding 1 of the router's 8 experts (expert 5): top_k 2 is more than
// its own experts.
// CHECK-LABEL: func @moe_expert_offset
func.func @moe_expert_offset(%x: tensor<?x64xbf16>, %gate: tensor<8x64xbf16>, %bias: tensor<8xf32>,
    %up: tensor<1x32x64xbf16>, %down: tensor<1x64x32xbf16>) -> tensor<?x64xbf16> {
  %w, %i = sl.moe_router %x, %gate, %bias {top_k = 2 : i64, routed_scaling_factor = 1.0 : f64}
      : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  // CHECK: sl.moe_experts %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} activation(relu2) {expert_offset = 5 : i64}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2) {expert_offset = 5 : i64}
      : (tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<1x32x64xbf16>,
         tensor<1x64x32xbf16>) -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}

// CHECK-LABEL: func @dense_attention_head_sample
func.func @dense_attention_head_sample(%q: tensor<?x64xbf16>, %k: tensor<?x32xbf16>,
    %v: tensor<?x32xbf16>, %c0: !kv, %lm: tensor<256x64xbf16>)
    -> (tensor<?x256xf32>, tensor<?xi32>, !kv) {
  // CHECK: sl.dense_attention %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} {num_heads = 4 : i64} : (tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>, ![[KV]]) -> (tensor<?x64xbf16>, ![[KV]])
  %o, %c1 = sl.dense_attention %q, %k, %v, %c0 {num_heads = 4 : i64}
      : (tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>, !kv) -> (tensor<?x64xbf16>, !kv)
  // CHECK: sl.lm_head %{{.+}}, %{{.+}} : (tensor<?x64xbf16>, tensor<256x64xbf16>) -> tensor<?x256xf32>
  %logits = sl.lm_head %o, %lm : (tensor<?x64xbf16>, tensor<256x64xbf16>) -> tensor<?x256xf32>
  // CHECK: sl.sample %{{.+}} : tensor<?x256xf32> -> tensor<?xi32>
  %next = sl.sample %logits : tensor<?x256xf32> -> tensor<?xi32>
  return %logits, %next, %c1 : tensor<?x256xf32>, tensor<?xi32>, !kv
}

// CHECK-LABEL: func @multi_step_attention
func.func @multi_step_attention(%q1: tensor<?x64xbf16>, %q2: tensor<?x64xbf16>,
    %k: tensor<?x32xbf16>, %v: tensor<?x32xbf16>, %c0: !kv) -> (tensor<?x64xbf16>, !kv) {
  // CHECK: sl.multi_step_attention %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} {config = #[[MSA]], num_heads = 4 : i64} : (tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>, ![[KV]]) -> (tensor<?x64xbf16>, ![[KV]])
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c0 {config = #msa, num_heads = 4 : i64}
      : (tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>, !kv)
      -> (tensor<?x64xbf16>, !kv)
  return %o, %c1 : tensor<?x64xbf16>, !kv
}

// CHECK-LABEL: func @kv_append
func.func @kv_append(%k: tensor<1x32xbf16>, %v: tensor<1x32xbf16>, %c0: !kv) -> !kv {
  // CHECK: sl.kv_append %{{.+}}, %{{.+}}, %{{.+}} : (tensor<1x32xbf16>, tensor<1x32xbf16>, ![[KV]]) -> ![[KV]]
  %c1 = sl.kv_append %k, %v, %c0 : (tensor<1x32xbf16>, tensor<1x32xbf16>, !kv) -> !kv
  return %c1 : !kv
}
