// The one way JSON enters the project: requests, snapshot headers, config.json, tokenizer.json,
// chat-template configs. nlohmann's parser is iterative, but copying, dumping, comparing and
// converting a parsed value recurse, and ordered objects check duplicates linearly; so every
// input is parsed under limits (nesting depth, keys per object, duplicate keys) that make
// everything done with the value afterwards bounded.
#pragma once

#include "runtime/support/Status.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string_view>

namespace sl::io {

struct JsonLimits {
  size_t maxDepth = 64;                 // nested arrays/objects; 0 = the top level only
  size_t maxKeysPerObject = size_t(-1); // keys of one object
  bool rejectDuplicateKeys = true;      // else the last value of a key wins
};

// Parses `text` (exactly one JSON value, whitespace around it allowed). Errors name the byte
// offset and, for a broken limit, the limit. `what` prefixes the message ("request body").
StatusOr<nlohmann::json> parseJson(std::string_view text, const JsonLimits &limits = {},
                                   std::string_view what = "JSON");
StatusOr<nlohmann::ordered_json> parseOrderedJson(std::string_view text,
                                                  const JsonLimits &limits = {},
                                                  std::string_view what = "JSON");

}  // namespace sl::io
