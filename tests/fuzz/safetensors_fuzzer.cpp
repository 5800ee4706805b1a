// sl::io::parseSafetensors on arbitrary bytes (held in a buffer of exactly their size, so that
// AddressSanitizer sees any read past the end). Invariants: every tensor lies inside the data
// section, holds numel * element-size bytes, and its elements can all be read and converted.
#include "FuzzSupport.h"

#include "runtime/io/Safetensors.h"

#include <cstring>
#include <memory>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::unique_ptr<uint8_t[]> bytes(new uint8_t[size ? size : 1]);
  if (size)
    std::memcpy(bytes.get(), data, size);
  auto views = sl::io::parseSafetensors(bytes.get(), size, "fuzz.safetensors");
  if (!views.ok()) {
    SL_FUZZ_CHECK(!views.status().message().empty(), "an error without a message");
    return 0;
  }
  volatile float sink = 0;
  for (const sl::io::TensorView &t : views.value()) {
    const size_t esize = sl::io::weightDTypeSize(t.dtype);
    SL_FUZZ_CHECK(t.numel() >= 0 && uint64_t(t.numel()) * esize == t.nbytes,
                  "nbytes != numel * element size for '" + t.name + "'");
    SL_FUZZ_CHECK(t.nbytes == 0 || (t.data >= bytes.get() + 8 && t.data + t.nbytes <= bytes.get() + size),
                  "tensor '" + t.name + "' lies outside the file");
    for (size_t i = 0; i < t.nbytes / esize; ++i) {
      const uint8_t *p = t.data + i * esize;
      if (t.dtype == sl::io::WeightDType::F32) {
        float f;
        std::memcpy(&f, p, 4);
        sink = sink + sl::io::bf16ToF32(sl::io::f32ToBF16(f)) + sl::io::f16ToF32(sl::io::f32ToF16(f));
      } else {
        uint16_t h;
        std::memcpy(&h, p, 2);
        sink = sink + (t.dtype == sl::io::WeightDType::F16 ? sl::io::f16ToF32(h) : sl::io::bf16ToF32(h));
      }
    }
  }
  return 0;
}
