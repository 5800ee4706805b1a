// Python's %-formatting and str.format, float() and int() of strings, round(). See
// JinjaStrings.h.
#include "runtime/text/JinjaStrings.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sl::text::jinja::detail {

std::string percentFormat(const std::string &fmt, const Value &rhs) {
  std::vector<Value> args;
  const DictObj *mapping = nullptr;
  if (rhs.k == K::List && rhs.l->tuple) args = rhs.l->items;
  else if (rhs.k == K::Dict && !rhs.d->isNamespace) { mapping = rhs.d.get(); args.push_back(rhs); }
  else args.push_back(rhs);
  size_t next = 0;
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
  return out;
}

namespace {

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

}  // namespace

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

}  // namespace sl::text::jinja::detail
