#include "compiler/TileHeuristics.h"

#include "dialects/SL/SLDialect.h"
#include "runtime/kernels/KernelTable.h"

#include "mlir/IR/TypeUtilities.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>

namespace sl::compiler {

using namespace mlir;

namespace {

std::string dtypeName(Type type) {
  if (type.isBF16())
    return "bf16";
  if (type.isF16())
    return "f16";
  if (type.isF32())
    return "f32";
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

// Projections: GEMV for decode-sized calls, tensor-core GEMM otherwise.
TileProblem projectionProblem(Value x, Value weight, int64_t maxTokens, const std::string &target) {
  auto weightType = llvm::cast<RankedTensorType>(weight.getType());
  Type element = weightType.getElementType();
  int64_t n = weightType.getDimSize(0), k = weightType.getDimSize(1);
  TileProblem problem;
  problem.bucket = {{"n", std::to_string(n)}, {"k", std::to_string(k)},
                    {"dtype", dtypeName(element)}};
  if (maxTokens <= 8) {
    problem.kernel = "gemv";
    problem.bucket["m"] = std::to_string(maxTokens);
    problem.heuristic = {{"warps", 4}, {"max_m", maxTokens}};
    return problem;
  }
  int64_t m = static_cast<int64_t>(llvm::PowerOf2Ceil(static_cast<uint64_t>(maxTokens)));
  problem.bucket["m"] = std::to_string(m);
  if (element.isBF16() && target == "sm_90a" && k % 8 == 0) {
    // Hopper: warpgroup MMA, 64-element k tiles, as many slots as ~192 KiB hold (3 to 6);
    // 256-column tiles from n = 3072 (measured on an H100, docs/benchmarks: below, 128-column
    // tiles give more blocks and win).
    problem.kernel = "gemm_wgmma";
    int64_t bm = m >= 128 ? 128 : 64, bn = n >= 3072 ? 256 : 128;
    int64_t stages = std::clamp<int64_t>(196608 / ((bm + bn) * 128), 3, 6);
    problem.heuristic = {{"bm", bm}, {"bn", bn}, {"stages", stages}};
    return problem;
  }
  problem.kernel = "gemm";
  if (element.isBF16()) {
    int64_t bm = m >= 128 ? 128 : 64, bn = n >= 128 ? 128 : 64;
    problem.heuristic = {{"bm", bm}, {"bn", bn},      {"bk", 32},
                         {"stages", 3}, {"warps_m", 2}, {"warps_n", bn / 32}};
  } else {
    // fp32 runs on the FMA path: 64x64 tiles, 128 threads.
    problem.heuristic = {{"bm", 64},     {"bn", 64},      {"bk", 16},
                         {"stages", 2}, {"warps_m", 2}, {"warps_n", 2}};
  }
  return problem;
}

// Routed experts: grouped tensor-core GEMMs for prefill, weight-streaming GEMVs for decode.
TileProblem expertsProblem(mlir::sl::MoEExpertsOp op, int64_t maxTokens, const std::string &target) {
  auto up = llvm::cast<RankedTensorType>(op.getUp().getType());
  int64_t experts = up.getDimSize(0), inter = up.getDimSize(1), hidden = up.getDimSize(2);
  int64_t topK = llvm::cast<RankedTensorType>(op.getWeights().getType()).getDimSize(1);
  TileProblem problem;
  problem.bucket = {{"experts", std::to_string(experts)}, {"inter", std::to_string(inter)},
                    {"hidden", std::to_string(hidden)}, {"top_k", std::to_string(topK)},
                    {"dtype", dtypeName(up.getElementType())}};
  if (maxTokens <= 8) {
    problem.kernel = "moe_decode";
    problem.bucket["m"] = std::to_string(maxTokens);
    problem.heuristic = {{"warps", 8}};
    return problem;
  }
  problem.kernel = "moe_grouped";
  problem.bucket["m"] = std::to_string(llvm::PowerOf2Ceil(static_cast<uint64_t>(maxTokens)));
  if (up.getElementType().isBF16()) {
    // Fewer than ~100 rows per expert: 64-row tiles waste less padding. On sm_90a the 128-row
    // tiles run the wgmma main loop (sl_moe.cuh moe::UsesWgmma), which loads stages - 2 tiles
    // ahead: 4 stages there, 3 for the mma.sync loop of the other targets.
    // Rows per expert come from the router's experts: an expert-parallel rank holds fewer of
    // them, but each still gets maxTokens * topK / routed rows on average.
    int64_t routed = experts;
    if (auto router = op.getIndices().getDefiningOp<mlir::sl::MoERouterOp>())
      routed = llvm::cast<RankedTensorType>(router.getGate().getType()).getDimSize(0);
    int64_t bm = maxTokens * topK / routed < 100 ? 64 : 128;
    int64_t stages = target == "sm_90a" ? 4 : 3;
    problem.heuristic = {{"bm", bm},       {"bn", 128},     {"bk", 64},
                         {"stages", stages}, {"warps_m", 2}, {"warps_n", 4}};
  } else {
    problem.heuristic = {{"bm", 64},     {"bn", 64},      {"bk", 16},
                         {"stages", 2}, {"warps_m", 2}, {"warps_n", 2}};
  }
  return problem;
}

// Dense attention: FlashAttention-style prefill, split-K flash-decode.
TileProblem attentionProblem(mlir::sl::DenseAttentionOp op, int64_t maxTokens) {
  auto cache = op.getCache().getType();
  TileProblem problem;
  problem.bucket = {{"heads", std::to_string(op.getNumHeadsAttr().getInt())},
                    {"kv_heads", std::to_string(cache.getKvHeads())},
                    {"head_dim", std::to_string(cache.getHeadDim())},
                    {"dtype", dtypeName(cache.getElementType())}};
  if (maxTokens <= 8) {
    problem.kernel = "attention_decode";
    problem.bucket["m"] = std::to_string(maxTokens);
    // Past head_dim 128 the per-warp key tiles would overflow shared memory: bf16 halves the
    // tile (16 keys), f32 (tiles of 32 keys at least) halves the warps.
    const bool wide = cache.getHeadDim() > 128, f32 = cache.getElementType().isF32();
    problem.heuristic = {{"splits", 64}, {"bn", wide && !f32 ? 16 : 32}, {"warps", wide && f32 ? 2 : 4}};
    return problem;
  }
  problem.kernel = "attention_prefill";
  problem.bucket["m"] = std::to_string(llvm::PowerOf2Ceil(static_cast<uint64_t>(maxTokens)));
  problem.heuristic = {{"bm", 64}, {"bn", 64}};
  return problem;
}

// The Mamba-2 SSD scan: the chunk length of the chunked prefill is the compiler's choice (the
// result does not depend on it; the checkpoint's chunk_size is not used): 128-token chunks for
// long prefills, the token capacity rounded up to a power of two (at least 32) for short ones,
// halved while the scan's shared memory would not fit. Decode: ROWS state rows per block.
TileProblem ssdProblem(mlir::sl::SSDScanOp op, int64_t maxTokens) {
  mlir::sl::MambaStateType state = op.getState().getType();
  const int64_t headDim = state.getHeadDim(), stateSize = state.getStateSize();
  TileProblem problem;
  problem.bucket = {{"heads", std::to_string(state.getHeads())},
                    {"head_dim", std::to_string(headDim)},
                    {"groups", std::to_string(state.getGroups())},
                    {"state", std::to_string(stateSize)},
                    {"dtype", dtypeName(getElementTypeOrSelf(op.getXbc().getType()))}};
  if (maxTokens <= 8) {
    problem.kernel = "ssd_step";
    problem.bucket["m"] = std::to_string(maxTokens);
    problem.heuristic = {{"rows", headDim % 4 == 0 ? 4 : headDim % 2 == 0 ? 2 : 1}};
    return problem;
  }
  problem.kernel = "ssd_scan";
  problem.bucket["m"] = std::to_string(llvm::PowerOf2Ceil(static_cast<uint64_t>(maxTokens)));
  int64_t chunk = std::clamp<int64_t>(
      static_cast<int64_t>(llvm::PowerOf2Ceil(static_cast<uint64_t>(maxTokens))), 32, 128);
  while (chunk > 32 && std::max(ssdChunkScanSmem(headDim, chunk),
                                ssdChunkStateSmem(headDim, stateSize, chunk)) > kMaxDynamicSmem)
    chunk /= 2;
  problem.heuristic = {{"chunk", chunk}};
  return problem;
}

}  // namespace

// The kernel table's formulas (runtime/kernels/KernelTable.h), checked against sl_ssd.cuh.
int64_t ssdChunkScanSmem(int64_t headDim, int64_t chunk) {
  const auto &kernel = *::sl::kernels::findKernel("ssd_chunk_scan");
  return ::sl::kernels::sharedBytes(
      kernel, ::sl::kernels::argsByName(kernel, {{"HEAD_DIM", std::to_string(headDim)},
                                                 {"CHUNK", std::to_string(chunk)}}));
}

int64_t ssdChunkStateSmem(int64_t headDim, int64_t stateSize, int64_t chunk) {
  const auto &kernel = *::sl::kernels::findKernel("ssd_chunk_state");
  return ::sl::kernels::sharedBytes(
      kernel, ::sl::kernels::argsByName(kernel, {{"HEAD_DIM", std::to_string(headDim)},
                                                 {"STATE", std::to_string(stateSize)},
                                                 {"CHUNK", std::to_string(chunk)}}));
}

std::optional<TileProblem> tileProblem(Operation *op, int64_t maxTokens, const std::string &target) {
  if (auto scan = llvm::dyn_cast<mlir::sl::SSDScanOp>(op))
    return ssdProblem(scan, maxTokens);
  if (auto experts = llvm::dyn_cast<mlir::sl::MoEExpertsOp>(op))
    return expertsProblem(experts, maxTokens, target);
  if (auto attention = llvm::dyn_cast<mlir::sl::DenseAttentionOp>(op))
    return attentionProblem(attention, maxTokens);
  if (auto linear = llvm::dyn_cast<mlir::sl::LinearOp>(op))
    return projectionProblem(linear.getX(), linear.getWeight(), maxTokens, target);
  if (auto head = llvm::dyn_cast<mlir::sl::LMHeadOp>(op))
    return projectionProblem(head.getX(), head.getWeight(), maxTokens, target);
  return std::nullopt;
}

std::vector<std::map<std::string, int64_t>> tileCandidates(const TileProblem &problem,
                                                           const std::string &target) {
  using Params = std::map<std::string, int64_t>;
  std::vector<Params> candidates{problem.heuristic};
  auto add = [&](Params params) {
    if (std::find(candidates.begin(), candidates.end(), params) == candidates.end())
      candidates.push_back(std::move(params));
  };
  const std::string &kernel = problem.kernel;
  const bool bf16 = problem.bucket.count("dtype") && problem.bucket.at("dtype") == "bf16";
  if (kernel == "gemm_wgmma") {
    for (int64_t bm : {64, 128})
      for (int64_t bn : {128, 256})
        for (int64_t stages : {3, 4, 5, 6})
          add({{"bm", bm}, {"bn", bn}, {"stages", stages}});
  } else if (kernel == "gemm" && bf16) {
    // mma.sync: warp tiles of 64 x 32 (the heuristic's), block tiles from 64 to 256.
    for (int64_t bm : {64, 128, 256})
      for (int64_t bn : {64, 128, 256})
        for (int64_t bk : {32, 64})
          add({{"bm", bm}, {"bn", bn}, {"bk", bk}, {"stages", 3},
               {"warps_m", std::max<int64_t>(1, bm / 64)}, {"warps_n", bn / 32}});
  } else if (kernel == "gemm") {
    for (int64_t bm : {32, 64, 128})
      for (int64_t bn : {64, 128})
        add({{"bm", bm}, {"bn", bn}, {"bk", 16}, {"stages", 2}, {"warps_m", 2}, {"warps_n", 2}});
  } else if (kernel == "moe_grouped" && bf16) {
    // On sm_90a the tiles moe::UsesWgmma accepts (bk 64, bm / 16 warps, bn 128 or 256) run the
    // warpgroup main loop; the others, and every tile elsewhere, mma.sync.
    if (target == "sm_90a")
      for (int64_t bm : {64, 128})
        for (int64_t bn : {128, 256})
          for (int64_t stages : {3, 4, 5, 6})
            add({{"bm", bm}, {"bn", bn}, {"bk", 64}, {"stages", stages},
                 {"warps_m", bm / 64}, {"warps_n", 4}});
    for (int64_t bm : {64, 128})
      for (int64_t bn : {64, 128})
        for (int64_t bk : {32, 64})
          add({{"bm", bm}, {"bn", bn}, {"bk", bk}, {"stages", 3}, {"warps_m", 2},
               {"warps_n", bn / 32}});
  } else if (kernel == "gemv" || kernel == "moe_decode") {
    for (int64_t warps : {2, 4, 8, 16}) {
      Params params = problem.heuristic;
      params["warps"] = warps;
      add(params);
    }
  } else if (kernel == "attention_prefill") {
    for (int64_t bm : {64, 128})
      for (int64_t bn : {32, 64, 128})
        add({{"bm", bm}, {"bn", bn}});
  } else if (kernel == "attention_decode") {
    for (int64_t splits : {16, 32, 64, 128}) {
      Params params = problem.heuristic;
      params["splits"] = splits;
      add(params);
    }
  } else if (kernel == "ssd_scan") {
    for (int64_t chunk : {32, 64, 128, 256})
      if (chunk <= std::max<int64_t>(32, std::stoll(problem.bucket.at("m"))))
        add({{"chunk", chunk}});
  } else if (kernel == "ssd_step") {
    for (int64_t rows : {1, 2, 4, 8})
      add({{"rows", rows}});
  }
  return candidates;
}

}  // namespace sl::compiler
