// Reading a HuggingFace checkpoint (safetensors) by mmap, and turning its tensors into the
// weights an artifact binds (dtype conversion, per-expert stacking).
//
// A model directory holds `model.safetensors`, or shards listed in
// `model.safetensors.index.json` ("weight_map": tensor name -> shard file). Every file is mapped
// read-only and stays mapped as long as the WeightStore lives; a TensorView points into the
// mapping. Only F32, F16 and BF16 tensors are accepted; anything else, a malformed header, or a
// tensor whose bytes lie past the end of its file is an error naming the file and the tensor.
#pragma once

#include "runtime/support/Status.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sl::io {

// Element types of checkpoint tensors and of materialised weights. Independent of the artifact
// schema's DType on purpose (the caller maps one onto the other).
enum class WeightDType : uint8_t { F32, F16, BF16 };

// "F32", "F16", "BF16" (the safetensors spelling).
const char *weightDTypeName(WeightDType dtype);
// 4, 2, 2.
size_t weightDTypeSize(WeightDType dtype);

// One tensor of the checkpoint, as it lies in its (mapped) file.
struct TensorView {
  std::string name;
  WeightDType dtype = WeightDType::F32;
  std::vector<int64_t> shape;
  // Little-endian elements, C order, valid while the store lives; not necessarily aligned
  // (read with memcpy).
  const uint8_t *data = nullptr;
  size_t nbytes = 0;
  std::string file;  // the file that holds it (for messages)

  int64_t numel() const;
};

class WeightStore {
public:
  // `path` is a model directory (model.safetensors, else model.safetensors.index.json and its
  // shards) or a single .safetensors file.
  static StatusOr<WeightStore> open(const std::string &path);

  WeightStore(WeightStore &&) noexcept;
  WeightStore &operator=(WeightStore &&) noexcept;
  WeightStore(const WeightStore &) = delete;
  WeightStore &operator=(const WeightStore &) = delete;
  ~WeightStore();

  // The tensor called `name`, or null.
  const TensorView *find(const std::string &name) const;
  // All tensor names, sorted.
  std::vector<std::string> names() const;
  size_t size() const { return tensors_.size(); }
  // The directory or file it was opened from.
  const std::string &source() const { return source_; }

private:
  struct Mapping;
  WeightStore();
  Status addFile(const std::string &path);

  std::string source_;
  std::vector<std::unique_ptr<Mapping>> mappings_;
  std::map<std::string, TensorView> tensors_;
};

// Parses the safetensors file held in `bytes` (`size` bytes; `file` names it in messages and in
// the views): the tensors in header order, each pointing into `bytes`. WeightStore::open uses it
// on each mapped file.
StatusOr<std::vector<TensorView>> parseSafetensors(const uint8_t *bytes, size_t size,
                                                   const std::string &file);

// A weight the artifact binds (mirrors the schema's WeightBinding): `name` may contain "{e}",
// meaning tensors e = 0 .. shape[0]-1 (each of shape shape[1:]) stacked along dim 0.
struct WeightSpec {
  std::string name;
  WeightDType dtype = WeightDType::F32;
  std::vector<int64_t> shape;
};

// Part of a tensor: pieces (offset, size) of dimension `dim`, concatenated along it in order
// (a rank's slice of a tensor-parallel weight).
struct WeightSlice {
  int64_t dim = 0;
  std::vector<std::pair<int64_t, int64_t>> pieces;
};

// Copies `slice` of the C-order tensor `whole` (`shape`, elements of `elementBytes`) to `out`,
// which holds the sliced shape. `slice` must lie inside `shape`.
void copySlice(const uint8_t *whole, const std::vector<int64_t> &shape, size_t elementBytes,
               const WeightSlice &slice, uint8_t *out);

// The bytes of binding `bindingName` (C order, little-endian) in dtype `want` with `shape`.
// Converts between F32, F16 and BF16 (narrowing rounds to nearest even); with "{e}" in the name
// stacks the per-expert tensors along dim 0 (count = shape[0]). Errors: missing tensor, shape
// mismatch (name, expected, found), bad binding shape.
// With `slice` (dimensions of `shape`, the whole stacked tensor) only that part is read and
// converted: a rank's slice straight from the checkpoint.
StatusOr<std::vector<uint8_t>> materialize(const WeightStore &store,
                                           const std::string &bindingName, WeightDType want,
                                           const std::vector<int64_t> &shape,
                                           const WeightSlice *slice = nullptr);
// The same with a slice along several dimensions (ascending; the product of their pieces): an
// expert-parallel rank's experts (dimension 0 of a "{e}" binding: the tensors of those experts)
// and its share of their intermediate dimension.
StatusOr<std::vector<uint8_t>> materialize(const WeightStore &store,
                                           const std::string &bindingName, WeightDType want,
                                           const std::vector<int64_t> &shape,
                                           const std::vector<WeightSlice> &slices);

// Checks the checkpoint against every binding at once; the one error lists all missing tensors
// (with expected shapes), all shape mismatches (expected and found) and all tensors of the
// checkpoint that no binding uses.
Status checkBindings(const WeightStore &store, const std::vector<WeightSpec> &bindings);

// Element conversions used by materialize (exposed for tests and kernels' reference code).
float bf16ToF32(uint16_t bits);
float f16ToF32(uint16_t bits);
uint16_t f32ToBF16(float value);  // round to nearest even; NaN stays NaN
uint16_t f32ToF16(float value);   // round to nearest even; overflow -> inf; subnormals kept

}  // namespace sl::io
