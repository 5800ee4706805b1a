// slrun: runs artifacts compiled by slc (logits, generate, run). Links no MLIR or LLVM.
#include "runtime/cli/Slrun.h"

#include <exception>
#include <iostream>

int main(int argc, char **argv) {
  // Every known failure is checked and reported where it happens; an exception reaching this
  // point is a bug, reported as one instead of an abort.
  try {
    return sl::runtime::runSlrun(argc, argv);
  } catch (const std::exception &error) {
    std::cerr << "slrun: internal error: " << error.what() << "\n";
  } catch (...) {
    std::cerr << "slrun: internal error: an unknown exception\n";
  }
  return 1;
}
