// sl::io::parseJson / parseOrderedJson on arbitrary text under limits taken from the first byte.
// Invariants: an accepted value respects the limits, dumps without throwing and re-parses
// (under the same limits) to an equal value, and equals what nlohmann's own parser builds when
// duplicates are rejected; a rejection of text nlohmann accepts is a broken limit.
#include "FuzzSupport.h"

#include "runtime/io/Json.h"

#include <string_view>
#include <vector>

namespace {

template <typename Json>
void checkLimits(const Json &root, const sl::io::JsonLimits &limits) {
  // Iterative walk: depth of every container and keys per object.
  std::vector<std::pair<const Json *, size_t>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto [value, depth] = stack.back();
    stack.pop_back();
    if (!value->is_structured())
      continue;
    SL_FUZZ_CHECK(depth < limits.maxDepth, "container nested deeper than maxDepth");
    if (value->is_object())
      SL_FUZZ_CHECK(value->size() <= limits.maxKeysPerObject, "object over maxKeysPerObject");
    for (const auto &child : *value)
      stack.push_back({&child, depth + 1});
  }
}

bool isLimitMessage(const std::string &message) {
  return message.find("nesting deeper than") != std::string::npos ||
         message.find("keys at") != std::string::npos ||
         message.find("duplicate key") != std::string::npos;
}

template <typename Json, typename Parse>
void check(std::string_view text, const sl::io::JsonLimits &limits, Parse parse) {
  auto parsed = parse(text, limits, "fuzz");
  if (!parsed.ok()) {
    SL_FUZZ_CHECK(!parsed.status().message().empty(), "an error without a message");
    // nlohmann's parser must reject it too, unless a limit was broken.
    if (!isLimitMessage(parsed.status().message())) {
      bool accepted = Json::accept(text.begin(), text.end());
      SL_FUZZ_CHECK(!accepted, "rejected valid JSON: " + parsed.status().message());
    }
    return;
  }
  const Json &value = parsed.value();
  checkLimits(value, limits);
  std::string dumped;
  try {
    dumped = value.dump();
  } catch (const std::exception &e) {
    sl::fuzz::fail("dump() of an accepted value threw", e.what());
  }
  auto again = parse(dumped, limits, "fuzz (re-parse)");
  SL_FUZZ_CHECK(again.ok(), "the dump of an accepted value is rejected: " +
                                again.status().message());
  SL_FUZZ_CHECK(again.value() == value, "the dump re-parses to another value: " + dumped);
  if (limits.rejectDuplicateKeys) {
    Json reference = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    SL_FUZZ_CHECK(!reference.is_discarded(), "accepted JSON that nlohmann rejects");
    SL_FUZZ_CHECK(reference == value, "differs from nlohmann's parse: " + dumped);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  // Byte 0: bit 0 = ordered, bit 1 = allow duplicates, bits 2-4 = depth, bits 5-7 = keys.
  const uint8_t mode = data[0];
  sl::io::JsonLimits limits;
  limits.rejectDuplicateKeys = !(mode & 2);
  limits.maxDepth = ((mode >> 2) & 7) == 7 ? 64 : (mode >> 2) & 7;
  limits.maxKeysPerObject = ((mode >> 5) & 7) == 7 ? size_t(-1) : size_t(1) << ((mode >> 5) & 7);
  std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);
  if (mode & 1)
    check<nlohmann::ordered_json>(text, limits, sl::io::parseOrderedJson);
  else
    check<nlohmann::json>(text, limits, sl::io::parseJson);
  return 0;
}
