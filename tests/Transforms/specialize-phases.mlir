// RUN: slc-opt %s --sl-specialize-phases=prefill-chunk=128 | FileCheck %s
// RUN: slc-opt %s --sl-specialize-phases=function=other | FileCheck %s --check-prefix=OTHER

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 16, element_type = bf16>

// CHECK-NOT: func.func @forward
// CHECK-LABEL: func.func @prefill(%{{.+}}: tensor<?xi32>, %{{.+}}: !kv_cache) -> (tensor<?x256xf32>, !kv_cache)
// CHECK-SAME: attributes {sl.max_tokens = 128 : i64, sl.phase = "prefill"}
// CHECK: sl.embedding {{.*}} -> tensor<?x64xbf16>
// CHECK: sl.multi_step_attention {{.*}} -> (tensor<?x64xbf16>, !kv_cache)
// CHECK-LABEL: func.func @decode(%{{.+}}: tensor<1xi32>, %{{.+}}: !kv_cache) -> (tensor<1x256xf32>, !kv_cache)
// CHECK-SAME: attributes {sl.max_tokens = 1 : i64, sl.phase = "decode"}
// CHECK: sl.embedding {{.*}} -> tensor<1x64xbf16>
// CHECK: sl.multi_step_attention {{.*}} -> (tensor<1x64xbf16>, !kv_cache)
// CHECK: sl.lm_head {{.*}} -> tensor<1x256xf32>
// Without a model function of that name, functions keep their name and token dimension.
// OTHER: func.func @forward(%{{.+}}: tensor<?xi32>, %{{.+}}: !kv_cache) -> (tensor<?x256xf32>, !kv_cache) attributes {sl.max_tokens = 4096 : i64, sl.phase = "function"}
// OTHER-NOT: @decode
#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, forward_factor = 1.0,
               search_power = 0.5, span_power = 0.5>
func.func @forward(%tokens: tensor<?xi32>, %c0: !kv) -> (tensor<?x256xf32>, !kv) {
  %table = sl.weight "backbone.embeddings.weight" : tensor<256x64xbf16>
  %h = sl.embedding %tokens, %table : (tensor<?xi32>, tensor<256x64xbf16>) -> tensor<?x64xbf16>
  %wk = sl.weight "k" : tensor<32x64xbf16>
  %k = sl.linear %h, %wk : (tensor<?x64xbf16>, tensor<32x64xbf16>) -> tensor<?x32xbf16>
  %o, %c1 = sl.multi_step_attention %h, %h, %k, %k, %c0 {config = #msa, num_heads = 4 : i64}
      : (tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>, !kv)
      -> (tensor<?x64xbf16>, !kv)
  %lm = sl.weight "lm_head.weight" : tensor<256x64xbf16>
  %logits = sl.lm_head %o, %lm : (tensor<?x64xbf16>, tensor<256x64xbf16>) -> tensor<?x256xf32>
  return %logits, %c1 : tensor<?x256xf32>, !kv
}
