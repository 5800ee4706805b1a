// `slc import`, steps 2 and 3 (models/Importer.h): checkpoint tensor names (NameMap.cpp) and
// the graph of a ModelConfig, built with OpBuilder: the model skeleton and the weights
// (GraphBuilder.cpp), the Nemotron-H layers (NemotronH.cpp), the multi-step attention of
// superlinear-exp (SuperlinearExp.cpp). Private to models/.
#pragma once

#include "models/ImportConfig.h"
#include "models/Importer.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <utility>
#include <vector>

namespace sl::importer::detail {

//===----------------------------------------------------------------------===//
// Checkpoint tensor names (NameMap.cpp)
//===----------------------------------------------------------------------===//

// The table of logical names -> patterns, with --name-map overrides applied.
class NameMap {
public:
  NameMap();

  // Applies the overrides of a --name-map file; on failure sets `error`.
  bool loadOverrides(const std::string &file, std::string &error);

  // The checkpoint name of `logical` in layer `layer` ({i} substituted; {e} kept: the weight is
  // one tensor per expert, stacked).
  std::string resolve(StringRef logical, int64_t layer) const;

private:
  // Why `pattern` cannot name `logical`'s tensors; empty when it can.
  static std::string checkPattern(StringRef logical, StringRef pattern);

  std::vector<std::pair<std::string, std::string>> patterns;
};

//===----------------------------------------------------------------------===//
// Graph construction
//===----------------------------------------------------------------------===//

class GraphBuilder {
public:
  GraphBuilder(mlir::MLIRContext &context, const ModelConfig &cfg, const NameMap &names,
               const std::string &configPath, bool q1FromQ)
      : ctx(&context), b(&context), cfg(cfg), names(names), configPath(configPath),
        q1FromQ(q1FromQ && cfg.multiStep) {
    dtype = elementType(cfg.dtype);
    f32 = b.getF32Type();
  }

  mlir::OwningOpRef<mlir::ModuleOp> build();

private:
  mlir::Type elementType(DType t) {
    switch (t) {
    case DType::BF16:
      return b.getBF16Type();
    case DType::F16:
      return b.getF16Type();
    case DType::F32:
      break;
    }
    return b.getF32Type();
  }

  mlir::Location loc(const std::string &name) {
    return mlir::NameLoc::get(b.getStringAttr(name));
  }
  static std::string layerName(int64_t i) { return "backbone.layers." + str(i); }

  // [tokens, n] activation.
  mlir::RankedTensorType act(int64_t n, mlir::Type element = {}) {
    return mlir::RankedTensorType::get({mlir::ShapedType::kDynamic, n}, element ? element : dtype);
  }

  mlir::Value weight(StringRef logical, int64_t layer, llvm::ArrayRef<int64_t> shape,
                     mlir::Type element, mlir::Location at) {
    auto type = mlir::RankedTensorType::get(shape, element);
    return b.create<mlir::sl::WeightOp>(at, type, names.resolve(logical, layer));
  }

  // x W^T (+ b) with W [out, in] in the model dtype.
  mlir::Value linear(mlir::Value x, StringRef logical, StringRef biasLogical, bool hasBias,
                     int64_t layer, int64_t out, mlir::Location at) {
    int64_t in = llvm::cast<mlir::RankedTensorType>(x.getType()).getDimSize(1);
    mlir::Value w = weight(logical, layer, {out, in}, dtype, at);
    mlir::Value bias = hasBias ? weight(biasLogical, layer, {out}, dtype, at) : mlir::Value();
    return b.create<mlir::sl::LinearOp>(at, act(out), x, w, bias);
  }

  mlir::sl::MambaStateType mambaStateType() {
    return mlir::sl::MambaStateType::get(ctx, cfg.mambaHeads, cfg.mambaHeadDim, cfg.nGroups,
                                         cfg.ssmStateSize, cfg.convKernel, dtype,
                                         elementType(cfg.ssmDtype));
  }
  mlir::sl::KVCacheType kvCacheType() {
    return mlir::sl::KVCacheType::get(ctx, cfg.kvHeads, cfg.headDim, dtype);
  }

  mlir::Value mamba(int64_t i, mlir::Value x, mlir::Value &state);
  mlir::Value moe(int64_t i, mlir::Value x);
  mlir::Value mlp(int64_t i, mlir::Value x);
  mlir::Value attention(int64_t i, mlir::Value x, mlir::Value &cache);

  // superlinear-exp (SuperlinearExp.cpp): the routing query projection q1 (none with
  // --q1-from-q), and the multi-step attention over q1 (or q), q, k, v.
  mlir::Value routingQuery(int64_t i, mlir::Value x, mlir::Location at);
  mlir::Value multiStepAttention(mlir::Location at, mlir::Value q1, mlir::Value q, mlir::Value k,
                                 mlir::Value v, mlir::Value &cache);

  mlir::MLIRContext *ctx;
  mlir::OpBuilder b;
  const ModelConfig &cfg;
  const NameMap &names;
  const std::string &configPath;
  bool q1FromQ;
  mlir::Type dtype, f32;
};

}  // namespace sl::importer::detail
