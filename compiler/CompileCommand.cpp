#include "compiler/CompileCommand.h"

#include <iostream>

namespace sl::compiler {
int runCompileCommand(int, char **) {
  std::cerr << "slc compile: under construction\n";
  return 1;
}
}  // namespace sl::compiler
