// Shapes and tiles the kernel library supports pass through unchanged; each unsupported one is an
// error at its op naming the dimension or tile, its value and the supported range.
// RUN: slc-opt %s --split-input-file --sl-check-kernel-shapes --verify-diagnostics | FileCheck %s

!kv = !sl.kv_cache<kv_heads = 2, head_dim = 128, element_type = bf16>
!mamba = !sl.mamba_state<heads = 8, head_dim = 80, groups = 2, state_size = 128, conv_kernel = 4,
                         conv_type = bf16, ssm_type = f32>
#msa = #sl.msa<sw_index = 3, num_spans = 8, backward_factor = 3.0, forward_factor = 1.0,
               search_power = 0.5, span_power = 0.5>

// CHECK-LABEL: func.func @prefill
// CHECK: sl.linear {{.*}}sl.kernel = "gemm", sl.tile_source = "heuristic", sl.tiles = {bk = 32 : i64, bm = 128 : i64, bn = 128 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 4 : i64}
// CHECK: sl.linear {{.*}}sl.tiles = {bk = 16 : i64, bm = 64 : i64, bn = 64 : i64, stages = 2 : i64, warps_m = 2 : i64, warps_n = 2 : i64}
// CHECK: sl.dense_attention {{.*}}sl.kernel = "attention_prefill", sl.tiles = {bm = 64 : i64, bn = 64 : i64}
// CHECK: sl.moe_router
// CHECK: sl.moe_experts {{.*}}sl.kernel = "moe_grouped"
// CHECK: sl.causal_conv1d
// CHECK: sl.ssd_scan {{.*}}sl.kernel = "ssd_scan", sl.tiles = {chunk = 128 : i64}
// CHECK: sl.multi_step_attention
func.func @prefill(%x: tensor<?x2688xbf16>, %w: tensor<10304x2688xbf16>, %xf: tensor<?x100xf32>,
    %wf: tensor<24x100xf32>, %q: tensor<?x4096xbf16>, %k: tensor<?x256xbf16>,
    %c0: !kv, %gate: tensor<128x2688xbf16>, %bias: tensor<128xf32>,
    %up: tensor<128x1856x2688xbf16>, %down: tensor<128x2688x1856xbf16>,
    %xbc: tensor<?x1152xbf16>, %s0: !mamba, %cw: tensor<1152x1x4xbf16>, %dt: tensor<?x8xbf16>,
    %a: tensor<8xf32>, %d: tensor<8xf32>, %dtb: tensor<8xf32>, %q1: tensor<?x4096xbf16>)
    attributes {sl.max_tokens = 4096 : i64} {
  %y = sl.linear %x, %w {sl.kernel = "gemm", sl.tile_source = "heuristic", sl.tiles = {bk = 32 : i64, bm = 128 : i64, bn = 128 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 4 : i64}}
      : (tensor<?x2688xbf16>, tensor<10304x2688xbf16>) -> tensor<?x10304xbf16>
  // fp32 runs the FMA path: any k.
  %yf = sl.linear %xf, %wf {sl.kernel = "gemm", sl.tiles = {bk = 16 : i64, bm = 64 : i64, bn = 64 : i64, stages = 2 : i64, warps_m = 2 : i64, warps_n = 2 : i64}}
      : (tensor<?x100xf32>, tensor<24x100xf32>) -> tensor<?x24xf32>
  %o, %c1 = sl.dense_attention %q, %k, %k, %c0 {num_heads = 32 : i64, sl.kernel = "attention_prefill", sl.tiles = {bm = 64 : i64, bn = 64 : i64}}
      : (tensor<?x4096xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, !kv) -> (tensor<?x4096xbf16>, !kv)
  %rw, %ri = sl.moe_router %x, %gate, %bias {top_k = 6 : i64, routed_scaling_factor = 2.5 : f64}
      : (tensor<?x2688xbf16>, tensor<128x2688xbf16>, tensor<128xf32>) -> (tensor<?x6xf32>, tensor<?x6xi32>)
  %e = sl.moe_experts %x, %rw, %ri, %up, %down activation(relu2) {sl.kernel = "moe_grouped", sl.tiles = {bk = 64 : i64, bm = 128 : i64, bn = 128 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 4 : i64}}
      : (tensor<?x2688xbf16>, tensor<?x6xf32>, tensor<?x6xi32>, tensor<128x1856x2688xbf16>, tensor<128x2688x1856xbf16>) -> tensor<?x2688xbf16>
  %cv, %s1 = sl.causal_conv1d %xbc, %s0, %cw activation(silu)
      : (tensor<?x1152xbf16>, !mamba, tensor<1152x1x4xbf16>) -> (tensor<?x1152xbf16>, !mamba)
  %ys, %s2 = sl.ssd_scan %cv, %dt, %s1 params(%a, %d, %dtb) {chunk_size = 256 : i64, sl.kernel = "ssd_scan", sl.tiles = {chunk = 128 : i64}}
      : (tensor<?x1152xbf16>, tensor<?x8xbf16>, !mamba, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x640xbf16>, !mamba)
  %m, %c2 = sl.multi_step_attention %q1, %q, %k, %k, %c1 {config = #msa, num_heads = 32 : i64}
      : (tensor<?x4096xbf16>, tensor<?x4096xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, !kv) -> (tensor<?x4096xbf16>, !kv)
  return
}

// CHECK-LABEL: func.func @decode
// CHECK: sl.linear {{.*}}sl.kernel = "gemv", sl.tiles = {max_m = 1 : i64, warps = 4 : i64}
// CHECK: sl.dense_attention {{.*}}sl.kernel = "attention_decode", sl.tiles = {bn = 32 : i64, splits = 64 : i64, warps = 4 : i64}
// CHECK: sl.moe_router
// CHECK: sl.moe_experts {{.*}}sl.kernel = "moe_decode", sl.tiles = {warps = 8 : i64}
// CHECK: sl.ssd_scan {{.*}}sl.kernel = "ssd_step", sl.tiles = {rows = 4 : i64}
func.func @decode(%x: tensor<1x2688xbf16>, %w: tensor<10304x2688xbf16>, %nw: tensor<2688xbf16>,
    %q: tensor<1x4096xbf16>, %k: tensor<1x256xbf16>, %c0: !kv, %gate: tensor<128x2688xbf16>,
    %bias: tensor<128xf32>, %up: tensor<128x1856x2688xbf16>, %down: tensor<128x2688x1856xbf16>,
    %xbc: tensor<1x1152xbf16>, %s0: !mamba, %dt: tensor<1x8xbf16>,
    %a: tensor<8xf32>, %d: tensor<8xf32>, %dtb: tensor<8xf32>)
    attributes {sl.max_tokens = 1 : i64} {
  %y = sl.linear %x, %w norm(%nw) {norm_epsilon = 1.0e-05 : f64, sl.kernel = "gemv", sl.tiles = {max_m = 1 : i64, warps = 4 : i64}}
      : (tensor<1x2688xbf16>, tensor<10304x2688xbf16>, tensor<2688xbf16>) -> tensor<1x10304xbf16>
  %o, %c1 = sl.dense_attention %q, %k, %k, %c0 {num_heads = 32 : i64, sl.kernel = "attention_decode", sl.tiles = {bn = 32 : i64, splits = 64 : i64, warps = 4 : i64}}
      : (tensor<1x4096xbf16>, tensor<1x256xbf16>, tensor<1x256xbf16>, !kv) -> (tensor<1x4096xbf16>, !kv)
  %rw, %ri = sl.moe_router %x, %gate, %bias {top_k = 6 : i64, routed_scaling_factor = 2.5 : f64}
      : (tensor<1x2688xbf16>, tensor<128x2688xbf16>, tensor<128xf32>) -> (tensor<1x6xf32>, tensor<1x6xi32>)
  %e = sl.moe_experts %x, %rw, %ri, %up, %down activation(relu2) {sl.kernel = "moe_decode", sl.tiles = {warps = 8 : i64}}
      : (tensor<1x2688xbf16>, tensor<1x6xf32>, tensor<1x6xi32>, tensor<128x1856x2688xbf16>, tensor<128x2688x1856xbf16>) -> tensor<1x2688xbf16>
  %ys, %s1 = sl.ssd_scan %xbc, %dt, %s0 params(%a, %d, %dtb) {chunk_size = 256 : i64, sl.kernel = "ssd_step", sl.tiles = {rows = 4 : i64}}
      : (tensor<1x1152xbf16>, tensor<1x8xbf16>, !mamba, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<1x640xbf16>, !mamba)
  return
}

// -----

// expected-error @+1 {{sl-check-kernel-shapes expects functions specialised by sl-specialize-phases (no sl.max_tokens attribute)}}
func.func @unspecialised() {
  return
}

// -----

!kv24 = !sl.kv_cache<kv_heads = 2, head_dim = 24, element_type = bf16>
func.func @f(%q: tensor<?x96xbf16>, %k: tensor<?x48xbf16>, %c0: !kv24) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{'sl.dense_attention' op head_dim is 24; the attention kernels support head_dim a multiple of 16, at most 256}}
  %o, %c1 = sl.dense_attention %q, %k, %k, %c0 {num_heads = 4 : i64} : (tensor<?x96xbf16>, tensor<?x48xbf16>, tensor<?x48xbf16>, !kv24) -> (tensor<?x96xbf16>, !kv24)
  return
}

// -----

!kv272 = !sl.kv_cache<kv_heads = 1, head_dim = 272, element_type = bf16>
func.func @f(%q: tensor<?x272xbf16>, %c0: !kv272) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{head_dim is 272; the attention kernels support head_dim a multiple of 16, at most 256}}
  %o, %c1 = sl.dense_attention %q, %q, %q, %c0 {num_heads = 1 : i64} : (tensor<?x272xbf16>, tensor<?x272xbf16>, tensor<?x272xbf16>, !kv272) -> (tensor<?x272xbf16>, !kv272)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 1, head_dim = 64, element_type = bf16>
func.func @f(%q: tensor<?x64xbf16>, %c0: !kv) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{'sl.dense_attention' op tile bm of the attention_prefill kernel is 24 (chosen by db.jsonl:7); the attention_prefill kernel supports bm a multiple of 16, at most 512 (one warp per 16 rows)}}
  %o, %c1 = sl.dense_attention %q, %q, %q, %c0 {num_heads = 1 : i64, sl.kernel = "attention_prefill", sl.tile_source = "db.jsonl:7", sl.tiles = {bm = 24 : i64, bn = 64 : i64}} : (tensor<?x64xbf16>, tensor<?x64xbf16>, tensor<?x64xbf16>, !kv) -> (tensor<?x64xbf16>, !kv)
  return
}

// -----

!kvf = !sl.kv_cache<kv_heads = 1, head_dim = 64, element_type = f32>
func.func @f(%q: tensor<?x64xf32>, %c0: !kvf) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{tile bn of the attention_prefill kernel is 16 (chosen by sl.tiles); the attention_prefill kernel supports for fp32 bn a multiple of 32}}
  %o, %c1 = sl.dense_attention %q, %q, %q, %c0 {num_heads = 1 : i64, sl.kernel = "attention_prefill", sl.tiles = {bm = 64 : i64, bn = 16 : i64}} : (tensor<?x64xf32>, tensor<?x64xf32>, tensor<?x64xf32>, !kvf) -> (tensor<?x64xf32>, !kvf)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 1, head_dim = 256, element_type = bf16>
func.func @f(%q: tensor<?x256xbf16>, %c0: !kv) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{the attention_prefill kernel needs 675840 bytes of dynamic shared memory ((bm + 4 * bn) * (head_dim + 8) * 2) with the tiles chosen by sl.tiles; at most 232448 (227 KiB) fit in one block}}
  %o, %c1 = sl.dense_attention %q, %q, %q, %c0 {num_heads = 1 : i64, sl.kernel = "attention_prefill", sl.tiles = {bm = 256 : i64, bn = 256 : i64}} : (tensor<?x256xbf16>, tensor<?x256xbf16>, tensor<?x256xbf16>, !kv) -> (tensor<?x256xbf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 1, head_dim = 128, element_type = bf16>
func.func @f(%q: tensor<1x128xbf16>, %c0: !kv) attributes {sl.max_tokens = 1 : i64} {
  // expected-error @+2 {{tile warps of the attention_decode kernel is 64 (chosen by sl.tiles); the attention_decode kernel supports 1 to 32 warps}}
  // expected-error @+1 {{tile bn of the attention_decode kernel is 24 (chosen by sl.tiles); the attention_decode kernel supports bn a multiple of 16}}
  %o, %c1 = sl.dense_attention %q, %q, %q, %c0 {num_heads = 1 : i64, sl.kernel = "attention_decode", sl.tiles = {bn = 24 : i64, splits = 64 : i64, warps = 64 : i64}} : (tensor<1x128xbf16>, tensor<1x128xbf16>, tensor<1x128xbf16>, !kv) -> (tensor<1x128xbf16>, !kv)
  return
}

// -----

!kv = !sl.kv_cache<kv_heads = 1, head_dim = 128, element_type = bf16>
func.func @f(%q: tensor<1x128xbf16>, %c0: !kv) attributes {sl.max_tokens = 1 : i64} {
  // expected-error @+1 {{the attention_decode_partial kernel needs 1118464 bytes of dynamic shared memory}}
  %o, %c1 = sl.dense_attention %q, %q, %q, %c0 {num_heads = 1 : i64, sl.kernel = "attention_decode", sl.tiles = {bn = 256 : i64, splits = 64 : i64, warps = 4 : i64}} : (tensor<1x128xbf16>, tensor<1x128xbf16>, tensor<1x128xbf16>, !kv) -> (tensor<1x128xbf16>, !kv)
  return
}

// -----

func.func @f(%x: tensor<?x100xbf16>, %w: tensor<64x100xbf16>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{'sl.linear' op in features (k) is 100; the bf16 tensor-core GEMM kernels support a multiple of 8 (16-byte rows)}}
  %y = sl.linear %x, %w {sl.kernel = "gemm", sl.tiles = {bk = 32 : i64, bm = 64 : i64, bn = 64 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 2 : i64}} : (tensor<?x100xbf16>, tensor<64x100xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @f(%x: tensor<?x64xbf16>, %w: tensor<64x64xbf16>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{'sl.linear' op tile bk of the gemm kernel is 24 (chosen by tuning.jsonl:1); the gemm kernel supports bk a multiple of 16}}
  %y = sl.linear %x, %w {sl.kernel = "gemm", sl.tile_source = "tuning.jsonl:1", sl.tiles = {bk = 24 : i64, bm = 64 : i64, bn = 64 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 2 : i64}} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @f(%x: tensor<?x64xbf16>, %w: tensor<64x64xbf16>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+3 {{tile bm of the gemm kernel is 48 (chosen by sl.tiles); the gemm kernel supports bm a multiple of 16 * warps_m = 32}}
  // expected-error @+2 {{tile bn of the gemm kernel is 72 (chosen by sl.tiles); the gemm kernel supports bn a multiple of 8 * warps_n = 16}}
  // expected-error @+1 {{tile stages of the gemm kernel is 1 (chosen by sl.tiles); the gemm kernel supports at least 2 pipeline stages}}
  %y = sl.linear %x, %w {sl.kernel = "gemm", sl.tiles = {bk = 32 : i64, bm = 48 : i64, bn = 72 : i64, stages = 1 : i64, warps_m = 2 : i64, warps_n = 2 : i64}} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @f(%x: tensor<?x64xbf16>, %w: tensor<64x64xbf16>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{tiles warps_m = 8, warps_n = 8 of the gemm kernel (chosen by sl.tiles) make 2048 threads per block; at most 1024 (warps_m * warps_n <= 32)}}
  %y = sl.linear %x, %w {sl.kernel = "gemm", sl.tiles = {bk = 32 : i64, bm = 128 : i64, bn = 128 : i64, stages = 3 : i64, warps_m = 8 : i64, warps_n = 8 : i64}} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @f(%x: tensor<?x64xbf16>, %w: tensor<64x64xbf16>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{the gemm kernel needs 557056 bytes of dynamic shared memory (stages * (bm + bn) * (bk + 8) * 2) with the tiles chosen by sl.tiles; at most 232448 (227 KiB) fit in one block}}
  %y = sl.linear %x, %w {sl.kernel = "gemm", sl.tiles = {bk = 128 : i64, bm = 256 : i64, bn = 256 : i64, stages = 4 : i64, warps_m = 4 : i64, warps_n = 4 : i64}} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @f(%x: tensor<?x64xbf16>, %w: tensor<64x64xbf16>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+2 {{the gemm kernel needs tile bk, missing from sl.tiles (chosen by db.jsonl:2)}}
  // expected-error @+1 {{tile bm of the gemm kernel is 0 (chosen by db.jsonl:2); the gemm kernel supports a positive bm}}
  %y = sl.linear %x, %w {sl.kernel = "gemm", sl.tile_source = "db.jsonl:2", sl.tiles = {bm = 0 : i64, bn = 64 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 2 : i64}} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @f(%x: tensor<?x64xf32>, %w: tensor<64x64xf32>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+2 {{tile bn of the gemm kernel is 24 (chosen by sl.tiles); the gemm kernel supports for fp32 bn a multiple of 16}}
  // expected-error @+1 {{tile bm of the gemm kernel is 36 (chosen by sl.tiles); the gemm kernel supports for fp32 bm a multiple of 2 * warps_m * warps_n = 8}}
  %y = sl.linear %x, %w {sl.kernel = "gemm", sl.tiles = {bk = 16 : i64, bm = 36 : i64, bn = 24 : i64, stages = 2 : i64, warps_m = 2 : i64, warps_n = 2 : i64}} : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

func.func @f(%x: tensor<8x64xbf16>, %w: tensor<64x64xbf16>) attributes {sl.max_tokens = 8 : i64} {
  // expected-error @+2 {{tile max_m of the gemv kernel is 4 (chosen by sl.tiles); the gemv kernel supports max_m at least the function's 8 tokens}}
  // expected-error @+1 {{tile warps of the gemv kernel is 64 (chosen by sl.tiles); the gemv kernel supports 1 to 32 warps}}
  %y = sl.linear %x, %w {sl.kernel = "gemv", sl.tiles = {max_m = 4 : i64, warps = 64 : i64}} : (tensor<8x64xbf16>, tensor<64x64xbf16>) -> tensor<8x64xbf16>
  return
}

// -----

func.func @f(%x: tensor<1x4096xbf16>, %w: tensor<64x4096xbf16>, %nw: tensor<4096xbf16>) attributes {sl.max_tokens = 1 : i64} {
  // expected-error @+1 {{the gemv_rmsnorm kernel needs 262144 bytes of dynamic shared memory (max_m * k rounded up to 8 * 2) with the tiles chosen by sl.tiles; at most 232448 (227 KiB) fit in one block}}
  %y = sl.linear %x, %w norm(%nw) {norm_epsilon = 1.0e-05 : f64, sl.kernel = "gemv", sl.tiles = {max_m = 32 : i64, warps = 4 : i64}} : (tensor<1x4096xbf16>, tensor<64x4096xbf16>, tensor<4096xbf16>) -> tensor<1x64xbf16>
  return
}

// -----

func.func @f(%p: tensor<?x100xbf16>, %w: tensor<64x64xbf16>) attributes {sl.max_tokens = 64 : i64} {
  %a, %b = sl.split %p : tensor<?x100xbf16> -> tensor<?x36xbf16>, tensor<?x64xbf16>
  // expected-error @+2 {{the row stride of the input (a column slice) is 100; the bf16 tensor-core GEMM kernels support a multiple of 8 (16-byte rows)}}
  // expected-error @+1 {{the column offset of the input (a column slice) is 36; the bf16 tensor-core GEMM kernels support a multiple of 8 (16-byte aligned rows)}}
  %y = sl.linear %b, %w {sl.kernel = "gemm", sl.tiles = {bk = 32 : i64, bm = 64 : i64, bn = 64 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 2 : i64}} : (tensor<?x64xbf16>, tensor<64x64xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @f(%x: tensor<?x64xbf16>, %gate: tensor<64x64xbf16>, %bias: tensor<64xf32>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{'sl.moe_router' op top_k is 40; the MoE routing kernels support top_k from 1 to min(experts, 32) = 32}}
  %w, %i = sl.moe_router %x, %gate, %bias {top_k = 40 : i64, routed_scaling_factor = 1.0 : f64} : (tensor<?x64xbf16>, tensor<64x64xbf16>, tensor<64xf32>) -> (tensor<?x40xf32>, tensor<?x40xi32>)
  return
}

// -----

func.func @f(%x: tensor<?x100xbf16>, %gate: tensor<8x100xbf16>, %bias: tensor<8xf32>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{the hidden size (k of the router's logits GEMM) is 100; the bf16 tensor-core GEMM kernels support a multiple of 8 (16-byte rows)}}
  %w, %i = sl.moe_router %x, %gate, %bias {top_k = 2 : i64, routed_scaling_factor = 1.0 : f64} : (tensor<?x100xbf16>, tensor<8x100xbf16>, tensor<8xf32>) -> (tensor<?x2xf32>, tensor<?x2xi32>)
  return
}

// -----

func.func @f(%x: tensor<1x12288xbf16>, %gate: tensor<128x12288xbf16>, %bias: tensor<128xf32>) attributes {sl.max_tokens = 1 : i64} {
  // expected-error @+1 {{the moe_router kernel needs 49664 bytes of static shared memory (4 * (hidden + experts)); at most 49152 (48 KiB) fit in one block}}
  %w, %i = sl.moe_router %x, %gate, %bias {top_k = 2 : i64, routed_scaling_factor = 1.0 : f64} : (tensor<1x12288xbf16>, tensor<128x12288xbf16>, tensor<128xf32>) -> (tensor<1x2xf32>, tensor<1x2xi32>)
  return
}

// -----

func.func @f(%x: tensor<?x64xbf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %up: tensor<8x100x64xbf16>, %down: tensor<8x64x100xbf16>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+2 {{'sl.moe_experts' op the expert intermediate size is 100; the bf16 grouped MoE GEMM kernels support a multiple of 8}}
  // expected-error @+1 {{tile bk of the moe_grouped kernel is 24 (chosen by sl.tiles); the moe_grouped kernel supports bk a multiple of 16}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2) {sl.kernel = "moe_grouped", sl.tiles = {bk = 24 : i64, bm = 64 : i64, bn = 128 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 4 : i64}} : (tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x100x64xbf16>, tensor<8x64x100xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @f(%x: tensor<?x64xbf16>, %w: tensor<?x2xf32>, %i: tensor<?x2xi32>, %up: tensor<4096x64x64xbf16>, %down: tensor<4096x64x64xbf16>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{the moe_align kernel needs 49156 bytes of static shared memory (3 * experts * 4 + 4); at most 49152 (48 KiB) fit in one block}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2) {sl.kernel = "moe_grouped", sl.tiles = {bk = 64 : i64, bm = 64 : i64, bn = 128 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 4 : i64}} : (tensor<?x64xbf16>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<4096x64x64xbf16>, tensor<4096x64x64xbf16>) -> tensor<?x64xbf16>
  return
}

// -----

func.func @f(%x: tensor<1x64xbf16>, %w: tensor<1x2xf32>, %i: tensor<1x2xi32>, %up: tensor<8x64x64xbf16>, %down: tensor<8x64x64xbf16>) attributes {sl.max_tokens = 1 : i64} {
  // expected-error @+1 {{tile warps of the moe_decode kernel is 64 (chosen by sl.tiles); the moe_decode kernel supports 1 to 32 warps}}
  %y = sl.moe_experts %x, %w, %i, %up, %down activation(relu2) {sl.kernel = "moe_decode", sl.tiles = {warps = 64 : i64}} : (tensor<1x64xbf16>, tensor<1x2xf32>, tensor<1x2xi32>, tensor<8x64x64xbf16>, tensor<8x64x64xbf16>) -> tensor<1x64xbf16>
  return
}

// -----

!mamba = !sl.mamba_state<heads = 8, head_dim = 8, groups = 2, state_size = 16, conv_kernel = 1, conv_type = bf16, ssm_type = f32>
func.func @f(%xbc: tensor<?x128xbf16>, %s0: !mamba, %cw: tensor<128x1x1xbf16>) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{'sl.causal_conv1d' op conv_kernel is 1; the causal conv1d kernels support a kernel size of at least 2}}
  %y, %s1 = sl.causal_conv1d %xbc, %s0, %cw : (tensor<?x128xbf16>, !mamba, tensor<128x1x1xbf16>) -> (tensor<?x128xbf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 8, head_dim = 8, groups = 2, state_size = 16, conv_kernel = 4, conv_type = bf16, ssm_type = f32>
func.func @f(%xbc: tensor<?x128xbf16>, %dt: tensor<?x8xbf16>, %s0: !mamba, %a: tensor<8xf32>) attributes {sl.max_tokens = 4096 : i64} {
  // expected-error @+1 {{'sl.ssd_scan' op the ssd_scan kernel needs tile chunk, missing from sl.tiles (chosen by db.jsonl:5)}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s0 params(%a, %a, %a) {chunk_size = 128 : i64, sl.kernel = "ssd_scan", sl.tile_source = "db.jsonl:5", sl.tiles = {}} : (tensor<?x128xbf16>, tensor<?x8xbf16>, !mamba, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x64xbf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 8, head_dim = 8, groups = 2, state_size = 16, conv_kernel = 4, conv_type = bf16, ssm_type = f32>
func.func @f(%xbc: tensor<?x128xbf16>, %dt: tensor<?x8xbf16>, %s0: !mamba, %a: tensor<8xf32>) attributes {sl.max_tokens = 4096 : i64} {
  // expected-error @+1 {{'sl.ssd_scan' op tile chunk of the ssd_scan kernel is 48 (chosen by db.jsonl:4); the ssd_scan kernel supports chunk a multiple of 32 from 32 to 1024}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s0 params(%a, %a, %a) {chunk_size = 128 : i64, sl.kernel = "ssd_scan", sl.tile_source = "db.jsonl:4", sl.tiles = {chunk = 48 : i64}} : (tensor<?x128xbf16>, tensor<?x8xbf16>, !mamba, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x64xbf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 8, head_dim = 8, groups = 2, state_size = 16, conv_kernel = 4, conv_type = bf16, ssm_type = f32>
func.func @f(%xbc: tensor<?x128xbf16>, %dt: tensor<?x8xbf16>, %s0: !mamba, %a: tensor<8xf32>) attributes {sl.max_tokens = 4096 : i64} {
  // expected-error @+2 {{tile chunk of the ssd_scan kernel is 2048 (chosen by sl.tiles); the ssd_scan kernel supports chunk a multiple of 32 from 32 to 1024}}
  // expected-error @+1 {{the ssd_chunk_scan kernel needs 17326336 bytes of dynamic shared memory}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s0 params(%a, %a, %a) {chunk_size = 128 : i64, sl.kernel = "ssd_scan", sl.tiles = {chunk = 2048 : i64}} : (tensor<?x128xbf16>, tensor<?x8xbf16>, !mamba, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x64xbf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 8, head_dim = 80, groups = 2, state_size = 128, conv_kernel = 4, conv_type = bf16, ssm_type = f32>
func.func @f(%xbc: tensor<?x1152xbf16>, %dt: tensor<?x8xbf16>, %s0: !mamba, %a: tensor<8xf32>) attributes {sl.max_tokens = 4096 : i64} {
  // expected-error @+1 {{'sl.ssd_scan' op the ssd_chunk_scan kernel needs 331008 bytes of dynamic shared memory (4 * (chunk * (chunk + 1) + 2 * min(32, chunk) * (max(chunk, head_dim) + 1) + 2 * chunk)) with the tiles chosen by sl.tiles; at most 232448 (227 KiB) fit in one block}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s0 params(%a, %a, %a) {chunk_size = 256 : i64, sl.kernel = "ssd_scan", sl.tiles = {chunk = 256 : i64}} : (tensor<?x1152xbf16>, tensor<?x8xbf16>, !mamba, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x640xbf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 8, head_dim = 64, groups = 2, state_size = 2048, conv_kernel = 4, conv_type = bf16, ssm_type = f32>
func.func @f(%xbc: tensor<?x8704xbf16>, %dt: tensor<?x8xbf16>, %s0: !mamba, %a: tensor<8xf32>) attributes {sl.max_tokens = 4096 : i64} {
  // expected-error @+1 {{the ssd_chunk_state kernel needs 270464 bytes of dynamic shared memory (4 * (min(32, chunk) * (head_dim + state_size) + chunk)) with the tiles chosen by sl.tiles; at most 232448 (227 KiB) fit in one block}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s0 params(%a, %a, %a) {chunk_size = 128 : i64, sl.kernel = "ssd_scan", sl.tiles = {chunk = 32 : i64}} : (tensor<?x8704xbf16>, tensor<?x8xbf16>, !mamba, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x512xbf16>, !mamba)
  return
}

// -----

!mamba = !sl.mamba_state<heads = 8, head_dim = 80, groups = 2, state_size = 128, conv_kernel = 4, conv_type = bf16, ssm_type = f32>
func.func @f(%xbc: tensor<1x1152xbf16>, %dt: tensor<1x8xbf16>, %s0: !mamba, %a: tensor<8xf32>) attributes {sl.max_tokens = 1 : i64} {
  // expected-error @+1 {{tile rows of the ssd_step kernel is 3 (chosen by sl.tiles); the ssd_step kernel supports rows dividing head_dim = 80, at most 32}}
  %y, %s1 = sl.ssd_scan %xbc, %dt, %s0 params(%a, %a, %a) {chunk_size = 128 : i64, sl.kernel = "ssd_step", sl.tiles = {rows = 3 : i64}} : (tensor<1x1152xbf16>, tensor<1x8xbf16>, !mamba, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<1x640xbf16>, !mamba)
  return
}

// -----

#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 2, head_dim = 24, element_type = bf16>
func.func @f(%q: tensor<?x96xbf16>, %k: tensor<?x48xbf16>, %c0: !kv) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{'sl.multi_step_attention' op head_dim is 24; the multi-step attention kernels support head_dim a multiple of 16, at most 256}}
  %o, %c1 = sl.multi_step_attention %q, %q, %k, %k, %c0 {config = #msa, num_heads = 4 : i64} : (tensor<?x96xbf16>, tensor<?x96xbf16>, tensor<?x48xbf16>, tensor<?x48xbf16>, !kv) -> (tensor<?x96xbf16>, !kv)
  return
}

// -----

#msa = #sl.msa<sw_index = 3, num_spans = 8, backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 1, head_dim = 16, element_type = bf16>
func.func @f(%q: tensor<?x4096xbf16>, %k: tensor<?x16xbf16>, %c0: !kv) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{'sl.multi_step_attention' op the msa_anchor_topk kernel needs 65536 bytes of static shared memory (4 warps * heads / kv_heads * num_spans * 8); at most 49152 (48 KiB) fit in one block}}
  %o, %c1 = sl.multi_step_attention %q, %q, %k, %k, %c0 {config = #msa, num_heads = 256 : i64} : (tensor<?x4096xbf16>, tensor<?x4096xbf16>, tensor<?x16xbf16>, tensor<?x16xbf16>, !kv) -> (tensor<?x4096xbf16>, !kv)
  return
}

// -----

#msa = #sl.msa<sw_index = 3, num_spans = 2, backward_factor = 3.0, forward_factor = 1.0, search_power = 0.5, span_power = 0.5>
!kv = !sl.kv_cache<kv_heads = 1, head_dim = 256, element_type = f32>
func.func @f(%q: tensor<?x256xf32>, %c0: !kv) attributes {sl.max_tokens = 64 : i64} {
  // expected-error @+1 {{'sl.multi_step_attention' op the msa_window_attention / msa_span_attention kernel needs 338736 bytes of dynamic shared memory (msa_attention_smem<T, head_dim, 4>()); at most 232448 (227 KiB) fit in one block}}
  %o, %c1 = sl.multi_step_attention %q, %q, %q, %q, %c0 {config = #msa, num_heads = 1 : i64} : (tensor<?x256xf32>, tensor<?x256xf32>, tensor<?x256xf32>, tensor<?x256xf32>, !kv) -> (tensor<?x256xf32>, !kv)
  return
}
