// The Jinja interpreter: statements, loops, macros and the render entry. See JinjaInterp.h.
#include "runtime/text/JinjaInterp.h"

#include <algorithm>
#include <optional>

namespace sl::text::jinja::detail {

ScopeP child(const ScopeP &parent) {
  auto s = std::make_shared<Scope>();
  s->parent = parent;
  return s;
}

Interp::~Interp() {
  // Macros capture their defining scope, which holds them, and mutated containers may hold
  // themselves: break the cycles.
  for (auto &s : captured_) s->vars.clear();
  for (auto &d : mutatedDicts_)
    if (auto alive = d.lock()) alive->items.clear();
  for (auto &l : mutatedLists_)
    if (auto alive = l.lock()) alive->items.clear();
}

void Interp::noteMutation(const Value &container) {
  if (container.d && (mutatedDicts_.empty() || mutatedDicts_.back().lock() != container.d))
    mutatedDicts_.push_back(container.d);
  if (container.l && (mutatedLists_.empty() || mutatedLists_.back().lock() != container.l))
    mutatedLists_.push_back(container.l);
}

std::string Interp::render(const Body &body, const ScopeP &scope) {
  std::string out;
  out_ = &out;
  execBody(body, scope);
  return out;
}

Value Interp::makeMacro(const std::shared_ptr<Macro> &m, const ScopeP &scope, bool usesVarargs, bool usesKwargs) {
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

void Interp::assign(const Target &t, const Value &v, const ScopeP &scope) {
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
    noteMutation(obj);
    obj.d->set(Value::str(t.attr), v);
    return;
  }
  scope->vars[t.name] = v;
}

std::string Interp::capture(const Body &body, const ScopeP &scope) {
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

Flow Interp::execBody(const Body &body, const ScopeP &scope) {
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

Flow Interp::exec(const Node &n, const ScopeP &scope) {
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

Flow Interp::execFor(const Node &n, const ScopeP &scope) {
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

void Interp::scanExpr(const Expr &e, bool &va, bool &kw) {
  if (e.kind == E::Name) {
    if (e.name == "varargs") va = true;
    if (e.name == "kwargs") kw = true;
  }
  for (auto &x : e.args) if (x) scanExpr(*x, va, kw);
  for (auto &x : e.kwargs) if (x.second) scanExpr(*x.second, va, kw);
  if (e.dynArgs) scanExpr(*e.dynArgs, va, kw);
  if (e.dynKwargs) scanExpr(*e.dynKwargs, va, kw);
}
void Interp::scanNames(const Body &body, bool &va, bool &kw) {
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

}  // namespace sl::text::jinja::detail
