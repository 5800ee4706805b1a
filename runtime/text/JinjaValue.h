// The values of the Jinja interpreter (runtime/text/Jinja.h): Python-like str/int/float/bool/
// None/list/dict plus functions and Undefined, the errors every stage throws, and Python's
// semantics on them (truth, equality, ordering, iteration, len, in, slicing, str/repr, the
// json.dumps of tojson). Private to runtime/text/Jinja*.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sl::text::jinja::detail {

// ------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------

// Internally errors are thrown as JinjaError and turned into sl::Status at the API boundary.
struct JinjaError {
  std::string message;
  int line = 0;         // 0: not yet located
  int col = 0;          // syntax errors only
  bool raised = false;  // raise_exception(msg): the message is reported verbatim
};

[[noreturn]] void fail(std::string message);

// Python ints are unbounded; here they are 64-bit, and a result outside that range is an error
// (never undefined behaviour).
[[noreturn]] void failOverflow();
int64_t checkedAdd(int64_t a, int64_t b);
int64_t checkedSub(int64_t a, int64_t b);
int64_t checkedMul(int64_t a, int64_t b);
// A float converted to int (int(), %d formats): finite and in range, else an error.
int64_t floatToInt(double f);
// Python's a // b and a % b on ints (b != 0).
int64_t floorDiv(int64_t a, int64_t b);
int64_t floorMod(int64_t a, int64_t b);
// The longest string (in bytes or characters) or list a template may build: widths, paddings
// and repetitions beyond it are errors, not allocations.
constexpr int64_t kMaxLength = int64_t(1) << 26;
size_t checkedLength(int64_t n);

// ------------------------------------------------------------------------------------------
// Values
// ------------------------------------------------------------------------------------------

enum class K { Undef, None, Bool, Int, Float, Str, List, Dict, Func };

struct Value;
struct ListObj;
struct DictObj;
struct FuncObj;
class Interp;

struct Value {
  K k = K::Undef;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // Str; for Undef: a hint naming what was undefined
  std::shared_ptr<ListObj> l;
  std::shared_ptr<DictObj> d;
  std::shared_ptr<FuncObj> fn;

  static Value undef(std::string hint = {}) { Value v; v.s = std::move(hint); return v; }
  static Value none() { Value v; v.k = K::None; return v; }
  static Value boolean(bool x) { Value v; v.k = K::Bool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.k = K::Int; v.i = x; return v; }
  static Value flt(double x) { Value v; v.k = K::Float; v.f = x; return v; }
  static Value str(std::string x) { Value v; v.k = K::Str; v.s = std::move(x); return v; }
  static Value list(std::vector<Value> items = {}, bool tuple = false);
  static Value dict();
  static Value ns();

  bool isUndef() const { return k == K::Undef; }
  bool isNum() const { return k == K::Int || k == K::Float || k == K::Bool; }
  bool isIntLike() const { return k == K::Int || k == K::Bool; }
  int64_t asInt() const { return k == K::Bool ? (b ? 1 : 0) : k == K::Int ? i : static_cast<int64_t>(f); }
  double asFloat() const { return k == K::Float ? f : static_cast<double>(asInt()); }
};

struct ListObj {
  std::vector<Value> items;
  bool tuple = false;
  bool gen = false;  // a Python generator/iterator (what map, select, unique, ... return)
};

struct DictObj {
  std::vector<std::pair<Value, Value>> items;
  bool isNamespace = false;
  const Value *find(const Value &key) const;
  const Value *find(const std::string &key) const {
    for (auto &kv : items)
      if (kv.first.k == K::Str && kv.first.s == key) return &kv.second;
    return nullptr;
  }
  void set(const Value &key, Value value);
};

struct Args {
  std::vector<Value> pos;
  std::vector<std::pair<std::string, Value>> kw;
};

struct FuncObj {
  std::string name;
  std::function<Value(Interp &, Args &)> call;
};

Value makeFunc(std::string name, std::function<Value(Interp &, Args &)> call);
const char *typeName(const Value &v);
[[noreturn]] void failUndefined(const Value &v);
bool truthy(const Value &v);
bool pyEq(const Value &a, const Value &b);
// Python's a < b; throws TypeError-like errors for unorderable types.
bool pyLess(const Value &a, const Value &b);
// Python's iteration over a value.
std::vector<Value> iterate(const Value &v);
int64_t pyLen(const Value &v);
bool contains(const Value &container, const Value &item);
// Python slice indices.
std::vector<int64_t> sliceIndices(int64_t n, const Value &start, const Value &stop, const Value &step);

// Positional-or-keyword argument `idx`/`name`, else `def`.
Value arg(const Args &a, size_t idx, const char *name, Value def = Value::undef());
std::string strArg(const Args &a, size_t idx, const char *name, const std::string &def);
int64_t intArg(const Args &a, size_t idx, const char *name, int64_t def);

// ------------------------------------------------------------------------------------------
// Text forms (JinjaRepr.cpp)
// ------------------------------------------------------------------------------------------

// Python repr(float).
std::string pyFloat(double d);
std::string pyStr(const Value &v);
std::string pyRepr(const Value &v);

// json.dumps as transformers' tojson calls it.
struct JsonOpts {
  bool hasIndent = false;
  std::string indent;
  std::string itemSep = ", ";
  std::string keySep = ": ";
  bool sortKeys = false;
  bool ensureAscii = false;
};
void dumpJson(std::string &out, const Value &v, const JsonOpts &o, int level);
Value fromJson(const nlohmann::ordered_json &j);

}  // namespace sl::text::jinja::detail
