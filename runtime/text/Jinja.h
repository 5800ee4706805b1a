// A Jinja2 subset for HF chat templates, rendered like transformers' apply_chat_template:
// ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols
// extension, its tojson filter (json.dumps(ensure_ascii=False), keys in insertion order) and the
// raise_exception / strftime_now globals.
//
// Supported: {{ }}, {% %}, {# #}, whitespace control (- and +), trim_blocks / lstrip_blocks,
// the trailing-newline rule; statements for (else, filter, tuple targets, loop.*), if/elif/else,
// set (expression, tuple, namespace attribute, block with filters), macro (defaults, varargs,
// kwargs, caller), call, filter, with, raw, break/continue, generation; expressions (literals,
// lists, dicts, tuples, attribute/item access, slicing, calls with keyword arguments,
// arithmetic, ~, comparisons (chained), and/or/not, in/not in, is tests, a if b else c,
// filters); Python-like values (str/int/float/bool/None/list/dict), str/dict/list methods,
// Undefined with Jinja's default semantics. Errors never abort: they come back as Status with
// the template name and line (and column for syntax errors).
#pragma once

#include "runtime/support/Status.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

namespace sl::text::jinja {

class Template {
public:
  // Parses `source`; syntax errors read "<name>:<line>:<col>: <message>".
  static StatusOr<Template> parse(const std::string &source, const std::string &name);

  Template(Template &&) noexcept;
  Template &operator=(Template &&) noexcept;
  ~Template();

  // Renders with the top-level variables of `vars` (a JSON object; key order is kept, as in
  // Python dicts). An error raised by raise_exception(msg) carries exactly `msg`; other runtime
  // errors read "<name>:<line>: <message>".
  StatusOr<std::string> render(const nlohmann::ordered_json &vars) const;

  struct Impl;

private:
  explicit Template(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sl::text::jinja
