// Text forms of Jinja values: Python's str() and repr(), json.dumps (the tojson filter), and
// values from the JSON variables of a render. See JinjaValue.h.
#include "runtime/text/JinjaStrings.h"
#include "runtime/text/JinjaValue.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace sl::text::jinja::detail {

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

}  // namespace sl::text::jinja::detail
