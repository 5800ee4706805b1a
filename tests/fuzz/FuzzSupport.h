// Helpers shared by the libFuzzer targets of tests/fuzz.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace sl::fuzz {

// A failed invariant: print it and abort, which libFuzzer reports as a crash with the input.
[[noreturn]] inline void fail(const char *what, const std::string &detail = "") {
  std::fprintf(stderr, "fuzz invariant failed: %s\n%s\n", what, detail.c_str());
  std::abort();
}

#define SL_FUZZ_CHECK(cond, detail)                                                              \
  do {                                                                                           \
    if (!(cond))                                                                                 \
      ::sl::fuzz::fail(#cond, (detail));                                                         \
  } while (0)

// A file of the source tree (models/tiny/...), read once by a target's setup.
inline std::string readSourceFile(const std::string &relative) {
  const std::string path = std::string(SL_SOURCE_DIR) + "/" + relative;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail("cannot read a file of the source tree", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace sl::fuzz
