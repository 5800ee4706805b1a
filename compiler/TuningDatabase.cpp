#include "compiler/TuningDatabase.h"

#include "runtime/io/Json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace sl::compiler {

namespace {
std::string scalarText(const nlohmann::json &value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}
}  // namespace

StatusOr<std::string> TuningDatabase::forGpu(const std::string &directory,
                                              const std::string &gpu) {
  std::error_code error;
  std::vector<std::string> names;
  for (const auto &entry : std::filesystem::directory_iterator(directory, error))
    if (entry.path().extension() == ".jsonl")
      names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  if (std::find(names.begin(), names.end(), gpu) != names.end())
    return directory + "/" + gpu + ".jsonl";
  std::string known;
  for (const std::string &name : names)
    known += (known.empty() ? "" : ", ") + name;
  return Status::error("--gpu=" + gpu + ": no tuning database " + directory + "/" + gpu +
                       ".jsonl (" + (known.empty() ? "none there" : "there: " + known) + ")");
}

StatusOr<TuningDatabase> TuningDatabase::load(const std::string &path) {
  // A directory opens as a stream that reads nothing: it would pass for an empty database.
  std::error_code error;
  if (std::filesystem::is_directory(path, error))
    return Status::error("tuning database " + path + ": is a directory, not a file");
  std::ifstream in(path);
  if (!in)
    return Status::error("tuning database " + path + ": cannot be read");
  TuningDatabase database;
  std::string line;
  int number = 1;
  for (; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string where = path + ":" + std::to_string(number);
    // A record is flat (bucket and params hold scalars): 4 levels are plenty.
    sl::io::JsonLimits limits;
    limits.maxDepth = 4;
    auto parsed = sl::io::parseJson(line, limits, "tuning database " + where);
    if (!parsed)
      return parsed.status();
    nlohmann::json &record = *parsed;
    if (!record.is_object())
      return Status::error("tuning database " + where + ": not a JSON object");
    if (record.contains("failed"))
      continue;
    for (const char *key : {"kernel", "target", "bucket", "params", "ms"})
      if (!record.contains(key))
        return Status::error("tuning database " + where + ": missing key '" + key + "'");
    if (!record["kernel"].is_string() || !record["target"].is_string() ||
        !record["bucket"].is_object() || !record["params"].is_object() ||
        !record["ms"].is_number())
      return Status::error("tuning database " + where +
                           ": expects string kernel/target, object bucket/params, number ms");
    TuningRecord parsedRecord;
    parsedRecord.kernel = record["kernel"];
    parsedRecord.target = record["target"];
    parsedRecord.ms = record["ms"];
    parsedRecord.origin = where;
    for (auto &[key, value] : record["bucket"].items())
      parsedRecord.bucket[key] = scalarText(value);
    for (auto &[key, value] : record["params"].items()) {
      if (!value.is_number_integer())
        return Status::error("tuning database " + where + ": param '" + key +
                             "' must be an integer");
      parsedRecord.params[key] = value.get<int64_t>();
    }
    database.records_.push_back(std::move(parsedRecord));
  }
  if (in.bad())
    return Status::error("tuning database " + path + ": read error at line " +
                         std::to_string(number));
  return database;
}

std::optional<TuningRecord>
TuningDatabase::lookup(const std::string &kernel, const std::string &target,
                       const std::map<std::string, std::string> &bucket) const {
  std::optional<TuningRecord> best;
  for (const TuningRecord &record : records_)
    if (record.kernel == kernel && record.target == target && record.bucket == bucket &&
        (!best || record.ms < best->ms))
      best = record;
  return best;
}

}  // namespace sl::compiler
