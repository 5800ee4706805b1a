// The Jinja lexer: template text to tokens (data, tag delimiters, names, literals, operators),
// with the whitespace rules (-, +, trim_blocks, lstrip_blocks), comments and {% raw %} applied.
// Private to runtime/text/Jinja*.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sl::text::jinja::detail {

enum class T { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Tok {
  T t;
  std::string s;  // Data text, Name, String value, Op
  int64_t i = 0;
  double f = 0;
  int line = 1, col = 1;
};

// The tokens of `source`, ending with T::Eof; throws JinjaError (with line and column) on a
// syntax error.
std::vector<Tok> lex(const std::string &source);

}  // namespace sl::text::jinja::detail
