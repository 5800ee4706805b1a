#include "compiler/ArenaPlanner.h"

#include <algorithm>
#include <numeric>

namespace sl::compiler {

namespace {
int64_t alignUp(int64_t value, int64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}
bool liveTogether(const ArenaRequest &a, const ArenaRequest &b) {
  return a.firstUse <= b.lastUse && b.firstUse <= a.lastUse;
}
}  // namespace

ArenaPlan planArena(const std::vector<ArenaRequest> &requests, int64_t alignment) {
  ArenaPlan plan;
  plan.offsets.assign(requests.size(), 0);
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return requests[a].bytes > requests[b].bytes;
  });
  std::vector<size_t> placed;
  for (size_t index : order) {
    const ArenaRequest &request = requests[index];
    // Occupied intervals of the placed buffers live at the same time, by offset.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t other : placed)
      if (liveTogether(request, requests[other]))
        busy.push_back({plan.offsets[other], plan.offsets[other] + requests[other].bytes});
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (auto [begin, end] : busy) {
      if (offset + request.bytes <= begin)
        break;
      offset = std::max(offset, alignUp(end, alignment));
    }
    plan.offsets[index] = offset;
    plan.totalBytes = std::max(plan.totalBytes, alignUp(offset + request.bytes, alignment));
    placed.push_back(index);
  }
  return plan;
}

}  // namespace sl::compiler
