// RUN: slc-opt %s --sl-emit-cuda --split-input-file --verify-diagnostics | FileCheck %s

// CHECK: slk.kernel @rms_norm_bf16_wbf16_h2688_t256 {header = "sl_norm.cuh", smem = 0 : i64, source = "#include \22sl_norm.cuh\22\0A\0Aextern \22C\22 __global__ void __launch_bounds__(256)\0Arms_norm_bf16_wbf16_h2688_t256(const slk::bf16 *x, const slk::bf16 *weight, slk::bf16 *y, slk::i32 n, float eps) {\0A  slk::rms_norm<slk::bf16, slk::bf16, 2688, 256>(x, weight, y, n, eps);\0A}\0A"
slk.kernel @rms_norm_bf16_wbf16_h2688_t256 {header = "sl_norm.cuh", smem = 0 : i64, template_args = ["slk::bf16", "slk::bf16", "2688", "256"], template_name = "rms_norm", threads = 256 : i64}

// -----

// expected-error @+1 {{sl-emit-cuda: unknown kernel template 'fused_everything'}}
slk.kernel @mystery {header = "sl_x.cuh", smem = 0 : i64, template_args = [], template_name = "fused_everything", threads = 32 : i64}
