#include "runtime/core/RandomWeights.h"

#include "runtime/core/Session.h"
#include "runtime/io/Safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
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

uint32_t randomStream(const sl::schema::WeightBinding &binding) {
  uint32_t hash = 2166136261u;  // FNV-1a
  for (char c : binding.name()->str())
    hash = (hash ^ uint8_t(c)) * 16777619u;
  return hash & 0x7FFFFFFFu;  // streams with the top bit set are session state's
}

RandomFill randomFillOf(const sl::schema::WeightBinding &binding) {
  // The whole tensor's fan-in: a rank's slice holds the same values as the unsharded tensor.
  const auto &shape = binding.checkpoint_shape() && binding.checkpoint_shape()->size() > 0
                          ? *binding.checkpoint_shape()
                          : *binding.shape();
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
// Where element i of a rank's slice lies in the whole tensor: the slice keeps `pieces` (offset,
// size) of a dimension of `extent` elements, between `outer` rows and `inner` trailing elements.
struct SliceIndex {
  uint64_t extent = 0, inner = 1, kept = 0;
  std::vector<std::pair<uint64_t, uint64_t>> pieces;
  uint64_t operator()(uint64_t i) const {
    const uint64_t row = i / (kept * inner), within = i % (kept * inner);
    uint64_t before = 0;
    for (auto [offset, size] : pieces) {
      if (within < (before + size) * inner)
        return (row * extent + offset) * inner + (within - before * inner);
      before += size;
    }
    return i;  // unreachable: the pieces sum to `kept`
  }
};

std::vector<uint8_t> values(size_t count, sl::schema::DType dtype, uint64_t seed,
                            uint32_t stream, float scale, float offset,
                            const SliceIndex *slice = nullptr) {
  std::vector<uint8_t> bytes(count * dtypeBytes(dtype));
  auto fill = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      float value = randomWeight(seed, stream, slice ? (*slice)(i) : uint64_t(i), scale, offset);
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
  for (const auto *binding : *artifact.root().weights()) {
    int64_t count = 1;
    for (int64_t dim : *binding->shape())
      count *= dim;
    RandomFill fill = randomFillOf(*binding);
    std::optional<SliceIndex> slice;
    if (binding->ranges() && binding->ranges()->size() > 0) {  // checked on load: in the shape
      const auto &whole = *binding->checkpoint_shape();
      const int64_t dim = binding->ranges()->Get(0)->dim();
      slice.emplace();
      slice->extent = uint64_t(whole.Get(dim));
      for (size_t d = size_t(dim) + 1; d < whole.size(); ++d)
        slice->inner *= uint64_t(whole.Get(d));
      for (const auto *range : *binding->ranges()) {
        slice->pieces.emplace_back(uint64_t(range->offset()), uint64_t(range->size()));
        slice->kept += uint64_t(range->size());
      }
    }
    weights.push_back(values(size_t(count), binding->dtype(), seed, randomStream(*binding),
                             fill.scale, fill.offset, slice ? &*slice : nullptr));
  }
  return weights;
}

}  // namespace sl::runtime
