// RUN: slc-opt %s | slc-opt | FileCheck %s
// RUN: slc-opt %s --mlir-print-op-generic | slc-opt | FileCheck %s

// The slk dialect round-trips: a kernel specialisation, buffers, weights, a column view and
// launches (pointer, state-part, run-time and constant arguments; an output-rows launch).

// CHECK: slk.kernel @gemm_f32 {header = "sl_gemm.cuh", smem = 0 : i64, template_args = ["float"], template_name = "gemm", threads = 128 : i64}
slk.kernel @gemm_f32 {header = "sl_gemm.cuh", smem = 0 : i64, template_args = ["float"], template_name = "gemm", threads = 128 : i64}

// CHECK-LABEL: func.func @prefill
func.func @prefill(%cache: !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f32>) {
  // CHECK: %[[X:.*]] = slk.alloc {bytes = 1024 : i64, offset = 0 : i64} : memref<?x64xf32>
  %x = slk.alloc {bytes = 1024 : i64, offset = 0 : i64} : memref<?x64xf32>
  // CHECK: %[[W:.*]] = slk.weight "lm_head.weight" : memref<32x64xf32>
  %w = slk.weight "lm_head.weight" : memref<32x64xf32>
  %y = slk.alloc : memref<?x32xf32>
  // CHECK: slk.column_slice %[[X]] {offset = 16 : i64} : memref<?x64xf32> -> memref<?x16xf32, strided<[64, 1], offset: 16>>
  %v = slk.column_slice %x {offset = 16 : i64} : memref<?x64xf32> -> memref<?x16xf32, strided<[64, 1], offset: 16>>
  // CHECK: slk.launch @gemm_f32(%[[X]], %[[W]], %{{.*}}) {args = [0 : index, 64 : i32, 1 : index, "null", "null", 2 : index, 32 : i32, "n", 32 : i32, 64 : i32], grid = array<i64: 0, 1, 1, 1, 0, 128, 0, 1, 1>, row_bytes = array<i64: 256, 0, 0, 0, 0, 128, 0, 0, 0, 0>}
  slk.launch @gemm_f32(%x, %w, %y) {args = [0 : index, 64 : i32, 1 : index, "null", "null", 2 : index, 32 : i32, "n", 32 : i32, 64 : i32], grid = array<i64: 0, 1, 1, 1, 0, 128, 0, 1, 1>, row_bytes = array<i64: 256, 0, 0, 0, 0, 128, 0, 0, 0, 0>} : memref<?x64xf32>, memref<32x64xf32>, memref<?x32xf32>
  // CHECK: slk.launch @gemm_f32(%[[X]], %{{.*}}, %arg0) {args = [0 : index, 1 : index, [2 : index, "k"], "start", [2 : index, "anchor_offsets"], {{.*}} : f32], grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>}
  slk.launch @gemm_f32(%x, %v, %cache) {args = [0 : index, 1 : index, [2 : index, "k"], "start", [2 : index, "anchor_offsets"], 1.0e-05 : f32], grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>} : memref<?x64xf32>, memref<?x16xf32, strided<[64, 1], offset: 16>>, !sl.kv_cache<kv_heads = 2, head_dim = 4, element_type = f32>
  return
}
