// slrun: runs artifacts compiled by slc (logits, generate, run). Links no MLIR or LLVM.
#include "runtime/cli/Slrun.h"

int main(int argc, char **argv) { return sl::runtime::runSlrun(argc, argv); }
