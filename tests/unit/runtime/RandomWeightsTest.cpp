// Synthetic weights: deterministic, within offset ± scale, different per binding and element,
// and the documented scales (1/sqrt(fan-in) for matrices, 1 ± 0.1 for vectors).
#include "runtime/core/RandomWeights.h"

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
