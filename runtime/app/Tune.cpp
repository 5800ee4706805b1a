#include "runtime/app/Tune.h"

#include "runtime/app/Backends.h"
#include "runtime/core/RandomWeights.h"
#include "runtime/io/Safetensors.h"
#include "runtime/nvrtc/Nvrtc.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

namespace sl::runtime {

namespace {

using nlohmann::json;

int failTune(const Status &status) {
  std::cerr << "sltune: " << status.message() << "\n";
  return 1;
}

// The values of one output tensor as floats (the comparisons run in fp64 on them).
StatusOr<std::vector<float>> floatsOf(const Tensor &tensor, const std::string &function) {
  std::vector<float> values;
  switch (tensor.dtype) {
  case sl::schema::DType::f32:
    values.resize(tensor.bytes.size() / 4);
    std::memcpy(values.data(), tensor.bytes.data(), values.size() * 4);
    return values;
  case sl::schema::DType::bf16:
    values.resize(tensor.bytes.size() / 2);
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = sl::io::bf16ToF32(uint16_t(tensor.bytes[2 * i] | (tensor.bytes[2 * i + 1] << 8)));
    return values;
  default:
    return Status::error(function + ": output 0 is not bf16 or f32; sltune compares float outputs");
  }
}

// ||a - b|| / ||b||; infinite when a holds a non-finite value or the sizes differ.
double relativeError(const std::vector<float> &a, const std::vector<float> &b) {
  if (a.size() != b.size())
    return INFINITY;
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i]))
      return INFINITY;
    diff += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    norm += double(b[i]) * b[i];
  }
  return norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

// A bucket value as JSON: a number when it is one ("2688"), else the string ("bf16").
json bucketValue(const std::string &text) {
  char *end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (!text.empty() && *end == '\0')
    return value;
  return text;
}

struct Candidate {
  const sl::schema::TuningCase *tuningCase;
  const sl::schema::Function *function;
  json bucket, params;
};

struct Problem {
  std::string kernel;
  json bucket;
  std::vector<Candidate> candidates;  // the heuristic's first
};

// What identifies a measurement for resuming: the same candidate of the same problem on the same
// GPU model is not measured twice.
std::string recordKey(const std::string &kernel, const std::string &target, const json &bucket,
                      const json &params, const std::string &gpu) {
  return kernel + "|" + target + "|" + bucket.dump() + "|" + params.dump() + "|" + gpu;
}

// The records already in `path` (a missing file has none); a line that is not a record is an
// error: appending to someone else's file would corrupt it.
StatusOr<std::set<std::string>> measuredKeys(const std::string &path) {
  std::set<std::string> keys;
  std::ifstream in(path);
  if (!in)
    return keys;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!record.is_object() || !record.contains("kernel") || !record.contains("target") ||
        !record.contains("bucket") || !record.contains("params") || !record.contains("gpu") ||
        !record["kernel"].is_string() || !record["target"].is_string() ||
        !record["gpu"].is_string())
      return Status::error(path + ":" + std::to_string(number) +
                           ": not an sltune record (kernel, target, bucket, params, gpu); "
                           "name another --output");
    keys.insert(recordKey(record["kernel"], record["target"], record["bucket"], record["params"],
                          record["gpu"]));
  }
  return keys;
}

// Random inputs of `function` for `tokens` tokens, uniform in [-1, 1), the same for every
// candidate of a problem (stream `problem` of the seed).
StatusOr<std::vector<std::vector<uint8_t>>> randomInputs(const sl::schema::Function &function,
                                                         int64_t tokens, uint64_t seed,
                                                         uint32_t problem) {
  std::vector<std::vector<uint8_t>> inputs;
  for (uint32_t i = 0; i < function.inputs()->size(); ++i) {
    const auto *spec = function.inputs()->Get(i);
    if (spec->dtype() != sl::schema::DType::bf16 && spec->dtype() != sl::schema::DType::f32)
      return Status::error(function.name()->str() + ": input " + std::to_string(i) +
                           " is not bf16 or f32 (a sweep function takes float activations)");
    int64_t count = 1;
    for (int64_t dim : *spec->shape())
      count *= dim < 0 ? tokens : dim;
    inputs.push_back(synthesizedValues(size_t(count), spec->dtype(), seed, problem * 64 + i, 1.0f));
  }
  return inputs;
}

}  // namespace

int tuneCommand(int argc, char **argv) {
  auto options = cli::CommandLine::parse(
      argc, argv, {}, {"artifact", "device", "output", "repeats", "warmup", "tolerance", "kernels",
                       "seed", "commit"});
  if (!options)
    return failTune(options.status());
  auto artifactPath = options->file("artifact");
  auto output = options->outputFile("output");
  auto repeats = options->integer("repeats", 10, 1, 1000);
  auto warmup = options->integer("warmup", 2, 0, 100);
  auto tolerance = options->number("tolerance", 2e-2);
  auto seed = options->integer("seed", 1, 0);
  for (const Status &status : {artifactPath.status(), output.status(), repeats.status(),
                               warmup.status(), tolerance.status(), seed.status()})
    if (!status)
      return failTune(status);
  std::set<std::string> kernels;
  {
    std::stringstream list(options->get("kernels"));
    for (std::string item; std::getline(list, item, ',');)
      if (!item.empty())
        kernels.insert(item);
  }
  auto backend = selectBackend(options->get("device", "cuda"));
  if (!backend)
    return failTune(backend.status());
  auto model = Model::synthesize(*artifactPath, uint64_t(*seed), (*backend)->hostMemory);
  if (!model)
    return failTune(model.status());
  auto executor = (*backend)->create(**model, {});
  if (!executor)
    return failTune(executor.status());
  Executor &device = **executor;
  const sl::schema::Plan &plan = device.plan();
  const std::string target = plan.target()->str();
  if (!plan.tuning() || plan.tuning()->size() == 0)
    return failTune(Status::error(*artifactPath +
                                  " is not a tile sweep (compile the model with slc compile "
                                  "--tuning-sweep --target=" + target + ")"));

  // The problems, each with its candidates, the heuristic's first.
  std::vector<Problem> problems;
  int64_t capacity = 1;
  for (const auto *tuningCase : *plan.tuning()) {
    const sl::schema::Function *function = nullptr;
    for (const auto *candidate : *plan.functions())
      if (candidate->name()->str() == tuningCase->function()->str())
        function = candidate;
    if (!function)
      return failTune(Status::error(*artifactPath + ": tuning case of a missing function " +
                                    tuningCase->function()->str()));
    capacity = std::max(capacity, function->max_tokens());
    Candidate candidate{tuningCase, function, json::object(), json::object()};
    for (const auto *key : *tuningCase->bucket())
      candidate.bucket[key->key()->str()] = bucketValue(key->value()->str());
    for (const auto *param : *tuningCase->params())
      candidate.params[param->key()->str()] = param->value();
    const std::string kernel = tuningCase->kernel()->str();
    if (!kernels.empty() && !kernels.count(kernel))
      continue;
    auto same = std::find_if(problems.begin(), problems.end(), [&](const Problem &problem) {
      return problem.kernel == kernel && problem.bucket == candidate.bucket;
    });
    if (same == problems.end()) {
      problems.push_back({kernel, candidate.bucket, {}});
      same = problems.end() - 1;
    }
    auto &list = same->candidates;
    list.insert(tuningCase->heuristic() ? list.begin() : list.end(), candidate);
  }
  for (const Problem &problem : problems)
    if (!problem.candidates.front().tuningCase->heuristic())
      return failTune(Status::error(*artifactPath + ": the " + problem.kernel + " problem " +
                                    problem.bucket.dump() + " has no heuristic candidate"));

  auto done = measuredKeys(*output);
  if (!done)
    return failTune(done.status());
  std::ofstream out(*output, std::ios::app);
  if (!out)
    return failTune(Status::error("--output=" + *output + ": cannot be written"));
  const std::string gpu = device.deviceName().value_or((*backend)->name);
  const std::optional<int> sms = device.deviceMultiprocessors();
  std::cerr << "sltune: " << problems.size() << " problems, " << plan.tuning()->size()
            << " candidates of " << *artifactPath << " (" << target << ") on " << gpu << "\n";

  Session session((*model)->artifact(), capacity, (*backend)->hostMemory);
  int failures = 0;
  for (size_t p = 0; p < problems.size(); ++p) {
    Problem &problem = problems[p];
    const int64_t tokens = problem.candidates.front().function->max_tokens();
    auto inputs = randomInputs(*problem.candidates.front().function, tokens, uint64_t(*seed),
                               uint32_t(p));
    if (!inputs)
      return failTune(inputs.status());
    std::vector<const void *> pointers;
    for (const auto &bytes : *inputs)
      pointers.push_back(bytes.data());
    // One call from an empty sequence; the device time of its kernels (wall time where the
    // backend does not time them).
    auto call = [&](const Candidate &candidate) -> StatusOr<std::pair<double, Tensor>> {
      session.reset();
      auto begin = std::chrono::steady_clock::now();
      auto outputs = device.call(*candidate.function, session, pointers, tokens, OutputRows::all);
      if (!outputs)
        return outputs.status();
      double wall = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - begin)
                        .count();
      return std::make_pair(device.lastCallDeviceMs().value_or(wall),
                            std::move(outputs->front()));
    };
    std::vector<float> reference;
    std::optional<double> heuristicMs;
    double bestMs = INFINITY;
    json best;
    for (const Candidate &candidate : problem.candidates) {
      const bool heuristic = candidate.tuningCase->heuristic();
      const std::string function = candidate.function->name()->str();
      json record = {{"kernel", problem.kernel}, {"target", target},
                     {"bucket", problem.bucket}, {"params", candidate.params},
                     {"gpu", gpu}};
      const bool measured = done->count(recordKey(problem.kernel, target, problem.bucket,
                                                  candidate.params, gpu)) > 0;
      // The reference is computed also when the heuristic's record exists: the others need it.
      if (measured && !heuristic)
        continue;
      record["function"] = function;
      record["tokens"] = tokens;
      record["heuristic"] = heuristic;
      if (sms)
        record["sms"] = *sms;
      record["nvrtc"] = sl::nvrtc::version();
      record["commit"] = options->get("commit", "unknown");
      auto reject = [&](const std::string &why) {
        record["failed"] = why;
        std::cerr << "sltune: " << problem.kernel << " " << candidate.params.dump() << ": " << why
                  << "\n";
        ++failures;
        out << record.dump() << "\n" << std::flush;
      };
      auto first = call(candidate);
      if (!first && heuristic)
        return failTune(Status::error(function + " (the heuristic's " + problem.kernel + " " +
                                      candidate.params.dump() + "): " + first.status().message()));
      if (!first) {
        reject(first.status().message());
        continue;
      }
      auto values = floatsOf(first->second, function);
      if (!values)
        return failTune(values.status());
      double error = 0;
      if (heuristic) {
        reference = std::move(*values);
        for (float value : reference)
          if (!std::isfinite(value))
            return failTune(Status::error(function + ": the heuristic's " + problem.kernel +
                                          " output is not finite: no reference for " +
                                          problem.bucket.dump()));
      } else {
        error = relativeError(*values, reference);
      }
      if (measured)
        continue;
      record["rel_err"] = error;
      if (!(error <= *tolerance)) {
        reject("output differs from the heuristic's by " + std::to_string(error) +
               " (relative L2; tolerance " + std::to_string(*tolerance) + ")");
        continue;
      }
      std::vector<double> times;
      for (int64_t i = 0; i < *warmup + *repeats; ++i) {
        auto timed = call(candidate);
        if (!timed)
          return failTune(Status::error(function + " (" + problem.kernel + " " +
                                        candidate.params.dump() + "): " +
                                        timed.status().message()));
        if (i >= *warmup)
          times.push_back(timed->first);
      }
      std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
      const double ms = times[times.size() / 2];
      record["ms"] = ms;
      if (candidate.tuningCase->flops() > 0)
        record["tflops"] = candidate.tuningCase->flops() / ms / 1e9;
      if (candidate.tuningCase->bytes() > 0)
        record["gbps"] = candidate.tuningCase->bytes() / ms / 1e6;
      out << record.dump() << "\n" << std::flush;
      if (heuristic)
        heuristicMs = ms;
      if (ms < bestMs) {
        bestMs = ms;
        best = candidate.params;
      }
    }
    std::cout << problem.kernel << " " << problem.bucket.dump() << ": ";
    if (heuristicMs && std::isfinite(bestMs))
      std::cout << "heuristic " << *heuristicMs << " ms, best " << bestMs << " ms "
                << best.dump() << " (" << *heuristicMs / bestMs << "x)\n";
    else
      std::cout << "resumed: the heuristic's record is in " << *output << "\n";
  }
  if (failures > 0)
    std::cerr << "sltune: " << failures
              << " candidates failed their check (recorded with \"failed\"; slc skips them)\n";
  return 0;
}

}  // namespace sl::runtime
