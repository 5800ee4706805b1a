// Options of the slrun commands: '--name value' or '--name=value'; a repeated option keeps
// every value (all()), the others read the last one.
#pragma once

#include "runtime/support/Status.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace sl::cli {

class CommandLine {
public:
  static StatusOr<CommandLine> parse(int argc, char **argv, const std::set<std::string> &flags,
                                     const std::set<std::string> &valued) {
    CommandLine line;
    for (int i = 0; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg.rfind("--", 0) != 0)
        return Status::error("unexpected argument '" + arg + "' (options start with --)");
      std::string name = arg.substr(2), value;
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (flags.count(name)) {
        if (eq != std::string::npos)
          return Status::error("option --" + name + " takes no value");
        line.values_[name].push_back("");
        continue;
      }
      if (!valued.count(name))
        return Status::error("unknown option --" + name);
      if (eq == std::string::npos) {
        if (i + 1 >= argc)
          return Status::error("option --" + name + " needs a value");
        value = argv[++i];
      }
      line.values_[name].push_back(value);
    }
    return line;
  }

  bool has(const std::string &name) const { return values_.count(name) > 0; }
  std::string get(const std::string &name, const std::string &fallback = "") const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second.back();
  }
  // Every value of a repeatable option, in order.
  std::vector<std::string> all(const std::string &name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }
  // A file argument: '@file' or 'file'.
  StatusOr<std::string> file(const std::string &name) const {
    auto value = required(name);
    if (!value)
      return value;
    return value->rfind("@", 0) == 0 ? value->substr(1) : *value;
  }
  // A file the command will write ('@file' or 'file'), checked before any work is done.
  StatusOr<std::string> outputFile(const std::string &name) const {
    auto path = file(name);
    if (!path)
      return path;
    if (Status status = checkOutputPath(name, *path); !status)
      return status;
    return path;
  }
  // `path`, given to --`name`, can be written: not a directory, in a directory that exists.
  static Status checkOutputPath(const std::string &name, const std::string &path) {
    std::error_code error;
    const std::filesystem::path target(path);
    if (std::filesystem::is_directory(target, error))
      return Status::error("--" + name + "=" + path + ": is a directory; name a file to write");
    const std::filesystem::path parent = target.parent_path();
    if (!parent.empty() && !std::filesystem::is_directory(parent, error))
      return Status::error("--" + name + "=" + path + ": cannot write there: " +
                           parent.string() + " is not an existing directory");
    return Status::success();
  }
  StatusOr<std::string> required(const std::string &name) const {
    std::string value = get(name);
    if (value.empty())
      return Status::error("missing --" + name);
    return value;
  }
  StatusOr<int64_t> integer(const std::string &name, int64_t fallback, int64_t minimum,
                            int64_t maximum = INT64_MAX) const {
    if (!has(name))
      return fallback;
    std::string value = get(name);
    char *end = nullptr;
    long long parsed = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end || parsed < minimum || parsed > maximum)
      return Status::error("--" + name + " expects an integer " +
                           (maximum == INT64_MAX ? ">= " + std::to_string(minimum)
                                                 : "in [" + std::to_string(minimum) + ", " +
                                                       std::to_string(maximum) + "]") +
                           ", got '" + value + "'");
    return parsed;
  }
  StatusOr<double> number(const std::string &name, double fallback) const {
    if (!has(name))
      return fallback;
    std::string value = get(name);
    char *end = nullptr;
    double parsed = std::strtod(value.c_str(), &end);
    if (value.empty() || *end)
      return Status::error("--" + name + " expects a number, got '" + value + "'");
    return parsed;
  }

private:
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace sl::cli
