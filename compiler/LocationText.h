// Locations as plain text for artifacts and messages: "model.mlir:12:5",
// "backbone.layers.5.mixer (model.mlir:12:5)".
#pragma once

#include "mlir/IR/Location.h"

#include <string>

namespace sl::compiler {
std::string locationText(mlir::Location loc);
}  // namespace sl::compiler
