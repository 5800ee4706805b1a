// UTF-8 helpers and the PCRE2 wrapper of the tokenizer.
#include "runtime/text/TokenizerUnicode.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

namespace sl::text::detail {

namespace {

bool isCont(unsigned char c) { return (c & 0xC0) == 0x80; }

// Length of the valid UTF-8 sequence at `pos`, or 0 with `invalidLen` set to the length of
// the maximal invalid subpart (as Rust's Utf8Chunks).
size_t validSeqLen(const std::string &s, size_t pos, size_t &invalidLen) {
  const size_t n = s.size();
  unsigned char c = static_cast<unsigned char>(s[pos]);
  invalidLen = 1;
  if (c < 0x80)
    return 1;
  auto at = [&](size_t i) -> int {
    return pos + i < n ? static_cast<unsigned char>(s[pos + i]) : -1;
  };
  if (c >= 0xC2 && c <= 0xDF) {
    int b1 = at(1);
    return (b1 >= 0 && isCont(b1)) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    int b1 = at(1);
    bool ok1 = b1 >= 0 && ((c == 0xE0 && b1 >= 0xA0 && b1 <= 0xBF) ||
                           (c >= 0xE1 && c <= 0xEC && isCont(b1)) ||
                           (c == 0xED && b1 >= 0x80 && b1 <= 0x9F) ||
                           (c >= 0xEE && isCont(b1)));
    if (!ok1)
      return 0;
    int b2 = at(2);
    if (b2 < 0 || !isCont(b2)) {
      invalidLen = 2;
      return 0;
    }
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    int b1 = at(1);
    bool ok1 = b1 >= 0 && ((c == 0xF0 && b1 >= 0x90 && b1 <= 0xBF) ||
                           (c >= 0xF1 && c <= 0xF3 && isCont(b1)) ||
                           (c == 0xF4 && b1 >= 0x80 && b1 <= 0x8F));
    if (!ok1)
      return 0;
    int b2 = at(2);
    if (b2 < 0 || !isCont(b2)) {
      invalidLen = 2;
      return 0;
    }
    int b3 = at(3);
    if (b3 < 0 || !isCont(b3)) {
      invalidLen = 3;
      return 0;
    }
    return 4;
  }
  return 0;
}

// Simple lowercase mappings of Unicode 14 (generated from Python's str.lower()): runs
// [first, last] stepping by `step`, each mapped to cp + delta.
struct LowerRun {
  uint32_t first, last;
  int32_t delta;
  uint32_t step;
};
const LowerRun kLowerRuns[] = {
    {0x41, 0x5A, 32, 1}, {0xC0, 0xD6, 32, 1}, {0xD8, 0xDE, 32, 1}, {0x100, 0x12E, 1, 2},
    {0x132, 0x136, 1, 2}, {0x139, 0x147, 1, 2}, {0x14A, 0x176, 1, 2}, {0x178, 0x178, -121, 1},
    {0x179, 0x17D, 1, 2}, {0x181, 0x181, 210, 1}, {0x182, 0x184, 1, 2}, {0x186, 0x186, 206, 1},
    {0x187, 0x187, 1, 1}, {0x189, 0x18A, 205, 1}, {0x18B, 0x18B, 1, 1}, {0x18E, 0x18E, 79, 1},
    {0x18F, 0x18F, 202, 1}, {0x190, 0x190, 203, 1}, {0x191, 0x191, 1, 1}, {0x193, 0x193, 205, 1},
    {0x194, 0x194, 207, 1}, {0x196, 0x196, 211, 1}, {0x197, 0x197, 209, 1}, {0x198, 0x198, 1, 1},
    {0x19C, 0x19C, 211, 1}, {0x19D, 0x19D, 213, 1}, {0x19F, 0x19F, 214, 1}, {0x1A0, 0x1A4, 1, 2},
    {0x1A6, 0x1A6, 218, 1}, {0x1A7, 0x1A7, 1, 1}, {0x1A9, 0x1A9, 218, 1}, {0x1AC, 0x1AC, 1, 1},
    {0x1AE, 0x1AE, 218, 1}, {0x1AF, 0x1AF, 1, 1}, {0x1B1, 0x1B2, 217, 1}, {0x1B3, 0x1B5, 1, 2},
    {0x1B7, 0x1B7, 219, 1}, {0x1B8, 0x1B8, 1, 1}, {0x1BC, 0x1BC, 1, 1}, {0x1C4, 0x1C4, 2, 1},
    {0x1C5, 0x1C5, 1, 1}, {0x1C7, 0x1C7, 2, 1}, {0x1C8, 0x1C8, 1, 1}, {0x1CA, 0x1CA, 2, 1},
    {0x1CB, 0x1DB, 1, 2}, {0x1DE, 0x1EE, 1, 2}, {0x1F1, 0x1F1, 2, 1}, {0x1F2, 0x1F4, 1, 2},
    {0x1F6, 0x1F6, -97, 1}, {0x1F7, 0x1F7, -56, 1}, {0x1F8, 0x21E, 1, 2},
    {0x220, 0x220, -130, 1}, {0x222, 0x232, 1, 2}, {0x23A, 0x23A, 10795, 1},
    {0x23B, 0x23B, 1, 1}, {0x23D, 0x23D, -163, 1}, {0x23E, 0x23E, 10792, 1},
    {0x241, 0x241, 1, 1}, {0x243, 0x243, -195, 1}, {0x244, 0x244, 69, 1}, {0x245, 0x245, 71, 1},
    {0x246, 0x24E, 1, 2}, {0x370, 0x372, 1, 2}, {0x376, 0x376, 1, 1}, {0x37F, 0x37F, 116, 1},
    {0x386, 0x386, 38, 1}, {0x388, 0x38A, 37, 1}, {0x38C, 0x38C, 64, 1}, {0x38E, 0x38F, 63, 1},
    {0x391, 0x3A1, 32, 1}, {0x3A3, 0x3AB, 32, 1}, {0x3CF, 0x3CF, 8, 1}, {0x3D8, 0x3EE, 1, 2},
    {0x3F4, 0x3F4, -60, 1}, {0x3F7, 0x3F7, 1, 1}, {0x3F9, 0x3F9, -7, 1}, {0x3FA, 0x3FA, 1, 1},
    {0x3FD, 0x3FF, -130, 1}, {0x400, 0x40F, 80, 1}, {0x410, 0x42F, 32, 1}, {0x460, 0x480, 1, 2},
    {0x48A, 0x4BE, 1, 2}, {0x4C0, 0x4C0, 15, 1}, {0x4C1, 0x4CD, 1, 2}, {0x4D0, 0x52E, 1, 2},
    {0x531, 0x556, 48, 1}, {0x10A0, 0x10C5, 7264, 1}, {0x10C7, 0x10C7, 7264, 1},
    {0x10CD, 0x10CD, 7264, 1}, {0x13A0, 0x13EF, 38864, 1}, {0x13F0, 0x13F5, 8, 1},
    {0x1C90, 0x1CBA, -3008, 1}, {0x1CBD, 0x1CBF, -3008, 1}, {0x1E00, 0x1E94, 1, 2},
    {0x1E9E, 0x1E9E, -7615, 1}, {0x1EA0, 0x1EFE, 1, 2}, {0x1F08, 0x1F0F, -8, 1},
    {0x1F18, 0x1F1D, -8, 1}, {0x1F28, 0x1F2F, -8, 1}, {0x1F38, 0x1F3F, -8, 1},
    {0x1F48, 0x1F4D, -8, 1}, {0x1F59, 0x1F5F, -8, 2}, {0x1F68, 0x1F6F, -8, 1},
    {0x1F88, 0x1F8F, -8, 1}, {0x1F98, 0x1F9F, -8, 1}, {0x1FA8, 0x1FAF, -8, 1},
    {0x1FB8, 0x1FB9, -8, 1}, {0x1FBA, 0x1FBB, -74, 1}, {0x1FBC, 0x1FBC, -9, 1},
    {0x1FC8, 0x1FCB, -86, 1}, {0x1FCC, 0x1FCC, -9, 1}, {0x1FD8, 0x1FD9, -8, 1},
    {0x1FDA, 0x1FDB, -100, 1}, {0x1FE8, 0x1FE9, -8, 1}, {0x1FEA, 0x1FEB, -112, 1},
    {0x1FEC, 0x1FEC, -7, 1}, {0x1FF8, 0x1FF9, -128, 1}, {0x1FFA, 0x1FFB, -126, 1},
    {0x1FFC, 0x1FFC, -9, 1}, {0x2126, 0x2126, -7517, 1}, {0x212A, 0x212A, -8383, 1},
    {0x212B, 0x212B, -8262, 1}, {0x2132, 0x2132, 28, 1}, {0x2160, 0x216F, 16, 1},
    {0x2183, 0x2183, 1, 1}, {0x24B6, 0x24CF, 26, 1}, {0x2C00, 0x2C2F, 48, 1},
    {0x2C60, 0x2C60, 1, 1}, {0x2C62, 0x2C62, -10743, 1}, {0x2C63, 0x2C63, -3814, 1},
    {0x2C64, 0x2C64, -10727, 1}, {0x2C67, 0x2C6B, 1, 2}, {0x2C6D, 0x2C6D, -10780, 1},
    {0x2C6E, 0x2C6E, -10749, 1}, {0x2C6F, 0x2C6F, -10783, 1}, {0x2C70, 0x2C70, -10782, 1},
    {0x2C72, 0x2C72, 1, 1}, {0x2C75, 0x2C75, 1, 1}, {0x2C7E, 0x2C7F, -10815, 1},
    {0x2C80, 0x2CE2, 1, 2}, {0x2CEB, 0x2CED, 1, 2}, {0x2CF2, 0x2CF2, 1, 1},
    {0xA640, 0xA66C, 1, 2}, {0xA680, 0xA69A, 1, 2}, {0xA722, 0xA72E, 1, 2},
    {0xA732, 0xA76E, 1, 2}, {0xA779, 0xA77B, 1, 2}, {0xA77D, 0xA77D, -35332, 1},
    {0xA77E, 0xA786, 1, 2}, {0xA78B, 0xA78B, 1, 1}, {0xA78D, 0xA78D, -42280, 1},
    {0xA790, 0xA792, 1, 2}, {0xA796, 0xA7A8, 1, 2}, {0xA7AA, 0xA7AA, -42308, 1},
    {0xA7AB, 0xA7AB, -42319, 1}, {0xA7AC, 0xA7AC, -42315, 1}, {0xA7AD, 0xA7AD, -42305, 1},
    {0xA7AE, 0xA7AE, -42308, 1}, {0xA7B0, 0xA7B0, -42258, 1}, {0xA7B1, 0xA7B1, -42282, 1},
    {0xA7B2, 0xA7B2, -42261, 1}, {0xA7B3, 0xA7B3, 928, 1}, {0xA7B4, 0xA7C2, 1, 2},
    {0xA7C4, 0xA7C4, -48, 1}, {0xA7C5, 0xA7C5, -42307, 1}, {0xA7C6, 0xA7C6, -35384, 1},
    {0xA7C7, 0xA7C9, 1, 2}, {0xA7D0, 0xA7D0, 1, 1}, {0xA7D6, 0xA7D8, 1, 2},
    {0xA7F5, 0xA7F5, 1, 1}, {0xFF21, 0xFF3A, 32, 1}, {0x10400, 0x10427, 40, 1},
    {0x104B0, 0x104D3, 40, 1}, {0x10570, 0x1057A, 39, 1}, {0x1057C, 0x1058A, 39, 1},
    {0x1058C, 0x10592, 39, 1}, {0x10594, 0x10595, 39, 1}, {0x10C80, 0x10CB2, 64, 1},
    {0x118A0, 0x118BF, 32, 1}, {0x16E40, 0x16E5F, 32, 1}, {0x1E900, 0x1E921, 34, 1},
};

pcre2_code *asCode(void *p) { return static_cast<pcre2_code *>(p); }

// Rust regex's \w: Alphabetic, marks, decimal digits, connector punctuation, join controls.
const Regex &wordRegex() {
  static const std::shared_ptr<const Regex> re = [] {
    auto r = Regex::compile("[\\p{L}\\p{Nl}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]");
    return r.ok() ? r.value() : nullptr;
  }();
  return *re;
}

}  // namespace

bool isValidUtf8(const std::string &s) {
  for (size_t i = 0; i < s.size();) {
    size_t bad;
    size_t len = validSeqLen(s, i, bad);
    if (!len)
      return false;
    i += len;
  }
  return true;
}

std::string utf8Lossy(const std::string &s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t bad;
    size_t len = validSeqLen(s, i, bad);
    if (len) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i += bad;
    }
  }
  return out;
}

std::pair<uint32_t, size_t> decodeUtf8(const std::string &s, size_t pos) {
  unsigned char c = static_cast<unsigned char>(s[pos]);
  if (c < 0x80)
    return {c, 1};
  size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
  for (size_t i = 1; i < len && pos + i < s.size(); ++i)
    cp = (cp << 6) | (static_cast<unsigned char>(s[pos + i]) & 0x3F);
  return {cp, len};
}

void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

size_t prevCharStart(const std::string &s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && isCont(static_cast<unsigned char>(s[i])))
    --i;
  return i;
}

bool isSpace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

bool isWordChar(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
           cp == '_';
  std::string s;
  appendUtf8(s, cp);
  return wordRegex().matchesWhole(s);
}

uint32_t toLower(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  size_t lo = 0, hi = sizeof(kLowerRuns) / sizeof(kLowerRuns[0]);
  while (lo < hi) {  // the last run with first <= cp
    size_t mid = (lo + hi) / 2;
    if (kLowerRuns[mid].first <= cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0)
    return cp;
  const LowerRun &r = kLowerRuns[lo - 1];
  if (cp > r.last || (cp - r.first) % r.step != 0)
    return cp;
  return static_cast<uint32_t>(static_cast<int64_t>(cp) + r.delta);
}

std::string translateOnigPattern(const std::string &p) {
  // Oniguruma's Unicode \w, as measured through HF tokenizers: letters, marks, Nd, Nl, Pc and
  // the circled/squared letters (Other_Alphabetic); a bare \w also takes the Latin-1
  // superscripts and fractions (U+00B2 U+00B3 U+00B9 U+00BC-U+00BE), \w inside a class not.
  static const std::string kWord =
      "\\p{L}\\p{M}\\p{Nd}\\p{Nl}\\p{Pc}\\x{24B6}-\\x{24E9}\\x{1F130}-\\x{1F149}"
      "\\x{1F150}-\\x{1F169}\\x{1F170}-\\x{1F189}";
  static const std::string kLatin1 = "\\x{B2}\\x{B3}\\x{B9}\\x{BC}-\\x{BE}";
  std::string out;
  bool inClass = false;
  size_t classStart = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      char n = p[i + 1];
      if (n == 'Q') {  // \Q...\E: literal text
        size_t e = p.find("\\E", i + 2);
        size_t stop = e == std::string::npos ? p.size() : e + 2;
        out.append(p, i, stop - i);
        i = stop - 1;
        continue;
      }
      if (n == 'w') {
        out += inClass ? kWord : "[" + kWord + kLatin1 + "]";
        ++i;
        continue;
      }
      if (n == 'W' && !inClass) {
        out += "[^" + kWord + kLatin1 + "]";
        ++i;
        continue;
      }
      out += c;
      out += n;
      ++i;
      continue;
    }
    if (!inClass && c == '[') {
      inClass = true;
      out += c;
      classStart = i + 1;
      if (classStart < p.size() && p[classStart] == '^') {
        out += '^';
        ++i;
        ++classStart;
      }
      if (classStart < p.size() && p[classStart] == ']') {  // a literal ']' first
        out += ']';
        ++i;
      }
      continue;
    }
    if (inClass && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // [:posix:]
      size_t e = p.find(":]", i + 2);
      size_t stop = e == std::string::npos ? p.size() : e + 2;
      out.append(p, i, stop - i);
      i = stop - 1;
      continue;
    }
    if (inClass && c == ']')
      inClass = false;
    out += c;
  }
  return out;
}

StatusOr<std::shared_ptr<const Regex>> Regex::compile(const std::string &pattern) {
  int err = 0;
  PCRE2_SIZE errOffset = 0;
  pcre2_code *code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_UCP, &err, &errOffset, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(err, buf, sizeof(buf));
    return Status::error("invalid regex '" + pattern + "' at offset " +
                         std::to_string(errOffset) + ": " + reinterpret_cast<char *>(buf));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional speed-up; falls back to the
                                                 // interpreter when JIT is unavailable
  return std::shared_ptr<const Regex>(new Regex(code));
}

Regex::~Regex() { pcre2_code_free(asCode(code_)); }

std::vector<std::pair<size_t, size_t>> Regex::findAll(const std::string &s) const {
  std::vector<std::pair<size_t, size_t>> out;
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(asCode(code_), nullptr);
  if (!md)
    throw std::runtime_error("out of memory for regex match data");
  auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  while (pos <= s.size()) {
    int rc = pcre2_match(asCode(code_), subject, s.size(), pos, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH)
      break;
    if (rc < 0) {
      pcre2_match_data_free(md);
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(rc, buf, sizeof(buf));
      throw std::runtime_error(std::string("regex match failed: ") +
                               reinterpret_cast<char *>(buf));
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    size_t start = ov[0], end = ov[1];
    out.emplace_back(start, end);
    if (end > start) {
      pos = end;
    } else {
      if (end >= s.size())
        break;
      pos = end + decodeUtf8(s, end).second;
    }
  }
  pcre2_match_data_free(md);
  return out;
}

bool Regex::matchesWhole(const std::string &s) const {
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(asCode(code_), nullptr);
  if (!md)
    return false;
  int rc = pcre2_match(asCode(code_), reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0,
                       PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NO_UTF_CHECK, md, nullptr);
  pcre2_match_data_free(md);
  return rc >= 0;
}

}  // namespace sl::text::detail
