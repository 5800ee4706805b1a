// The Nemotron-H layers (nemotron_h; also the Mamba-2, MoE, MLP layers and the attention
// projections of superlinear-exp): their config keys and their graph. See ImportConfig.h and
// ImportGraph.h.
#include "models/ImportConfig.h"
#include "models/ImportGraph.h"

#include <cmath>

namespace sl::importer::detail {

//===----------------------------------------------------------------------===//
// Config keys
//===----------------------------------------------------------------------===//

void readMamba(ConfigReader &r, ModelConfig &cfg) {
  r.setRequiredBy("needed by the Mamba-2 layers (M) of the pattern");
  cfg.mambaHeads = r.integer("mamba_num_heads", std::nullopt, 1, kMaxMambaHeads);
  cfg.mambaHeadDim = r.integer("mamba_head_dim", std::nullopt, 1, kMaxMambaHeadDim);
  cfg.ssmStateSize = r.integer("ssm_state_size", std::nullopt, 1, kMaxStateSize);
  cfg.nGroups = r.integer("n_groups", std::nullopt, 1, kMaxGroups);
  cfg.convKernel = r.integer("conv_kernel", std::nullopt, 1, kMaxConvKernel);
  cfg.chunkSize = r.integer("chunk_size", 128, 1, kMaxChunkSize);
  cfg.convBias = r.boolean("use_conv_bias", true);
  cfg.mambaProjBias = r.boolean("mamba_proj_bias", false);
  // transformers' NemotronH builds the in_proj / out_proj biases from use_bias; the config also
  // carries mamba_proj_bias. They must not contradict each other.
  bool useBias = r.boolean("use_bias", false);
  r.activation("mamba_hidden_act", "silu", {"silu"});
  cfg.ssmDtype = r.dtype("mamba_ssm_cache_dtype", "float32");
  if (!r.ok())
    return;
  if (useBias != cfg.mambaProjBias) {
    r.fail("mamba_proj_bias", std::string("is ") + (cfg.mambaProjBias ? "true" : "false") +
                                  " but use_bias is " + (useBias ? "true" : "false") +
                                  "; transformers' NemotronH gives the Mamba-2 in_proj/out_proj "
                                  "a bias from use_bias, so they must agree");
    return;
  }
  if (cfg.mambaHeads % cfg.nGroups != 0) {
    r.fail("n_groups", "mamba_num_heads (" + str(cfg.mambaHeads) +
                           ") must be a multiple of n_groups (" + str(cfg.nGroups) + ")");
    return;
  }
  // time_step_limit: [dt_min, dt_max], default (0, inf) = no clamp.
  const json *limit = r.lookup("time_step_limit");
  if (!limit || limit->is_null()) {
    r.noteDefault("time_step_limit");
    return;
  }
  if (!limit->is_array() || limit->size() != 2) {
    r.fail("time_step_limit", "expected a list [dt_min, dt_max] of two numbers, got " +
                                  (limit->is_array() ? "a list of " + str(limit->size()) +
                                                           " elements"
                                                     : describe(*limit)));
    return;
  }
  std::optional<double> lo = ConfigReader::toNumber((*limit)[0]);
  std::optional<double> hi = ConfigReader::toNumber((*limit)[1]);
  if (!lo || !hi) {
    r.fail("time_step_limit", "expected a list [dt_min, dt_max] of two numbers, got " +
                                  describe(lo ? (*limit)[1] : (*limit)[0]) + " in it");
    return;
  }
  if (!(*lo >= 0.0 && *lo <= *hi) || std::isinf(*lo)) {
    r.fail("time_step_limit", "must satisfy 0 <= dt_min <= dt_max with dt_min finite, got (" +
                                  fmt(*lo) + ", " + fmt(*hi) + ")");
    return;
  }
  cfg.dtMin = *lo;
  cfg.dtMax = *hi;
}

void readMoE(ConfigReader &r, ModelConfig &cfg) {
  r.setRequiredBy("needed by the MoE layers (E) of the pattern");
  cfg.experts = r.integer("n_routed_experts", std::nullopt, 1, kMaxExperts);
  cfg.topK = r.integer("num_experts_per_tok", std::nullopt, 1, kMaxExperts);
  cfg.moeIntermediate = r.integer("moe_intermediate_size", std::nullopt, 1, kMaxIntermediate);
  cfg.sharedExperts = r.integer("n_shared_experts", 1, 0, kMaxSharedExperts);
  if (r.ok() && cfg.sharedExperts > 0) {
    r.setRequiredBy("needed by the shared expert of the MoE layers (n_shared_experts > 0)");
    cfg.sharedIntermediate = r.integer("moe_shared_expert_intermediate_size", std::nullopt, 1,
                                       kMaxIntermediate);
  }
  cfg.routedScaling = r.number("routed_scaling_factor", 1.0);
  cfg.normTopK = r.boolean("norm_topk_prob", true);
  cfg.moeActivation = r.activation("mlp_hidden_act", "relu2", {"relu2", "silu"});
  int64_t nGroup = r.integer("n_group", 1, 1, kMaxExperts);
  int64_t topKGroup = r.integer("topk_group", 1, 1, kMaxExperts);
  bool mlpBias = r.boolean("mlp_bias", false);
  // null is the value "no latent projection" (transformers' default), so only absence is noted.
  bool latent = r.present("moe_latent_size");
  if (!r.lookup("moe_latent_size"))
    r.noteDefault("moe_latent_size");
  if (!r.ok())
    return;
  if (cfg.topK > cfg.experts) {
    r.fail("num_experts_per_tok", "must be at most n_routed_experts (" + str(cfg.experts) +
                                      "), got " + str(cfg.topK));
    return;
  }
  if (!(cfg.routedScaling > 0.0) || std::isinf(cfg.routedScaling)) {
    r.fail("routed_scaling_factor", "must be a finite number > 0, got " + fmt(cfg.routedScaling));
    return;
  }
  if (nGroup != 1) {
    r.fail("n_group", "unsupported: grouped expert routing (n_group = " + str(nGroup) +
                          ") is not implemented by sl.moe_router; only n_group = 1 is");
    return;
  }
  if (topKGroup != 1) {
    r.fail("topk_group", "unsupported: grouped expert routing (topk_group = " + str(topKGroup) +
                             ") is not implemented by sl.moe_router; only topk_group = 1 is");
    return;
  }
  if (latent) {
    r.fail("moe_latent_size", "unsupported: latent MoE projections (moe_latent_size = " +
                                  r.lookup("moe_latent_size")->dump() +
                                  ") are not implemented; only null/absent is");
    return;
  }
  if (mlpBias)
    r.fail("mlp_bias", "unsupported: the MoE experts have biases when mlp_bias is true, and "
                       "sl.moe_experts has no bias operands; only false is supported for "
                       "models with MoE layers");
}

void readMLP(ConfigReader &r, ModelConfig &cfg) {
  r.setRequiredBy("needed by the MLP layers (-) of the pattern");
  cfg.intermediate = r.integer("intermediate_size", std::nullopt, 1, kMaxIntermediate);
  cfg.mlpActivation = r.activation("mlp_hidden_act", "relu2", {"relu2", "silu"});
  cfg.mlpBias = r.boolean("mlp_bias", false);
}

void readAttention(ConfigReader &r, ModelConfig &cfg) {
  r.setRequiredBy("needed by the attention layers (*) of the pattern");
  cfg.heads = r.integer("num_attention_heads", std::nullopt, 1, kMaxHeads);
  cfg.kvHeads = r.integer("num_key_value_heads", std::nullopt, 1, kMaxHeads);
  cfg.attentionBias = r.boolean("attention_bias", false);
  if (!r.ok())
    return;
  if (cfg.heads % cfg.kvHeads != 0) {
    r.fail("num_key_value_heads", "num_attention_heads (" + str(cfg.heads) +
                                      ") must be a multiple of num_key_value_heads (" +
                                      str(cfg.kvHeads) + ") for grouped-query attention");
    return;
  }
  if (r.present("head_dim")) {
    cfg.headDim = r.integer("head_dim", std::nullopt, 1, kMaxHeadDim);
  } else if (cfg.hidden % cfg.heads != 0) {
    r.fail("head_dim", "is absent, and its default hidden_size / num_attention_heads is not an "
                       "integer (" + str(cfg.hidden) + " / " + str(cfg.heads) + ")");
    return;
  } else if (cfg.hidden / cfg.heads > kMaxHeadDim) {
    r.fail("head_dim", "is absent, and its default hidden_size / num_attention_heads = " +
                           str(cfg.hidden / cfg.heads) + " is above the bound " +
                           str(kMaxHeadDim));
    return;
  } else {
    cfg.headDim = cfg.hidden / cfg.heads;
    r.noteDefault("head_dim");
  }
}

//===----------------------------------------------------------------------===//
// Graph
//===----------------------------------------------------------------------===//

mlir::Value GraphBuilder::mamba(int64_t i, mlir::Value x, mlir::Value &state) {
  mlir::Location at = loc(layerName(i) + ".mixer");
  int64_t heads = cfg.mambaHeads, dInner = cfg.mambaHeads * cfg.mambaHeadDim;
  int64_t convChannels = dInner + 2 * cfg.nGroups * cfg.ssmStateSize;
  mlir::Value proj = linear(x, "in_proj", "in_proj_bias", cfg.mambaProjBias, i,
                            dInner + convChannels + heads, at);
  auto split = b.create<mlir::sl::SplitOp>(
      at, mlir::TypeRange{act(dInner), act(convChannels), act(heads)}, proj);
  mlir::Value z = split.getResult(0), xbc = split.getResult(1), dt = split.getResult(2);

  mlir::Value convW = weight("conv1d", i, {convChannels, 1, cfg.convKernel}, dtype, at);
  mlir::Value convB =
      cfg.convBias ? weight("conv1d_bias", i, {convChannels}, dtype, at) : mlir::Value();
  auto conv = b.create<mlir::sl::CausalConv1dOp>(
      at, act(convChannels), state.getType(), xbc, state, convW, convB,
      mlir::sl::ActivationAttr::get(ctx, mlir::sl::Activation::silu));
  state = conv.getNewState();

  mlir::Value aLog = weight("A_log", i, {heads}, f32, at);
  mlir::Value d = weight("D", i, {heads}, f32, at);
  mlir::Value dtBias = weight("dt_bias", i, {heads}, f32, at);
  mlir::FloatAttr dtMin = cfg.dtMin != 0.0 ? b.getF64FloatAttr(cfg.dtMin) : mlir::FloatAttr();
  mlir::FloatAttr dtMax = !std::isinf(cfg.dtMax) ? b.getF64FloatAttr(cfg.dtMax) : mlir::FloatAttr();
  auto scan = b.create<mlir::sl::SSDScanOp>(at, act(dInner), state.getType(), conv.getResult(),
                                            dt, state, aLog, d, dtBias,
                                            b.getI64IntegerAttr(cfg.chunkSize), dtMin, dtMax);
  state = scan.getNewState();

  mlir::Value normW = weight("mamba_norm", i, {dInner}, dtype, at);
  mlir::Value gated = b.create<mlir::sl::GatedRMSNormOp>(
      at, act(dInner), scan.getResult(), z, normW, b.getF64FloatAttr(cfg.eps),
      b.getI64IntegerAttr(dInner / cfg.nGroups));
  return linear(gated, "out_proj", "out_proj_bias", cfg.mambaProjBias, i, cfg.hidden, at);
}

mlir::Value GraphBuilder::moe(int64_t i, mlir::Value x) {
  mlir::Location at = loc(layerName(i) + ".mixer");
  mlir::Value gate = weight("gate", i, {cfg.experts, cfg.hidden}, dtype, at);
  mlir::Value bias = weight("e_score_correction_bias", i, {cfg.experts}, f32, at);
  auto router = b.create<mlir::sl::MoERouterOp>(
      at, act(cfg.topK, f32), act(cfg.topK, b.getI32Type()), x, gate, bias,
      b.getI64IntegerAttr(cfg.topK), b.getF64FloatAttr(cfg.routedScaling),
      cfg.normTopK ? b.getUnitAttr() : mlir::UnitAttr());
  mlir::Value up =
      weight("expert_up_proj", i, {cfg.experts, cfg.moeIntermediate, cfg.hidden}, dtype, at);
  mlir::Value down =
      weight("expert_down_proj", i, {cfg.experts, cfg.hidden, cfg.moeIntermediate}, dtype, at);
  mlir::Value routed = b.create<mlir::sl::MoEExpertsOp>(
      at, act(cfg.hidden), x, router.getWeights(), router.getIndices(), up, down,
      mlir::sl::ActivationAttr::get(ctx, cfg.moeActivation));
  if (cfg.sharedExperts == 0)
    return routed;
  mlir::Value s = linear(x, "shared_up_proj", "", false, i, cfg.sharedIntermediate, at);
  s = b.create<mlir::sl::ActivationOp>(at, s.getType(), cfg.moeActivation, s);
  s = linear(s, "shared_down_proj", "", false, i, cfg.hidden, at);
  return b.create<mlir::sl::AddOp>(at, routed.getType(), routed, s);
}

mlir::Value GraphBuilder::mlp(int64_t i, mlir::Value x) {
  mlir::Location at = loc(layerName(i) + ".mixer");
  mlir::Value h = linear(x, "up_proj", "up_proj_bias", cfg.mlpBias, i, cfg.intermediate, at);
  h = b.create<mlir::sl::ActivationOp>(at, h.getType(), cfg.mlpActivation, h);
  return linear(h, "down_proj", "down_proj_bias", cfg.mlpBias, i, cfg.hidden, at);
}

mlir::Value GraphBuilder::attention(int64_t i, mlir::Value x, mlir::Value &cache) {
  mlir::Location at = loc(layerName(i) + ".mixer");
  int64_t qWidth = cfg.heads * cfg.headDim, kvWidth = cfg.kvHeads * cfg.headDim;
  bool bias = cfg.attentionBias;
  mlir::Value q1 = cfg.multiStep ? routingQuery(i, x, at) : mlir::Value();
  mlir::Value q = linear(x, "q_proj", "q_proj_bias", bias, i, qWidth, at);
  mlir::Value k = linear(x, "k_proj", "k_proj_bias", bias, i, kvWidth, at);
  mlir::Value v = linear(x, "v_proj", "v_proj_bias", bias, i, kvWidth, at);
  mlir::Value out;
  if (cfg.multiStep) {
    out = multiStepAttention(at, q1, q, k, v, cache);
  } else {
    auto op = b.create<mlir::sl::DenseAttentionOp>(at, act(qWidth), cache.getType(), q, k, v,
                                                   cache, b.getI64IntegerAttr(cfg.heads));
    out = op.getResult();
    cache = op.getNewCache();
  }
  return linear(out, "o_proj", "o_proj_bias", bias, i, cfg.hidden, at);
}

}  // namespace sl::importer::detail
