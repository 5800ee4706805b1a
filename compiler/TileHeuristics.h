// Which kernel template an op runs as, its tuning bucket, and the heuristic tile parameters used
// when the tuning database has no matching record (docs/pipeline.md lists the rules).
#pragma once

#include "mlir/IR/Operation.h"

#include <map>
#include <optional>
#include <string>

namespace sl::compiler {

struct TileProblem {
  std::string kernel;                         // kernel template name
  std::map<std::string, std::string> bucket;  // tuning bucket
  std::map<std::string, int64_t> heuristic;   // tile parameters without a tuning record
};

// The tile problem of `op` in a function planned for `maxTokens` tokens, or nullopt when the op
// has no tile parameters.
std::optional<TileProblem> tileProblem(mlir::Operation *op, int64_t maxTokens);

}  // namespace sl::compiler
