// Liveness-based arena planning: places buffers with known live ranges in one arena so that two
// buffers live at the same time never overlap. Pure C++ (no MLIR) so it is unit-tested alone.
#pragma once

#include <cstdint>
#include <vector>

namespace sl::compiler {

struct ArenaRequest {
  int64_t bytes = 0;
  int64_t firstUse = 0, lastUse = 0;  // inclusive positions in the launch order
};

struct ArenaPlan {
  std::vector<int64_t> offsets;  // one per request, multiples of the alignment
  int64_t totalBytes = 0;
};

// Greedy best-fit by decreasing size: each buffer takes the lowest aligned offset that does not
// collide with an already placed buffer whose live range intersects its own.
ArenaPlan planArena(const std::vector<ArenaRequest> &requests, int64_t alignment = 256);

}  // namespace sl::compiler
