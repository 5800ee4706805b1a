// The Jinja syntax tree: expressions (Expr), assignment targets, statements (Node), macros.
// Built by the parser (JinjaParser.cpp, JinjaExprParser.cpp), walked by the interpreter
// (JinjaInterp.h). Private to runtime/text/Jinja*.cpp.
#pragma once

#include "runtime/text/JinjaValue.h"

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace sl::text::jinja::detail {

struct Expr;
using ExprP = std::shared_ptr<Expr>;

enum class E {
  Const, Name, List, Tuple, Dict, Attr, Item, Slice, Call, Filter, Test,
  Neg, Pos, Not, And, Or, Binary, Concat, Compare, Cond
};

struct Expr {
  E kind;
  int line = 0;
  Value value;                // Const
  std::string name;           // Name, Attr, Filter, Test, Binary op
  std::vector<ExprP> args;    // operands / positional arguments
  std::vector<std::pair<std::string, ExprP>> kwargs;
  ExprP dynArgs, dynKwargs;   // *args, **kwargs of calls
  std::vector<std::string> ops;  // Compare
};

struct Target {  // assignment target: a name, ns.attr, or a tuple of targets
  std::string name;
  std::string attr;  // non-empty: name.attr
  std::vector<Target> items;
  bool tuple = false;
};

struct Node;
using NodeP = std::shared_ptr<Node>;
using Body = std::vector<NodeP>;

enum class N { Text, Print, If, For, Set, SetBlock, Macro, CallBlock, FilterBlock, With, Break, Continue };

struct Macro {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprP> defaults;  // aligned with params; null when required
  Body body;
};

struct Node {
  N kind;
  int line = 0;
  std::string text;  // Text
  ExprP expr;        // Print, Set, For (iterable), CallBlock (call), SetBlock/FilterBlock (filter chain)
  ExprP cond;        // For filter
  std::vector<std::pair<ExprP, Body>> branches;  // If
  Body body, elseBody;
  Target target;
  std::shared_ptr<Macro> macro;  // Macro, CallBlock (caller)
  std::vector<std::pair<Target, ExprP>> assigns;  // With
};

// The filters and tests the interpreter implements (JinjaFilters.cpp, JinjaTests.cpp): the
// parser refuses any other name, and the `filter` / `test` tests answer from them.
const std::set<std::string> &knownFilters();
const std::set<std::string> &knownTests();

}  // namespace sl::text::jinja::detail
