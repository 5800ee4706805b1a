// RUN: slc-opt %s --sl-lower-to-slk | FileCheck %s

// sl.multi_step_attention lowers as one op: its launch sequence (docs/kernels-msa.md) with every
// buffer passed between two launches an slk.alloc of the rule.

#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, forward_factor = 1.0,
               search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 16, element_type = bf16>

// CHECK-LABEL: func.func @prefill
// CHECK-SAME: (%[[Q1:[^:]+]]: memref<?x64xbf16>, %[[Q2:[^:]+]]: memref<?x64xbf16>, %[[K:[^:]+]]: memref<?x32xbf16>, %[[V:[^:]+]]: memref<?x32xbf16>, %[[C:[^:]+]]: !kv_cache {{{.*}}sl.msa = #sl.msa<sw_index = 3
// CHECK-NEXT: slk.launch @kv_append_bf16_kv2_d16_t128(%[[K]], %[[V]], %[[C]])
// Routing: top scores and inclusive span extents per (token, head, span).
// CHECK-NEXT: %[[TOP:.+]] = slk.alloc : memref<?x4x2xf32>
// CHECK-NEXT: %[[LO:.+]] = slk.alloc : memref<?x4x2xi32>
// CHECK-NEXT: %[[HI:.+]] = slk.alloc : memref<?x4x2xi32>
// CHECK-NEXT: slk.launch @msa_anchor_topk_bf16_h4_kv2_d16_k2_w15_nw4_q4_sp1(%[[Q1]], %[[C]], %[[TOP]], %[[LO]], %[[HI]])
// CHECK-SAME: "null", "null"]
// Window attention: its output and LSE, for max tokens (64) x 4 heads (x 16).
// CHECK-NEXT: %[[OW:.+]] = slk.alloc : memref<4096xbf16>
// CHECK-NEXT: %[[LSEW:.+]] = slk.alloc : memref<256xf32>
// CHECK-NEXT: slk.launch @msa_window_attention_bf16_h4_kv2_d16_w15_nw4(%[[Q2]], %[[C]], %[[OW]], %[[LSEW]])
// CHECK-NEXT: %[[ORDER:.+]] = slk.alloc : memref<512xi32>
// CHECK-NEXT: slk.launch @msa_span_order_h4_kv2_k2_b4096(%[[LO]], %[[HI]], %[[ORDER]])
// CHECK-NEXT: %[[OS:.+]] = slk.alloc : memref<?x4x2x16xbf16>
// CHECK-NEXT: %[[LSES:.+]] = slk.alloc : memref<?x4x2xf32>
// CHECK-NEXT: slk.launch @msa_span_attention_bf16_h4_kv2_d16_k2_nw4(%[[Q2]], %[[C]], %[[LO]], %[[HI]], %[[ORDER]], %[[OS]], %[[LSES]])
// CHECK-NEXT: %[[OUT:.+]] = slk.alloc : memref<?x64xbf16>
// CHECK-NEXT: slk.launch @msa_gate_merge_bf16_h4_d16_k2(%[[OW]], %[[LSEW]], %[[OS]], %[[LSES]], %[[TOP]], %[[OUT]])
// CHECK-NEXT: return %[[OUT]] : memref<?x64xbf16>
func.func @prefill(%q1: tensor<?x64xbf16>, %q2: tensor<?x64xbf16>, %k: tensor<?x32xbf16>,
                   %v: tensor<?x32xbf16>, %c0: !kv) -> (tensor<?x64xbf16>, !kv)
    attributes {sl.max_tokens = 64 : i64, sl.phase = "prefill"} {
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c0 {config = #msa, num_heads = 4 : i64}
      : (tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>, !kv)
      -> (tensor<?x64xbf16>, !kv)
  return %o, %c1 : tensor<?x64xbf16>, !kv
}

// Decode: the routing split 8 ways (head_dim < 64) leaves partial top-k lists; the split-K
// attention writes 4 window + 2 x 8 span pieces; the combine reads both.
// CHECK-LABEL: func.func @decode
// CHECK-SAME: (%[[Q1:[^:]+]]: memref<1x64xbf16>, %[[Q2:[^:]+]]: memref<1x64xbf16>, %[[K:[^:]+]]: memref<1x32xbf16>, %[[V:[^:]+]]: memref<1x32xbf16>, %[[C:[^:]+]]: !kv_cache
// CHECK-NEXT: slk.launch @kv_append_bf16_kv2_d16_t128(%[[K]], %[[V]], %[[C]])
// CHECK-NEXT: %[[PS:.+]] = slk.alloc : memref<64xf32>
// CHECK-NEXT: %[[PI:.+]] = slk.alloc : memref<64xi32>
// CHECK-NEXT: slk.launch @msa_anchor_topk_bf16_h4_kv2_d16_k2_w15_nw4_q1_sp8(%[[Q1]], %[[C]], %[[PS]], %[[PI]])
// CHECK-SAME: "null", "null", "null", 2 : index, 3 : index]
// CHECK-NEXT: %[[WO:.+]] = slk.alloc : memref<1280xf32>
// CHECK-NEXT: %[[WL:.+]] = slk.alloc : memref<80xf32>
// CHECK-NEXT: slk.launch @msa_decode_attention_bf16_h4_kv2_d16_k2_w15_sr8_sw4_ss8(%[[Q2]], %[[C]], %[[PS]], %[[PI]], %[[WO]], %[[WL]])
// CHECK-NEXT: %[[OUT:.+]] = slk.alloc : memref<1x64xbf16>
// CHECK-NEXT: slk.launch @msa_decode_combine_bf16_h4_d16_k2_sr8_sw4_ss8(%[[PS]], %[[PI]], %[[WO]], %[[WL]], %[[OUT]])
// CHECK-NEXT: return %[[OUT]] : memref<1x64xbf16>
func.func @decode(%q1: tensor<1x64xbf16>, %q2: tensor<1x64xbf16>, %k: tensor<1x32xbf16>,
                  %v: tensor<1x32xbf16>, %c0: !kv) -> (tensor<1x64xbf16>, !kv)
    attributes {sl.max_tokens = 1 : i64, sl.phase = "decode"} {
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c0 {config = #msa, num_heads = 4 : i64}
      : (tensor<1x64xbf16>, tensor<1x64xbf16>, tensor<1x32xbf16>, tensor<1x32xbf16>, !kv)
      -> (tensor<1x64xbf16>, !kv)
  return %o, %c1 : tensor<1x64xbf16>, !kv
}
