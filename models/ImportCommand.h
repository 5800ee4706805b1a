// `slc import`: HuggingFace model directory (config.json) -> whole model graph in the sl dialect.
#pragma once

namespace sl::importer {

// argv[0] is the program name ("slc import"); returns the process exit status.
int runImportCommand(int argc, char **argv);

}  // namespace sl::importer
