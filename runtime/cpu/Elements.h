// Element access for the CPU reference kernels: bf16 stored as uint16_t with the device's
// round-to-nearest-even conversion, f32, and reading template arguments.
#pragma once

#include "runtime/cpu/CpuKernel.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sl::cpu {

enum class Elem { bf16, f32 };

inline Elem elemOf(const std::string &spelling) {
  if (spelling == "slk::bf16")
    return Elem::bf16;
  if (spelling == "float")
    return Elem::f32;
  throw std::invalid_argument("unsupported element type '" + spelling + "'");
}

inline float bf16ToFloat(uint16_t bits) {
  uint32_t word = uint32_t(bits) << 16;
  float value;
  std::memcpy(&value, &word, 4);
  return value;
}

inline uint16_t floatToBf16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, 4);
  if ((word & 0x7f800000u) == 0x7f800000u && (word & 0x7fffffu))
    return 0x7fc0;  // NaN
  word += 0x7fffu + ((word >> 16) & 1u);
  return static_cast<uint16_t>(word >> 16);
}

// The value nearest to v that the element type holds.
inline float roundTo(Elem elem, float v) {
  return elem == Elem::bf16 ? bf16ToFloat(floatToBf16(v)) : v;
}

inline float load(Elem elem, const void *base, int64_t index) {
  return elem == Elem::bf16 ? bf16ToFloat(static_cast<const uint16_t *>(base)[index])
                            : static_cast<const float *>(base)[index];
}

inline void store(Elem elem, void *base, int64_t index, float value) {
  if (elem == Elem::bf16)
    static_cast<uint16_t *>(base)[index] = floatToBf16(value);
  else
    static_cast<float *>(base)[index] = value;
}

inline int64_t intArg(const KernelCall &call, size_t index) {
  return std::stoll(call.templateArgs.at(index));
}
inline bool boolArg(const KernelCall &call, size_t index) {
  return call.templateArgs.at(index) == "true";
}
inline Elem elemArg(const KernelCall &call, size_t index) {
  return elemOf(call.templateArgs.at(index));
}

// slk::kActNone / kActSilu / kActRelu2, as the device computes them.
inline float activate(const std::string &act, float x) {
  if (act == "slk::kActSilu")
    return x / (1.0f + std::exp(-x));
  if (act == "slk::kActRelu2")
    return x > 0.0f ? x * x : 0.0f;
  return x;
}

}  // namespace sl::cpu
