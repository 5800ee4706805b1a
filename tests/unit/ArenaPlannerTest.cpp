// The arena planner never lets two simultaneously live buffers overlap, aligns every offset,
// and reuses memory of buffers that are dead.
#include "compiler/ArenaPlanner.h"

#include <gtest/gtest.h>

#include <random>

using sl::compiler::ArenaRequest;
using sl::compiler::planArena;

namespace {
void expectNoLiveOverlap(const std::vector<ArenaRequest> &requests, const std::vector<int64_t> &offsets,
                         int64_t total) {
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(offsets[i] % 256, 0) << i;
    EXPECT_LE(offsets[i] + requests[i].bytes, total) << i;
    for (size_t j = i + 1; j < requests.size(); ++j) {
      bool live = requests[i].firstUse <= requests[j].lastUse &&
                  requests[j].firstUse <= requests[i].lastUse;
      bool overlap = offsets[i] < offsets[j] + requests[j].bytes &&
                     offsets[j] < offsets[i] + requests[i].bytes;
      EXPECT_FALSE(live && overlap) << "buffers " << i << " and " << j << " overlap while live";
    }
  }
}
}  // namespace

TEST(ArenaPlanner, RandomLiveRangesNeverOverlap) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<ArenaRequest> requests(1 + rng() % 40);
    for (ArenaRequest &request : requests) {
      request.bytes = 1 + rng() % 100000;
      request.firstUse = rng() % 50;
      request.lastUse = request.firstUse + rng() % 10;
    }
    auto plan = planArena(requests);
    expectNoLiveOverlap(requests, plan.offsets, plan.totalBytes);
  }
}

TEST(ArenaPlanner, DeadBuffersAreReused) {
  // A chain a -> b -> c: a and c never live together, so they share memory.
  std::vector<ArenaRequest> requests = {{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}};
  auto plan = planArena(requests);
  EXPECT_EQ(plan.offsets[0], plan.offsets[2]);
  EXPECT_NE(plan.offsets[0], plan.offsets[1]);
  EXPECT_EQ(plan.totalBytes, 2048);
}
