// HuggingFace tokenizer.json: byte-level BPE and the normalizers, pre-tokenizers, decoders and
// post-processors such files use, following the semantics of the `tokenizers` crate:
//   1. added tokens with normalized=false are split out of the raw text (leftmost-longest);
//   2. each remaining piece is normalized, then added tokens with normalized=true are split out;
//   3. each remaining piece is pre-tokenized into words, each word is BPE-merged;
//   4. with add_special_tokens, the post-processor adds its tokens (e.g. a leading bos).
// Components that are not implemented are load errors naming them; nothing is silently ignored.
#include "runtime/text/Tokenizer.h"

#include "runtime/io/Json.h"
#include "runtime/text/TokenizerUnicode.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <queue>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace sl::text {

using detail::Regex;
using json = nlohmann::json;

namespace {

// A load error; `what()` is "<where>: <problem>", the caller prefixes the file.
struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string &where, const std::string &msg) {
  throw ParseError(where + ": " + msg);
}

std::string describe(const json &v) {
  switch (v.type()) {
  case json::value_t::null: return "null";
  case json::value_t::boolean: return "a boolean";
  case json::value_t::string: return "a string";
  case json::value_t::array: return "an array";
  case json::value_t::object: return "an object";
  default: return "a number";
  }
}

const json *lookup(const json &obj, const char *key) {
  if (!obj.is_object())
    return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

const json &require(const json &obj, const char *key, const std::string &where) {
  if (!obj.is_object())
    fail(where, "expected an object, got " + describe(obj));
  auto it = obj.find(key);
  if (it == obj.end())
    fail(where, std::string("missing \"") + key + "\"");
  return *it;
}

std::string getString(const json &obj, const char *key, const std::string &where) {
  const json &v = require(obj, key, where);
  if (!v.is_string())
    fail(where + "." + key, "expected a string, got " + describe(v));
  return v.get<std::string>();
}

std::optional<std::string> getOptString(const json &obj, const char *key,
                                        const std::string &where) {
  const json *v = lookup(obj, key);
  if (!v)
    return std::nullopt;
  if (!v->is_string())
    fail(where + "." + key, "expected a string or null, got " + describe(*v));
  return v->get<std::string>();
}

bool getBool(const json &obj, const char *key, const std::string &where, bool dflt) {
  const json *v = lookup(obj, key);
  if (!v)
    return dflt;
  if (!v->is_boolean())
    fail(where + "." + key, "expected a boolean, got " + describe(*v));
  return v->get<bool>();
}

int64_t getInt(const json &obj, const char *key, const std::string &where, int64_t dflt) {
  const json *v = lookup(obj, key);
  if (!v)
    return dflt;
  if (!v->is_number_integer() || v->get<int64_t>() < 0)
    fail(where + "." + key, "expected an integer >= 0, got " + v->dump());
  return v->get<int64_t>();
}

std::string typeOf(const json &v, const std::string &where) {
  if (!v.is_object())
    fail(where, "expected an object, got " + describe(v));
  return getString(v, "type", where);
}

// ---------------------------------------------------------------------------------------------
// Patterns: {"String": literal} or {"Regex": pcre}.

struct Pattern {
  std::string literal;
  std::shared_ptr<const Regex> regex;

  std::vector<std::pair<size_t, size_t>> find(const std::string &s) const {
    if (regex)
      return regex->findAll(s);
    std::vector<std::pair<size_t, size_t>> out;
    if (literal.empty())
      return out;
    for (size_t pos = s.find(literal); pos != std::string::npos;
         pos = s.find(literal, pos + literal.size()))
      out.emplace_back(pos, pos + literal.size());
    return out;
  }
};

Pattern parsePattern(const json &v, const std::string &where) {
  if (!v.is_object() || v.size() != 1)
    fail(where, "expected {\"String\": ...} or {\"Regex\": ...}, got " + v.dump());
  Pattern p;
  if (const json *s = lookup(v, "String")) {
    if (!s->is_string())
      fail(where + ".String", "expected a string, got " + describe(*s));
    p.literal = s->get<std::string>();
    return p;
  }
  if (const json *r = lookup(v, "Regex")) {
    if (!r->is_string())
      fail(where + ".Regex", "expected a string, got " + describe(*r));
    auto re = Regex::compile(detail::translateOnigPattern(r->get<std::string>()));
    if (!re.ok())
      fail(where + ".Regex", re.status().message());
    p.regex = re.value();
    return p;
  }
  fail(where, "unsupported pattern " + v.dump() + " (expected String or Regex)");
}

std::string replaceAll(const std::string &s, const Pattern &p, const std::string &content) {
  auto matches = p.find(s);
  if (matches.empty())
    return s;
  std::string out;
  size_t prev = 0;
  for (auto [start, end] : matches) {
    out.append(s, prev, start - prev);
    out += content;
    prev = end;
  }
  out.append(s, prev, std::string::npos);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Splitting with HF's SplitDelimiterBehavior.

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parseBehavior(const json &obj, const std::string &where) {
  std::string b = getString(obj, "behavior", where);
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  fail(where + ".behavior", "unsupported split behavior '" + b + "'");
}

struct Span {
  size_t start, end;
  bool flag;  // is_match, then "remove" for Removed
};

void splitInto(const std::string &s, const std::vector<std::pair<size_t, size_t>> &matches,
               Behavior behavior, bool invert, std::vector<std::string> &out) {
  if (s.empty())
    return;
  std::vector<Span> parts;
  size_t prev = 0;
  for (auto [start, end] : matches) {
    if (prev != start)
      parts.push_back({prev, start, false});
    parts.push_back({start, end, true});
    prev = end;
  }
  if (prev != s.size())
    parts.push_back({prev, s.size(), false});
  if (invert)
    for (Span &p : parts)
      p.flag = !p.flag;

  std::vector<Span> res;
  switch (behavior) {
  case Behavior::Isolated:
    for (const Span &p : parts)
      res.push_back({p.start, p.end, false});
    break;
  case Behavior::Removed:
    res = parts;
    break;
  case Behavior::MergedWithPrevious: {
    bool previous = false;
    for (const Span &p : parts) {
      if (p.flag && !previous) {
        if (!res.empty())
          res.back().end = p.end;
        else
          res.push_back({p.start, p.end, false});
      } else {
        res.push_back({p.start, p.end, false});
      }
      previous = p.flag;
    }
    break;
  }
  case Behavior::MergedWithNext: {
    bool previous = false;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      if (it->flag && !previous) {
        if (!res.empty())
          res.back().start = it->start;
        else
          res.push_back({it->start, it->end, false});
      } else {
        res.push_back({it->start, it->end, false});
      }
      previous = it->flag;
    }
    std::reverse(res.begin(), res.end());
    break;
  }
  case Behavior::Contiguous: {
    bool previous = false;
    for (const Span &p : parts) {
      if (p.flag == previous && !res.empty())
        res.back().end = p.end;
      else
        res.push_back({p.start, p.end, false});
      previous = p.flag;
    }
    break;
  }
  }
  for (const Span &p : res)
    if (!p.flag && p.end > p.start)
      out.push_back(s.substr(p.start, p.end - p.start));
}

// ---------------------------------------------------------------------------------------------
// Byte-level mapping (GPT-2's bytes_to_unicode).

struct ByteMap {
  std::string toChar[256];                     // byte -> UTF-8 of its code point
  std::unordered_map<uint32_t, uint8_t> toByte;  // code point -> byte
  ByteMap() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      uint32_t cp = printable ? b : 256 + n++;
      detail::appendUtf8(toChar[b], cp);
      toByte[cp] = static_cast<uint8_t>(b);
    }
  }
};

const ByteMap &byteMap() {
  static const ByteMap m;
  return m;
}

const std::string kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// ---------------------------------------------------------------------------------------------
// Normalizers.

struct Normalizer {
  virtual ~Normalizer() = default;
  virtual void apply(std::string &s) const = 0;
};

struct SequenceNormalizer : Normalizer {
  std::vector<std::unique_ptr<Normalizer>> items;
  void apply(std::string &s) const override {
    for (const auto &n : items)
      n->apply(s);
  }
};

struct PrependNormalizer : Normalizer {
  std::string prepend;
  void apply(std::string &s) const override {
    if (!s.empty())
      s.insert(0, prepend);
  }
};

struct ReplaceNormalizer : Normalizer {
  Pattern pattern;
  std::string content;
  void apply(std::string &s) const override { s = replaceAll(s, pattern, content); }
};

struct LowercaseNormalizer : Normalizer {
  void apply(std::string &s) const override {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
      auto [cp, len] = detail::decodeUtf8(s, i);
      if (cp == 0x130)
        out += "i\xCC\x87";  // the one lowercase mapping to two characters
      else
        detail::appendUtf8(out, detail::toLower(cp));
      i += len;
    }
    s = std::move(out);
  }
};

struct StripNormalizer : Normalizer {
  bool left = true, right = true;
  void apply(std::string &s) const override {
    size_t start = 0, end = s.size();
    if (left)
      while (start < end) {
        auto [cp, len] = detail::decodeUtf8(s, start);
        if (!detail::isSpace(cp))
          break;
        start += len;
      }
    if (right)
      while (end > start) {
        size_t p = detail::prevCharStart(s, end);
        if (!detail::isSpace(detail::decodeUtf8(s, p).first))
          break;
        end = p;
      }
    s = s.substr(start, end - start);
  }
};

std::unique_ptr<Normalizer> parseNormalizer(const json &v, const std::string &where) {
  std::string type = typeOf(v, where);
  if (type == "Sequence") {
    auto seq = std::make_unique<SequenceNormalizer>();
    const json &items = require(v, "normalizers", where);
    if (!items.is_array())
      fail(where + ".normalizers", "expected an array, got " + describe(items));
    for (size_t i = 0; i < items.size(); ++i)
      seq->items.push_back(
          parseNormalizer(items[i], where + ".normalizers[" + std::to_string(i) + "]"));
    return seq;
  }
  if (type == "Prepend") {
    auto n = std::make_unique<PrependNormalizer>();
    n->prepend = getString(v, "prepend", where);
    return n;
  }
  if (type == "Replace") {
    auto n = std::make_unique<ReplaceNormalizer>();
    n->pattern = parsePattern(require(v, "pattern", where), where + ".pattern");
    n->content = getString(v, "content", where);
    return n;
  }
  if (type == "Lowercase")
    return std::make_unique<LowercaseNormalizer>();
  if (type == "Strip") {
    auto n = std::make_unique<StripNormalizer>();
    n->left = getBool(v, "strip_left", where, true);
    n->right = getBool(v, "strip_right", where, true);
    return n;
  }
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD")
    fail(where, "unsupported normalizer '" + type +
                    "' (Unicode normalization is not implemented)");
  fail(where, "unsupported normalizer '" + type + "'");
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenizers: each maps the list of pieces to a finer list (empty pieces dropped).

struct PreTokenizer {
  virtual ~PreTokenizer() = default;
  virtual void apply(std::vector<std::string> &pieces) const = 0;
};

struct SequencePreTokenizer : PreTokenizer {
  std::vector<std::unique_ptr<PreTokenizer>> items;
  void apply(std::vector<std::string> &pieces) const override {
    for (const auto &p : items)
      p->apply(pieces);
  }
};

struct SplitPreTokenizer : PreTokenizer {
  Pattern pattern;
  Behavior behavior = Behavior::Isolated;
  bool invert = false;
  void apply(std::vector<std::string> &pieces) const override {
    std::vector<std::string> out;
    for (const std::string &p : pieces)
      splitInto(p, pattern.find(p), behavior, invert, out);
    pieces = std::move(out);
  }
};

struct ByteLevelPreTokenizer : PreTokenizer {
  bool addPrefixSpace = false;
  std::shared_ptr<const Regex> regex;  // null without use_regex
  void apply(std::vector<std::string> &pieces) const override {
    std::vector<std::string> split;
    for (std::string p : pieces) {
      if (p.empty())
        continue;
      if (addPrefixSpace && p[0] != ' ')
        p.insert(0, " ");
      if (regex)
        splitInto(p, regex->findAll(p), Behavior::Isolated, false, split);
      else
        split.push_back(std::move(p));
    }
    const ByteMap &m = byteMap();
    pieces.clear();
    for (const std::string &p : split) {
      std::string mapped;
      mapped.reserve(p.size() * 2);
      for (unsigned char c : p)
        mapped += m.toChar[c];
      pieces.push_back(std::move(mapped));
    }
  }
};

std::unique_ptr<PreTokenizer> parsePreTokenizer(const json &v, const std::string &where) {
  std::string type = typeOf(v, where);
  if (type == "Sequence") {
    auto seq = std::make_unique<SequencePreTokenizer>();
    const json &items = require(v, "pretokenizers", where);
    if (!items.is_array())
      fail(where + ".pretokenizers", "expected an array, got " + describe(items));
    for (size_t i = 0; i < items.size(); ++i)
      seq->items.push_back(
          parsePreTokenizer(items[i], where + ".pretokenizers[" + std::to_string(i) + "]"));
    return seq;
  }
  if (type == "Split") {
    auto s = std::make_unique<SplitPreTokenizer>();
    s->pattern = parsePattern(require(v, "pattern", where), where + ".pattern");
    s->behavior = parseBehavior(v, where);
    s->invert = getBool(v, "invert", where, false);
    return s;
  }
  if (type == "ByteLevel") {
    auto b = std::make_unique<ByteLevelPreTokenizer>();
    b->addPrefixSpace = getBool(v, "add_prefix_space", where, true);
    getBool(v, "trim_offsets", where, true);  // offsets only: no effect on ids
    if (getBool(v, "use_regex", where, true)) {
      auto re = Regex::compile(kGpt2Pattern);
      if (!re.ok())
        fail(where, re.status().message());
      b->regex = re.value();
    }
    return b;
  }
  if (type == "Digits") {
    auto s = std::make_unique<SplitPreTokenizer>();
    auto re = Regex::compile("\\p{N}");
    if (!re.ok())
      fail(where, re.status().message());
    s->pattern.regex = re.value();
    s->behavior =
        getBool(v, "individual_digits", where, false) ? Behavior::Isolated : Behavior::Contiguous;
    return s;
  }
  fail(where, "unsupported pre-tokenizer '" + type + "'");
}

// ---------------------------------------------------------------------------------------------
// Decoders: token strings -> token strings (joined at the end).

struct Decoder {
  virtual ~Decoder() = default;
  virtual void apply(std::vector<std::string> &tokens) const = 0;
};

struct SequenceDecoder : Decoder {
  std::vector<std::unique_ptr<Decoder>> items;
  void apply(std::vector<std::string> &tokens) const override {
    for (const auto &d : items)
      d->apply(tokens);
  }
};

struct ByteLevelDecoder : Decoder {
  void apply(std::vector<std::string> &tokens) const override {
    const ByteMap &m = byteMap();
    std::string bytes;
    for (const std::string &t : tokens) {
      std::string mapped;
      bool ok = true;
      for (size_t i = 0; i < t.size() && ok;) {
        auto [cp, len] = detail::decodeUtf8(t, i);
        auto it = m.toByte.find(cp);
        if (it == m.toByte.end())
          ok = false;
        else
          mapped += static_cast<char>(it->second);
        i += len;
      }
      bytes += ok ? mapped : t;  // a token outside the byte alphabet passes through
    }
    tokens.assign(1, detail::utf8Lossy(bytes));
  }
};

struct ReplaceDecoder : Decoder {
  Pattern pattern;
  std::string content;
  void apply(std::vector<std::string> &tokens) const override {
    for (std::string &t : tokens)
      t = replaceAll(t, pattern, content);
  }
};

struct StripDecoder : Decoder {
  uint32_t content = ' ';
  size_t start = 0, stop = 0;
  void apply(std::vector<std::string> &tokens) const override {
    for (std::string &t : tokens) {
      std::vector<std::pair<size_t, size_t>> chars;  // (offset, len)
      for (size_t i = 0; i < t.size();) {
        size_t len = detail::decodeUtf8(t, i).second;
        chars.emplace_back(i, len);
        i += len;
      }
      size_t startCut = 0;
      for (size_t i = 0; i < std::min(start, chars.size()); ++i) {
        if (detail::decodeUtf8(t, chars[i].first).first != content)
          break;
        startCut = i + 1;
      }
      size_t stopCut = chars.size();
      for (size_t i = 0; i < std::min(stop, chars.size()); ++i) {
        size_t index = chars.size() - i - 1;
        if (detail::decodeUtf8(t, chars[index].first).first != content)
          break;
        stopCut = index;
      }
      if (stopCut <= startCut) {
        t.clear();
        continue;
      }
      size_t from = startCut < chars.size() ? chars[startCut].first : t.size();
      size_t to = stopCut < chars.size() ? chars[stopCut].first : t.size();
      t = t.substr(from, to - from);
    }
  }
};

struct FuseDecoder : Decoder {
  void apply(std::vector<std::string> &tokens) const override {
    std::string all;
    for (const std::string &t : tokens)
      all += t;
    tokens.assign(1, all);
  }
};

struct ByteFallbackDecoder : Decoder {
  static bool parseByte(const std::string &t, uint8_t &b) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>')
      return false;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(t[3]), lo = hex(t[4]);
    if (hi < 0 || lo < 0)
      return false;
    b = static_cast<uint8_t>(hi * 16 + lo);
    return true;
  }
  void apply(std::vector<std::string> &tokens) const override {
    std::vector<std::string> out;
    std::string pending;
    auto flushBytes = [&] {
      if (pending.empty())
        return;
      if (detail::isValidUtf8(pending))
        out.push_back(pending);
      else
        for (size_t i = 0; i < pending.size(); ++i)
          out.push_back("\xEF\xBF\xBD");
      pending.clear();
    };
    for (const std::string &t : tokens) {
      uint8_t b;
      if (parseByte(t, b)) {
        pending += static_cast<char>(b);
      } else {
        flushBytes();
        out.push_back(t);
      }
    }
    flushBytes();
    tokens = std::move(out);
  }
};

std::unique_ptr<Decoder> parseDecoder(const json &v, const std::string &where, bool &byteFallback) {
  std::string type = typeOf(v, where);
  if (type == "Sequence") {
    auto seq = std::make_unique<SequenceDecoder>();
    const json &items = require(v, "decoders", where);
    if (!items.is_array())
      fail(where + ".decoders", "expected an array, got " + describe(items));
    for (size_t i = 0; i < items.size(); ++i)
      seq->items.push_back(
          parseDecoder(items[i], where + ".decoders[" + std::to_string(i) + "]", byteFallback));
    return seq;
  }
  if (type == "ByteLevel")
    return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") {
    auto d = std::make_unique<ReplaceDecoder>();
    d->pattern = parsePattern(require(v, "pattern", where), where + ".pattern");
    d->content = getString(v, "content", where);
    return d;
  }
  if (type == "Strip") {
    auto d = std::make_unique<StripDecoder>();
    std::string c = getString(v, "content", where);
    if (c.empty() || detail::decodeUtf8(c, 0).second != c.size())
      fail(where + ".content", "expected a single character, got '" + c + "'");
    d->content = detail::decodeUtf8(c, 0).first;
    d->start = static_cast<size_t>(getInt(v, "start", where, 0));
    d->stop = static_cast<size_t>(getInt(v, "stop", where, 0));
    return d;
  }
  if (type == "Fuse")
    return std::make_unique<FuseDecoder>();
  if (type == "ByteFallback") {
    byteFallback = true;
    return std::make_unique<ByteFallbackDecoder>();
  }
  fail(where, "unsupported decoder '" + type + "'");
}

// ---------------------------------------------------------------------------------------------
// Post-processors (a single sequence, add_special_tokens=true).

struct PostProcessor {
  virtual ~PostProcessor() = default;
  virtual void apply(std::vector<int32_t> &ids) const = 0;
};

struct SequencePostProcessor : PostProcessor {
  std::vector<std::unique_ptr<PostProcessor>> items;
  void apply(std::vector<int32_t> &ids) const override {
    for (const auto &p : items)
      p->apply(ids);
  }
};

struct NoopPostProcessor : PostProcessor {
  void apply(std::vector<int32_t> &) const override {}
};

// A template: pieces that are either the sequence (empty `ids`, `isSequence`) or special ids.
struct TemplatePostProcessor : PostProcessor {
  struct Piece {
    bool isSequence = false;
    std::vector<int32_t> ids;
  };
  std::vector<Piece> single;
  void apply(std::vector<int32_t> &ids) const override {
    std::vector<int32_t> out;
    for (const Piece &p : single) {
      if (p.isSequence)
        out.insert(out.end(), ids.begin(), ids.end());
      else
        out.insert(out.end(), p.ids.begin(), p.ids.end());
    }
    ids = std::move(out);
  }
};

int32_t tokenPairId(const json &v, const std::string &where) {
  if (!v.is_array() || v.size() != 2 || !v[1].is_number_integer() ||
      v[1].get<int64_t>() < 0 || v[1].get<int64_t>() > INT32_MAX)
    fail(where, "expected [token, id], got " + v.dump());
  return v[1].get<int32_t>();
}

std::unique_ptr<PostProcessor> parsePostProcessor(const json &v, const std::string &where) {
  std::string type = typeOf(v, where);
  if (type == "Sequence") {
    auto seq = std::make_unique<SequencePostProcessor>();
    const json &items = require(v, "processors", where);
    if (!items.is_array())
      fail(where + ".processors", "expected an array, got " + describe(items));
    for (size_t i = 0; i < items.size(); ++i)
      seq->items.push_back(
          parsePostProcessor(items[i], where + ".processors[" + std::to_string(i) + "]"));
    return seq;
  }
  if (type == "ByteLevel")
    return std::make_unique<NoopPostProcessor>();  // trims offsets only
  if (type == "TemplateProcessing") {
    auto t = std::make_unique<TemplatePostProcessor>();
    const json &special = require(v, "special_tokens", where);
    const json &single = require(v, "single", where);
    if (!single.is_array())
      fail(where + ".single", "expected an array, got " + describe(single));
    for (size_t i = 0; i < single.size(); ++i) {
      std::string at = where + ".single[" + std::to_string(i) + "]";
      const json &item = single[i];
      TemplatePostProcessor::Piece piece;
      if (const json *seq = lookup(item, "Sequence")) {
        std::string id = getString(*seq, "id", at + ".Sequence");
        if (id != "A")
          fail(at + ".Sequence.id", "the single template can only hold sequence A, got '" +
                                        id + "'");
        piece.isSequence = true;
      } else if (const json *sp = lookup(item, "SpecialToken")) {
        std::string name = getString(*sp, "id", at + ".SpecialToken");
        const json *entry = lookup(special, name.c_str());
        if (!entry)
          fail(at, "special token '" + name + "' is not in " + where + ".special_tokens");
        const json &ids = require(*entry, "ids", where + ".special_tokens." + name);
        if (!ids.is_array())
          fail(where + ".special_tokens." + name + ".ids", "expected an array of ids");
        for (const json &id : ids) {
          if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
            fail(where + ".special_tokens." + name + ".ids", "expected ids, got " + id.dump());
          piece.ids.push_back(id.get<int32_t>());
        }
      } else {
        fail(at, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}, got " + item.dump());
      }
      t->single.push_back(std::move(piece));
    }
    return t;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    auto t = std::make_unique<TemplatePostProcessor>();
    TemplatePostProcessor::Piece cls, seq, sep;
    cls.ids = {tokenPairId(require(v, "cls", where), where + ".cls")};
    sep.ids = {tokenPairId(require(v, "sep", where), where + ".sep")};
    seq.isSequence = true;
    t->single = {cls, seq, sep};
    return t;
  }
  fail(where, "unsupported post-processor '" + type + "'");
}

// ---------------------------------------------------------------------------------------------

struct AddedToken {
  std::string content;
  std::string match;  // what is searched for: content, normalized if `normalized`
  int32_t id = 0;
  bool singleWord = false, lstrip = false, rstrip = false, normalized = false, special = false;
};

// A piece of the text being encoded: either an added token (id >= 0) or text to tokenize.
struct Piece {
  std::string text;
  int32_t id = -1;
};

// tokenizer.json and its config files under the limited parser: nesting stays shallow (so the
// recursive walks below and dump() are bounded), vocabularies have 100k+ keys, and a repeated
// key keeps its last value as in Python's json.
std::optional<json> parseJsonText(const std::string &text, const std::string &path,
                                  std::string &error) {
  io::JsonLimits limits;
  limits.maxDepth = 32;
  limits.maxKeysPerObject = size_t(1) << 24;
  limits.rejectDuplicateKeys = false;
  auto parsed = io::parseJson(text, limits, path + ": invalid JSON");
  if (!parsed.ok()) {
    error = parsed.status().message();
    return std::nullopt;
  }
  return std::move(parsed.value());
}

std::optional<json> readJsonFile(const std::string &path, bool required, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (required)
      error = path + ": cannot open file";
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parseJsonText(ss.str(), path, error);
}

}  // namespace

struct Tokenizer::Impl {
  // BPE model.
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::string> vocabR;  // id -> token ("" for gaps)
  std::unordered_map<uint64_t, std::pair<uint32_t, int32_t>> merges;  // (a,b) -> (rank, new)
  std::optional<std::string> unkToken;
  std::optional<std::string> prefix, suffix;  // continuing_subword_prefix, end_of_word_suffix
  bool fuseUnk = false, byteFallback = false, ignoreMerges = false;

  std::vector<AddedToken> added;
  std::unordered_map<std::string, int32_t> addedByContent;
  std::unordered_map<int32_t, size_t> addedById;
  std::vector<size_t> rawAdded, normAdded;  // indices of normalized=false / true tokens

  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> preTokenizer;
  std::unique_ptr<Decoder> decoder;
  bool byteFallbackDecoder = false;  // the decoder holds a ByteFallback
  std::unique_ptr<PostProcessor> postProcessor;

  std::optional<int32_t> bos;
  std::vector<int32_t> eos;
  std::string bosText, eosText;
  int64_t size = 0;

  static uint64_t pairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  void parseModel(const json &m);
  void parseAdded(const json &list);
  std::vector<Piece> splitAdded(const std::string &text, const std::vector<size_t> &which) const;
  Status bpe(const std::string &word, std::vector<int32_t> &ids) const;
};

// The most ids a vocabulary may leave unused below its largest id.
constexpr size_t kMaxVocabGaps = size_t(1) << 20;

void Tokenizer::Impl::parseModel(const json &m) {
  const std::string where = "model";
  if (!m.is_object())
    fail(where, "expected an object, got " + describe(m));
  std::string type = lookup(m, "type") ? getString(m, "type", where) : "BPE";
  if (type != "BPE")
    fail(where + ".type", "unsupported model '" + type + "' (only BPE is implemented)");
  if (const json *d = lookup(m, "dropout")) {
    if (!d->is_number() || d->get<double>() != 0.0)
      fail(where + ".dropout", "BPE dropout is not supported, got " + d->dump());
  }
  unkToken = getOptString(m, "unk_token", where);
  prefix = getOptString(m, "continuing_subword_prefix", where);
  suffix = getOptString(m, "end_of_word_suffix", where);
  fuseUnk = getBool(m, "fuse_unk", where, false);
  byteFallback = getBool(m, "byte_fallback", where, false);
  ignoreMerges = getBool(m, "ignore_merges", where, false);

  const json &v = require(m, "vocab", where);
  if (!v.is_object())
    fail(where + ".vocab", "expected an object of token -> id, got " + describe(v));
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > INT32_MAX)
      fail(where + ".vocab", "token '" + it.key() + "' has an invalid id " + it->dump());
    int32_t id = it->get<int32_t>();
    // vocabR is indexed by id: bound the unused ids so that a stray large id cannot make it
    // huge (real vocabularies are dense).
    if (static_cast<size_t>(id) >= v.size() + kMaxVocabGaps)
      fail(where + ".vocab", "token '" + it.key() + "' has id " + std::to_string(id) +
                                 ", which leaves more than " + std::to_string(kMaxVocabGaps) +
                                 " ids of the " + std::to_string(v.size()) +
                                 "-token vocabulary unused");
    vocab[it.key()] = id;
    if (static_cast<size_t>(id) >= vocabR.size())
      vocabR.resize(static_cast<size_t>(id) + 1);
    vocabR[id] = it.key();
  }

  const json &ms = require(m, "merges", where);
  if (!ms.is_array())
    fail(where + ".merges", "expected an array, got " + describe(ms));
  size_t prefixLen = prefix ? prefix->size() : 0;
  for (size_t i = 0; i < ms.size(); ++i) {
    const std::string at = where + ".merges[" + std::to_string(i) + "]";
    std::string a, b;
    const json &e = ms[i];
    if (e.is_string()) {
      std::string s = e.get<std::string>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
        fail(at, "expected \"left right\", got '" + s + "'");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else {
      fail(at, "expected \"left right\" or [left, right], got " + e.dump());
    }
    auto ia = vocab.find(a), ib = vocab.find(b);
    if (ia == vocab.end())
      fail(at, "token '" + a + "' is not in the vocabulary");
    if (ib == vocab.end())
      fail(at, "token '" + b + "' is not in the vocabulary");
    std::string merged = a + (b.size() >= prefixLen ? b.substr(prefixLen) : b);
    auto in = vocab.find(merged);
    if (in == vocab.end())
      fail(at, "merged token '" + merged + "' is not in the vocabulary");
    merges.emplace(pairKey(ia->second, ib->second),
                   std::make_pair(static_cast<uint32_t>(i), in->second));
  }
}

void Tokenizer::Impl::parseAdded(const json &list) {
  if (!list.is_array())
    fail("added_tokens", "expected an array, got " + describe(list));
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = "added_tokens[" + std::to_string(i) + "]";
    const json &t = list[i];
    AddedToken tok;
    tok.content = getString(t, "content", at);
    const json &id = require(t, "id", at);
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      fail(at + ".id", "expected an id, got " + id.dump());
    tok.id = id.get<int32_t>();
    tok.special = getBool(t, "special", at, false);
    tok.singleWord = getBool(t, "single_word", at, false);
    tok.lstrip = getBool(t, "lstrip", at, false);
    tok.rstrip = getBool(t, "rstrip", at, false);
    tok.normalized = getBool(t, "normalized", at, !tok.special);
    if (tok.content.empty())
      fail(at + ".content", "empty added token");
    if (addedByContent.count(tok.content))
      continue;  // HF keeps the first of duplicate contents
    addedByContent[tok.content] = tok.id;
    addedById[tok.id] = added.size();
    added.push_back(std::move(tok));
  }
}

// HF's AddedVocabulary::find_matches: leftmost-longest matching of the tokens `which`, with
// single_word / lstrip / rstrip handling.
std::vector<Piece> Tokenizer::Impl::splitAdded(const std::string &text,
                                               const std::vector<size_t> &which) const {
  std::vector<Piece> out;
  if (text.empty())
    return out;
  if (which.empty()) {
    out.push_back({text, -1});
    return out;
  }
  size_t startOffset = 0, pos = 0;
  while (pos < text.size()) {
    // Leftmost match start, longest at that start.
    size_t mStart = std::string::npos;
    const AddedToken *best = nullptr;
    for (size_t i = pos; i < text.size() && !best; ++i) {
      for (size_t idx : which) {
        const AddedToken &t = added[idx];
        if (t.match.empty() || t.match.size() > text.size() - i)
          continue;
        if (text.compare(i, t.match.size(), t.match) == 0 &&
            (!best || t.match.size() > best->match.size())) {
          best = &t;
          mStart = i;
        }
      }
    }
    if (!best)
      break;
    size_t start = mStart, stop = mStart + best->match.size();
    pos = stop;
    if (best->singleWord) {
      bool startSpace = start == 0 ||
                        !detail::isWordChar(
                            detail::decodeUtf8(text, detail::prevCharStart(text, start)).first);
      bool stopSpace =
          stop == text.size() || !detail::isWordChar(detail::decodeUtf8(text, stop).first);
      if (!startSpace || !stopSpace)
        continue;
    }
    if (best->lstrip) {
      size_t s = start;
      while (s > 0) {
        size_t p = detail::prevCharStart(text, s);
        if (!detail::isSpace(detail::decodeUtf8(text, p).first))
          break;
        s = p;
      }
      start = std::max(s, startOffset);
    }
    if (best->rstrip) {
      while (stop < text.size()) {
        auto [cp, len] = detail::decodeUtf8(text, stop);
        if (!detail::isSpace(cp))
          break;
        stop += len;
      }
    }
    if (startOffset < start)
      out.push_back({text.substr(startOffset, start - startOffset), -1});
    out.push_back({"", best->id});
    startOffset = stop;
  }
  if (startOffset < text.size())
    out.push_back({text.substr(startOffset), -1});
  return out;
}

// HF's BPE::merge_word + Word::merge_all (no dropout).
Status Tokenizer::Impl::bpe(const std::string &w, std::vector<int32_t> &ids) const {
  if (ignoreMerges) {
    auto it = vocab.find(w);
    if (it != vocab.end()) {
      ids.push_back(it->second);
      return Status::success();
    }
  }
  std::vector<int32_t> sym;
  std::optional<int32_t> unk;  // pending unk (fuse_unk)
  auto unkId = [&]() -> StatusOr<int32_t> {
    auto it = vocab.find(*unkToken);
    if (it == vocab.end())
      return Status::error("unk token '" + *unkToken + "' is not in the vocabulary");
    return it->second;
  };
  for (size_t i = 0; i < w.size();) {
    size_t len = detail::decodeUtf8(w, i).second;
    bool first = i == 0, last = i + len >= w.size();
    std::string s = w.substr(i, len);
    i += len;
    if (!first && prefix)
      s = *prefix + s;
    if (last && suffix)
      s += *suffix;
    auto it = vocab.find(s);
    if (it != vocab.end()) {
      if (unk) {
        sym.push_back(*unk);
        unk.reset();
      }
      sym.push_back(it->second);
      continue;
    }
    if (byteFallback) {
      std::vector<int32_t> bytes;
      bool all = true;
      for (unsigned char c : s) {
        char code[8];
        snprintf(code, sizeof(code), "<0x%02X>", c);
        auto bt = vocab.find(code);
        if (bt == vocab.end()) {
          all = false;
          break;
        }
        bytes.push_back(bt->second);
      }
      if (all) {
        // HF adds the byte tokens without flushing a pending unk first.
        sym.insert(sym.end(), bytes.begin(), bytes.end());
        continue;
      }
    }
    if (unkToken) {
      auto id = unkId();
      if (!id.ok())
        return id.status();
      if (unk && fuseUnk)
        continue;
      if (unk)
        sym.push_back(*unk);
      unk = id.value();
    }
  }
  if (unk)
    sym.push_back(*unk);

  // Merge: lowest rank first, then leftmost.
  const size_t n = sym.size();
  if (n > 1 && !merges.empty()) {
    std::vector<int64_t> prev(n), next(n);
    std::vector<bool> removed(n, false);
    for (size_t i = 0; i < n; ++i) {
      prev[i] = static_cast<int64_t>(i) - 1;
      next[i] = i + 1 < n ? static_cast<int64_t>(i + 1) : -1;
    }
    struct Merge {
      size_t pos;
      uint32_t rank;
      int32_t newId;
      bool operator<(const Merge &o) const {  // priority_queue: top is the greatest
        if (rank != o.rank)
          return rank > o.rank;
        return pos > o.pos;
      }
    };
    std::priority_queue<Merge> queue;
    for (size_t i = 0; i + 1 < n; ++i) {
      auto it = merges.find(pairKey(sym[i], sym[i + 1]));
      if (it != merges.end())
        queue.push({i, it->second.first, it->second.second});
    }
    while (!queue.empty()) {
      Merge top = queue.top();
      queue.pop();
      if (removed[top.pos] || next[top.pos] < 0)
        continue;
      size_t right = static_cast<size_t>(next[top.pos]);
      auto it = merges.find(pairKey(sym[top.pos], sym[right]));
      if (it == merges.end() || it->second.second != top.newId)
        continue;
      sym[top.pos] = top.newId;
      removed[right] = true;
      next[top.pos] = next[right];
      if (next[right] >= 0)
        prev[static_cast<size_t>(next[right])] = static_cast<int64_t>(top.pos);
      if (prev[top.pos] >= 0) {
        size_t p = static_cast<size_t>(prev[top.pos]);
        auto pm = merges.find(pairKey(sym[p], sym[top.pos]));
        if (pm != merges.end())
          queue.push({p, pm->second.first, pm->second.second});
      }
      if (next[top.pos] >= 0) {
        size_t q = static_cast<size_t>(next[top.pos]);
        auto nm = merges.find(pairKey(sym[top.pos], sym[q]));
        if (nm != merges.end())
          queue.push({top.pos, nm->second.first, nm->second.second});
      }
    }
    for (size_t i = 0; i < n; ++i)
      if (!removed[i])
        ids.push_back(sym[i]);
  } else {
    ids.insert(ids.end(), sym.begin(), sym.end());
  }
  return Status::success();
}

// ---------------------------------------------------------------------------------------------

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer &&) noexcept = default;
Tokenizer &Tokenizer::operator=(Tokenizer &&) noexcept = default;
Tokenizer::~Tokenizer() = default;

namespace {

// A token given as "text" or {"content": "text"} in tokenizer_config.json.
std::optional<std::string> configToken(const json &cfg, const char *key,
                                       const std::string &where) {
  const json *v = lookup(cfg, key);
  if (!v)
    return std::nullopt;
  if (v->is_string())
    return v->get<std::string>();
  if (v->is_object())
    return getString(*v, "content", where + "." + key);
  fail(where + "." + key, "expected a string or {\"content\": ...}, got " + describe(*v));
}

std::vector<int32_t> configIds(const json &cfg, const char *key, const std::string &where) {
  std::vector<int32_t> out;
  const json *v = lookup(cfg, key);
  if (!v)
    return out;
  auto one = [&](const json &x) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
      fail(where + "." + key, "expected a token id or a list of them, got " + v->dump());
    out.push_back(x.get<int32_t>());
  };
  if (v->is_array())
    for (const json &x : *v)
      one(x);
  else
    one(*v);
  return out;
}

}  // namespace

StatusOr<Tokenizer> Tokenizer::fromJson(const std::string &text, const std::string &path) {
  std::string error;
  std::optional<json> root = parseJsonText(text, path, error);
  if (!root)
    return Status::error(error);
  auto impl = std::make_unique<Impl>();
  try {
    const json &r = *root;
    if (!r.is_object())
      fail("top level", "expected an object, got " + describe(r));
    if (lookup(r, "truncation"))
      fail("truncation", "truncation is not supported (expected null)");
    if (const json *pad = lookup(r, "padding")) {
      const json *strategy = lookup(*pad, "strategy");
      if (!strategy || !strategy->is_string() || strategy->get<std::string>() != "BatchLongest")
        fail("padding", "only null or BatchLongest padding is supported, got " + pad->dump());
    }
    impl->parseModel(require(r, "model", "top level"));
    if (const json *a = lookup(r, "added_tokens"))
      impl->parseAdded(*a);
    if (const json *n = lookup(r, "normalizer"))
      impl->normalizer = parseNormalizer(*n, "normalizer");
    if (const json *p = lookup(r, "pre_tokenizer"))
      impl->preTokenizer = parsePreTokenizer(*p, "pre_tokenizer");
    if (const json *d = lookup(r, "decoder"))
      impl->decoder = parseDecoder(*d, "decoder", impl->byteFallbackDecoder);
    if (const json *p = lookup(r, "post_processor"))
      impl->postProcessor = parsePostProcessor(*p, "post_processor");
  } catch (const std::exception &e) {
    return Status::error(path + ": " + e.what());
  }

  Impl &t = *impl;
  for (size_t i = 0; i < t.added.size(); ++i) {
    AddedToken &a = t.added[i];
    a.match = a.content;
    if (a.normalized && t.normalizer) {
      try {
        t.normalizer->apply(a.match);
      } catch (const std::exception &e) {
        return Status::error(path + ": added token '" + a.content + "': " + e.what());
      }
    }
    (a.normalized ? t.normAdded : t.rawAdded).push_back(i);
  }
  int64_t maxId = static_cast<int64_t>(t.vocabR.size()) - 1;
  for (const AddedToken &a : t.added)
    maxId = std::max<int64_t>(maxId, a.id);
  t.size = maxId + 1;
  if (t.postProcessor) {
    // The ids the post-processor adds (applied to nothing, it yields exactly those).
    std::vector<int32_t> added;
    t.postProcessor->apply(added);
    for (int32_t id : added)
      if (id >= t.size)
        return Status::error(path + ": post_processor: token id " + std::to_string(id) +
                             " is not in the vocabulary (" + std::to_string(t.size) + " ids)");
  }
  return Tokenizer(std::move(impl));
}

StatusOr<Tokenizer> Tokenizer::load(const std::string &dir) {
  std::string error;
  const std::string path = dir + "/tokenizer.json";
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::error(path + ": cannot open file");
  std::stringstream text;
  text << in.rdbuf();
  auto loaded = fromJson(text.str(), path);
  if (!loaded.ok())
    return loaded.status();
  Tokenizer tok = std::move(loaded.value());

  // bos/eos: tokenizer_config.json's tokens, generation_config.json's ids (config.json's when
  // there is no generation_config.json).
  std::optional<std::string> bosText, eosText;
  const std::string cfgPath = dir + "/tokenizer_config.json";
  if (std::optional<json> cfg = readJsonFile(cfgPath, false, error)) {
    try {
      bosText = configToken(*cfg, "bos_token", "tokenizer_config");
      eosText = configToken(*cfg, "eos_token", "tokenizer_config");
    } catch (const std::exception &e) {
      return Status::error(cfgPath + ": " + e.what());
    }
  } else if (!error.empty()) {
    return Status::error(error);
  }
  std::vector<int32_t> genBos, genEos;
  std::string genPath = dir + "/generation_config.json";
  std::optional<json> gen = readJsonFile(genPath, false, error);
  if (!gen && error.empty()) {
    genPath = dir + "/config.json";
    gen = readJsonFile(genPath, false, error);
  }
  if (!error.empty())
    return Status::error(error);
  if (gen) {
    try {
      genBos = configIds(*gen, "bos_token_id", "top level");
      genEos = configIds(*gen, "eos_token_id", "top level");
    } catch (const std::exception &e) {
      return Status::error(genPath + ": " + e.what());
    }
  }
  Impl &ti = *tok.impl_;
  if (bosText) {
    auto id = tok.tokenId(*bosText);
    if (!id)
      return Status::error(cfgPath + ": bos_token '" + *bosText + "' is not in the vocabulary");
    ti.bos = id;
    ti.bosText = *bosText;
  } else if (!genBos.empty()) {
    ti.bos = genBos[0];
    ti.bosText = tok.tokenText(genBos[0]);
  }
  auto addEos = [&](int32_t id) {
    if (std::find(ti.eos.begin(), ti.eos.end(), id) == ti.eos.end())
      ti.eos.push_back(id);
  };
  if (eosText) {
    auto id = tok.tokenId(*eosText);
    if (!id)
      return Status::error(cfgPath + ": eos_token '" + *eosText + "' is not in the vocabulary");
    addEos(*id);
    ti.eosText = *eosText;
  }
  for (int32_t id : genEos)
    addEos(id);
  if (ti.eosText.empty() && !ti.eos.empty())
    ti.eosText = tok.tokenText(ti.eos[0]);
  return tok;
}

StatusOr<std::vector<int32_t>> Tokenizer::encode(const std::string &text, bool addSpecial) const {
  if (!detail::isValidUtf8(text))
    return Status::error("tokenizer: cannot encode text that is not valid UTF-8");
  const Impl &t = *impl_;
  std::vector<int32_t> ids;
  try {
    for (Piece &raw : t.splitAdded(text, t.rawAdded)) {
      if (raw.id >= 0) {
        ids.push_back(raw.id);
        continue;
      }
      if (t.normalizer)
        t.normalizer->apply(raw.text);
      for (Piece &p : t.splitAdded(raw.text, t.normAdded)) {
        if (p.id >= 0) {
          ids.push_back(p.id);
          continue;
        }
        std::vector<std::string> words{std::move(p.text)};
        if (t.preTokenizer)
          t.preTokenizer->apply(words);
        for (const std::string &w : words) {
          if (w.empty())
            continue;
          Status s = t.bpe(w, ids);
          if (!s.ok())
            return Status::error("tokenizer: " + s.message());
        }
      }
    }
  } catch (const std::exception &e) {
    return Status::error(std::string("tokenizer: ") + e.what());
  }
  if (addSpecial && t.postProcessor)
    t.postProcessor->apply(ids);
  return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids, bool skipSpecial) const {
  const Impl &t = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    auto a = t.addedById.find(id);
    if (a != t.addedById.end()) {
      const AddedToken &tok = t.added[a->second];
      if (!(skipSpecial && tok.special))
        tokens.push_back(tok.content);
      continue;
    }
    if (id >= 0 && static_cast<size_t>(id) < t.vocabR.size() && !t.vocabR[id].empty()) {
      const std::string &s = t.vocabR[id];
      if (skipSpecial) {
        auto c = t.addedByContent.find(s);
        if (c != t.addedByContent.end() && t.added[t.addedById.at(c->second)].special)
          continue;
      }
      tokens.push_back(s);
    }
  }
  std::string out;
  if (t.decoder) {
    t.decoder->apply(tokens);
    for (const std::string &s : tokens)
      out += s;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i)
      out += (i ? " " : "") + tokens[i];
  }
  return detail::utf8Lossy(out);
}

bool Tokenizer::endsInByteRun(const std::vector<int32_t> &ids, bool skipSpecial) const {
  const Impl &t = *impl_;
  if (!t.byteFallbackDecoder)
    return false;
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    int32_t id = *it;
    auto a = t.addedById.find(id);
    std::string token;
    if (a != t.addedById.end()) {
      if (skipSpecial && t.added[a->second].special)
        continue;
      token = t.added[a->second].content;
    } else if (id >= 0 && static_cast<size_t>(id) < t.vocabR.size() && !t.vocabR[id].empty()) {
      token = t.vocabR[id];
      if (skipSpecial && isSpecial(tokenId(token).value_or(-1)))
        continue;
    } else {
      continue;  // unknown ids decode to nothing
    }
    uint8_t b;
    return ByteFallbackDecoder::parseByte(token, b);
  }
  return false;
}

int64_t Tokenizer::vocabSize() const { return impl_->size; }

std::optional<int32_t> Tokenizer::tokenId(const std::string &token) const {
  auto a = impl_->addedByContent.find(token);
  if (a != impl_->addedByContent.end())
    return a->second;
  auto v = impl_->vocab.find(token);
  if (v != impl_->vocab.end())
    return v->second;
  return std::nullopt;
}

std::string Tokenizer::tokenText(int32_t id) const {
  auto a = impl_->addedById.find(id);
  if (a != impl_->addedById.end())
    return impl_->added[a->second].content;
  if (id >= 0 && static_cast<size_t>(id) < impl_->vocabR.size())
    return impl_->vocabR[id];
  return "";
}

bool Tokenizer::isSpecial(int32_t id) const {
  auto a = impl_->addedById.find(id);
  return a != impl_->addedById.end() && impl_->added[a->second].special;
}

std::optional<int32_t> Tokenizer::bos() const { return impl_->bos; }
std::vector<int32_t> Tokenizer::eos() const { return impl_->eos; }
std::string Tokenizer::bosText() const { return impl_->bosText; }
std::string Tokenizer::eosText() const { return impl_->eosText; }

// ---------------------------------------------------------------------------------------------

DecodeStream::DecodeStream(const Tokenizer &tokenizer, bool skipSpecial)
    : tokenizer_(tokenizer), skipSpecial_(skipSpecial) {}

namespace {
bool endsWithReplacement(const std::string &s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}
}  // namespace

std::string DecodeStream::push(int32_t id) {
  ids_.push_back(id);
  std::string text = tokenizer_.decode(ids_, skipSpecial_);
  // Held back: an incomplete character (U+FFFD at the end), or a run of byte-fallback tokens
  // that later bytes may complete or invalidate.
  if (text.size() <= prefix_.size() || endsWithReplacement(text) ||
      text.compare(0, prefix_.size(), prefix_) != 0 ||
      tokenizer_.endsInByteRun(ids_, skipSpecial_))
    return "";
  std::string fresh = text.substr(prefix_.size());
  size_t newPrefixIndex = ids_.size() - prefixIndex_;
  ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefixIndex_));
  prefix_ = tokenizer_.decode(ids_, skipSpecial_);
  prefixIndex_ = newPrefixIndex;
  return fresh;
}

std::string DecodeStream::flush() {
  std::string text = tokenizer_.decode(ids_, skipSpecial_);
  std::string rest;
  if (text.size() > prefix_.size() && text.compare(0, prefix_.size(), prefix_) == 0)
    rest = text.substr(prefix_.size());
  ids_.clear();
  prefix_.clear();
  prefixIndex_ = 0;
  return rest;
}

}  // namespace sl::text
