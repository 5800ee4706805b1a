// superlinear-exp: Nemotron-H whose attention layers are multi-step attention. Its own config
// keys (the multi-step hyper-parameters, checked by the one definition of their rules,
// sl::math::checkConfig, shared with the #sl.msa verifier) and its attention graph (a routing
// query projection q1 and sl.multi_step_attention). See ImportConfig.h and ImportGraph.h.
#include "models/ImportConfig.h"
#include "models/ImportGraph.h"

#include "runtime/math/SuperlinearMath.h"

namespace sl::importer::detail {

void readMultiStep(ConfigReader &r, ModelConfig &cfg) {
  // Multi-step attention hyper-parameters (SUPERLINEAR.md section 2), defaults of the model.
  cfg.swIndex = r.integer("span_attention_sw_index", 65, 0, kMaxSwIndex);
  cfg.numSpans = r.integer("span_attention_num_spans", 3, 1, 8);
  cfg.backwardFactor = r.number("span_attention_backward_factor", 3.0);
  cfg.forwardFactor = r.number("span_attention_forward_factor", 1.0);
  cfg.searchPower = r.number("span_attention_search_power", 0.55);
  cfg.spanPower = r.number("span_attention_span_power", 0.55);
  if (!r.ok())
    return;
  if (auto problem = ::sl::math::checkConfig(cfg.swIndex, cfg.numSpans, cfg.backwardFactor,
                                              cfg.forwardFactor, cfg.searchPower, cfg.spanPower))
    r.fail("span_attention_" + problem->field, problem->message);
}

mlir::Value GraphBuilder::routingQuery(int64_t i, mlir::Value x, mlir::Location at) {
  if (q1FromQ)
    return mlir::Value();
  return linear(x, "q1_proj", "q1_proj_bias", cfg.attentionBias, i, cfg.heads * cfg.headDim, at);
}

mlir::Value GraphBuilder::multiStepAttention(mlir::Location at, mlir::Value q1, mlir::Value q,
                                             mlir::Value k, mlir::Value v, mlir::Value &cache) {
  int64_t qWidth = cfg.heads * cfg.headDim;
  auto config = mlir::sl::MultiStepConfigAttr::get(
      ctx, cfg.swIndex, cfg.numSpans, llvm::APFloat(cfg.backwardFactor),
      llvm::APFloat(cfg.forwardFactor), llvm::APFloat(cfg.searchPower),
      llvm::APFloat(cfg.spanPower));
  auto op = b.create<mlir::sl::MultiStepAttentionOp>(at, act(qWidth), cache.getType(),
                                                     q1 ? q1 : q, q, k, v, cache, config,
                                                     b.getI64IntegerAttr(cfg.heads));
  cache = op.getNewCache();
  return op.getResult();
}

}  // namespace sl::importer::detail
