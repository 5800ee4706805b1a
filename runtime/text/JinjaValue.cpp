// The values of the Jinja interpreter and Python's semantics on them. See JinjaValue.h.
#include "runtime/text/JinjaValue.h"

#include "runtime/text/JinjaStrings.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace sl::text::jinja::detail {

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
int64_t floatToInt(double f) {
  if (!std::isfinite(f)) fail("cannot convert float " + std::string(std::isnan(f) ? "NaN" : "infinity") + " to integer");
  double t = std::trunc(f);
  if (t < -9223372036854775808.0 || t >= 9223372036854775808.0) failOverflow();
  return static_cast<int64_t>(t);
}
size_t checkedLength(int64_t n) {
  if (n > kMaxLength) fail("result too large (more than " + std::to_string(kMaxLength) + " items)");
  return n < 0 ? 0 : static_cast<size_t>(n);
}

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

Value arg(const Args &a, size_t idx, const char *name, Value def) {
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

}  // namespace sl::text::jinja::detail
