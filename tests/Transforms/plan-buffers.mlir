// RUN: slc-opt %s --sl-plan-buffers | FileCheck %s

// A chain a -> b -> c -> d of 64-token buffers: a buffer is reused once the launch that reads it
// last has run; buffers a launch reads and writes never share memory; the output lives to the end.
// CHECK-LABEL: func.func @chain
// CHECK-SAME: slk.arena_bytes = 16384 : i64
// CHECK: %[[A:.+]] = slk.alloc {bytes = 8192 : i64, offset = [[OA:[0-9]+]] : i64}
// CHECK: %[[B:.+]] = slk.alloc {bytes = 8192 : i64, offset = [[OB:[0-9]+]] : i64}
// CHECK: %[[C:.+]] = slk.alloc {bytes = 8192 : i64, offset = [[OA]] : i64}
// CHECK: %[[D:.+]] = slk.alloc {bytes = 8192 : i64, offset = [[OB]] : i64}
slk.kernel @copy {header = "sl_elementwise.cuh", smem = 0 : i64, template_args = ["slk::bf16", "64", "slk::kActSilu", "256"], template_name = "activation", threads = 256 : i64}
func.func @chain(%x: memref<?x64xbf16>) -> memref<?x64xbf16>
    attributes {sl.max_tokens = 64 : i64, sl.phase = "prefill"} {
  %a = slk.alloc : memref<?x64xbf16>
  slk.launch @copy(%x, %a) {args = [0 : index, 1 : index, "n"], grid = array<i64: 64, 0, 1024, 0, 1, 1, 0, 1, 1>} : memref<?x64xbf16>, memref<?x64xbf16>
  %b = slk.alloc : memref<?x64xbf16>
  slk.launch @copy(%a, %b) {args = [0 : index, 1 : index, "n"], grid = array<i64: 64, 0, 1024, 0, 1, 1, 0, 1, 1>} : memref<?x64xbf16>, memref<?x64xbf16>
  %c = slk.alloc : memref<?x64xbf16>
  slk.launch @copy(%b, %c) {args = [0 : index, 1 : index, "n"], grid = array<i64: 64, 0, 1024, 0, 1, 1, 0, 1, 1>} : memref<?x64xbf16>, memref<?x64xbf16>
  %d = slk.alloc : memref<?x64xbf16>
  slk.launch @copy(%c, %d) {args = [0 : index, 1 : index, "n"], grid = array<i64: 64, 0, 1024, 0, 1, 1, 0, 1, 1>} : memref<?x64xbf16>, memref<?x64xbf16>
  return %d : memref<?x64xbf16>
}

// A view keeps its source alive until the view's last use.
// CHECK-LABEL: func.func @view
// CHECK: %[[P:.+]] = slk.alloc {bytes = 256 : i64, offset = [[OP:[0-9]+]] : i64} : memref<1x128xbf16>
// CHECK: %[[Q:.+]] = slk.alloc {bytes = 128 : i64, offset = [[OQ:[0-9]+]] : i64} : memref<1x64xbf16>
// CHECK: slk.alloc {bytes = 128 : i64, offset = {{[0-9]+}} : i64} : memref<1x64xbf16>
// CHECK-NOT: offset = [[OP]] :
func.func @view(%x: memref<1x64xbf16>) -> memref<1x64xbf16>
    attributes {sl.max_tokens = 1 : i64, sl.phase = "decode"} {
  %p = slk.alloc : memref<1x128xbf16>
  slk.launch @copy(%x, %p) {args = [0 : index, 1 : index, "n"], grid = array<i64: 64, 0, 1024, 0, 1, 1, 0, 1, 1>} : memref<1x64xbf16>, memref<1x128xbf16>
  %v = slk.column_slice %p {offset = 64 : i64} : memref<1x128xbf16> -> memref<1x64xbf16, strided<[128, 1], offset: 64>>
  %q = slk.alloc : memref<1x64xbf16>
  slk.launch @copy(%x, %q) {args = [0 : index, 1 : index, "n"], grid = array<i64: 64, 0, 1024, 0, 1, 1, 0, 1, 1>} : memref<1x64xbf16>, memref<1x64xbf16>
  %r = slk.alloc : memref<1x64xbf16>
  slk.launch @copy(%v, %r) {args = [0 : index, 1 : index, "n"], grid = array<i64: 64, 0, 1024, 0, 1, 1, 0, 1, 1>} : memref<1x64xbf16, strided<[128, 1], offset: 64>>, memref<1x64xbf16>
  return %r : memref<1x64xbf16>
}
