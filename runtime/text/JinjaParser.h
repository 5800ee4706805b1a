// The Jinja parser: tokens (JinjaLexer.h) to the syntax tree (JinjaAst.h), recursive descent
// with Jinja's precedence. Statements are parsed in JinjaParser.cpp, expressions in
// JinjaExprParser.cpp. Private to runtime/text/Jinja*.cpp.
#pragma once

#include "runtime/text/JinjaAst.h"
#include "runtime/text/JinjaLexer.h"

#include <algorithm>
#include <string>
#include <vector>

namespace sl::text::jinja::detail {

class Parser {
public:
  Parser(std::vector<Tok> toks) : toks_(std::move(toks)) {}

  // The whole template; throws JinjaError (with line and column) on a syntax error.
  Body parseTemplate();

private:
  const Tok &cur() const { return toks_[pos_]; }
  const Tok &peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  Tok next() { Tok t = toks_[pos_]; if (pos_ + 1 < toks_.size()) ++pos_; return t; }
  [[noreturn]] void error(const Tok &t, const std::string &msg) const { throw JinjaError{msg, t.line, t.col}; }
  bool isOp(const char *op) const { return cur().t == T::Op && cur().s == op; }
  bool isName(const char *name) const { return cur().t == T::Name && cur().s == name; }
  static std::string describe(const Tok &t);
  void expectOp(const char *op);
  std::string expectName();
  void expectBlockEnd();
  ExprP mk(E kind, const Tok &t);

  // --- statements (JinjaParser.cpp) -------------------------------------------------------
  // Parses nodes until `{% <one of ends> ...`; leaves the position after the end tag's name.
  Body parseBody(const std::vector<std::string> &ends, std::string &endFound);
  NodeP parseStatement();
  void parseSignature(Macro &m);
  Target parseTarget(bool allowTuple, bool allowAttr = false);
  // `| f(args) | g` (or `f | g` for filter blocks) as a chain over a null operand.
  ExprP parseFilterChain(bool leadingPipe = true);

  // --- expressions (JinjaExprParser.cpp) --------------------------------------------------
  ExprP parseTuple(bool withCondExpr = true);
  ExprP parseExpression();
  ExprP parseOr();
  ExprP parseAnd();
  ExprP parseNot();
  ExprP parseCompare();
  ExprP binary(const Tok &t, const std::string &op, ExprP l, ExprP r);
  ExprP parseMath1();
  ExprP parseConcat();
  ExprP parseMath2();
  ExprP parsePow();
  ExprP parseUnary(bool withFilter = true);
  ExprP parsePrimary();
  ExprP parsePostfix(ExprP node);
  ExprP parseSubscript(ExprP node, const Tok &t);
  void parseArgs(Expr &e);
  ExprP parseCall(ExprP callee);
  ExprP parseFilter(ExprP operand);
  ExprP parseFilterExpr(ExprP node);

  // Bounds the parser's recursion (and so the interpreter's) on hostile input.
  struct DepthGuard {
    Parser &p;
    DepthGuard(Parser &parser) : p(parser) {
      if (++p.depth_ > 200) p.error(p.cur(), "template nested too deeply");
    }
    ~DepthGuard() { --p.depth_; }
  };
  // Left-associative chains (a + b + c, x.a.b, x | f | g, a or b or c) build a node per link
  // without recursing: each link counts as one level of nesting until the chain's parse ends,
  // so that the tree (whose evaluation and destruction recurse) stays as shallow as the limit.
  struct ChainGuard {
    Parser &p;
    int links = 0;
    explicit ChainGuard(Parser &parser) : p(parser) {}
    void link() {
      ++links;
      if (++p.depth_ > 200) p.error(p.cur(), "template nested too deeply");
    }
    ~ChainGuard() { p.depth_ -= links; }
  };

  std::vector<Tok> toks_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace sl::text::jinja::detail
