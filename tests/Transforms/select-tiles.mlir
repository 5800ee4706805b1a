// Heuristics without a database; the fastest matching record of a database wins and is cited.
// RUN: slc-opt %s --sl-select-tiles | FileCheck %s --check-prefix=HEURISTIC
// RUN: slc-opt %s --sl-select-tiles=tuning-db=%S/Inputs/tuning-h200.jsonl | FileCheck %s --check-prefix=TUNED
// RUN: slc-opt %s "--sl-select-tiles=target=sm_100a tuning-db=%S/Inputs/tuning-h200.jsonl" | FileCheck %s --check-prefix=B200
// RUN: not slc-opt %s --sl-select-tiles=tuning-db=%S/Inputs/tuning-broken.jsonl 2>&1 | FileCheck %s --check-prefix=BROKEN

// HEURISTIC-LABEL: func.func @prefill
// HEURISTIC: sl.linear {{.*}}sl.kernel = "gemm", sl.tile_source = "heuristic", sl.tiles = {bk = 32 : i64, bm = 128 : i64, bn = 128 : i64, stages = 3 : i64, warps_m = 2 : i64, warps_n = 4 : i64}
// HEURISTIC: sl.lm_head {{.*}}sl.kernel = "gemm", sl.tile_source = "heuristic"
// HEURISTIC-LABEL: func.func @decode
// HEURISTIC: sl.linear {{.*}}sl.kernel = "gemv", sl.tile_source = "heuristic", sl.tiles = {max_m = 1 : i64, warps = 4 : i64}

// TUNED-LABEL: func.func @prefill
// TUNED: sl.linear {{.*}}sl.tile_source = "{{.*}}tuning-h200.jsonl:1", sl.tiles = {bk = 64 : i64, bm = 128 : i64, bn = 256 : i64, stages = 4 : i64, warps_m = 2 : i64, warps_n = 4 : i64}
// The lm_head shape has no record: heuristics.
// TUNED: sl.lm_head {{.*}}sl.tile_source = "heuristic"

// B200: sl.linear {{.*}}sl.tile_source = "{{.*}}tuning-h200.jsonl:3", sl.tiles = {bk = 64 : i64, bm = 256 : i64, bn = 256 : i64, stages = 4 : i64, warps_m = 4 : i64, warps_n = 4 : i64}

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
