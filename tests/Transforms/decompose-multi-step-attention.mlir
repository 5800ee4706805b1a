// RUN: slc-opt %s --sl-decompose-multi-step-attention | FileCheck %s

#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, forward_factor = 1.0,
               search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 16, element_type = bf16>

// CHECK-LABEL: func @layer
// CHECK-SAME: (%[[Q1:[^:]+]]: tensor<?x64xbf16>, %[[Q2:[^:]+]]: tensor<?x64xbf16>, %[[K:[^:]+]]: tensor<?x32xbf16>, %[[V:[^:]+]]: tensor<?x32xbf16>, %[[C0:[^:]+]]: !kv_cache)
// CHECK-NOT: sl.multi_step_attention
// CHECK: %[[C1:.+]] = sl.kv_append %[[K]], %[[V]], %[[C0]]
// CHECK: %[[S:.+]] = sl.anchor_grid %[[Q1]], %[[C1]] {config = #msa, num_heads = 4 : i64} : (tensor<?x64xbf16>, !kv_cache) -> tensor<?x4x?xf32>
// CHECK: %[[TOP:[^,]+]], %[[LO:[^,]+]], %[[HI:[^ ]+]] = sl.route_topk %[[S]], %[[C1]] {config = #msa} : {{.*}} -> (tensor<?x4x2xf32>, tensor<?x4x2xi32>, tensor<?x4x2xi32>)
// The window is derived from sw_index = 3 and search_power = 0.5: (3 + 1)^2 - 1 = 15.
// CHECK: %[[OUTS:[^,]+]], %{{.+}} = sl.segment_attention %[[Q2]], %[[C1]], %[[LO]], %[[HI]] {config = #msa, num_heads = 4 : i64, window = 15 : i64} : {{.*}} -> (tensor<?x4x2x16xbf16>, tensor<?x4x2xf32>)
// CHECK: %[[O:.+]] = sl.gate_combine %[[OUTS]], %[[TOP]] : (tensor<?x4x2x16xbf16>, tensor<?x4x2xf32>) -> tensor<?x64xbf16>
// CHECK: return %[[O]], %[[C1]]
func.func @layer(%q1: tensor<?x64xbf16>, %q2: tensor<?x64xbf16>, %k: tensor<?x32xbf16>,
                 %v: tensor<?x32xbf16>, %c0: !kv) -> (tensor<?x64xbf16>, !kv) {
  %o, %c1 = sl.multi_step_attention %q1, %q2, %k, %v, %c0 {config = #msa, num_heads = 4 : i64}
      : (tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?x32xbf16>, tensor<?x32xbf16>, !kv)
      -> (tensor<?x64xbf16>, !kv)
  return %o, %c1 : tensor<?x64xbf16>, !kv
}
