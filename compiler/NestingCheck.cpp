#include "compiler/NestingCheck.h"

#include <string>
#include <vector>

namespace sl::compiler {

Status checkNesting(llvm::StringRef text, llvm::StringRef name, int maxDepth) {
  std::vector<char> open;  // the expected closing bracket of every open one
  size_t line = 1, lineStart = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      lineStart = i + 1;
      continue;
    }
    if (c == '"') {  // a string literal ends at its closing quote or, unterminated, its line
      for (++i; i < text.size() && text[i] != '"' && text[i] != '\n'; ++i)
        if (text[i] == '\\')
          ++i;
      if (i < text.size() && text[i] == '\n')
        --i;  // counted as a new line by the next round
      continue;
    }
    if (c == '/' && i + 1 < text.size() && text[i + 1] == '/') {
      while (i + 1 < text.size() && text[i + 1] != '\n')
        ++i;
      continue;
    }
    if (c == '-' && i + 1 < text.size() && text[i + 1] == '>') {  // '->' of a function type
      ++i;
      continue;
    }
    const char closer = c == '(' ? ')' : c == '[' ? ']' : c == '{' ? '}' : c == '<' ? '>' : 0;
    if (closer) {
      open.push_back(closer);
      if (int(open.size()) > maxDepth)
        return Status::error(name.str() + ":" + std::to_string(line) + ":" +
                             std::to_string(i - lineStart + 1) + ": nesting deeper than " +
                             std::to_string(maxDepth) +
                             " levels of brackets (( [ { <), more than slc parses");
      continue;
    }
    if (!open.empty() && c == open.back())
      open.pop_back();
  }
  return Status::success();
}

}  // namespace sl::compiler
