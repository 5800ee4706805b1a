// The graph of a model: the module attributes, the forward function's signature (tokens and
// the per-layer states), the embeddings, the pre-norm residual layer loop, the final norm, the
// LM head and the sampler; the layers themselves are NemotronH.cpp's and SuperlinearExp.cpp's.
// See ImportGraph.h.
#include "models/ImportGraph.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/STLExtras.h"

namespace sl::importer::detail {

mlir::OwningOpRef<mlir::ModuleOp> GraphBuilder::build() {
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::FileLineColLoc::get(ctx, configPath, 1, 1));

  // Module attributes: what the config said, and which defaults filled its gaps.
  llvm::SmallVector<mlir::Attribute> defaults;
  for (const std::string &key : cfg.defaultsApplied)
    defaults.push_back(b.getStringAttr(key));
  auto tokenAttr = [&](const json &v) -> mlir::Attribute {
    if (!v.is_array())
      return b.getI64IntegerAttr(v.get<int64_t>());
    llvm::SmallVector<mlir::Attribute> ids;
    for (const json &item : v)
      ids.push_back(b.getI64IntegerAttr(item.get<int64_t>()));
    return b.getArrayAttr(ids);
  };
  mlir::ModuleOp m = *module;
  m->setAttr("sl.model_type", b.getStringAttr(cfg.modelType));
  m->setAttr("sl.layers", b.getStringAttr(cfg.pattern));
  m->setAttr("sl.vocab_size", b.getI64IntegerAttr(cfg.vocab));
  m->setAttr("sl.hidden_size", b.getI64IntegerAttr(cfg.hidden));
  if (cfg.bos)
    m->setAttr("sl.bos_token_id", tokenAttr(*cfg.bos));
  if (cfg.eos)
    m->setAttr("sl.eos_token_id", tokenAttr(*cfg.eos));
  m->setAttr("sl.defaults_applied", b.getArrayAttr(defaults));
  if (q1FromQ)
    m->setAttr("sl.q1_from_q", b.getUnitAttr());

  // forward(tokens, states...) -> (logits, next token, states...).
  llvm::SmallVector<mlir::Type> stateTypes;
  llvm::SmallVector<mlir::Location> stateLocs;
  for (auto [i, kind] : llvm::enumerate(cfg.pattern)) {
    if (kind == 'M')
      stateTypes.push_back(mambaStateType());
    else if (kind == '*')
      stateTypes.push_back(kvCacheType());
    else
      continue;
    stateLocs.push_back(loc(layerName(i) + ".mixer"));
  }
  auto tokensType = mlir::RankedTensorType::get({mlir::ShapedType::kDynamic}, b.getI32Type());
  auto logitsType = act(cfg.vocab, f32);
  llvm::SmallVector<mlir::Type> inputs{tokensType}, results{logitsType, tokensType};
  llvm::append_range(inputs, stateTypes);
  llvm::append_range(results, stateTypes);

  b.setInsertionPointToEnd(m.getBody());
  auto func = b.create<mlir::func::FuncOp>(loc("forward"), "forward",
                                           b.getFunctionType(inputs, results));
  llvm::SmallVector<mlir::Location> argLocs{loc("tokens")};
  llvm::append_range(argLocs, stateLocs);
  mlir::Block *body = b.createBlock(&func.getBody(), {}, inputs, argLocs);
  b.setInsertionPointToEnd(body);

  mlir::Location embAt = loc("backbone.embeddings");
  mlir::Value table = weight("embeddings", 0, {cfg.vocab, cfg.hidden}, dtype, embAt);
  mlir::Value h =
      b.create<mlir::sl::EmbeddingOp>(embAt, act(cfg.hidden), body->getArgument(0), table);

  llvm::SmallVector<mlir::Value> states(body->getArguments().drop_front());
  size_t nextState = 0;
  for (auto [index, kind] : llvm::enumerate(cfg.pattern)) {
    int64_t i = index;
    mlir::Location normAt = loc(layerName(i) + ".norm");
    mlir::Value normW = weight("norm", i, {cfg.hidden}, dtype, normAt);
    mlir::Value x = b.create<mlir::sl::RMSNormOp>(normAt, act(cfg.hidden), h, normW,
                                                  b.getF64FloatAttr(cfg.eps));
    mlir::Value out;
    switch (kind) {
    case 'M':
      out = mamba(i, x, states[nextState++]);
      break;
    case 'E':
      out = moe(i, x);
      break;
    case '-':
      out = mlp(i, x);
      break;
    default:
      out = attention(i, x, states[nextState++]);
      break;
    }
    h = b.create<mlir::sl::AddOp>(loc(layerName(i)), h.getType(), h, out);
  }

  mlir::Location normFAt = loc("backbone.norm_f");
  mlir::Value normF = weight("norm_f", 0, {cfg.hidden}, dtype, normFAt);
  h = b.create<mlir::sl::RMSNormOp>(normFAt, act(cfg.hidden), h, normF,
                                    b.getF64FloatAttr(cfg.eps));
  mlir::Location headAt = loc("lm_head");
  mlir::Value lmW =
      cfg.tieEmbeddings ? table : weight("lm_head", 0, {cfg.vocab, cfg.hidden}, dtype, headAt);
  mlir::Value logits = b.create<mlir::sl::LMHeadOp>(headAt, logitsType, h, lmW);
  mlir::Value next = b.create<mlir::sl::SampleOp>(loc("sample"), tokensType, logits);

  llvm::SmallVector<mlir::Value> returned{logits, next};
  llvm::append_range(returned, states);
  b.create<mlir::func::ReturnOp>(loc("forward"), returned);
  return module;
}

}  // namespace sl::importer::detail
