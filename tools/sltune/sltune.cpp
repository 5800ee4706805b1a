// sltune: measures a tile sweep (slc compile --tuning-sweep) on the GPU it runs on and writes the
// tuning database slc compile reads (docs/tuning.md). Links no MLIR or LLVM.
#include "runtime/app/Tune.h"

#include <exception>
#include <iostream>

int main(int argc, char **argv) {
  try {
    return sl::runtime::tuneCommand(argc - 1, argv + 1);
  } catch (const std::exception &error) {
    std::cerr << "sltune: internal error: " << error.what() << "\n";
  } catch (...) {
    std::cerr << "sltune: internal error: an unknown exception\n";
  }
  return 1;
}
