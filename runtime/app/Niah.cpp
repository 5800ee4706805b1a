#include "runtime/app/Niah.h"

#include "runtime/app/Backends.h"
#include "runtime/app/Haystack.h"
#include "runtime/app/NiahHeatmap.h"
#include "runtime/app/NiahRunner.h"
#include "runtime/core/MemoryBudget.h"
#include "runtime/io/Files.h"
#include "runtime/support/CommandLine.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace sl::runtime {

namespace {

using Options = cli::CommandLine;
using Clock = std::chrono::steady_clock;

const char *kNiahUsage =
    "usage: slrun niah (--artifact A --weights DIR [--device=cpu|cuda] [--chunk=N]\n"
    "                   [--devices=0,1,...] [--max-context=N]\n"
    "                  | --url http://HOST:PORT --model NAME [--api-key KEY] --tokenizer DIR\n"
    "                   [--timeout=SECONDS])\n"
    "                  [--task FILE] [--lengths=1024,4096,16384] [--depths=0,0.25,0.5,0.75,1]\n"
    "                  [--trials=4] [--needles=1] [--seed=0] [--no-needle]\n"
    "                  [--max-new-tokens=N] [--output=results.jsonl] [--heatmap=niah.png]\n"
    "                  [--label=TEXT]\n"
    "Needle-in-a-haystack accuracy by prompt length (tokens of the whole chat prompt) and needle\n"
    "depth (0 = start, 1 = end; --depths=N: N evenly spaced). Each cell asks --trials prompts\n"
    "with fresh needles, --needles - 1 of them distractors with other keys; greedy answers are\n"
    "correct when they contain the needle's value. --no-needle: the same prompts without needles\n"
    "(a control at chance). --task defaults to niah_task.json of the weights or tokenizer\n"
    "directory; --max-new-tokens to the value's digits + 4. The table goes to stdout, one JSON\n"
    "line per trial and per cell is appended to --output, --heatmap writes a PNG. In this\n"
    "process the prefill of the shared prefix is reused across trials and depths; --url sends\n"
    "each prompt to POST /v1/chat/completions. docs/niah.md.\n";

struct NiahConfig {
  bool local = true;
  std::string artifact, weights, device = "cpu", url, model, apiKey, tokenizerDir, taskPath;
  std::vector<int64_t> lengths;
  std::vector<double> depths;
  int64_t trials = 4, needles = 1, seed = 0, maxNewTokens = 0, chunk = 0, maxContext = 0;
  bool withNeedle = true;
  double timeout = 600;
  std::string output, heatmap, label;
};

// Options that belong to one mode only: a clear error instead of being ignored.
Status exclusive(const Options &options, bool local) {
  const std::vector<std::string> localOnly = {"weights", "device", "devices", "chunk",
                                              "max-context"};
  const std::vector<std::string> urlOnly = {"model", "api-key", "tokenizer", "timeout"};
  for (const std::string &name : local ? urlOnly : localOnly)
    if (options.has(name))
      return Status::error("--" + name + " applies to " +
                           (local ? std::string("--url runs")
                                  : std::string("--artifact runs (the server has its own)")));
  return Status::success();
}

StatusOr<NiahConfig> readConfig(const Options &options) {
  NiahConfig config;
  if (options.has("artifact") == options.has("url"))
    return Status::error("choose --artifact A --weights DIR (the model in this process) or --url "
                         "http://HOST:PORT --model NAME --tokenizer DIR (a server)");
  config.local = options.has("artifact");
  if (Status status = exclusive(options, config.local); !status)
    return status;
  if (config.local) {
    auto artifact = options.required("artifact");
    auto weights = options.required("weights");
    for (const Status &status : {artifact.status(), weights.status(), checkDevice(options)})
      if (!status)
        return status;
    config.artifact = *artifact;
    config.weights = config.tokenizerDir = *weights;
    config.device = *deviceSpec(options);  // checkDevice: valid
  } else {
    auto url = options.required("url");
    auto model = options.required("model");
    if (!url || !model)
      return !url ? url.status() : model.status();
    if (!options.has("tokenizer"))
      return Status::error("--url needs --tokenizer DIR (the model's tokenizer.json and chat "
                           "template: prompt lengths are counted and rendered locally)");
    config.url = *url;
    config.model = *model;
    config.apiKey = options.get("api-key");
    config.tokenizerDir = options.get("tokenizer");
    auto timeout = options.number("timeout", 600);
    if (!timeout)
      return timeout.status();
    if (!(*timeout > 0 && *timeout <= 86400))
      return Status::error("--timeout expects seconds in (0, 86400], got '" +
                           options.get("timeout") + "'");
    config.timeout = *timeout;
  }
  config.taskPath = options.has("task") ? options.get("task")
                                        : config.tokenizerDir + "/niah_task.json";
  if (Status status = io::checkRegularFile(config.taskPath, "niah task file"); !status)
    return Status::error(status.message() +
                         (options.has("task") ? "" : " (the default of --task; pass --task FILE)"));
  auto lengths = parseNiahLengths(options.get("lengths", "1024,4096,16384"));
  auto depths = parseNiahDepths(options.get("depths", "0,0.25,0.5,0.75,1"));
  auto trials = options.integer("trials", 4, 1, 1000000);
  auto needles = options.integer("needles", 1, 1, 1000);
  auto seed = options.integer("seed", 0, 0);
  auto maxNew = options.integer("max-new-tokens", 0, 1, kMaxSessionTokens);
  auto chunk = options.integer("chunk", 0, 1, kMaxSessionTokens);
  auto maxContext = options.integer("max-context", 0, 1, kMaxSessionTokens);
  for (const Status &status : {lengths.status(), depths.status(), trials.status(),
                               needles.status(), seed.status(), maxNew.status(), chunk.status(),
                               maxContext.status()})
    if (!status)
      return status;
  config.lengths = *lengths;
  config.depths = *depths;
  config.trials = *trials;
  config.needles = *needles;
  config.seed = *seed;
  config.maxNewTokens = *maxNew;
  config.chunk = *chunk;
  config.maxContext = *maxContext;
  config.withNeedle = !options.has("no-needle");
  config.label = options.get("label");
  for (const char *name : {"output", "heatmap"})
    if (options.has(name)) {
      auto path = options.outputFile(name);
      if (!path)
        return path.status();
      (std::strcmp(name, "output") == 0 ? config.output : config.heatmap) = *path;
    }
  return config;
}

std::string percentText(double fraction, int digits) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, fraction * 100);
  return buffer;
}

// 0.25 -> "25%", 1/3 -> "33.3%".
std::string depthLabel(double depth) {
  std::string text = percentText(depth, 1);
  if (text.size() > 2 && text.compare(text.size() - 2, 2, ".0") == 0)
    text.resize(text.size() - 2);
  return text + "%";
}

struct Cell {
  int64_t length = 0;
  double depth = 0;
  int64_t trials = 0, correct = 0, promptTokens = 0, prefilled = 0;
  bool prefillKnown = true;
  double seconds = 0;
};

// The prompt of one grid point.
StatusOr<NiahPrompt> gridPrompt(const NiahConfig &config, const HaystackBuilder &builder,
                                int64_t length, double depth, int64_t trial) {
  HaystackSpec spec;
  spec.length = length;
  spec.depth = depth;
  spec.needles = config.needles;
  spec.withNeedle = config.withNeedle;
  // The filler is one stream per (seed, length), so that the prompts of one length share their
  // prefix across depths; the needles are fresh per trial (and the same with and without
  // --no-needle, whose control is scored against them).
  spec.fillerSeed = mixSeed({uint64_t(config.seed), uint64_t(length), 0x46494C4Cu});
  uint64_t depthBits;
  std::memcpy(&depthBits, &depth, sizeof depthBits);
  spec.needleSeed = mixSeed({uint64_t(config.seed), uint64_t(length), depthBits, uint64_t(trial)});
  auto built = builder.build(spec);
  if (!built)
    return Status::error("--lengths=" + std::to_string(length) + ": " + built.status().message());
  return built;
}

// One run over the grid: builds each length's prompts, asks the runner, scores, writes the
// JSON lines as each cell completes.
class NiahRun {
public:
  NiahRun(const NiahConfig &config, const HaystackBuilder &builder, NiahRunner &runner)
      : config_(config), builder_(builder), runner_(runner) {}

  Status all() {
    if (!config_.output.empty()) {
      out_.open(config_.output, std::ios::app);
      if (!out_)
        return Status::error("--output=" + config_.output + ": cannot open for appending");
    }
    for (int64_t length : config_.lengths)
      if (Status status = runLength(length); !status)
        return status;
    return Status::success();
  }

  void printTable(std::ostream &os) const;
  Status writeHeatmap() const;

private:
  Status runLength(int64_t length);
  void writeTrial(const NiahPrompt &prompt, int64_t length, double depth, int64_t trial,
                  const NiahReply &reply, bool correct);
  void writeCell(const Cell &cell);

  const NiahConfig &config_;
  const HaystackBuilder &builder_;
  NiahRunner &runner_;
  std::ofstream out_;
  std::vector<Cell> cells_;  // length-major, depths ascending
  bool warnedCount_ = false;
};

Status NiahRun::runLength(int64_t length) {
  // Depths ascending: each depth's shared prefix extends the previous one's.
  std::vector<NiahPrompt> prompts;
  int64_t longest = 0;
  for (double depth : config_.depths)
    for (int64_t trial = 0; trial < config_.trials; ++trial) {
      auto built = gridPrompt(config_, builder_, length, depth, trial);
      if (!built)
        return built.status();
      longest = std::max(longest, int64_t(built->tokens.size()));
      if (config_.local)
        std::string().swap(built->content);  // only a server needs the text
      prompts.push_back(std::move(*built));
    }
  const int64_t needed = longest + config_.maxNewTokens;
  if (config_.maxContext > 0 && needed > config_.maxContext)
    return Status::error("--max-context=" + std::to_string(config_.maxContext) +
                         " is too small for --lengths=" + std::to_string(length) +
                         ": prompts of up to " + std::to_string(longest) + " tokens plus " +
                         "--max-new-tokens=" + std::to_string(config_.maxNewTokens));
  if (needed > kMaxSessionTokens)
    return Status::error("--lengths=" + std::to_string(length) + " plus --max-new-tokens=" +
                         std::to_string(config_.maxNewTokens) + " exceeds the largest session, " +
                         std::to_string(kMaxSessionTokens) + " tokens");
  if (Status status = runner_.beginLength(length, config_.maxContext > 0 ? config_.maxContext : needed);
      !status)
    return status;
  // The prefix the trials of one depth share: the filler before the needles, as far as their
  // tokens agree (the filler's cut at the end differs with the needles' token counts, so at
  // depth 1 each prompt's own prefix reaches past the others').
  std::vector<int64_t> shared(config_.depths.size());
  for (size_t d = 0; d < shared.size(); ++d) {
    const size_t first = d * size_t(config_.trials);
    const std::vector<int32_t> &base = prompts[first].tokens;
    shared[d] = prompts[first].sharedTokens;
    for (size_t t = first + 1; t < first + size_t(config_.trials); ++t) {
      const std::vector<int32_t> &tokens = prompts[t].tokens;
      const int64_t limit = std::min(shared[d], prompts[t].sharedTokens);
      int64_t same = 0;
      while (same < limit && tokens[size_t(same)] == base[size_t(same)])
        ++same;
      shared[d] = same;
    }
  }
  size_t next = 0;
  for (size_t d = 0; d < config_.depths.size(); ++d) {
    const double depth = config_.depths[d];
    Cell cell;
    cell.length = length;
    cell.depth = depth;
    const auto begin = Clock::now();
    for (int64_t trial = 0; trial < config_.trials; ++trial) {
      const NiahPrompt &prompt = prompts[next++];
      auto reply = runner_.run(prompt, config_.maxNewTokens, shared[d]);
      if (!reply)
        return Status::error("--lengths=" + std::to_string(length) + ", depth " +
                             depthLabel(depth) + ", trial " + std::to_string(trial) + ": " +
                             reply.status().message());
      if (reply->serverPromptTokens >= 0 &&
          reply->serverPromptTokens != int64_t(prompt.tokens.size()) && !warnedCount_) {
        warnedCount_ = true;
        std::cerr << "slrun: warning: the server counted " << reply->serverPromptTokens
                  << " prompt tokens where --tokenizer counts " << prompt.tokens.size()
                  << " (lengths are the local counts; is it the server's tokenizer?)\n";
      }
      const bool correct = reply->text.find(prompt.values[0]) != std::string::npos;
      ++cell.trials;
      cell.correct += correct;
      cell.promptTokens += int64_t(prompt.tokens.size());
      if (reply->prefilledTokens >= 0)
        cell.prefilled += reply->prefilledTokens;
      else
        cell.prefillKnown = false;
      writeTrial(prompt, length, depth, trial, *reply, correct);
    }
    cell.seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    writeCell(cell);
    std::cerr << "slrun: niah " << length << " tokens, depth " << depthLabel(depth) << ": "
              << cell.correct << "/" << cell.trials << " correct in " << std::fixed
              << std::setprecision(2) << cell.seconds << " s";
    if (cell.prefillKnown)
      std::cerr << " (prefilled " << cell.prefilled << " of " << cell.promptTokens
                << " prompt tokens)";
    std::cerr << std::defaultfloat << "\n";
    cells_.push_back(cell);
  }
  runner_.endLength();
  return Status::success();
}

std::string jsonLine(const nlohmann::ordered_json &value) {
  // Replies are model output: invalid UTF-8 becomes U+FFFD rather than an exception.
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void NiahRun::writeTrial(const NiahPrompt &prompt, int64_t length, double depth, int64_t trial,
                         const NiahReply &reply, bool correct) {
  if (!out_.is_open())
    return;
  nlohmann::ordered_json line = {{"bench", "niah"},
                                 {"kind", "trial"},
                                 {"length", length},
                                 {"prompt_tokens", prompt.tokens.size()},
                                 {"depth", depth},
                                 {"trial", trial},
                                 {"needles", config_.needles},
                                 {"needle", config_.withNeedle},
                                 {"key", prompt.keys[0]},
                                 {"value", prompt.values[0]},
                                 {"reply", reply.text},
                                 {"correct", correct}};
  line["prefill_tokens"] =
      reply.prefilledTokens >= 0 ? nlohmann::ordered_json(reply.prefilledTokens) : nullptr;
  out_ << jsonLine(line);
}

void NiahRun::writeCell(const Cell &cell) {
  if (!out_.is_open())
    return;
  nlohmann::ordered_json line = {{"bench", "niah"},
                                 {"kind", "cell"},
                                 {"length", cell.length},
                                 {"depth", cell.depth},
                                 {"trials", cell.trials},
                                 {"correct", cell.correct},
                                 {"accuracy", double(cell.correct) / double(cell.trials)},
                                 {"needle", config_.withNeedle},
                                 {runner_.whereKey(), runner_.where()},
                                 {"model", runner_.model()},
                                 {"label", config_.label},
                                 {"seconds", cell.seconds},
                                 {"prompt_tokens", cell.promptTokens}};
  line["prefill_tokens"] =
      cell.prefillKnown ? nlohmann::ordered_json(cell.prefilled) : nullptr;
  out_ << jsonLine(line) << std::flush;
}

void NiahRun::printTable(std::ostream &os) const {
  const size_t depths = config_.depths.size();
  os << "niah: " << runner_.model() << " (" << runner_.where() << "), " << config_.trials
     << (config_.trials == 1 ? " trial" : " trials") << " per cell, " << config_.needles
     << (config_.needles == 1 ? " needle" : " needles") << ", seed " << config_.seed
     << (config_.withNeedle ? "" : ", no needle (control)")
     << (config_.label.empty() ? "" : ", label: " + config_.label) << "\n";
  os << "accuracy (%) by length (rows) and depth (columns)\n";
  auto column = [&](const std::string &text) { os << std::setw(9) << text; };
  column("length");
  for (double depth : config_.depths)
    column(depthLabel(depth));
  column("all");
  os << "\n";
  std::vector<int64_t> depthCorrect(depths, 0), depthTrials(depths, 0);
  int64_t correct = 0, trials = 0, prompt = 0, prefilled = 0;
  bool known = true;
  for (size_t i = 0; i < cells_.size(); i += depths) {
    column(std::to_string(cells_[i].length));
    int64_t rowCorrect = 0, rowTrials = 0;
    for (size_t d = 0; d < depths && i + d < cells_.size(); ++d) {
      const Cell &cell = cells_[i + d];
      column(percentText(double(cell.correct) / double(cell.trials), 1));
      rowCorrect += cell.correct, rowTrials += cell.trials;
      depthCorrect[d] += cell.correct, depthTrials[d] += cell.trials;
      prompt += cell.promptTokens, prefilled += cell.prefilled;
      known &= cell.prefillKnown;
    }
    column(percentText(double(rowCorrect) / double(std::max<int64_t>(rowTrials, 1)), 1));
    os << "\n";
    correct += rowCorrect, trials += rowTrials;
  }
  column("all");
  for (size_t d = 0; d < depths; ++d)
    column(percentText(double(depthCorrect[d]) / double(std::max<int64_t>(depthTrials[d], 1)), 1));
  column(percentText(double(correct) / double(std::max<int64_t>(trials, 1)), 1));
  os << "\n";
  os << "overall: " << correct << " of " << trials << " correct ("
     << percentText(double(correct) / double(std::max<int64_t>(trials, 1)), 1) << "%)\n";
  if (known)
    os << "prefill: " << prefilled << " of " << prompt << " prompt tokens computed ("
       << percentText(double(prefilled) / double(std::max<int64_t>(prompt, 1)), 1) << "%)\n";
  else
    os << "prefill: " << prompt << " prompt tokens (the server did not report what it computed)\n";
}

Status NiahRun::writeHeatmap() const {
  Heatmap map;
  int64_t correct = 0, trials = 0;
  for (const Cell &cell : cells_)
    correct += cell.correct, trials += cell.trials;
  map.title = config_.label.empty() ? "needle in a haystack: " + runner_.model() : config_.label;
  map.subtitle = "accuracy, overall " + percentText(double(correct) / double(std::max<int64_t>(trials, 1)), 1) +
                 "% of " + std::to_string(trials) + " (" + std::to_string(config_.trials) +
                 " per cell, " + std::to_string(config_.needles) +
                 (config_.needles == 1 ? " needle" : " needles") +
                 (config_.withNeedle ? "" : ", control without needle") + ")";
  for (int64_t length : config_.lengths)
    map.columns.push_back(lengthLabel(length));
  for (double depth : config_.depths) {
    map.rows.push_back(depthLabel(depth));
    map.accuracy.emplace_back();
  }
  const size_t depths = config_.depths.size();
  for (size_t i = 0; i < cells_.size(); ++i)
    map.accuracy[i % depths].push_back(double(cells_[i].correct) / double(cells_[i].trials));
  HeatmapLayout layout;
  io::RgbImage image = drawHeatmap(map, &layout);
  if (Status status = io::writePng(config_.heatmap, image); !status)
    return Status::error("--heatmap=" + status.message());
  std::cout << "heatmap: " << config_.heatmap << " (" << layout.width << " x " << layout.height
            << " pixels; cells of " << layout.cellWidth << " x " << layout.cellHeight
            << " from x " << layout.gridX << ", y " << layout.gridY << ")\n";
  return Status::success();
}

// The tokenizer and chat template of `dir` into `loaded` (the prompts are rendered as the
// server renders chat requests).
Status loadText(const std::string &dir, server::LoadedModel &loaded) {
  auto tokenizer = text::Tokenizer::load(dir);
  if (!tokenizer)
    return tokenizer.status();
  auto chatTemplate = text::ChatTemplate::load(dir);
  if (!chatTemplate)
    return Status::error(dir + ": no usable chat template (niah prompts are chat prompts): " +
                         chatTemplate.status().message());
  loaded.tokenizer.emplace(std::move(*tokenizer));
  loaded.chatTemplate.emplace(std::move(*chatTemplate));
  return Status::success();
}

}  // namespace

StatusOr<std::vector<int64_t>> parseNiahLengths(const std::string &text) {
  std::vector<int64_t> lengths;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    int64_t unit = 1;
    std::string digits = item;
    if (!digits.empty() && (digits.back() == 'K' || digits.back() == 'k'))
      unit = 1024, digits.pop_back();
    else if (!digits.empty() && (digits.back() == 'M' || digits.back() == 'm'))
      unit = 1048576, digits.pop_back();
    char *end = nullptr;
    errno = 0;
    long long value = std::strtoll(digits.c_str(), &end, 10);
    if (digits.empty() || *end || errno || value < 1 || value > kMaxSessionTokens / unit)
      return Status::error("--lengths: '" + item + "' is not a token count in [1, " +
                           std::to_string(kMaxSessionTokens) + "]");
    if (std::find(lengths.begin(), lengths.end(), value * unit) != lengths.end())
      return Status::error("--lengths: " + item + " is given twice");
    lengths.push_back(value * unit);
  }
  if (lengths.empty() || text.back() == ',')
    return Status::error("--lengths expects comma-separated token counts, got '" + text + "'");
  return lengths;
}

StatusOr<std::vector<double>> parseNiahDepths(const std::string &text) {
  std::vector<double> depths;
  if (text.find_first_not_of("0123456789") == std::string::npos && !text.empty() &&
      text != "0" && text != "1") {
    char *end = nullptr;
    long long count = std::strtoll(text.c_str(), &end, 10);
    if (count < 2 || count > 1000)
      return Status::error("--depths=N expects N evenly spaced depths with N in [2, 1000], got '" +
                           text + "'");
    for (long long i = 0; i < count; ++i)
      depths.push_back(double(i) / double(count - 1));
    return depths;
  }
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    char *end = nullptr;
    double value = std::strtod(item.c_str(), &end);
    if (item.empty() || *end)
      return Status::error("--depths: '" + item + "' is not a number");
    if (!(value >= 0 && value <= 1))
      return Status::error("--depths: " + item + " is outside [0, 1] (0 = the start of the "
                                                 "haystack, 1 = its end)");
    if (std::find(depths.begin(), depths.end(), value) != depths.end())
      return Status::error("--depths: " + item + " is given twice");
    depths.push_back(value);
  }
  if (depths.empty() || text.back() == ',')
    return Status::error("--depths expects comma-separated depths in [0, 1] or a count N, got '" +
                         text + "'");
  std::sort(depths.begin(), depths.end());
  return depths;
}

int niahCommand(int argc, char **argv) {
  auto options = Options::parse(
      argc, argv, {"help", "no-needle"},
      {"artifact", "weights", "device", "devices", "url", "model", "api-key", "tokenizer", "timeout", "task",
       "lengths", "depths", "trials", "needles", "seed", "max-new-tokens", "chunk", "max-context",
       "output", "heatmap", "label"});
  if (!options)
    return fail(options.status());
  if (options->has("help")) {
    std::cout << kNiahUsage;
    return 0;
  }
  auto config = readConfig(*options);
  if (!config)
    return fail(config.status());
  auto loaded = std::make_unique<server::LoadedModel>();  // holds the tokenizer and template
  auto task = NiahTask::load(config->taskPath);
  if (!task)
    return fail(task.status());
  if (Status status = loadText(config->tokenizerDir, *loaded); !status)
    return fail(status);
  if (config->maxNewTokens == 0)
    config->maxNewTokens = task->valueDigits + 4;
  HaystackBuilder builder(*task, *loaded->tokenizer, *loaded->chatTemplate);
  std::unique_ptr<NiahRunner> runner;
  if (!config->local) {
    auto url = io::parseHttpUrl(config->url);
    if (!url)
      return fail(url.status());
    io::HttpOptions http;
    http.idleSeconds = config->timeout;
    runner = makeUrlRunner(NiahServer{*url, config->model, config->apiKey, http});
  }
  // Every length must hold its prompt's fixed part: checked before the model is loaded.
  for (int64_t length : config->lengths)
    if (auto built = gridPrompt(*config, builder, length, config->depths[0], 0); !built)
      return fail(built.status());
  if (config->local) {
    auto local = makeLocalRunner(*loaded, config->artifact, config->weights, config->device,
                                 config->chunk);
    if (!local)
      return fail(local.status());
    runner = std::move(*local);
  }
  NiahRun grid(*config, builder, *runner);
  if (Status status = grid.all(); !status)
    return fail(status);
  grid.printTable(std::cout);
  if (!config->heatmap.empty())
    if (Status status = grid.writeHeatmap(); !status)
      return fail(status);
  return 0;
}

}  // namespace sl::runtime
