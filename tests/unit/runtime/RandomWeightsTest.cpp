// Synthetic weights: deterministic, within offset ± scale, different per binding and element,
// and the documented scales (1/sqrt(fan-in) for matrices, 1 ± 0.1 for vectors).
#include "runtime/core/RandomWeights.h"
#include "runtime/schema/ArtifactVersion.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

using sl::runtime::randomWeight;

TEST(RandomWeights, DeterministicAndBounded) {
  std::set<float> seen;
  for (uint64_t i = 0; i < 10000; ++i) {
    float v = randomWeight(1, 3, i, 0.5f, 2.0f);
    EXPECT_EQ(v, randomWeight(1, 3, i, 0.5f, 2.0f));
    EXPECT_GE(v, 1.5f);
    EXPECT_LT(v, 2.5f);
    seen.insert(v);
  }
  EXPECT_GT(seen.size(), 9900u);  // 24-bit values: collisions are rare
  EXPECT_NE(randomWeight(1, 3, 5, 1.0f, 0.0f), randomWeight(1, 4, 5, 1.0f, 0.0f));
  EXPECT_NE(randomWeight(1, 3, 5, 1.0f, 0.0f), randomWeight(2, 3, 5, 1.0f, 0.0f));
}

TEST(RandomWeights, MeanAndSpreadOfUniformValues) {
  double sum = 0, squares = 0;
  const int count = 200000;
  for (int i = 0; i < count; ++i) {
    double v = randomWeight(9, 0, uint64_t(i), 1.0f, 0.0f);
    sum += v;
    squares += v * v;
  }
  EXPECT_NEAR(sum / count, 0.0, 0.01);
  EXPECT_NEAR(squares / count, 1.0 / 3.0, 0.01);  // variance of U(-1, 1)
}

// Large tensors are filled by several threads: every element is still the function of its index
// (checked across the whole range, chunk boundaries included).
TEST(RandomWeights, ThreadedFillEqualsTheElementFunction) {
  const size_t count = (size_t(1) << 22) + 12345;
  std::vector<uint8_t> bytes = sl::runtime::synthesizedValues(
      count, sl::schema::DType::f32, 7, 5, 0.25f);
  ASSERT_EQ(bytes.size(), count * 4);
  const float *values = reinterpret_cast<const float *>(bytes.data());
  for (size_t i = 0; i < count; i += 997)
    ASSERT_EQ(values[i], randomWeight(7, 5 | 0x80000000u, i, 0.25f, 0.0f)) << i;
  ASSERT_EQ(values[count - 1], randomWeight(7, 5 | 0x80000000u, count - 1, 0.25f, 0.0f));
}

// A rank's slice of a tensor-parallel weight (WeightBinding.ranges) holds exactly the values of
// the unsharded tensor at those positions: the stream is the checkpoint name's, the index the
// element's in the whole tensor, the scale the whole tensor's fan-in.
// An artifact of two bindings of one checkpoint tensor of shape `whole`: all of it, and the
// slice of shape `slice` that `ranges` keep.
static sl::StatusOr<sl::runtime::Artifact>
wholeAndSlice(std::vector<int64_t> whole, std::vector<int64_t> slice,
              std::vector<sl::schema::WeightRange> ranges) {
  namespace fs = sl::schema;
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<fs::WeightBinding>> weights{
      fs::CreateWeightBindingDirect(b, "experts.{e}.down", fs::DType::f32, &whole),
      fs::CreateWeightBindingDirect(b, "experts.{e}.down", fs::DType::f32, &slice, &ranges,
                                    &whole)};
  std::vector<fs::Buffer> buffers{{0, 0}};  // (one struct: an empty vector may be misaligned)
  std::vector<flatbuffers::Offset<fs::Tensor>> tensors;
  std::vector<uint32_t> none;
  std::vector<flatbuffers::Offset<fs::Launch>> launches;
  std::vector<flatbuffers::Offset<fs::Function>> functions{fs::CreateFunctionDirect(
      b, "f", "function", 1, 0, &buffers, &tensors, &none, &tensors, &none, &launches)};
  std::vector<flatbuffers::Offset<fs::Plan>> plans{fs::CreatePlanDirect(b, "sm_90a", &functions)};
  std::vector<flatbuffers::Offset<fs::LibraryHeader>> headers;
  std::vector<flatbuffers::Offset<fs::Kernel>> kernels;
  std::vector<flatbuffers::Offset<fs::StateSlot>> slots;
  fs::FinishArtifactBuffer(b, fs::CreateArtifactDirect(b, fs::kSchemaVersion, "test", "t.mlir",
                                                       "{}", &headers, &kernels, &weights,
                                                       &slots, &plans));
  return sl::runtime::Artifact::fromBytes(
      std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()), "t");
}

// The runs the CUDA backend fills for `binding` (seed 42) cover its `count` elements once, each
// with the value the host put there (`part`).
static void expectRunsCover(const sl::schema::WeightBinding &binding, const float *part, size_t count) {
  const auto fill = sl::runtime::randomFillOf(binding);
  std::vector<int> covered(count, 0);
  for (const auto &run : sl::runtime::randomRuns(binding))
    for (uint64_t r = 0; r < run.rows; ++r)
      for (uint64_t j = 0; j < run.length; ++j) {
        const uint64_t at = run.sliceBase + r * run.sliceStride + j;
        ASSERT_LT(at, covered.size());
        ++covered[at];
        EXPECT_EQ(part[at], sl::runtime::randomWeight(42, sl::runtime::randomStream(binding),
                                                      run.wholeBase + r * run.wholeStride + j,
                                                      fill.scale, fill.offset));
      }
  for (int times : covered)
    EXPECT_EQ(times, 1);
}

TEST(RandomWeights, RankSliceEqualsTheWholeTensorsElements) {
  auto artifact = wholeAndSlice({3, 4, 6}, {3, 4, 3}, {{2, 1, 2}, {2, 5, 1}});
  ASSERT_TRUE(artifact.ok()) << artifact.status().message();
  auto values = sl::runtime::randomWeights(*artifact, 42);
  ASSERT_EQ(values.size(), 2u);
  const float *all = reinterpret_cast<const float *>(values[0].data());
  const float *part = reinterpret_cast<const float *>(values[1].data());
  // Columns 1, 2 and 5 of every row of every expert.
  size_t i = 0;
  for (int row = 0; row < 3 * 4; ++row)
    for (int column : {1, 2, 5})
      EXPECT_EQ(part[i++], all[row * 6 + column]) << row << " " << column;
  // The runs the CUDA backend fills (one per range) cover the slice once, with the same values.
  const auto *binding = artifact->root().weights()->Get(1);
  EXPECT_EQ(sl::runtime::randomRuns(*binding).size(), 2u);
  expectRunsCover(*binding, part, 3 * 4 * 3);
  // An unsliced binding is one run over all of it.
  auto one = sl::runtime::randomRuns(*artifact->root().weights()->Get(0));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].rows, 1u);
  EXPECT_EQ(one[0].length, 72u);
}

// An expert-parallel rank's slice: ranges along two dimensions (its experts along dimension 0
// and its share of their last or middle dimension) hold the whole tensor's values, and the
// runs the CUDA backend fills cover it once with the same values.
TEST(RandomWeights, SliceOfTwoDimensionsEqualsTheWholeTensorsElements) {
  namespace fs = sl::schema;
  const std::vector<int64_t> whole{4, 3, 6};
  // (ranges, the kept coordinates of each dimension)
  const std::vector<std::pair<std::vector<fs::WeightRange>, std::vector<std::vector<int>>>>
      cases{{{{0, 2, 2}, {2, 1, 2}, {2, 5, 1}}, {{2, 3}, {0, 1, 2}, {1, 2, 5}}},
            {{{0, 1, 1}, {0, 3, 1}, {1, 1, 2}}, {{1, 3}, {1, 2}, {0, 1, 2, 3, 4, 5}}},
            {{{0, 0, 1}, {1, 2, 1}, {2, 0, 3}}, {{0}, {2}, {0, 1, 2}}}};
  for (const auto &[rangeList, keptCoordinates] : cases) {
    std::vector<int64_t> sliceShape;
    for (const auto &coordinates : keptCoordinates)
      sliceShape.push_back(int64_t(coordinates.size()));
    auto artifact = wholeAndSlice(whole, sliceShape, rangeList);
    ASSERT_TRUE(artifact.ok()) << artifact.status().message();
    auto values = sl::runtime::randomWeights(*artifact, 42);
    const float *all = reinterpret_cast<const float *>(values[0].data());
    const float *part = reinterpret_cast<const float *>(values[1].data());
    size_t i = 0;
    for (int e : keptCoordinates[0])
      for (int r : keptCoordinates[1])
        for (int c : keptCoordinates[2])
          EXPECT_EQ(part[i++], all[(e * 3 + r) * 6 + c]) << e << " " << r << " " << c;
    ASSERT_EQ(i, values[1].size() / 4);
    expectRunsCover(*artifact->root().weights()->Get(1), part, i);
  }
}
