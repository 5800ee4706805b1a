// RUN: slc-opt %s -split-input-file -verify-diagnostics --sl-shard-graph="rank=0 world-size=8 expert-parallel=4"

// Expert groups that do not split the layer: the error names the layer, what does not divide
// and the expert-parallel sizes that work with this world size.
func.func @experts_by_groups(%h: tensor<?x64xf32>, %wts: tensor<?x2xf32>, %ids: tensor<?x2xi32>) -> tensor<?x64xf32> {
  %up = sl.weight "l1.mixer.experts.{e}.up_proj.weight" : tensor<6x32x64xf32>
  %down = sl.weight "l1.mixer.experts.{e}.down_proj.weight" : tensor<6x64x32xf32>
  // expected-error @+1 {{sl-shard-graph: layer l1.mixer cannot be split over --expert-parallel=4 with --tensor-parallel=8: the routed experts (6) is not divisible by 4; expert-parallel sizes that work for this layer: 1, 2}}
  %e = sl.moe_experts %h, %wts, %ids, %up, %down activation(relu2) : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<6x32x64xf32>, tensor<6x64x32xf32>) -> tensor<?x64xf32>
  return %e : tensor<?x64xf32>
}

// -----

// Groups of 2 ranks share each expert's intermediate dimension of 5: only groups of one rank work.
func.func @intermediate_by_group(%h: tensor<?x64xf32>, %wts: tensor<?x2xf32>, %ids: tensor<?x2xi32>) -> tensor<?x64xf32> {
  %up = sl.weight "l3.mixer.experts.{e}.up_proj.weight" : tensor<8x5x64xf32>
  %down = sl.weight "l3.mixer.experts.{e}.down_proj.weight" : tensor<8x64x5xf32>
  // expected-error @+1 {{sl-shard-graph: layer l3.mixer cannot be split over --expert-parallel=4 with --tensor-parallel=8: the routed experts' intermediate size (5) is not divisible by 2 (the ranks of an expert group); expert-parallel sizes that work for this layer: 8}}
  %e = sl.moe_experts %h, %wts, %ids, %up, %down activation(relu2) : (tensor<?x64xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x5x64xf32>, tensor<8x64x5xf32>) -> tensor<?x64xf32>
  return %e : tensor<?x64xf32>
}
