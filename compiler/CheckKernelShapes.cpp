// sl-check-kernel-shapes: every op's shapes and its sl-select-tiles choices against the limits of
// the kernel library (runtime/kernels/*.cuh), so that an unsupported model or tuning record is
// refused at the op, naming the rule, before NVRTC compiles anything (a static_assert firing
// inside NVRTC, or a kernel that compiles but computes garbage, is never what a user sees).
// docs/model-family.md lists the rules; they mirror compiler/KernelLowering.cpp's template choices.
#include "compiler/Passes.h"
#include "compiler/TileHeuristics.h"
#include "runtime/kernels/KernelTable.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <set>
#include <string>

namespace mlir::sl {
#define GEN_PASS_DEF_SLCHECKKERNELSHAPES
#include "compiler/Passes.h.inc"

namespace {

// Opt-in dynamic shared memory per block on sm_90 and sm_100 (227 KiB).
using ::sl::compiler::kMaxDynamicSmem;

// Dynamic shared memory of `templateName` from the kernel table (runtime/kernels/KernelTable.h),
// its template arguments given by the names its formula reads.
int64_t tableSmem(const std::string &templateName,
                  const std::vector<std::pair<std::string, std::string>> &named,
                  const std::vector<std::pair<std::string, int64_t>> &constants = {}) {
  const auto &kernel = *::sl::kernels::findKernel(templateName);
  return ::sl::kernels::sharedBytes(kernel, ::sl::kernels::argsByName(kernel, named), constants);
}

std::string elementSpelling(int64_t bytes) { return bytes == 2 ? "slk::bf16" : "float"; }
// Static __shared__ arrays per block: ptxas refuses more.
constexpr int64_t kMaxStaticSmem = 49152;
constexpr int64_t kMaxThreads = 1024;
// KernelLowering's rule: functions of at most this many tokens run the decode kernels.
constexpr int64_t kDecodeTokens = 8;

int64_t elementBytes(Type type) {
  return std::max<int64_t>(1, (getElementTypeOrSelf(type).getIntOrFloatBitWidth() + 7) / 8);
}

int64_t dimOf(Value value, unsigned dim) {
  return llvm::cast<ShapedType>(value.getType()).getDimSize(dim);
}

// Reports the violated rules of one op. The same op appears in the prefill and the decode
// function (same location): a shape error is reported once.
class OpChecker {
public:
  // With `messages` the violations are collected there instead of reported at the op.
  OpChecker(Operation *op, int64_t maxTokens, std::set<std::pair<const void *, std::string>> &seen,
            bool &failed, std::vector<std::string> *messages = nullptr)
      : op_(op), maxTokens_(maxTokens), seen_(seen), failed_(failed), messages_(messages) {}

  int64_t maxTokens() const { return maxTokens_; }
  bool decode() const { return maxTokens_ <= kDecodeTokens; }

  // "<what> is <got>; the <kernels> support <supported>" unless `ok`.
  void require(bool ok, StringRef what, int64_t got, StringRef kernels, const Twine &supported) {
    if (!ok)
      report((what + " is " + Twine(got) + "; the " + kernels + " support " + supported).str());
  }

  void report(const std::string &message) {
    failed_ = true;
    if (messages_)
      messages_->push_back(message);
    else if (seen_.insert({op_->getLoc().getAsOpaquePointer(), message}).second)
      op_->emitOpError() << message;
  }

  // Where the tiles came from, for messages about them.
  std::string tileSource() const {
    auto source = op_->getAttrOfType<StringAttr>("sl.tile_source");
    return source ? source.str() : "sl.tiles";
  }

  std::optional<int64_t> tileValue(StringRef name) const {
    auto tiles = op_->getAttrOfType<DictionaryAttr>("sl.tiles");
    auto value = tiles ? tiles.getAs<IntegerAttr>(name) : IntegerAttr();
    if (!value)
      return std::nullopt;
    return value.getInt();
  }

  // The tile parameter `name` of `kernel`; a missing or non-positive one is reported.
  std::optional<int64_t> tile(StringRef kernel, StringRef name) {
    std::optional<int64_t> value = tileValue(name);
    if (!value) {
      report(("the " + kernel + " kernel needs tile " + name + ", missing from sl.tiles (chosen by " +
              tileSource() + ")")
                 .str());
      return std::nullopt;
    }
    if (*value <= 0) {
      requireTile(false, kernel, name, *value, "a positive " + name);
      return std::nullopt;
    }
    return value;
  }

  // "tile <name> of the <kernel> kernel is <got> (chosen by <source>); the <kernel> kernel
  // supports <supported>" unless `ok`.
  void requireTile(bool ok, StringRef kernel, StringRef name, int64_t got, const Twine &supported) {
    if (!ok)
      report(("tile " + name + " of the " + kernel + " kernel is " + Twine(got) + " (chosen by " +
              tileSource() + "); the " + kernel + " kernel supports " + supported)
                 .str());
  }

  void requireSmem(int64_t bytes, StringRef kernel, StringRef formula, bool fromTiles,
                   bool dynamic = true) {
    int64_t limit = dynamic ? kMaxDynamicSmem : kMaxStaticSmem;
    if (bytes <= limit)
      return;
    report(("the " + kernel + " kernel needs " + Twine(bytes) + " bytes of " +
            (dynamic ? "dynamic" : "static") + " shared memory (" + formula + ")" +
            (fromTiles ? " with the tiles chosen by " + tileSource() : std::string()) +
            "; at most " + Twine(limit) + (dynamic ? " (227 KiB)" : " (48 KiB)") +
            " fit in one block")
               .str());
  }

private:
  Operation *op_;
  int64_t maxTokens_;
  std::set<std::pair<const void *, std::string>> &seen_;
  bool &failed_;
  std::vector<std::string> *messages_;
};

// Tiles of gemm<...> and of the grouped MoE GEMMs (sl_gemm.cuh MmaConfig / FmaConfig).
void checkGemmTiles(OpChecker &c, StringRef kernel, bool bf16, int64_t bytes) {
  auto bm = c.tile(kernel, "bm"), bn = c.tile(kernel, "bn"), bk = c.tile(kernel, "bk"),
       stages = c.tile(kernel, "stages"), wm = c.tile(kernel, "warps_m"),
       wn = c.tile(kernel, "warps_n");
  if (!bm || !bn || !bk || !stages || !wm || !wn)
    return;
  int64_t threads = 32 * *wm * *wn;
  if (threads > kMaxThreads) {
    c.report(("tiles warps_m = " + Twine(*wm) + ", warps_n = " + Twine(*wn) + " of the " + kernel +
              " kernel (chosen by " + c.tileSource() + ") make " + Twine(threads) +
              " threads per block; at most 1024 (warps_m * warps_n <= 32)")
                 .str());
    return;
  }
  if (bf16) {
    c.requireTile(*bk % 16 == 0, kernel, "bk", *bk, "bk a multiple of 16");
    c.requireTile(*bm % (16 * *wm) == 0, kernel, "bm", *bm,
                  "bm a multiple of 16 * warps_m = " + Twine(16 * *wm));
    c.requireTile(*bn % (8 * *wn) == 0, kernel, "bn", *bn,
                  "bn a multiple of 8 * warps_n = " + Twine(8 * *wn));
    c.requireTile(*stages >= 2, kernel, "stages", *stages, "at least 2 pipeline stages");
  } else {
    // The fp32 FMA path: 16 thread columns, threads / 16 thread rows.
    c.requireTile(*bn % 16 == 0, kernel, "bn", *bn, "for fp32 bn a multiple of 16");
    c.requireTile(*bm % (threads / 16) == 0, kernel, "bm", *bm,
                  "for fp32 bm a multiple of 2 * warps_m * warps_n = " + Twine(threads / 16));
  }
  c.requireSmem(tableSmem("gemm", {{"T", elementSpelling(bytes)},
                                   {"BM", std::to_string(*bm)},
                                   {"BN", std::to_string(*bn)},
                                   {"BK", std::to_string(*bk)},
                                   {"STAGES", std::to_string(*stages)}}),
                kernel,
                "stages * (bm + bn) * (bk + 8) * " + std::to_string(bytes), true);
}

// Tiles of gemm_wgmma<...> (sl_gemm.cuh WgmmaConfig): BM / 64 warpgroups of m64nBN tiles.
void checkWgmmaTiles(OpChecker &c) {
  auto bm = c.tile("gemm_wgmma", "bm"), bn = c.tile("gemm_wgmma", "bn"),
       stages = c.tile("gemm_wgmma", "stages");
  if (!bm || !bn || !stages)
    return;
  c.requireTile(*bm == 64 || *bm == 128, "gemm_wgmma", "bm", *bm, "bm 64 or 128 (1 or 2 warpgroups)");
  c.requireTile(*bn == 128 || *bn == 256, "gemm_wgmma", "bn", *bn, "bn 128 or 256");
  c.requireTile(*stages >= 3, "gemm_wgmma", "stages", *stages, "at least 3 slots");
  c.requireSmem(tableSmem("gemm_wgmma", {{"BM", std::to_string(*bm)},
                                         {"BN", std::to_string(*bn)},
                                         {"STAGES", std::to_string(*stages)}}),
                "gemm_wgmma", "stages * (bm + bn) * 128 + 1024", true);
}

// The bf16 tensor-core GEMM reads 16-byte chunks of every row: k % 8 == 0.
void checkTensorCoreK(OpChecker &c, int64_t k, StringRef what) {
  c.require(k % 8 == 0, what, k, "bf16 tensor-core GEMM kernels",
            "a multiple of 8 (16-byte rows)");
}

void checkProjection(OpChecker &c, Operation *op, Value x, Value weight, Value norm) {
  auto kernel = op->getAttrOfType<StringAttr>("sl.kernel");
  if (!kernel)
    return;  // no tiles chosen: sl-lower-to-slk reports it
  bool bf16 = getElementTypeOrSelf(x.getType()).isBF16();
  int64_t k = dimOf(weight, 1), bytes = elementBytes(x.getType());
  if (kernel.getValue() == "gemm" || kernel.getValue() == "gemm_wgmma") {
    if (bf16) {
      checkTensorCoreK(c, k, "in features (k)");
      // A column slice of sl.split is read in place: its row stride and offset must keep the
      // 16-byte chunks aligned too.
      if (auto split = x.getDefiningOp<SplitOp>()) {
        int64_t offset = 0;
        for (Value piece : split.getPieces()) {
          if (piece == x)
            break;
          offset += dimOf(piece, 1);
        }
        int64_t stride = dimOf(split.getX(), 1);
        c.require(stride % 8 == 0, "the row stride of the input (a column slice)", stride,
                  "bf16 tensor-core GEMM kernels", "a multiple of 8 (16-byte rows)");
        c.require(offset % 8 == 0, "the column offset of the input (a column slice)", offset,
                  "bf16 tensor-core GEMM kernels", "a multiple of 8 (16-byte aligned rows)");
      }
    }
    if (kernel.getValue() == "gemm")
      checkGemmTiles(c, "gemm", bf16, bytes);
    else
      checkWgmmaTiles(c);
    return;
  }
  if (kernel.getValue() == "gemv") {
    auto warps = c.tile("gemv", "warps"), maxM = c.tile("gemv", "max_m");
    if (warps)
      c.requireTile(*warps <= 32, "gemv", "warps", *warps, "1 to 32 warps");
    if (maxM) {
      c.requireTile(*maxM <= 32, "gemv", "max_m", *maxM, "max_m from 1 to 32");
      c.requireTile(*maxM >= c.maxTokens(), "gemv", "max_m", *maxM,
                    "max_m at least the function's " + Twine(c.maxTokens()) + " tokens");
      if (norm)
        c.requireSmem(tableSmem("gemv_rmsnorm",
                                {{"T", elementSpelling(bytes)}, {"MAX_M", std::to_string(*maxM)}},
                                {{"k", k}}),
                      "gemv_rmsnorm",
                      "max_m * k rounded up to 8 * " + std::to_string(bytes), true);
    }
  }
}

void checkDenseAttention(OpChecker &c, DenseAttentionOp op) {
  KVCacheType cache = op.getCache().getType();
  int64_t headDim = cache.getHeadDim();
  bool bf16 = cache.getElementType().isBF16();
  // heads % kv_heads is the op verifier's.
  c.require(headDim % 16 == 0 && headDim <= 256, "head_dim", headDim, "attention kernels",
            "head_dim a multiple of 16, at most 256");
  auto kernel = op->getAttrOfType<StringAttr>("sl.kernel");
  if (!kernel)
    return;
  StringRef bnRule = bf16 ? "bn a multiple of 16" : "for fp32 bn a multiple of 32";
  int64_t bnMultiple = bf16 ? 16 : 32;
  if (kernel.getValue() == "attention_prefill") {
    auto bm = c.tile("attention_prefill", "bm"), bn = c.tile("attention_prefill", "bn");
    if (bm)
      c.requireTile(*bm % 16 == 0 && *bm <= 512, "attention_prefill", "bm", *bm,
                    "bm a multiple of 16, at most 512 (one warp per 16 rows)");
    if (bn)
      c.requireTile(*bn % bnMultiple == 0, "attention_prefill", "bn", *bn, bnRule);
    if (bm && bn && headDim <= 256)
      c.requireSmem(tableSmem("attention_prefill", {{"T", bf16 ? "slk::bf16" : "float"},
                                                    {"HEAD_DIM", std::to_string(headDim)},
                                                    {"BM", std::to_string(*bm)},
                                                    {"BN", std::to_string(*bn)}}),
                    "attention_prefill",
                    bf16 ? "(bm + 4 * bn) * (head_dim + 8) * 2"
                         : "4 * (bm * head_dim + bn * (2 * head_dim + 1))",
                    true);
    return;
  }
  if (kernel.getValue() == "attention_decode") {
    auto splits = c.tile("attention_decode", "splits"), bn = c.tile("attention_decode", "bn"),
         warps = c.tile("attention_decode", "warps");
    if (bn)
      c.requireTile(*bn % bnMultiple == 0, "attention_decode", "bn", *bn, bnRule);
    if (warps)
      c.requireTile(*warps <= 32, "attention_decode", "warps", *warps, "1 to 32 warps");
    if (splits && bn && warps && *warps <= 32 && headDim <= 256) {
      c.requireSmem(tableSmem("attention_decode_partial",
                              {{"T", bf16 ? "slk::bf16" : "float"},
                               {"HEAD_DIM", std::to_string(headDim)},
                               {"BN", std::to_string(*bn)},
                               {"WARPS", std::to_string(*warps)}}),
                    "attention_decode_partial",
                    bf16 ? "16 * (head_dim + 8) * 2 + max(warps * 4 * bn * (head_dim + 8) * 2, "
                           "warps * 16 * (head_dim + 2) * 4)"
                         : "16 * head_dim * 4 + max(warps * bn * (2 * head_dim + 1) * 4, "
                           "warps * 16 * (head_dim + 2) * 4)",
                    true);
    }
  }
}

// Multi-step attention (sl_msa.cuh), 4 warps per block as KernelLowering launches them.
void checkMsaAttention(OpChecker &c, KVCacheType cache, int64_t heads, MultiStepConfigAttr config) {
  int64_t headDim = cache.getHeadDim(), kvHeads = cache.getKvHeads();
  // heads % kv_heads and num_spans in [1, 8] are the verifiers'.
  c.require(headDim % 16 == 0 && headDim <= 256, "head_dim", headDim,
            "multi-step attention kernels", "head_dim a multiple of 16, at most 256");
  if (headDim % 16 != 0 || kvHeads <= 0 || heads % kvHeads != 0)
    return;
  int64_t group = heads / kvHeads, spans = config.getNumSpans();
  c.requireSmem(4 * group * spans * 8, "msa_anchor_topk",
                "4 warps * heads / kv_heads * num_spans * 8", false, /*dynamic=*/false);
  c.requireSmem(tableSmem("msa_window_attention",
                          {{"T", cache.getElementType().isBF16() ? "slk::bf16" : "float"},
                           {"HEAD_DIM", std::to_string(headDim)},
                           {"NW", "4"}}),
                "msa_window_attention / msa_span_attention",
                "msa_attention_smem<T, head_dim, 4>()", false);
}

void checkRouter(OpChecker &c, MoERouterOp op) {
  int64_t experts = dimOf(op.getGate(), 0), hidden = dimOf(op.getX(), 1);
  int64_t topK = op.getTopKAttr().getInt();
  // top_k <= experts is the verifier's.
  c.require(topK <= 32, "top_k", topK, "MoE routing kernels",
            "top_k from 1 to min(experts, 32) = " + Twine(std::min<int64_t>(experts, 32)));
  bool bf16 = getElementTypeOrSelf(op.getX().getType()).isBF16() &&
              getElementTypeOrSelf(op.getGate().getType()).isBF16();
  if (!c.decode() && bf16) {
    // A prefill chunk computes the logits with the tensor-core GEMM.
    checkTensorCoreK(c, hidden, "the hidden size (k of the router's logits GEMM)");
    return;
  }
  c.requireSmem(4 * (hidden + experts), "moe_router", "4 * (hidden + experts)", false,
                /*dynamic=*/false);
}

void checkExperts(OpChecker &c, MoEExpertsOp op) {
  auto kernel = op->getAttrOfType<StringAttr>("sl.kernel");
  if (!kernel)
    return;
  auto up = llvm::cast<RankedTensorType>(op.getUp().getType());
  int64_t experts = up.getDimSize(0), inter = up.getDimSize(1), hidden = up.getDimSize(2);
  bool bf16 = up.getElementType().isBF16();
  if (kernel.getValue() == "moe_grouped") {
    if (bf16) {
      c.require(hidden % 8 == 0, "the hidden size", hidden, "bf16 grouped MoE GEMM kernels",
                "a multiple of 8");
      c.require(inter % 8 == 0, "the expert intermediate size", inter,
                "bf16 grouped MoE GEMM kernels", "a multiple of 8");
    }
    c.requireSmem(12 * experts + 4, "moe_align", "3 * experts * 4 + 4", false,
                  /*dynamic=*/false);
    checkGemmTiles(c, "moe_grouped", bf16, elementBytes(up));
    return;
  }
  if (kernel.getValue() == "moe_decode")
    if (auto warps = c.tile("moe_decode", "warps"))
      c.requireTile(*warps <= 32, "moe_decode", "warps", *warps, "1 to 32 warps");
}

void checkSSD(OpChecker &c, SSDScanOp op) {
  // heads % groups is the mamba_state verifier's.
  MambaStateType state = op.getState().getType();
  auto kernel = op->getAttrOfType<StringAttr>("sl.kernel");
  if (kernel && kernel.getValue() == "ssd_step") {
    // One warp per state row, rows rows per block.
    if (auto rows = c.tile("ssd_step", "rows"))
      c.requireTile(state.getHeadDim() % *rows == 0 && *rows <= 32, "ssd_step", "rows", *rows,
                    "rows dividing head_dim = " + Twine(state.getHeadDim()) + ", at most 32");
    return;
  }
  // Without tiles (hand-written IR before sl-select-tiles) the lowering reports the missing choice.
  if (!kernel || kernel.getValue() != "ssd_scan")
    return;
  std::optional<int64_t> chunk = c.tile("ssd_scan", "chunk");
  if (!chunk)
    return;
  c.requireTile(*chunk % 32 == 0 && *chunk >= 32 && *chunk <= 1024, "ssd_scan", "chunk", *chunk,
                "chunk a multiple of 32 from 32 to 1024");
  // The formulas sl-lower-to-slk sizes the launches with.
  int64_t headDim = state.getHeadDim();
  c.requireSmem(::sl::compiler::ssdChunkScanSmem(headDim, *chunk), "ssd_chunk_scan",
                "4 * (chunk * (chunk + 1) + 2 * min(32, chunk) * (max(chunk, head_dim) + 1) + "
                "2 * chunk)",
                true);
  c.requireSmem(::sl::compiler::ssdChunkStateSmem(headDim, state.getStateSize(), *chunk),
                "ssd_chunk_state", "4 * (min(32, chunk) * (head_dim + state_size) + chunk)", true);
}

// The rules of `op`'s kind.
void checkOp(OpChecker &c, Operation *op) {
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](LinearOp linear) {
        checkProjection(c, linear, linear.getX(), linear.getWeight(),
                        linear.getNormWeight());
      })
      .Case([&](LMHeadOp head) {
        checkProjection(c, head, head.getX(), head.getWeight(), Value());
      })
      .Case([&](DenseAttentionOp attention) { checkDenseAttention(c, attention); })
      .Case([&](MultiStepAttentionOp msa) {
        checkMsaAttention(c, msa.getCache().getType(), msa.getNumHeadsAttr().getInt(),
                          msa.getConfig());
      })
      .Case([&](MoERouterOp router) { checkRouter(c, router); })
      .Case([&](MoEExpertsOp experts) { checkExperts(c, experts); })
      .Case([&](CausalConv1dOp conv) {
        int64_t kernel = conv.getState().getType().getConvKernel();
        c.require(kernel >= 2, "conv_kernel", kernel, "causal conv1d kernels",
                  "a kernel size of at least 2");
      })
      .Case([&](SSDScanOp scan) { checkSSD(c, scan); });
}

struct CheckKernelShapes : impl::SLCheckKernelShapesBase<CheckKernelShapes> {
  void runOnOperation() override {
    std::set<std::pair<const void *, std::string>> seen;
    bool failed = false;
    getOperation().walk([&](func::FuncOp func) {
      auto maxTokens = func->getAttrOfType<IntegerAttr>("sl.max_tokens");
      if (!maxTokens) {
        func.emitError("sl-check-kernel-shapes expects functions specialised by "
                       "sl-specialize-phases (no sl.max_tokens attribute)");
        failed = true;
        return;
      }
      func.walk([&](Operation *op) {
        OpChecker c(op, maxTokens.getInt(), seen, failed);
        checkOp(c, op);
      });
    });
    if (failed)
      signalPassFailure();
  }
};

}  // namespace
}  // namespace mlir::sl

namespace sl::compiler {
std::vector<std::string> kernelShapeErrors(mlir::Operation *op, int64_t maxTokens) {
  std::set<std::pair<const void *, std::string>> seen;
  bool failed = false;
  std::vector<std::string> messages;
  mlir::sl::OpChecker c(op, maxTokens, seen, failed, &messages);
  mlir::sl::checkOp(c, op);
  return messages;
}
}  // namespace sl::compiler

