// slc: the sl compiler driver. `slc import` (HF model directory -> sl graph) and `slc compile`
// (sl graph -> artifact); the logic lives in the SLImport and SLCompiler libraries.
#include "compiler/CompileCommand.h"
#include "models/ImportCommand.h"

#include <exception>
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

static int runSlc(int argc, char **argv) {
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

int main(int argc, char **argv) {
  // Every known failure is checked and reported where it happens; an exception reaching this
  // point is a bug, reported as one instead of an abort.
  try {
    return runSlc(argc, argv);
  } catch (const std::exception &error) {
    std::cerr << "slc: internal error: " << error.what() << "\n";
  } catch (...) {
    std::cerr << "slc: internal error: an unknown exception\n";
  }
  return 1;
}
