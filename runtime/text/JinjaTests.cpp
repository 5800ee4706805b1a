// The Jinja interpreter's tests (`x is defined`, `select("odd")`, ...). See JinjaInterp.h.
#include "runtime/text/JinjaInterp.h"
#include "runtime/text/JinjaStrings.h"

#include <cmath>

namespace sl::text::jinja::detail {

const std::set<std::string> &knownTests() {
  static const std::set<std::string> names = {
      "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even",
      "false", "filter", "float", "ge", ">=", "gt", ">", "greaterthan", "in", "integer",
      "iterable", "le", "<=", "lower", "lt", "<", "lessthan", "mapping", "ne", "!=", "none",
      "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper"};
  return names;
}

bool Interp::test(const std::string &name, const Value &v, Args &a) {
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

bool Interp::selectTest(const Value &v, Args &a, size_t first) {
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

}  // namespace sl::text::jinja::detail
