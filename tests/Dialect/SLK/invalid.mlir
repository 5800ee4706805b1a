// RUN: slc-opt %s -split-input-file -verify-diagnostics

// Negative tests of the slk dialect: one case per check of slk.launch's verifier.

slk.kernel @k {header = "h.cuh", smem = 0 : i64, template_args = [], template_name = "k", threads = 32 : i64}
func.func @unknown_kernel(%x: memref<?x4xf32>) {
  // expected-error @+1 {{references unknown kernel @missing}}
  slk.launch @missing(%x) {args = [0 : index], grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>} : memref<?x4xf32>
  return
}

// -----

slk.kernel @k {header = "h.cuh", smem = 0 : i64, template_args = [], template_name = "k", threads = 32 : i64}
func.func @grid_size(%x: memref<?x4xf32>) {
  // expected-error @+1 {{expects 9 grid integers (mul, add, div for x, y, z), got 3}}
  slk.launch @k(%x) {args = [0 : index], grid = array<i64: 1, 0, 1>} : memref<?x4xf32>
  return
}

// -----

slk.kernel @k {header = "h.cuh", smem = 0 : i64, template_args = [], template_name = "k", threads = 32 : i64}
func.func @grid_divisor(%x: memref<?x4xf32>) {
  // expected-error @+1 {{expects a positive divisor for grid dimension 1}}
  slk.launch @k(%x) {args = [0 : index], grid = array<i64: 1, 0, 1, 0, 1, 0, 0, 1, 1>} : memref<?x4xf32>
  return
}

// -----

slk.kernel @k {header = "h.cuh", smem = 0 : i64, template_args = [], template_name = "k", threads = 32 : i64}
func.func @operand_index(%x: memref<?x4xf32>) {
  // expected-error @+1 {{argument 1 : index is not an operand index < 1}}
  slk.launch @k(%x) {args = [1 : index], grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>} : memref<?x4xf32>
  return
}

// -----

slk.kernel @k {header = "h.cuh", smem = 0 : i64, template_args = [], template_name = "k", threads = 32 : i64}
func.func @state_part(%x: memref<?x4xf32>) {
  // expected-error @+1 {{expects a state part as [operand : index, "part"]}}
  slk.launch @k(%x) {args = [[0 : index]], grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>} : memref<?x4xf32>
  return
}

// -----

slk.kernel @k {header = "h.cuh", smem = 0 : i64, template_args = [], template_name = "k", threads = 32 : i64}
func.func @state_part_name(%x: memref<?x4xf32>) {
  // expected-error @+1 {{state argument [0 : index, "q"] names neither a state part (k, v, conv, ssm) nor a host table (anchor_offsets, num_stripes, span_reach)}}
  slk.launch @k(%x) {args = [[0 : index, "q"]], grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>} : memref<?x4xf32>
  return
}

// -----

slk.kernel @k {header = "h.cuh", smem = 0 : i64, template_args = [], template_name = "k", threads = 32 : i64}
func.func @runtime_value_name(%x: memref<?x4xf32>) {
  // expected-error @+1 {{run-time argument "anchor_offsets:0" is not one of n, start, cache_len, capacity, null, error_flag}}
  slk.launch @k(%x) {args = [0 : index, "anchor_offsets:0"], grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>} : memref<?x4xf32>
  return
}

// -----

slk.kernel @k {header = "h.cuh", smem = 0 : i64, template_args = [], template_name = "k", threads = 32 : i64}
func.func @row_bytes_count(%x: memref<?x4xf32>) {
  // expected-error @+1 {{expects one row_bytes entry per argument (2), got 1}}
  slk.launch @k(%x) {args = [0 : index, "n"], grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>, row_bytes = array<i64: 16>} : memref<?x4xf32>
  return
}

// -----

slk.kernel @k {header = "h.cuh", smem = 0 : i64, template_args = [], template_name = "k", threads = 32 : i64}
func.func @row_bytes_not_pointer(%x: memref<?x4xf32>) {
  // expected-error @+1 {{row_bytes 16 of argument 1: expects 0, or a positive row size of a pointer argument}}
  slk.launch @k(%x) {args = [0 : index, "n"], grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>, row_bytes = array<i64: 16, 16>} : memref<?x4xf32>
  return
}
