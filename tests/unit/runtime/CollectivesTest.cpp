// The CPU simulation's collectives: the sum of every rank's buffer, in rank order, written back
// to every rank; ranks on threads meet at each all-reduce; a failed rank releases the others.
#include "runtime/core/Collectives.h"
#include "runtime/io/Safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

using sl::runtime::InProcessCollectives;
using sl::runtime::sumInRankOrder;
using sl::schema::DType;

TEST(Collectives, SumInRankOrderF32) {
  std::vector<float> a{1, 2, 3}, b{10, 20, 30}, c{100, 200, 300};
  sumInRankOrder({a.data(), b.data(), c.data()}, 3, DType::f32);
  const std::vector<float> sum{111, 222, 333};
  EXPECT_EQ(a, sum);
  EXPECT_EQ(b, sum);
  EXPECT_EQ(c, sum);
}

TEST(Collectives, RankOrderDecidesRounding) {
  // (1e8 + 1) - 1e8 in fp32 is 0 (1 is lost first); added in rank order the result is exactly
  // that, on every rank: the order is fixed, not whatever order the ranks arrive in.
  std::vector<float> a{1e8f}, b{1.0f}, c{-1e8f};
  sumInRankOrder({a.data(), b.data(), c.data()}, 1, DType::f32);
  EXPECT_EQ(a[0], (1e8f + 1.0f) + -1e8f);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(b[0], c[0]);
}

TEST(Collectives, Bf16SumsInF32AndRoundsOnce) {
  using sl::io::bf16ToF32;
  using sl::io::f32ToBF16;
  // 256 + 1 + 1: bf16 (8 bits of mantissa) rounds 257 to 256 after each add; in fp32 the sum is
  // 258, which bf16 holds.
  std::vector<uint16_t> a{f32ToBF16(256)}, b{f32ToBF16(1)}, c{f32ToBF16(1)};
  sumInRankOrder({a.data(), b.data(), c.data()}, 1, DType::bf16);
  EXPECT_EQ(bf16ToF32(a[0]), 258.0f);
  EXPECT_EQ(a, b);
  EXPECT_EQ(b, c);
}

TEST(Collectives, RanksOnThreadsMeetAtEachAllReduce) {
  const int ranks = 4, rounds = 50;
  InProcessCollectives group(ranks);
  std::vector<std::vector<float>> results(ranks);
  auto rank = [&](int r) {
    for (int round = 0; round < rounds; ++round) {
      std::vector<float> data{float(r), float(round)};
      ASSERT_TRUE(group.allReduceSum(r, data.data(), 2, DType::f32).ok());
      results[r].insert(results[r].end(), data.begin(), data.end());
    }
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back(rank, r);
  for (std::thread &thread : threads)
    thread.join();
  for (int r = 0; r < ranks; ++r)
    for (int round = 0; round < rounds; ++round) {
      EXPECT_EQ(results[r][2 * round], 0 + 1 + 2 + 3);
      EXPECT_EQ(results[r][2 * round + 1], 4.0f * round);
    }
}

TEST(Collectives, AbortReleasesWaitingRanks) {
  InProcessCollectives group(2);
  float data = 1;
  sl::Status waited = sl::Status::success();
  std::thread waiter([&] { waited = group.allReduceSum(0, &data, 1, DType::f32); });
  group.abort();  // rank 1 failed before its all-reduce
  waiter.join();
  EXPECT_FALSE(waited.ok());
  EXPECT_NE(waited.message().find("another rank failed"), std::string::npos);
  group.reset();
  // Mismatched sizes are an error on every rank.
  float other[2] = {1, 2};
  sl::Status first = sl::Status::success();
  std::thread rank0([&] { first = group.allReduceSum(0, &data, 1, DType::f32); });
  sl::Status second = group.allReduceSum(1, other, 2, DType::f32);
  rank0.join();
  EXPECT_FALSE(first.ok());
  EXPECT_FALSE(second.ok());
}
