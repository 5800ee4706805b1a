// The per-op lowering rules of sl-lower-to-slk, one file per op family (as in Triton: dense,
// MoE, Mamba, attention, multi-step attention), and the helpers they share. FunctionLowering
// (compiler/KernelLowering.cpp) dispatches each op to its rule; a rule chooses the kernel-library
// template and builds its launches through LaunchBuilder. Private to the compiler.
#pragma once

#include "compiler/KernelLowering.h"

#include <optional>
#include <string>
#include <vector>

namespace sl::compiler::lowering {

// --- Helpers (Support.cpp) ---
// Elements between rows of a rank-2 buffer or view.
int64_t rowStrideOf(mlir::Value buffer);
// Size of dimension `dim` of a shaped value.
int64_t featureSize(mlir::Value value, unsigned dim = 1);
// Block size of a one-block-per-row kernel over `elements` values of `vectorWidth` each.
int64_t rowThreads(int64_t elements, int64_t vectorWidth);
std::string boolArg(bool value);
std::string activationArg(std::optional<mlir::sl::Activation> activation);
// A tile parameter chosen by sl-select-tiles (sl.tiles), -1 when absent.
int64_t tile(mlir::Operation *op, llvm::StringRef name);
std::string str(int64_t value);
// Templates read fp32 for these small per-head / per-expert parameters.
mlir::LogicalResult expectF32(mlir::Operation *op, mlir::Value value, llvm::StringRef what);
// Tiles of the gemm template (docs/kernels-dense.md).
struct GemmTiles {
  int64_t bm, bn, bk, stages, warpsM, warpsN;
};
void launchGemm(LaunchBuilder &launch, const std::string &inType, const std::string &outType,
                const GemmTiles &t, const std::vector<std::string> &epilogue, int64_t columns);

// --- Dense ops (DenseOps.cpp) ---
mlir::LogicalResult lowerProjection(FunctionLowering &L, mlir::Operation *op, mlir::Value x,
                                    mlir::Value weight, mlir::Value bias, mlir::Value residual,
                                    std::optional<mlir::sl::Activation> activation,
                                    mlir::Value result);
mlir::LogicalResult lowerRMSNorm(FunctionLowering &L, mlir::sl::RMSNormOp op);
mlir::LogicalResult lowerGatedRMSNorm(FunctionLowering &L, mlir::sl::GatedRMSNormOp op);
mlir::LogicalResult lowerEmbedding(FunctionLowering &L, mlir::sl::EmbeddingOp op);
mlir::LogicalResult lowerSample(FunctionLowering &L, mlir::sl::SampleOp op);
mlir::LogicalResult lowerAdd(FunctionLowering &L, mlir::sl::AddOp op);
mlir::LogicalResult lowerActivation(FunctionLowering &L, mlir::sl::ActivationOp op);
mlir::LogicalResult lowerSplit(FunctionLowering &L, mlir::sl::SplitOp op);

// --- MoE (MoEOps.cpp) ---
mlir::LogicalResult lowerMoERouter(FunctionLowering &L, mlir::sl::MoERouterOp op);
mlir::LogicalResult lowerMoEExperts(FunctionLowering &L, mlir::sl::MoEExpertsOp op);

// --- Mamba-2 (MambaOps.cpp) ---
mlir::LogicalResult lowerCausalConv1d(FunctionLowering &L, mlir::sl::CausalConv1dOp op);
mlir::LogicalResult lowerSSDScan(FunctionLowering &L, mlir::sl::SSDScanOp op);

// --- Attention (AttentionOps.cpp) ---
// Appends k, v to the cache (token t of the call at position start + t).
mlir::LogicalResult appendToCache(FunctionLowering &L, mlir::Location loc, mlir::Value k,
                                  mlir::Value v, mlir::sl::KVCacheType cache,
                                  mlir::Value stateArg);
mlir::LogicalResult lowerDenseAttention(FunctionLowering &L, mlir::sl::DenseAttentionOp op);

// --- Multi-step attention (MultiStepOps.cpp) ---
// The whole launch sequence of the op (append, routing, attention, merge), prefill or decode.
mlir::LogicalResult lowerMultiStepAttention(FunctionLowering &L,
                                           mlir::sl::MultiStepAttentionOp op);

}  // namespace sl::compiler::lowering
