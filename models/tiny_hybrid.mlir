// A tiny hybrid model in the sl dialect, written by hand: one Mamba-2 layer, one MoE layer and
// one multi-step attention layer (pattern "ME*"), hidden 64, vocabulary 256. Weight names follow
// the Nemotron-H checkpoint layout (NEMOTRON_H.md); the Q1 projection of the multi-step layer is
// `mixer.q1_proj`. `tools/demo.sh` and the lit tests use it.
//
// Sizes: Mamba-2 with 8 heads x 8, 2 groups, state 16, conv kernel 4 (conv channels
// 64 + 2*2*16 = 128, in_proj 64 + 128 + 8 = 200); MoE with 8 experts, top-2, intermediate 32,
// shared intermediate 64; attention with 4 query heads, 2 kv heads, head_dim 16; multi-step
// window (3+1)^2 - 1 = 15 tokens, 2 spans.

#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, forward_factor = 1.0,
               search_power = 0.5, span_power = 0.5>
!mamba = !sl.mamba_state<heads = 8, head_dim = 8, groups = 2, state_size = 16, conv_kernel = 4,
                         conv_type = bf16, ssm_type = f32>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 16, element_type = bf16>

module attributes {sl.model_type = "superlinear-exp", sl.layers = "ME*"} {
  func.func @forward(%tokens: tensor<?xi32>, %mamba0: !mamba, %cache2: !kv)
      -> (tensor<?x256xf32>, tensor<?xi32>, !mamba, !kv) {
    %embeddings = sl.weight "backbone.embeddings.weight" : tensor<256x64xbf16>
    %h0 = sl.embedding %tokens, %embeddings : (tensor<?xi32>, tensor<256x64xbf16>)
        -> tensor<?x64xbf16>

    // Layer 0: Mamba-2.
    %l0_norm_w = sl.weight "backbone.layers.0.norm.weight" : tensor<64xbf16>
    %l0_x = sl.rms_norm %h0, %l0_norm_w {epsilon = 1.0e-05 : f64} : tensor<?x64xbf16>, tensor<64xbf16>
    %l0_in_w = sl.weight "backbone.layers.0.mixer.in_proj.weight" : tensor<200x64xbf16>
    %l0_proj = sl.linear %l0_x, %l0_in_w : (tensor<?x64xbf16>, tensor<200x64xbf16>)
        -> tensor<?x200xbf16>
    %l0_z, %l0_xbc, %l0_dt = sl.split %l0_proj : tensor<?x200xbf16>
        -> tensor<?x64xbf16>, tensor<?x128xbf16>, tensor<?x8xbf16>
    %l0_conv_w = sl.weight "backbone.layers.0.mixer.conv1d.weight" : tensor<128x1x4xbf16>
    %l0_conv_b = sl.weight "backbone.layers.0.mixer.conv1d.bias" : tensor<128xbf16>
    %l0_conv, %mamba1 = sl.causal_conv1d %l0_xbc, %mamba0, %l0_conv_w, %l0_conv_b activation(silu)
        : (tensor<?x128xbf16>, !mamba, tensor<128x1x4xbf16>, tensor<128xbf16>)
        -> (tensor<?x128xbf16>, !mamba)
    %l0_a_log = sl.weight "backbone.layers.0.mixer.A_log" : tensor<8xf32>
    %l0_d = sl.weight "backbone.layers.0.mixer.D" : tensor<8xf32>
    %l0_dt_bias = sl.weight "backbone.layers.0.mixer.dt_bias" : tensor<8xf32>
    %l0_y, %mamba2 = sl.ssd_scan %l0_conv, %l0_dt, %mamba1 params(%l0_a_log, %l0_d, %l0_dt_bias)
        {chunk_size = 128 : i64}
        : (tensor<?x128xbf16>, tensor<?x8xbf16>, !mamba, tensor<8xf32>, tensor<8xf32>,
           tensor<8xf32>) -> (tensor<?x64xbf16>, !mamba)
    %l0_gnorm_w = sl.weight "backbone.layers.0.mixer.norm.weight" : tensor<64xbf16>
    %l0_gated = sl.gated_rms_norm %l0_y, %l0_z, %l0_gnorm_w {epsilon = 1.0e-05 : f64, group_size = 32 : i64}
        : tensor<?x64xbf16>, tensor<64xbf16>
    %l0_out_w = sl.weight "backbone.layers.0.mixer.out_proj.weight" : tensor<64x64xbf16>
    %l0_out = sl.linear %l0_gated, %l0_out_w : (tensor<?x64xbf16>, tensor<64x64xbf16>)
        -> tensor<?x64xbf16>
    %h1 = sl.add %h0, %l0_out : tensor<?x64xbf16>

    // Layer 1: MoE (8 routed experts, top-2, one shared expert).
    %l1_norm_w = sl.weight "backbone.layers.1.norm.weight" : tensor<64xbf16>
    %l1_x = sl.rms_norm %h1, %l1_norm_w {epsilon = 1.0e-05 : f64} : tensor<?x64xbf16>, tensor<64xbf16>
    %l1_gate_w = sl.weight "backbone.layers.1.mixer.gate.weight" : tensor<8x64xbf16>
    %l1_bias = sl.weight "backbone.layers.1.mixer.gate.e_score_correction_bias" : tensor<8xf32>
    %l1_wts, %l1_ids = sl.moe_router %l1_x, %l1_gate_w, %l1_bias
        {norm_topk_prob, routed_scaling_factor = 2.5 : f64, top_k = 2 : i64}
        : (tensor<?x64xbf16>, tensor<8x64xbf16>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
    %l1_up = sl.weight "backbone.layers.1.mixer.experts.{e}.up_proj.weight" : tensor<8x32x64xbf16>
    %l1_down = sl.weight "backbone.layers.1.mixer.experts.{e}.down_proj.weight" : tensor<8x64x32xbf16>
    %l1_routed = sl.moe_experts %l1_x, %l1_wts, %l1_ids, %l1_up, %l1_down activation(relu2)
        : (tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x32x64xbf16>,
           tensor<8x64x32xbf16>) -> tensor<?x64xbf16>
    %l1_sh_up_w = sl.weight "backbone.layers.1.mixer.shared_experts.up_proj.weight" : tensor<64x64xbf16>
    %l1_sh_up = sl.linear %l1_x, %l1_sh_up_w : (tensor<?x64xbf16>, tensor<64x64xbf16>)
        -> tensor<?x64xbf16>
    %l1_sh_act = sl.activation relu2 %l1_sh_up : tensor<?x64xbf16>
    %l1_sh_down_w = sl.weight "backbone.layers.1.mixer.shared_experts.down_proj.weight" : tensor<64x64xbf16>
    %l1_shared = sl.linear %l1_sh_act, %l1_sh_down_w : (tensor<?x64xbf16>, tensor<64x64xbf16>)
        -> tensor<?x64xbf16>
    %l1_out = sl.add %l1_routed, %l1_shared : tensor<?x64xbf16>
    %h2 = sl.add %h1, %l1_out : tensor<?x64xbf16>

    // Layer 2: multi-step attention (4 query heads, 2 kv heads, head_dim 16).
    %l2_norm_w = sl.weight "backbone.layers.2.norm.weight" : tensor<64xbf16>
    %l2_x = sl.rms_norm %h2, %l2_norm_w {epsilon = 1.0e-05 : f64} : tensor<?x64xbf16>, tensor<64xbf16>
    %l2_q1_w = sl.weight "backbone.layers.2.mixer.q1_proj.weight" : tensor<64x64xbf16>
    %l2_q1 = sl.linear %l2_x, %l2_q1_w : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
    %l2_q_w = sl.weight "backbone.layers.2.mixer.q_proj.weight" : tensor<64x64xbf16>
    %l2_q2 = sl.linear %l2_x, %l2_q_w : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
    %l2_k_w = sl.weight "backbone.layers.2.mixer.k_proj.weight" : tensor<32x64xbf16>
    %l2_k = sl.linear %l2_x, %l2_k_w : (tensor<?x64xbf16>, tensor<32x64xbf16>) -> tensor<?x32xbf16>
    %l2_v_w = sl.weight "backbone.layers.2.mixer.v_proj.weight" : tensor<32x64xbf16>
    %l2_v = sl.linear %l2_x, %l2_v_w : (tensor<?x64xbf16>, tensor<32x64xbf16>) -> tensor<?x32xbf16>
    %l2_attn, %cache3 = sl.multi_step_attention %l2_q1, %l2_q2, %l2_k, %l2_v, %cache2
        {config = #msa, num_heads = 4 : i64}
        : (tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>, !kv)
        -> (tensor<?x64xbf16>, !kv)
    %l2_o_w = sl.weight "backbone.layers.2.mixer.o_proj.weight" : tensor<64x64xbf16>
    %l2_out = sl.linear %l2_attn, %l2_o_w : (tensor<?x64xbf16>, tensor<64x64xbf16>)
        -> tensor<?x64xbf16>
    %h3 = sl.add %h2, %l2_out : tensor<?x64xbf16>

    // Final norm, vocabulary projection, next token.
    %norm_f_w = sl.weight "backbone.norm_f.weight" : tensor<64xbf16>
    %hf = sl.rms_norm %h3, %norm_f_w {epsilon = 1.0e-05 : f64} : tensor<?x64xbf16>, tensor<64xbf16>
    %lm_w = sl.weight "lm_head.weight" : tensor<256x64xbf16>
    %logits = sl.lm_head %hf, %lm_w : (tensor<?x64xbf16>, tensor<256x64xbf16>) -> tensor<?x256xf32>
    %next = sl.sample %logits : tensor<?x256xf32> -> tensor<?xi32>
    return %logits, %next, %mamba2, %cache3 : tensor<?x256xf32>, tensor<?xi32>, !mamba, !kv
  }
}
