// The shared derivations of multi-step attention against the values of SUPERLINEAR.md section 4
// (computed there independently in Python) and against a brute-force recount.
#include "runtime/math/SuperlinearMath.h"

#include <gtest/gtest.h>

namespace sm = sl::math;

TEST(SuperlinearMath, DefaultWindowIs2032) {
  EXPECT_EQ(sm::windowLength(65, 0.55), 2032);
}

TEST(SuperlinearMath, ExactIntegerPowerWhenInverseIsInteger) {
  EXPECT_EQ(sm::floorPower(7, 0.5), 49);
  EXPECT_EQ(sm::floorPower(3000, 0.5), 9000000);
  EXPECT_EQ(sm::windowLength(3, 0.5), 15);
  EXPECT_EQ(sm::floorPower(5, 0.25), 625);
}

TEST(SuperlinearMath, AnchorCountsMatchTheDocumentedTable) {
  // Last query of a context of length L: pos = L - 1.
  EXPECT_EQ(sm::anchorCount(8192 - 1, 65, 0.55), 77);
  EXPECT_EQ(sm::anchorCount(131072 - 1, 65, 0.55), 587);
  EXPECT_EQ(sm::anchorCount(1000000 - 1, 65, 0.55), 1930);
  EXPECT_EQ(sm::anchorCount(10000000 - 1, 65, 0.55), 7014);
}

TEST(SuperlinearMath, SpanLengthsMatchTheDocumentedTable) {
  auto spanLength = [](int64_t L) {
    return sm::spanReach(L - 1, 3.0, 0.55) + sm::spanReach(L - 1, 1.0, 0.55) + 1;
  };
  EXPECT_EQ(spanLength(8192), 571);
  EXPECT_EQ(spanLength(131072), 2612);
  EXPECT_EQ(spanLength(1000000), 7983);
  EXPECT_EQ(spanLength(10000000), 28320);
}

TEST(SuperlinearMath, FirstAnchorSitsJustBeforeTheWindow) {
  for (int64_t pos : {2032, 5000, 123456}) {
    int64_t window = sm::windowLength(65, 0.55);
    EXPECT_EQ(sm::anchorPosition(pos, 66, 0.55), sm::windowStart(pos, window) - 1) << pos;
  }
}

TEST(SuperlinearMath, ShortPrefixesHaveNoAnchor) {
  int64_t window = sm::windowLength(65, 0.55);
  EXPECT_EQ(sm::anchorCount(window - 1, 65, 0.55), 0);
  EXPECT_EQ(sm::anchorCount(window, 65, 0.55), 1);
}
