// sl-build-tuning-sweep: one function per (tile problem, candidate); the same bucket in two
// layers is one problem; a MoE op brings its router; state operands come from the model's state
// arguments (all of them, in order); candidates sl-check-kernel-shapes refuses are dropped.
// RUN: slc-opt %s --sl-build-tuning-sweep | FileCheck %s
// RUN: slc-opt %s --sl-build-tuning-sweep=target=sm_100a | FileCheck %s --check-prefix=PORTABLE

// The in_proj (the heuristic's tiles first, then the candidates; layers 0 and 2 share the bucket).
// CHECK-LABEL: func.func @sweep_0_0(%arg0: tensor<?x256xbf16>, %arg1: !mamba_state, %arg2: !kv_cache) -> (tensor<?x1288xbf16>, !mamba_state, !kv_cache)
// CHECK-SAME: sl.max_tokens = 4096 : i64, sl.phase = "sweep"
// CHECK-SAME: sl.tuning_case = {bucket = {dtype = "bf16", k = "256", m = "4096", n = "1288"}, bytes = 6.594560e+05 : f64, flops = {{.*}}, heuristic = true, kernel = "gemm_wgmma", params = {bm = 128 : i64, bn = 128 : i64, stages = 6 : i64}}
// CHECK-NEXT: %[[W:.*]] = sl.weight "layers.0.in_proj.weight" : tensor<1288x256xbf16>
// CHECK-NEXT: %[[Y:.*]] = sl.linear %arg0, %[[W]] {sl.kernel = "gemm_wgmma", sl.tile_source = "heuristic", sl.tiles = {bm = 128 : i64, bn = 128 : i64, stages = 6 : i64}}
// CHECK-NEXT: return %[[Y]], %arg1, %arg2
// CHECK: func.func @sweep_0_1(
// CHECK-SAME: heuristic = false, kernel = "gemm_wgmma", params = {bm = 64 : i64, bn = 128 : i64, stages = 3 : i64}
// CHECK: sl.tile_source = "sweep", sl.tiles = {bm = 64 : i64, bn = 128 : i64, stages = 3 : i64}
// 128 x 256 tiles in 5 or 6 slots need more than 227 KiB of shared memory: not candidates.
// CHECK-NOT: params = {bm = 128 : i64, bn = 256 : i64, stages = 5 : i64}
// CHECK: func.func @sweep_0_13(
// CHECK-SAME: params = {bm = 128 : i64, bn = 256 : i64, stages = 4 : i64}
// CHECK-NOT: func.func @sweep_0_14(

// The scan: its state is the model's Mamba state argument (through the conv1d), updated.
// CHECK-LABEL: func.func @sweep_1_0(%arg0: tensor<?x768xbf16>, %arg1: tensor<?x8xbf16>, %arg2: !mamba_state, %arg3: !kv_cache)
// CHECK-SAME: heuristic = true, kernel = "ssd_scan", params = {chunk = 128 : i64}
// CHECK: %[[R:.*]], %[[S:.*]] = sl.ssd_scan %arg0, %arg1, %arg2
// CHECK-NEXT: return %[[R]], %[[S]], %arg3
// CHECK: func.func @sweep_1_1(
// CHECK-SAME: params = {chunk = 32 : i64}
// CHECK: func.func @sweep_1_2(
// CHECK-SAME: params = {chunk = 64 : i64}
// CHECK-NOT: func.func @sweep_1_3(

// The experts run on their router's choices: both ops are in the function.
// CHECK-LABEL: func.func @sweep_3_0(%arg0: tensor<?x256xbf16>, %arg1: !mamba_state, %arg2: !kv_cache)
// CHECK-SAME: flops = {{.*}}, heuristic = true, kernel = "moe_grouped"
// CHECK: %[[RW:.*]], %[[RI:.*]] = sl.moe_router %arg0
// CHECK: sl.moe_experts %arg0, %[[RW]], %[[RI]]
// CHECK-SAME: sl.tile_source = "heuristic"

// No second in_proj problem, and the model function is gone.
// CHECK-NOT: k = "256", m = "4096", n = "1288"
// CHECK-NOT: func.func @prefill

// Elsewhere the portable kernels' candidates: mma.sync tiles.
// PORTABLE-LABEL: func.func @sweep_0_0(
// PORTABLE-SAME: heuristic = true, kernel = "gemm", params = {bk = 32 : i64, bm = 128 : i64, bn = 128 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 4 : i64}
// PORTABLE-NOT: gemm_wgmma

!ms = !sl.mamba_state<heads = 8, head_dim = 64, groups = 1, state_size = 128, conv_kernel = 4, conv_type = bf16, ssm_type = f32>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 128, element_type = bf16>
func.func @prefill(%x: tensor<?x256xbf16>, %s: !ms, %c: !kv) -> (tensor<?x256xbf16>, !ms, !kv)
    attributes {sl.max_tokens = 4096 : i64, sl.phase = "prefill"} {
  %w0 = sl.weight "layers.0.in_proj.weight" : tensor<1288x256xbf16>
  %h = sl.linear %x, %w0 : (tensor<?x256xbf16>, tensor<1288x256xbf16>) -> tensor<?x1288xbf16>
  %z, %xbc, %dt = sl.split %h : tensor<?x1288xbf16> -> tensor<?x512xbf16>, tensor<?x768xbf16>, tensor<?x8xbf16>
  %cw = sl.weight "layers.0.conv1d.weight" : tensor<768x1x4xbf16>
  %cb = sl.weight "layers.0.conv1d.bias" : tensor<768xbf16>
  %xc, %s1 = sl.causal_conv1d %xbc, %s, %cw, %cb activation(silu) : (tensor<?x768xbf16>, !ms, tensor<768x1x4xbf16>, tensor<768xbf16>) -> (tensor<?x768xbf16>, !ms)
  %a = sl.weight "layers.0.A_log" : tensor<8xf32>
  %y, %s2 = sl.ssd_scan %xc, %dt, %s1 params(%a, %a, %a) {chunk_size = 256 : i64}
      : (tensor<?x768xbf16>, tensor<?x8xbf16>, !ms, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x512xbf16>, !ms)
  %wo = sl.weight "layers.0.out_proj.weight" : tensor<256x512xbf16>
  %o = sl.linear %y, %wo : (tensor<?x512xbf16>, tensor<256x512xbf16>) -> tensor<?x256xbf16>
  %gate = sl.weight "layers.1.gate.weight" : tensor<16x256xbf16>
  %bias = sl.weight "layers.1.gate.e_score_correction_bias" : tensor<16xf32>
  %rw, %ri = sl.moe_router %o, %gate, %bias {norm_topk_prob, routed_scaling_factor = 2.5 : f64, top_k = 4 : i64}
      : (tensor<?x256xbf16>, tensor<16x256xbf16>, tensor<16xf32>) -> (tensor<?x4xf32>, tensor<?x4xi32>)
  %up = sl.weight "layers.1.experts.{e}.up_proj.weight" : tensor<16x128x256xbf16>
  %down = sl.weight "layers.1.experts.{e}.down_proj.weight" : tensor<16x256x128xbf16>
  %e = sl.moe_experts %o, %rw, %ri, %up, %down activation(relu2)
      : (tensor<?x256xbf16>, tensor<?x4xf32>, tensor<?x4xi32>, tensor<16x128x256xbf16>, tensor<16x256x128xbf16>) -> tensor<?x256xbf16>
  %w2 = sl.weight "layers.2.in_proj.weight" : tensor<1288x256xbf16>
  %h2 = sl.linear %e, %w2 : (tensor<?x256xbf16>, tensor<1288x256xbf16>) -> tensor<?x1288xbf16>
  %r:3 = sl.split %h2 : tensor<?x1288xbf16> -> tensor<?x256xbf16>, tensor<?x1024xbf16>, tensor<?x8xbf16>
  return %r#0, %s2, %c : tensor<?x256xbf16>, !ms, !kv
}
