#include "models/ImportCommand.h"

#include <iostream>

namespace sl::importer {
int runImportCommand(int, char **) {
  std::cerr << "slc import: under construction\n";
  return 1;
}
}  // namespace sl::importer
