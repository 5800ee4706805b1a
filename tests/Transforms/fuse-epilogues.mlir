// RUN: slc-opt %s --sl-fuse-epilogues | FileCheck %s

// CHECK-LABEL: func @mlp_block
// CHECK-SAME: (%[[H0:[^:]+]]: tensor<?x64xbf16>, %[[X:[^:]+]]: tensor<?x64xbf16>, %[[W1:[^:]+]]: tensor<128x64xbf16>, %[[W2:[^:]+]]: tensor<64x128xbf16>)
// CHECK-NEXT: %[[A:.+]] = sl.linear %[[X]], %[[W1]] activation(relu2)
// CHECK-NEXT: %[[H1:.+]] = sl.linear %[[A]], %[[W2]] residual(%[[H0]])
// CHECK-NEXT: return %[[H1]]
func.func @mlp_block(%h0: tensor<?x64xbf16>, %x: tensor<?x64xbf16>, %w1: tensor<128x64xbf16>,
                     %w2: tensor<64x128xbf16>) -> tensor<?x64xbf16> {
  %a = sl.linear %x, %w1 : (tensor<?x64xbf16>, tensor<128x64xbf16>) -> tensor<?x128xbf16>
  %b = sl.activation relu2 %a : tensor<?x128xbf16>
  %c = sl.linear %b, %w2 : (tensor<?x128xbf16>, tensor<64x128xbf16>) -> tensor<?x64xbf16>
  %h1 = sl.add %h0, %c : tensor<?x64xbf16>
  return %h1 : tensor<?x64xbf16>
}

// A linear with a second use keeps its output: nothing to fold.
// CHECK-LABEL: func @shared_result
// CHECK: sl.activation
// CHECK: sl.add
func.func @shared_result(%x: tensor<?x64xbf16>, %w: tensor<64x64xbf16>)
    -> (tensor<?x64xbf16>, tensor<?x64xbf16>) {
  %a = sl.linear %x, %w : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %b = sl.activation silu %a : tensor<?x64xbf16>
  %c = sl.add %a, %x : tensor<?x64xbf16>
  return %b, %c : tensor<?x64xbf16>, tensor<?x64xbf16>
}

// The MoE layer: routed experts + shared expert + residual in one op; the shared expert's down
// projection keeps no residual of its own.
// CHECK-LABEL: func @moe_block
// CHECK-SAME: (%[[H:[^:]+]]: tensor<?x64xbf16>
// CHECK: %[[SUP:.+]] = sl.linear %{{.+}}, %{{.+}} activation(relu2)
// CHECK: %[[SH:.+]] = sl.linear %[[SUP]], %{{[^ ]+}} :
// CHECK: %[[Y:.+]] = sl.moe_experts {{.*}} shared(%[[SH]]) residual(%[[H]]) activation(relu2)
// CHECK-NOT: sl.add
// CHECK: return %[[Y]]
func.func @moe_block(%h: tensor<?x64xbf16>, %x: tensor<?x64xbf16>, %wts: tensor<?x2xf32>,
    %ids: tensor<?x2xi32>, %up: tensor<8x32x64xbf16>, %down: tensor<8x64x32xbf16>,
    %sup_w: tensor<96x64xbf16>, %sdown_w: tensor<64x96xbf16>) -> tensor<?x64xbf16> {
  %routed = sl.moe_experts %x, %wts, %ids, %up, %down activation(relu2)
      : (tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x32x64xbf16>,
         tensor<8x64x32xbf16>) -> tensor<?x64xbf16>
  %sup = sl.linear %x, %sup_w : (tensor<?x64xbf16>, tensor<96x64xbf16>) -> tensor<?x96xbf16>
  %sact = sl.activation relu2 %sup : tensor<?x96xbf16>
  %shared = sl.linear %sact, %sdown_w : (tensor<?x96xbf16>, tensor<64x96xbf16>) -> tensor<?x64xbf16>
  %sum = sl.add %routed, %shared : tensor<?x64xbf16>
  %out = sl.add %h, %sum : tensor<?x64xbf16>
  return %out : tensor<?x64xbf16>
}

// An RMSNorm whose every user is a projection's input folds into the projections: they read the
// residual stream and normalise it themselves.
// CHECK-LABEL: func @norm_into_projections
// CHECK-SAME: (%[[H:[^:]+]]: tensor<?x64xbf16>, %[[NW:[^:]+]]: tensor<64xbf16>, %[[WQ:[^:]+]]: tensor<64x64xbf16>, %[[WK:[^:]+]]: tensor<32x64xbf16>)
// CHECK-NOT: sl.rms_norm
// CHECK: sl.linear %[[H]], %[[WQ]] norm(%[[NW]]) {norm_epsilon = 1.000000e-05 : f64}
// CHECK: sl.linear %[[H]], %[[WK]] norm(%[[NW]]) {norm_epsilon = 1.000000e-05 : f64}
func.func @norm_into_projections(%h: tensor<?x64xbf16>, %nw: tensor<64xbf16>,
    %wq: tensor<64x64xbf16>, %wk: tensor<32x64xbf16>) -> (tensor<?x64xbf16>, tensor<?x32xbf16>) {
  %x = sl.rms_norm %h, %nw {epsilon = 1.0e-05 : f64} : tensor<?x64xbf16>, tensor<64xbf16>
  %q = sl.linear %x, %wq : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %k = sl.linear %x, %wk : (tensor<?x64xbf16>, tensor<32x64xbf16>) -> tensor<?x32xbf16>
  return %q, %k : tensor<?x64xbf16>, tensor<?x32xbf16>
}

// A norm that also feeds the MoE router stays: the router needs the normalised rows anyway.
// CHECK-LABEL: func @norm_kept
// CHECK: sl.rms_norm
// CHECK: sl.linear %{{[^,]+}}, %{{[^ ]+}} :
func.func @norm_kept(%h: tensor<?x64xbf16>, %nw: tensor<64xbf16>, %w: tensor<64x64xbf16>,
    %gate: tensor<8x64xbf16>, %bias: tensor<8xf32>) -> (tensor<?x64xbf16>, tensor<?x2xf32>) {
  %x = sl.rms_norm %h, %nw {epsilon = 1.0e-05 : f64} : tensor<?x64xbf16>, tensor<64xbf16>
  %y = sl.linear %x, %w : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  %wts, %ids = sl.moe_router %x, %gate, %bias {top_k = 2 : i64, routed_scaling_factor = 1.0 : f64}
      : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return %y, %wts : tensor<?x64xbf16>, tensor<?x2xf32>
}
