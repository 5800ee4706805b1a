// UTF-8, character classes and Python's str operations for the Jinja interpreter. See
// JinjaStrings.h.
#include "runtime/text/JinjaStrings.h"

namespace sl::text::jinja::detail {

// ------------------------------------------------------------------------------------------
// UTF-8
// ------------------------------------------------------------------------------------------

std::u32string decodeUtf8(const std::string &s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    char32_t cp;
    int len;
    if (c < 0x80) { cp = c; len = 1; }
    else if ((c >> 5) == 6) { cp = c & 0x1f; len = 2; }
    else if ((c >> 4) == 14) { cp = c & 0x0f; len = 3; }
    else if ((c >> 3) == 30) { cp = c & 0x07; len = 4; }
    else { out.push_back(0xDC00 + c); ++i; continue; }  // invalid byte: lone surrogate escape
    if (i + len > n) { out.push_back(0xDC00 + c); ++i; continue; }
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 2) { ok = false; break; }
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (!ok) { out.push_back(0xDC00 + c); ++i; continue; }
    out.push_back(cp);
    i += len;
  }
  return out;
}

void appendUtf8(std::string &out, char32_t cp) {
  if (cp >= 0xDC80 && cp <= 0xDCFF) { out.push_back(static_cast<char>(cp - 0xDC00)); return; }
  if (cp < 0x80) out.push_back(static_cast<char>(cp));
  else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

std::string encodeUtf8(const std::u32string &s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) appendUtf8(out, c);
  return out;
}

bool isSpace32(char32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
         (c >= 0x1c && c <= 0x1f) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
         c == 0x205f || c == 0x3000;
}
char32_t upper32(char32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if ((c >= 0xe0 && c <= 0xfe && c != 0xf7)) return c - 32;
  if (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2) return c - 32;
  if (c >= 0x430 && c <= 0x44f) return c - 32;
  return c;
}
char32_t lower32(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if ((c >= 0xc0 && c <= 0xde && c != 0xd7)) return c + 32;
  if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return c + 32;
  if (c >= 0x410 && c <= 0x42f) return c + 32;
  return c;
}
bool isAlpha32(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (c == 0xaa || c == 0xb5 || c == 0xba) return true;
  if (c >= 0xc0 && c <= 0x24f) return c != 0xd7 && c != 0xf7;
  if (c >= 0x250 && c <= 0x2af) return true;
  if (c >= 0x370 && c <= 0x3ff) return c != 0x37e && c != 0x387 && c != 0x375 && c != 0x384 && c != 0x385;
  if (c >= 0x400 && c <= 0x52f) return !(c >= 0x482 && c <= 0x489);
  if (c >= 0x531 && c <= 0x587) return true;
  if (c >= 0x5d0 && c <= 0x5f2) return true;
  if (c >= 0x620 && c <= 0x64a) return true;
  if (c >= 0x671 && c <= 0x6d3) return true;
  if (c >= 0x904 && c <= 0x939) return true;
  if (c >= 0xe01 && c <= 0xe30) return true;
  if (c >= 0x1e00 && c <= 0x1fff) return true;
  if (c >= 0x3041 && c <= 0x3096) return true;
  if (c >= 0x30a1 && c <= 0x30fa) return true;
  if (c >= 0x3400 && c <= 0x4dbf) return true;
  if (c >= 0x4e00 && c <= 0x9fff) return true;
  if (c >= 0xac00 && c <= 0xd7a3) return true;
  if ((c >= 0xff21 && c <= 0xff3a) || (c >= 0xff41 && c <= 0xff5a)) return true;
  if (c >= 0x20000 && c <= 0x2fa1f) return true;
  return false;
}

namespace {

bool isDigitU(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 0x660 && c <= 0x669) || (c >= 0x6f0 && c <= 0x6f9) ||
         (c >= 0x966 && c <= 0x96f) || (c >= 0xff10 && c <= 0xff19);
}

}  // namespace

bool isDigit32(char32_t c) { return c >= '0' && c <= '9'; }
bool isWord32(char32_t c) { return isAlpha32(c) || isDigitU(c) || c == '_' || c == 0x3005 || c == 0x3006 || c == 0x30fc; }

// ------------------------------------------------------------------------------------------
// str operations
// ------------------------------------------------------------------------------------------

std::string htmlEscape(const std::string &s) {
  std::string out;
  for (char c : s) {
    switch (c) {
    case '&': out += "&amp;"; break;
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '"': out += "&#34;"; break;
    case '\'': out += "&#39;"; break;
    default: out.push_back(c);
    }
  }
  return out;
}

std::string strip32(const std::string &s, const Value &chars, bool left, bool right) {
  std::u32string u = decodeUtf8(s);
  std::u32string set;
  bool ws = chars.isUndef() || chars.k == K::None;
  if (!ws) {
    if (chars.k != K::Str) fail("strip arg must be None or str");
    set = decodeUtf8(chars.s);
  }
  auto strip = [&](char32_t c) { return ws ? isSpace32(c) : set.find(c) != std::u32string::npos; };
  size_t b = 0, e = u.size();
  if (left) while (b < e && strip(u[b])) ++b;
  if (right) while (e > b && strip(u[e - 1])) --e;
  return encodeUtf8(u.substr(b, e - b));
}

std::string replaceAll(const std::string &s, const std::string &from, const std::string &to, int64_t count) {
  if (from.empty()) {
    std::u32string u = decodeUtf8(s);
    std::string out;
    int64_t done = 0;
    for (size_t i = 0; i <= u.size(); ++i) {
      if (count < 0 || done < count) { out += to; ++done; }
      if (i < u.size()) appendUtf8(out, u[i]);
    }
    return out;
  }
  std::string out;
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t f = s.find(from, pos);
    if (f == std::string::npos) break;
    out += s.substr(pos, f - pos) + to;
    pos = f + from.size();
    ++done;
  }
  return out + s.substr(pos);
}

std::vector<Value> splitStr(const std::string &s, const Value &sep, int64_t maxsplit, bool fromRight) {
  std::vector<std::string> parts;
  if (sep.isUndef() || sep.k == K::None) {
    std::u32string u = decodeUtf8(s);
    std::vector<std::pair<size_t, size_t>> words;
    size_t i = 0;
    while (i < u.size()) {
      while (i < u.size() && isSpace32(u[i])) ++i;
      if (i >= u.size()) break;
      size_t j = i;
      while (j < u.size() && !isSpace32(u[j])) ++j;
      words.emplace_back(i, j);
      i = j;
    }
    if (maxsplit < 0 || static_cast<int64_t>(words.size()) <= maxsplit + 1) {
      for (auto &w : words) parts.push_back(encodeUtf8(u.substr(w.first, w.second - w.first)));
    } else if (!fromRight) {
      for (int64_t k = 0; k < maxsplit; ++k)
        parts.push_back(encodeUtf8(u.substr(words[k].first, words[k].second - words[k].first)));
      size_t rest = words[maxsplit].first, end = u.size();
      while (end > rest && isSpace32(u[end - 1])) --end;
      parts.push_back(encodeUtf8(u.substr(rest, end - rest)));
    } else {
      size_t n = words.size();
      size_t firstKept = n - maxsplit;
      size_t b = 0;
      while (b < u.size() && isSpace32(u[b])) ++b;
      parts.push_back(encodeUtf8(u.substr(b, words[firstKept - 1].second - b)));
      for (size_t k = firstKept; k < n; ++k)
        parts.push_back(encodeUtf8(u.substr(words[k].first, words[k].second - words[k].first)));
    }
  } else {
    if (sep.k != K::Str) fail("must be str or None");
    if (sep.s.empty()) fail("empty separator");
    const std::string &d = sep.s;
    if (!fromRight) {
      size_t pos = 0;
      int64_t n = 0;
      while (maxsplit < 0 || n < maxsplit) {
        size_t f = s.find(d, pos);
        if (f == std::string::npos) break;
        parts.push_back(s.substr(pos, f - pos));
        pos = f + d.size();
        ++n;
      }
      parts.push_back(s.substr(pos));
    } else {
      size_t end = s.size();
      int64_t n = 0;
      std::vector<std::string> rev;
      while (maxsplit < 0 || n < maxsplit) {
        if (end < d.size()) break;
        size_t f = s.rfind(d, end - d.size());
        if (f == std::string::npos) break;
        rev.push_back(s.substr(f + d.size(), end - f - d.size()));
        end = f;
        ++n;
      }
      rev.push_back(s.substr(0, end));
      parts.assign(rev.rbegin(), rev.rend());
    }
  }
  std::vector<Value> out;
  for (auto &p : parts) out.push_back(Value::str(p));
  return out;
}

std::string pyTitle(const std::string &s) {  // str.title()
  std::u32string u = decodeUtf8(s);
  bool prevCased = false;
  for (auto &c : u) {
    bool cased = upper32(c) != c || lower32(c) != c;
    if (cased) {
      c = prevCased ? lower32(c) : upper32(c);
    }
    prevCased = cased;
  }
  return encodeUtf8(u);
}
std::string lowerStr(const std::string &s) {
  std::u32string u = decodeUtf8(s);
  for (auto &c : u) c = lower32(c);
  return encodeUtf8(u);
}
std::string upperStr(const std::string &s) {
  std::u32string u = decodeUtf8(s), out;
  for (char32_t c : u) {
    if (c == 0xdf) out += U"SS";  // str.upper() of 'ß'
    else out.push_back(upper32(c));
  }
  return encodeUtf8(out);
}
std::string capitalizeStr(const std::string &s) {
  std::u32string u = decodeUtf8(s);
  for (size_t i = 0; i < u.size(); ++i) u[i] = i == 0 ? upper32(u[i]) : lower32(u[i]);
  return encodeUtf8(u);
}

}  // namespace sl::text::jinja::detail
