// Whole-file reads whose errors say what is wrong and where: a missing file, a directory where a
// file is expected, a read failure. Never throws (std::ifstream read through
// std::istreambuf_iterator throws std::ios_failure when the path is a directory).
#pragma once

#include "runtime/support/Status.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sl::io {

// Success when `path` names a regular file (or a link to one); otherwise "<what> <path>: no such
// file", "... is a directory, not a file", ...
Status checkRegularFile(const std::string &path, std::string_view what);

// The bytes of the regular file at `path`. Messages start with "<what> <path>: " ("artifact
// model.slpkg: is a directory, not a file").
StatusOr<std::vector<uint8_t>> readWholeFile(const std::string &path, std::string_view what);

}  // namespace sl::io
