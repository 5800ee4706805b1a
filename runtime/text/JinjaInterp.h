// The Jinja interpreter: walks the syntax tree (JinjaAst.h) over scopes of values. Statements
// and macros in JinjaExec.cpp, expressions, attribute/item access and operators in
// JinjaEval.cpp, the global functions and the str/dict/list methods in JinjaBuiltins.cpp,
// filters in JinjaFilters.cpp, tests in JinjaTests.cpp. Private to runtime/text/Jinja*.cpp.
#pragma once

#include "runtime/text/JinjaAst.h"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace sl::text::jinja::detail {

struct Scope;
using ScopeP = std::shared_ptr<Scope>;
struct Scope {
  std::unordered_map<std::string, Value> vars;
  ScopeP parent;
};

ScopeP child(const ScopeP &parent);

enum class Flow { Normal, Break, Continue };

class Interp {
public:
  Interp() = default;
  ~Interp();

  // The global functions (range, namespace, dict, raise_exception, strftime_now, joiner).
  ScopeP globals();
  std::string render(const Body &body, const ScopeP &scope);
  Value eval(const Expr &e, const ScopeP &scope);

private:
  // --- lookup (JinjaEval.cpp) -------------------------------------------------------------
  Value lookup(const ScopeP &scope, const std::string &name);
  // A bound str/dict/list method (JinjaBuiltins.cpp), or Undefined.
  Value method(const Value &self, const std::string &name);
  Value getAttr(const Value &obj, const std::string &name);
  Value getItem(const Value &obj, const Value &key);
  Value slice(const Value &obj, const Value &a, const Value &b, const Value &c);
  // "a.b.0" attribute paths of sort/map/selectattr/... (items first, like environment.getitem).
  Value attrPath(const Value &obj, const Value &attribute);
  Value call(const Value &f, Args &a);
  Value makeMacro(const std::shared_ptr<Macro> &m, const ScopeP &scope, bool usesVarargs, bool usesKwargs);

  // --- expressions (JinjaEval.cpp) --------------------------------------------------------
  Args evalArgs(const Expr &e, const ScopeP &scope, size_t skip);
  Value binaryOp(const std::string &op, const Value &a, const Value &b);
  bool compare(const std::string &op, const Value &a, const Value &b);
  Value evalInner(const Expr &e, const ScopeP &scope);
  // Applies a filter chain whose innermost operand is null to `input`.
  Value applyChain(const Expr &e, const Value &input, const ScopeP &scope);

  // --- tests (JinjaTests.cpp) -------------------------------------------------------------
  bool test(const std::string &name, const Value &v, Args &a);
  // select/reject: the test of args[first:], or truthiness.
  bool selectTest(const Value &v, Args &a, size_t first);

  // --- filters (JinjaFilters.cpp) ---------------------------------------------------------
  std::vector<Value> sortedItems(std::vector<Value> items, bool reverse, bool caseSensitive, const Value &attribute);
  // Filters that return generators in Jinja (no len(), always truthy, not subscriptable).
  Value filter(const std::string &name, const Value &v, Args &a);
  Value filterImpl(const std::string &name, const Value &v, Args &a);

  // --- statements (JinjaExec.cpp) ---------------------------------------------------------
  void assign(const Target &t, const Value &v, const ScopeP &scope);
  std::string capture(const Body &body, const ScopeP &scope);
  Flow execBody(const Body &body, const ScopeP &scope);
  Flow exec(const Node &n, const ScopeP &scope);
  Flow execFor(const Node &n, const ScopeP &scope);
  // Whether a macro body mentions varargs / kwargs (Jinja only accepts extra arguments then).
  static void scanExpr(const Expr &e, bool &va, bool &kw);
  static void scanNames(const Body &body, bool &va, bool &kw);

  // Bounds the work of one render (expressions evaluated, statements run, loop iterations),
  // so that a hostile template cannot run for hours: generous for real chat templates, which
  // take a few thousand steps per message.
  // A loop iteration (a scope, the loop object) costs about as much as ten expressions.
  static constexpr uint64_t kMaxSteps = 2000000;
  static constexpr uint64_t kLoopIterationSteps = 10;
  void tick(uint64_t steps = 1) {
    if ((steps_ += steps) > kMaxSteps) fail("template too expensive (more than " + std::to_string(kMaxSteps) + " evaluation steps)");
  }

  // A namespace assigned into or a list appended to: the only ways a template can make a
  // container hold itself (through other containers, bound methods or macros' scopes), which
  // shared ownership would leak; the destructor empties them.
  void noteMutation(const Value &container);

  std::string *out_ = nullptr;
  int depth_ = 0;
  uint64_t steps_ = 0;
  std::vector<ScopeP> captured_;
  std::vector<std::weak_ptr<DictObj>> mutatedDicts_;
  std::vector<std::weak_ptr<ListObj>> mutatedLists_;
};

}  // namespace sl::text::jinja::detail
