// The Jinja interpreter: expressions, name lookup, attribute and item access, slicing, calls
// and operators. See JinjaInterp.h.
#include "runtime/text/JinjaInterp.h"
#include "runtime/text/JinjaStrings.h"

#include <algorithm>
#include <cmath>

namespace sl::text::jinja::detail {

Value Interp::lookup(const ScopeP &scope, const std::string &name) {
  for (Scope *s = scope.get(); s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return it->second;
  }
  return Value::undef("'" + name + "' is undefined");
}

Value Interp::getAttr(const Value &obj, const std::string &name) {
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

Value Interp::getItem(const Value &obj, const Value &key) {
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

Value Interp::slice(const Value &obj, const Value &a, const Value &b, const Value &c) {
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

Value Interp::attrPath(const Value &obj, const Value &attribute) {
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

Value Interp::call(const Value &f, Args &a) {
  if (f.k == K::Func) {
    if (++depth_ > 100) fail("maximum recursion depth exceeded");
    Value r = f.fn->call(*this, a);
    --depth_;
    return r;
  }
  if (f.k == K::Undef) failUndefined(f);
  fail(std::string("'") + typeName(f) + "' object is not callable");
}

Value Interp::eval(const Expr &e, const ScopeP &scope) {
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

Args Interp::evalArgs(const Expr &e, const ScopeP &scope, size_t skip) {
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

Value Interp::binaryOp(const std::string &op, const Value &a, const Value &b) {
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

bool Interp::compare(const std::string &op, const Value &a, const Value &b) {
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

Value Interp::evalInner(const Expr &e, const ScopeP &scope) {
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

Value Interp::applyChain(const Expr &e, const Value &input, const ScopeP &scope) {
  Value in = e.args[0] ? applyChain(*e.args[0], input, scope) : input;
  Args a = evalArgs(e, scope, 1);
  try {
    return filter(e.name, in, a);
  } catch (JinjaError &err) {
    if (!err.line) err.line = e.line;
    throw;
  }
}

}  // namespace sl::text::jinja::detail
