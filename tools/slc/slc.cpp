// slc: the sl compiler driver. `slc import` (HF model directory -> sl graph) and `slc compile`
// (sl graph -> artifact); the logic lives in the SLImport and SLCompiler libraries.
#include "compiler/CompileCommand.h"
#include "models/ImportCommand.h"

#include <iostream>
#include <string>

static const char *kUsage =
    "usage: slc <command> [options]\n"
    "\n"
    "commands:\n"
    "  import <hf-model-dir> -o model.mlir      config.json -> whole model graph in the sl dialect\n"
    "  compile model.mlir --target=sm_90a,sm_100a -o model.slpkg\n"
    "                                           passes, tile selection, CUDA C++ emission checked\n"
    "                                           by NVRTC, flatbuffer artifact\n"
    "\n"
    "`slc <command> --help` lists the options of a command.\n";

int main(int argc, char **argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command.empty() || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return command.empty() ? 2 : 0;
  }
  // The command parses its own options and sees "slc <command>" as its program name.
  std::string program = std::string(argv[0]) + " " + command;
  argv[1] = program.data();
  if (command == "import")
    return sl::importer::runImportCommand(argc - 1, argv + 1);
  if (command == "compile")
    return sl::compiler::runCompileCommand(argc - 1, argv + 1);
  std::cerr << "slc: unknown command '" << command << "'\n\n" << kUsage;
  return 2;
}
