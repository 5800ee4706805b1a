// The HTTP/1.1 request parser of `slrun serve` on arbitrary bytes, fed in pieces whose sizes the
// input chooses: whatever the split, the parser ends in the same state with the same requests
// (compared with one feed of everything), never reads past its limits, and a complete request's
// body never exceeds the body limit.
#include "FuzzSupport.h"

#include "runtime/server/Http.h"

#include <string>
#include <string_view>
#include <vector>

namespace {

using sl::server::http::Limits;
using sl::server::http::Request;
using sl::server::http::RequestParser;

struct Outcome {
  std::vector<std::string> requests;  // method, target, body of each complete request
  int errorStatus = 0;
};

Outcome run(std::string_view bytes, const std::vector<size_t> &pieces, const Limits &limits) {
  RequestParser parser(limits);
  Outcome outcome;
  size_t at = 0, piece = 0;
  auto drain = [&](RequestParser::State state) {
    while (state == RequestParser::State::complete) {
      Request request = parser.take();
      SL_FUZZ_CHECK(request.body.size() <= limits.maxBodyBytes, "a body past the limit");
      outcome.requests.push_back(request.method + " " + request.target + " " + request.body);
      state = parser.resume();
    }
    if (state == RequestParser::State::error) {
      SL_FUZZ_CHECK(parser.errorStatus() >= 400 && parser.errorStatus() < 600,
                    std::to_string(parser.errorStatus()));
      SL_FUZZ_CHECK(!parser.errorMessage().empty(), "an error without a message");
      outcome.errorStatus = parser.errorStatus();
      return false;
    }
    return true;
  };
  while (at < bytes.size()) {
    size_t size = pieces.empty() ? bytes.size() : pieces[piece++ % pieces.size()];
    size = std::min(size, bytes.size() - at);
    if (!drain(parser.feed(bytes.substr(at, size))))
      break;
    at += size;
  }
  return outcome;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  // The first 4 bytes choose piece sizes (1..16 bytes, or everything at once).
  if (size < 4)
    return 0;
  std::vector<size_t> pieces;
  for (int i = 0; i < 4; ++i)
    pieces.push_back(1 + data[i] % 16);
  std::string_view bytes(reinterpret_cast<const char *>(data) + 4, size - 4);
  Limits limits;
  limits.maxHeadBytes = 512;
  limits.maxHeaders = 8;
  limits.maxBodyBytes = 256;
  Outcome whole = run(bytes, {}, limits);
  Outcome split = run(bytes, pieces, limits);
  SL_FUZZ_CHECK(whole.requests == split.requests, "requests depend on how the bytes arrive");
  SL_FUZZ_CHECK(whole.errorStatus == split.errorStatus,
                std::to_string(whole.errorStatus) + " vs " + std::to_string(split.errorStatus));
  return 0;
}
