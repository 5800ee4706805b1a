// NumPy .npy files: read format versions 1.0, 2.0 (and 3.0), write 1.0 (2.0 only when the header
// would not fit 1.0). Little-endian, C order only. Writes are atomic (temporary file + rename).
// Every error names the file and the problem.
#pragma once

#include "runtime/support/Status.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sl::io {

// Element types: '<i4', '<i8', '<f4', '<f2', '<f8', '<u2' (e.g. raw bf16 bits), '|u1'.
enum class NpyDType : uint8_t { I32, I64, F32, F16, F64, U16, U8 };

// The numpy descr ("<f4", ...).
const char *npyDTypeDescr(NpyDType dtype);
size_t npyDTypeSize(NpyDType dtype);

struct NpyArray {
  NpyDType dtype = NpyDType::F32;
  std::vector<int64_t> shape;  // empty: a scalar (one element)
  std::vector<uint8_t> data;   // little-endian elements, C order

  int64_t numel() const;
};

StatusOr<NpyArray> readNpy(const std::string &path);
// The same on the bytes of a whole .npy file; `path` only names it in messages.
StatusOr<NpyArray> parseNpy(const std::vector<uint8_t> &bytes, const std::string &path);

// `nbytes` must equal numel(shape) * npyDTypeSize(dtype).
Status writeNpy(const std::string &path, NpyDType dtype, const std::vector<int64_t> &shape,
                const void *data, size_t nbytes);
Status writeNpy(const std::string &path, const NpyArray &array);

}  // namespace sl::io
