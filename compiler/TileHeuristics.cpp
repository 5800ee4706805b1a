#include "compiler/TileHeuristics.h"

#include "dialects/SL/SLDialect.h"

#include "llvm/Support/MathExtras.h"

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
TileProblem projectionProblem(Value x, Value weight, int64_t maxTokens) {
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
  problem.kernel = "gemm";
  int64_t m = static_cast<int64_t>(llvm::PowerOf2Ceil(static_cast<uint64_t>(maxTokens)));
  problem.bucket["m"] = std::to_string(m);
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

}  // namespace

std::optional<TileProblem> tileProblem(Operation *op, int64_t maxTokens) {
  if (auto linear = llvm::dyn_cast<mlir::sl::LinearOp>(op))
    return projectionProblem(linear.getX(), linear.getWeight(), maxTokens);
  if (auto head = llvm::dyn_cast<mlir::sl::LMHeadOp>(op))
    return projectionProblem(head.getX(), head.getWeight(), maxTokens);
  return std::nullopt;
}

}  // namespace sl::compiler
