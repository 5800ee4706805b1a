// slrun bench: prefill and decode timings of a compiled model (token ids in) or of a compiled
// layer (a `forward` of activations, e.g. tools/bench/msa-layer.mlir), at contexts whose session
// state is synthesised; a table on stdout, JSON lines to --output.
#include "runtime/app/Backends.h"

#include "runtime/app/Engine.h"
#include "runtime/core/MemoryBudget.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

namespace sl::runtime {

namespace {

// Decode steps timed at one context: a median of more says nothing new.
constexpr int64_t kMaxDecodeSteps = int64_t(1) << 20;

// KV-cache bytes per token of every attention layer of the artifact.
int64_t kvBytesPerToken(const Artifact &artifact) {
  int64_t bytes = 0;
  for (const auto *slot : *artifact.root().states())
    if (slot->kind() == sl::schema::StateKind::kv_cache)
      bytes += 2 * int64_t(slot->kv_heads()) * slot->head_dim() * dtypeBytes(slot->dtype());
  return bytes;
}

bool isModel(const sl::schema::Function &prefill) {
  return prefill.inputs()->size() == 1 &&
         prefill.inputs()->Get(0)->dtype() == sl::schema::DType::i32;
}

// Random activations of a layer function's inputs for `tokens` tokens (uniform in [-1, 1),
// bf16 or f32), made once per token count: the timings do not depend on the values' history.
class LayerInputs {
public:
  explicit LayerInputs(const sl::schema::Function &function) : function_(function) {}
  StatusOr<std::vector<const void *>> get(int64_t tokens) {
    auto &arrays = cache_[tokens];
    if (arrays.empty()) {
      uint64_t state = 0x9e3779b97f4a7c15ull ^ uint64_t(tokens);
      for (const auto *spec : *function_.inputs()) {
        int64_t count = 1;
        for (int64_t dim : *spec->shape())
          count *= dim < 0 ? tokens : dim;
        std::vector<uint8_t> bytes(size_t(count) * dtypeBytes(spec->dtype()));
        for (int64_t i = 0; i < count; ++i) {
          state ^= state << 13, state ^= state >> 7, state ^= state << 17;
          float value = float(int64_t(state >> 40) - (1 << 23)) / float(1 << 23);
          if (spec->dtype() == sl::schema::DType::bf16) {
            uint32_t bits;
            std::memcpy(&bits, &value, 4);
            uint16_t half = uint16_t(bits >> 16);
            std::memcpy(bytes.data() + 2 * i, &half, 2);
          } else if (spec->dtype() == sl::schema::DType::f32) {
            std::memcpy(bytes.data() + 4 * i, &value, 4);
          } else {
            return Status::error("bench: input of a layer function must be bf16 or f32");
          }
        }
        arrays.push_back(std::move(bytes));
      }
    }
    std::vector<const void *> pointers;
    for (const auto &bytes : arrays)
      pointers.push_back(bytes.data());
    return pointers;
  }

private:
  const sl::schema::Function &function_;
  std::map<int64_t, std::vector<std::vector<uint8_t>>> cache_;
};

}  // namespace

int benchCommand(int argc, char **argv) {
  auto options = cli::CommandLine::parse(argc, argv, {"random-weights", "profile"},
                                {"artifact", "weights", "device", "devices", "contexts", "chunk", "name",
                                 "decode-steps", "prefill-tokens", "commit", "output"});
  if (!options)
    return fail(options.status());
  auto chunk = options->integer("chunk", 0, 1);
  auto steps = options->integer("decode-steps", 16, 1, kMaxDecodeSteps);
  auto prefillTokens = options->integer("prefill-tokens", 0, 0, kMaxSessionTokens);
  for (const Status &status :
       {chunk.status(), steps.status(), prefillTokens.status(), checkDevice(*options)})
    if (!status)
      return fail(status);
  if (options->has("output"))
    if (Status status = cli::CommandLine::checkOutputPath("output", options->get("output"));
        !status)
      return fail(status);
  std::vector<int64_t> contexts;
  std::stringstream list(options->get("contexts", "0"));
  for (std::string item; std::getline(list, item, ',');) {
    char *end = nullptr;
    errno = 0;
    long long value = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end || value < 0 || errno == ERANGE || value > kMaxSessionTokens)
      return fail(Status::error("--contexts expects comma-separated token counts in [0, " +
                                std::to_string(kMaxSessionTokens) + "], got '" + item + "'"));
    contexts.push_back(value);
  }
  auto selected = selectBackend(*options);
  if (!selected)
    return fail(selected.status());
  const Backend &device = **selected;
  auto model = loadModel(*options, /*weightsRequired=*/false);
  if (!model)
    return fail(model.status());
  const Artifact &artifact = (*model)->artifact();
  const auto *prefill = artifact.function("prefill");
  const auto *decode = artifact.function("decode");
  if (!prefill || !decode)
    return fail(Status::error("the artifact has no prefill/decode functions (compile a model, or "
                              "a layer module whose function is named forward)"));
  const bool isModelArtifact = isModel(*prefill);
  auto executor = makeExecutor(*options, **model);
  if (!executor)
    return fail(executor.status());
  Executor &backend = **executor;
  Engine engine(**model, std::move(*executor));
  const int64_t chunkTokens = *chunk > 0 ? std::min<int64_t>(*chunk, prefill->max_tokens())
                                         : prefill->max_tokens();
  const bool hostState = device.hostMemory;
  const std::string bench = options->get("name", isModelArtifact ? "model" : "layer");
  const std::optional<std::string> gpuName = backend.deviceName();
  const bool onGpu = gpuName.has_value();
  // Per-kernel device times come from a backend that times its kernels.
  if (options->has("profile") && !backend.setProfile(nullptr))
    return fail(Status::error("--profile needs a device backend that times kernels (--device=cuda)"));
  const std::string gpu = gpuName.value_or("none");
  const std::string commit = options->get("commit", "unknown");

  // Every session the bench makes (one at a time) must fit, checked before the first is made.
  const int64_t profiledSteps = options->has("profile") ? 3 : 0;
  auto checkSession = [&](int64_t capacity, const std::string &flag) {
    if (chunkTokens < 1 || chunkTokens > kMaxSessionTokens || capacity > kMaxSessionTokens)
      return Status::error(flag + " needs a session of " + std::to_string(capacity) +
                           " tokens, more than the largest, " +
                           std::to_string(kMaxSessionTokens) +
                           " (the kernels' positions are 32-bit)");
    return checkSessionFits(**model, backend, device, capacity, /*hostOutputBytes=*/0, flag);
  };
  if (*prefillTokens > 0)
    if (Status status = checkSession(*prefillTokens,
                                     "--prefill-tokens=" + std::to_string(*prefillTokens));
        !status)
      return fail(status);
  for (int64_t context : contexts) {
    const std::string flag = "--contexts=" + std::to_string(context);
    for (int64_t capacity : {context + chunkTokens, context + *steps + 2 + profiledSteps})
      if (Status status = checkSession(capacity, flag); !status)
        return fail(status);
  }

  // One call of `n` tokens: the model through the engine (wall time: what a caller waits,
  // logits to the host included), a layer through the backend (device time on the GPU: the
  // kernels alone, its inputs staged before).
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> anyToken(
      0, isModelArtifact ? int32_t(engine.vocab() - 1) : 0);
  LayerInputs prefillInputs(*prefill), decodeInputs(*decode);
  auto wallSince = [](auto begin) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin)
        .count();
  };
  auto step = [&](Session &session, int64_t n, bool isDecode) -> StatusOr<double> {
    auto begin = std::chrono::steady_clock::now();
    if (isModelArtifact) {
      if (isDecode) {
        auto logits = engine.decode(session, anyToken(rng));
        if (!logits)
          return logits.status();
      } else {
        std::vector<int32_t> ids(static_cast<size_t>(n));
        for (int32_t &id : ids)
          id = anyToken(rng);
        auto logits = engine.prefill(session, ids, n, false);
        if (!logits)
          return logits.status();
      }
      return wallSince(begin);
    }
    auto inputs = (isDecode ? decodeInputs : prefillInputs).get(n);
    if (!inputs)
      return inputs.status();
    auto outputs =
        backend.call(isDecode ? *decode : *prefill, session, *inputs, n, OutputRows::none);
    if (!outputs)
      return outputs.status();
    return backend.lastCallDeviceMs().value_or(wallSince(begin));
  };

  std::ostringstream lines;
  std::vector<std::string> table;
  double peakGiB = 0;
  auto noteMemory = [&] {
    auto memory = backend.deviceMemory();
    if (!memory)
      return 0.0;
    auto [free, total] = *memory;
    double used = double(total - free) / double(1ull << 30);
    peakGiB = std::max(peakGiB, used);
    return used;
  };
  auto record = [&](const std::string &phase, int64_t context, int64_t tokens, double ms,
                    bool synthesized) {
    double perSecond = tokens / (ms / 1e3);
    double used = noteMemory();
    lines << "{\"bench\": \"" << bench << "\", \"phase\": \"" << phase
          << "\", \"context\": " << context << ", \"tokens\": " << tokens << ", \"ms\": " << ms
          << ", \"tok_per_s\": " << perSecond
          << ", \"synthesized_cache\": " << (synthesized ? "true" : "false")
          << ", \"device\": \"" << device.name << "\", \"gpu\": \"" << gpu << "\", \"commit\": \""
          << commit << "\", \"kv_bytes_per_token\": " << kvBytesPerToken(artifact)
          << ", \"gpu_mem_used_gib\": " << used
          << ", \"world_size\": " << artifact.worldSize() << "}\n";
    char row[160];
    std::snprintf(row, sizeof(row), "%-8s %12lld %8lld %12.3f %12.1f  %s", phase.c_str(),
                  (long long)context, (long long)tokens, ms, perSecond,
                  synthesized ? "synthesised cache" : "");
    table.push_back(row);
  };
  // With --profile: the same work once more, kernel by kernel between events, summed by kernel.
  std::map<std::string, Executor::KernelTime> kernels;
  auto printProfile = [&](const std::string &title, int64_t repeats) {
    std::vector<std::pair<double, std::string>> rows;
    double total = 0;
    for (const auto &[name, time] : kernels) {
      rows.push_back({time.ms / repeats, name});
      total += time.ms / repeats;
    }
    std::sort(rows.rbegin(), rows.rend());
    std::printf("profile %s: %.3f ms of kernels\n", title.c_str(), total);
    for (size_t i = 0; i < rows.size() && i < 14; ++i)
      std::printf("  %9.3f ms %5.1f%%  %lldx  %s\n", rows[i].first, 100 * rows[i].first / total,
                  (long long)(kernels[rows[i].second].launches / repeats), rows[i].second.c_str());
    kernels.clear();
  };

  if (*prefillTokens > 0) {
    Session session(artifact, *prefillTokens, hostState);
    double ms = 0;
    for (int64_t done = 0; done < *prefillTokens; done += chunkTokens) {
      auto took = step(session, std::min(chunkTokens, *prefillTokens - done), false);
      if (!took)
        return fail(took.status());
      ms += *took;
    }
    record("prefill", 0, *prefillTokens, ms, false);
  }
  for (int64_t context : contexts) {
    // One prefill chunk at position `context`.
    {
      Session session(artifact, context + chunkTokens, hostState);
      if (Status status = backend.synthesizeState(session, context, 11); !status)
        return fail(status);
      auto took = step(session, chunkTokens, false);
      if (!took)
        return fail(took.status());
      record("chunk", context, chunkTokens, *took, context > 0);
      if (options->has("profile")) {
        if (Status status = backend.synthesizeState(session, context, 11); !status)
          return fail(status);
        backend.setProfile(&kernels);
        auto profiled = step(session, chunkTokens, false);
        backend.setProfile(nullptr);
        if (!profiled)
          return fail(profiled.status());
        printProfile("chunk at " + std::to_string(context), 1);
      }
    }
    // Decode steps at `context` (two untimed warm-up steps first).
    const int64_t profiled = profiledSteps;
    Session session(artifact, context + *steps + 2 + profiled, hostState);
    if (Status status = backend.synthesizeState(session, context, 11); !status)
      return fail(status);
    std::vector<double> times;
    for (int64_t i = 0; i < *steps + 2; ++i) {
      auto took = step(session, 1, true);
      if (!took)
        return fail(took.status());
      if (i >= 2)
        times.push_back(*took);
    }
    std::sort(times.begin(), times.end());
    record("decode", context, 1, times[times.size() / 2], context > 0);
    if (profiled) {
      backend.setProfile(&kernels);
      for (int64_t i = 0; i < profiled; ++i)
        if (auto took = step(session, 1, true); !took)
          return fail(took.status());
      backend.setProfile(nullptr);
      printProfile("decode at " + std::to_string(context), profiled);
    }
  }
  std::cout << "phase         context   tokens           ms        tok/s\n";
  for (const std::string &row : table)
    std::cout << row << "\n";
  std::cout << "(" << bench << ", " << device.name << (onGpu ? " " + gpu : "") << ", kv cache "
            << kvBytesPerToken(artifact) << " bytes/token, decode = median of " << *steps
            << " steps" << (!isModelArtifact && onGpu ? ", kernel time" : ", wall time");
  if (onGpu)
    std::printf(", GPU memory in use at most %.1f GiB", peakGiB);
  std::cout << ")\n";
  if (options->has("output")) {
    std::ofstream out(options->get("output"), std::ios::app);
    out << lines.str();
    if (!out)
      return fail(Status::error("cannot write " + options->get("output")));
  }
  return 0;
}

}  // namespace sl::runtime
