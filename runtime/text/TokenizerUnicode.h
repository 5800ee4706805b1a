// UTF-8 helpers and a PCRE2 regex wrapper for the tokenizer (runtime/text/Tokenizer.cpp).
#pragma once

#include "runtime/support/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sl::text::detail {

bool isValidUtf8(const std::string &s);
// Like Rust's String::from_utf8_lossy: every maximal invalid subpart becomes one U+FFFD.
std::string utf8Lossy(const std::string &s);
// Code point at `pos` of valid UTF-8 and its length in bytes.
std::pair<uint32_t, size_t> decodeUtf8(const std::string &s, size_t pos);
void appendUtf8(std::string &out, uint32_t cp);
// Start of the character that ends at `end` (valid UTF-8, end > 0).
size_t prevCharStart(const std::string &s, size_t end);
// Unicode White_Space (Rust's char::is_whitespace / regex \s).
bool isSpace(uint32_t cp);
// Regex \w (letters, numbers, marks, connector punctuation), via PCRE2 with UCP.
bool isWordChar(uint32_t cp);
// Unicode simple lowercase mapping (U+0130 maps to "i\u0307", handled by the caller).
uint32_t toLower(uint32_t cp);

// Rewrites an Oniguruma pattern (HF's regex engine) for PCRE2: \w (and \W outside classes)
// become Oniguruma's Unicode word class (letters, marks, Nd/Nl numbers, connectors, ...).
std::string translateOnigPattern(const std::string &pattern);

// A PCRE2 pattern compiled with UTF and UCP (as HF's Oniguruma regexes behave on Unicode).
class Regex {
public:
  // Errors name the pattern and PCRE2's message.
  static StatusOr<std::shared_ptr<const Regex>> compile(const std::string &pattern);
  ~Regex();
  // All non-overlapping matches [start, end) of valid UTF-8 `s`, left to right; after an empty
  // match the search resumes one character later. Throws std::runtime_error if PCRE2 fails
  // (e.g. its match limit).
  std::vector<std::pair<size_t, size_t>> findAll(const std::string &s) const;
  // Whether the whole of `s` matches.
  bool matchesWhole(const std::string &s) const;

private:
  explicit Regex(void *code) : code_(code) {}
  void *code_;  // pcre2_code_8
};

}  // namespace sl::text::detail
