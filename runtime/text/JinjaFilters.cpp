// The Jinja interpreter's filters (`x | tojson`, `x | map(attribute="a")`, ...). See
// JinjaInterp.h.
#include "runtime/text/JinjaInterp.h"
#include "runtime/text/JinjaStrings.h"

#include <algorithm>
#include <cmath>

namespace sl::text::jinja::detail {

const std::set<std::string> &knownFilters() {
  static const std::set<std::string> names = {
      "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e",
      "escape", "first", "float", "forceescape", "format", "indent", "int", "items", "join",
      "last", "length", "list", "lower", "map", "max", "min", "pprint", "reject", "rejectattr",
      "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum",
      "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount"};
  return names;
}

std::vector<Value> Interp::sortedItems(std::vector<Value> items, bool reverse, bool caseSensitive, const Value &attribute) {
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

Value Interp::filter(const std::string &name, const Value &v, Args &a) {
  Value r = filterImpl(name, v, a);
  bool gen = name == "map" || name == "select" || name == "reject" || name == "selectattr" ||
             name == "rejectattr" || name == "unique" || name == "items" || name == "batch" ||
             (name == "reverse" && v.k == K::List && !v.l->gen);
  if (gen && r.k == K::List) r.l->gen = true;
  return r;
}

Value Interp::filterImpl(const std::string &name, const Value &v, Args &a) {
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
    // Python's integers do not overflow: neither may these sums near the int64 limits.
    if (static_cast<__int128>(u.size()) <= static_cast<__int128>(length) + leeway)
      return Value::str(s);
    int64_t ending = static_cast<int64_t>(e.size());
    int64_t keep = length <= ending ? 0 : length - ending;
    std::u32string r = u.substr(0, keep);
    if (!killwords) {
      size_t sp = r.rfind(U' ');
      if (sp != std::u32string::npos) r = r.substr(0, sp);
    }
    return Value::str(encodeUtf8(r) + end);
  }
  fail("no filter named '" + name + "'");
}

}  // namespace sl::text::jinja::detail
