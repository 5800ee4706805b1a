// One multi-step attention layer named forward: slc specialises it into prefill + decode.
#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, forward_factor = 1.0,
               search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 16, element_type = f32>
func.func @forward(%q1: tensor<?x64xf32>, %q2: tensor<?x64xf32>, %k: tensor<?x32xf32>,
                     %v: tensor<?x32xf32>, %cache: !kv) -> (tensor<?x64xf32>, !kv) {
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %cache {config = #msa, num_heads = 4 : i64}
      : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x32xf32>, tensor<?x32xf32>, !kv)
      -> (tensor<?x64xf32>, !kv)
  return %o, %c1 : tensor<?x64xf32>, !kv
}
