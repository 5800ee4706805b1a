// A lexical pre-scan of .mlir text before MLIR parses it. MLIR's parser recurses once per
// nesting level of regions, attribute and type brackets and parentheses, so a deeply nested
// input overflows its stack; the scan refuses such input first, in one linear pass.
#pragma once

#include "runtime/support/Status.h"

#include "llvm/ADT/StringRef.h"

namespace sl::compiler {

// Deepest nesting of ( [ { < accepted: the imported Nemotron-3-Nano graphs nest 4 deep, and
// MLIR's parser runs a few hundred levels deep in a default 8 MiB stack without trouble.
constexpr int kMaxMlirNesting = 256;

// Counts ( [ { < outside string literals and // comments; a closing bracket closes only the
// kind that is open, and the '>' of '->' closes nothing. Success, or
// "<name>:<line>:<column>: nesting deeper than <maxDepth> ..." at the first bracket beyond it.
Status checkNesting(llvm::StringRef text, llvm::StringRef name, int maxDepth = kMaxMlirNesting);

}  // namespace sl::compiler
