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
// The ranges of a binding by dimension (checked on load: grouped, ascending, inside the
// checkpoint shape): kept[d] is the binding's extent, pieces[d] empty for a whole dimension.
struct SliceShape {
  std::vector<uint64_t> whole, kept;
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> pieces;
  explicit SliceShape(const sl::schema::WeightBinding &binding) {
    for (int64_t d : *binding.checkpoint_shape())
      whole.push_back(uint64_t(d));
    kept = whole;
    pieces.resize(whole.size());
    for (const auto *range : *binding.ranges()) {
      auto &dim = pieces[size_t(range->dim())];
      if (dim.empty())
        kept[size_t(range->dim())] = 0;
      dim.emplace_back(uint64_t(range->offset()), uint64_t(range->size()));
      kept[size_t(range->dim())] += uint64_t(range->size());
    }
  }
  // Coordinate c of the binding's dimension d in the whole dimension.
  uint64_t wholeCoordinate(size_t d, uint64_t c) const {
    uint64_t before = 0;
    for (auto [offset, size] : pieces[d]) {
      if (c < before + size)
        return offset + (c - before);
      before += size;
    }
    return c;  // a whole dimension
  }
};

// Where element i of a rank's slice lies in the whole tensor.
struct SliceIndex {
  SliceShape shape;
  uint64_t operator()(uint64_t i) const {
    uint64_t index = 0, stride = 1;
    for (size_t d = shape.whole.size(); d-- > 0;) {
      index += shape.wholeCoordinate(d, i % shape.kept[d]) * stride;
      i /= shape.kept[d];
      stride *= shape.whole[d];
    }
    return index;
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

std::vector<RandomRun> randomRuns(const sl::schema::WeightBinding &binding) {
  uint64_t count = 1;
  for (int64_t dim : *binding.shape())
    count *= uint64_t(dim);
  if (!binding.ranges() || binding.ranges()->size() == 0)
    return {RandomRun{1, count, 0, count, 0, count}};
  // A run per piece of the last sliced dimension k (its `length` elements are contiguous in
  // both tensors), and, with another sliced dimension j before it, per piece of j and per
  // coordinate of the dimensions before j: the rows of a run step through j's piece and the
  // whole dimensions between j and k.
  const SliceShape shape(binding);
  const size_t rank = shape.whole.size();
  std::vector<size_t> sliced;
  for (size_t d = 0; d < rank; ++d)
    if (!shape.pieces[d].empty())
      sliced.push_back(d);
  const size_t k = sliced.back();
  std::vector<uint64_t> sliceStride(rank, 1), wholeStride(rank, 1);
  for (size_t d = rank - 1; d-- > 0;) {
    sliceStride[d] = sliceStride[d + 1] * shape.kept[d + 1];
    wholeStride[d] = wholeStride[d + 1] * shape.whole[d + 1];
  }
  const bool outer = sliced.size() > 1;
  const size_t j = outer ? sliced[sliced.size() - 2] : 0;
  uint64_t prefix = 1;  // coordinates of the dimensions before j
  for (size_t d = 0; outer && d < j; ++d)
    prefix *= shape.kept[d];
  // The pieces of j (one covering the whole prefix of k without one).
  std::vector<std::pair<uint64_t, uint64_t>> rowPieces =
      outer ? shape.pieces[j] : std::vector<std::pair<uint64_t, uint64_t>>{{0, 1}};
  uint64_t rowsPerUnit = 1;  // rows of the tensor per coordinate of j (or in all, without j)
  for (size_t d = outer ? j + 1 : 0; d < k; ++d)
    rowsPerUnit *= shape.whole[d];
  std::vector<RandomRun> runs;
  for (uint64_t p = 0; p < prefix; ++p) {
    uint64_t sliceBase = 0, wholeBase = 0;
    for (size_t d = j, rest = p; outer && d-- > 0; rest /= shape.kept[d]) {
      sliceBase += (rest % shape.kept[d]) * sliceStride[d];
      wholeBase += shape.wholeCoordinate(d, rest % shape.kept[d]) * wholeStride[d];
    }
    uint64_t rowBefore = 0;
    for (auto [rowOffset, rowSize] : rowPieces) {
      uint64_t before = 0;
      for (auto [offset, size] : shape.pieces[k]) {
        RandomRun run;
        run.rows = rowSize * rowsPerUnit;
        run.length = size * sliceStride[k];
        run.sliceStride = shape.kept[k] * sliceStride[k];
        run.wholeStride = shape.whole[k] * wholeStride[k];
        run.sliceBase = sliceBase + (outer ? rowBefore * sliceStride[j] : 0) +
                        before * sliceStride[k];
        run.wholeBase = wholeBase + (outer ? rowOffset * wholeStride[j] : 0) +
                        offset * wholeStride[k];
        runs.push_back(run);
        before += size;
      }
      rowBefore += rowSize;
    }
  }
  return runs;
}

std::vector<std::vector<uint8_t>> randomWeights(const Artifact &artifact, uint64_t seed) {
  std::vector<std::vector<uint8_t>> weights;
  for (const auto *binding : *artifact.root().weights()) {
    int64_t count = 1;
    for (int64_t dim : *binding->shape())
      count *= dim;
    RandomFill fill = randomFillOf(*binding);
    std::optional<SliceIndex> slice;
    if (binding->ranges() && binding->ranges()->size() > 0)  // checked on load: in the shape
      slice.emplace(SliceIndex{SliceShape(*binding)});
    weights.push_back(values(size_t(count), binding->dtype(), seed, randomStream(*binding),
                             fill.scale, fill.offset, slice ? &*slice : nullptr));
  }
  return weights;
}

}  // namespace sl::runtime
