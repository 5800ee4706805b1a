// Strings for the Jinja interpreter: UTF-8 and character classes (JinjaStrings.cpp), Python's
// str methods and filters built on them (JinjaStrings.cpp), %-formatting, str.format and
// float()/int() of strings (JinjaFormat.cpp). Private to runtime/text/Jinja*.cpp.
#pragma once

#include "runtime/text/JinjaValue.h"

#include <optional>
#include <string>
#include <vector>

namespace sl::text::jinja::detail {

// Invalid bytes decode to lone surrogates U+DC80..U+DCFF (Python's surrogateescape) and encode
// back to the same bytes.
std::u32string decodeUtf8(const std::string &s);
void appendUtf8(std::string &out, char32_t cp);
std::string encodeUtf8(const std::u32string &s);

bool isSpace32(char32_t c);
char32_t upper32(char32_t c);
char32_t lower32(char32_t c);
// Letters (approximately Unicode's L* categories of the common scripts).
bool isAlpha32(char32_t c);
bool isDigit32(char32_t c);
bool isWord32(char32_t c);

std::string htmlEscape(const std::string &s);
std::string strip32(const std::string &s, const Value &chars, bool left, bool right);
std::string replaceAll(const std::string &s, const std::string &from, const std::string &to, int64_t count);
std::vector<Value> splitStr(const std::string &s, const Value &sep, int64_t maxsplit, bool fromRight);
std::string pyTitle(const std::string &s);  // str.title()
std::string lowerStr(const std::string &s);
std::string upperStr(const std::string &s);
std::string capitalizeStr(const std::string &s);

// Python %-formatting (the subset templates use).
std::string percentFormat(const std::string &fmt, const Value &rhs);
// str.format (fields {}, {0}, {name}, conversions !r/!s and a basic format spec).
std::string strFormat(const std::string &fmt, const Args &a);
// Python's float(str) and int(str, base).
std::optional<double> parseFloat(const std::string &s);
std::optional<int64_t> parseInt(const std::string &s, int base);
double pyRound(double x, int64_t ndigits);

}  // namespace sl::text::jinja::detail
