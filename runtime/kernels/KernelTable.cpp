#include "runtime/kernels/KernelTable.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>
#include <stdexcept>

namespace sl::kernels {

namespace {

// ---------------------------------------------------------------------------------------------
// Dynamic shared memory of the templates that use it. Each equals the header's constexpr
// function named in the table (tests/unit/runtime/KernelTableTest.cpp checks it under NVRTC).
// ---------------------------------------------------------------------------------------------

// gemm, moe_up, moe_down: STAGES pipeline stages of [BM + BN][BK + 8] elements of T.
int64_t gemmSmem(const TemplateArgs &a) {
  return a.integer("STAGES") * (a.integer("BM") + a.integer("BN")) * (a.integer("BK") + 8) *
         a.elementBytes("T");
}

// gemm_wgmma: STAGES slots of [BM + BN] rows of 128 bytes, plus 1 KiB of alignment.
int64_t gemmWgmmaSmem(const TemplateArgs &a) {
  return a.integer("STAGES") * (a.integer("BM") + a.integer("BN")) * 128 + 1024;
}

// gemv_rmsnorm: MAX_M normalised rows of k elements (rounded up to 8).
int64_t gemvRmsnormSmem(const TemplateArgs &a) {
  return a.integer("MAX_M") * ((a.constant("k") + 7) / 8 * 8) * a.elementBytes("T");
}

int64_t ssdChunkStateSmem(const TemplateArgs &a) {
  const int64_t chunk = a.integer("CHUNK"), kt = std::min<int64_t>(32, chunk);
  return 4 * (kt * (a.integer("HEAD_DIM") + a.integer("STATE")) + chunk);
}

int64_t ssdChunkScanSmem(const TemplateArgs &a) {
  const int64_t chunk = a.integer("CHUNK"), kt = std::min<int64_t>(32, chunk);
  return 4 * (chunk * (chunk + 1) + 2 * kt * (std::max(chunk, a.integer("HEAD_DIM")) + 1) +
              2 * chunk);
}

int64_t attentionPrefillSmem(const TemplateArgs &a) {
  const int64_t d = a.integer("HEAD_DIM"), bm = a.integer("BM"), bn = a.integer("BN");
  return a.elementBytes("T") == 2 ? (bm + 4 * bn) * (d + 8) * 2
                                  : 4 * (bm * d + bn * (2 * d + 1));
}

int64_t attentionDecodeSmem(const TemplateArgs &a) {
  const int64_t d = a.integer("HEAD_DIM"), bn = a.integer("BN"), warps = a.integer("WARPS");
  return a.elementBytes("T") == 2
             ? 16 * (d + 8) * 2 +
                   std::max(warps * 4 * bn * (d + 8) * 2, warps * 16 * (d + 2) * 4)
             : 16 * d * 4 + std::max(warps * bn * (2 * d + 1) * 4, warps * 16 * (d + 2) * 4);
}

// msa_window_attention, msa_span_attention: the attention core of NW warps (16 rows each).
int64_t msaAttentionSmem(const TemplateArgs &a) {
  const int64_t bytes = a.elementBytes("T"), d = a.integer("HEAD_DIM"), warps = a.integer("NW");
  const int64_t ld = d + 8, rows = 16 * warps;
  return rows * ld * bytes + std::max(2 * 2 * 64 * ld * bytes, rows * d * 4) + rows * 12 +
         8 * warps + 16;
}

using Sample = KernelSignature::SmemSample;

struct SmemEntry {
  SmemFormula formula;
  const char *check;
  std::vector<Sample> samples;  // the specialisations the formula is tested at
};

const std::map<std::string, SmemEntry> &smemEntries() {
  static const std::map<std::string, SmemEntry> entries = {
      {"gemm",
       {gemmSmem,
        "slk::gemm_smem<T, BM, BN, BK, STAGES>()",
        {{{"slk::bf16", "slk::bf16", "128", "128", "32", "3", "2", "4", "slk::kActNone", "false",
           "false"}},
         {{"slk::bf16", "float", "128", "256", "64", "4", "2", "4", "slk::kActRelu2", "true",
           "true"}},
         {{"float", "float", "64", "64", "16", "2", "2", "2", "slk::kActNone", "false", "false"}}}}},
      {"gemm_wgmma",
       {gemmWgmmaSmem,
        "slk::gemm_wgmma_smem<BM, BN, STAGES>()",
        {{{"slk::bf16", "slk::bf16", "128", "256", "4", "slk::kActNone", "false", "false"}},
         {{"slk::bf16", "float", "64", "128", "6", "slk::kActRelu2", "true", "true"}}}}},
      {"moe_up",
       {gemmSmem,
        "slk::gemm_smem<T, BM, BN, BK, STAGES>()",
        {{{"slk::bf16", "2688", "1856", "6", "128", "128", "64", "3", "2", "4", "slk::kActRelu2"}},
         {{"float", "64", "96", "2", "64", "64", "16", "2", "2", "2", "slk::kActSilu"}}}}},
      {"moe_down",
       {gemmSmem,
        "slk::gemm_smem<T, BM, BN, BK, STAGES>()",
        {{{"slk::bf16", "2688", "1856", "6", "64", "128", "64", "3", "2", "4"}},
         {{"float", "64", "96", "2", "64", "64", "16", "2", "2", "2"}}}}},
      {"gemv_rmsnorm",
       {gemvRmsnormSmem,
        "slk::gemv_rmsnorm_smem<T, MAX_M>(k)",
        {{{"slk::bf16", "slk::bf16", "slk::bf16", "4", "1", "slk::kActNone", "false", "false"},
          {{"k", 2688}}},
         {{"float", "float", "float", "4", "8", "slk::kActNone", "false", "true"}, {{"k", 61}}}}}},
      {"ssd_chunk_state",
       {ssdChunkStateSmem,
        "slk::ssd_chunk_state_smem(HEAD_DIM, STATE, CHUNK)",
        {{{"slk::bf16", "64", "64", "8", "128", "128", "256"}},
         {{"float", "8", "16", "2", "16", "32", "256"}},
         {{"float", "4", "24", "1", "8", "64", "256"}}}}},
      {"ssd_chunk_scan",
       {ssdChunkScanSmem,
        "slk::ssd_chunk_scan_smem(HEAD_DIM, CHUNK)",
        {{{"slk::bf16", "64", "64", "8", "128", "128", "256"}},
         {{"float", "8", "16", "2", "16", "32", "256"}},
         {{"float", "4", "24", "1", "8", "64", "256"}}}}},
      {"attention_prefill",
       {attentionPrefillSmem,
        "slk::attention_prefill_smem<T, HEAD_DIM, BM, BN>()",
        {{{"slk::bf16", "32", "2", "128", "64", "64"}},
         {{"float", "4", "2", "16", "64", "64"}},
         {{"slk::bf16", "8", "8", "256", "64", "32"}}}}},
      {"attention_decode_partial",
       {attentionDecodeSmem,
        "slk::attention_decode_smem<T, HEAD_DIM, BN, WARPS>()",
        {{{"slk::bf16", "32", "2", "128", "64", "32", "4"}},
         {{"float", "4", "2", "16", "64", "32", "4"}},
         {{"slk::bf16", "8", "8", "256", "64", "16", "4"}},
         {{"float", "8", "8", "256", "64", "16", "2"}}}}},
      {"msa_window_attention",
       {msaAttentionSmem,
        "slk::msa_attention_smem<T, HEAD_DIM, NW>()",
        {{{"slk::bf16", "32", "2", "128", "2032", "4"}}, {{"float", "4", "2", "16", "15", "4"}}}}},
      {"msa_span_attention",
       {msaAttentionSmem,
        "slk::msa_attention_smem<T, HEAD_DIM, NW>()",
        {{{"slk::bf16", "32", "2", "128", "3", "4"}}, {{"float", "4", "2", "16", "2", "4"}}}}},
  };
  return entries;
}

// The signatures as written below; withSmem adds the shared-memory formulas.
struct Entry {
  std::string name, header;
  std::vector<std::string> templateParams, labels;
  std::vector<KernelParam> params;
};

std::vector<Entry> buildTable() {
  const std::vector<KernelParam> gemmParams = {
      {"const T *", "a"},        {"i32", "lda"},     {"const T *", "w"}, {"const T *", "bias"},
      {"const T *", "residual"}, {"OUT_T *", "c"},   {"i32", "ldc"},     {"i32", "m"},
      {"i32", "n"},              {"i32", "k"}};
  return {
      {"rms_norm", "sl_norm.cuh", {"T", "WT", "HIDDEN", "THREADS"}, {"", "w", "h", "t"},
       {{"const T *", "x"}, {"const WT *", "weight"}, {"T *", "y"}, {"i32", "n"},
        {"float", "eps"}}},
      {"add_rms_norm", "sl_norm.cuh", {"T", "WT", "HIDDEN", "THREADS"}, {"", "w", "h", "t"},
       {{"const T *", "x"}, {"const T *", "residual"}, {"T *", "sum"}, {"const WT *", "weight"},
        {"T *", "y"}, {"i32", "n"}, {"float", "eps"}}},
      {"gated_rms_norm", "sl_norm.cuh", {"T", "WT", "CHANNELS", "GROUP", "THREADS"},
       {"", "w", "c", "g", "t"},
       {{"const T *", "y"}, {"i32", "ldy"}, {"const T *", "gate"}, {"i32", "ldg"},
        {"const WT *", "weight"}, {"T *", "out"}, {"i32", "n"}, {"float", "eps"}}},
      {"gated_sum_squares", "sl_norm.cuh", {"T", "CHANNELS", "GROUP", "THREADS"},
       {"", "c", "g", "t"},
       {{"const T *", "y"}, {"i32", "ldy"}, {"const T *", "gate"}, {"i32", "ldg"},
        {"float *", "sums"}, {"i32", "lds"}, {"i32", "first"}, {"i32", "n"}}},
      {"gated_rms_norm_sums", "sl_norm.cuh", {"T", "WT", "CHANNELS", "GROUP", "THREADS"},
       {"", "w", "c", "g", "t"},
       {{"const T *", "y"}, {"i32", "ldy"}, {"const T *", "gate"}, {"i32", "ldg"},
        {"const WT *", "weight"}, {"const float *", "sums"}, {"i32", "lds"}, {"i32", "first"},
        {"T *", "out"}, {"i32", "n"}, {"float", "eps"}, {"i32", "count"}}},
      {"gemm", "sl_gemm.cuh",
       {"T", "OUT_T", "BM", "BN", "BK", "STAGES", "WARPS_M", "WARPS_N", "ACT", "HAS_BIAS",
        "HAS_RESIDUAL"},
       {"", "out", "bm", "bn", "bk", "s", "wm", "wn", "act", "bias", "res"},
       gemmParams},
      {"gemm_wgmma", "sl_gemm.cuh",
       {"T", "OUT_T", "BM", "BN", "STAGES", "ACT", "HAS_BIAS", "HAS_RESIDUAL"},
       {"", "out", "bm", "bn", "s", "act", "bias", "res"},
       gemmParams},
      {"gemv", "sl_gemm.cuh",
       {"T", "OUT_T", "WARPS", "MAX_M", "ACT", "HAS_BIAS", "HAS_RESIDUAL"},
       {"", "out", "w", "m", "act", "bias", "res"},
       gemmParams},
      {"gemv_rmsnorm", "sl_gemv_norm.cuh",
       {"T", "WT", "OUT_T", "WARPS", "MAX_M", "ACT", "HAS_BIAS", "HAS_RESIDUAL"},
       {"", "nw", "out", "w", "m", "act", "bias", "res"},
       {{"const T *", "a"}, {"i32", "lda"}, {"const WT *", "norm_weight"}, {"float", "eps"},
        {"const T *", "w"}, {"const T *", "bias"}, {"const T *", "residual"}, {"OUT_T *", "c"},
        {"i32", "ldc"}, {"i32", "m"}, {"i32", "n"}, {"i32", "k"}}},
      {"embedding", "sl_embedding.cuh", {"T", "HIDDEN", "THREADS"}, {"", "h", "t"},
       {{"const i32 *", "tokens"}, {"const T *", "table"}, {"T *", "out"}, {"i32", "n"},
        {"i32", "vocab"}, {"i32 *", "error"}}},
      {"argmax", "sl_sample.cuh", {"THREADS"}, {"t"},
       {{"const float *", "logits"}, {"i32 *", "out"}, {"i32", "n"}, {"i32", "vocab"}}},
      {"add", "sl_elementwise.cuh", {"T", "COLS", "THREADS"}, {"", "c", "t"},
       {{"const T *", "a"}, {"const T *", "b"}, {"T *", "out"}, {"i32", "n"}}},
      {"activation", "sl_elementwise.cuh", {"T", "COLS", "ACT", "THREADS"},
       {"", "c", "act", "t"},
       {{"const T *", "x"}, {"T *", "out"}, {"i32", "n"}}},
      // MoE (docs/kernels-moe.md)
      {"moe_router", "sl_moe.cuh", {"T", "WT", "HIDDEN", "EXPERTS", "TOPK", "THREADS"},
       {"", "w", "h", "e", "k", "t"},
       {{"const T *", "x"}, {"const WT *", "gate_w"}, {"const float *", "correction_bias"},
        {"float *", "weights"}, {"i32 *", "indices"}, {"i32", "n"},
        {"float", "routed_scaling_factor"}, {"i32", "norm_topk_prob"}}},
      {"moe_topk", "sl_moe.cuh", {"EXPERTS", "TOPK", "THREADS"}, {"e", "k", "t"},
       {{"const float *", "logits"}, {"const float *", "correction_bias"},
        {"float *", "weights"}, {"i32 *", "indices"}, {"i32", "n"},
        {"float", "routed_scaling_factor"}, {"i32", "norm_topk_prob"}}},
      {"moe_align", "sl_moe.cuh", {"EXPERTS", "TOPK", "BM", "THREADS"}, {"e", "k", "bm", "t"},
       {{"const i32 *", "indices"}, {"i32", "n"}, {"i32 *", "sorted_pair"},
        {"i32 *", "tile_expert"}, {"i32 *", "num_tiles"}, {"i32", "expert_offset"}}},
      {"moe_up", "sl_moe.cuh",
       {"T", "HIDDEN", "INTER", "TOPK", "BM", "BN", "BK", "STAGES", "WARPS_M", "WARPS_N", "ACT"},
       {"", "h", "i", "k", "bm", "bn", "bk", "s", "wm", "wn", "act"},
       {{"const T *", "x"}, {"const T *", "up"}, {"const i32 *", "sorted_pair"},
        {"const i32 *", "tile_expert"}, {"const i32 *", "num_tiles"}, {"T *", "h"}}},
      {"moe_down", "sl_moe.cuh",
       {"T", "HIDDEN", "INTER", "TOPK", "BM", "BN", "BK", "STAGES", "WARPS_M", "WARPS_N"},
       {"", "h", "i", "k", "bm", "bn", "bk", "s", "wm", "wn"},
       {{"const T *", "h"}, {"const T *", "down"}, {"const i32 *", "sorted_pair"},
        {"const i32 *", "tile_expert"}, {"const i32 *", "num_tiles"}, {"T *", "slot_out"}}},
      {"moe_combine", "sl_moe.cuh",
       {"T", "HIDDEN", "TOPK", "THREADS", "HAS_SHARED", "HAS_RESIDUAL"},
       {"", "h", "k", "t", "shared", "res"},
       {{"const T *", "slot_out"}, {"const float *", "weights"}, {"const i32 *", "indices"},
        {"const T *", "shared_out"}, {"const T *", "residual"}, {"T *", "out"}, {"i32", "n"},
        {"i32", "expert_offset"}, {"i32", "local_experts"}}},
      {"moe_decode_up", "sl_moe.cuh", {"T", "HIDDEN", "INTER", "TOPK", "WARPS", "ACT"},
       {"", "h", "i", "k", "w", "act"},
       {{"const T *", "x"}, {"const T *", "up"}, {"const i32 *", "indices"}, {"T *", "h"},
        {"i32", "n"}, {"i32", "expert_offset"}, {"i32", "local_experts"}}},
      {"moe_decode_down", "sl_moe.cuh",
       {"T", "HIDDEN", "INTER", "TOPK", "WARPS", "HAS_SHARED", "HAS_RESIDUAL"},
       {"", "h", "i", "k", "w", "shared", "res"},
       {{"const T *", "h"}, {"const T *", "down"}, {"const float *", "weights"},
        {"const i32 *", "indices"}, {"const T *", "shared_out"}, {"const T *", "residual"},
        {"T *", "out"}, {"i32", "n"}, {"i32", "expert_offset"}, {"i32", "local_experts"}}},
      // Mamba-2 (docs/kernels-mamba.md)
      {"causal_conv1d", "sl_conv.cuh",
       {"T", "WT", "ST", "C", "K", "HAS_BIAS", "ACT", "THREADS", "TOKENS"},
       {"", "w", "s", "c", "k", "bias", "act", "t", "tok"},
       {{"const T *", "x"}, {"i32", "ldx"}, {"const WT *", "weight"}, {"const WT *", "bias"},
        {"const ST *", "conv_state"}, {"T *", "y"}, {"i32", "ldy"}, {"i32", "n"}}},
      {"conv_state_update", "sl_conv.cuh", {"T", "ST", "C", "K", "THREADS"},
       {"", "s", "c", "k", "t"},
       {{"const T *", "x"}, {"i32", "ldx"}, {"ST *", "conv_state"}, {"i32", "n"}}},
      {"causal_conv1d_step", "sl_conv.cuh",
       {"T", "WT", "ST", "C", "K", "HAS_BIAS", "ACT", "THREADS"},
       {"", "w", "s", "c", "k", "bias", "act", "t"},
       {{"const T *", "x"}, {"i32", "ldx"}, {"const WT *", "weight"}, {"const WT *", "bias"},
        {"ST *", "conv_state"}, {"T *", "y"}, {"i32", "ldy"}, {"i32", "n"}}},
      {"ssd_chunk_cumsum", "sl_ssd.cuh", {"T", "HEADS", "CHUNK"}, {"", "h", "c"},
       {{"const T *", "dt_raw"}, {"i32", "lddt"}, {"const float *", "dt_bias"},
        {"const float *", "A_log"}, {"float *", "dt_s"}, {"float *", "cum_s"}, {"i32", "n"},
        {"float", "dt_min"}, {"float", "dt_max"}}},
      {"ssd_chunk_state", "sl_ssd.cuh",
       {"T", "HEADS", "HEAD_DIM", "GROUPS", "STATE", "CHUNK", "THREADS"},
       {"", "h", "d", "g", "s", "c", "t"},
       {{"const T *", "xbc"}, {"i32", "ldxbc"}, {"const float *", "dt_s"},
        {"const float *", "cum_s"}, {"float *", "states"}, {"i32", "n"}}},
      {"ssd_state_pass", "sl_ssd.cuh", {"HEADS", "HEAD_DIM", "STATE", "CHUNK", "THREADS"},
       {"h", "d", "s", "c", "t"},
       {{"float *", "states"}, {"const float *", "cum_s"}, {"float *", "ssm_state"},
        {"i32", "n"}}},
      {"ssd_chunk_scan", "sl_ssd.cuh",
       {"T", "HEADS", "HEAD_DIM", "GROUPS", "STATE", "CHUNK", "THREADS"},
       {"", "h", "d", "g", "s", "c", "t"},
       {{"const T *", "xbc"}, {"i32", "ldxbc"}, {"const float *", "D"},
        {"const float *", "dt_s"}, {"const float *", "cum_s"}, {"const float *", "states"},
        {"T *", "y"}, {"i32", "ldy"}, {"i32", "n"}}},
      {"ssd_step", "sl_ssd.cuh", {"T", "HEADS", "HEAD_DIM", "GROUPS", "STATE", "ROWS"},
       {"", "h", "d", "g", "s", "r"},
       {{"const T *", "xbc"}, {"i32", "ldxbc"}, {"const T *", "dt_raw"}, {"i32", "lddt"},
        {"const float *", "A_log"}, {"const float *", "D"}, {"const float *", "dt_bias"},
        {"float *", "ssm_state"}, {"T *", "y"}, {"i32", "ldy"}, {"i32", "n"},
        {"float", "dt_min"}, {"float", "dt_max"}}},
      // Dense attention (docs/kernels-attention.md)
      {"kv_append", "sl_attention.cuh", {"T", "KV_HEADS", "HEAD_DIM", "THREADS"},
       {"", "kv", "d", "t"},
       {{"const T *", "k"}, {"i32", "ldk"}, {"const T *", "v"}, {"i32", "ldv"},
        {"T *", "k_cache"}, {"T *", "v_cache"}, {"i32", "capacity"}, {"i32", "start"},
        {"i32", "n"}}},
      {"attention_prefill", "sl_attention.cuh",
       {"T", "HEADS", "KV_HEADS", "HEAD_DIM", "BM", "BN"}, {"", "h", "kv", "d", "bm", "bn"},
       {{"const T *", "q"}, {"i32", "ldq"}, {"const T *", "k_cache"}, {"const T *", "v_cache"},
        {"i32", "capacity"}, {"T *", "out"}, {"i32", "ldo"}, {"i32", "n"},
        {"i32", "cache_len"}}},
      {"attention_decode_partial", "sl_attention.cuh",
       {"T", "HEADS", "KV_HEADS", "HEAD_DIM", "SPLITS", "BN", "WARPS"},
       {"", "h", "kv", "d", "sp", "bn", "w"},
       {{"const T *", "q"}, {"i32", "ldq"}, {"const T *", "k_cache"}, {"const T *", "v_cache"},
        {"i32", "capacity"}, {"float *", "part_o"}, {"float *", "part_lse"}, {"i32", "n"},
        {"i32", "cache_len"}}},
      {"attention_decode_combine", "sl_attention.cuh", {"T", "HEADS", "HEAD_DIM", "SPLITS"},
       {"", "h", "d", "sp"},
       {{"const float *", "part_o"}, {"const float *", "part_lse"}, {"T *", "out"},
        {"i32", "ldo"}, {"i32", "n"}}},
      // Multi-step attention (docs/kernels-msa.md)
      {"msa_anchor_topk", "sl_msa.cuh",
       {"T", "HEADS", "KV_HEADS", "HEAD_DIM", "NUM_SPANS", "W", "NW", "QPB", "SPLITS"},
       {"", "h", "kv", "d", "k", "w", "nw", "q", "sp"},
       {{"const T *", "q1"}, {"i32", "ldq1"}, {"const T *", "k_cache"}, {"i32", "capacity"},
        {"i32", "cache_len"}, {"i32", "n"}, {"const i64 *", "anchor_offsets"},
        {"i32", "num_stripes"}, {"const i32 *", "span_reach"}, {"float *", "top_scores"},
        {"i32 *", "span_start"}, {"i32 *", "span_end"}, {"float *", "part_scores"},
        {"i32 *", "part_idx"}}},
      {"msa_route_merge", "sl_msa.cuh", {"HEADS", "NUM_SPANS", "W", "SPLITS"},
       {"h", "k", "w", "sp"},
       {{"const float *", "part_scores"}, {"const i32 *", "part_idx"}, {"i32", "cache_len"},
        {"i32", "n"}, {"const i64 *", "anchor_offsets"}, {"const i32 *", "span_reach"},
        {"float *", "top_scores"}, {"i32 *", "span_start"}, {"i32 *", "span_end"}}},
      {"msa_window_attention", "sl_msa.cuh", {"T", "HEADS", "KV_HEADS", "HEAD_DIM", "W", "NW"},
       {"", "h", "kv", "d", "w", "nw"},
       {{"const T *", "q2"}, {"i32", "ldq2"}, {"const T *", "k_cache"}, {"const T *", "v_cache"},
        {"i32", "capacity"}, {"i32", "cache_len"}, {"i32", "n"}, {"T *", "o_w"},
        {"float *", "lse_w"}}},
      {"msa_span_attention", "sl_msa.cuh",
       {"T", "HEADS", "KV_HEADS", "HEAD_DIM", "NUM_SPANS", "NW"}, {"", "h", "kv", "d", "k", "nw"},
       {{"const T *", "q2"}, {"i32", "ldq2"}, {"const T *", "k_cache"}, {"const T *", "v_cache"},
        {"i32", "capacity"}, {"i32", "cache_len"}, {"i32", "n"}, {"const i32 *", "span_start"},
        {"const i32 *", "span_end"}, {"const i32 *", "row_order"}, {"T *", "o_s"},
        {"float *", "lse_s"}}},
      {"msa_span_order", "sl_msa.cuh", {"HEADS", "KV_HEADS", "NUM_SPANS", "BUCKETS"},
       {"h", "kv", "k", "b"},
       {{"const i32 *", "span_start"}, {"const i32 *", "span_end"}, {"i32", "cache_len"},
        {"i32", "n"}, {"i32 *", "row_order"}}},
      {"msa_gate_merge", "sl_msa.cuh", {"T", "HEADS", "HEAD_DIM", "NUM_SPANS"},
       {"", "h", "d", "k"},
       {{"const T *", "o_w"}, {"const float *", "lse_w"}, {"const T *", "o_s"},
        {"const float *", "lse_s"}, {"const float *", "top_scores"}, {"T *", "out"},
        {"i32", "ldo"}, {"i32", "n"}}},
      {"msa_decode_attention", "sl_msa.cuh",
       {"T", "HEADS", "KV_HEADS", "HEAD_DIM", "NUM_SPANS", "W", "SPLITS_R", "SPLIT_W",
        "SPLIT_S"},
       {"", "h", "kv", "d", "k", "w", "sr", "sw", "ss"},
       {{"const T *", "q2"}, {"i32", "ldq2"}, {"const T *", "k_cache"}, {"const T *", "v_cache"},
        {"i32", "capacity"}, {"i32", "cache_len"}, {"i32", "n"},
        {"const i64 *", "anchor_offsets"}, {"const i32 *", "span_reach"},
        {"const float *", "part_scores"}, {"const i32 *", "part_idx"}, {"float *", "ws_o"},
        {"float *", "ws_lse"}}},
      {"msa_decode_combine", "sl_msa.cuh",
       {"T", "HEADS", "HEAD_DIM", "NUM_SPANS", "SPLITS_R", "SPLIT_W", "SPLIT_S"},
       {"", "h", "d", "k", "sr", "sw", "ss"},
       {{"const float *", "part_scores"}, {"const i32 *", "part_idx"},
        {"const float *", "ws_o"}, {"const float *", "ws_lse"}, {"T *", "out"},
        {"i32", "ldo"}, {"i32", "n"}}},
  };
}

// Short spelling of a template argument in a symbol.
std::string symbolPart(const std::string &arg) {
  static const std::map<std::string, std::string> spellings = {
      {"slk::bf16", "bf16"},          {"float", "f32"},
      {"slk::kActNone", "none"},      {"slk::kActSilu", "silu"},
      {"slk::kActRelu2", "relu2"}};
  auto it = spellings.find(arg);
  return it != spellings.end() ? it->second : arg;
}

bool wordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// `text` with every identifier that names a template parameter replaced by its argument (and
// every one naming a constant by its value).
std::string substituteNames(const KernelSignature &kernel, const std::string &text,
                            const std::vector<std::string> &args,
                            const std::vector<std::pair<std::string, int64_t>> &constants) {
  std::string out, word;
  bool qualified = false;  // the word follows "::" (slk::bf16 is no parameter)
  auto flush = [&] {
    if (!word.empty() && !qualified) {
      for (size_t i = 0; i < kernel.templateParams.size() && i < args.size(); ++i)
        if (word == kernel.templateParams[i]) {
          word = args[i];
          break;
        }
      for (const auto &[name, value] : constants)
        if (word == name) {
          word = std::to_string(value);
          break;
        }
    }
    out += word;
    word.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (wordChar(c)) {
      if (word.empty())
        qualified = i >= 2 && text.compare(i - 2, 2, "::") == 0;
      word += c;
    } else {
      flush();
      out += c;
    }
  }
  flush();
  return out;
}

// A parameter type of the wrapper: type parameters substituted, library scalar types in
// namespace slk.
std::string wrapperType(const KernelSignature &kernel, const std::string &type,
                        const std::vector<std::string> &args) {
  std::string out = substituteNames(kernel, type, args, {});
  for (const char *scalar : {"i32", "i64", "u32"}) {
    std::string plain = scalar;
    size_t at = 0;
    while ((at = out.find(plain, at)) != std::string::npos) {
      bool isQualified = at >= 5 && out.compare(at - 5, 5, "slk::") == 0;
      bool wordStart = at == 0 || !(wordChar(out[at - 1]) || out[at - 1] == ':');
      bool wordEnd = at + plain.size() >= out.size() || !wordChar(out[at + plain.size()]);
      if (!isQualified && wordStart && wordEnd) {
        out.insert(at, "slk::");
        at += 5;
      }
      at += plain.size();
    }
  }
  return out;
}

std::vector<KernelSignature> withSmem(std::vector<Entry> entries) {
  std::vector<KernelSignature> table;
  for (Entry &entry : entries) {
    KernelSignature kernel;
    kernel.name = std::move(entry.name);
    kernel.header = std::move(entry.header);
    kernel.templateParams = std::move(entry.templateParams);
    kernel.labels = std::move(entry.labels);
    kernel.params = std::move(entry.params);
    auto it = smemEntries().find(kernel.name);
    if (it != smemEntries().end()) {
      kernel.sharedBytes = it->second.formula;
      kernel.smemCheck = it->second.check;
      kernel.smemSamples = it->second.samples;
    }
    table.push_back(std::move(kernel));
  }
  return table;
}

std::string join(const std::vector<std::string> &parts, const char *separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i)
    out += (i ? separator : "") + parts[i];
  return out;
}

}  // namespace

int KernelSignature::templateIndex(const std::string &param) const {
  for (size_t i = 0; i < templateParams.size(); ++i)
    if (templateParams[i] == param)
      return int(i);
  return -1;
}

int KernelSignature::paramIndex(const std::string &param) const {
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].name == param)
      return int(i);
  return -1;
}

const std::vector<KernelSignature> &kernelTable() {
  static const std::vector<KernelSignature> table = withSmem(buildTable());
  return table;
}

const KernelSignature *findKernel(const std::string &name) {
  for (const KernelSignature &kernel : kernelTable())
    if (kernel.name == name)
      return &kernel;
  return nullptr;
}

const std::string &TemplateArgs::operator[](const std::string &param) const {
  int i = kernel_.templateIndex(param);
  if (i < 0)
    throw std::invalid_argument(kernel_.name + " has no template parameter " + param);
  if (size_t(i) >= values_.size())
    throw std::invalid_argument(kernel_.name + ": template parameter " + param +
                                " has no argument (" + std::to_string(values_.size()) +
                                " of " + std::to_string(kernel_.templateParams.size()) + ")");
  return values_[size_t(i)];
}

std::optional<int64_t> parseInteger(const std::string &spelling) {
  size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(spelling, &used);
  } catch (const std::exception &) {
    return std::nullopt;
  }
  if (used == 0 || used != spelling.size())
    return std::nullopt;
  return int64_t(value);
}

int64_t TemplateArgs::integer(const std::string &param) const {
  const std::string &spelling = (*this)[param];
  std::optional<int64_t> value = parseInteger(spelling);
  if (!value)
    throw std::invalid_argument("template parameter " + param + ": expected an integer, got '" +
                                spelling + "'");
  return *value;
}

int64_t TemplateArgs::elementBytes(const std::string &param) const {
  const std::string &spelling = (*this)[param];
  if (spelling == "slk::bf16")
    return 2;
  if (spelling == "float")
    return 4;
  throw std::invalid_argument("template parameter " + param + ": unsupported element type '" +
                              spelling + "' (expected slk::bf16 or float)");
}

bool TemplateArgs::flag(const std::string &param) const {
  const std::string &spelling = (*this)[param];
  if (spelling != "true" && spelling != "false")
    throw std::invalid_argument("template parameter " + param + ": expected true or false, got '" +
                                spelling + "'");
  return spelling == "true";
}

int64_t TemplateArgs::constant(const std::string &param) const {
  for (const auto &[name, value] : constants_)
    if (name == param)
      return value;
  throw std::invalid_argument(kernel_.name + ": the shared memory depends on the constant " +
                              "argument " + param + ", which was not given");
}

std::vector<std::string> argsByName(
    const KernelSignature &kernel,
    const std::vector<std::pair<std::string, std::string>> &named) {
  std::vector<std::string> args(kernel.templateParams.size());
  for (const auto &[name, value] : named) {
    int i = kernel.templateIndex(name);
    if (i < 0)
      throw std::invalid_argument(kernel.name + " has no template parameter " + name);
    args[size_t(i)] = value;
  }
  return args;
}

int64_t sharedBytes(const KernelSignature &kernel, const std::vector<std::string> &args,
                    const std::vector<std::pair<std::string, int64_t>> &constants) {
  return kernel.sharedBytes ? kernel.sharedBytes(TemplateArgs(kernel, args, constants)) : 0;
}

std::string smemCheckExpression(const KernelSignature &kernel,
                                const std::vector<std::string> &args,
                                const std::vector<std::pair<std::string, int64_t>> &constants) {
  return substituteNames(kernel, kernel.smemCheck, args, constants);
}

std::string kernelSymbol(const KernelSignature &kernel, const std::vector<std::string> &args) {
  std::string symbol = kernel.name;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &label = i < kernel.labels.size() ? kernel.labels[i] : "";
    if (args[i] == "false" || args[i] == "slk::kActNone")
      continue;  // absent features leave the name short
    symbol += "_";
    symbol += args[i] == "true" ? label : label + symbolPart(args[i]);
  }
  return symbol;
}

std::string wrapperSource(const KernelSignature &kernel, const std::vector<std::string> &args,
                          const std::string &symbol, int64_t threads) {
  std::ostringstream source;
  source << "#include \"" << kernel.header << "\"\n\n"
         << "extern \"C\" __global__ void __launch_bounds__(" << threads << ")\n"
         << symbol << "(";
  for (size_t i = 0; i < kernel.params.size(); ++i) {
    std::string type = wrapperType(kernel, kernel.params[i].type, args);
    source << (i ? ", " : "") << type << (type.back() == '*' ? "" : " ") << kernel.params[i].name;
  }
  source << ") {\n  slk::" << kernel.name << "<" << join(args, ", ") << ">(";
  for (size_t i = 0; i < kernel.params.size(); ++i)
    source << (i ? ", " : "") << kernel.params[i].name;
  source << ");\n}\n";
  return source.str();
}

}  // namespace sl::kernels
