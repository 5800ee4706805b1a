// Folders of the sl dialect.
// RUN: slc-opt %s -canonicalize | FileCheck %s

// A split into one piece is its operand.
// CHECK-LABEL: func @split_single_piece
// CHECK-SAME: (%[[X:.+]]: tensor<?x64xbf16>)
// CHECK-NOT: sl.split
// CHECK: return %[[X]]
func.func @split_single_piece(%x: tensor<?x64xbf16>) -> tensor<?x64xbf16> {
  %y = sl.split %x : tensor<?x64xbf16> -> tensor<?x64xbf16>
  return %y : tensor<?x64xbf16>
}

// A real split stays.
// CHECK-LABEL: func @split_two_pieces
// CHECK: sl.split
func.func @split_two_pieces(%x: tensor<?x64xbf16>) -> (tensor<?x16xbf16>, tensor<?x48xbf16>) {
  %a, %b = sl.split %x : tensor<?x64xbf16> -> tensor<?x16xbf16>, tensor<?x48xbf16>
  return %a, %b : tensor<?x16xbf16>, tensor<?x48xbf16>
}

// Unused pure ops (weights included) are removed.
// CHECK-LABEL: func @dead_weight
// CHECK-NOT: sl.weight
func.func @dead_weight() {
  %w = sl.weight "backbone.norm_f.weight" : tensor<64xbf16>
  return
}
