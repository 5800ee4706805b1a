// The multi-step attention layer of the superlinear Nemotron-3-Nano-30B-A3B on its own (32 query
// heads, 2 kv heads, head dim 128, bf16, the model's #sl.msa config): the attention-layer
// benchmark (tools/bench_attention.py) and the long-context CPU/CUDA check compile it. Named
// `forward` so that slc specialises it into prefill chunks and the fixed-shape decode path, as
// in the model.
#msa = #sl.msa<sw_index = 65, num_spans = 3, backward_factor = 3.0, forward_factor = 1.0,
               search_power = 0.55, span_power = 0.55>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 128, element_type = bf16>
func.func @forward(%q1: tensor<?x4096xbf16>, %q2: tensor<?x4096xbf16>, %k: tensor<?x256xbf16>,
                   %v: tensor<?x256xbf16>, %cache: !kv) -> (tensor<?x4096xbf16>, !kv) {
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %cache {config = #msa, num_heads = 32 : i64}
      : (tensor<?x4096xbf16>, tensor<?x4096xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, !kv)
      -> (tensor<?x4096xbf16>, !kv)
  return %o, %c1 : tensor<?x4096xbf16>, !kv
}
