// Message helpers and JSON files of `slc import`. See ImportConfig.h.
#include "models/ImportConfig.h"

#include "runtime/io/Json.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace sl::importer::detail {

std::string str(int64_t v) { return std::to_string(v); }

std::string fmt(double v) {
  if (std::isnan(v))
    return "nan";
  if (std::isinf(v))
    return v > 0 ? "inf" : "-inf";
  char buffer[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, v);
    if (std::strtod(buffer, nullptr) == v)
      break;
  }
  return buffer;
}

std::string describe(const json &v) {
  std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60)
    text = text.substr(0, 57) + "...";
  switch (v.type()) {
  case json::value_t::null:
    return "null";
  case json::value_t::boolean:
    return "boolean " + text;
  case json::value_t::number_integer:
  case json::value_t::number_unsigned:
    return "integer " + text;
  case json::value_t::number_float:
    return "number " + text;
  case json::value_t::string:
    return "string " + text;
  case json::value_t::array:
    return "an array";
  case json::value_t::object:
    return "an object";
  default:
    return text;
  }
}

// Python's json module writes the non-finite floats of a config (time_step_limit = (0, inf)) as
// bare Infinity / -Infinity / NaN, which is not JSON. Outside strings they are rewritten as the
// strings "Infinity", "-Infinity", "NaN", which readNumber accepts.
std::string quoteNonFinite(StringRef text) {
  std::string out;
  out.reserve(text.size() + 16);
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      out += c;
      if (c == '\\' && i + 1 < text.size())
        out += text[++i];
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
      out += c;
      continue;
    }
    bool replaced = false;
    for (StringRef word : {"-Infinity", "Infinity", "NaN"}) {
      if (text.substr(i).starts_with(word)) {
        out += "\"" + word.str() + "\"";
        i += word.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced)
      out += c;
  }
  return out;
}

namespace {

// Nesting allowed in config.json and --name-map files: real configs nest 3 levels
// (quantization_config, rope_scaling); a deeper file is refused before it is built, so that
// nothing done with the value afterwards recurses deeply.
constexpr size_t kMaxJsonDepth = 64;

}  // namespace

std::optional<json> readJsonFile(const std::string &path, std::string &error) {
  if (llvm::sys::fs::is_directory(path)) {
    error = path + ": cannot read: is a directory";
    return std::nullopt;
  }
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer) {
    error = path + ": cannot read: " + buffer.getError().message();
    return std::nullopt;
  }
  StringRef text = (*buffer)->getBuffer();
  sl::io::JsonLimits limits;
  limits.maxDepth = kMaxJsonDepth;
  const std::string what = path + ": invalid JSON";
  auto value = sl::io::parseJson(std::string_view(text.data(), text.size()), limits, what);
  if (value)
    return std::move(*value);
  std::string quoted = quoteNonFinite(text);
  if (quoted == text) {
    error = value.status().message();
    return std::nullopt;
  }
  auto requoted = sl::io::parseJson(quoted, limits, what);
  if (requoted)
    return std::move(*requoted);
  // A syntax error is reported at its position in the file as written; a broken limit (depth,
  // duplicate key) as found in the quoted text, where the parser got further.
  const bool syntaxError =
      requoted.status().message().rfind(what + ": parse error", 0) == 0;
  error = syntaxError ? value.status().message() : requoted.status().message();
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Config reader: typed access with defaults and the first error

}  // namespace sl::importer::detail
