// Expert parallelism (docs/parallel.md): M expert groups of N/M ranks. Rank r of group
// g = r / (N/M) binds the routed experts [g·E/M, (g+1)·E/M) (dimension 0 of up and down) and,
// with N/M > 1, its share r % (N/M) of their intermediate dimension; its sl.moe_experts gets
// expert_offset = g·E/M. The router stays whole, the shared expert is sliced over all N ranks.
// RUN: slc-opt %s --sl-shard-graph="rank=5 world-size=8 expert-parallel=4" | FileCheck %s
// RUN: slc-opt %s --sl-shard-graph="rank=3 world-size=4 expert-parallel=4" | FileCheck %s --check-prefix=PURE
// RUN: slc-opt %s --sl-shard-graph="rank=0 world-size=2 expert-parallel=2" | FileCheck %s --check-prefix=FIRST
// RUN: slc-opt %s --sl-shard-graph="rank=1 world-size=2 expert-parallel=1" | FileCheck %s --check-prefix=TP
// RUN: not slc-opt %s --sl-shard-graph="rank=0 world-size=4 expert-parallel=8" 2>&1 | FileCheck %s --check-prefix=DIVIDES

// Rank 5 of 8 in 4 groups: group 2 holds experts 4..5, rank 5 the second half (16..31) of
// their intermediate dimension; shared expert rows 30..35 of 48.
// CHECK-LABEL: func @moe
// CHECK: sl.weight "l2.gate.weight" : tensor<8x64xf32>
// CHECK: sl.moe_router {{.+}} -> (tensor<?x2xf32>, tensor<?x2xi32>)
// CHECK: sl.weight "l2.experts.{e}.up_proj.weight" {checkpoint_shape = array<i64: 8, 32, 64>, ranges = array<i64: 0, 4, 2, 1, 16, 16>} : tensor<2x16x64xf32>
// CHECK: sl.weight "l2.experts.{e}.down_proj.weight" {checkpoint_shape = array<i64: 8, 64, 32>, ranges = array<i64: 0, 4, 2, 2, 16, 16>} : tensor<2x64x16xf32>
// CHECK: sl.moe_experts {{.+}} activation(relu2) {expert_offset = 4 : i64} : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<2x16x64xf32>, tensor<2x64x16xf32>) -> tensor<?x64xf32>
// CHECK: sl.weight "l2.shared.up_proj.weight" {checkpoint_shape = array<i64: 48, 64>, ranges = array<i64: 0, 30, 6>} : tensor<6x64xf32>
// CHECK: sl.weight "l2.shared.down_proj.weight" {checkpoint_shape = array<i64: 64, 48>, ranges = array<i64: 1, 30, 6>} : tensor<64x6xf32>
// CHECK: %[[BOTH:.+]] = sl.add
// CHECK-NEXT: %[[SUM:.+]] = sl.all_reduce %[[BOTH]] : tensor<?x64xf32>
// CHECK-NEXT: sl.add %{{.+}}, %[[SUM]]
// CHECK-NOT: sl.all_reduce
// CHECK: return

// Rank 3 of 4 groups of one rank: experts 6..7 whole (no intermediate range).
// PURE: sl.weight "l2.experts.{e}.up_proj.weight" {checkpoint_shape = array<i64: 8, 32, 64>, ranges = array<i64: 0, 6, 2>} : tensor<2x32x64xf32>
// PURE: sl.weight "l2.experts.{e}.down_proj.weight" {checkpoint_shape = array<i64: 8, 64, 32>, ranges = array<i64: 0, 6, 2>} : tensor<2x64x32xf32>
// PURE: sl.moe_experts {{.+}} {expert_offset = 6 : i64}
// PURE: sl.all_reduce

// The first group's offset is the default 0 (not printed).
// FIRST: sl.weight "l2.experts.{e}.up_proj.weight" {checkpoint_shape = array<i64: 8, 32, 64>, ranges = array<i64: 0, 0, 4>} : tensor<4x32x64xf32>
// FIRST-NOT: expert_offset
// FIRST: sl.all_reduce

// One expert group is tensor parallelism: every expert, an intermediate slice, no offset.
// TP: sl.weight "l2.experts.{e}.up_proj.weight" {checkpoint_shape = array<i64: 8, 32, 64>, ranges = array<i64: 1, 16, 16>} : tensor<8x16x64xf32>
// TP-NOT: expert_offset

// DIVIDES: error: sl-shard-graph: expert-parallel 8 does not divide world size 4
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
