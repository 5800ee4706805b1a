// RUN: slc-opt %s -split-input-file -verify-diagnostics --sl-shard-graph="rank=0 world-size=4"

// Shapes that do not split over 4 ranks: each error names the layer, the dimension, what it got
// and the world sizes that work for the layer.
!kv = !sl.kv_cache<kv_heads = 3, head_dim = 16, element_type = f32>
func.func @kv_heads(%h: tensor<?x64xf32>, %cache: !kv) -> (tensor<?x64xf32>, !kv) {
  %wq = sl.weight "q" : tensor<192x64xf32>
  %q = sl.linear %h, %wq : (tensor<?x64xf32>, tensor<192x64xf32>) -> tensor<?x192xf32>
  %wk = sl.weight "k" : tensor<48x64xf32>
  %k = sl.linear %h, %wk : (tensor<?x64xf32>, tensor<48x64xf32>) -> tensor<?x48xf32>
  %v = sl.linear %h, %wk : (tensor<?x64xf32>, tensor<48x64xf32>) -> tensor<?x48xf32>
  // expected-error @+1 {{layer q cannot be split over --tensor-parallel=4: kv heads (3) and the world size 4 do not divide one another; world sizes that work for this layer: 1}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %cache {num_heads = 12 : i64} : (tensor<?x192xf32>, tensor<?x48xf32>, tensor<?x48xf32>, !kv) -> (tensor<?x192xf32>, !kv)
  %wo = sl.weight "o" : tensor<64x192xf32>
  %p = sl.linear %o, %wo : (tensor<?x192xf32>, tensor<64x192xf32>) -> tensor<?x64xf32>
  return %p, %c1 : tensor<?x64xf32>, !kv
}

// -----

func.func @moe_intermediate(%h: tensor<?x64xf32>, %wts: tensor<?x2xf32>, %ids: tensor<?x2xi32>) -> tensor<?x64xf32> {
  %up = sl.weight "up.{e}" : tensor<8x6x64xf32>
  %down = sl.weight "down.{e}" : tensor<8x64x6xf32>
  // expected-error @+1 {{the routed experts' intermediate size (6) is not divisible by 4; world sizes that work for this layer: 1, 2}}
  %e = sl.moe_experts %h, %wts, %ids, %up, %down activation(relu2) : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x6x64xf32>, tensor<8x64x6xf32>) -> tensor<?x64xf32>
  return %e : tensor<?x64xf32>
}

// -----

// Norm groups of 16 channels and ranks of 12 channels: neither holds the other.
!mamba = !sl.mamba_state<heads = 4, head_dim = 12, groups = 1, state_size = 16, conv_kernel = 4, conv_type = f32, ssm_type = f32>
func.func @mamba_norm_group(%h: tensor<?x64xf32>, %s: !mamba) -> (tensor<?x64xf32>, !mamba) {
  %w = sl.weight "in_proj" : tensor<132x64xf32>
  %p = sl.linear %h, %w : (tensor<?x64xf32>, tensor<132x64xf32>) -> tensor<?x132xf32>
  %z, %xbc, %dt = sl.split %p : tensor<?x132xf32> -> tensor<?x48xf32>, tensor<?x80xf32>, tensor<?x4xf32>
  %cw = sl.weight "conv" : tensor<80x1x4xf32>
  %c, %s1 = sl.causal_conv1d %xbc, %s, %cw activation(silu) : (tensor<?x80xf32>, !mamba, tensor<80x1x4xf32>) -> (tensor<?x80xf32>, !mamba)
  %a = sl.weight "a" : tensor<4xf32>
  // expected-error @+1 {{layer a cannot be split over --tensor-parallel=4: a rank's 12 channels and the gated norm's groups of 16 do not divide one another; world sizes that work for this layer: 1}}
  %y, %s2 = sl.ssd_scan %c, %dt, %s1 params(%a, %a, %a) {chunk_size = 32 : i64} : (tensor<?x80xf32>, tensor<?x4xf32>, !mamba, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x48xf32>, !mamba)
  %nw = sl.weight "norm" : tensor<48xf32>
  %n = sl.gated_rms_norm %y, %z, %nw {epsilon = 1.0e-05 : f64, group_size = 16 : i64} : tensor<?x48xf32>, tensor<48xf32>
  %ow = sl.weight "out" : tensor<64x48xf32>
  %o = sl.linear %n, %ow : (tensor<?x48xf32>, tensor<64x48xf32>) -> tensor<?x64xf32>
  return %o, %s2 : tensor<?x64xf32>, !mamba
}
