// RUN: slc-opt %s -split-input-file -verify-diagnostics

// Negative tests of the sl dialect: one split-input-file case per verifier rule, each checking the
// diagnostic it produces. Covered: the KVCacheType and MambaStateType verifiers, the #sl.msa
// verifier and its parser (key order), a few ODS-generated constraints, and every check of the
// verify() method of each op in dialects/SL/SLOps.cpp (one case per distinct check and operand).
// Cases are minimal: a function whose arguments have the needed types and the one failing op.

//===----------------------------------------------------------------------===//
// !sl.kv_cache
//===----------------------------------------------------------------------===//

// expected-error @+1 {{kv_cache expects kv_heads > 0, got 0}}
func.func @kv_cache_kv_heads(%c: !sl.kv_cache<kv_heads = 0, head_dim = 4, element_type = f16>) {
  return
}

// -----

// expected-error @+1 {{kv_cache expects head_dim > 0, got -1}}
func.func @kv_cache_head_dim(%c: !sl.kv_cache<kv_heads = 2, head_dim = -1, element_type = f16>) {
  return
}

// -----

// expected-error @+1 {{kv_cache expects a floating-point element_type, got 'i32'}}
func.func @kv_cache_element_type(%c: !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = i32>) {
  return
}

// -----

//===----------------------------------------------------------------------===//
// !sl.mamba_state
//===----------------------------------------------------------------------===//

// expected-error @+2 {{mamba_state expects heads, head_dim, groups and state_size > 0, got 2, 2, 1, 0}}
func.func @mamba_state_sizes(
    %s: !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 0, conv_kernel = 4,
                        conv_type = f16, ssm_type = f32>) {
  return
}

// -----

// expected-error @+2 {{mamba_state expects heads (3) to be a multiple of groups (2)}}
func.func @mamba_state_groups(
    %s: !sl.mamba_state<heads = 3, head_dim = 2, groups = 2, state_size = 2, conv_kernel = 4,
                        conv_type = f16, ssm_type = f32>) {
  return
}

// -----

// expected-error @+2 {{mamba_state expects conv_kernel >= 1, got 0}}
func.func @mamba_state_conv_kernel(
    %s: !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2, conv_kernel = 0,
                        conv_type = f16, ssm_type = f32>) {
  return
}

// -----

// expected-error @+2 {{mamba_state expects floating-point conv_type and ssm_type, got 'i8' and 'f32'}}
func.func @mamba_state_conv_type(
    %s: !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2, conv_kernel = 4,
                        conv_type = i8, ssm_type = f32>) {
  return
}

// -----

// expected-error @+2 {{mamba_state expects floating-point conv_type and ssm_type, got 'f16' and 'i32'}}
func.func @mamba_state_ssm_type(
    %s: !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2, conv_kernel = 4,
                        conv_type = f16, ssm_type = i32>) {
  return
}

// -----

//===----------------------------------------------------------------------===//
// #sl.msa
//===----------------------------------------------------------------------===//

// expected-error @+1 {{msa search_power must be in (0, 1) (exclusive), got 0}}
#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.0, span_power = 0.5>

// -----

// expected-error @+1 {{msa search_power must be in (0, 1) (exclusive), got 1}}
#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 1.0, span_power = 0.5>

// -----

// expected-error @+1 {{msa span_power must be in (0, 1) (exclusive), got 1.5}}
#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 1.5>

// -----

// expected-error @+1 {{msa num_spans must be in [1, 8] (the routing kernels keep the top-k in registers), got 0}}
#msa = #sl.msa<sw_index = 3, num_spans = 0,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>

// -----

// expected-error @+1 {{msa num_spans must be in [1, 8] (the routing kernels keep the top-k in registers), got 9}}
#msa = #sl.msa<sw_index = 3, num_spans = 9,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>

// -----

// expected-error @+1 {{msa backward_factor must be a finite number >= 0, got -1}}
#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = -1.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>

// -----

// expected-error @+1 {{msa forward_factor must be a finite number >= 0, got -0.5}}
#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = -0.5, search_power = 0.5, span_power = 0.5>

// -----

// expected-error @+1 {{msa backward_factor must be a finite number >= 0, got inf}}
#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 1.0e400,
               forward_factor = 1.0, search_power = 0.5, span_power = 0.5>

// -----

// expected-error @+1 {{msa sw_index must be >= 0, got -1}}
#msa = #sl.msa<sw_index = -1, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>

// -----

// expected-error @+1 {{msa sw_index gives an empty sliding window: floor((sw_index + 1)^(1 / search_power)) - 1 = 0 with sw_index = 0, search_power = 0.5}}
#msa = #sl.msa<sw_index = 0, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>

// -----

// A misspelt key.
// expected-error @+1 {{#sl.msa expects all of sw_index, num_spans, backward_factor, forward_factor, search_power, span_power, in this order; expected 'backward_factor = <value>' here}}
#msa = #sl.msa<sw_index = 3, num_spans = 2, backwards_factor = 3.0,
               forward_factor = 1.0, search_power = 0.5, span_power = 0.5>

// -----

// Keys out of order.
// expected-error @+1 {{expected 'sw_index = <value>' here}}
#msa = #sl.msa<num_spans = 2, sw_index = 3,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>

// -----

// A missing key.
// expected-error @+1 {{expected 'forward_factor = <value>' here}}
#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, search_power = 0.5,
               span_power = 0.5>

// -----

// A missing last key.
// expected-error @+2 {{expected 'span_power = <value>' here}}
#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, forward_factor = 1.0,
               search_power = 0.5>

// -----

//===----------------------------------------------------------------------===//
// ODS-generated constraints
//===----------------------------------------------------------------------===//

func.func @ods_float_tensor(%x: tensor<?x4xi32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values, but got 'tensor<?x4xi32>'}}
  %y = sl.linear %x, %w : (tensor<?x4xi32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @ods_int_tensor(%tokens: tensor<?xf32>, %table: tensor<16x8xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values, but got 'tensor<?xf32>'}}
  %h = sl.embedding %tokens, %table : (tensor<?xf32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @ods_add_same_type(%a: tensor<?x8xf32>, %b: tensor<?x8xf16>) {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %r = "sl.add"(%a, %b) : (tensor<?x8xf32>, tensor<?x8xf16>) -> tensor<?x8xf32>
  return
}

// -----

func.func @ods_rms_norm_all_types_match(%x: tensor<?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{failed to verify that all of {x, result} have same type}}
  %y = "sl.rms_norm"(%x, %w) {epsilon = 1.0e-05 : f64}
      : (tensor<?x8xf32>, tensor<8xf32>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @ods_missing_attribute(%x: tensor<?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{requires attribute 'epsilon'}}
  %y = sl.rms_norm %x, %w : tensor<?x8xf32>, tensor<8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.weight
//===----------------------------------------------------------------------===//

func.func @weight_empty_name() {
  // expected-error @+1 {{expects a non-empty checkpoint tensor name}}
  %w = sl.weight "" : tensor<4xf32>
  return
}

// -----

func.func @weight_dynamic_shape() {
  // expected-error @+1 {{expects a static shape for weight 'w', got 'tensor<?x4xf32>'}}
  %w = sl.weight "w" : tensor<?x4xf32>
  return
}

// -----

func.func @weight_two_expert_placeholders() {
  // expected-error @+1 {{expects at most one '{e}' in weight name 'experts.{e}.up.{e}'}}
  %w = sl.weight "experts.{e}.up.{e}" : tensor<4x8x8xf32>
  return
}

// -----

func.func @weight_expert_rank() {
  // expected-error @+1 {{expects a per-expert weight ('{e}' in its name) to have rank >= 2 (experts first), got 'tensor<4xf32>'}}
  %w = sl.weight "experts.{e}.bias" : tensor<4xf32>
  return
}

// -----

func.func @weight_ranges_without_shape() {
  // expected-error @+1 {{expects 'ranges' and 'checkpoint_shape' together on weight 'w'}}
  %w = sl.weight "w" {ranges = array<i64: 0, 0, 4>} : tensor<4x8xf32>
  return
}

// -----

func.func @weight_ranges_not_triples() {
  // expected-error @+1 {{expects ranges as (dim, offset, size) triples, got 2 integers}}
  %w = sl.weight "w" {checkpoint_shape = array<i64: 8, 8>, ranges = array<i64: 0, 0>} : tensor<4x8xf32>
  return
}

// -----

func.func @weight_ranges_two_dims() {
  // expected-error @+1 {{expects dimension 1 of the result to be 2 (the ranges of checkpoint_shape), got 'tensor<2x8xf32>'}}
  %w = sl.weight "w" {checkpoint_shape = array<i64: 8, 8>, ranges = array<i64: 0, 0, 2, 1, 0, 2>} : tensor<2x8xf32>
  return
}

// -----

func.func @weight_ranges_descending_dims() {
  // expected-error @+1 {{expects the ranges grouped by dimension in ascending order, got dimension 0 after 1}}
  %w = sl.weight "w" {checkpoint_shape = array<i64: 8, 8>, ranges = array<i64: 1, 0, 2, 0, 0, 2>} : tensor<2x2xf32>
  return
}

// -----

func.func @weight_range_outside() {
  // expected-error @+1 {{range [6, 10) is outside dimension 0 (8) of weight 'w'}}
  %w = sl.weight "w" {checkpoint_shape = array<i64: 8, 8>, ranges = array<i64: 0, 6, 4>} : tensor<4x8xf32>
  return
}

// -----

func.func @weight_ranges_wrong_result() {
  // expected-error @+1 {{expects dimension 0 of the result to be 6 (the ranges of checkpoint_shape), got 'tensor<4x8xf32>'}}
  %w = sl.weight "w" {checkpoint_shape = array<i64: 8, 8>, ranges = array<i64: 0, 0, 2, 0, 4, 4>} : tensor<4x8xf32>
  return
}

// -----

func.func @weight_ranges_rank(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{expects checkpoint_shape of rank 2, got 1 dimensions}}
  %w = sl.weight "w" {checkpoint_shape = array<i64: 8>, ranges = array<i64: 0, 0, 4>} : tensor<4x8xf32>
  return
}

// -----

func.func @gated_norm_shared_group(%y: tensor<?x32xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{expects shared_group = [ranks > 1, index < count, count]}}
  %n = sl.gated_rms_norm %y, %y, %w {epsilon = 1.0e-05 : f64, group_size = 32 : i64, shared_group = array<i64: 2, 2, 2>} : tensor<?x32xf32>, tensor<32xf32>
  return
}

// -----

func.func @gated_norm_shared_group_channels(%y: tensor<?x32xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{expects y to hold the one shared group's 16 channels, got 32}}
  %n = sl.gated_rms_norm %y, %y, %w {epsilon = 1.0e-05 : f64, group_size = 16 : i64, shared_group = array<i64: 2, 0, 1>} : tensor<?x32xf32>, tensor<32xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.all_reduce
//===----------------------------------------------------------------------===//

func.func @all_reduce_types(%x: tensor<?x64xf32>) {
  // expected-error @+1 {{all of {x, result} have same type}}
  %s = "sl.all_reduce"(%x) : (tensor<?x64xf32>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @all_reduce_dynamic_row(%x: tensor<?x?xf32>) {
  // expected-error @+1 {{expects every dimension after the token dimension to be static (each rank sums the same bytes), got 'tensor<?x?xf32>'}}
  %s = sl.all_reduce %x : tensor<?x?xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.embedding
//===----------------------------------------------------------------------===//

func.func @embedding_tokens_rank(%tokens: tensor<2x3xi32>, %table: tensor<16x8xf32>) {
  // expected-error @+1 {{expects tokens of rank 1, got 'tensor<2x3xi32>'}}
  %h = sl.embedding %tokens, %table : (tensor<2x3xi32>, tensor<16x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @embedding_table_static(%tokens: tensor<?xi32>, %table: tensor<?x8xf32>) {
  // expected-error @+1 {{expects dimension 0 of table to be static, got 'tensor<?x8xf32>'}}
  %h = sl.embedding %tokens, %table : (tensor<?xi32>, tensor<?x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @embedding_result_rank(%tokens: tensor<?xi32>, %table: tensor<16x8xf32>) {
  // expected-error @+1 {{expects result of rank 2, got 'tensor<?xf32>'}}
  %h = sl.embedding %tokens, %table : (tensor<?xi32>, tensor<16x8xf32>) -> tensor<?xf32>
  return
}

// -----

func.func @embedding_result_hidden(%tokens: tensor<?xi32>, %table: tensor<16x8xf32>) {
  // expected-error @+1 {{expects dimension 1 of result to be 8 (hidden size of the table), got 4 in 'tensor<?x4xf32>'}}
  %h = sl.embedding %tokens, %table : (tensor<?xi32>, tensor<16x8xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @embedding_tokens(%tokens: tensor<2xi32>, %table: tensor<16x8xf32>) {
  // expected-error @+1 {{expects tokens and result to have the same number of tokens, got 2 and 3}}
  %h = sl.embedding %tokens, %table : (tensor<2xi32>, tensor<16x8xf32>) -> tensor<3x8xf32>
  return
}

// -----

func.func @embedding_element_type(%tokens: tensor<?xi32>, %table: tensor<16x8xf32>) {
  // expected-error @+1 {{expects result to have element type 'f32' (the table's), got 'f16'}}
  %h = sl.embedding %tokens, %table : (tensor<?xi32>, tensor<16x8xf32>) -> tensor<?x8xf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.rms_norm
//===----------------------------------------------------------------------===//

func.func @rms_norm_x_rank(%x: tensor<8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{expects x of rank 2, got 'tensor<8xf32>'}}
  %y = sl.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<8xf32>, tensor<8xf32>
  return
}

// -----

func.func @rms_norm_weight_static(%x: tensor<?x8xf32>, %w: tensor<?xf32>) {
  // expected-error @+1 {{expects dimension 0 of weight to be static, got 'tensor<?xf32>'}}
  %y = sl.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<?xf32>
  return
}

// -----

func.func @rms_norm_weight_size(%x: tensor<?x8xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{expects dimension 0 of weight to be 8 (hidden size of x), got 4 in 'tensor<4xf32>'}}
  %y = sl.rms_norm %x, %w {epsilon = 1.0e-05 : f64} : tensor<?x8xf32>, tensor<4xf32>
  return
}

// -----

func.func @rms_norm_epsilon(%x: tensor<?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{expects epsilon > 0, got 0.0}}
  %y = sl.rms_norm %x, %w {epsilon = 0.0 : f64} : tensor<?x8xf32>, tensor<8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.gated_rms_norm
//===----------------------------------------------------------------------===//

func.func @gated_rms_norm_y_rank(%y: tensor<8xf32>, %z: tensor<8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{expects y of rank 2, got 'tensor<8xf32>'}}
  %o = sl.gated_rms_norm %y, %z, %w {epsilon = 1.0e-05
      : f64, group_size = 4 : i64} : tensor<8xf32>, tensor<8xf32>
  return
}

// -----

func.func @gated_rms_norm_weight_rank(%y: tensor<?x8xf32>, %z: tensor<?x8xf32>,
    %w: tensor<1x8xf32>) {
  // expected-error @+1 {{expects weight of rank 1, got 'tensor<1x8xf32>'}}
  %o = sl.gated_rms_norm %y, %z, %w {epsilon = 1.0e-05
      : f64, group_size = 4 : i64} : tensor<?x8xf32>, tensor<1x8xf32>
  return
}

// -----

func.func @gated_rms_norm_weight_size(%y: tensor<?x8xf32>, %z: tensor<?x8xf32>, %w: tensor<4xf32>) {
  // expected-error @+1 {{expects dimension 0 of weight to be 8 (channels of y), got 4 in 'tensor<4xf32>'}}
  %o = sl.gated_rms_norm %y, %z, %w {epsilon = 1.0e-05
      : f64, group_size = 4 : i64} : tensor<?x8xf32>, tensor<4xf32>
  return
}

// -----

func.func @gated_rms_norm_epsilon(%y: tensor<?x8xf32>, %z: tensor<?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{expects epsilon > 0, got -1.0}}
  %o = sl.gated_rms_norm %y, %z, %w {epsilon = -1.0
      : f64, group_size = 4 : i64} : tensor<?x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @gated_rms_norm_group_size_positive(%y: tensor<?x8xf32>, %z: tensor<?x8xf32>,
    %w: tensor<8xf32>) {
  // expected-error @+1 {{expects group_size (0) to be positive and divide the channels of y (8)}}
  %o = sl.gated_rms_norm %y, %z, %w {epsilon = 1.0e-05
      : f64, group_size = 0 : i64} : tensor<?x8xf32>, tensor<8xf32>
  return
}

// -----

func.func @gated_rms_norm_group_size_divides(%y: tensor<?x8xf32>, %z: tensor<?x8xf32>,
    %w: tensor<8xf32>) {
  // expected-error @+1 {{expects group_size (3) to be positive and divide the channels of y (8)}}
  %o = sl.gated_rms_norm %y, %z, %w {epsilon = 1.0e-05
      : f64, group_size = 3 : i64} : tensor<?x8xf32>, tensor<8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.linear
//===----------------------------------------------------------------------===//

func.func @linear_x_rank(%x: tensor<4xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{expects x of rank 2, got 'tensor<4xf32>'}}
  %y = sl.linear %x, %w : (tensor<4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @linear_weight_static(%x: tensor<?x4xf32>, %w: tensor<?x4xf32>) {
  // expected-error @+1 {{expects dimension 0 of weight to be static, got 'tensor<?x4xf32>'}}
  %y = sl.linear %x, %w : (tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @linear_result_rank(%x: tensor<?x4xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{expects result of rank 2, got 'tensor<8xf32>'}}
  %y = sl.linear %x, %w : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<8xf32>
  return
}

// -----

func.func @linear_in_features(%x: tensor<?x4xf32>, %w: tensor<8x6xf32>) {
  // expected-error @+1 {{expects dimension 1 of weight to be 4 (in features = last dimension of x), got 6 in 'tensor<8x6xf32>'}}
  %y = sl.linear %x, %w : (tensor<?x4xf32>, tensor<8x6xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @linear_out_features(%x: tensor<?x4xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{expects dimension 1 of result to be 8 (out features = dimension 0 of the weight), got 6 in 'tensor<?x6xf32>'}}
  %y = sl.linear %x, %w : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x6xf32>
  return
}

// -----

func.func @linear_tokens(%x: tensor<2x4xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{expects x and result to have the same number of tokens, got 2 and 3}}
  %y = sl.linear %x, %w : (tensor<2x4xf32>, tensor<8x4xf32>) -> tensor<3x8xf32>
  return
}

// -----

func.func @linear_weight_element_type(%x: tensor<?x4xf32>, %w: tensor<8x4xf16>) {
  // expected-error @+1 {{expects weight to have element type 'f32' (the element type of x), got 'f16'}}
  %y = sl.linear %x, %w : (tensor<?x4xf32>, tensor<8x4xf16>) -> tensor<?x8xf32>
  return
}

// -----

func.func @linear_result_element_type(%x: tensor<?x4xf32>, %w: tensor<8x4xf32>) {
  // expected-error @+1 {{expects result to have element type 'f32' (the element type of x), got 'bf16'}}
  %y = sl.linear %x, %w : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xbf16>
  return
}

// -----

func.func @linear_bias_rank(%x: tensor<?x4xf32>, %w: tensor<8x4xf32>, %b: tensor<1x8xf32>) {
  // expected-error @+1 {{expects bias of rank 1, got 'tensor<1x8xf32>'}}
  %y = sl.linear %x, %w, %b : (tensor<?x4xf32>, tensor<8x4xf32>, tensor<1x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @linear_bias_size(%x: tensor<?x4xf32>, %w: tensor<8x4xf32>, %b: tensor<6xf32>) {
  // expected-error @+1 {{expects dimension 0 of bias to be 8 (out features), got 6 in 'tensor<6xf32>'}}
  %y = sl.linear %x, %w, %b : (tensor<?x4xf32>, tensor<8x4xf32>, tensor<6xf32>) -> tensor<?x8xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.split
//===----------------------------------------------------------------------===//

func.func @split_no_result(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{expects at least one result}}
  "sl.split"(%x) : (tensor<?x8xf32>) -> ()
  return
}

// -----

func.func @split_scalar_input(%x: tensor<f32>) {
  // expected-error @+1 {{expects an input with a static last dimension, got 'tensor<f32>'}}
  %a = sl.split %x : tensor<f32> -> tensor<f32>
  return
}

// -----

func.func @split_dynamic_input(%x: tensor<4x?xf32>) {
  // expected-error @+1 {{expects an input with a static last dimension, got 'tensor<4x?xf32>'}}
  %a, %b = sl.split %x : tensor<4x?xf32> -> tensor<4x2xf32>, tensor<4x2xf32>
  return
}

// -----

func.func @split_result_rank(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{expects result #1 of rank 2 with a static last dimension, got 'tensor<4xf32>'}}
  %a, %b = sl.split %x : tensor<?x8xf32> -> tensor<?x4xf32>, tensor<4xf32>
  return
}

// -----

func.func @split_result_dim(%x: tensor<2x8xf32>) {
  // expected-error @+1 {{expects dimension 0 of result #0 to be 2 (same as the input), got 3 in 'tensor<3x4xf32>'}}
  %a, %b = sl.split %x : tensor<2x8xf32> -> tensor<3x4xf32>, tensor<2x4xf32>
  return
}

// -----

func.func @split_result_element_type(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{expects result #1 to have element type 'f32' (the input's), got 'f16'}}
  %a, %b = sl.split %x : tensor<?x8xf32> -> tensor<?x4xf32>, tensor<?x4xf16>
  return
}

// -----

func.func @split_sizes(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{expects the last dimensions of the results to add up to the input's last dimension (8), got 7}}
  %a, %b = sl.split %x : tensor<?x8xf32> -> tensor<?x4xf32>, tensor<?x3xf32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.causal_conv1d (the state has 2 * 2 + 2 * 1 * 2 = 8 conv channels and conv_kernel 4)
//===----------------------------------------------------------------------===//

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @causal_conv1d_x_rank(%x: tensor<8xf16>, %s: !mamba, %w: tensor<8x1x4xf16>) {
  // expected-error @+1 {{expects x of rank 2, got 'tensor<8xf16>'}}
  %y, %s1 = sl.causal_conv1d %x, %s, %w
      : (tensor<8xf16>, !mamba, tensor<8x1x4xf16>)
      -> (tensor<8xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @causal_conv1d_channels(%x: tensor<?x6xf16>, %s: !mamba, %w: tensor<6x1x4xf16>) {
  // expected-error @+1 {{expects the state's conv channels (heads * head_dim + 2 * groups * state_size = 8) to equal the channels of x (6)}}
  %y, %s1 = sl.causal_conv1d %x, %s, %w
      : (tensor<?x6xf16>, !mamba, tensor<6x1x4xf16>)
      -> (tensor<?x6xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @causal_conv1d_weight_rank(%x: tensor<?x8xf16>, %s: !mamba, %w: tensor<8x4xf16>) {
  // expected-error @+1 {{expects weight of rank 3, got 'tensor<8x4xf16>'}}
  %y, %s1 = sl.causal_conv1d %x, %s, %w
      : (tensor<?x8xf16>, !mamba, tensor<8x4xf16>)
      -> (tensor<?x8xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @causal_conv1d_weight_filters(%x: tensor<?x8xf16>, %s: !mamba, %w: tensor<6x1x4xf16>) {
  // expected-error @+1 {{expects dimension 0 of weight to be 8 (one filter per channel), got 6 in 'tensor<6x1x4xf16>'}}
  %y, %s1 = sl.causal_conv1d %x, %s, %w
      : (tensor<?x8xf16>, !mamba, tensor<6x1x4xf16>)
      -> (tensor<?x8xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @causal_conv1d_weight_depthwise(%x: tensor<?x8xf16>, %s: !mamba, %w: tensor<8x2x4xf16>) {
  // expected-error @+1 {{expects dimension 1 of weight to be 1 (depthwise convolution), got 2 in 'tensor<8x2x4xf16>'}}
  %y, %s1 = sl.causal_conv1d %x, %s, %w
      : (tensor<?x8xf16>, !mamba, tensor<8x2x4xf16>)
      -> (tensor<?x8xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @causal_conv1d_weight_kernel(%x: tensor<?x8xf16>, %s: !mamba, %w: tensor<8x1x3xf16>) {
  // expected-error @+1 {{expects dimension 2 of weight to be 4 (conv_kernel of the state), got 3 in 'tensor<8x1x3xf16>'}}
  %y, %s1 = sl.causal_conv1d %x, %s, %w
      : (tensor<?x8xf16>, !mamba, tensor<8x1x3xf16>)
      -> (tensor<?x8xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @causal_conv1d_result(%x: tensor<?x8xf16>, %s: !mamba, %w: tensor<8x1x4xf16>) {
  // expected-error @+1 {{expects result to be 'tensor<?x8xf16>' (same as x), got 'tensor<?x8xf32>'}}
  %y, %s1 = sl.causal_conv1d %x, %s, %w
      : (tensor<?x8xf16>, !mamba, tensor<8x1x4xf16>)
      -> (tensor<?x8xf32>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
!other = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f16>
func.func @causal_conv1d_new_state(%x: tensor<?x8xf16>, %s: !mamba, %w: tensor<8x1x4xf16>) {
  // expected-error @+1 {{expects new_state to be '!sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2, conv_kernel = 4, conv_type = f16, ssm_type = f32>' (same as state), got '!sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2, conv_kernel = 4, conv_type = f16, ssm_type = f16>'}}
  %y, %s1 = sl.causal_conv1d %x, %s, %w
      : (tensor<?x8xf16>, !mamba, tensor<8x1x4xf16>)
      -> (tensor<?x8xf16>, !other)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @causal_conv1d_bias_rank(%x: tensor<?x8xf16>, %s: !mamba, %w: tensor<8x1x4xf16>,
    %b: tensor<?xf16>) {
  // expected-error @+1 {{expects dimension 0 of bias to be static, got 'tensor<?xf16>'}}
  %y, %s1 = sl.causal_conv1d %x, %s, %w, %b activation(silu)
      : (tensor<?x8xf16>, !mamba, tensor<8x1x4xf16>, tensor<?xf16>)
      -> (tensor<?x8xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @causal_conv1d_bias_size(%x: tensor<?x8xf16>, %s: !mamba, %w: tensor<8x1x4xf16>,
    %b: tensor<6xf16>) {
  // expected-error @+1 {{expects dimension 0 of bias to be 8 (one per channel), got 6 in 'tensor<6xf16>'}}
  %y, %s1 = sl.causal_conv1d %x, %s, %w, %b activation(silu)
      : (tensor<?x8xf16>, !mamba, tensor<8x1x4xf16>, tensor<6xf16>)
      -> (tensor<?x8xf16>, !mamba)
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.ssd_scan (the state has 2 heads of head_dim 2 and 8 conv channels)
//===----------------------------------------------------------------------===//

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_xbc_rank(%xbc: tensor<8xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects xbc of rank 2, got 'tensor<8xf16>'}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<8xf16>, tensor<?x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_xbc_channels(%xbc: tensor<?x6xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects dimension 1 of xbc to be 8 (heads * head_dim + 2 * groups * state_size of the state), got 6 in 'tensor<?x6xf16>'}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<?x6xf16>, tensor<?x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_dt_rank(%xbc: tensor<?x8xf16>, %dt: tensor<2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects dt of rank 2, got 'tensor<2xf16>'}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<?x8xf16>, tensor<2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_dt_heads(%xbc: tensor<?x8xf16>, %dt: tensor<?x3xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects dimension 1 of dt to be 2 (one per head of the state), got 3 in 'tensor<?x3xf16>'}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<?x8xf16>, tensor<?x3xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_dt_tokens(%xbc: tensor<2x8xf16>, %dt: tensor<3x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects xbc and dt to have the same number of tokens, got 2 and 3}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<2x8xf16>, tensor<3x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<2x4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_a_log_rank(%xbc: tensor<?x8xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2x1xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects a_log of rank 1, got 'tensor<2x1xf32>'}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<?x8xf16>, tensor<?x2xf16>, !mamba, tensor<2x1xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_d_static(%xbc: tensor<?x8xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<?xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects dimension 0 of d to be static, got 'tensor<?xf32>'}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<?x8xf16>, tensor<?x2xf16>, !mamba, tensor<2xf32>, tensor<?xf32>, tensor<2xf32>)
      -> (tensor<?x4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_dt_bias_size(%xbc: tensor<?x8xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{expects dimension 0 of dt_bias to be 2 (one per head), got 3 in 'tensor<3xf32>'}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<?x8xf16>, tensor<?x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<3xf32>)
      -> (tensor<?x4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_result_rank(%xbc: tensor<?x8xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects result of rank 2, got 'tensor<4xf16>'}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<?x8xf16>, tensor<?x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_result_width(%xbc: tensor<?x8xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects dimension 1 of result to be 4 (heads * head_dim), got 8 in 'tensor<?x8xf16>'}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<?x8xf16>, tensor<?x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x8xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_result_tokens(%xbc: tensor<2x8xf16>, %dt: tensor<2x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects xbc and result to have the same number of tokens, got 2 and 3}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<2x8xf16>, tensor<2x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<3x4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_result_element_type(%xbc: tensor<?x8xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects result to have element type 'f16' (that of xbc), got 'f32'}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<?x8xf16>, tensor<?x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x4xf32>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
!other = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 3, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_new_state(%xbc: tensor<?x8xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects new_state to be '!sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2, conv_kernel = 4, conv_type = f16, ssm_type = f32>' (same as state)}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<?x8xf16>, tensor<?x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x4xf16>, !other)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_chunk_size(%xbc: tensor<?x8xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects chunk_size > 0, got 0}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 0 : i64}
      : (tensor<?x8xf16>, tensor<?x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_dt_min_negative(%xbc: tensor<?x8xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects 0 <= dt_min <= dt_max (an absent bound is 0 resp. unbounded), got dt_min = -0.001, dt_max = (absent)}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b)
      {chunk_size = 4 : i64, dt_min = -0.001 : f64}
      : (tensor<?x8xf16>, tensor<?x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x4xf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2,
                         conv_kernel = 4, conv_type = f16, ssm_type = f32>
func.func @ssd_scan_dt_min_above_max(%xbc: tensor<?x8xf16>, %dt: tensor<?x2xf16>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{got dt_min = 0.1, dt_max = 0.01}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b)
      {chunk_size = 4 : i64, dt_max = 0.01 : f64, dt_min = 0.1 : f64}
      : (tensor<?x8xf16>, tensor<?x2xf16>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x4xf16>, !mamba)
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.moe_router (4 experts, hidden 8, top_k 2)
//===----------------------------------------------------------------------===//

func.func @moe_router_x_rank(%x: tensor<8xf16>, %g: tensor<4x8xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects x of rank 2, got 'tensor<8xf16>'}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<8xf16>, tensor<4x8xf16>, tensor<4xf32>)
      -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @moe_router_gate_static(%x: tensor<?x8xf16>, %g: tensor<?x8xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects dimension 0 of gate to be static, got 'tensor<?x8xf16>'}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<?x8xf16>, tensor<?x8xf16>, tensor<4xf32>)
      -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @moe_router_gate_hidden(%x: tensor<?x8xf16>, %g: tensor<4x6xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects dimension 1 of gate to be 8 (hidden size of x), got 6 in 'tensor<4x6xf16>'}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<?x8xf16>, tensor<4x6xf16>, tensor<4xf32>)
      -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @moe_router_bias_rank(%x: tensor<?x8xf16>, %g: tensor<4x8xf16>, %b: tensor<4x1xf32>) {
  // expected-error @+1 {{expects correction_bias of rank 1, got 'tensor<4x1xf32>'}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<?x8xf16>, tensor<4x8xf16>, tensor<4x1xf32>)
      -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @moe_router_bias_size(%x: tensor<?x8xf16>, %g: tensor<4x8xf16>, %b: tensor<3xf32>) {
  // expected-error @+1 {{expects dimension 0 of correction_bias to be 4 (one per expert), got 3 in 'tensor<3xf32>'}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<?x8xf16>, tensor<4x8xf16>, tensor<3xf32>)
      -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @moe_router_top_k_zero(%x: tensor<?x8xf16>, %g: tensor<4x8xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects top_k in [1, 4] (the number of experts), got 0}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 0 : i64}
      : (tensor<?x8xf16>, tensor<4x8xf16>, tensor<4xf32>)
      -> (tensor<?x0xf32>, tensor<?x0xi32>)
  return
}

// -----

func.func @moe_router_top_k_too_large(%x: tensor<?x8xf16>, %g: tensor<4x8xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects top_k in [1, 4] (the number of experts), got 5}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 5 : i64}
      : (tensor<?x8xf16>, tensor<4x8xf16>, tensor<4xf32>)
      -> (tensor<?x5xf32>, tensor<?x5xi32>)
  return
}

// -----

func.func @moe_router_scaling_factor(%x: tensor<?x8xf16>, %g: tensor<4x8xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects routed_scaling_factor > 0, got 0.0}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 0.0 : f64, top_k = 2 : i64}
      : (tensor<?x8xf16>, tensor<4x8xf16>, tensor<4xf32>)
      -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @moe_router_weights_rank(%x: tensor<?x8xf16>, %g: tensor<4x8xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects weights of rank 2, got 'tensor<?xf32>'}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<?x8xf16>, tensor<4x8xf16>, tensor<4xf32>)
      -> (tensor<?xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @moe_router_weights_top_k(%x: tensor<?x8xf16>, %g: tensor<4x8xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects dimension 1 of weights to be 2 (top_k), got 3 in 'tensor<?x3xf32>'}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<?x8xf16>, tensor<4x8xf16>, tensor<4xf32>)
      -> (tensor<?x3xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @moe_router_weights_element_type(%x: tensor<?x8xf16>, %g: tensor<4x8xf16>,
    %b: tensor<4xf32>) {
  // expected-error @+1 {{expects weights to have element type 'f32' (router weights are fp32), got 'f16'}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<?x8xf16>, tensor<4x8xf16>, tensor<4xf32>)
      -> (tensor<?x2xf16>, tensor<?x2xi32>)
  return
}

// -----

func.func @moe_router_indices_rank(%x: tensor<?x8xf16>, %g: tensor<4x8xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects indices of rank 2, got 'tensor<?x2x1xi32>'}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<?x8xf16>, tensor<4x8xf16>, tensor<4xf32>)
      -> (tensor<?x2xf32>, tensor<?x2x1xi32>)
  return
}

// -----

func.func @moe_router_indices_top_k(%x: tensor<?x8xf16>, %g: tensor<4x8xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects dimension 1 of indices to be 2 (top_k), got 1 in 'tensor<?x1xi32>'}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<?x8xf16>, tensor<4x8xf16>, tensor<4xf32>)
      -> (tensor<?x2xf32>, tensor<?x1xi32>)
  return
}

// -----

func.func @moe_router_weights_tokens(%x: tensor<2x8xf16>, %g: tensor<4x8xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects x and weights to have the same number of tokens, got 2 and 3}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<2x8xf16>, tensor<4x8xf16>, tensor<4xf32>)
      -> (tensor<3x2xf32>, tensor<2x2xi32>)
  return
}

// -----

func.func @moe_router_indices_tokens(%x: tensor<2x8xf16>, %g: tensor<4x8xf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects x and indices to have the same number of tokens, got 2 and 3}}
  %w, %i = sl.moe_router %x, %g, %b {routed_scaling_factor = 1.0 : f64, top_k = 2 : i64}
      : (tensor<2x8xf16>, tensor<4x8xf16>, tensor<4xf32>)
      -> (tensor<2x2xf32>, tensor<3x2xi32>)
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.moe_experts (4 experts, hidden 8, intermediate 6, top_k 2)
//===----------------------------------------------------------------------===//

func.func @moe_experts_x_rank(%x: tensor<8xf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects x of rank 2, got 'tensor<8xf16>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<8xf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xf16>, tensor<4x8x6xf16>)
      -> tensor<8xf16>
  return
}

// -----

func.func @moe_experts_up_rank(%x: tensor<?x8xf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<6x8xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects up of rank 3, got 'tensor<6x8xf16>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<6x8xf16>, tensor<4x8x6xf16>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @moe_experts_down_static(%x: tensor<?x8xf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<?x8x6xf16>) {
  // expected-error @+1 {{expects dimension 0 of down to be static, got 'tensor<?x8x6xf16>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xf16>, tensor<?x8x6xf16>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @moe_experts_up_hidden(%x: tensor<?x8xf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x5xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects dimension 2 of up to be 8 (hidden size of x), got 5 in 'tensor<4x6x5xf16>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x5xf16>, tensor<4x8x6xf16>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @moe_experts_down_experts(%x: tensor<?x8xf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<3x8x6xf16>) {
  // expected-error @+1 {{expects dimension 0 of down to be 4 (experts of up), got 3 in 'tensor<3x8x6xf16>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xf16>, tensor<3x8x6xf16>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @moe_experts_down_hidden(%x: tensor<?x8xf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<4x5x6xf16>) {
  // expected-error @+1 {{expects dimension 1 of down to be 8 (hidden size of x), got 5 in 'tensor<4x5x6xf16>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xf16>, tensor<4x5x6xf16>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @moe_experts_down_intermediate(%x: tensor<?x8xf16>, %w: tensor<?x2xf32>,
    %i: tensor<?x2xi32>, %up: tensor<4x6x8xf16>, %down: tensor<4x8x5xf16>) {
  // expected-error @+1 {{expects dimension 2 of down to be 6 (intermediate size of up), got 5 in 'tensor<4x8x5xf16>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xf16>, tensor<4x8x5xf16>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @moe_experts_weights_rank(%x: tensor<?x8xf16>, %w: tensor<?xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects weights of rank 2, got 'tensor<?xf32>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?xf32>, tensor<?x2xi32>, tensor<4x6x8xf16>, tensor<4x8x6xf16>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @moe_experts_indices_static(%x: tensor<?x8xf16>, %w: tensor<?x2xf32>, %i: tensor<?x?xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects dimension 1 of indices to be static, got 'tensor<?x?xi32>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?x2xf32>, tensor<?x?xi32>, tensor<4x6x8xf16>, tensor<4x8x6xf16>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @moe_experts_indices_top_k(%x: tensor<?x8xf16>, %w: tensor<?x2xf32>, %i: tensor<?x3xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects dimension 1 of indices to be 2 (top_k of weights), got 3 in 'tensor<?x3xi32>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?x2xf32>, tensor<?x3xi32>, tensor<4x6x8xf16>, tensor<4x8x6xf16>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @moe_experts_weights_tokens(%x: tensor<2x8xf16>, %w: tensor<3x2xf32>, %i: tensor<2x2xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects x and weights to have the same number of tokens, got 2 and 3}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<2x8xf16>, tensor<3x2xf32>, tensor<2x2xi32>, tensor<4x6x8xf16>, tensor<4x8x6xf16>)
      -> tensor<2x8xf16>
  return
}

// -----

func.func @moe_experts_indices_tokens(%x: tensor<2x8xf16>, %w: tensor<2x2xf32>, %i: tensor<3x2xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects x and indices to have the same number of tokens, got 2 and 3}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<2x8xf16>, tensor<2x2xf32>, tensor<3x2xi32>, tensor<4x6x8xf16>, tensor<4x8x6xf16>)
      -> tensor<2x8xf16>
  return
}

// -----

func.func @moe_experts_result(%x: tensor<?x8xf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects result to be 'tensor<?x8xf16>' (same as x), got 'tensor<?x8xf32>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xf16>, tensor<4x8x6xf16>)
      -> tensor<?x8xf32>
  return
}

// -----

func.func @moe_experts_top_k_zero(%x: tensor<?x8xf16>, %w: tensor<?x0xf32>, %i: tensor<?x0xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects top_k (0) in [1, 4] (the number of experts)}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?x0xf32>, tensor<?x0xi32>, tensor<4x6x8xf16>, tensor<4x8x6xf16>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @moe_experts_top_k_too_large(%x: tensor<?x8xf16>, %w: tensor<?x5xf32>,
    %i: tensor<?x5xi32>, %up: tensor<4x6x8xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects top_k (5) in [1, 4] (the number of experts)}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xf16>, tensor<?x5xf32>, tensor<?x5xi32>, tensor<4x6x8xf16>, tensor<4x8x6xf16>)
      -> tensor<?x8xf16>
  return
}

// -----

func.func @moe_experts_negative_offset(%x: tensor<?x8xf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects expert_offset >= 0, got -1}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2) {expert_offset = -1 : i64}
      : (tensor<?x8xf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xf16>, tensor<4x8x6xf16>) -> tensor<?x8xf16>
  return
}

// -----

// A rank's experts [6, 10) do not lie inside the router's 8.
func.func @moe_experts_offset_past_router(%x: tensor<?x8xf16>, %g: tensor<8x8xf16>, %b: tensor<8xf32>,
    %up: tensor<4x6x8xf16>, %down: tensor<4x8x6xf16>) {
  %w, %i = sl.moe_router %x, %g, %b {top_k = 2 : i64, routed_scaling_factor = 1.0 : f64}
      : (tensor<?x8xf16>, tensor<8x8xf16>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  // expected-error @+1 {{expects the experts [6, 10) (expert_offset, plus the experts of up) inside the router's 8 experts}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2) {expert_offset = 6 : i64}
      : (tensor<?x8xf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xf16>, tensor<4x8x6xf16>) -> tensor<?x8xf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.dense_attention (cache: 2 kv heads of head_dim 4; 4 query heads)
//===----------------------------------------------------------------------===//

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_num_heads_positive(%q: tensor<?x16xf16>, %k: tensor<?x8xf16>,
    %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects num_heads > 0, got 0}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 0 : i64}
      : (tensor<?x16xf16>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x16xf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_num_heads_gqa(%q: tensor<?x12xf16>, %k: tensor<?x8xf16>,
    %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects num_heads (3) to be a multiple of the cache's kv_heads (2) for grouped-query attention}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 3 : i64}
      : (tensor<?x12xf16>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x12xf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_q_rank(%q: tensor<16xf16>, %k: tensor<?x8xf16>, %v: tensor<?x8xf16>,
    %c: !kv) {
  // expected-error @+1 {{expects q of rank 2, got 'tensor<16xf16>'}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 4 : i64}
      : (tensor<16xf16>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<16xf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_q_width(%q: tensor<?x12xf16>, %k: tensor<?x8xf16>, %v: tensor<?x8xf16>,
    %c: !kv) {
  // expected-error @+1 {{expects dimension 1 of q to be 16 (num_heads * head_dim), got 12 in 'tensor<?x12xf16>'}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 4 : i64}
      : (tensor<?x12xf16>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x12xf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_k_rank(%q: tensor<?x16xf16>, %k: tensor<?x2x4xf16>, %v: tensor<?x8xf16>,
    %c: !kv) {
  // expected-error @+1 {{expects k of rank 2, got 'tensor<?x2x4xf16>'}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x2x4xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x16xf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_k_width(%q: tensor<?x16xf16>, %k: tensor<?x4xf16>, %v: tensor<?x8xf16>,
    %c: !kv) {
  // expected-error @+1 {{expects dimension 1 of k to be 8 (kv_heads * head_dim of the cache), got 4 in 'tensor<?x4xf16>'}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x4xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x16xf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_k_element_type(%q: tensor<?x16xf16>, %k: tensor<?x8xf32>,
    %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects k to have element type 'f16' (the cache's element type), got 'f32'}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x8xf32>, tensor<?x8xf16>, !kv)
      -> (tensor<?x16xf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_v_width(%q: tensor<?x16xf16>, %k: tensor<?x8xf16>, %v: tensor<?x16xf16>,
    %c: !kv) {
  // expected-error @+1 {{expects dimension 1 of v to be 8 (kv_heads * head_dim of the cache), got 16 in 'tensor<?x16xf16>'}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x8xf16>, tensor<?x16xf16>, !kv)
      -> (tensor<?x16xf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_q_k_tokens(%q: tensor<2x16xf16>, %k: tensor<3x8xf16>,
    %v: tensor<3x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects q and k to have the same number of tokens, got 2 and 3}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 4 : i64}
      : (tensor<2x16xf16>, tensor<3x8xf16>, tensor<3x8xf16>, !kv)
      -> (tensor<2x16xf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_k_v_tokens(%q: tensor<?x16xf16>, %k: tensor<2x8xf16>,
    %v: tensor<3x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects k and v to have the same number of tokens, got 2 and 3}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<2x8xf16>, tensor<3x8xf16>, !kv)
      -> (tensor<?x16xf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_result(%q: tensor<?x16xf16>, %k: tensor<?x8xf16>, %v: tensor<?x8xf16>,
    %c: !kv) {
  // expected-error @+1 {{expects result to be 'tensor<?x16xf16>' (same as q), got 'tensor<?x16xf32>'}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x16xf32>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
!other = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = bf16>
func.func @dense_attention_new_cache(%q: tensor<?x16xf16>, %k: tensor<?x8xf16>, %v: tensor<?x8xf16>,
    %c: !kv) {
  // expected-error @+1 {{expects new_cache to be '!sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>' (same as cache), got '!sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = bf16>'}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x16xf16>, !other)
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.lm_head (hidden 8, vocabulary 16)
//===----------------------------------------------------------------------===//

func.func @lm_head_x_rank(%x: tensor<8xf16>, %w: tensor<16x8xf16>) {
  // expected-error @+1 {{expects x of rank 2, got 'tensor<8xf16>'}}
  %l = sl.lm_head %x, %w : (tensor<8xf16>, tensor<16x8xf16>) -> tensor<?x16xf32>
  return
}

// -----

func.func @lm_head_weight_static(%x: tensor<?x8xf16>, %w: tensor<?x8xf16>) {
  // expected-error @+1 {{expects dimension 0 of weight to be static, got 'tensor<?x8xf16>'}}
  %l = sl.lm_head %x, %w : (tensor<?x8xf16>, tensor<?x8xf16>) -> tensor<?x16xf32>
  return
}

// -----

func.func @lm_head_weight_hidden(%x: tensor<?x8xf16>, %w: tensor<16x4xf16>) {
  // expected-error @+1 {{expects dimension 1 of weight to be 8 (hidden size of x), got 4 in 'tensor<16x4xf16>'}}
  %l = sl.lm_head %x, %w : (tensor<?x8xf16>, tensor<16x4xf16>) -> tensor<?x16xf32>
  return
}

// -----

func.func @lm_head_weight_element_type(%x: tensor<?x8xf16>, %w: tensor<16x8xbf16>) {
  // expected-error @+1 {{expects weight to have element type 'f16' (the element type of x), got 'bf16'}}
  %l = sl.lm_head %x, %w : (tensor<?x8xf16>, tensor<16x8xbf16>) -> tensor<?x16xf32>
  return
}

// -----

func.func @lm_head_logits_rank(%x: tensor<?x8xf16>, %w: tensor<16x8xf16>) {
  // expected-error @+1 {{expects logits of rank 2, got 'tensor<16xf32>'}}
  %l = sl.lm_head %x, %w : (tensor<?x8xf16>, tensor<16x8xf16>) -> tensor<16xf32>
  return
}

// -----

func.func @lm_head_logits_vocabulary(%x: tensor<?x8xf16>, %w: tensor<16x8xf16>) {
  // expected-error @+1 {{expects dimension 1 of logits to be 16 (vocabulary size), got 8 in 'tensor<?x8xf32>'}}
  %l = sl.lm_head %x, %w : (tensor<?x8xf16>, tensor<16x8xf16>) -> tensor<?x8xf32>
  return
}

// -----

func.func @lm_head_tokens(%x: tensor<2x8xf16>, %w: tensor<16x8xf16>) {
  // expected-error @+1 {{expects x and logits to have the same number of tokens, got 2 and 3}}
  %l = sl.lm_head %x, %w : (tensor<2x8xf16>, tensor<16x8xf16>) -> tensor<3x16xf32>
  return
}

// -----

func.func @lm_head_logits_element_type(%x: tensor<?x8xf16>, %w: tensor<16x8xf16>) {
  // expected-error @+1 {{expects logits to have element type 'f32' (logits are fp32), got 'f16'}}
  %l = sl.lm_head %x, %w : (tensor<?x8xf16>, tensor<16x8xf16>) -> tensor<?x16xf16>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.sample
//===----------------------------------------------------------------------===//

func.func @sample_logits_rank(%l: tensor<16xf32>) {
  // expected-error @+1 {{expects logits of rank 2, got 'tensor<16xf32>'}}
  %t = sl.sample %l : tensor<16xf32> -> tensor<?xi32>
  return
}

// -----

func.func @sample_tokens_rank(%l: tensor<?x16xf32>) {
  // expected-error @+1 {{expects tokens of rank 1, got 'tensor<?x1xi32>'}}
  %t = sl.sample %l : tensor<?x16xf32> -> tensor<?x1xi32>
  return
}

// -----

func.func @sample_tokens(%l: tensor<2x16xf32>) {
  // expected-error @+1 {{expects logits and tokens to have the same number of tokens, got 2 and 3}}
  %t = sl.sample %l : tensor<2x16xf32> -> tensor<3xi32>
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.kv_append (cache: 2 kv heads of head_dim 4)
//===----------------------------------------------------------------------===//

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @kv_append_k_rank(%k: tensor<8xf16>, %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects k of rank 2, got 'tensor<8xf16>'}}
  %c1 = sl.kv_append %k, %v, %c : (tensor<8xf16>, tensor<?x8xf16>, !kv) -> !kv
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @kv_append_k_width(%k: tensor<?x6xf16>, %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects dimension 1 of k to be 8 (kv_heads * head_dim of the cache), got 6 in 'tensor<?x6xf16>'}}
  %c1 = sl.kv_append %k, %v, %c : (tensor<?x6xf16>, tensor<?x8xf16>, !kv) -> !kv
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @kv_append_k_element_type(%k: tensor<?x8xbf16>, %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects k to have element type 'f16' (the cache's element type), got 'bf16'}}
  %c1 = sl.kv_append %k, %v, %c : (tensor<?x8xbf16>, tensor<?x8xf16>, !kv) -> !kv
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @kv_append_v_element_type(%k: tensor<?x8xf16>, %v: tensor<?x8xf32>, %c: !kv) {
  // expected-error @+1 {{expects v to have element type 'f16' (the cache's element type), got 'f32'}}
  %c1 = sl.kv_append %k, %v, %c : (tensor<?x8xf16>, tensor<?x8xf32>, !kv) -> !kv
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @kv_append_tokens(%k: tensor<2x8xf16>, %v: tensor<3x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects k and v to have the same number of tokens, got 2 and 3}}
  %c1 = sl.kv_append %k, %v, %c : (tensor<2x8xf16>, tensor<3x8xf16>, !kv) -> !kv
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
!other = !sl.kv_cache<kv_heads = 1, head_dim = 8, element_type = f16>
func.func @kv_append_new_cache(%k: tensor<?x8xf16>, %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects new_cache to be '!sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>' (same as cache), got '!sl.kv_cache<kv_heads = 1, head_dim = 8, element_type = f16>'}}
  %c1 = sl.kv_append %k, %v, %c : (tensor<?x8xf16>, tensor<?x8xf16>, !kv) -> !other
  return
}

// -----

//===----------------------------------------------------------------------===//
// sl.multi_step_attention (4 query heads over 2 kv heads of head_dim 4)
//===----------------------------------------------------------------------===//

#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @multi_step_attention_num_heads(%q1: tensor<?x12xf16>, %q2: tensor<?x12xf16>,
    %k: tensor<?x8xf16>, %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects num_heads (3) to be a multiple of the cache's kv_heads (2) for grouped-query attention}}
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c {config = #msa, num_heads = 3 : i64}
      : (tensor<?x12xf16>, tensor<?x12xf16>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x12xf16>, !kv)
  return
}

// -----

#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @multi_step_attention_q1_width(%q1: tensor<?x8xf16>, %q2: tensor<?x8xf16>,
    %k: tensor<?x8xf16>, %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects dimension 1 of q1 to be 16 (num_heads * head_dim), got 8 in 'tensor<?x8xf16>'}}
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c {config = #msa, num_heads = 4 : i64}
      : (tensor<?x8xf16>, tensor<?x8xf16>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x8xf16>, !kv)
  return
}

// -----

#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @multi_step_attention_q2(%q1: tensor<?x16xf16>, %q2: tensor<?x16xbf16>,
    %k: tensor<?x8xf16>, %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects q2 to be 'tensor<?x16xf16>' (same as q1), got 'tensor<?x16xbf16>'}}
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c {config = #msa, num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x16xbf16>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x16xbf16>, !kv)
  return
}

// -----

#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @multi_step_attention_k_width(%q1: tensor<?x16xf16>, %q2: tensor<?x16xf16>,
    %k: tensor<?x6xf16>, %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects dimension 1 of k to be 8 (kv_heads * head_dim of the cache), got 6 in 'tensor<?x6xf16>'}}
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c {config = #msa, num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x16xf16>, tensor<?x6xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x16xf16>, !kv)
  return
}

// -----

#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @multi_step_attention_v_element_type(%q1: tensor<?x16xf16>, %q2: tensor<?x16xf16>,
    %k: tensor<?x8xf16>, %v: tensor<?x8xf32>, %c: !kv) {
  // expected-error @+1 {{expects v to have element type 'f16' (the cache's element type), got 'f32'}}
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c {config = #msa, num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x16xf16>, tensor<?x8xf16>, tensor<?x8xf32>, !kv)
      -> (tensor<?x16xf16>, !kv)
  return
}

// -----

#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @multi_step_attention_q1_k_tokens(%q1: tensor<2x16xf16>, %q2: tensor<2x16xf16>,
    %k: tensor<3x8xf16>, %v: tensor<3x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects q1 and k to have the same number of tokens, got 2 and 3}}
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c {config = #msa, num_heads = 4 : i64}
      : (tensor<2x16xf16>, tensor<2x16xf16>, tensor<3x8xf16>, tensor<3x8xf16>, !kv)
      -> (tensor<2x16xf16>, !kv)
  return
}

// -----

#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @multi_step_attention_k_v_tokens(%q1: tensor<?x16xf16>, %q2: tensor<?x16xf16>,
    %k: tensor<2x8xf16>, %v: tensor<3x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects k and v to have the same number of tokens, got 2 and 3}}
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c {config = #msa, num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x16xf16>, tensor<2x8xf16>, tensor<3x8xf16>, !kv)
      -> (tensor<?x16xf16>, !kv)
  return
}

// -----

#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @multi_step_attention_result(%q1: tensor<?x16xf16>, %q2: tensor<?x16xf16>,
    %k: tensor<?x8xf16>, %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects result to be 'tensor<?x16xf16>' (same as q2), got 'tensor<?x16xf32>'}}
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c {config = #msa, num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x16xf16>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x16xf32>, !kv)
  return
}

// -----

#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
!other = !sl.kv_cache<kv_heads = 4, head_dim = 4, element_type = f16>
func.func @multi_step_attention_new_cache(%q1: tensor<?x16xf16>, %q2: tensor<?x16xf16>,
    %k: tensor<?x8xf16>, %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects new_cache to be '!sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>' (same as cache), got '!sl.kv_cache<kv_heads = 4, head_dim = 4, element_type = f16>'}}
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c {config = #msa, num_heads = 4 : i64}
      : (tensor<?x16xf16>, tensor<?x16xf16>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x16xf16>, !other)
  return
}

// -----

// A query element type that differs from the cache's.
#msa = #sl.msa<sw_index = 3, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @multi_step_attention_query_type(%q1: tensor<?x16xf32>, %q2: tensor<?x16xf32>,
    %k: tensor<?x8xf16>, %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects q1 to have element type 'f16' (the cache's element type), got 'f32'}}
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c {config = #msa, num_heads = 4 : i64}
      : (tensor<?x16xf32>, tensor<?x16xf32>, tensor<?x8xf16>, tensor<?x8xf16>, !kv)
      -> (tensor<?x16xf32>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f16>
func.func @dense_attention_query_type(%q: tensor<?x16xf32>, %k: tensor<?x8xf16>,
    %v: tensor<?x8xf16>, %c: !kv) {
  // expected-error @+1 {{expects q to have element type 'f16' (the cache's element type), got 'f32'}}
  %o, %c1 = sl.dense_attention %q, %k, %v, %c {num_heads = 4 : i64}
      : (tensor<?x16xf32>, tensor<?x8xf16>, tensor<?x8xf16>, !kv) -> (tensor<?x16xf32>, !kv)
  return
}

// -----

// A window too large to represent (1000001^8 tokens).
// expected-error @+1 {{msa sw_index with search_power = 0.125 gives a sliding window of (sw_index + 1)^(1 / search_power)}}
#msa = #sl.msa<sw_index = 1000000, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.125, span_power = 0.5>

// -----

// The largest sw_index (its window is computed without overflowing sw_index + 1).
// expected-error @+1 {{msa sw_index with search_power = 0.5 gives a sliding window of (sw_index + 1)^(1 / search_power) = 8.50706e+37 tokens, above the supported 1e+15}}
#msa = #sl.msa<sw_index = 9223372036854775807, num_spans = 2,
               backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>

// -----

// A key after span_power.
// expected-error @+2 {{expected '>' after span_power}}
#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, forward_factor = 1.0,
               search_power = 0.5, span_power = 0.5, window = 15>

// -----

func.func @linear_bias_type(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>, %b: tensor<4xf32>) {
  // expected-error @+1 {{expects bias to have element type 'bf16' (the element type of x), got 'f32'}}
  %y = sl.linear %x, %w, %b : (tensor<?x8xbf16>, tensor<4x8xbf16>, tensor<4xf32>) -> tensor<?x4xbf16>
  return
}

// -----

!mamba = !sl.mamba_state<heads = 2, head_dim = 2, groups = 1, state_size = 2, conv_kernel = 4,
                         conv_type = bf16, ssm_type = f32>
func.func @ssd_scan_dt_type(%xbc: tensor<?x8xbf16>, %dt: tensor<?x2xf32>, %s: !mamba,
    %a: tensor<2xf32>, %d: tensor<2xf32>, %b: tensor<2xf32>) {
  // expected-error @+1 {{expects dt to have element type 'bf16' (that of xbc), got 'f32'}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s params(%a, %d, %b) {chunk_size = 4 : i64}
      : (tensor<?x8xbf16>, tensor<?x2xf32>, !mamba, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x4xbf16>, !mamba)
  return
}

// -----

func.func @moe_experts_up_type(%x: tensor<?x8xbf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xf32>, %down: tensor<4x8x6xbf16>) {
  // expected-error @+1 {{expects up to have element type 'bf16' (the element type of x), got 'f32'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xf32>, tensor<4x8x6xbf16>)
      -> tensor<?x8xbf16>
  return
}

// -----

func.func @moe_experts_down_type(%x: tensor<?x8xbf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xbf16>, %down: tensor<4x8x6xf16>) {
  // expected-error @+1 {{expects down to have element type 'bf16' (the element type of x), got 'f16'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xbf16>, tensor<4x8x6xf16>)
      -> tensor<?x8xbf16>
  return
}

// -----

func.func @moe_experts_weights_type(%x: tensor<?x8xbf16>, %w: tensor<?x2xbf16>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xbf16>, %down: tensor<4x8x6xbf16>) {
  // expected-error @+1 {{expects weights to have element type 'f32' (router weights are fp32), got 'bf16'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x8xbf16>, tensor<?x2xbf16>, tensor<?x2xi32>, tensor<4x6x8xbf16>, tensor<4x8x6xbf16>)
      -> tensor<?x8xbf16>
  return
}

// -----

func.func @linear_residual_type(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>, %r: tensor<?x8xbf16>) {
  // expected-error @+1 {{expects residual to be 'tensor<?x4xbf16>' (same as the result), got 'tensor<?x8xbf16>'}}
  %y = sl.linear %x, %w residual(%r) : (tensor<?x8xbf16>, tensor<4x8xbf16>, tensor<?x8xbf16>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @moe_experts_shared_type(%x: tensor<?x8xbf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xbf16>, %down: tensor<4x8x6xbf16>, %s: tensor<?x8xf32>) {
  // expected-error @+1 {{expects shared to be 'tensor<?x8xbf16>' (same as x), got 'tensor<?x8xf32>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down shared(%s) activation(relu2)
      : (tensor<?x8xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xbf16>, tensor<4x8x6xbf16>,
         tensor<?x8xf32>) -> tensor<?x8xbf16>
  return
}

// -----

func.func @moe_experts_residual_type(%x: tensor<?x8xbf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>,
    %up: tensor<4x6x8xbf16>, %down: tensor<4x8x6xbf16>, %r: tensor<?x4xbf16>) {
  // expected-error @+1 {{expects residual to be 'tensor<?x8xbf16>' (same as x), got 'tensor<?x4xbf16>'}}
  %y = sl.moe_experts %x, %w, %i, %up, %down residual(%r) activation(relu2)
      : (tensor<?x8xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4x6x8xbf16>, tensor<4x8x6xbf16>,
         tensor<?x4xbf16>) -> tensor<?x8xbf16>
  return
}

// -----

func.func @linear_norm_without_epsilon(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>, %nw: tensor<8xbf16>) {
  // expected-error @+1 {{expects norm_epsilon exactly when a norm weight is given}}
  %y = sl.linear %x, %w norm(%nw) : (tensor<?x8xbf16>, tensor<4x8xbf16>, tensor<8xbf16>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_epsilon_without_norm(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>) {
  // expected-error @+1 {{expects norm_epsilon exactly when a norm weight is given}}
  %y = sl.linear %x, %w {norm_epsilon = 1.0e-05 : f64} : (tensor<?x8xbf16>, tensor<4x8xbf16>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_norm_size(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>, %nw: tensor<4xbf16>) {
  // expected-error @+1 {{expects dimension 0 of norm weight to be 8 (in features = last dimension of x), got 4}}
  %y = sl.linear %x, %w norm(%nw) {norm_epsilon = 1.0e-05 : f64} : (tensor<?x8xbf16>, tensor<4x8xbf16>, tensor<4xbf16>) -> tensor<?x4xbf16>
  return
}

// -----

func.func @linear_norm_epsilon(%x: tensor<?x8xbf16>, %w: tensor<4x8xbf16>, %nw: tensor<8xbf16>) {
  // expected-error @+1 {{expects norm_epsilon > 0, got 0.0}}
  %y = sl.linear %x, %w norm(%nw) {norm_epsilon = 0.0 : f64} : (tensor<?x8xbf16>, tensor<4x8xbf16>, tensor<8xbf16>) -> tensor<?x4xbf16>
  return
}
