// Jinja2 subset for chat templates: lexer, parser and tree-walking interpreter. See Jinja.h.
// Internally errors are thrown as JinjaError and turned into sl::Status at the API boundary.
#include "runtime/text/Jinja.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

namespace sl::text::jinja {
namespace {

// ------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------

struct JinjaError {
  std::string message;
  int line = 0;         // 0: not yet located
  int col = 0;          // syntax errors only
  bool raised = false;  // raise_exception(msg): the message is reported verbatim
};

[[noreturn]] void fail(std::string message) { throw JinjaError{std::move(message)}; }

// Python ints are unbounded; here they are 64-bit, and a result outside that range is an error
// (never undefined behaviour).
[[noreturn]] void failOverflow() { fail("integer result out of the 64-bit range"); }
int64_t checkedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) failOverflow();
  return r;
}
int64_t checkedSub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) failOverflow();
  return r;
}
int64_t checkedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) failOverflow();
  return r;
}
// A float converted to int (int(), %d formats): finite and in range, else an error.
int64_t floatToInt(double f) {
  if (!std::isfinite(f)) fail("cannot convert float " + std::string(std::isnan(f) ? "NaN" : "infinity") + " to integer");
  double t = std::trunc(f);
  if (t < -9223372036854775808.0 || t >= 9223372036854775808.0) failOverflow();
  return static_cast<int64_t>(t);
}
// The longest string (in bytes or characters) or list a template may build: widths, paddings
// and repetitions beyond it are errors, not allocations.
constexpr int64_t kMaxLength = int64_t(1) << 26;
size_t checkedLength(int64_t n) {
  if (n > kMaxLength) fail("result too large (more than " + std::to_string(kMaxLength) + " items)");
  return n < 0 ? 0 : static_cast<size_t>(n);
}


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
// Letters (approximately Unicode's L* categories of the common scripts).
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
bool isDigitU(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 0x660 && c <= 0x669) || (c >= 0x6f0 && c <= 0x6f9) ||
         (c >= 0x966 && c <= 0x96f) || (c >= 0xff10 && c <= 0xff19);
}
bool isDigit32(char32_t c) { return c >= '0' && c <= '9'; }
bool isWord32(char32_t c) { return isAlpha32(c) || isDigitU(c) || c == '_' || c == 0x3005 || c == 0x3006 || c == 0x30fc; }

// ------------------------------------------------------------------------------------------
// Values
// ------------------------------------------------------------------------------------------

enum class K { Undef, None, Bool, Int, Float, Str, List, Dict, Func };

struct Value;
struct ListObj;
struct DictObj;
struct FuncObj;
class Interp;

struct Value {
  K k = K::Undef;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // Str; for Undef: a hint naming what was undefined
  std::shared_ptr<ListObj> l;
  std::shared_ptr<DictObj> d;
  std::shared_ptr<FuncObj> fn;

  static Value undef(std::string hint = {}) { Value v; v.s = std::move(hint); return v; }
  static Value none() { Value v; v.k = K::None; return v; }
  static Value boolean(bool x) { Value v; v.k = K::Bool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.k = K::Int; v.i = x; return v; }
  static Value flt(double x) { Value v; v.k = K::Float; v.f = x; return v; }
  static Value str(std::string x) { Value v; v.k = K::Str; v.s = std::move(x); return v; }
  static Value list(std::vector<Value> items = {}, bool tuple = false);
  static Value dict();
  static Value ns();

  bool isUndef() const { return k == K::Undef; }
  bool isNum() const { return k == K::Int || k == K::Float || k == K::Bool; }
  bool isIntLike() const { return k == K::Int || k == K::Bool; }
  int64_t asInt() const { return k == K::Bool ? (b ? 1 : 0) : k == K::Int ? i : static_cast<int64_t>(f); }
  double asFloat() const { return k == K::Float ? f : static_cast<double>(asInt()); }
};

struct ListObj {
  std::vector<Value> items;
  bool tuple = false;
  bool gen = false;  // a Python generator/iterator (what map, select, unique, ... return)
};

struct DictObj {
  std::vector<std::pair<Value, Value>> items;
  bool isNamespace = false;
  const Value *find(const Value &key) const;
  const Value *find(const std::string &key) const {
    for (auto &kv : items)
      if (kv.first.k == K::Str && kv.first.s == key) return &kv.second;
    return nullptr;
  }
  void set(const Value &key, Value value);
};

struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};

struct FuncObj {
  std::string name;
  std::function<Value(Interp &, Args &)> call;
};

Value Value::list(std::vector<Value> items, bool tuple) {
  Value v;
  v.k = K::List;
  v.l = std::make_shared<ListObj>();
  v.l->items = std::move(items);
  v.l->tuple = tuple;
  return v;
}
Value Value::dict() {
  Value v;
  v.k = K::Dict;
  v.d = std::make_shared<DictObj>();
  return v;
}
Value Value::ns() {
  Value v = dict();
  v.d->isNamespace = true;
  return v;
}
Value makeFunc(std::string name, std::function<Value(Interp &, Args &)> call) {
  Value v;
  v.k = K::Func;
  v.fn = std::make_shared<FuncObj>(FuncObj{std::move(name), std::move(call)});
  return v;
}

const char *typeName(const Value &v) {
  switch (v.k) {
  case K::Undef: return "Undefined";
  case K::None: return "NoneType";
  case K::Bool: return "bool";
  case K::Int: return "int";
  case K::Float: return "float";
  case K::Str: return "str";
  case K::List: return v.l->tuple ? "tuple" : "list";
  case K::Dict: return v.d->isNamespace ? "Namespace" : "dict";
  case K::Func: return "function";
  }
  return "object";
}

[[noreturn]] void failUndefined(const Value &v) {
  fail(v.s.empty() ? std::string("undefined value") : v.s);
}

bool truthy(const Value &v) {
  switch (v.k) {
  case K::Undef: case K::None: return false;
  case K::Bool: return v.b;
  case K::Int: return v.i != 0;
  case K::Float: return v.f != 0.0;
  case K::Str: return !v.s.empty();
  case K::List: return v.l->gen || !v.l->items.empty();
  case K::Dict: return v.d->isNamespace || !v.d->items.empty();
  case K::Func: return true;
  }
  return false;
}

bool pyEq(const Value &a, const Value &b) {
  if (a.isNum() && b.isNum()) {
    if (a.k == K::Float || b.k == K::Float) return a.asFloat() == b.asFloat();
    return a.asInt() == b.asInt();
  }
  if (a.k != b.k) return false;
  switch (a.k) {
  case K::Undef: case K::None: return true;
  case K::Str: return a.s == b.s;
  case K::List:
    if (a.l == b.l) return true;
    if (a.l->gen || b.l->gen) return false;
    if (a.l->tuple != b.l->tuple || a.l->items.size() != b.l->items.size()) return false;
    for (size_t i = 0; i < a.l->items.size(); ++i)
      if (!pyEq(a.l->items[i], b.l->items[i])) return false;
    return true;
  case K::Dict:
    if (a.d == b.d) return true;
    if (a.d->isNamespace || b.d->isNamespace) return false;
    if (a.d->items.size() != b.d->items.size()) return false;
    for (auto &kv : a.d->items) {
      const Value *o = b.d->find(kv.first);
      if (!o || !pyEq(kv.second, *o)) return false;
    }
    return true;
  case K::Func: return a.fn == b.fn;
  default: return false;
  }
}

const Value *DictObj::find(const Value &key) const {
  for (auto &kv : items)
    if (pyEq(kv.first, key)) return &kv.second;
  return nullptr;
}
void DictObj::set(const Value &key, Value value) {
  for (auto &kv : items)
    if (pyEq(kv.first, key)) { kv.second = std::move(value); return; }
  items.emplace_back(key, std::move(value));
}

// Python's a < b; throws TypeError-like errors for unorderable types.
bool pyLess(const Value &a, const Value &b) {
  if (a.isNum() && b.isNum()) {
    if (a.k == K::Float || b.k == K::Float) return a.asFloat() < b.asFloat();
    return a.asInt() < b.asInt();
  }
  if (a.k == K::Str && b.k == K::Str) return decodeUtf8(a.s) < decodeUtf8(b.s);
  if (a.k == K::List && b.k == K::List) {
    size_t n = std::min(a.l->items.size(), b.l->items.size());
    for (size_t i = 0; i < n; ++i) {
      if (pyEq(a.l->items[i], b.l->items[i])) continue;
      return pyLess(a.l->items[i], b.l->items[i]);
    }
    return a.l->items.size() < b.l->items.size();
  }
  fail(std::string("'<' not supported between instances of '") + typeName(a) + "' and '" +
       typeName(b) + "'");
}

// Python repr(float).
std::string pyFloat(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  char buf[64];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*e", p - 1, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  bool neg = s[0] == '-';
  if (neg) s = s.substr(1);
  size_t e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (s[i] != '.') digits.push_back(s[i]);
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp >= 0) {
      std::string ip = digits.substr(0, std::min<size_t>(digits.size(), exp + 1));
      while (static_cast<int>(ip.size()) < exp + 1) ip.push_back('0');
      std::string fp = digits.size() > static_cast<size_t>(exp + 1) ? digits.substr(exp + 1) : "0";
      out = ip + "." + fp;
    } else {
      out = "0." + std::string(-exp - 1, '0') + digits;
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
  }
  return neg ? "-" + out : out;
}

std::string pyRepr(const Value &v);

std::string reprStr(const std::string &s) {
  bool hasSingle = s.find('\'') != std::string::npos;
  bool hasDouble = s.find('"') != std::string::npos;
  char q = (hasSingle && !hasDouble) ? '"' : '\'';
  std::string out(1, q);
  for (char32_t c : decodeUtf8(s)) {
    if (c == static_cast<char32_t>(q) || c == '\\') { out.push_back('\\'); out.push_back(static_cast<char>(c)); }
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || (c >= 0xDC80 && c <= 0xDCFF)) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned>(c >= 0xDC80 && c <= 0xDCFF ? c - 0xDC00 : c));
      out += b;
    } else appendUtf8(out, c);
  }
  out.push_back(q);
  return out;
}

std::string pyStr(const Value &v) {
  switch (v.k) {
  case K::Undef: return "";
  case K::None: return "None";
  case K::Bool: return v.b ? "True" : "False";
  case K::Int: return std::to_string(v.i);
  case K::Float: return pyFloat(v.f);
  case K::Str: return v.s;
  case K::Func: return "<function " + v.fn->name + ">";
  default: return pyRepr(v);
  }
}

std::string pyRepr(const Value &v) {
  switch (v.k) {
  case K::Undef: return "Undefined";
  case K::Str: return reprStr(v.s);
  case K::List: {
    if (v.l->gen) return "<generator object>";
    std::string out = v.l->tuple ? "(" : "[";
    for (size_t i = 0; i < v.l->items.size(); ++i) {
      if (i) out += ", ";
      out += pyRepr(v.l->items[i]);
    }
    if (v.l->tuple && v.l->items.size() == 1) out += ",";
    out += v.l->tuple ? ")" : "]";
    return out;
  }
  case K::Dict: {
    std::string out = v.d->isNamespace ? "<Namespace {" : "{";
    for (size_t i = 0; i < v.d->items.size(); ++i) {
      if (i) out += ", ";
      out += pyRepr(v.d->items[i].first) + ": " + pyRepr(v.d->items[i].second);
    }
    out += v.d->isNamespace ? "}>" : "}";
    return out;
  }
  default: return pyStr(v);
  }
}

// json.dumps as transformers' tojson calls it.
struct JsonOpts {
  bool hasIndent = false;
  std::string indent;
  std::string itemSep = ", ";
  std::string keySep = ": ";
  bool sortKeys = false;
  bool ensureAscii = false;
};

void jsonString(std::string &out, const std::string &s, bool ensureAscii) {
  out.push_back('"');
  for (char32_t c : decodeUtf8(s)) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default: {
      char b[16];
      if (c < 0x20) {
        std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(c));
        out += b;
      } else if (ensureAscii && c > 0x7e) {
        if (c >= 0x10000) {
          char32_t v = c - 0x10000;
          std::snprintf(b, sizeof b, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                        static_cast<unsigned>(0xDC00 + (v & 0x3ff)));
        } else {
          std::snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(c));
        }
        out += b;
      } else {
        appendUtf8(out, c);
      }
    }
    }
  }
  out.push_back('"');
}

std::string jsonKey(const Value &k) {
  switch (k.k) {
  case K::Str: return k.s;
  case K::Int: return std::to_string(k.i);
  case K::Bool: return k.b ? "true" : "false";
  case K::None: return "null";
  case K::Float: return pyFloat(k.f);
  default: fail(std::string("keys must be str, int, float, bool or None, not ") + typeName(k));
  }
}

void dumpJson(std::string &out, const Value &v, const JsonOpts &o, int level) {
  auto newline = [&](int lvl) {
    out.push_back('\n');
    for (int i = 0; i < lvl; ++i) out += o.indent;
  };
  switch (v.k) {
  case K::None: out += "null"; return;
  case K::Bool: out += v.b ? "true" : "false"; return;
  case K::Int: out += std::to_string(v.i); return;
  case K::Float:
    if (std::isnan(v.f)) out += "NaN";
    else if (std::isinf(v.f)) out += v.f > 0 ? "Infinity" : "-Infinity";
    else out += pyFloat(v.f);
    return;
  case K::Str: jsonString(out, v.s, o.ensureAscii); return;
  case K::List: {
    if (v.l->gen) fail("Object of type generator is not JSON serializable");
    if (v.l->items.empty()) { out += "[]"; return; }
    out.push_back('[');
    for (size_t i = 0; i < v.l->items.size(); ++i) {
      if (i) out += o.itemSep;
      if (o.hasIndent) newline(level + 1);
      dumpJson(out, v.l->items[i], o, level + 1);
    }
    if (o.hasIndent) newline(level);
    out.push_back(']');
    return;
  }
  case K::Dict: {
    if (v.d->isNamespace) fail("Object of type Namespace is not JSON serializable");
    if (v.d->items.empty()) { out += "{}"; return; }
    std::vector<std::pair<std::string, const Value *>> items;
    for (auto &kv : v.d->items) items.emplace_back(jsonKey(kv.first), &kv.second);
    if (o.sortKeys)
      std::stable_sort(items.begin(), items.end(), [](auto &a, auto &b) {
        return decodeUtf8(a.first) < decodeUtf8(b.first);
      });
    out.push_back('{');
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += o.itemSep;
      if (o.hasIndent) newline(level + 1);
      jsonString(out, items[i].first, o.ensureAscii);
      out += o.keySep;
      dumpJson(out, *items[i].second, o, level + 1);
    }
    if (o.hasIndent) newline(level);
    out.push_back('}');
    return;
  }
  case K::Undef: fail("Object of type Undefined is not JSON serializable");
  case K::Func: fail("Object of type function is not JSON serializable");
  }
}

Value fromJson(const nlohmann::ordered_json &j) {
  switch (j.type()) {
  case nlohmann::ordered_json::value_t::null: return Value::none();
  case nlohmann::ordered_json::value_t::boolean: return Value::boolean(j.get<bool>());
  case nlohmann::ordered_json::value_t::number_integer: return Value::integer(j.get<int64_t>());
  case nlohmann::ordered_json::value_t::number_unsigned:
    return Value::integer(static_cast<int64_t>(j.get<uint64_t>()));
  case nlohmann::ordered_json::value_t::number_float: return Value::flt(j.get<double>());
  case nlohmann::ordered_json::value_t::string: return Value::str(j.get<std::string>());
  case nlohmann::ordered_json::value_t::array: {
    std::vector<Value> items;
    for (auto &e : j) items.push_back(fromJson(e));
    return Value::list(std::move(items));
  }
  case nlohmann::ordered_json::value_t::object: {
    Value d = Value::dict();
    for (auto it = j.begin(); it != j.end(); ++it)
      d.d->items.emplace_back(Value::str(it.key()), fromJson(it.value()));
    return d;
  }
  default: return Value::none();
  }
}

// Python's iteration over a value.
std::vector<Value> iterate(const Value &v) {
  switch (v.k) {
  case K::Undef: return {};
  case K::List: return v.l->items;
  case K::Dict: {
    if (v.d->isNamespace) fail("'Namespace' object is not iterable");
    std::vector<Value> keys;
    for (auto &kv : v.d->items) keys.push_back(kv.first);
    return keys;
  }
  case K::Str: {
    std::vector<Value> out;
    for (char32_t c : decodeUtf8(v.s)) {
      std::string s;
      appendUtf8(s, c);
      out.push_back(Value::str(std::move(s)));
    }
    return out;
  }
  default: fail(std::string("'") + typeName(v) + "' object is not iterable");
  }
}

int64_t pyLen(const Value &v) {
  switch (v.k) {
  case K::Undef: return 0;
  case K::Str: return static_cast<int64_t>(decodeUtf8(v.s).size());
  case K::List:
    if (v.l->gen) fail("object of type 'generator' has no len()");
    return static_cast<int64_t>(v.l->items.size());
  case K::Dict: if (!v.d->isNamespace) return static_cast<int64_t>(v.d->items.size()); break;
  default: break;
  }
  fail(std::string("object of type '") + typeName(v) + "' has no len()");
}

bool contains(const Value &container, const Value &item) {
  switch (container.k) {
  case K::Undef: return false;
  case K::Str:
    if (item.k != K::Str)
      fail(std::string("'in <string>' requires string as left operand, not ") + typeName(item));
    return container.s.find(item.s) != std::string::npos;
  case K::List:
    for (auto &e : container.l->items)
      if (pyEq(e, item)) return true;
    return false;
  case K::Dict:
    if (container.d->isNamespace) break;
    return container.d->find(item) != nullptr;
  default: break;
  }
  fail(std::string("argument of type '") + typeName(container) + "' is not iterable");
}

// Python slice indices.
std::vector<int64_t> sliceIndices(int64_t n, const Value &start, const Value &stop, const Value &step) {
  auto intOf = [](const Value &v, const char *what) -> std::optional<int64_t> {
    if (v.k == K::Undef || v.k == K::None) return std::nullopt;
    if (!v.isIntLike()) fail(std::string("slice ") + what + " must be an integer or None");
    return v.asInt();
  };
  int64_t st = intOf(step, "step").value_or(1);
  if (st == 0) fail("slice step cannot be zero");
  auto a = intOf(start, "start"), b = intOf(stop, "stop");
  int64_t lo, hi;
  if (st > 0) {
    lo = a ? (*a < 0 ? std::max<int64_t>(0, *a + n) : std::min(*a, n)) : 0;
    hi = b ? (*b < 0 ? std::max<int64_t>(0, *b + n) : std::min(*b, n)) : n;
  } else {
    lo = a ? (*a < 0 ? std::max<int64_t>(-1, *a + n) : std::min(*a, n - 1)) : n - 1;
    hi = b ? (*b < 0 ? std::max<int64_t>(-1, *b + n) : std::min(*b, n - 1)) : -1;
  }
  std::vector<int64_t> out;
  if (st > 0)
    for (int64_t i = lo; i < hi; i += st) out.push_back(i);
  else
    for (int64_t i = lo; i > hi; i += st) out.push_back(i);
  return out;
}

// ------------------------------------------------------------------------------------------
// Lexer
// ------------------------------------------------------------------------------------------

enum class T { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Tok {
  T t;
  std::string s;  // Data text, Name, String value, Op
  int64_t i = 0;
  double f = 0;
  int line = 1, col = 1;
};

class Lexer {
public:
  explicit Lexer(const std::string &src) {
    // Newlines are normalized to \n and one trailing newline is dropped (Jinja's defaults).
    for (size_t i = 0; i < src.size(); ++i) {
      if (src[i] == '\r') {
        src_.push_back('\n');
        if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
      } else {
        src_.push_back(src[i]);
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
    lineStarts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') lineStarts_.push_back(i + 1);
  }

  std::vector<Tok> run() {
    size_t pos = 0, n = src_.size();
    bool lineStarting = true;
    while (pos < n) {
      size_t p = pos;
      while (true) {
        p = src_.find('{', p);
        if (p == std::string::npos || p + 1 >= n) { p = n; break; }
        char c = src_[p + 1];
        if (c == '{' || c == '%' || c == '#') break;
        ++p;
      }
      std::string text = src_.substr(pos, p - pos);
      if (p == n) {
        emitData(text, pos);
        break;
      }
      char kind = src_[p + 1];
      char marker = p + 2 < n ? src_[p + 2] : '\0';
      if (marker == '-') {
        size_t e = text.find_last_not_of(" \t\n\r\v\f");
        text = e == std::string::npos ? "" : text.substr(0, e + 1);
      } else if (marker != '+' && kind != '{') {
        size_t lpos = text.rfind('\n');
        lpos = lpos == std::string::npos ? 0 : lpos + 1;
        if ((lpos > 0 || lineStarting) &&
            text.find_first_not_of(" \t", lpos) == std::string::npos)
          text = text.substr(0, lpos);
      }
      emitData(text, pos);
      size_t cur = p + 2 + ((marker == '-' || marker == '+') ? 1 : 0);
      if (kind == '#') {
        size_t e = src_.find("#}", cur);
        if (e == std::string::npos) syntaxError(p, "missing end of comment tag");
        size_t after = e + 2;
        if (e > cur && src_[e - 1] == '-') {
          while (after < n && isspace(static_cast<unsigned char>(src_[after]))) ++after;
        } else if (after < n && src_[after] == '\n') {
          ++after;
        }
        lineStarting = src_[after - 1] == '\n';
        pos = after;
        continue;
      }
      if (kind == '%' && tryRaw(cur, pos, lineStarting)) continue;
      toks_.push_back(tok(kind == '{' ? T::VarBegin : T::BlockBegin, "", p));
      pos = lexTag(cur, kind == '{', p);
      lineStarting = src_[pos - 1] == '\n';
    }
    toks_.push_back(tok(T::Eof, "", n));
    return std::move(toks_);
  }

  std::pair<int, int> lineCol(size_t pos) const {
    auto it = std::upper_bound(lineStarts_.begin(), lineStarts_.end(), pos);
    size_t line = it - lineStarts_.begin();
    return {static_cast<int>(line), static_cast<int>(pos - lineStarts_[line - 1] + 1)};
  }

private:
  [[noreturn]] void syntaxError(size_t pos, const std::string &msg) const {
    auto [l, c] = lineCol(pos);
    throw JinjaError{msg, l, c};
  }
  Tok tok(T t, std::string s, size_t pos) const {
    Tok k;
    k.t = t;
    k.s = std::move(s);
    auto [l, c] = lineCol(pos);
    k.line = l;
    k.col = c;
    return k;
  }
  void emitData(const std::string &text, size_t pos) {
    if (!text.empty()) toks_.push_back(tok(T::Data, text, pos));
  }
  size_t skipWs(size_t p) const {
    while (p < src_.size() && isspace(static_cast<unsigned char>(src_[p]))) ++p;
    return p;
  }
  bool startsWord(size_t p, const char *w) const {
    size_t len = strlen(w);
    if (src_.compare(p, len, w) != 0) return false;
    size_t q = p + len;
    return q >= src_.size() || !(isalnum(static_cast<unsigned char>(src_[q])) || src_[q] == '_');
  }

  // {% raw %}...{% endraw %}: `cur` is just after "{%[-+]".
  bool tryRaw(size_t cur, size_t &pos, bool &lineStarting) {
    size_t p = skipWs(cur);
    if (!startsWord(p, "raw")) return false;
    p = skipWs(p + 3);
    size_t contentStart;
    if (src_.compare(p, 3, "-%}") == 0) contentStart = skipWs(p + 3);
    else if (src_.compare(p, 2, "%}") == 0) contentStart = p + 2;
    else return false;
    size_t s = contentStart;
    while (true) {
      size_t b = src_.find("{%", s);
      if (b == std::string::npos) syntaxError(cur, "missing end of raw directive");
      size_t q = b + 2;
      char marker = q < src_.size() ? src_[q] : '\0';
      if (marker == '-' || marker == '+') ++q;
      q = skipWs(q);
      if (startsWord(q, "endraw")) {
        q = skipWs(q + 6);
        size_t end;
        if (src_.compare(q, 3, "-%}") == 0) end = skipWs(q + 3);
        else if (src_.compare(q, 3, "+%}") == 0) end = q + 3;
        else if (src_.compare(q, 2, "%}") == 0) {
          end = q + 2;
          if (end < src_.size() && src_[end] == '\n') ++end;
        } else {
          s = b + 2;
          continue;
        }
        std::string text = src_.substr(contentStart, b - contentStart);
        if (marker == '-') {
          size_t e = text.find_last_not_of(" \t\n\r\v\f");
          text = e == std::string::npos ? "" : text.substr(0, e + 1);
        } else if (marker != '+') {
          size_t lpos = text.rfind('\n');
          if (lpos != std::string::npos && text.find_first_not_of(" \t", lpos + 1) == std::string::npos)
            text = text.substr(0, lpos + 1);
        }
        emitData(text, contentStart);
        pos = end;
        lineStarting = src_[end - 1] == '\n';
        return true;
      }
      s = b + 2;
    }
  }

  // Lexes the inside of {{ }} / {% %} from `p`; returns the position after the end tag.
  size_t lexTag(size_t p, bool var, size_t begin) {
    size_t n = src_.size();
    int depth = 0;
    while (true) {
      while (p < n && isspace(static_cast<unsigned char>(src_[p]))) ++p;
      if (p >= n) syntaxError(begin, var ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'");
      if (depth == 0) {
        if (var) {
          if (src_.compare(p, 3, "-}}") == 0) {
            toks_.push_back(tok(T::VarEnd, "", p));
            return skipWs(p + 3);
          }
          if (src_.compare(p, 2, "}}") == 0) {
            toks_.push_back(tok(T::VarEnd, "", p));
            return p + 2;
          }
        } else {
          if (src_.compare(p, 3, "-%}") == 0) {
            toks_.push_back(tok(T::BlockEnd, "", p));
            return skipWs(p + 3);
          }
          if (src_.compare(p, 3, "+%}") == 0) {
            toks_.push_back(tok(T::BlockEnd, "", p));
            return p + 3;
          }
          if (src_.compare(p, 2, "%}") == 0) {
            toks_.push_back(tok(T::BlockEnd, "", p));
            p += 2;
            if (p < n && src_[p] == '\n') ++p;
            return p;
          }
        }
      }
      char c = src_[p];
      if (isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t q = p;
        while (q < n && (isalnum(static_cast<unsigned char>(src_[q])) || src_[q] == '_')) ++q;
        toks_.push_back(tok(T::Name, src_.substr(p, q - p), p));
        p = q;
      } else if (isdigit(static_cast<unsigned char>(c))) {
        p = lexNumber(p);
      } else if (c == '\'' || c == '"') {
        p = lexString(p);
      } else {
        static const char *ops2[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (const char *o : ops2)
          if (src_.compare(p, 2, o) == 0) { op = o; break; }
        if (op.empty()) {
          if (!strchr("+-/*%~[](){}<>=.:|,;", c)) syntaxError(p, std::string("unexpected char '") + c + "'");
          op = std::string(1, c);
          if (c == '(' || c == '[' || c == '{') ++depth;
          if (c == ')' || c == ']' || c == '}') {
            if (depth == 0) syntaxError(p, std::string("unexpected '") + c + "'");
            --depth;
          }
        }
        toks_.push_back(tok(T::Op, op, p));
        p += op.size();
      }
    }
  }

  size_t lexNumber(size_t p) {
    size_t n = src_.size(), q = p;
    auto digits = [&](size_t &r) {
      while (r < n && (isdigit(static_cast<unsigned char>(src_[r])) || (src_[r] == '_' && r + 1 < n && isdigit(static_cast<unsigned char>(src_[r + 1]))))) ++r;
    };
    if (src_[q] == '0' && q + 1 < n && strchr("xXoObB", src_[q + 1])) {
      int base = (src_[q + 1] == 'x' || src_[q + 1] == 'X') ? 16 : (src_[q + 1] == 'o' || src_[q + 1] == 'O') ? 8 : 2;
      q += 2;
      std::string d;
      while (q < n && (isxdigit(static_cast<unsigned char>(src_[q])) || src_[q] == '_')) {
        if (src_[q] != '_') d.push_back(src_[q]);
        ++q;
      }
      Tok t = tok(T::Int, "", p);
      t.i = std::strtoll(d.c_str(), nullptr, base);
      toks_.push_back(t);
      return q;
    }
    digits(q);
    bool isFloat = false;
    if (q + 1 < n && src_[q] == '.' && isdigit(static_cast<unsigned char>(src_[q + 1]))) {
      isFloat = true;
      ++q;
      digits(q);
    }
    if (q < n && (src_[q] == 'e' || src_[q] == 'E')) {
      size_t r = q + 1;
      if (r < n && (src_[r] == '+' || src_[r] == '-')) ++r;
      if (r < n && isdigit(static_cast<unsigned char>(src_[r]))) {
        isFloat = true;
        q = r;
        digits(q);
      }
    }
    std::string text;
    for (size_t k = p; k < q; ++k)
      if (src_[k] != '_') text.push_back(src_[k]);
    Tok t = tok(isFloat ? T::Float : T::Int, "", p);
    if (isFloat) t.f = std::strtod(text.c_str(), nullptr);
    else {
      errno = 0;
      t.i = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) syntaxError(p, "integer literal too large");
    }
    toks_.push_back(t);
    return q;
  }

  size_t lexString(size_t p) {
    char q = src_[p];
    size_t n = src_.size(), r = p + 1;
    std::string out;
    while (true) {
      if (r >= n) syntaxError(p, "unterminated string literal");
      char c = src_[r];
      if (c == q) break;
      if (c == '\\' && r + 1 < n) {
        char e = src_[r + 1];
        r += 2;
        switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'v': out.push_back('\v'); break;
        case 'a': out.push_back('\a'); break;
        case '0': out.push_back('\0'); break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case '\n': break;
        case 'x': case 'u': case 'U': {
          size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (r + len > n) syntaxError(r, "truncated escape sequence");
          std::string hex = src_.substr(r, len);
          for (char h : hex)
            if (!isxdigit(static_cast<unsigned char>(h))) syntaxError(r, "invalid escape sequence");
          appendUtf8(out, static_cast<char32_t>(std::strtoul(hex.c_str(), nullptr, 16)));
          r += len;
          break;
        }
        default: out.push_back('\\'); out.push_back(e); break;
        }
        continue;
      }
      out.push_back(c);
      ++r;
    }
    toks_.push_back(tok(T::String, out, p));
    return r + 1;
  }

  std::string src_;
  std::vector<size_t> lineStarts_;
  std::vector<Tok> toks_;
};

// ------------------------------------------------------------------------------------------
// AST
// ------------------------------------------------------------------------------------------

struct Expr;
using ExprP = std::shared_ptr<Expr>;

enum class E {
  Const, Name, List, Tuple, Dict, Attr, Item, Slice, Call, Filter, Test,
  Neg, Pos, Not, And, Or, Binary, Concat, Compare, Cond
};

struct Expr {
  E kind;
  int line = 0;
  Value value;                // Const
  std::string name;           // Name, Attr, Filter, Test, Binary op
  std::vector<ExprP> args;    // operands / positional arguments
  std::vector<std::pair<std::string, ExprP>> kwargs;
  ExprP dynArgs, dynKwargs;   // *args, **kwargs of calls
  std::vector<std::string> ops;  // Compare
};

struct Target {  // assignment target: a name, ns.attr, or a tuple of targets
  std::string name;
  std::string attr;  // non-empty: name.attr
  std::vector<Target> items;
  bool tuple = false;
};

struct Node;
using NodeP = std::shared_ptr<Node>;
using Body = std::vector<NodeP>;

enum class N { Text, Print, If, For, Set, SetBlock, Macro, CallBlock, FilterBlock, With, Break, Continue };

struct Macro {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprP> defaults;  // aligned with params; null when required
  Body body;
};

struct Node {
  N kind;
  int line = 0;
  std::string text;  // Text
  ExprP expr;        // Print, Set, For (iterable), CallBlock (call), SetBlock/FilterBlock (filter chain)
  ExprP cond;        // For filter
  std::vector<std::pair<ExprP, Body>> branches;  // If
  Body body, elseBody;
  Target target;
  std::shared_ptr<Macro> macro;  // Macro, CallBlock (caller)
  std::vector<std::pair<Target, ExprP>> assigns;  // With
};

// ------------------------------------------------------------------------------------------
// Parser
// ------------------------------------------------------------------------------------------

const std::set<std::string> &knownFilters() {
  static const std::set<std::string> names = {
      "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e",
      "escape", "first", "float", "forceescape", "format", "indent", "int", "items", "join",
      "last", "length", "list", "lower", "map", "max", "min", "pprint", "reject", "rejectattr",
      "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum",
      "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount"};
  return names;
}
const std::set<std::string> &knownTests() {
  static const std::set<std::string> names = {
      "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even",
      "false", "filter", "float", "ge", ">=", "gt", ">", "greaterthan", "in", "integer",
      "iterable", "le", "<=", "lower", "lt", "<", "lessthan", "mapping", "ne", "!=", "none",
      "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper"};
  return names;
}

class Parser {
public:
  Parser(std::vector<Tok> toks) : toks_(std::move(toks)) {}

  Body parseTemplate() {
    std::string end;
    Body body = parseBody({}, end);
    return body;
  }

private:
  const Tok &cur() const { return toks_[pos_]; }
  const Tok &peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  Tok next() { Tok t = toks_[pos_]; if (pos_ + 1 < toks_.size()) ++pos_; return t; }
  [[noreturn]] void error(const Tok &t, const std::string &msg) const { throw JinjaError{msg, t.line, t.col}; }
  bool isOp(const char *op) const { return cur().t == T::Op && cur().s == op; }
  bool isName(const char *name) const { return cur().t == T::Name && cur().s == name; }
  static std::string describe(const Tok &t) {
    switch (t.t) {
    case T::Data: return "template data";
    case T::VarBegin: return "'{{'";
    case T::VarEnd: return "end of print statement";
    case T::BlockBegin: return "'{%'";
    case T::BlockEnd: return "end of statement block";
    case T::Name: return "'" + t.s + "'";
    case T::String: return "string";
    case T::Int: case T::Float: return "number";
    case T::Op: return "'" + t.s + "'";
    case T::Eof: return "end of template";
    }
    return "token";
  }
  void expectOp(const char *op) {
    if (!isOp(op)) error(cur(), std::string("expected '") + op + "', got " + describe(cur()));
    next();
  }
  std::string expectName() {
    if (cur().t != T::Name) error(cur(), "expected a name, got " + describe(cur()));
    return next().s;
  }
  void expectBlockEnd() {
    if (cur().t != T::BlockEnd) error(cur(), "expected end of statement block, got " + describe(cur()));
    next();
  }
  ExprP mk(E kind, const Tok &t) {
    auto e = std::make_shared<Expr>();
    e->kind = kind;
    e->line = t.line;
    return e;
  }

  // Parses nodes until `{% <one of ends> ...`; leaves the position after the end tag's name.
  Body parseBody(const std::vector<std::string> &ends, std::string &endFound) {
    Body body;
    while (true) {
      const Tok &t = cur();
      if (t.t == T::Eof) {
        if (!ends.empty()) {
          std::string list;
          for (auto &e : ends) list += (list.empty() ? "'" : " or '") + e + "'";
          error(t, "unexpected end of template, expected " + list);
        }
        return body;
      }
      if (t.t == T::Data) {
        auto n = std::make_shared<Node>();
        n->kind = N::Text;
        n->line = t.line;
        n->text = t.s;
        body.push_back(n);
        next();
        continue;
      }
      if (t.t == T::VarBegin) {
        next();
        auto n = std::make_shared<Node>();
        n->kind = N::Print;
        n->line = t.line;
        n->expr = parseTuple();
        if (cur().t != T::VarEnd) error(cur(), "expected end of print statement, got " + describe(cur()));
        next();
        body.push_back(n);
        continue;
      }
      if (t.t == T::BlockBegin) {
        const Tok &nameTok = peek();
        if (nameTok.t != T::Name) error(nameTok, "expected a tag name, got " + describe(nameTok));
        if (std::find(ends.begin(), ends.end(), nameTok.s) != ends.end()) {
          next();
          next();
          endFound = nameTok.s;
          return body;
        }
        next();
        body.push_back(parseStatement());
        continue;
      }
      error(t, "unexpected " + describe(t));
    }
  }

  NodeP parseStatement() {
    DepthGuard guard(*this);
    Tok t = next();  // tag name
    auto n = std::make_shared<Node>();
    n->line = t.line;
    const std::string &tag = t.s;
    std::string end;
    if (tag == "if") {
      n->kind = N::If;
      ExprP cond = parseTuple();
      expectBlockEnd();
      while (true) {
        Body b = parseBody({"elif", "else", "endif"}, end);
        n->branches.emplace_back(cond, std::move(b));
        if (end == "elif") {
          cond = parseTuple();
          expectBlockEnd();
          continue;
        }
        if (end == "else") {
          expectBlockEnd();
          n->elseBody = parseBody({"endif"}, end);
        }
        expectBlockEnd();
        return n;
      }
    }
    if (tag == "for") {
      n->kind = N::For;
      n->target = parseTarget(true);
      if (!isName("in")) error(cur(), "expected 'in', got " + describe(cur()));
      next();
      n->expr = parseTuple(/*withCondExpr=*/false);
      if (isName("if")) {
        next();
        n->cond = parseExpression();
      }
      if (isName("recursive")) error(cur(), "recursive loops are not supported");
      expectBlockEnd();
      n->body = parseBody({"endfor", "else"}, end);
      if (end == "else") {
        expectBlockEnd();
        n->elseBody = parseBody({"endfor"}, end);
      }
      expectBlockEnd();
      return n;
    }
    if (tag == "set") {
      Target target = parseTarget(true, /*allowAttr=*/true);
      if (isOp("=")) {
        next();
        n->kind = N::Set;
        n->target = std::move(target);
        n->expr = parseTuple();
        expectBlockEnd();
        return n;
      }
      if (target.tuple) error(cur(), "expected '='");
      n->kind = N::SetBlock;
      n->target = std::move(target);
      if (isOp("|")) n->expr = parseFilterChain();
      expectBlockEnd();
      n->body = parseBody({"endset"}, end);
      expectBlockEnd();
      return n;
    }
    if (tag == "macro") {
      n->kind = N::Macro;
      n->macro = std::make_shared<Macro>();
      n->macro->name = expectName();
      parseSignature(*n->macro);
      expectBlockEnd();
      n->macro->body = parseBody({"endmacro"}, end);
      if (cur().t == T::Name) next();  // {% endmacro name %}
      expectBlockEnd();
      return n;
    }
    if (tag == "call") {
      n->kind = N::CallBlock;
      n->macro = std::make_shared<Macro>();
      n->macro->name = "caller";
      if (isOp("(")) parseSignature(*n->macro);
      n->expr = parseExpression();
      if (n->expr->kind != E::Call) error(t, "expected a call after 'call'");
      expectBlockEnd();
      n->macro->body = parseBody({"endcall"}, end);
      expectBlockEnd();
      return n;
    }
    if (tag == "filter") {
      n->kind = N::FilterBlock;
      n->expr = parseFilterChain(/*leadingPipe=*/false);
      expectBlockEnd();
      n->body = parseBody({"endfilter"}, end);
      expectBlockEnd();
      return n;
    }
    if (tag == "with") {
      n->kind = N::With;
      while (cur().t != T::BlockEnd) {
        if (!n->assigns.empty()) expectOp(",");
        Target tg = parseTarget(false);
        expectOp("=");
        n->assigns.emplace_back(std::move(tg), parseExpression());
      }
      expectBlockEnd();
      n->body = parseBody({"endwith"}, end);
      expectBlockEnd();
      return n;
    }
    if (tag == "generation") {  // transformers' AssistantTracker: renders its body
      n->kind = N::With;
      expectBlockEnd();
      n->body = parseBody({"endgeneration"}, end);
      expectBlockEnd();
      return n;
    }
    if (tag == "break" || tag == "continue") {
      if (loopDepth_ == 0) error(t, "'" + tag + "' outside of a loop");
      n->kind = tag == "break" ? N::Break : N::Continue;
      expectBlockEnd();
      return n;
    }
    error(t, "encountered unknown tag '" + tag + "'");
  }

  void parseSignature(Macro &m) {
    expectOp("(");
    while (!isOp(")")) {
      if (!m.params.empty()) expectOp(",");
      if (isOp(")")) break;
      m.params.push_back(expectName());
      if (isOp("=")) {
        next();
        m.defaults.push_back(parseExpression());
      } else {
        if (!m.defaults.empty() && m.defaults.back()) error(cur(), "non-default argument follows default argument");
        m.defaults.push_back(nullptr);
      }
    }
    next();
  }

  Target parseTarget(bool allowTuple, bool allowAttr = false) {
    auto one = [&]() {
      Target t;
      if (isOp("(")) {
        next();
        t = parseTarget(true);
        expectOp(")");
        return t;
      }
      t.name = expectName();
      if (allowAttr && isOp(".")) {
        next();
        t.attr = expectName();
      }
      return t;
    };
    Target first = one();
    if (!allowTuple || !isOp(",")) return first;
    Target tup;
    tup.tuple = true;
    tup.items.push_back(std::move(first));
    while (isOp(",")) {
      next();
      if (cur().t != T::Name && !isOp("(")) break;
      tup.items.push_back(one());
    }
    return tup;
  }

  // `| f(args) | g` (or `f | g` for filter blocks) as a chain over a null operand.
  ExprP parseFilterChain(bool leadingPipe = true) {
    ChainGuard chain(*this);
    ExprP node;
    bool first = true;
    while (first ? (!leadingPipe || isOp("|")) : isOp("|")) {
      chain.link();
      if (!first || leadingPipe) next();
      first = false;
      node = parseFilter(node);
    }
    return node;
  }

  ExprP parseTuple(bool withCondExpr = true) {
    const Tok &t = cur();
    ExprP first = withCondExpr ? parseExpression() : parseOr();
    if (!isOp(",")) return first;
    auto tup = mk(E::Tuple, t);
    tup->args.push_back(first);
    while (isOp(",")) {
      next();
      if (cur().t == T::VarEnd || cur().t == T::BlockEnd || isOp(")") || isName("if")) break;
      tup->args.push_back(withCondExpr ? parseExpression() : parseOr());
    }
    return tup;
  }

  ExprP parseExpression() {
    DepthGuard guard(*this);
    ExprP e = parseOr();
    while (isName("if")) {
      Tok t = next();
      auto c = mk(E::Cond, t);
      c->args.push_back(e);
      c->args.push_back(parseOr());
      if (isName("else")) {
        next();
        c->args.push_back(parseExpression());
      } else {
        c->args.push_back(nullptr);
      }
      e = c;
    }
    return e;
  }

  ExprP parseOr() {
    ChainGuard chain(*this);
    ExprP l = parseAnd();
    while (isName("or")) {
      chain.link();
      Tok t = next();
      auto e = mk(E::Or, t);
      e->args = {l, parseAnd()};
      l = e;
    }
    return l;
  }
  ExprP parseAnd() {
    ChainGuard chain(*this);
    ExprP l = parseNot();
    while (isName("and")) {
      chain.link();
      Tok t = next();
      auto e = mk(E::And, t);
      e->args = {l, parseNot()};
      l = e;
    }
    return l;
  }
  ExprP parseNot() {
    DepthGuard guard(*this);
    if (isName("not")) {
      Tok t = next();
      auto e = mk(E::Not, t);
      e->args = {parseNot()};
      return e;
    }
    return parseCompare();
  }
  ExprP parseCompare() {
    const Tok &t0 = cur();
    ExprP first = parseMath1();
    ExprP cmp;
    while (true) {
      std::string op;
      if (cur().t == T::Op && (cur().s == "==" || cur().s == "!=" || cur().s == "<" ||
                               cur().s == ">" || cur().s == "<=" || cur().s == ">=")) {
        op = next().s;
      } else if (isName("in")) {
        next();
        op = "in";
      } else if (isName("not") && peek().t == T::Name && peek().s == "in") {
        next();
        next();
        op = "notin";
      } else {
        break;
      }
      if (!cmp) {
        cmp = mk(E::Compare, t0);
        cmp->args.push_back(first);
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parseMath1());
    }
    return cmp ? cmp : first;
  }
  ExprP binary(const Tok &t, const std::string &op, ExprP l, ExprP r) {
    auto e = mk(E::Binary, t);
    e->name = op;
    e->args = {std::move(l), std::move(r)};
    return e;
  }
  ExprP parseMath1() {
    ChainGuard chain(*this);
    ExprP l = parseConcat();
    while (isOp("+") || isOp("-")) {
      chain.link();
      Tok t = next();
      l = binary(t, t.s, l, parseConcat());
    }
    return l;
  }
  ExprP parseConcat() {
    const Tok &t = cur();
    ExprP l = parseMath2();
    if (!isOp("~")) return l;
    auto e = mk(E::Concat, t);
    e->args.push_back(l);
    while (isOp("~")) {
      next();
      e->args.push_back(parseMath2());
    }
    return e;
  }
  ExprP parseMath2() {
    ChainGuard chain(*this);
    ExprP l = parsePow();
    while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
      chain.link();
      Tok t = next();
      l = binary(t, t.s, l, parsePow());
    }
    return l;
  }
  ExprP parsePow() {
    ChainGuard chain(*this);
    ExprP l = parseUnary();
    while (isOp("**")) {
      chain.link();
      Tok t = next();
      l = binary(t, "**", l, parseUnary());
    }
    return l;
  }
  ExprP parseUnary(bool withFilter = true) {
    DepthGuard guard(*this);
    ExprP node;
    if (isOp("-") || isOp("+")) {
      Tok t = next();
      node = mk(t.s == "-" ? E::Neg : E::Pos, t);
      node->args = {parseUnary(false)};
    } else {
      node = parsePrimary();
    }
    node = parsePostfix(node);
    if (withFilter) node = parseFilterExpr(node);
    return node;
  }

  ExprP parsePrimary() {
    Tok t = cur();
    if (t.t == T::Name) {
      next();
      if (t.s == "true" || t.s == "True") { auto e = mk(E::Const, t); e->value = Value::boolean(true); return e; }
      if (t.s == "false" || t.s == "False") { auto e = mk(E::Const, t); e->value = Value::boolean(false); return e; }
      if (t.s == "none" || t.s == "None") { auto e = mk(E::Const, t); e->value = Value::none(); return e; }
      auto e = mk(E::Name, t);
      e->name = t.s;
      return e;
    }
    if (t.t == T::String) {
      std::string s;
      while (cur().t == T::String) s += next().s;
      auto e = mk(E::Const, t);
      e->value = Value::str(s);
      return e;
    }
    if (t.t == T::Int || t.t == T::Float) {
      next();
      auto e = mk(E::Const, t);
      e->value = t.t == T::Int ? Value::integer(t.i) : Value::flt(t.f);
      return e;
    }
    if (isOp("(")) {
      next();
      if (isOp(")")) {
        next();
        return mk(E::Tuple, t);
      }
      ExprP first = parseExpression();
      if (isOp(")")) {
        next();
        return first;
      }
      auto tup = mk(E::Tuple, t);
      tup->args.push_back(first);
      while (isOp(",")) {
        next();
        if (isOp(")")) break;
        tup->args.push_back(parseExpression());
      }
      expectOp(")");
      return tup;
    }
    if (isOp("[")) {
      next();
      auto e = mk(E::List, t);
      while (!isOp("]")) {
        if (!e->args.empty()) expectOp(",");
        if (isOp("]")) break;
        e->args.push_back(parseExpression());
      }
      next();
      return e;
    }
    if (isOp("{")) {
      next();
      auto e = mk(E::Dict, t);
      while (!isOp("}")) {
        if (!e->args.empty()) expectOp(",");
        if (isOp("}")) break;
        e->args.push_back(parseExpression());
        expectOp(":");
        e->args.push_back(parseExpression());
      }
      next();
      return e;
    }
    error(t, "unexpected " + describe(t));
  }

  ExprP parsePostfix(ExprP node) {
    ChainGuard chain(*this);
    while (true) {
      chain.link();
      if (isOp(".")) {
        Tok t = next();
        if (cur().t == T::Name) {
          auto e = mk(E::Attr, t);
          e->name = next().s;
          e->args = {node};
          node = e;
        } else if (cur().t == T::Int) {
          auto e = mk(E::Item, t);
          auto k = mk(E::Const, cur());
          k->value = Value::integer(next().i);
          e->args = {node, k};
          node = e;
        } else {
          error(cur(), "expected name or number after '.'");
        }
      } else if (isOp("[")) {
        Tok t = next();
        node = parseSubscript(node, t);
      } else if (isOp("(")) {
        node = parseCall(node);
      } else {
        return node;
      }
    }
  }

  ExprP parseSubscript(ExprP node, const Tok &t) {
    auto sliceOrExpr = [&]() -> ExprP {
      ExprP a, b, c;
      if (!isOp(":")) {
        a = parseExpression();
        if (!isOp(":")) return a;
      }
      next();  // ':'
      if (!isOp("]") && !isOp(",") && !isOp(":")) b = parseExpression();
      if (isOp(":")) {
        next();
        if (!isOp("]") && !isOp(",")) c = parseExpression();
      }
      auto s = mk(E::Slice, t);
      s->args = {nullptr, a, b, c};
      return s;
    };
    ExprP idx = sliceOrExpr();
    if (isOp(",")) {
      // A tuple of subscripts (x[a, b]); slices there would be slice objects, which no value
      // accepts as an index: refused here, where a slice node always has its operand.
      auto tup = mk(E::Tuple, t);
      tup->args.push_back(idx);
      while (isOp(",")) {
        next();
        if (isOp("]")) break;
        tup->args.push_back(sliceOrExpr());
      }
      for (const ExprP &item : tup->args)
        if (item->kind == E::Slice) error(t, "a slice inside a tuple subscript is not supported");
      idx = tup;
    }
    expectOp("]");
    if (idx->kind == E::Slice) {
      idx->args[0] = node;
      return idx;
    }
    auto e = mk(E::Item, t);
    e->args = {node, idx};
    return e;
  }

  void parseArgs(Expr &e) {
    expectOp("(");
    bool first = true;
    while (!isOp(")")) {
      if (!first) {
        expectOp(",");
        if (isOp(")")) break;
      }
      first = false;
      if (isOp("*")) {
        next();
        e.dynArgs = parseExpression();
      } else if (isOp("**")) {
        next();
        e.dynKwargs = parseExpression();
      } else if (cur().t == T::Name && peek().t == T::Op && peek().s == "=") {
        std::string key = next().s;
        next();
        e.kwargs.emplace_back(key, parseExpression());
      } else {
        if (!e.kwargs.empty()) error(cur(), "positional argument follows keyword argument");
        e.args.push_back(parseExpression());
      }
    }
    next();
  }

  ExprP parseCall(ExprP callee) {
    auto e = mk(E::Call, cur());
    e->args.push_back(callee);
    parseArgs(*e);
    return e;
  }

  ExprP parseFilter(ExprP operand) {
    Tok t = cur();
    std::string name = expectName();
    while (isOp(".")) {
      next();
      name += "." + expectName();
    }
    if (!knownFilters().count(name)) error(t, "no filter named '" + name + "'");
    auto e = mk(E::Filter, t);
    e->name = name;
    e->args.push_back(operand);
    if (isOp("(")) parseArgs(*e);
    return e;
  }

  ExprP parseFilterExpr(ExprP node) {
    ChainGuard chain(*this);
    while (true) {
      chain.link();
      if (isOp("|")) {
        next();
        node = parseFilter(node);
      } else if (isName("is")) {
        Tok t = next();
        bool negate = false;
        if (isName("not")) {
          next();
          negate = true;
        }
        Tok nt = cur();
        std::string name = expectName();
        if (!knownTests().count(name)) error(nt, "no test named '" + name + "'");
        auto e = mk(E::Test, t);
        e->name = name;
        e->args.push_back(node);
        if (isOp("(")) {
          parseArgs(*e);
        } else if ((cur().t == T::Name || cur().t == T::String || cur().t == T::Int ||
                    cur().t == T::Float || isOp("[") || isOp("{")) &&
                   !isName("else") && !isName("or") && !isName("and")) {
          if (isName("is")) error(cur(), "You cannot chain multiple tests with is");
          e->args.push_back(parsePostfix(parsePrimary()));
        }
        if (negate) {
          auto n = mk(E::Not, t);
          n->args = {e};
          node = n;
        } else {
          node = e;
        }
      } else if (isOp("(")) {
        node = parseCall(node);
      } else {
        return node;
      }
    }
  }

  // Bounds the parser's recursion (and so the interpreter's) on hostile input.
  struct DepthGuard {
    Parser &p;
    DepthGuard(Parser &parser) : p(parser) {
      if (++p.depth_ > 200) p.error(p.cur(), "template nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };
  // Left-associative chains (a + b + c, x.a.b, x | f | g, a or b or c) build a node per link
  // without recursing: each link counts as one level of nesting until the chain's parse ends,
  // so that the tree (whose evaluation and destruction recurse) stays as shallow as the limit.
  struct ChainGuard {
    Parser &p;
    int links = 0;
    explicit ChainGuard(Parser &parser) : p(parser) {}
    void link() {
      ++links;
      if (++p.depth_ > 200) p.error(p.cur(), "template nested too deeply");
    }
    ~ChainGuard() { p.depth_ -= links; }
  };

  std::vector<Tok> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loopDepth_ = 1;  // break/continue are checked at run time
};

// ------------------------------------------------------------------------------------------
// Interpreter
// ------------------------------------------------------------------------------------------

struct Scope;
using ScopeP = std::shared_ptr<Scope>;
struct Scope {
  std::unordered_map<std::string, Value> vars;
  ScopeP parent;
};

ScopeP child(const ScopeP &parent) {
  auto s = std::make_shared<Scope>();
  s->parent = parent;
  return s;
}

enum class Flow { Normal, Break, Continue };

// Positional-or-keyword argument `idx`/`name`, else `def`.
Value arg(const Args &a, size_t idx, const char *name, Value def = Value::undef()) {
  if (idx < a.pos.size()) return a.pos[idx];
  for (auto &kv : a.kw)
    if (kv.first == name) return kv.second;
  return def;
}
std::string strArg(const Args &a, size_t idx, const char *name, const std::string &def) {
  Value v = arg(a, idx, name);
  if (v.isUndef()) return def;
  if (v.k != K::Str) fail(std::string("argument '") + name + "' must be a string, not " + typeName(v));
  return v.s;
}
int64_t intArg(const Args &a, size_t idx, const char *name, int64_t def) {
  Value v = arg(a, idx, name);
  if (v.isUndef() || v.k == K::None) return def;
  if (!v.isIntLike()) fail(std::string("argument '") + name + "' must be an integer, not " + typeName(v));
  return v.asInt();
}

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

// Python %-formatting (the subset templates use).
std::string percentFormat(const std::string &fmt, const Value &rhs) {
  std::vector<Value> args;
  const DictObj *mapping = nullptr;
  if (rhs.k == K::List && rhs.l->tuple) args = rhs.l->items;
  else if (rhs.k == K::Dict && !rhs.d->isNamespace) { mapping = rhs.d.get(); args.push_back(rhs); }
  else args.push_back(rhs);
  size_t next = 0;
  bool usedMapping = false;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') { out.push_back(fmt[i]); continue; }
    if (++i >= fmt.size()) fail("incomplete format");
    if (fmt[i] == '%') { out.push_back('%'); continue; }
    const Value *val = nullptr;
    if (fmt[i] == '(') {
      size_t e = fmt.find(')', i);
      if (e == std::string::npos || !mapping) fail("format requires a mapping");
      const Value *v = mapping->find(fmt.substr(i + 1, e - i - 1));
      if (!v) fail("KeyError: '" + fmt.substr(i + 1, e - i - 1) + "'");
      val = v;
      usedMapping = true;
      i = e + 1;
    }
    std::string spec = "%";
    while (i < fmt.size() && strchr("-+ #0", fmt[i])) spec.push_back(fmt[i++]);
    while (i < fmt.size() && isdigit(static_cast<unsigned char>(fmt[i]))) spec.push_back(fmt[i++]);
    if (i < fmt.size() && fmt[i] == '.') {
      spec.push_back(fmt[i++]);
      while (i < fmt.size() && isdigit(static_cast<unsigned char>(fmt[i]))) spec.push_back(fmt[i++]);
    }
    if (i >= fmt.size()) fail("incomplete format");
    char conv = fmt[i];
    if (!val) {
      if (next >= args.size()) fail("not enough arguments for format string");
      val = &args[next++];
    }
    char buf[512];
    switch (conv) {
    case 's': case 'r': {
      std::string s = conv == 's' ? pyStr(*val) : pyRepr(*val);
      std::snprintf(buf, sizeof buf, (spec + "s").c_str(), "");  // validate flags
      int width = 0;
      bool leftAlign = spec.find('-') != std::string::npos;
      size_t dpos = spec.find_first_of("123456789");
      size_t dot = spec.find('.');
      if (dpos != std::string::npos && (dot == std::string::npos || dpos < dot)) width = static_cast<int>(checkedLength(std::strtoll(spec.c_str() + dpos, nullptr, 10)));
      if (dot != std::string::npos) {
        std::u32string u = decodeUtf8(s);
        size_t prec = checkedLength(std::strtoll(spec.c_str() + dot + 1, nullptr, 10));
        if (u.size() > prec) s = encodeUtf8(u.substr(0, prec));
      }
      int len = static_cast<int>(decodeUtf8(s).size());
      if (len < width) s = leftAlign ? s + std::string(width - len, ' ') : std::string(width - len, ' ') + s;
      out += s;
      break;
    }
    case 'd': case 'i': case 'u':
      if (!val->isNum()) fail(std::string("%d format: a real number is required, not ") + typeName(*val));
      std::snprintf(buf, sizeof buf, (spec + "lld").c_str(), static_cast<long long>(val->k == K::Float ? floatToInt(val->f) : val->asInt()));
      out += buf;
      break;
    case 'x': case 'X': case 'o':
      if (!val->isIntLike()) fail(std::string("%") + conv + " format: an integer is required");
      std::snprintf(buf, sizeof buf, (spec + "ll" + conv).c_str(), static_cast<long long>(val->asInt()));
      out += buf;
      break;
    case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
      if (!val->isNum()) fail(std::string("must be real number, not ") + typeName(*val));
      std::snprintf(buf, sizeof buf, (spec + conv).c_str(), val->asFloat());
      out += buf;
      break;
    case 'c':
      if (val->k == K::Str) out += val->s;
      else if (val->isIntLike()) appendUtf8(out, static_cast<char32_t>(val->asInt()));
      break;
    default: fail(std::string("unsupported format character '") + conv + "'");
    }
  }
  if (!mapping && next < args.size()) fail("not all arguments converted during string formatting");
  (void)usedMapping;
  return out;
}

// str.format (fields {}, {0}, {name}, conversions !r/!s and a basic format spec).
std::string applyFormatSpec(const Value &v, const std::string &spec) {
  if (spec.empty()) return pyStr(v);
  size_t i = 0;
  char fill = ' ', align = 0;
  auto isAlign = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
  if (spec.size() >= 2 && isAlign(spec[1])) { fill = spec[0]; align = spec[1]; i = 2; }
  else if (!spec.empty() && isAlign(spec[0])) { align = spec[0]; i = 1; }
  char sign = 0;
  if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ')) sign = spec[i++];
  if (i < spec.size() && spec[i] == '0') { if (!align) { fill = '0'; align = '='; } ++i; }
  int width = 0;
  while (i < spec.size() && isdigit(static_cast<unsigned char>(spec[i]))) width = static_cast<int>(checkedLength(int64_t(width) * 10 + (spec[i++] - '0')));
  int prec = -1;
  if (i < spec.size() && spec[i] == '.') {
    ++i;
    prec = 0;
    while (i < spec.size() && isdigit(static_cast<unsigned char>(spec[i]))) prec = static_cast<int>(checkedLength(int64_t(prec) * 10 + (spec[i++] - '0')));
  }
  char type = i < spec.size() ? spec[i++] : 0;
  if (i != spec.size()) fail("Invalid format specifier");
  std::string body;
  bool numeric = v.isNum();
  if (type == 'f' || type == 'F' || type == 'e' || type == 'E' || type == 'g' || type == 'G' || type == '%') {
    if (!numeric) fail("Unknown format code for object of type '" + std::string(typeName(v)) + "'");
    char buf[512];
    double x = v.asFloat() * (type == '%' ? 100 : 1);
    std::string f = std::string("%") + (sign == '+' ? "+" : sign == ' ' ? " " : "") + "." +
                    std::to_string(prec < 0 ? 6 : prec) + (type == '%' ? 'f' : type);
    std::snprintf(buf, sizeof buf, f.c_str(), x);
    body = buf;
    if (type == '%') body += "%";
  } else if (type == 'd') {
    if (!v.isIntLike()) fail("Unknown format code 'd' for object of type '" + std::string(typeName(v)) + "'");
    body = std::to_string(v.asInt());
    if (sign == '+' && v.asInt() >= 0) body = "+" + body;
  } else {
    body = pyStr(v);
    if (prec >= 0 && v.k == K::Str) {
      std::u32string u = decodeUtf8(body);
      if (u.size() > static_cast<size_t>(prec)) body = encodeUtf8(u.substr(0, prec));
    } else if (prec >= 0 && v.k == K::Float) {
      char buf[512];
      std::snprintf(buf, sizeof buf, "%.*g", prec, v.f);
      body = buf;
    }
    if (sign == '+' && numeric && v.asFloat() >= 0) body = "+" + body;
  }
  int len = static_cast<int>(decodeUtf8(body).size());
  if (len >= width) return body;
  int pad = width - len;
  if (!align) align = numeric ? '>' : '<';
  std::string f(1, fill);
  auto rep = [&](int k) { std::string r; for (int j = 0; j < k; ++j) r += f; return r; };
  if (align == '<') return body + rep(pad);
  if (align == '>') return rep(pad) + body;
  if (align == '^') return rep(pad / 2) + body + rep(pad - pad / 2);
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) return body.substr(0, 1) + rep(pad) + body.substr(1);
  return rep(pad) + body;
}

std::string strFormat(const std::string &fmt, const Args &a) {
  std::string out;
  size_t autoIdx = 0;
  int mode = 0;  // 1 auto, 2 manual
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '{') { out.push_back('{'); ++i; continue; }
      size_t e = fmt.find('}', i);
      if (e == std::string::npos) fail("Single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, e - i - 1);
      std::string spec, conv;
      size_t colon = field.find(':');
      if (colon != std::string::npos) { spec = field.substr(colon + 1); field = field.substr(0, colon); }
      size_t bang = field.find('!');
      if (bang != std::string::npos) { conv = field.substr(bang + 1); field = field.substr(0, bang); }
      Value v;
      if (field.empty()) {
        if (mode == 2) fail("cannot switch from manual field specification to automatic field numbering");
        mode = 1;
        if (autoIdx >= a.pos.size()) fail("Replacement index " + std::to_string(autoIdx) + " out of range for positional args tuple");
        v = a.pos[autoIdx++];
      } else if (isdigit(static_cast<unsigned char>(field[0]))) {
        if (mode == 1) fail("cannot switch from automatic field numbering to manual field specification");
        mode = 2;
        size_t k = std::strtoul(field.c_str(), nullptr, 10);
        if (k >= a.pos.size()) fail("Replacement index " + field + " out of range for positional args tuple");
        v = a.pos[k];
      } else {
        bool found = false;
        for (auto &kv : a.kw)
          if (kv.first == field) { v = kv.second; found = true; }
        if (!found) fail("KeyError: '" + field + "'");
      }
      if (conv == "r") v = Value::str(pyRepr(v));
      else if (conv == "s") v = Value::str(pyStr(v));
      out += applyFormatSpec(v, spec);
      i = e;
    } else if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') { out.push_back('}'); ++i; continue; }
      fail("Single '}' encountered in format string");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Python's float(str).
std::optional<double> parseFloat(const std::string &s) {
  std::string t = strip32(s, Value::undef(), true, true);
  std::string c;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '_') {
      if (i == 0 || i + 1 >= t.size() || !isdigit(static_cast<unsigned char>(t[i - 1])) || !isdigit(static_cast<unsigned char>(t[i + 1]))) return std::nullopt;
      continue;
    }
    c.push_back(t[i]);
  }
  if (c.empty()) return std::nullopt;
  std::string low = lowerStr(c);
  std::string body = (low[0] == '+' || low[0] == '-') ? low.substr(1) : low;
  if (body == "inf" || body == "infinity" || body == "nan") {
    double v = body == "nan" ? NAN : INFINITY;
    return low[0] == '-' ? -v : v;
  }
  if (body.find_first_not_of("0123456789.e+-") != std::string::npos) return std::nullopt;
  char *end = nullptr;
  double v = std::strtod(c.c_str(), &end);
  if (end != c.c_str() + c.size()) return std::nullopt;
  return v;
}
std::optional<int64_t> parseInt(const std::string &s, int base) {
  std::string t = strip32(s, Value::undef(), true, true);
  std::string c;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '_') {
      if (i == 0 || i + 1 >= t.size()) return std::nullopt;
      continue;
    }
    c.push_back(t[i]);
  }
  if (c.empty()) return std::nullopt;
  size_t start = (c[0] == '+' || c[0] == '-') ? 1 : 0;
  if (start >= c.size()) return std::nullopt;
  if (base == 16 || base == 8 || base == 2 || base == 0) {
    if (c.size() > start + 1 && c[start] == '0' && strchr("xXoObB", c[start + 1])) {
      int b = strchr("xX", c[start + 1]) ? 16 : strchr("oO", c[start + 1]) ? 8 : 2;
      if (base != 0 && base != b) return std::nullopt;
      base = b;
      c.erase(start, 2);
    } else if (base == 0) {
      base = 10;
    }
  }
  for (size_t i = start; i < c.size(); ++i) {
    int d = isdigit(static_cast<unsigned char>(c[i])) ? c[i] - '0' : isalpha(static_cast<unsigned char>(c[i])) ? tolower(c[i]) - 'a' + 10 : 99;
    if (d >= base) return std::nullopt;
  }
  errno = 0;
  long long v = std::strtoll(c.c_str(), nullptr, base);
  if (errno == ERANGE) return std::nullopt;
  return v;
}

double pyRound(double x, int64_t ndigits) {
  if (!std::isfinite(x)) return x;
  // Python rounds the exact binary value half-to-even; printf does the same correctly-rounded
  // decimal conversion.
  if (ndigits >= 0 && ndigits < 300) {
    char buf[512];
    std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(ndigits), x);
    return std::strtod(buf, nullptr);
  }
  double p = std::pow(10.0, static_cast<double>(-ndigits));
  return std::nearbyint(x / p) * p;
}

int64_t floorDiv(int64_t a, int64_t b) {
  if (a == std::numeric_limits<int64_t>::min() && b == -1) failOverflow();
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
int64_t floorMod(int64_t a, int64_t b) {
  if (b == -1) return 0;
  int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

class Interp {
public:
  Interp(std::string name) : name_(std::move(name)) {}
  ~Interp() {
    // Macros capture their defining scope, which holds them: break the cycles.
    for (auto &s : captured_) s->vars.clear();
  }

  ScopeP globals() {
    auto g = std::make_shared<Scope>();
    g->vars["range"] = makeFunc("range", [](Interp &, Args &a) {
      if (!a.kw.empty()) fail("range() takes no keyword arguments");
      if (a.pos.empty() || a.pos.size() > 3) fail("range expected 1 to 3 arguments");
      for (auto &v : a.pos)
        if (!v.isIntLike()) fail(std::string("'") + typeName(v) + "' object cannot be interpreted as an integer");
      int64_t start = 0, stop, step = 1;
      if (a.pos.size() == 1) stop = a.pos[0].asInt();
      else { start = a.pos[0].asInt(); stop = a.pos[1].asInt(); }
      if (a.pos.size() == 3) step = a.pos[2].asInt();
      if (step == 0) fail("range() arg 3 must not be zero");
      std::vector<Value> out;
      for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
        if (out.size() >= 100000) fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
        out.push_back(Value::integer(i));
        if (__builtin_add_overflow(i, step, &i)) break;  // past stop either way
      }
      return Value::list(std::move(out));
    });
    auto kwDict = [](Args &a, bool ns) {
      Value d = ns ? Value::ns() : Value::dict();
      for (auto &p : a.pos) {
        if (p.k == K::Dict) {
          for (auto &kv : p.d->items) d.d->set(kv.first, kv.second);
        } else if (p.k == K::List) {
          for (auto &e : p.l->items) {
            if (e.k != K::List || e.l->items.size() != 2) fail("dictionary update sequence element has wrong length");
            d.d->set(e.l->items[0], e.l->items[1]);
          }
        } else {
          fail(std::string("'") + typeName(p) + "' object is not iterable");
        }
      }
      for (auto &kv : a.kw) d.d->set(Value::str(kv.first), kv.second);
      return d;
    };
    g->vars["namespace"] = makeFunc("namespace", [kwDict](Interp &, Args &a) { return kwDict(a, true); });
    g->vars["dict"] = makeFunc("dict", [kwDict](Interp &, Args &a) { return kwDict(a, false); });
    g->vars["raise_exception"] = makeFunc("raise_exception", [](Interp &, Args &a) -> Value {
      JinjaError e;
      e.message = pyStr(arg(a, 0, "message"));
      e.raised = true;
      throw e;
    });
    g->vars["strftime_now"] = makeFunc("strftime_now", [](Interp &, Args &a) {
      std::string fmt = strArg(a, 0, "format", "");
      std::time_t t = std::time(nullptr);
      std::tm tm{};
      localtime_r(&t, &tm);
      char buf[512];
      size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
      return Value::str(std::string(buf, n));
    });
    g->vars["joiner"] = makeFunc("joiner", [](Interp &, Args &a) {
      std::string sep = strArg(a, 0, "sep", ", ");
      auto used = std::make_shared<bool>(false);
      return makeFunc("joiner", [sep, used](Interp &, Args &) {
        if (!*used) { *used = true; return Value::str(""); }
        return Value::str(sep);
      });
    });
    return g;
  }

  std::string render(const Body &body, const ScopeP &scope) {
    std::string out;
    out_ = &out;
    execBody(body, scope);
    return out;
  }

private:
  // --- lookup -----------------------------------------------------------------------------
  Value lookup(const ScopeP &scope, const std::string &name) {
    for (Scope *s = scope.get(); s; s = s->parent.get()) {
      auto it = s->vars.find(name);
      if (it != s->vars.end()) return it->second;
    }
    return Value::undef("'" + name + "' is undefined");
  }

  Value method(const Value &self, const std::string &name) {
    auto bind = [&](std::function<Value(const Value &, Args &)> f) {
      Value captured = self;
      return makeFunc(name, [captured, f](Interp &, Args &a) { return f(captured, a); });
    };
    if (self.k == K::Str) {
      if (name == "strip" || name == "lstrip" || name == "rstrip") {
        bool l = name != "rstrip", r = name != "lstrip";
        return bind([l, r](const Value &s, Args &a) { return Value::str(strip32(s.s, arg(a, 0, "chars"), l, r)); });
      }
      if (name == "split" || name == "rsplit") {
        bool right = name == "rsplit";
        return bind([right](const Value &s, Args &a) {
          return Value::list(splitStr(s.s, arg(a, 0, "sep"), intArg(a, 1, "maxsplit", -1), right));
        });
      }
      if (name == "splitlines")
        return bind([](const Value &s, Args &a) {
          bool keep = truthy(arg(a, 0, "keepends", Value::boolean(false)));
          std::vector<Value> out;
          std::u32string u = decodeUtf8(s.s), line;
          for (size_t i = 0; i < u.size(); ++i) {
            char32_t c = u[i];
            bool brk = c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e) || c == 0x85 || c == 0x2028 || c == 0x2029;
            if (!brk) { line.push_back(c); continue; }
            std::u32string end(1, c);
            if (c == '\r' && i + 1 < u.size() && u[i + 1] == '\n') { end.push_back('\n'); ++i; }
            out.push_back(Value::str(encodeUtf8(keep ? line + end : line)));
            line.clear();
          }
          if (!line.empty()) out.push_back(Value::str(encodeUtf8(line)));
          return Value::list(std::move(out));
        });
      if (name == "startswith" || name == "endswith") {
        bool start = name == "startswith";
        return bind([start](const Value &s, Args &a) {
          Value p = arg(a, 0, "prefix");
          std::vector<Value> cands = p.k == K::List && p.l->tuple ? p.l->items : std::vector<Value>{p};
          for (auto &c : cands) {
            if (c.k != K::Str) fail(std::string(start ? "startswith" : "endswith") + " first arg must be str or a tuple of str");
            if (c.s.size() <= s.s.size() &&
                (start ? s.s.compare(0, c.s.size(), c.s) == 0 : s.s.compare(s.s.size() - c.s.size(), c.s.size(), c.s) == 0))
              return Value::boolean(true);
          }
          return Value::boolean(false);
        });
      }
      if (name == "replace")
        return bind([](const Value &s, Args &a) {
          return Value::str(replaceAll(s.s, strArg(a, 0, "old", ""), strArg(a, 1, "new", ""), intArg(a, 2, "count", -1)));
        });
      if (name == "upper") return bind([](const Value &s, Args &) { return Value::str(upperStr(s.s)); });
      if (name == "lower") return bind([](const Value &s, Args &) { return Value::str(lowerStr(s.s)); });
      if (name == "title") return bind([](const Value &s, Args &) { return Value::str(pyTitle(s.s)); });
      if (name == "capitalize") return bind([](const Value &s, Args &) { return Value::str(capitalizeStr(s.s)); });
      if (name == "find" || name == "rfind" || name == "index" || name == "rindex")
        return bind([name](const Value &s, Args &a) {
          std::string sub = strArg(a, 0, "sub", "");
          size_t f = (name[0] == 'r') ? s.s.rfind(sub) : s.s.find(sub);
          if (f == std::string::npos) {
            if (name.find("index") != std::string::npos) fail("substring not found");
            return Value::integer(-1);
          }
          return Value::integer(static_cast<int64_t>(decodeUtf8(s.s.substr(0, f)).size()));
        });
      if (name == "count")
        return bind([](const Value &s, Args &a) {
          std::string sub = strArg(a, 0, "sub", "");
          if (sub.empty()) return Value::integer(static_cast<int64_t>(decodeUtf8(s.s).size()) + 1);
          int64_t n = 0;
          for (size_t p = s.s.find(sub); p != std::string::npos; p = s.s.find(sub, p + sub.size())) ++n;
          return Value::integer(n);
        });
      if (name == "join")
        return bind([](const Value &s, Args &a) {
          std::string out;
          bool first = true;
          for (auto &e : iterate(arg(a, 0, "iterable"))) {
            if (e.k != K::Str) fail(std::string("sequence item: expected str instance, ") + typeName(e) + " found");
            if (!first) out += s.s;
            first = false;
            out += e.s;
          }
          return Value::str(out);
        });
      if (name == "format") return bind([](const Value &s, Args &a) { return Value::str(strFormat(s.s, a)); });
      if (name == "isdigit" || name == "isspace" || name == "isalpha" || name == "isalnum" ||
          name == "islower" || name == "isupper" || name == "isnumeric" || name == "isdecimal")
        return bind([name](const Value &s, Args &) {
          std::u32string u = decodeUtf8(s.s);
          if (name == "islower" || name == "isupper") {
            bool cased = false;
            for (char32_t c : u) {
              if (upper32(c) != c) { cased = true; if (name == "isupper") return Value::boolean(false); }
              if (lower32(c) != c) { cased = true; if (name == "islower") return Value::boolean(false); }
            }
            return Value::boolean(cased);
          }
          if (u.empty()) return Value::boolean(false);
          for (char32_t c : u) {
            bool ok = name == "isspace" ? isSpace32(c)
                      : name == "isalpha" ? isAlpha32(c)
                      : name == "isalnum" ? (isAlpha32(c) || isDigit32(c))
                                          : isDigit32(c);
            if (!ok) return Value::boolean(false);
          }
          return Value::boolean(true);
        });
      if (name == "zfill")
        return bind([](const Value &s, Args &a) {
          int64_t w = intArg(a, 0, "width", 0);
          std::u32string u = decodeUtf8(s.s);
          if (static_cast<int64_t>(u.size()) >= w) return s;
          checkedLength(w);
          size_t at = (!u.empty() && (u[0] == '+' || u[0] == '-')) ? 1 : 0;
          u.insert(at, std::u32string(w - u.size(), '0'));
          return Value::str(encodeUtf8(u));
        });
      if (name == "removeprefix" || name == "removesuffix")
        return bind([name](const Value &s, Args &a) {
          std::string p = strArg(a, 0, "prefix", "");
          if (name == "removeprefix" && s.s.compare(0, p.size(), p) == 0) return Value::str(s.s.substr(p.size()));
          if (name == "removesuffix" && !p.empty() && s.s.size() >= p.size() && s.s.compare(s.s.size() - p.size(), p.size(), p) == 0)
            return Value::str(s.s.substr(0, s.s.size() - p.size()));
          return s;
        });
      return Value::undef("'str object' has no attribute '" + name + "'");
    }
    if (self.k == K::Dict && !self.d->isNamespace) {
      if (name == "items")
        return bind([](const Value &d, Args &) {
          std::vector<Value> out;
          for (auto &kv : d.d->items) out.push_back(Value::list({kv.first, kv.second}, true));
          return Value::list(std::move(out));
        });
      if (name == "keys")
        return bind([](const Value &d, Args &) {
          std::vector<Value> out;
          for (auto &kv : d.d->items) out.push_back(kv.first);
          return Value::list(std::move(out));
        });
      if (name == "values")
        return bind([](const Value &d, Args &) {
          std::vector<Value> out;
          for (auto &kv : d.d->items) out.push_back(kv.second);
          return Value::list(std::move(out));
        });
      if (name == "get")
        return bind([](const Value &d, Args &a) {
          const Value *v = d.d->find(arg(a, 0, "key"));
          return v ? *v : arg(a, 1, "default", Value::none());
        });
      if (name == "copy")
        return bind([](const Value &d, Args &) {
          Value c = Value::dict();
          c.d->items = d.d->items;
          return c;
        });
      if (name == "update" || name == "pop" || name == "setdefault" || name == "clear" || name == "popitem")
        return bind([name](const Value &, Args &) -> Value {
          fail("access to attribute '" + name + "' of 'dict' object is unsafe.");
        });
      return Value::undef();
    }
    if (self.k == K::List) {
      if (name == "append")  // not allowed by transformers' immutable sandbox; kept as an extension
        return bind([](const Value &l, Args &a) {
          l.l->items.push_back(arg(a, 0, "object"));
          return Value::none();
        });
      if (name == "index")
        return bind([](const Value &l, Args &a) {
          Value x = arg(a, 0, "value");
          for (size_t i = 0; i < l.l->items.size(); ++i)
            if (pyEq(l.l->items[i], x)) return Value::integer(static_cast<int64_t>(i));
          fail(pyRepr(x) + " is not in list");
        });
      if (name == "count")
        return bind([](const Value &l, Args &a) {
          Value x = arg(a, 0, "value");
          int64_t n = 0;
          for (auto &e : l.l->items) n += pyEq(e, x);
          return Value::integer(n);
        });
      if (name == "extend" || name == "pop" || name == "insert" || name == "remove" ||
          name == "sort" || name == "reverse" || name == "clear")
        return bind([name](const Value &, Args &) -> Value {
          fail("access to attribute '" + name + "' of 'list' object is unsafe.");
        });
      return Value::undef();
    }
    return Value::undef();
  }

  Value getAttr(const Value &obj, const std::string &name) {
    switch (obj.k) {
    case K::Undef: failUndefined(obj);
    case K::Dict: {
      if (obj.d->isNamespace) {
        const Value *v = obj.d->find(name);
        return v ? *v : Value::undef("'Namespace' object has no attribute '" + name + "'");
      }
      Value m = method(obj, name);
      if (!m.isUndef()) return m;
      const Value *v = obj.d->find(name);
      return v ? *v : Value::undef("'dict object' has no attribute '" + name + "'");
    }
    case K::Str: case K::List: {
      Value m = method(obj, name);
      if (m.isUndef()) m.s = std::string("'") + typeName(obj) + " object' has no attribute '" + name + "'";
      return m;
    }
    default: return Value::undef(std::string("'") + typeName(obj) + " object' has no attribute '" + name + "'");
    }
  }

  Value getItem(const Value &obj, const Value &key) {
    switch (obj.k) {
    case K::Undef: failUndefined(obj);
    case K::Dict: {
      if (obj.d->isNamespace) return key.k == K::Str ? getAttr(obj, key.s) : Value::undef();
      const Value *v = obj.d->find(key);
      if (v) return *v;
      if (key.k == K::Str) {
        Value m = method(obj, key.s);
        if (!m.isUndef()) return m;
      }
      return Value::undef("'dict object' has no attribute " + pyRepr(key));
    }
    case K::List: case K::Str: {
      if (obj.k == K::List && obj.l->gen) return Value::undef("'generator' object is not subscriptable");
      if (key.isIntLike()) {
        int64_t idx = key.asInt();
        if (obj.k == K::List) {
          int64_t n = static_cast<int64_t>(obj.l->items.size());
          if (idx < 0) idx += n;
          if (idx < 0 || idx >= n) return Value::undef(std::string("'") + typeName(obj) + " object' has no attribute " + std::to_string(key.asInt()));
          return obj.l->items[idx];
        }
        std::u32string u = decodeUtf8(obj.s);
        int64_t n = static_cast<int64_t>(u.size());
        if (idx < 0) idx += n;
        if (idx < 0 || idx >= n) return Value::undef("'str object' has no attribute " + std::to_string(key.asInt()));
        std::string s;
        appendUtf8(s, u[idx]);
        return Value::str(s);
      }
      if (key.k == K::Str) return getAttr(obj, key.s);
      return Value::undef();
    }
    default: return Value::undef(std::string("'") + typeName(obj) + " object' has no attribute " + pyRepr(key));
    }
  }

  Value slice(const Value &obj, const Value &a, const Value &b, const Value &c) {
    if (obj.k == K::Undef) failUndefined(obj);
    if (obj.k == K::List) {
      if (obj.l->gen) return Value::undef("'generator' object is not subscriptable");
      std::vector<Value> out;
      for (int64_t i : sliceIndices(static_cast<int64_t>(obj.l->items.size()), a, b, c)) out.push_back(obj.l->items[i]);
      return Value::list(std::move(out), obj.l->tuple);
    }
    if (obj.k == K::Str) {
      std::u32string u = decodeUtf8(obj.s), out;
      for (int64_t i : sliceIndices(static_cast<int64_t>(u.size()), a, b, c)) out.push_back(u[i]);
      return Value::str(encodeUtf8(out));
    }
    return Value::undef(std::string("'") + typeName(obj) + "' object is not subscriptable");
  }

  // "a.b.0" attribute paths of sort/map/selectattr/... (items first, like environment.getitem).
  Value attrPath(const Value &obj, const Value &attribute) {
    if (attribute.isIntLike()) return getItem(obj, attribute);
    if (attribute.k != K::Str) fail("attribute must be a string or integer");
    Value v = obj;
    size_t pos = 0;
    const std::string &path = attribute.s;
    while (true) {
      size_t dot = path.find('.', pos);
      std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
      bool digits = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
      v = digits ? getItem(v, Value::integer(std::stoll(part))) : getItem(v, Value::str(part));
      if (dot == std::string::npos) break;
      if (v.isUndef()) break;  // undefined propagates without an error (as getitem on Undefined would fail)
      pos = dot + 1;
    }
    return v;
  }

  Value call(const Value &f, Args &a) {
    if (f.k == K::Func) {
      if (++depth_ > 100) fail("maximum recursion depth exceeded");
      Value r = f.fn->call(*this, a);
      --depth_;
      return r;
    }
    if (f.k == K::Undef) failUndefined(f);
    fail(std::string("'") + typeName(f) + "' object is not callable");
  }

  Value makeMacro(const std::shared_ptr<Macro> &m, const ScopeP &scope, bool usesVarargs, bool usesKwargs) {
    captured_.push_back(scope);
    return makeFunc(m->name, [m, scope, usesVarargs, usesKwargs](Interp &in, Args &a) {
      ScopeP s = child(scope);
      size_t n = m->params.size();
      std::vector<bool> set(n, false);
      for (size_t i = 0; i < a.pos.size() && i < n; ++i) {
        s->vars[m->params[i]] = a.pos[i];
        set[i] = true;
      }
      std::vector<Value> extra;
      for (size_t i = n; i < a.pos.size(); ++i) extra.push_back(a.pos[i]);
      if (!extra.empty() && !usesVarargs)
        fail("macro '" + m->name + "' takes not more than " + std::to_string(n) + " argument(s)");
      Value kwargs = Value::dict();
      Value caller;
      for (auto &kv : a.kw) {
        auto it = std::find(m->params.begin(), m->params.end(), kv.first);
        if (it != m->params.end()) {
          size_t i = it - m->params.begin();
          if (set[i]) fail("macro '" + m->name + "' got multiple values for argument '" + kv.first + "'");
          s->vars[kv.first] = kv.second;
          set[i] = true;
        } else if (kv.first == "caller") {
          caller = kv.second;
        } else {
          if (!usesKwargs) fail("macro '" + m->name + "' takes no keyword argument '" + kv.first + "'");
          kwargs.d->set(Value::str(kv.first), kv.second);
        }
      }
      for (size_t i = 0; i < n; ++i) {
        if (set[i]) continue;
        s->vars[m->params[i]] = m->defaults[i] ? in.eval(*m->defaults[i], s)
                                               : Value::undef("parameter '" + m->params[i] + "' was not provided");
      }
      s->vars["varargs"] = Value::list(std::move(extra), true);
      s->vars["kwargs"] = kwargs;
      if (!caller.isUndef()) s->vars["caller"] = caller;
      std::string buf;
      std::string *saved = in.out_;
      in.out_ = &buf;
      try {
        in.execBody(m->body, s);
      } catch (...) {
        in.out_ = saved;
        throw;
      }
      in.out_ = saved;
      return Value::str(buf);
    });
  }

  // --- expressions ------------------------------------------------------------------------
public:
  Value eval(const Expr &e, const ScopeP &scope) {
    tick();
    try {
      Value v = evalInner(e, scope);
      // Strings are values (copied by every lookup and operation): 256 bytes count as a step, so
      // that building long strings piece by piece (quadratic) stays within the budget.
      if (v.k == K::Str) tick(v.s.size() >> 8);
      return v;
    } catch (JinjaError &err) {
      if (!err.line) err.line = e.line;
      throw;
    }
  }

private:
  Args evalArgs(const Expr &e, const ScopeP &scope, size_t skip) {
    Args a;
    for (size_t i = skip; i < e.args.size(); ++i) a.pos.push_back(eval(*e.args[i], scope));
    for (auto &kv : e.kwargs) a.kw.emplace_back(kv.first, eval(*kv.second, scope));
    if (e.dynArgs)
      for (auto &v : iterate(eval(*e.dynArgs, scope))) a.pos.push_back(v);
    if (e.dynKwargs) {
      Value d = eval(*e.dynKwargs, scope);
      if (d.k != K::Dict) fail("argument after ** must be a mapping");
      for (auto &kv : d.d->items) a.kw.emplace_back(pyStr(kv.first), kv.second);
    }
    return a;
  }

  Value binaryOp(const std::string &op, const Value &a, const Value &b) {
    if (a.isUndef()) failUndefined(a);
    if (b.isUndef()) failUndefined(b);
    auto typeErr = [&]() -> Value {
      fail("unsupported operand type(s) for " + op + ": '" + typeName(a) + "' and '" + typeName(b) + "'");
    };
    if ((a.k == K::List && a.l->gen) || (b.k == K::List && b.l->gen)) typeErr();
    bool bothInt = a.isIntLike() && b.isIntLike();
    bool bothNum = a.isNum() && b.isNum();
    if (op == "+") {
      if (bothInt) return Value::integer(checkedAdd(a.asInt(), b.asInt()));
      if (bothNum) return Value::flt(a.asFloat() + b.asFloat());
      if (a.k == K::Str && b.k == K::Str) {
        checkedLength(static_cast<int64_t>(a.s.size() + b.s.size()));
        return Value::str(a.s + b.s);
      }
      if (a.k == K::List && b.k == K::List && a.l->tuple == b.l->tuple) {
        checkedLength(static_cast<int64_t>(a.l->items.size() + b.l->items.size()));
        std::vector<Value> out = a.l->items;
        out.insert(out.end(), b.l->items.begin(), b.l->items.end());
        return Value::list(std::move(out), a.l->tuple);
      }
      if (a.k == K::Str || b.k == K::Str)
        fail(std::string("can only concatenate str (not \"") + typeName(a.k == K::Str ? b : a) + "\") to str");
      return typeErr();
    }
    if (op == "-") {
      if (bothInt) return Value::integer(checkedSub(a.asInt(), b.asInt()));
      if (bothNum) return Value::flt(a.asFloat() - b.asFloat());
      return typeErr();
    }
    if (op == "*") {
      if (bothInt) return Value::integer(checkedMul(a.asInt(), b.asInt()));
      if (bothNum) return Value::flt(a.asFloat() * b.asFloat());
      const Value *seq = nullptr, *cnt = nullptr;
      if ((a.k == K::Str || a.k == K::List) && b.isIntLike()) { seq = &a; cnt = &b; }
      if ((b.k == K::Str || b.k == K::List) && a.isIntLike()) { seq = &b; cnt = &a; }
      if (!seq) return typeErr();
      int64_t n = std::max<int64_t>(0, cnt->asInt());
      if (seq->k == K::Str ? seq->s.empty() : seq->l->items.empty()) n = 0;  // nothing to repeat
      if (seq->k == K::Str) {
        if (!seq->s.empty() && n > (1 << 26) / static_cast<int64_t>(seq->s.size())) fail("repeated string too large");
        std::string out;
        for (int64_t i = 0; i < n; ++i) out += seq->s;
        return Value::str(out);
      }
      if (!seq->l->items.empty() && n > (1 << 22) / static_cast<int64_t>(seq->l->items.size())) fail("repeated list too large");
      std::vector<Value> out;
      for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq->l->items.begin(), seq->l->items.end());
      return Value::list(std::move(out), seq->l->tuple);
    }
    if (op == "/") {
      if (!bothNum) return typeErr();
      if (b.asFloat() == 0) fail("division by zero");
      return Value::flt(a.asFloat() / b.asFloat());
    }
    if (op == "//") {
      if (!bothNum) return typeErr();
      if (b.asFloat() == 0) fail("integer division or modulo by zero");
      if (bothInt) return Value::integer(floorDiv(a.asInt(), b.asInt()));
      return Value::flt(std::floor(a.asFloat() / b.asFloat()));
    }
    if (op == "%") {
      if (a.k == K::Str) return Value::str(percentFormat(a.s, b));
      if (!bothNum) return typeErr();
      if (b.asFloat() == 0) fail("integer division or modulo by zero");
      if (bothInt) return Value::integer(floorMod(a.asInt(), b.asInt()));
      double m = std::fmod(a.asFloat(), b.asFloat());
      if (m != 0 && ((m < 0) != (b.asFloat() < 0))) m += b.asFloat();
      return Value::flt(m);
    }
    if (op == "**") {
      if (!bothNum) return typeErr();
      if (bothInt && b.asInt() >= 0) {
        // By squaring: a squared base that overflows while exponent bits remain means the
        // result overflows too (|base| >= 2 then).
        int64_t r = 1, base = a.asInt(), exp = b.asInt();
        while (exp > 0) {
          if ((exp & 1) && __builtin_mul_overflow(r, base, &r)) failOverflow();
          exp >>= 1;
          if (exp > 0 && __builtin_mul_overflow(base, base, &base)) failOverflow();
        }
        return Value::integer(r);
      }
      return Value::flt(std::pow(a.asFloat(), b.asFloat()));
    }
    fail("unknown operator " + op);
  }

  bool compare(const std::string &op, const Value &a, const Value &b) {
    if (op == "==") return pyEq(a, b);
    if (op == "!=") return !pyEq(a, b);
    if (op == "in") return contains(b, a);
    if (op == "notin") return !contains(b, a);
    if (a.isUndef()) failUndefined(a);
    if (b.isUndef()) failUndefined(b);
    if (op == "<") return pyLess(a, b);
    if (op == ">") return pyLess(b, a);
    if (op == "<=") return pyLess(a, b) || pyEq(a, b);
    if (op == ">=") return pyLess(b, a) || pyEq(a, b);
    fail("unknown comparison " + op);
  }

  Value evalInner(const Expr &e, const ScopeP &scope) {
    switch (e.kind) {
    case E::Const: return e.value;
    case E::Name: return lookup(scope, e.name);
    case E::List: case E::Tuple: {
      std::vector<Value> items;
      for (auto &x : e.args) items.push_back(eval(*x, scope));
      return Value::list(std::move(items), e.kind == E::Tuple);
    }
    case E::Dict: {
      Value d = Value::dict();
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i], scope);
        if (k.k == K::List && !k.l->tuple) fail("unhashable type: 'list'");
        if (k.k == K::Dict) fail("unhashable type: 'dict'");
        d.d->set(k, eval(*e.args[i + 1], scope));
      }
      return d;
    }
    case E::Attr: return getAttr(eval(*e.args[0], scope), e.name);
    case E::Item: return getItem(eval(*e.args[0], scope), eval(*e.args[1], scope));
    case E::Slice: {
      auto opt = [&](const ExprP &x) { return x ? eval(*x, scope) : Value::none(); };
      return slice(eval(*e.args[0], scope), opt(e.args[1]), opt(e.args[2]), opt(e.args[3]));
    }
    case E::Call: {
      Value f = eval(*e.args[0], scope);
      Args a = evalArgs(e, scope, 1);
      return call(f, a);
    }
    case E::Filter: {
      Value in = e.args[0] ? eval(*e.args[0], scope) : Value::undef();
      Args a = evalArgs(e, scope, 1);
      return filter(e.name, in, a);
    }
    case E::Test: {
      Value in = eval(*e.args[0], scope);
      Args a = evalArgs(e, scope, 1);
      return Value::boolean(test(e.name, in, a));
    }
    case E::Neg: case E::Pos: {
      Value v = eval(*e.args[0], scope);
      if (v.isUndef()) failUndefined(v);
      if (!v.isNum()) fail(std::string("bad operand type for unary ") + (e.kind == E::Neg ? "-" : "+") + ": '" + typeName(v) + "'");
      if (e.kind == E::Pos) return v.k == K::Float ? v : Value::integer(v.asInt());
      return v.k == K::Float ? Value::flt(-v.f) : Value::integer(checkedSub(0, v.asInt()));
    }
    case E::Not: return Value::boolean(!truthy(eval(*e.args[0], scope)));
    case E::And: {
      Value l = eval(*e.args[0], scope);
      return truthy(l) ? eval(*e.args[1], scope) : l;
    }
    case E::Or: {
      Value l = eval(*e.args[0], scope);
      return truthy(l) ? l : eval(*e.args[1], scope);
    }
    case E::Binary: return binaryOp(e.name, eval(*e.args[0], scope), eval(*e.args[1], scope));
    case E::Concat: {
      std::string s;
      for (auto &x : e.args) s += pyStr(eval(*x, scope));
      return Value::str(s);
    }
    case E::Compare: {
      Value l = eval(*e.args[0], scope);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value r = eval(*e.args[i + 1], scope);
        if (!compare(e.ops[i], l, r)) return Value::boolean(false);
        l = r;
      }
      return Value::boolean(true);
    }
    case E::Cond:
      if (truthy(eval(*e.args[1], scope))) return eval(*e.args[0], scope);
      return e.args[2] ? eval(*e.args[2], scope) : Value::undef("the inline if-expression evaluated to false and no else section was defined.");
    }
    fail("bad expression");
  }

  // Applies a filter chain whose innermost operand is null to `input`.
  Value applyChain(const Expr &e, const Value &input, const ScopeP &scope) {
    Value in = e.args[0] ? applyChain(*e.args[0], input, scope) : input;
    Args a = evalArgs(e, scope, 1);
    try {
      return filter(e.name, in, a);
    } catch (JinjaError &err) {
      if (!err.line) err.line = e.line;
      throw;
    }
  }

  // --- tests ------------------------------------------------------------------------------
  bool test(const std::string &name, const Value &v, Args &a) {
    if (name == "defined") return !v.isUndef();
    if (name == "undefined") return v.isUndef();
    if (name == "none") return v.k == K::None;
    if (name == "boolean") return v.k == K::Bool;
    if (name == "true") return v.k == K::Bool && v.b;
    if (name == "false") return v.k == K::Bool && !v.b;
    if (name == "string") return v.k == K::Str;
    if (name == "number") return v.isNum();
    if (name == "integer") return v.k == K::Int;
    if (name == "float") return v.k == K::Float;
    if (name == "mapping") return v.k == K::Dict && !v.d->isNamespace;
    if (name == "iterable") return v.k == K::Undef || v.k == K::Str || v.k == K::List || (v.k == K::Dict && !v.d->isNamespace);
    if (name == "sequence") return v.k == K::Undef || v.k == K::Str || (v.k == K::List && !v.l->gen) || (v.k == K::Dict && !v.d->isNamespace);
    if (name == "callable") return v.k == K::Func;
    if (name == "escaped") return false;
    if (name == "even" || name == "odd") {
      if (v.isUndef()) failUndefined(v);
      if (!v.isNum()) fail(std::string("unsupported operand type(s) for %: '") + typeName(v) + "' and 'int'");
      bool even = v.k == K::Float ? std::fmod(v.f, 2.0) == 0 : floorMod(v.asInt(), 2) == 0;
      return name == "even" ? even : !even;
    }
    if (name == "divisibleby") {
      Value n = arg(a, 0, "num");
      Value r = binaryOp("%", v, n);
      return !truthy(r);
    }
    if (name == "lower" || name == "upper") {
      std::u32string u = decodeUtf8(pyStr(v));
      bool cased = false;
      for (char32_t c : u) {
        if (upper32(c) != c) { cased = true; if (name == "upper") return false; }
        if (lower32(c) != c) { cased = true; if (name == "lower") return false; }
      }
      return cased;
    }
    if (name == "filter") return v.k == K::Str && knownFilters().count(v.s);
    if (name == "test") return v.k == K::Str && knownTests().count(v.s);
    Value o = arg(a, 0, "other");
    if (name == "eq" || name == "equalto" || name == "==") return compare("==", v, o);
    if (name == "ne" || name == "!=") return compare("!=", v, o);
    if (name == "lt" || name == "lessthan" || name == "<") return compare("<", v, o);
    if (name == "le" || name == "<=") return compare("<=", v, o);
    if (name == "gt" || name == "greaterthan" || name == ">") return compare(">", v, o);
    if (name == "ge" || name == ">=") return compare(">=", v, o);
    if (name == "in") return contains(arg(a, 0, "seq"), v);
    if (name == "sameas") {
      if (v.k != o.k) return false;
      if (v.k == K::List) return v.l == o.l;
      if (v.k == K::Dict) return v.d == o.d;
      if (v.k == K::Func) return v.fn == o.fn;
      return pyEq(v, o);
    }
    fail("no test named '" + name + "'");
  }

  // select/reject: the test of args[first:], or truthiness.
  bool selectTest(const Value &v, Args &a, size_t first) {
    if (a.pos.size() <= first) return truthy(v);
    Value t = a.pos[first];
    if (t.k != K::Str) fail("test name must be a string");
    std::string name = t.s;
    if (!knownTests().count(name)) fail("No test named '" + name + "'.");
    Args rest;
    rest.pos.assign(a.pos.begin() + first + 1, a.pos.end());
    rest.kw = a.kw;
    return test(name, v, rest);
  }

  std::vector<Value> sortedItems(std::vector<Value> items, bool reverse, bool caseSensitive, const Value &attribute) {
    std::vector<std::pair<Value, size_t>> keyed;
    auto keyOf = [&](const Value &x) {
      if (attribute.isUndef() || attribute.k == K::None) return x;
      return attrPath(x, attribute);
    };
    for (size_t i = 0; i < items.size(); ++i) {
      Value k;
      if (attribute.k == K::Str && attribute.s.find(',') != std::string::npos) {
        std::vector<Value> parts;
        for (auto &p : splitStr(attribute.s, Value::str(","), -1, false))
          parts.push_back(attrPath(items[i], Value::str(strip32(p.s, Value::undef(), true, true))));
        k = Value::list(std::move(parts), true);
      } else {
        k = keyOf(items[i]);
      }
      if (!caseSensitive) {
        if (k.k == K::Str) k = Value::str(lowerStr(k.s));
        else if (k.k == K::List) {
          std::vector<Value> lk = k.l->items;
          for (auto &x : lk) if (x.k == K::Str) x = Value::str(lowerStr(x.s));
          k = Value::list(std::move(lk), true);
        }
      }
      if (k.isUndef()) failUndefined(k);
      keyed.emplace_back(k, i);
    }
    std::stable_sort(keyed.begin(), keyed.end(), [&](auto &x, auto &y) {
      return reverse ? pyLess(y.first, x.first) : pyLess(x.first, y.first);
    });
    std::vector<Value> out;
    for (auto &kv : keyed) out.push_back(items[kv.second]);
    return out;
  }

  // --- filters ----------------------------------------------------------------------------
  // Filters that return generators in Jinja (no len(), always truthy, not subscriptable).
  Value filter(const std::string &name, const Value &v, Args &a) {
    Value r = filterImpl(name, v, a);
    bool gen = name == "map" || name == "select" || name == "reject" || name == "selectattr" ||
               name == "rejectattr" || name == "unique" || name == "items" || name == "batch" ||
               (name == "reverse" && v.k == K::List && !v.l->gen);
    if (gen && r.k == K::List) r.l->gen = true;
    return r;
  }

  Value filterImpl(const std::string &name, const Value &v, Args &a) {
    if (name == "trim") return Value::str(strip32(pyStr(v), arg(a, 0, "chars"), true, true));
    if (name == "length" || name == "count") return Value::integer(pyLen(v));
    if (name == "tojson") {
      JsonOpts o;
      Value indent = arg(a, 0, "indent");
      if (indent.isIntLike()) {
        o.hasIndent = true;
        o.indent = std::string(checkedLength(indent.asInt()), ' ');
      } else if (indent.k == K::Str) {
        o.hasIndent = true;
        o.indent = indent.s;
      }
      if (o.hasIndent) o.itemSep = ",";
      Value seps;
      for (auto &kv : a.kw) {
        if (kv.first == "separators") seps = kv.second;
        else if (kv.first == "sort_keys") o.sortKeys = truthy(kv.second);
        else if (kv.first == "ensure_ascii") o.ensureAscii = truthy(kv.second);
      }
      if (seps.k == K::List && seps.l->items.size() == 2 && seps.l->items[0].k == K::Str && seps.l->items[1].k == K::Str) {
        o.itemSep = seps.l->items[0].s;
        o.keySep = seps.l->items[1].s;
      }
      std::string out;
      dumpJson(out, v, o, 0);
      return Value::str(out);
    }
    if (name == "upper") return Value::str(upperStr(pyStr(v)));
    if (name == "lower") return Value::str(lowerStr(pyStr(v)));
    if (name == "capitalize") return Value::str(capitalizeStr(pyStr(v)));
    if (name == "title") {
      std::u32string u = decodeUtf8(pyStr(v)), out;
      auto isSep = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || isSpace32(c); };
      size_t i = 0;
      while (i < u.size()) {
        size_t j = i;
        bool sep = isSep(u[i]);
        while (j < u.size() && isSep(u[j]) == sep) ++j;
        for (size_t k = i; k < j; ++k) out.push_back(k == i ? upper32(u[k]) : lower32(u[k]));
        i = j;
      }
      return Value::str(encodeUtf8(out));
    }
    if (name == "replace") {
      Value count = arg(a, 2, "count");
      return Value::str(replaceAll(pyStr(v), pyStr(arg(a, 0, "old")), pyStr(arg(a, 1, "new")),
                                   count.isIntLike() ? count.asInt() : -1));
    }
    if (name == "join") {
      std::string sep = pyStr(arg(a, 0, "d", Value::str("")));
      Value attribute = arg(a, 1, "attribute");
      std::string out;
      bool first = true;
      for (auto &e : iterate(v)) {
        if (!first) out += sep;
        first = false;
        out += pyStr(attribute.isUndef() || attribute.k == K::None ? e : attrPath(e, attribute));
      }
      return Value::str(out);
    }
    if (name == "default" || name == "d") {
      Value def = arg(a, 0, "default_value", Value::str(""));
      bool boolean = truthy(arg(a, 1, "boolean", Value::boolean(false)));
      if (v.isUndef() || (boolean && !truthy(v))) return def;
      return v;
    }
    if (name == "first") {
      auto items = iterate(v);
      return items.empty() ? Value::undef("No first item, sequence was empty.") : items.front();
    }
    if (name == "last") {
      if (v.isUndef()) return Value::undef("No last item, sequence was empty.");
      if (v.k == K::List && v.l->gen) fail("'generator' object is not reversible");
      auto items = iterate(v);
      return items.empty() ? Value::undef("No last item, sequence was empty.") : items.back();
    }
    if (name == "list") return Value::list(iterate(v));
    if (name == "string") return Value::str(pyStr(v));
    if (name == "safe") return v;
    if (name == "e" || name == "escape" || name == "forceescape") return Value::str(htmlEscape(pyStr(v)));
    if (name == "pprint") return Value::str(pyRepr(v));
    if (name == "int") {
      Value def = arg(a, 0, "default", Value::integer(0));
      int64_t base = intArg(a, 1, "base", 10);
      if (v.k == K::Int) return v;
      if (v.k == K::Bool) return Value::integer(v.b);
      if (v.k == K::Float) return std::isfinite(v.f) ? Value::integer(floatToInt(v.f)) : def;
      if (v.k == K::Str) {
        if (auto i = parseInt(v.s, static_cast<int>(base))) return Value::integer(*i);
        if (auto f = parseFloat(v.s)) if (std::isfinite(*f)) return Value::integer(floatToInt(*f));
      }
      return def;
    }
    if (name == "float") {
      Value def = arg(a, 0, "default", Value::flt(0.0));
      if (v.isNum()) return Value::flt(v.asFloat());
      if (v.k == K::Str)
        if (auto f = parseFloat(v.s)) return Value::flt(*f);
      return def;
    }
    if (name == "abs") {
      if (v.isUndef()) failUndefined(v);
      if (v.k == K::Float) return Value::flt(std::fabs(v.f));
      if (v.isIntLike()) return Value::integer(v.asInt() < 0 ? checkedSub(0, v.asInt()) : v.asInt());
      fail(std::string("bad operand type for abs(): '") + typeName(v) + "'");
    }
    if (name == "round") {
      int64_t prec = intArg(a, 0, "precision", 0);
      std::string method = strArg(a, 1, "method", "common");
      if (v.isUndef()) failUndefined(v);
      if (!v.isNum()) fail(std::string("type ") + typeName(v) + " doesn't define __round__ method");
      if (method == "common") {
        if (v.isIntLike()) return Value::integer(v.asInt());
        return Value::flt(pyRound(v.f, prec));
      }
      if (method != "floor" && method != "ceil") fail("method must be common, ceil or floor");
      double p = std::pow(10.0, static_cast<double>(prec));
      double x = v.asFloat() * p;
      return Value::flt((method == "floor" ? std::floor(x) : std::ceil(x)) / p);
    }
    if (name == "items") {
      if (v.isUndef()) return Value::list();
      if (v.k != K::Dict || v.d->isNamespace) fail("Can only get item pairs from a mapping.");
      std::vector<Value> out;
      for (auto &kv : v.d->items) out.push_back(Value::list({kv.first, kv.second}, true));
      return Value::list(std::move(out));
    }
    if (name == "dictsort") {
      if (v.k != K::Dict || v.d->isNamespace) fail("You can only sort by either \"key\" or \"value\"");
      bool cs = truthy(arg(a, 0, "case_sensitive", Value::boolean(false)));
      std::string by = strArg(a, 1, "by", "key");
      bool rev = truthy(arg(a, 2, "reverse", Value::boolean(false)));
      std::vector<Value> items;
      for (auto &kv : v.d->items) items.push_back(Value::list({kv.first, kv.second}, true));
      return Value::list(sortedItems(items, rev, cs, Value::integer(by == "value" ? 1 : 0)));
    }
    if (name == "unique") {
      bool cs = truthy(arg(a, 0, "case_sensitive", Value::boolean(false)));
      Value attribute = arg(a, 1, "attribute");
      std::vector<Value> out, seen;
      for (auto &e : iterate(v)) {
        Value k = attribute.isUndef() || attribute.k == K::None ? e : attrPath(e, attribute);
        if (!cs && k.k == K::Str) k = Value::str(lowerStr(k.s));
        bool dup = false;
        for (auto &s : seen) if (pyEq(s, k)) { dup = true; break; }
        if (dup) continue;
        seen.push_back(k);
        out.push_back(e);
      }
      return Value::list(std::move(out));
    }
    if (name == "map") {
      std::vector<Value> out;
      Value attribute = arg(a, 99, "attribute");
      if (!attribute.isUndef()) {
        Value def = arg(a, 99, "default");
        for (auto &e : iterate(v)) {
          Value r = attrPath(e, attribute);
          out.push_back(r.isUndef() && !def.isUndef() ? def : r);
        }
        return Value::list(std::move(out));
      }
      if (a.pos.empty() || a.pos[0].k != K::Str) fail("map requires a filter name or attribute=");
      std::string f = a.pos[0].s;
      if (!knownFilters().count(f)) fail("No filter named '" + f + "'.");
      Args rest;
      rest.pos.assign(a.pos.begin() + 1, a.pos.end());
      rest.kw = a.kw;
      for (auto &e : iterate(v)) out.push_back(filter(f, e, rest));
      return Value::list(std::move(out));
    }
    if (name == "select" || name == "reject") {
      std::vector<Value> out;
      for (auto &e : iterate(v))
        if (selectTest(e, a, 0) == (name == "select")) out.push_back(e);
      return Value::list(std::move(out));
    }
    if (name == "selectattr" || name == "rejectattr") {
      if (a.pos.empty()) fail("Missing parameter for attribute name");
      std::vector<Value> out;
      for (auto &e : iterate(v))
        if (selectTest(attrPath(e, a.pos[0]), a, 1) == (name == "selectattr")) out.push_back(e);
      return Value::list(std::move(out));
    }
    if (name == "sort") {
      bool rev = truthy(arg(a, 0, "reverse", Value::boolean(false)));
      bool cs = truthy(arg(a, 1, "case_sensitive", Value::boolean(false)));
      return Value::list(sortedItems(iterate(v), rev, cs, arg(a, 2, "attribute")));
    }
    if (name == "reverse") {
      if (v.k == K::Str) {
        std::u32string u = decodeUtf8(v.s);
        std::reverse(u.begin(), u.end());
        return Value::str(encodeUtf8(u));
      }
      auto items = iterate(v);
      std::reverse(items.begin(), items.end());
      return Value::list(std::move(items));
    }
    if (name == "indent") {
      Value w = arg(a, 0, "width", Value::integer(4));
      std::string ind = w.k == K::Str ? w.s : std::string(checkedLength(w.isIntLike() ? w.asInt() : 4), ' ');
      bool first = truthy(arg(a, 1, "first", Value::boolean(false)));
      bool blank = truthy(arg(a, 2, "blank", Value::boolean(false)));
      std::string s = pyStr(v) + "\n";
      Value lines = method(Value::str(s), "splitlines");
      Args none;
      std::vector<Value> ls = call(lines, none).l->items;
      std::string rv;
      if (blank) {
        for (size_t i = 0; i < ls.size(); ++i) rv += (i ? "\n" + ind : "") + ls[i].s;
      } else {
        rv = ls.empty() ? "" : ls[0].s;
        for (size_t i = 1; i < ls.size(); ++i) rv += "\n" + (ls[i].s.empty() ? "" : ind + ls[i].s);
      }
      if (first) rv = ind + rv;
      return Value::str(rv);
    }
    if (name == "wordcount") {
      std::u32string u = decodeUtf8(pyStr(v));
      int64_t n = 0;
      bool in = false;
      for (char32_t c : u) {
        bool w = isWord32(c);
        if (w && !in) ++n;
        in = w;
      }
      return Value::integer(n);
    }
    if (name == "center") {
      int64_t width = intArg(a, 0, "width", 80);
      std::u32string u = decodeUtf8(pyStr(v));
      if (static_cast<int64_t>(u.size()) >= width) return Value::str(pyStr(v));
      int64_t pad = static_cast<int64_t>(checkedLength(width)) - static_cast<int64_t>(u.size());
      int64_t left = pad / 2 + (pad & width & 1);
      return Value::str(std::string(left, ' ') + pyStr(v) + std::string(pad - left, ' '));
    }
    if (name == "format") {
      if (!a.kw.empty() && !a.pos.empty()) fail("can't handle positional and keyword arguments at the same time");
      if (!a.kw.empty()) {
        Value d = Value::dict();
        for (auto &kv : a.kw) d.d->set(Value::str(kv.first), kv.second);
        return Value::str(percentFormat(pyStr(v), d));
      }
      return Value::str(percentFormat(pyStr(v), Value::list(a.pos, true)));
    }
    if (name == "attr") return getAttr(v, pyStr(arg(a, 0, "name")));
    if (name == "sum") {
      Value attribute = arg(a, 0, "attribute");
      Value total = arg(a, 1, "start", Value::integer(0));
      for (auto &e : iterate(v))
        total = binaryOp("+", total, attribute.isUndef() || attribute.k == K::None ? e : attrPath(e, attribute));
      return total;
    }
    if (name == "min" || name == "max") {
      bool cs = truthy(arg(a, 0, "case_sensitive", Value::boolean(false)));
      auto items = sortedItems(iterate(v), false, cs, arg(a, 1, "attribute"));
      if (items.empty()) return Value::undef(std::string("No aggregated item, sequence was empty."));
      if (name == "min") return items.front();
      // max: the first of the maximal elements, as Python's max does
      auto rev = sortedItems(iterate(v), true, cs, arg(a, 1, "attribute"));
      return rev.front();
    }
    if (name == "batch") {
      int64_t n = intArg(a, 0, "linecount", 1);
      if (n <= 0) fail("batch size must be positive");
      Value fill = arg(a, 1, "fill_with");
      std::vector<Value> out, cur;
      for (auto &e : iterate(v)) {
        cur.push_back(e);
        if (static_cast<int64_t>(cur.size()) == n) { out.push_back(Value::list(cur)); cur.clear(); }
      }
      if (!cur.empty()) {
        if (!fill.isUndef() && fill.k != K::None)
          while (static_cast<int64_t>(cur.size()) < n) cur.push_back(fill);
        out.push_back(Value::list(cur));
      }
      return Value::list(std::move(out));
    }
    if (name == "truncate") {
      std::string s = pyStr(v);
      int64_t length = intArg(a, 0, "length", 255);
      bool killwords = truthy(arg(a, 1, "killwords", Value::boolean(false)));
      std::string end = strArg(a, 2, "end", "...");
      int64_t leeway = intArg(a, 3, "leeway", 5);
      std::u32string u = decodeUtf8(s), e = decodeUtf8(end);
      if (static_cast<int64_t>(u.size()) <= length + leeway) return Value::str(s);
      int64_t keep = std::max<int64_t>(0, length - static_cast<int64_t>(e.size()));
      std::u32string r = u.substr(0, keep);
      if (!killwords) {
        size_t sp = r.rfind(U' ');
        if (sp != std::u32string::npos) r = r.substr(0, sp);
      }
      return Value::str(encodeUtf8(r) + end);
    }
    fail("no filter named '" + name + "'");
  }

  // --- statements -------------------------------------------------------------------------
  void assign(const Target &t, const Value &v, const ScopeP &scope) {
    if (t.tuple) {
      auto items = iterate(v);
      if (items.size() < t.items.size()) fail("not enough values to unpack (expected " + std::to_string(t.items.size()) + ", got " + std::to_string(items.size()) + ")");
      if (items.size() > t.items.size()) fail("too many values to unpack (expected " + std::to_string(t.items.size()) + ")");
      for (size_t i = 0; i < items.size(); ++i) assign(t.items[i], items[i], scope);
      return;
    }
    if (!t.attr.empty()) {
      Value obj = lookup(scope, t.name);
      if (obj.k != K::Dict || !obj.d->isNamespace) fail("cannot assign attribute on non-namespace object");
      obj.d->set(Value::str(t.attr), v);
      return;
    }
    scope->vars[t.name] = v;
  }

  std::string capture(const Body &body, const ScopeP &scope) {
    std::string buf;
    std::string *saved = out_;
    out_ = &buf;
    try {
      execBody(body, scope);
    } catch (...) {
      out_ = saved;
      throw;
    }
    out_ = saved;
    return buf;
  }

  Flow execBody(const Body &body, const ScopeP &scope) {
    for (auto &n : body) {
      Flow f;
      try {
        f = exec(*n, scope);
      } catch (JinjaError &err) {
        if (!err.line) err.line = n->line;
        throw;
      }
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  Flow exec(const Node &n, const ScopeP &scope) {
    tick();
    if (out_->size() > static_cast<size_t>(kMaxLength)) fail("rendered text too large (more than " + std::to_string(kMaxLength) + " bytes)");
    switch (n.kind) {
    case N::Text: *out_ += n.text; return Flow::Normal;
    case N::Print: *out_ += pyStr(eval(*n.expr, scope)); return Flow::Normal;
    case N::If:
      for (auto &br : n.branches)
        if (truthy(eval(*br.first, scope))) return execBody(br.second, scope);
      return execBody(n.elseBody, scope);
    case N::For: return execFor(n, scope);
    case N::Set: assign(n.target, eval(*n.expr, scope), scope); return Flow::Normal;
    case N::SetBlock: {
      Value v = Value::str(capture(n.body, child(scope)));
      if (n.expr) v = applyChain(*n.expr, v, scope);
      assign(n.target, v, scope);
      return Flow::Normal;
    }
    case N::Macro: {
      bool va = false, kw = false;
      scanNames(n.macro->body, va, kw);
      for (auto &d : n.macro->defaults)
        if (d) scanExpr(*d, va, kw);
      scope->vars[n.macro->name] = makeMacro(n.macro, scope, va, kw);
      return Flow::Normal;
    }
    case N::CallBlock: {
      bool va = false, kw = false;
      scanNames(n.macro->body, va, kw);
      Value caller = makeMacro(n.macro, scope, va, kw);
      Value f = eval(*n.expr->args[0], scope);
      Args a = evalArgs(*n.expr, scope, 1);
      a.kw.emplace_back("caller", caller);
      *out_ += pyStr(call(f, a));
      return Flow::Normal;
    }
    case N::FilterBlock: {
      Value v = Value::str(capture(n.body, child(scope)));
      *out_ += pyStr(applyChain(*n.expr, v, scope));
      return Flow::Normal;
    }
    case N::With: {
      ScopeP s = child(scope);
      for (auto &as : n.assigns) assign(as.first, eval(*as.second, scope), s);
      return execBody(n.body, s) == Flow::Normal ? Flow::Normal : Flow::Normal;
    }
    case N::Break: return Flow::Break;
    case N::Continue: return Flow::Continue;
    }
    return Flow::Normal;
  }

  Flow execFor(const Node &n, const ScopeP &scope) {
    Value seq = eval(*n.expr, scope);
    std::vector<Value> items = iterate(seq);
    if (n.cond) {
      std::vector<Value> kept;
      for (auto &it : items) {
        ScopeP s = child(scope);
        assign(n.target, it, s);
        if (truthy(eval(*n.cond, s))) kept.push_back(it);
      }
      items.swap(kept);
    }
    if (items.empty()) {
      execBody(n.elseBody, child(scope));
      return Flow::Normal;
    }
    int64_t len = static_cast<int64_t>(items.size());
    auto lastChanged = std::make_shared<std::optional<Value>>();
    for (int64_t i = 0; i < len; ++i) {
      tick(kLoopIterationSteps);
      ScopeP s = child(scope);
      Value loop = Value::dict();
      auto set = [&](const char *k, Value v) { loop.d->items.emplace_back(Value::str(k), std::move(v)); };
      set("index", Value::integer(i + 1));
      set("index0", Value::integer(i));
      set("revindex", Value::integer(len - i));
      set("revindex0", Value::integer(len - i - 1));
      set("first", Value::boolean(i == 0));
      set("last", Value::boolean(i == len - 1));
      set("length", Value::integer(len));
      set("depth", Value::integer(1));
      set("depth0", Value::integer(0));
      if (i > 0) set("previtem", items[i - 1]);
      if (i + 1 < len) set("nextitem", items[i + 1]);
      set("cycle", makeFunc("cycle", [i](Interp &, Args &a) {
        if (a.pos.empty()) fail("no items for cycling given");
        return a.pos[i % a.pos.size()];
      }));
      set("changed", makeFunc("changed", [lastChanged](Interp &, Args &a) {
        Value cur = Value::list(a.pos, true);
        if (*lastChanged && pyEq(**lastChanged, cur)) return Value::boolean(false);
        *lastChanged = cur;
        return Value::boolean(true);
      }));
      s->vars["loop"] = loop;
      assign(n.target, items[i], s);
      Flow f = execBody(n.body, s);
      if (f == Flow::Break) break;
    }
    return Flow::Normal;
  }

  // Whether a macro body mentions varargs / kwargs (Jinja only accepts extra arguments then).
  static void scanExpr(const Expr &e, bool &va, bool &kw) {
    if (e.kind == E::Name) {
      if (e.name == "varargs") va = true;
      if (e.name == "kwargs") kw = true;
    }
    for (auto &x : e.args) if (x) scanExpr(*x, va, kw);
    for (auto &x : e.kwargs) if (x.second) scanExpr(*x.second, va, kw);
    if (e.dynArgs) scanExpr(*e.dynArgs, va, kw);
    if (e.dynKwargs) scanExpr(*e.dynKwargs, va, kw);
  }
  static void scanNames(const Body &body, bool &va, bool &kw) {
    for (auto &n : body) {
      if (n->expr) scanExpr(*n->expr, va, kw);
      if (n->cond) scanExpr(*n->cond, va, kw);
      for (auto &br : n->branches) {
        if (br.first) scanExpr(*br.first, va, kw);
        scanNames(br.second, va, kw);
      }
      for (auto &as : n->assigns) if (as.second) scanExpr(*as.second, va, kw);
      scanNames(n->body, va, kw);
      scanNames(n->elseBody, va, kw);
      if (n->macro && n->kind == N::CallBlock) scanNames(n->macro->body, va, kw);
    }
  }

  // Bounds the work of one render (expressions evaluated, statements run, loop iterations),
  // so that a hostile template cannot run for hours: generous for real chat templates, which
  // take a few thousand steps per message.
  // A loop iteration (a scope, the loop object) costs about as much as ten expressions.
  static constexpr uint64_t kMaxSteps = 2000000;
  static constexpr uint64_t kLoopIterationSteps = 10;
  void tick(uint64_t steps = 1) {
    if ((steps_ += steps) > kMaxSteps) fail("template too expensive (more than " + std::to_string(kMaxSteps) + " evaluation steps)");
  }

  std::string name_;
  std::string *out_ = nullptr;
  int depth_ = 0;
  uint64_t steps_ = 0;
  std::vector<ScopeP> captured_;
};

}  // namespace

// ------------------------------------------------------------------------------------------
// API
// ------------------------------------------------------------------------------------------

struct Template::Impl {
  std::string name;
  Body body;
};

Template::Template(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Template::Template(Template &&) noexcept = default;
Template &Template::operator=(Template &&) noexcept = default;
Template::~Template() = default;

StatusOr<Template> Template::parse(const std::string &source, const std::string &name) {
  auto impl = std::make_unique<Impl>();
  impl->name = name;
  try {
    Lexer lexer(source);
    Parser parser(lexer.run());
    impl->body = parser.parseTemplate();
  } catch (JinjaError &e) {
    return Status::error(name + ":" + std::to_string(e.line) + ":" + std::to_string(e.col) + ": " + e.message);
  }
  return Template(std::move(impl));
}

StatusOr<std::string> Template::render(const nlohmann::ordered_json &vars) const {
  if (!vars.is_object()) return Status::error(impl_->name + ": template variables must be a JSON object");
  try {
    Interp interp(impl_->name);
    ScopeP g = interp.globals();
    ScopeP top = child(g);
    for (auto it = vars.begin(); it != vars.end(); ++it) top->vars[it.key()] = fromJson(it.value());
    return interp.render(impl_->body, top);
  } catch (JinjaError &e) {
    // A raised message is the template author's words, shown as they are; an empty one would
    // leave the user with no error at all, so it is named for where it came from.
    if (e.raised && !e.message.empty()) return Status::error(e.message);
    if (e.raised) return Status::error(impl_->name + ":" + std::to_string(e.line) + ": raise_exception() with an empty message");
    return Status::error(impl_->name + ":" + std::to_string(e.line) + ": " + e.message);
  } catch (std::exception &e) {
    return Status::error(impl_->name + ": " + e.what());
  }
}

}  // namespace sl::text::jinja
