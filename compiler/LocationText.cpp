#include "compiler/LocationText.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/Support/raw_ostream.h"

namespace sl::compiler {

std::string locationText(mlir::Location loc) {
  if (auto file = llvm::dyn_cast<mlir::FileLineColLoc>(loc))
    return file.getFilename().str() + ":" + std::to_string(file.getLine()) + ":" +
           std::to_string(file.getColumn());
  if (auto name = llvm::dyn_cast<mlir::NameLoc>(loc)) {
    std::string child = locationText(name.getChildLoc());
    return name.getName().str() + (child.empty() ? "" : " (" + child + ")");
  }
  if (auto fused = llvm::dyn_cast<mlir::FusedLoc>(loc)) {
    std::string text;
    for (mlir::Location part : fused.getLocations()) {
      std::string piece = locationText(part);
      if (!piece.empty())
        text += (text.empty() ? "" : "; ") + piece;
    }
    return text;
  }
  if (auto call = llvm::dyn_cast<mlir::CallSiteLoc>(loc))
    return locationText(call.getCallee());
  return "";
}

}  // namespace sl::compiler
