// `slc compile`: sl graph -> passes -> CUDA C++ checked by NVRTC -> flatbuffer artifact.
#pragma once

namespace sl::compiler {

// argv[0] is the program name ("slc compile"); returns the process exit status.
int runCompileCommand(int argc, char **argv);

}  // namespace sl::compiler
