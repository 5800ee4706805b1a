// RUN: slc-opt %s --sl-lower-to-slk | FileCheck %s

// A gated norm whose group is split over ranks (sl-shard-graph's shared_group: this rank holds
// 32 channels of group 1 of 2): the rank's sum of squares into column 1 of a [tokens, 2] fp32
// buffer, the all-reduce of that buffer, then the norm with the whole group's 64 channels.
// CHECK-LABEL: func.func @prefill
// CHECK: %[[SUMS:.+]] = slk.alloc : memref<?x2xf32>
// CHECK-NEXT: slk.launch @gated_sum_squares_f32_c32_g32_t32(%{{.+}}, %{{.+}}, %[[SUMS]]) {args = [0 : index, 32 : i32, 1 : index, 32 : i32, 2 : index, 2 : i32, 1 : i32, "n"], grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>}
// CHECK-NEXT: slk.all_reduce %[[SUMS]] : memref<?x2xf32>
// CHECK: slk.launch @gated_rms_norm_sums_f32_wf32_c32_g32_t32(%{{.+}}, %{{.+}}, %{{.+}}, %[[SUMS]], %{{.+}}) {args = [0 : index, 32 : i32, 1 : index, 32 : i32, 2 : index, 3 : index, 2 : i32, 1 : i32, 4 : index, "n", 9.99999974E-6 : f32, 64 : i32]
func.func @prefill(%y: tensor<?x32xf32>, %z: tensor<?x32xf32>) -> tensor<?x32xf32>
    attributes {sl.max_tokens = 16 : i64, sl.phase = "prefill"} {
  %w = sl.weight "norm" {checkpoint_shape = array<i64: 128>, ranges = array<i64: 0, 96, 32>} : tensor<32xf32>
  %n = sl.gated_rms_norm %y, %z, %w {epsilon = 1.0e-05 : f64, group_size = 32 : i64, shared_group = array<i64: 2, 1, 2>} : tensor<?x32xf32>, tensor<32xf32>
  return %n : tensor<?x32xf32>
}
