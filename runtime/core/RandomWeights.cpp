#include "runtime/core/RandomWeights.h"

#include "runtime/core/Session.h"
#include "runtime/io/Safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

namespace sl::runtime {

namespace {
uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

RandomFill randomFillOf(const sl::schema::WeightBinding &binding) {
  const auto &shape = *binding.shape();
  if (shape.size() >= 2)
    return {1.0f / std::sqrt(float(shape.Get(shape.size() - 1))), 0.0f};
  return {0.1f, 1.0f};
}

float randomWeight(uint64_t seed, uint32_t binding, uint64_t index, float scale, float offset) {
  const uint64_t h = mix64(mix64(seed ^ (uint64_t(binding) << 40)) ^ index);
  const float u = float(int32_t(h >> 40) - (1 << 23)) * (1.0f / float(1 << 23));
  // Two separately rounded operations, as the device's __fmul_rn / __fadd_rn.
  volatile float product = scale * u;
  return offset + product;
}

namespace {
std::vector<uint8_t> values(size_t count, sl::schema::DType dtype, uint64_t seed,
                            uint32_t stream, float scale, float offset) {
  std::vector<uint8_t> bytes(count * dtypeBytes(dtype));
  auto fill = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      float value = randomWeight(seed, stream, uint64_t(i), scale, offset);
      if (dtype == sl::schema::DType::bf16) {
        uint16_t bits = io::f32ToBF16(value);
        std::memcpy(bytes.data() + 2 * i, &bits, 2);
      } else if (dtype == sl::schema::DType::f16) {
        uint16_t bits = io::f32ToF16(value);
        std::memcpy(bytes.data() + 2 * i, &bits, 2);
      } else {
        std::memcpy(bytes.data() + 4 * i, &value, 4);
      }
    }
  };
  // Element i depends on (seed, stream, i) alone: large tensors are filled by several threads
  // (the 30B model's 63 GB on the host), with the same values.
  const size_t threads = count < (size_t(1) << 22)
                             ? 1
                             : std::max<size_t>(1, std::thread::hardware_concurrency());
  std::vector<std::thread> workers;
  const size_t per = (count + threads - 1) / threads;
  for (size_t t = 1; t < threads; ++t)
    workers.emplace_back(fill, std::min(count, t * per), std::min(count, (t + 1) * per));
  fill(0, std::min(count, per));
  for (std::thread &worker : workers)
    worker.join();
  return bytes;
}
}  // namespace

std::vector<uint8_t> synthesizedValues(size_t count, sl::schema::DType dtype, uint64_t seed,
                                       uint32_t stream, float scale) {
  // Streams of session state are kept apart from those of weights (binding indices).
  return values(count, dtype, seed, stream | 0x80000000u, scale, 0.0f);
}

std::vector<std::vector<uint8_t>> randomWeights(const Artifact &artifact, uint64_t seed) {
  std::vector<std::vector<uint8_t>> weights;
  uint32_t index = 0;
  for (const auto *binding : *artifact.root().weights()) {
    int64_t count = 1;
    for (int64_t dim : *binding->shape())
      count *= dim;
    RandomFill fill = randomFillOf(*binding);
    weights.push_back(values(size_t(count), binding->dtype(), seed, index++, fill.scale, fill.offset));
  }
  return weights;
}

}  // namespace sl::runtime
