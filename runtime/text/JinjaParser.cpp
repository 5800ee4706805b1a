// The Jinja parser: the template's statements. See JinjaParser.h.
#include "runtime/text/JinjaParser.h"

namespace sl::text::jinja::detail {

Body Parser::parseTemplate() {
  std::string end;
  Body body = parseBody({}, end);
  return body;
}

std::string Parser::describe(const Tok &t) {
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
void Parser::expectOp(const char *op) {
  if (!isOp(op)) error(cur(), std::string("expected '") + op + "', got " + describe(cur()));
  next();
}
std::string Parser::expectName() {
  if (cur().t != T::Name) error(cur(), "expected a name, got " + describe(cur()));
  return next().s;
}
void Parser::expectBlockEnd() {
  if (cur().t != T::BlockEnd) error(cur(), "expected end of statement block, got " + describe(cur()));
  next();
}
ExprP Parser::mk(E kind, const Tok &t) {
  auto e = std::make_shared<Expr>();
  e->kind = kind;
  e->line = t.line;
  return e;
}

Body Parser::parseBody(const std::vector<std::string> &ends, std::string &endFound) {
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

NodeP Parser::parseStatement() {
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
    n->kind = tag == "break" ? N::Break : N::Continue;
    expectBlockEnd();
    return n;
  }
  error(t, "encountered unknown tag '" + tag + "'");
}

void Parser::parseSignature(Macro &m) {
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

Target Parser::parseTarget(bool allowTuple, bool allowAttr) {
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

ExprP Parser::parseFilterChain(bool leadingPipe) {
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

}  // namespace sl::text::jinja::detail
