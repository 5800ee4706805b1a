// Heuristics without a database; the fastest matching record of a database wins and is cited.
// RUN: slc-opt %s --sl-select-tiles | FileCheck %s --check-prefix=HEURISTIC
// RUN: slc-opt %s --sl-select-tiles=target=sm_100a | FileCheck %s --check-prefix=PORTABLE
// RUN: slc-opt %s --sl-select-tiles=tuning-db=%S/Inputs/tuning-h200.jsonl | FileCheck %s --check-prefix=TUNED
// RUN: slc-opt %s "--sl-select-tiles=target=sm_100a tuning-db=%S/Inputs/tuning-h200.jsonl" | FileCheck %s --check-prefix=B200
// RUN: not slc-opt %s --sl-select-tiles=tuning-db=%S/Inputs/tuning-broken.jsonl 2>&1 | FileCheck %s --check-prefix=BROKEN

// HEURISTIC-LABEL: func.func @prefill
// sm_90a (the default target): the Hopper GEMM, 128x256 tiles, 4 slots of 48 KiB.
// HEURISTIC: sl.linear {{.*}}sl.kernel = "gemm_wgmma", sl.tile_source = "heuristic", sl.tiles = {bm = 128 : i64, bn = 256 : i64, stages = 4 : i64}
// HEURISTIC: sl.lm_head {{.*}}sl.kernel = "gemm_wgmma", sl.tile_source = "heuristic"
// Other targets: the portable mma.sync GEMM.
// PORTABLE-LABEL: func.func @prefill
// PORTABLE: sl.linear {{.*}}sl.kernel = "gemm", sl.tile_source = "heuristic", sl.tiles = {bk = 32 : i64, bm = 128 : i64, bn = 128 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 4 : i64}
// PORTABLE: sl.lm_head {{.*}}sl.kernel = "gemm", sl.tile_source = "heuristic"
// HEURISTIC-LABEL: func.func @decode
// HEURISTIC: sl.linear {{.*}}sl.kernel = "gemv", sl.tile_source = "heuristic", sl.tiles = {max_m = 1 : i64, warps = 4 : i64}

// TUNED-LABEL: func.func @prefill
// (Line 4 has no time: a candidate that failed its check in sltune is never chosen.)
// TUNED: sl.linear {{.*}}sl.kernel = "gemm_wgmma", sl.tile_source = "{{.*}}tuning-h200.jsonl:1", sl.tiles = {bm = 128 : i64, bn = 128 : i64, stages = 6 : i64}
// The lm_head shape has no record: heuristics.
// TUNED: sl.lm_head {{.*}}sl.tile_source = "heuristic"

// B200: sl.linear {{.*}}sl.kernel = "gemm", sl.tile_source = "{{.*}}tuning-h200.jsonl:3", sl.tiles = {bk = 64 : i64, bm = 256 : i64, bn = 256 : i64, stages = 4 : i64, warps_m = 4 : i64, warps_n = 4 : i64}

// BROKEN: tuning database {{.*}}tuning-broken.jsonl:1: missing key 'bucket'

func.func @prefill(%x: tensor<?x2688xbf16>, %w: tensor<10304x2688xbf16>, %lm: tensor<1024x2688xbf16>)
    -> (tensor<?x10304xbf16>, tensor<?x1024xf32>) attributes {sl.max_tokens = 4096 : i64, sl.phase = "prefill"} {
  %y = sl.linear %x, %w : (tensor<?x2688xbf16>, tensor<10304x2688xbf16>) -> tensor<?x10304xbf16>
  %l = sl.lm_head %x, %lm : (tensor<?x2688xbf16>, tensor<1024x2688xbf16>) -> tensor<?x1024xf32>
  return %y, %l : tensor<?x10304xbf16>, tensor<?x1024xf32>
}

func.func @decode(%x: tensor<1x2688xbf16>, %w: tensor<10304x2688xbf16>) -> tensor<1x10304xbf16>
    attributes {sl.max_tokens = 1 : i64, sl.phase = "decode"} {
  %y = sl.linear %x, %w : (tensor<1x2688xbf16>, tensor<10304x2688xbf16>) -> tensor<1x10304xbf16>
  return %y : tensor<1x10304xbf16>
}

// The SSD scan's chunk length is a tile choice: 128 for long prefills whatever the checkpoint's
// chunk_size, the capacity rounded up to a power of two for short ones, halved while the scan's
// shared memory would not fit (head_dim 768: 64); decode steps get ROWS dividing head_dim.
// HEURISTIC-LABEL: func.func @ssd_prefill
// HEURISTIC: sl.ssd_scan {{.*}}sl.kernel = "ssd_scan", sl.tile_source = "heuristic", sl.tiles = {chunk = 128 : i64}
// HEURISTIC-LABEL: func.func @ssd_short
// HEURISTIC: sl.ssd_scan {{.*}}sl.kernel = "ssd_scan", sl.tile_source = "heuristic", sl.tiles = {chunk = 64 : i64}
// HEURISTIC-LABEL: func.func @ssd_wide
// HEURISTIC: sl.ssd_scan {{.*}}sl.kernel = "ssd_scan", sl.tile_source = "heuristic", sl.tiles = {chunk = 64 : i64}
// HEURISTIC-LABEL: func.func @ssd_decode
// HEURISTIC: sl.ssd_scan {{.*}}sl.kernel = "ssd_step", sl.tile_source = "heuristic", sl.tiles = {rows = 2 : i64}

!m96 = !sl.mamba_state<heads = 96, head_dim = 80, groups = 8, state_size = 128, conv_kernel = 4, conv_type = bf16, ssm_type = f32>
func.func @ssd_prefill(%xbc: tensor<?x9728xbf16>, %dt: tensor<?x96xbf16>, %s: !m96, %p: tensor<96xf32>)
    -> tensor<?x7680xbf16> attributes {sl.max_tokens = 4096 : i64, sl.phase = "prefill"} {
  %y, %s2 = sl.ssd_scan %xbc, %dt, %s params(%p, %p, %p) {chunk_size = 256 : i64}
      : (tensor<?x9728xbf16>, tensor<?x96xbf16>, !m96, tensor<96xf32>, tensor<96xf32>, tensor<96xf32>)
      -> (tensor<?x7680xbf16>, !m96)
  return %y : tensor<?x7680xbf16>
}

!m6 = !sl.mamba_state<heads = 6, head_dim = 24, groups = 3, state_size = 24, conv_kernel = 4, conv_type = f32, ssm_type = f32>
func.func @ssd_short(%xbc: tensor<?x288xf32>, %dt: tensor<?x6xf32>, %s: !m6, %p: tensor<6xf32>)
    -> tensor<?x144xf32> attributes {sl.max_tokens = 40 : i64, sl.phase = "prefill"} {
  %y, %s2 = sl.ssd_scan %xbc, %dt, %s params(%p, %p, %p) {chunk_size = 8 : i64}
      : (tensor<?x288xf32>, tensor<?x6xf32>, !m6, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>)
      -> (tensor<?x144xf32>, !m6)
  return %y : tensor<?x144xf32>
}

!m2 = !sl.mamba_state<heads = 2, head_dim = 768, groups = 1, state_size = 16, conv_kernel = 4, conv_type = bf16, ssm_type = f32>
func.func @ssd_wide(%xbc: tensor<?x1568xbf16>, %dt: tensor<?x2xbf16>, %s: !m2, %p: tensor<2xf32>)
    -> tensor<?x1536xbf16> attributes {sl.max_tokens = 4096 : i64, sl.phase = "prefill"} {
  %y, %s2 = sl.ssd_scan %xbc, %dt, %s params(%p, %p, %p) {chunk_size = 128 : i64}
      : (tensor<?x1568xbf16>, tensor<?x2xbf16>, !m2, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>)
      -> (tensor<?x1536xbf16>, !m2)
  return %y : tensor<?x1536xbf16>
}

!m18 = !sl.mamba_state<heads = 6, head_dim = 18, groups = 3, state_size = 24, conv_kernel = 4, conv_type = f32, ssm_type = f32>
func.func @ssd_decode(%xbc: tensor<1x252xf32>, %dt: tensor<1x6xf32>, %s: !m18, %p: tensor<6xf32>)
    -> tensor<1x108xf32> attributes {sl.max_tokens = 1 : i64, sl.phase = "decode"} {
  %y, %s2 = sl.ssd_scan %xbc, %dt, %s params(%p, %p, %p) {chunk_size = 48 : i64}
      : (tensor<1x252xf32>, tensor<1x6xf32>, !m18, tensor<6xf32>, tensor<6xf32>, tensor<6xf32>)
      -> (tensor<1x108xf32>, !m18)
  return %y : tensor<1x108xf32>
}

// Routed experts: 64-row tiles below ~100 rows per expert (1024 tokens x top 6 of 128 experts:
// 48), also on an expert-parallel rank holding 16 of the router's 128 experts (rows per expert
// follow the router's experts, not the rank's).
// HEURISTIC-LABEL: func.func @experts_prefill
// HEURISTIC: sl.moe_experts {{.*}}sl.kernel = "moe_grouped", sl.tile_source = "heuristic", sl.tiles = {bk = 64 : i64, bm = 64 : i64
// HEURISTIC: sl.moe_experts {{.*}}expert_offset = 16 : i64{{.*}}sl.kernel = "moe_grouped", sl.tile_source = "heuristic", sl.tiles = {bk = 64 : i64, bm = 64 : i64
func.func @experts_prefill(%x: tensor<?x256xbf16>, %gate: tensor<128x256xbf16>, %bias: tensor<128xf32>,
    %up: tensor<128x64x256xbf16>, %down: tensor<128x256x64xbf16>, %up16: tensor<16x64x256xbf16>,
    %down16: tensor<16x256x64xbf16>) -> (tensor<?x256xbf16>, tensor<?x256xbf16>)
    attributes {sl.max_tokens = 1024 : i64, sl.phase = "prefill"} {
  %w, %i = sl.moe_router %x, %gate, %bias {top_k = 6 : i64, routed_scaling_factor = 1.0 : f64}
      : (tensor<?x256xbf16>, tensor<128x256xbf16>, tensor<128xf32>) -> (tensor<?x6xf32>, tensor<?x6xi32>)
  %all = sl.moe_experts %x, %w, %i, %up, %down activation(relu2)
      : (tensor<?x256xbf16>, tensor<?x6xf32>, tensor<?x6xi32>, tensor<128x64x256xbf16>,
         tensor<128x256x64xbf16>) -> tensor<?x256xbf16>
  %rank = sl.moe_experts %x, %w, %i, %up16, %down16 activation(relu2) {expert_offset = 16 : i64}
      : (tensor<?x256xbf16>, tensor<?x6xf32>, tensor<?x6xi32>, tensor<16x64x256xbf16>,
         tensor<16x256x64xbf16>) -> tensor<?x256xbf16>
  return %all, %rank : tensor<?x256xbf16>, tensor<?x256xbf16>
}
