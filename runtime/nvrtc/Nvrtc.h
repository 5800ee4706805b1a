// NVRTC: CUDA C++ source -> cubin for one target, with in-memory headers. Needs no GPU. Used by
// the compiler to check every emitted kernel and by the runtime to JIT-compile artifacts.
#pragma once

#include "runtime/support/Status.h"

#include <string>
#include <vector>

namespace sl::nvrtc {

struct Header {
  std::string name;  // as written in #include "..."
  std::string text;
};

struct Compiled {
  std::string arch;          // e.g. sm_90a
  std::vector<char> cubin;   // SASS for arch
  std::string log;           // NVRTC's log (warnings), may be empty
};

// Compiles `source` (named `name` in diagnostics) for `arch` (sm_90a, sm_100a, ...). On failure
// the status message names the kernel source, the arch and carries NVRTC's full log.
StatusOr<Compiled> compile(const std::string &name, const std::string &source,
                           const std::vector<Header> &headers, const std::string &arch,
                           const std::vector<std::string> &extraOptions = {});

// "major.minor" of the NVRTC library in use (part of the kernel cache key).
std::string version();

}  // namespace sl::nvrtc
