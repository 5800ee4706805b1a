// The Jinja parser: expressions, by precedence from conditional expressions down to
// primaries, postfix access, calls, filters and tests. See JinjaParser.h.
#include "runtime/text/JinjaParser.h"

namespace sl::text::jinja::detail {

ExprP Parser::parseTuple(bool withCondExpr) {
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

ExprP Parser::parseExpression() {
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

ExprP Parser::parseOr() {
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
ExprP Parser::parseAnd() {
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
ExprP Parser::parseNot() {
  DepthGuard guard(*this);
  if (isName("not")) {
    Tok t = next();
    auto e = mk(E::Not, t);
    e->args = {parseNot()};
    return e;
  }
  return parseCompare();
}
ExprP Parser::parseCompare() {
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
ExprP Parser::binary(const Tok &t, const std::string &op, ExprP l, ExprP r) {
  auto e = mk(E::Binary, t);
  e->name = op;
  e->args = {std::move(l), std::move(r)};
  return e;
}
ExprP Parser::parseMath1() {
  ChainGuard chain(*this);
  ExprP l = parseConcat();
  while (isOp("+") || isOp("-")) {
    chain.link();
    Tok t = next();
    l = binary(t, t.s, l, parseConcat());
  }
  return l;
}
ExprP Parser::parseConcat() {
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
ExprP Parser::parseMath2() {
  ChainGuard chain(*this);
  ExprP l = parsePow();
  while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
    chain.link();
    Tok t = next();
    l = binary(t, t.s, l, parsePow());
  }
  return l;
}
ExprP Parser::parsePow() {
  ChainGuard chain(*this);
  ExprP l = parseUnary();
  while (isOp("**")) {
    chain.link();
    Tok t = next();
    l = binary(t, "**", l, parseUnary());
  }
  return l;
}
ExprP Parser::parseUnary(bool withFilter) {
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

ExprP Parser::parsePrimary() {
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

ExprP Parser::parsePostfix(ExprP node) {
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

ExprP Parser::parseSubscript(ExprP node, const Tok &t) {
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

void Parser::parseArgs(Expr &e) {
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

ExprP Parser::parseCall(ExprP callee) {
  auto e = mk(E::Call, cur());
  e->args.push_back(callee);
  parseArgs(*e);
  return e;
}

ExprP Parser::parseFilter(ExprP operand) {
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

ExprP Parser::parseFilterExpr(ExprP node) {
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

}  // namespace sl::text::jinja::detail
