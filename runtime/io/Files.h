// Whole-file reads whose errors say what is wrong and where: a missing file, a directory where a
// file is expected, a read failure. Never throws (std::ifstream read through
// std::istreambuf_iterator throws std::ios_failure when the path is a directory).
#pragma once

#include "runtime/support/Status.h"

#include <cstddef>
#include <cstdint>
#include <initializer_list>
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

// One piece of a file's contents.
struct ByteSpan {
  const void *data;
  size_t size;
};

// Writes `parts` one after the other to a new file beside `path`, syncs it and renames it over
// `path`: a reader (or a crash) sees the old file or the whole new one, never a part. Errors say
// "<where>: cannot write (<reason>)".
Status writeFileAtomically(const std::string &path, const std::string &where,
                           std::initializer_list<ByteSpan> parts);

}  // namespace sl::io
