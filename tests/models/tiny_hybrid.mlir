// The bundled example model parses, verifies, and round-trips in custom and generic form.
// RUN: slc-opt %models/tiny_hybrid.mlir > %t.custom.mlir
// RUN: slc-opt %t.custom.mlir > %t.again.mlir
// RUN: diff %t.custom.mlir %t.again.mlir
// RUN: slc-opt %models/tiny_hybrid.mlir --mlir-print-op-generic | slc-opt > %t.generic.mlir
// RUN: diff %t.custom.mlir %t.generic.mlir
// RUN: FileCheck %s < %t.custom.mlir
// RUN: slc compile %models/tiny_hybrid.mlir --stop-after=sl-lower-to-slk | FileCheck %s --check-prefix=WINDOW

// CHECK: func.func @forward(%{{.+}}: tensor<?xi32>, %{{.+}}: !mamba_state, %{{.+}}: !kv_cache) -> (tensor<?x256xf32>, tensor<?xi32>, !mamba_state, !kv_cache)
// CHECK: sl.embedding
// CHECK: sl.causal_conv1d
// CHECK: sl.ssd_scan
// CHECK: sl.gated_rms_norm
// CHECK: sl.moe_router
// CHECK: sl.moe_experts
// CHECK: sl.multi_step_attention
// CHECK: sl.lm_head
// CHECK: sl.sample

// The multi-step layer lowers with the window (3+1)^(1/0.5) - 1 = 15.
// WINDOW: slk.kernel @msa_window_attention_{{.*}}_w15_
