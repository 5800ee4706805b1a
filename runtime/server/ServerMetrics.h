// The counters and gauges of `slrun serve`'s /metrics (Prometheus text format). Private to
// runtime/server/Server*.cpp.
#pragma once

#include "runtime/server/Conversation.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace sl::server::detail {

class Metrics {
public:
  void request(const std::string &endpoint, int status);
  void generation(const GenerateResult &result);
  std::string render(size_t queueDepth, bool running, size_t sessions, bool loaded);

private:
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  int64_t promptTokens_ = 0, cachedTokens_ = 0, generatedTokens_ = 0, cancelled_ = 0;
  int64_t prefillTokens_ = 0, decodeTokens_ = 0;
  double prefillSeconds_ = 0, decodeSeconds_ = 0, lastPrefillRate_ = 0, lastDecodeRate_ = 0;
};

// The endpoint label of a path (ids and names replaced).
std::string endpointLabel(const std::string &path);

}  // namespace sl::server::detail
