// RUN: slc-opt %s --sl-lower-to-slk | FileCheck %s
// RUN: slc-opt %s --sl-lower-to-slk | FileCheck %s --check-prefix=NORM

// NORM: slk.kernel @gemv_rmsnorm_bf16_nwbf16_outbf16_w4_m1 {header = "sl_gemv_norm.cuh", smem = 128 : i64

!mamba = !sl.mamba_state<heads = 8, head_dim = 8, groups = 2, state_size = 16, conv_kernel = 4,
                         conv_type = bf16, ssm_type = f32>

// Kernels are declared once, in order of first use, with their specialisation in the name.
// CHECK: slk.kernel @rms_norm_bf16_wbf16_h64_t32 {header = "sl_norm.cuh", smem = 0 : i64, template_args = ["slk::bf16", "slk::bf16", "64", "32"], template_name = "rms_norm", threads = 32 : i64}
// CHECK: slk.kernel @gemm_bf16_outbf16_bm64_bn128_bk32_s3_wm2_wn4 {header = "sl_gemm.cuh", smem = 46080 : i64
// CHECK: slk.kernel @causal_conv1d_bf16_wbf16_sbf16_c128_k4_bias_actsilu_t128_tok32
// CHECK: slk.kernel @conv_state_update_bf16_sbf16_c128_k4_t128

// The state argument stays; its result disappears (updated in place) and it records its layer.
// CHECK: func.func @prefill(%[[X:[^:]+]]: memref<?x64xbf16>, %[[S:[^:]+]]: !mamba_state {sl.location = "backbone.layers.0.mixer"}) -> memref<?x128xbf16>
// CHECK: %[[NW:.+]] = slk.weight "norm" : memref<64xbf16>
// CHECK: %[[N:.+]] = slk.alloc : memref<?x64xbf16>
// CHECK: slk.launch @rms_norm_bf16_wbf16_h64_t32(%[[X]], %[[NW]], %[[N]]) {args = [0 : index, 1 : index, 2 : index, "n", 9.99999974E-6 : f32], grid = array<i64: 1, 0, 1, 0, 1, 1, 0, 1, 1>}
// CHECK: %[[P:.+]] = slk.alloc : memref<?x200xbf16>
// gemm: a, lda, w, bias, residual, c, ldc, m, n, k; grid (ceil(200/128), ceil(n/64)).
// CHECK: slk.launch @gemm_bf16_outbf16_bm64_bn128_bk32_s3_wm2_wn4(%[[N]], %{{.+}}, %[[P]]) {args = [0 : index, 64 : i32, 1 : index, "null", "null", 2 : index, 200 : i32, "n", 200 : i32, 64 : i32], grid = array<i64: 0, 2, 1, 1, 0, 64, 0, 1, 1>}
// sl.split becomes views, no copy.
// CHECK: slk.column_slice %[[P]] {offset = 0 : i64} : memref<?x200xbf16> -> memref<?x64xbf16, strided<[200, 1]>>
// CHECK: %[[XBC:.+]] = slk.column_slice %[[P]] {offset = 64 : i64} : memref<?x200xbf16> -> memref<?x128xbf16, strided<[200, 1], offset: 64>>
// CHECK: %[[Y:.+]] = slk.alloc : memref<?x128xbf16>
// The conv reads the state's conv part and a strided view (ldx = 200); then the state is advanced.
// CHECK: slk.launch @causal_conv1d_{{.*}}(%[[XBC]], %{{.+}}, %{{.+}}, %[[S]], %[[Y]]) {args = [0 : index, 200 : i32, 1 : index, 2 : index, [3 : index, "conv"], 4 : index, 128 : i32, "n"], grid = array<i64: 0, 1, 1, 1, 0, 32, 0, 1, 1>}
// CHECK: slk.launch @conv_state_update_{{.*}}(%[[XBC]], %[[S]]) {args = [0 : index, 200 : i32, [1 : index, "conv"], "n"]
// CHECK: return %[[Y]] : memref<?x128xbf16>
func.func @prefill(%x: tensor<?x64xbf16>, %s0: !mamba) -> (tensor<?x128xbf16>, !mamba)
    attributes {sl.max_tokens = 64 : i64, sl.phase = "prefill"} {
  %nw = sl.weight "norm" : tensor<64xbf16>
  %n = sl.rms_norm %x, %nw {epsilon = 1.0e-05 : f64} : tensor<?x64xbf16>, tensor<64xbf16>
  %w = sl.weight "in_proj" : tensor<200x64xbf16>
  %p = sl.linear %n, %w {sl.kernel = "gemm", sl.tiles = {bk = 32 : i64, bm = 64 : i64, bn = 128 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 4 : i64}}
      : (tensor<?x64xbf16>, tensor<200x64xbf16>) -> tensor<?x200xbf16>
  %z, %xbc, %dt = sl.split %p : tensor<?x200xbf16> -> tensor<?x64xbf16>, tensor<?x128xbf16>, tensor<?x8xbf16>
  %cw = sl.weight "conv.weight" : tensor<128x1x4xbf16>
  %cb = sl.weight "conv.bias" : tensor<128xbf16>
  %y, %s1 = sl.causal_conv1d %xbc, %s0, %cw, %cb activation(silu)
      : (tensor<?x128xbf16>, !mamba, tensor<128x1x4xbf16>, tensor<128xbf16>) -> (tensor<?x128xbf16>, !mamba)
      loc("backbone.layers.0.mixer")
  return %y, %s1 : tensor<?x128xbf16>, !mamba
}

// A projection with a fused norm: the decode step normalises in the GEMV's prologue
// (gemv_rmsnorm, dynamic shared memory = the normalised row).
// NORM-LABEL: func.func @decode
// NORM: slk.launch @gemv_rmsnorm_bf16_nwbf16_outbf16_w4_m1(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}) {args = [0 : index, 64 : i32, 1 : index, 9.99999974E-6 : f32, 2 : index, "null", "null", 3 : index, 64 : i32, "n", 64 : i32, 64 : i32]
func.func @decode(%h: tensor<1x64xbf16>, %nw: tensor<64xbf16>, %w: tensor<64x64xbf16>)
    -> tensor<1x64xbf16> attributes {sl.max_tokens = 1 : i64, sl.phase = "decode"} {
  %y = sl.linear %h, %w norm(%nw) {norm_epsilon = 1.0e-05 : f64, sl.kernel = "gemv", sl.tiles = {max_m = 1 : i64, warps = 4 : i64}}
      : (tensor<1x64xbf16>, tensor<64x64xbf16>, tensor<64xbf16>) -> tensor<1x64xbf16>
  return %y : tensor<1x64xbf16>
}

// In prefill the projections sharing a fused norm share one rms_norm launch.
// NORM-LABEL: func.func @prefill_shared_norm
// NORM: slk.launch @rms_norm_
// NORM-NOT: slk.launch @rms_norm_
// NORM: slk.launch @gemm_
// NORM-NOT: slk.launch @rms_norm_
// NORM: slk.launch @gemm_
func.func @prefill_shared_norm(%h: tensor<?x64xbf16>, %nw: tensor<64xbf16>, %wq: tensor<64x64xbf16>,
    %wk: tensor<64x64xbf16>) -> (tensor<?x64xbf16>, tensor<?x64xbf16>)
    attributes {sl.max_tokens = 64 : i64, sl.phase = "prefill"} {
  %q = sl.linear %h, %wq norm(%nw) {norm_epsilon = 1.0e-05 : f64, sl.kernel = "gemm", sl.tiles = {bk = 32 : i64, bm = 64 : i64, bn = 64 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 2 : i64}}
      : (tensor<?x64xbf16>, tensor<64x64xbf16>, tensor<64xbf16>) -> tensor<?x64xbf16>
  %k = sl.linear %h, %wk norm(%nw) {norm_epsilon = 1.0e-05 : f64, sl.kernel = "gemm", sl.tiles = {bk = 32 : i64, bm = 64 : i64, bn = 64 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 2 : i64}}
      : (tensor<?x64xbf16>, tensor<64x64xbf16>, tensor<64xbf16>) -> tensor<?x64xbf16>
  return %q, %k : tensor<?x64xbf16>, tensor<?x64xbf16>
}
