// RUN: slc-opt %s --sl-shard-graph="rank=1 world-size=2" | FileCheck %s
// RUN: slc-opt %s --sl-shard-graph="rank=3 world-size=4" | FileCheck %s --check-prefix=FOUR
// RUN: slc-opt %s --sl-shard-graph="rank=0 world-size=1" | FileCheck %s --check-prefix=ONE

// The layers as slc import writes them (after canonicalize), one function each. The state types
// shrink to the rank's heads and groups (rank 3 of 4: 2 heads, group 3; query head 3, kv head 1).
// CHECK-DAG: !kv_cache = !sl.kv_cache<kv_heads = 1, head_dim = 16, element_type = f32>
// CHECK-DAG: !mamba_state{{[0-9]*}} = !sl.mamba_state<heads = 4, head_dim = 8, groups = 2, state_size = 16, conv_kernel = 4
// FOUR-DAG: !kv_cache = !sl.kv_cache<kv_heads = 1, head_dim = 16, element_type = f32>
// FOUR-DAG: !mamba_state{{[0-9]*}} = !sl.mamba_state<heads = 2, head_dim = 8, groups = 1, state_size = 16, conv_kernel = 4
// ONE-DAG: !kv_cache = !sl.kv_cache<kv_heads = 2, head_dim = 16, element_type = f32>
// ONE-DAG: !mamba_state{{[0-9]*}} = !sl.mamba_state<heads = 8, head_dim = 8, groups = 4, state_size = 16, conv_kernel = 4
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 16, element_type = f32>
!mamba = !sl.mamba_state<heads = 8, head_dim = 8, groups = 4, state_size = 16, conv_kernel = 4, conv_type = f32, ssm_type = f32>
#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>

// Mamba-2, rank 1 of 2: heads 4..7 (x/z rows 32..63), groups 2..3 (B rows 32..63 of 64), dt rows 4..7.
// CHECK-LABEL: func @mamba
// CHECK: sl.weight "l0.in_proj.weight" {checkpoint_shape = array<i64: 264, 64>, ranges = array<i64: 0, 32, 32, 0, 96, 32, 0, 160, 32, 0, 224, 32, 0, 260, 4>} : tensor<132x64xf32>
// CHECK: sl.split %{{.+}} : tensor<?x132xf32> -> tensor<?x32xf32>, tensor<?x96xf32>, tensor<?x4xf32>
// CHECK: sl.weight "l0.conv1d.weight" {checkpoint_shape = array<i64: 192, 1, 4>, ranges = array<i64: 0, 32, 32, 0, 96, 32, 0, 160, 32>} : tensor<96x1x4xf32>
// CHECK: sl.weight "l0.A_log" {checkpoint_shape = array<i64: 8>, ranges = array<i64: 0, 4, 4>} : tensor<4xf32>
// CHECK: sl.weight "l0.norm.weight" {checkpoint_shape = array<i64: 64>, ranges = array<i64: 0, 32, 32>} : tensor<32xf32>
// CHECK: %[[OUT:.+]] = sl.weight "l0.out_proj.weight" {checkpoint_shape = array<i64: 64, 64>, ranges = array<i64: 1, 32, 32>} : tensor<64x32xf32>
// CHECK: %[[PARTIAL:.+]] = sl.linear %{{.+}}, %[[OUT]] : (tensor<?x32xf32>, tensor<64x32xf32>) -> tensor<?x64xf32>
// CHECK-NEXT: %[[SUM:.+]] = sl.all_reduce %[[PARTIAL]] : tensor<?x64xf32>
// CHECK-NEXT: sl.add %{{.+}}, %[[SUM]]
// Rank 3 of 4: heads 6..7, group 3.
// FOUR-LABEL: func @mamba
// FOUR: sl.weight "l0.in_proj.weight" {checkpoint_shape = array<i64: 264, 64>, ranges = array<i64: 0, 48, 16, 0, 112, 16, 0, 176, 16, 0, 240, 16, 0, 262, 2>} : tensor<66x64xf32>
// ONE-LABEL: func @mamba
// ONE-NOT: ranges
// ONE-NOT: sl.all_reduce
func.func @mamba(%h: tensor<?x64xf32>, %s: !mamba) -> (tensor<?x64xf32>, !mamba) {
  %w = sl.weight "l0.in_proj.weight" : tensor<264x64xf32>
  %p = sl.linear %h, %w : (tensor<?x64xf32>, tensor<264x64xf32>) -> tensor<?x264xf32>
  %z, %xbc, %dt = sl.split %p : tensor<?x264xf32> -> tensor<?x64xf32>, tensor<?x192xf32>, tensor<?x8xf32>
  %cw = sl.weight "l0.conv1d.weight" : tensor<192x1x4xf32>
  %cb = sl.weight "l0.conv1d.bias" : tensor<192xf32>
  %c, %s1 = sl.causal_conv1d %xbc, %s, %cw, %cb activation(silu) : (tensor<?x192xf32>, !mamba, tensor<192x1x4xf32>, tensor<192xf32>) -> (tensor<?x192xf32>, !mamba)
  %a = sl.weight "l0.A_log" : tensor<8xf32>
  %d = sl.weight "l0.D" : tensor<8xf32>
  %b = sl.weight "l0.dt_bias" : tensor<8xf32>
  %y, %s2 = sl.ssd_scan %c, %dt, %s1 params(%a, %d, %b) {chunk_size = 32 : i64} : (tensor<?x192xf32>, tensor<?x8xf32>, !mamba, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x64xf32>, !mamba)
  %nw = sl.weight "l0.norm.weight" : tensor<64xf32>
  %n = sl.gated_rms_norm %y, %z, %nw {epsilon = 1.0e-05 : f64, group_size = 16 : i64} : tensor<?x64xf32>, tensor<64xf32>
  %ow = sl.weight "l0.out_proj.weight" : tensor<64x64xf32>
  %o = sl.linear %n, %ow : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %r = sl.add %h, %o : tensor<?x64xf32>
  return %r, %s2 : tensor<?x64xf32>, !mamba
}

// Multi-step attention, 4 query heads, 2 kv heads: rank 1 of 2 has query heads 2..3 (q and q1
// rows 32..63) and kv head 1 (rows 16..31); rank 3 of 4 has query head 3 and kv head 1, which
// rank 2 holds too (replicated).
// CHECK-LABEL: func @multi_step
// CHECK: sl.weight "l1.q1_proj.weight" {checkpoint_shape = array<i64: 64, 64>, ranges = array<i64: 0, 32, 32>} : tensor<32x64xf32>
// CHECK: sl.weight "l1.q_proj.weight" {checkpoint_shape = array<i64: 64, 64>, ranges = array<i64: 0, 32, 32>} : tensor<32x64xf32>
// CHECK: sl.weight "l1.k_proj.weight" {checkpoint_shape = array<i64: 32, 64>, ranges = array<i64: 0, 16, 16>} : tensor<16x64xf32>
// CHECK: sl.weight "l1.v_proj.weight" {checkpoint_shape = array<i64: 32, 64>, ranges = array<i64: 0, 16, 16>} : tensor<16x64xf32>
// CHECK: sl.multi_step_attention {{.+}} num_heads = 2 : i64
// CHECK: sl.weight "l1.o_proj.weight" {checkpoint_shape = array<i64: 64, 64>, ranges = array<i64: 1, 32, 32>} : tensor<64x32xf32>
// CHECK: sl.all_reduce
// FOUR-LABEL: func @multi_step
// FOUR: sl.weight "l1.q1_proj.weight" {checkpoint_shape = array<i64: 64, 64>, ranges = array<i64: 0, 48, 16>} : tensor<16x64xf32>
// FOUR: sl.weight "l1.k_proj.weight" {checkpoint_shape = array<i64: 32, 64>, ranges = array<i64: 0, 16, 16>} : tensor<16x64xf32>
// FOUR: num_heads = 1 : i64
func.func @multi_step(%h: tensor<?x64xf32>, %cache: !kv) -> (tensor<?x64xf32>, !kv) {
  %w1 = sl.weight "l1.q1_proj.weight" : tensor<64x64xf32>
  %q1 = sl.linear %h, %w1 : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %wq = sl.weight "l1.q_proj.weight" : tensor<64x64xf32>
  %q = sl.linear %h, %wq : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %wk = sl.weight "l1.k_proj.weight" : tensor<32x64xf32>
  %k = sl.linear %h, %wk : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %wv = sl.weight "l1.v_proj.weight" : tensor<32x64xf32>
  %v = sl.linear %h, %wv : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  %o, %c1 = sl.multi_step_attention %q1, %q, %k, %v, %cache {config = #msa, num_heads = 4 : i64} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !kv) -> (tensor<?x64xf32>, !kv)
  %wo = sl.weight "l1.o_proj.weight" : tensor<64x64xf32>
  %p = sl.linear %o, %wo : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %r = sl.add %h, %p : tensor<?x64xf32>
  return %r, %c1 : tensor<?x64xf32>, !kv
}

// MoE: the router stays whole; experts keep intermediate rows 16..31 of up and columns of down;
// the shared expert is sliced like an MLP; routed + shared, then one all-reduce.
// CHECK-LABEL: func @moe
// CHECK: sl.weight "l2.gate.weight" : tensor<8x64xf32>
// CHECK: sl.moe_router
// CHECK: sl.weight "l2.experts.{e}.up_proj.weight" {checkpoint_shape = array<i64: 8, 32, 64>, ranges = array<i64: 1, 16, 16>} : tensor<8x16x64xf32>
// CHECK: sl.weight "l2.experts.{e}.down_proj.weight" {checkpoint_shape = array<i64: 8, 64, 32>, ranges = array<i64: 2, 16, 16>} : tensor<8x64x16xf32>
// CHECK: sl.weight "l2.shared.up_proj.weight" {checkpoint_shape = array<i64: 48, 64>, ranges = array<i64: 0, 24, 24>} : tensor<24x64xf32>
// CHECK: sl.weight "l2.shared.down_proj.weight" {checkpoint_shape = array<i64: 64, 48>, ranges = array<i64: 1, 24, 24>} : tensor<64x24xf32>
// CHECK: %[[BOTH:.+]] = sl.add
// CHECK-NEXT: %[[SUM:.+]] = sl.all_reduce %[[BOTH]] : tensor<?x64xf32>
// CHECK-NEXT: sl.add %{{.+}}, %[[SUM]]
// CHECK-NOT: sl.all_reduce
// CHECK: return
func.func @moe(%h: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %g = sl.weight "l2.gate.weight" : tensor<8x64xf32>
  %gb = sl.weight "l2.gate.e_score_correction_bias" : tensor<8xf32>
  %wts, %ids = sl.moe_router %h, %g, %gb {norm_topk_prob, routed_scaling_factor = 2.5 : f64, top_k = 2 : i64} : (tensor<?x64xf32>, tensor<8x64xf32>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  %up = sl.weight "l2.experts.{e}.up_proj.weight" : tensor<8x32x64xf32>
  %down = sl.weight "l2.experts.{e}.down_proj.weight" : tensor<8x64x32xf32>
  %e = sl.moe_experts %h, %wts, %ids, %up, %down activation(relu2) : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x32x64xf32>, tensor<8x64x32xf32>) -> tensor<?x64xf32>
  %su = sl.weight "l2.shared.up_proj.weight" : tensor<48x64xf32>
  %a = sl.linear %h, %su : (tensor<?x64xf32>, tensor<48x64xf32>) -> tensor<?x48xf32>
  %b = sl.activation relu2 %a : tensor<?x48xf32>
  %sd = sl.weight "l2.shared.down_proj.weight" : tensor<64x48xf32>
  %c = sl.linear %b, %sd : (tensor<?x48xf32>, tensor<64x48xf32>) -> tensor<?x64xf32>
  %sum = sl.add %e, %c : tensor<?x64xf32>
  %r = sl.add %h, %sum : tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// Dense MLP: up rows, down columns, all-reduce.
// CHECK-LABEL: func @mlp
// CHECK: sl.weight "l3.up_proj.weight" {checkpoint_shape = array<i64: 128, 64>, ranges = array<i64: 0, 64, 64>} : tensor<64x64xf32>
// CHECK: sl.activation relu2 %{{.+}} : tensor<?x64xf32>
// CHECK: sl.weight "l3.down_proj.weight" {checkpoint_shape = array<i64: 64, 128>, ranges = array<i64: 1, 64, 64>} : tensor<64x64xf32>
// CHECK: sl.all_reduce
// Embedding and LM head stay whole.
// CHECK: sl.weight "lm_head.weight" : tensor<256x64xf32>
func.func @mlp(%h: tensor<?x64xf32>) -> tensor<?x256xf32> {
  %up = sl.weight "l3.up_proj.weight" : tensor<128x64xf32>
  %a = sl.linear %h, %up : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  %b = sl.activation relu2 %a : tensor<?x128xf32>
  %down = sl.weight "l3.down_proj.weight" : tensor<64x128xf32>
  %c = sl.linear %b, %down : (tensor<?x128xf32>, tensor<64x128xf32>) -> tensor<?x64xf32>
  %r = sl.add %h, %c : tensor<?x64xf32>
  %head = sl.weight "lm_head.weight" : tensor<256x64xf32>
  %logits = sl.lm_head %r, %head : (tensor<?x64xf32>, tensor<256x64xf32>) -> tensor<?x256xf32>
  return %logits : tensor<?x256xf32>
}

// One group for all heads: a rank's heads hold part of the gated norm's group, whose sum of
// squares is all-reduced (sl-lower-to-slk): shared_group = [ranks sharing it, group, groups].
// CHECK-LABEL: func @mamba_shared_norm
// CHECK: sl.weight "l4.in_proj.weight" {checkpoint_shape = array<i64: 164, 64>, ranges = array<i64: 0, 32, 32, 0, 96, 32, 0, 128, 16, 0, 144, 16, 0, 162, 2>} : tensor<98x64xf32>
// CHECK: sl.gated_rms_norm {{.+}} {epsilon = 1.000000e-05 : f64, group_size = 32 : i64, shared_group = array<i64: 2, 0, 1>} : tensor<?x32xf32>, tensor<32xf32>
// FOUR-LABEL: func @mamba_shared_norm
// FOUR: sl.gated_rms_norm {{.+}} {epsilon = 1.000000e-05 : f64, group_size = 16 : i64, shared_group = array<i64: 4, 0, 1>} : tensor<?x16xf32>, tensor<16xf32>
!mamba1 = !sl.mamba_state<heads = 4, head_dim = 16, groups = 1, state_size = 16, conv_kernel = 4, conv_type = f32, ssm_type = f32>
func.func @mamba_shared_norm(%h: tensor<?x64xf32>, %s: !mamba1) -> (tensor<?x64xf32>, !mamba1) {
  %w = sl.weight "l4.in_proj.weight" : tensor<164x64xf32>
  %p = sl.linear %h, %w : (tensor<?x64xf32>, tensor<164x64xf32>) -> tensor<?x164xf32>
  %z, %xbc, %dt = sl.split %p : tensor<?x164xf32> -> tensor<?x64xf32>, tensor<?x96xf32>, tensor<?x4xf32>
  %cw = sl.weight "l4.conv1d.weight" : tensor<96x1x4xf32>
  %c, %s1 = sl.causal_conv1d %xbc, %s, %cw activation(silu) : (tensor<?x96xf32>, !mamba1, tensor<96x1x4xf32>) -> (tensor<?x96xf32>, !mamba1)
  %a = sl.weight "l4.A_log" : tensor<4xf32>
  %d = sl.weight "l4.D" : tensor<4xf32>
  %b = sl.weight "l4.dt_bias" : tensor<4xf32>
  %y, %s2 = sl.ssd_scan %c, %dt, %s1 params(%a, %d, %b) {chunk_size = 32 : i64} : (tensor<?x96xf32>, tensor<?x4xf32>, !mamba1, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x64xf32>, !mamba1)
  %nw = sl.weight "l4.norm.weight" : tensor<64xf32>
  %n = sl.gated_rms_norm %y, %z, %nw {epsilon = 1.0e-05 : f64, group_size = 64 : i64} : tensor<?x64xf32>, tensor<64xf32>
  %ow = sl.weight "l4.out_proj.weight" : tensor<64x64xf32>
  %o = sl.linear %n, %ow : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  return %o, %s2 : tensor<?x64xf32>, !mamba1
}
