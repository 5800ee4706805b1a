// The Jinja lexer. See JinjaLexer.h.
#include "runtime/text/JinjaLexer.h"

#include "runtime/text/JinjaStrings.h"
#include "runtime/text/JinjaValue.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sl::text::jinja::detail {
namespace {

class Lexer {
public:
  explicit Lexer(const std::string &src) {
    // Newlines are normalized to \n and one trailing newline is dropped (Jinja's defaults).
    for (size_t i = 0; i < src.size(); ++i) {
      if (src[i] == '\r') {
        src_.push_back('\n');
        if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
      } else {
        src_.push_back(src[i]);
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
    lineStarts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i)
      if (src_[i] == '\n') lineStarts_.push_back(i + 1);
  }

  std::vector<Tok> run() {
    size_t pos = 0, n = src_.size();
    bool lineStarting = true;
    while (pos < n) {
      size_t p = pos;
      while (true) {
        p = src_.find('{', p);
        if (p == std::string::npos || p + 1 >= n) { p = n; break; }
        char c = src_[p + 1];
        if (c == '{' || c == '%' || c == '#') break;
        ++p;
      }
      std::string text = src_.substr(pos, p - pos);
      if (p == n) {
        emitData(text, pos);
        break;
      }
      char kind = src_[p + 1];
      char marker = p + 2 < n ? src_[p + 2] : '\0';
      if (marker == '-') {
        size_t e = text.find_last_not_of(" \t\n\r\v\f");
        text = e == std::string::npos ? "" : text.substr(0, e + 1);
      } else if (marker != '+' && kind != '{') {
        size_t lpos = text.rfind('\n');
        lpos = lpos == std::string::npos ? 0 : lpos + 1;
        if ((lpos > 0 || lineStarting) &&
            text.find_first_not_of(" \t", lpos) == std::string::npos)
          text = text.substr(0, lpos);
      }
      emitData(text, pos);
      size_t cur = p + 2 + ((marker == '-' || marker == '+') ? 1 : 0);
      if (kind == '#') {
        size_t e = src_.find("#}", cur);
        if (e == std::string::npos) syntaxError(p, "missing end of comment tag");
        size_t after = e + 2;
        if (e > cur && src_[e - 1] == '-') {
          while (after < n && isspace(static_cast<unsigned char>(src_[after]))) ++after;
        } else if (after < n && src_[after] == '\n') {
          ++after;
        }
        lineStarting = src_[after - 1] == '\n';
        pos = after;
        continue;
      }
      if (kind == '%' && tryRaw(cur, pos, lineStarting)) continue;
      toks_.push_back(tok(kind == '{' ? T::VarBegin : T::BlockBegin, "", p));
      pos = lexTag(cur, kind == '{', p);
      lineStarting = src_[pos - 1] == '\n';
    }
    toks_.push_back(tok(T::Eof, "", n));
    return std::move(toks_);
  }

  std::pair<int, int> lineCol(size_t pos) const {
    auto it = std::upper_bound(lineStarts_.begin(), lineStarts_.end(), pos);
    size_t line = it - lineStarts_.begin();
    return {static_cast<int>(line), static_cast<int>(pos - lineStarts_[line - 1] + 1)};
  }

private:
  [[noreturn]] void syntaxError(size_t pos, const std::string &msg) const {
    auto [l, c] = lineCol(pos);
    throw JinjaError{msg, l, c};
  }
  Tok tok(T t, std::string s, size_t pos) const {
    Tok k;
    k.t = t;
    k.s = std::move(s);
    auto [l, c] = lineCol(pos);
    k.line = l;
    k.col = c;
    return k;
  }
  void emitData(const std::string &text, size_t pos) {
    if (!text.empty()) toks_.push_back(tok(T::Data, text, pos));
  }
  size_t skipWs(size_t p) const {
    while (p < src_.size() && isspace(static_cast<unsigned char>(src_[p]))) ++p;
    return p;
  }
  bool startsWord(size_t p, const char *w) const {
    size_t len = strlen(w);
    if (src_.compare(p, len, w) != 0) return false;
    size_t q = p + len;
    return q >= src_.size() || !(isalnum(static_cast<unsigned char>(src_[q])) || src_[q] == '_');
  }

  // {% raw %}...{% endraw %}: `cur` is just after "{%[-+]".
  bool tryRaw(size_t cur, size_t &pos, bool &lineStarting) {
    size_t p = skipWs(cur);
    if (!startsWord(p, "raw")) return false;
    p = skipWs(p + 3);
    size_t contentStart;
    if (src_.compare(p, 3, "-%}") == 0) contentStart = skipWs(p + 3);
    else if (src_.compare(p, 2, "%}") == 0) contentStart = p + 2;
    else return false;
    size_t s = contentStart;
    while (true) {
      size_t b = src_.find("{%", s);
      if (b == std::string::npos) syntaxError(cur, "missing end of raw directive");
      size_t q = b + 2;
      char marker = q < src_.size() ? src_[q] : '\0';
      if (marker == '-' || marker == '+') ++q;
      q = skipWs(q);
      if (startsWord(q, "endraw")) {
        q = skipWs(q + 6);
        size_t end;
        if (src_.compare(q, 3, "-%}") == 0) end = skipWs(q + 3);
        else if (src_.compare(q, 3, "+%}") == 0) end = q + 3;
        else if (src_.compare(q, 2, "%}") == 0) {
          end = q + 2;
          if (end < src_.size() && src_[end] == '\n') ++end;
        } else {
          s = b + 2;
          continue;
        }
        std::string text = src_.substr(contentStart, b - contentStart);
        if (marker == '-') {
          size_t e = text.find_last_not_of(" \t\n\r\v\f");
          text = e == std::string::npos ? "" : text.substr(0, e + 1);
        } else if (marker != '+') {
          size_t lpos = text.rfind('\n');
          if (lpos != std::string::npos && text.find_first_not_of(" \t", lpos + 1) == std::string::npos)
            text = text.substr(0, lpos + 1);
        }
        emitData(text, contentStart);
        pos = end;
        lineStarting = src_[end - 1] == '\n';
        return true;
      }
      s = b + 2;
    }
  }

  // Lexes the inside of {{ }} / {% %} from `p`; returns the position after the end tag.
  size_t lexTag(size_t p, bool var, size_t begin) {
    size_t n = src_.size();
    int depth = 0;
    while (true) {
      while (p < n && isspace(static_cast<unsigned char>(src_[p]))) ++p;
      if (p >= n) syntaxError(begin, var ? "unexpected end of template, expected '}}'" : "unexpected end of template, expected '%}'");
      if (depth == 0) {
        if (var) {
          if (src_.compare(p, 3, "-}}") == 0) {
            toks_.push_back(tok(T::VarEnd, "", p));
            return skipWs(p + 3);
          }
          if (src_.compare(p, 2, "}}") == 0) {
            toks_.push_back(tok(T::VarEnd, "", p));
            return p + 2;
          }
        } else {
          if (src_.compare(p, 3, "-%}") == 0) {
            toks_.push_back(tok(T::BlockEnd, "", p));
            return skipWs(p + 3);
          }
          if (src_.compare(p, 3, "+%}") == 0) {
            toks_.push_back(tok(T::BlockEnd, "", p));
            return p + 3;
          }
          if (src_.compare(p, 2, "%}") == 0) {
            toks_.push_back(tok(T::BlockEnd, "", p));
            p += 2;
            if (p < n && src_[p] == '\n') ++p;
            return p;
          }
        }
      }
      char c = src_[p];
      if (isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t q = p;
        while (q < n && (isalnum(static_cast<unsigned char>(src_[q])) || src_[q] == '_')) ++q;
        toks_.push_back(tok(T::Name, src_.substr(p, q - p), p));
        p = q;
      } else if (isdigit(static_cast<unsigned char>(c))) {
        p = lexNumber(p);
      } else if (c == '\'' || c == '"') {
        p = lexString(p);
      } else {
        static const char *ops2[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op;
        for (const char *o : ops2)
          if (src_.compare(p, 2, o) == 0) { op = o; break; }
        if (op.empty()) {
          if (!strchr("+-/*%~[](){}<>=.:|,;", c)) syntaxError(p, std::string("unexpected char '") + c + "'");
          op = std::string(1, c);
          if (c == '(' || c == '[' || c == '{') ++depth;
          if (c == ')' || c == ']' || c == '}') {
            if (depth == 0) syntaxError(p, std::string("unexpected '") + c + "'");
            --depth;
          }
        }
        toks_.push_back(tok(T::Op, op, p));
        p += op.size();
      }
    }
  }

  size_t lexNumber(size_t p) {
    size_t n = src_.size(), q = p;
    auto digits = [&](size_t &r) {
      while (r < n && (isdigit(static_cast<unsigned char>(src_[r])) || (src_[r] == '_' && r + 1 < n && isdigit(static_cast<unsigned char>(src_[r + 1]))))) ++r;
    };
    if (src_[q] == '0' && q + 1 < n && strchr("xXoObB", src_[q + 1])) {
      int base = (src_[q + 1] == 'x' || src_[q + 1] == 'X') ? 16 : (src_[q + 1] == 'o' || src_[q + 1] == 'O') ? 8 : 2;
      q += 2;
      std::string d;
      while (q < n && (isxdigit(static_cast<unsigned char>(src_[q])) || src_[q] == '_')) {
        if (src_[q] != '_') d.push_back(src_[q]);
        ++q;
      }
      Tok t = tok(T::Int, "", p);
      t.i = std::strtoll(d.c_str(), nullptr, base);
      toks_.push_back(t);
      return q;
    }
    digits(q);
    bool isFloat = false;
    if (q + 1 < n && src_[q] == '.' && isdigit(static_cast<unsigned char>(src_[q + 1]))) {
      isFloat = true;
      ++q;
      digits(q);
    }
    if (q < n && (src_[q] == 'e' || src_[q] == 'E')) {
      size_t r = q + 1;
      if (r < n && (src_[r] == '+' || src_[r] == '-')) ++r;
      if (r < n && isdigit(static_cast<unsigned char>(src_[r]))) {
        isFloat = true;
        q = r;
        digits(q);
      }
    }
    std::string text;
    for (size_t k = p; k < q; ++k)
      if (src_[k] != '_') text.push_back(src_[k]);
    Tok t = tok(isFloat ? T::Float : T::Int, "", p);
    if (isFloat) t.f = std::strtod(text.c_str(), nullptr);
    else {
      errno = 0;
      t.i = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) syntaxError(p, "integer literal too large");
    }
    toks_.push_back(t);
    return q;
  }

  size_t lexString(size_t p) {
    char q = src_[p];
    size_t n = src_.size(), r = p + 1;
    std::string out;
    while (true) {
      if (r >= n) syntaxError(p, "unterminated string literal");
      char c = src_[r];
      if (c == q) break;
      if (c == '\\' && r + 1 < n) {
        char e = src_[r + 1];
        r += 2;
        switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'v': out.push_back('\v'); break;
        case 'a': out.push_back('\a'); break;
        case '0': out.push_back('\0'); break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case '\n': break;
        case 'x': case 'u': case 'U': {
          size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (r + len > n) syntaxError(r, "truncated escape sequence");
          std::string hex = src_.substr(r, len);
          for (char h : hex)
            if (!isxdigit(static_cast<unsigned char>(h))) syntaxError(r, "invalid escape sequence");
          appendUtf8(out, static_cast<char32_t>(std::strtoul(hex.c_str(), nullptr, 16)));
          r += len;
          break;
        }
        default: out.push_back('\\'); out.push_back(e); break;
        }
        continue;
      }
      out.push_back(c);
      ++r;
    }
    toks_.push_back(tok(T::String, out, p));
    return r + 1;
  }

  std::string src_;
  std::vector<size_t> lineStarts_;
  std::vector<Tok> toks_;
};

}  // namespace

std::vector<Tok> lex(const std::string &source) {
  Lexer lexer(source);
  return lexer.run();
}

}  // namespace sl::text::jinja::detail
