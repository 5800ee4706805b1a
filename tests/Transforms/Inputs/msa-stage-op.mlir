// A stage op of sl.multi_step_attention written by hand: it has no kernels of its own.
#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, forward_factor = 1.0,
               search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 16, element_type = bf16>

func.func @prefill(%q1: tensor<?x64xbf16>, %c0: !kv) -> tensor<?x4x?xf32>
    attributes {sl.max_tokens = 64 : i64, sl.phase = "prefill"} {
  %s = sl.anchor_grid %q1, %c0 {config = #msa, num_heads = 4 : i64}
      : (tensor<?x64xbf16>, !kv) -> tensor<?x4x?xf32>
  return %s : tensor<?x4x?xf32>
}
