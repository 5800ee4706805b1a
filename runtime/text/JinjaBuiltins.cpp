// The Jinja interpreter's built-ins: the global functions and the methods of str, dict and
// list values. See JinjaInterp.h.
#include "runtime/text/JinjaInterp.h"
#include "runtime/text/JinjaStrings.h"

#include <ctime>

namespace sl::text::jinja::detail {

ScopeP Interp::globals() {
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

Value Interp::method(const Value &self, const std::string &name) {
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
      return makeFunc(name, [list = self](Interp &in, Args &a) {
        in.noteMutation(list);
        list.l->items.push_back(arg(a, 0, "object"));
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

}  // namespace sl::text::jinja::detail
