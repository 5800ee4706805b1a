#include "runtime/cli/Slrun.h"

#include "runtime/app/Backends.h"
#include "runtime/support/CommandLine.h"

#include "runtime/app/Engine.h"
#include "runtime/app/Niah.h"
#include "runtime/core/ExpertChoices.h"
#include "runtime/core/MemoryBudget.h"
#include "runtime/io/Npy.h"
#include "runtime/server/Commands.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <set>

namespace sl::runtime {

namespace {

using Options = cli::CommandLine;

const char *kUsage =
    "usage: slrun <command> [options]\n"
    "\n"
    "commands:\n"
    "  logits   --artifact A --weights DIR --tokens=@prompt.npy --output=@logits.npy\n"
    "           [--device=cpu] [--chunk=N] [--decode-from=N] [--expert-choices=@experts.npy]\n"
    "           float32 logits [T, vocab] of every prompt position (prompt: int32 .npy);\n"
    "           positions from --decode-from on are fed one decode step at a time;\n"
    "           --expert-choices writes the experts each MoE layer's router chose, int32\n"
    "           [MoE layers, T, top_k], each row ascending\n"
    "  generate --artifact A --weights DIR --tokens=@prompt.npy --max-new-tokens=N\n"
    "           [--greedy | --temperature=X [--top-p=P] [--top-k=K] --seed=S]\n"
    "           --output=@tokens.npy [--device=cpu] [--chunk=N]\n"
    "           prefill of the prompt (in chunks of N), then N new tokens by decode steps\n"
    "  bench    --artifact A (--weights DIR | --random-weights) [--device=cpu|cuda]\n"
    "           [--contexts=0,1048576] [--chunk=N] [--decode-steps=16] [--prefill-tokens=N]\n"
    "           [--name=NAME] [--profile] [--commit=SHA] [--output=results.jsonl]\n"
    "           times decode steps and one prefill chunk at each context (the session state up\n"
    "           to it synthesised, not prefilled) and, with --prefill-tokens, a whole prefill;\n"
    "           prints a table and appends JSON lines to --output. A layer artifact (a forward\n"
    "           of activations) gets random inputs and kernel times; --profile (cuda) prints\n"
    "           the device time per kernel\n"
    "  run      --artifact A --function=NAME --input=@a.npy ... --output=@o.npy ...\n"
    "           [--weights DIR] [--device=cpu]\n"
    "           runs one function of an artifact compiled from a hand-written .mlir; inputs\n"
    "           and outputs in the function's order; its state starts empty\n"
    "  niah     (--artifact A --weights DIR [--device=cpu|cuda] | --url URL --model NAME\n"
    "           --tokenizer DIR) [--lengths=1024,4096,16384] [--depths=0,0.25,0.5,0.75,1]\n"
    "           [--trials=4] [--needles=1] [--no-needle] [--output=results.jsonl]\n"
    "           [--heatmap=niah.png] ...\n"
    "           needle-in-a-haystack accuracy by prompt length and needle depth (slrun niah\n"
    "           --help; docs/niah.md)\n"
    "  chat     --artifact A --weights DIR [--max-context=N] [--temperature=X] ...\n"
    "           interactive terminal chat (slrun chat --help; docs/serving.md)\n"
    "  serve    --artifact A --weights DIR [--host H] [--port P] [--api-key KEY] ...\n"
    "           OpenAI-compatible HTTP server (slrun serve --help; docs/serving.md)\n"
    "\n"
    "Options take '--name value' or '--name=value'; '@file' names a .npy file.\n"
    "--device=cuda runs on the GPU: kernels are compiled by NVRTC on first use and cached in\n"
    "$SLC_CACHE_DIR (default ~/.cache/slc; SLC_DISABLE_CACHE=1 bypasses the cache).\n"
    "--devices=0,1,... runs a tensor-parallel artifact (slc compile --tensor-parallel=N) on N\n"
    "GPUs, one per rank in rank order, through NCCL (nvidia-nccl-cu13, or SL_NCCL_LIBRARY);\n"
    "every command takes it. On --device=cpu the ranks are simulated.\n"
    "--max-context=N sets the session capacity (default: the tokens the command needs); at most\n"
    "2147483647 tokens, and a session must fit the memory left (its bytes are checked first).\n"
    "--random-weights replaces --weights by deterministic synthetic weights of the artifact's\n"
    "shapes (benchmarks without a checkpoint; made on the device with --device=cuda).\n";

StatusOr<std::vector<int32_t>> readTokens(const std::string &path) {
  auto array = io::readNpy(path);
  if (!array)
    return array.status();
  if (array->dtype != io::NpyDType::I32 && array->dtype != io::NpyDType::I64)
    return Status::error(path + ": expected int32 token ids, got dtype " +
                         io::npyDTypeDescr(array->dtype));
  if (array->shape.size() > 2 || (array->shape.size() == 2 && array->shape[0] != 1))
    return Status::error(path + ": expected a 1-D array of token ids (or [1, T])");
  std::vector<int32_t> tokens(array->numel());
  for (int64_t i = 0; i < array->numel(); ++i) {
    if (array->dtype == io::NpyDType::I32) {
      tokens[i] = reinterpret_cast<const int32_t *>(array->data.data())[i];
      continue;
    }
    // An int64 id beyond 32 bits would wrap around into another, valid-looking id.
    const int64_t id = reinterpret_cast<const int64_t *>(array->data.data())[i];
    if (id < INT32_MIN || id > INT32_MAX)
      return Status::error(path + ": token id " + std::to_string(id) + " at position " +
                           std::to_string(i) + " is outside the vocabulary");
    tokens[i] = int32_t(id);
  }
  if (tokens.empty())
    return Status::error(path + ": the prompt is empty");
  return tokens;
}

const std::set<std::string> kModelOptions = {"artifact", "weights", "device", "devices", "chunk",
                                             "max-context", "tokens", "output"};

// What logits and generate share: the prompt, the model, its backend and a session for the
// prompt plus `newTokens` more tokens (or --max-context).
struct Prompted {
  std::vector<int32_t> tokens;
  std::unique_ptr<Model> model;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Session> session;
};

// The logits of `rows` token positions kept on the host (4-byte floats), or nullopt on
// overflow.
std::optional<uint64_t> logitBytes(uint64_t rows, int64_t vocab) {
  auto values = mulBytes(rows, uint64_t(std::max<int64_t>(vocab, 0)));
  return values ? mulBytes(*values, sizeof(float)) : std::nullopt;
}

// `newTokens` new tokens follow the prompt; with `allLogits` the logits of every position are
// kept on the host (slrun logits).
StatusOr<Prompted> loadPrompted(const Options &options, const std::string &tokensPath,
                                int64_t newTokens, bool allLogits) {
  Prompted prompted;
  auto tokens = readTokens(tokensPath);
  if (!tokens)
    return tokens.status();
  prompted.tokens = std::move(*tokens);
  const int64_t promptTokens = int64_t(prompted.tokens.size());
  // The capacity the command needs (checked before anything is allocated for it), and what asked
  // for it, for messages.
  const std::string demand =
      "the " + std::to_string(promptTokens) + "-token prompt (" + tokensPath + ")" +
      (newTokens > 0 ? " plus --max-new-tokens=" + std::to_string(newTokens) : "");
  if (!options.has("max-context") && promptTokens > kMaxSessionTokens - newTokens)
    return Status::error(demand + " exceeds the largest session, " +
                         std::to_string(kMaxSessionTokens) +
                         " tokens (the kernels' positions are 32-bit)");
  auto capacity = options.integer("max-context", promptTokens + newTokens, 1, kMaxSessionTokens);
  if (!capacity)
    return capacity.status();
  const std::string flag =
      options.has("max-context") ? "--max-context=" + std::to_string(*capacity) : demand;
  auto model = loadModel(options, /*weightsRequired=*/true);
  if (!model)
    return model.status();
  prompted.model = std::move(*model);
  auto executor = makeExecutor(options, *prompted.model);
  if (!executor)
    return executor.status();
  prompted.engine = std::make_unique<Engine>(*prompted.model, std::move(*executor));
  if (Status status = prompted.engine->checkTokens(prompted.tokens); !status)
    return Status::error(tokensPath + ": " + status.message());
  // Logits on the host: one call's rows (a prefill chunk's with allLogits, else one row), and
  // with allLogits those of every position.
  const auto *prefill = prompted.model->artifact().function("prefill");
  const uint64_t callRows =
      allLogits && prefill ? uint64_t(std::max<int64_t>(1, prefill->max_tokens())) : 1;
  auto kept = logitBytes(callRows + (allLogits ? uint64_t(promptTokens) : 0),
                         prompted.engine->vocab());
  if (!kept)
    return Status::error(flag + ": the logits to keep need more bytes than 64 bits count");
  auto backend = selectBackend(options);
  if (!backend)
    return backend.status();
  if (Status status = checkSessionFits(*prompted.model, prompted.engine->executor(), **backend,
                                       *capacity, *kept, flag);
      !status)
    return status;
  prompted.session = std::make_unique<Session>(prompted.model->artifact(), *capacity,
                                               /*hostState=*/(*backend)->hostMemory);
  return prompted;
}

int logitsCommand(int argc, char **argv) {
  std::set<std::string> valued = kModelOptions;
  valued.insert({"decode-from", "expert-choices"});
  auto options = Options::parse(argc, argv, {"random-weights"}, valued);
  if (!options)
    return fail(options.status());
  auto tokensPath = options->file("tokens");
  auto outputPath = options->outputFile("output");
  auto chunk = options->integer("chunk", 0, 1);
  const bool wantExperts = options->has("expert-choices");
  auto expertsPath = wantExperts ? options->outputFile("expert-choices") : StatusOr<std::string>("");
  for (const Status &status : {tokensPath.status(), outputPath.status(), chunk.status(),
                               expertsPath.status(), checkDevice(*options)})
    if (!status)
      return fail(status);
  auto decodeFrom = options->integer("decode-from", -1, 1);
  if (!decodeFrom)
    return fail(decodeFrom.status());
  auto prompted = loadPrompted(*options, *tokensPath, 0, /*allLogits=*/true);
  if (!prompted)
    return fail(prompted.status());
  // --decode-from=N: positions from N on are fed one decode step at a time.
  const int64_t total = int64_t(prompted->tokens.size());
  const int64_t prefilled = *decodeFrom < 0 ? total : std::min(*decodeFrom, total);
  // --expert-choices: the routers' indices are copied back from every call, prefill chunks and
  // decode steps alike (nothing is captured without the flag).
  std::optional<ExpertChoices> experts;
  if (wantExperts) {
    std::vector<std::string> functions = {"prefill"};
    if (prefilled < total)
      functions.push_back("decode");
    auto attached = ExpertChoices::attach(prompted->model->artifact(),
                                          prompted->engine->executor(), functions);
    if (!attached)
      return fail(Status::error("--expert-choices: " + attached.status().message()));
    experts = std::move(*attached);
  }
  std::vector<int32_t> head(prompted->tokens.begin(), prompted->tokens.begin() + prefilled);
  auto logits = prompted->engine->prefill(*prompted->session, head, *chunk,
                                          /*allPositions=*/true);
  if (!logits)
    return fail(logits.status());
  for (int64_t i = prefilled; i < total; ++i) {
    auto step = prompted->engine->decode(*prompted->session, prompted->tokens[size_t(i)]);
    if (!step)
      return fail(step.status());
    logits->insert(logits->end(), step->begin(), step->end());
  }
  Status written = io::writeNpy(*outputPath, io::NpyDType::F32,
                                {int64_t(prompted->tokens.size()), prompted->engine->vocab()},
                                logits->data(), logits->size() * sizeof(float));
  if (!written)
    return fail(written);
  if (!experts)
    return 0;
  for (const CapturedCall &call : prompted->engine->executor().takeCaptured())
    if (Status status = experts->append(call); !status)
      return fail(Status::error("--expert-choices: " + status.message()));
  if (experts->positions() != total)
    return fail(Status::error("--expert-choices: the routers' choices cover " +
                              std::to_string(experts->positions()) + " of " +
                              std::to_string(total) + " positions"));
  const std::vector<int32_t> values = experts->values();
  written = io::writeNpy(*expertsPath, io::NpyDType::I32,
                         {experts->layers(), experts->positions(), experts->topK()}, values.data(),
                         values.size() * sizeof(int32_t));
  return written ? 0 : fail(written);
}

int generateCommand(int argc, char **argv) {
  std::set<std::string> valued = kModelOptions;
  valued.insert({"max-new-tokens", "temperature", "top-p", "top-k", "seed"});
  auto options = Options::parse(argc, argv, {"greedy", "random-weights"}, valued);
  if (!options)
    return fail(options.status());
  auto tokensPath = options->file("tokens");
  auto outputPath = options->outputFile("output");
  auto chunk = options->integer("chunk", 0, 1);
  auto newTokens = options->integer("max-new-tokens", -1, 1, kMaxSessionTokens);
  auto temperature = options->number("temperature", 0.0);
  auto topP = options->number("top-p", 1.0);
  auto topK = options->integer("top-k", 0, 0, INT32_MAX);
  auto seed = options->integer("seed", 0, 0);
  for (const Status &status :
       {tokensPath.status(), outputPath.status(), chunk.status(), newTokens.status(),
        temperature.status(), topP.status(), topK.status(), seed.status(), checkDevice(*options)})
    if (!status)
      return fail(status);
  if (*newTokens < 1)
    return fail(Status::error("missing --max-new-tokens=N"));
  bool greedy = options->has("greedy");
  if (greedy && (options->has("temperature") || options->has("top-p") || options->has("top-k")))
    return fail(Status::error("--greedy excludes --temperature, --top-p and --top-k"));
  if (!greedy && !options->has("temperature"))
    return fail(Status::error("choose --greedy or --temperature=X (with --top-p, --top-k, --seed)"));
  SamplingParams params;
  if (!greedy)
    params = SamplingParams{*temperature, static_cast<int32_t>(*topK), *topP,
                            static_cast<uint64_t>(*seed)};
  auto sampler = Sampler::create(params);
  if (!sampler)
    return fail(sampler.status());
  auto prompted = loadPrompted(*options, *tokensPath, *newTokens, /*allLogits=*/false);
  if (!prompted)
    return fail(prompted.status());
  const std::vector<int32_t> &tokens = prompted->tokens;
  auto begin = std::chrono::steady_clock::now();
  auto generated =
      prompted->engine->generate(*prompted->session, tokens, *newTokens, *sampler, *chunk);
  if (!generated)
    return fail(generated.status());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  std::cout << "generated " << generated->size() << " tokens after a " << tokens.size()
            << "-token prompt in " << seconds * 1e3 << " ms ("
            << options->get("device", "cpu")
            << (options->has("devices") ? " on GPUs " + options->get("devices") : "") << "):";
  for (int32_t token : *generated)
    std::cout << " " << token;
  std::cout << "\n";
  Status written = io::writeNpy(*outputPath, io::NpyDType::I32, {int64_t(generated->size())},
                                generated->data(), generated->size() * sizeof(int32_t));
  return written ? 0 : fail(written);
}

StatusOr<io::NpyDType> npyDTypeOf(sl::schema::DType dtype) {
  switch (dtype) {
  case sl::schema::DType::f32:
    return io::NpyDType::F32;
  case sl::schema::DType::i32:
    return io::NpyDType::I32;
  case sl::schema::DType::i64:
    return io::NpyDType::I64;
  case sl::schema::DType::f16:
    return io::NpyDType::F16;
  case sl::schema::DType::bf16:
    return io::NpyDType::U16;  // raw bf16 bits
  }
  return Status::error("unsupported dtype");
}

int runCommand(int argc, char **argv) {
  auto options = Options::parse(argc, argv, {"random-weights"},
                                {"artifact", "weights", "function", "input", "output", "device", "devices",
                                 "max-context"});
  if (!options)
    return fail(options.status());
  auto artifact = options->required("artifact");
  auto functionName = options->required("function");
  for (const Status &status : {artifact.status(), functionName.status(), checkDevice(*options)})
    if (!status)
      return fail(status);
  auto model = loadModel(*options, /*weightsRequired=*/false);
  if (!model)
    return fail(model.status());
  const auto *function = (*model)->artifact().function(*functionName);
  if (!function)
    return fail(Status::error("artifact " + *artifact + " has no function '" + *functionName +
                              "'"));
  std::vector<std::string> inputPaths = options->all("input"), outputPaths = options->all("output");
  if (inputPaths.size() != function->inputs()->size())
    return fail(Status::error(*functionName + " takes " +
                              std::to_string(function->inputs()->size()) + " inputs, got " +
                              std::to_string(inputPaths.size()) + " --input"));
  if (outputPaths.size() != function->outputs()->size())
    return fail(Status::error(*functionName + " has " +
                              std::to_string(function->outputs()->size()) + " outputs, got " +
                              std::to_string(outputPaths.size()) + " --output"));
  for (std::string &path : outputPaths) {
    if (path.rfind("@", 0) == 0)
      path = path.substr(1);
    if (Status status = Options::checkOutputPath("output", path); !status)
      return fail(status);
  }
  std::vector<io::NpyArray> inputs;
  std::vector<const void *> pointers;
  int64_t tokens = -1;
  for (size_t i = 0; i < inputPaths.size(); ++i) {
    std::string path = inputPaths[i].rfind("@", 0) == 0 ? inputPaths[i].substr(1) : inputPaths[i];
    auto array = io::readNpy(path);
    if (!array)
      return fail(array.status());
    const auto *spec = function->inputs()->Get(i);
    auto want = npyDTypeOf(spec->dtype());
    if (!want || array->dtype != *want)
      return fail(Status::error(path + ": input " + std::to_string(i) + " of " + *functionName +
                                " expects dtype " + io::npyDTypeDescr(*want) + ", got " +
                                io::npyDTypeDescr(array->dtype)));
    bool shapeOk = array->shape.size() == spec->shape()->size();
    for (size_t d = 0; shapeOk && d < array->shape.size(); ++d) {
      int64_t expected = spec->shape()->Get(d);
      if (expected < 0) {
        if (tokens >= 0 && tokens != array->shape[d])
          shapeOk = false;
        tokens = array->shape[d];
      } else if (expected != array->shape[d]) {
        shapeOk = false;
      }
    }
    if (!shapeOk)
      return fail(Status::error(path + ": input " + std::to_string(i) + " of " + *functionName +
                                " has the wrong shape (or a token count that differs from the "
                                "other inputs)"));
    inputs.push_back(std::move(*array));
  }
  for (const io::NpyArray &array : inputs)
    pointers.push_back(array.data.data());
  if (tokens < 0)
    tokens = function->max_tokens();
  auto capacity =
      options->integer("max-context", std::clamp<int64_t>(tokens, 1, kMaxSessionTokens), 1,
                       kMaxSessionTokens);
  if (!capacity)
    return fail(capacity.status());
  auto executor = makeExecutor(*options, **model);
  if (!executor)
    return fail(executor.status());
  // The outputs of the call come back to the host.
  uint64_t outputBytes = 0;
  for (const auto *spec : *function->outputs()) {
    std::optional<uint64_t> bytes = uint64_t(dtypeBytes(spec->dtype()));
    for (int64_t dim : *spec->shape())
      bytes = bytes ? mulBytes(*bytes, uint64_t(dim < 0 ? std::max<int64_t>(tokens, 0) : dim))
                    : std::nullopt;
    bytes = bytes ? addBytes(outputBytes, *bytes) : std::nullopt;
    if (!bytes)
      return fail(Status::error(*functionName + ": its outputs for " + std::to_string(tokens) +
                                " tokens need more bytes than 64 bits count"));
    outputBytes = *bytes;
  }
  auto backend = selectBackend(*options);
  if (!backend)
    return fail(backend.status());
  if (Status status = checkSessionFits(
          **model, **executor, **backend, *capacity, outputBytes,
          options->has("max-context")
              ? "--max-context=" + std::to_string(*capacity)
              : "the " + std::to_string(*capacity) + "-token session of the inputs");
      !status)
    return fail(status);
  Session session((*model)->artifact(), *capacity, /*hostState=*/(*backend)->hostMemory);
  auto outputs = (*executor)->call(*function, session, pointers, tokens);
  if (!outputs)
    return fail(outputs.status());
  for (size_t i = 0; i < outputs->size(); ++i) {
    const Tensor &tensor = (*outputs)[i];
    const std::string &path = outputPaths[i];
    auto dtype = npyDTypeOf(tensor.dtype);
    if (!dtype)
      return fail(dtype.status());
    if (Status status = io::writeNpy(path, *dtype, tensor.shape, tensor.bytes.data(),
                                     tensor.bytes.size());
        !status)
      return fail(status);
  }
  return 0;
}

}  // namespace

int runSlrun(int argc, char **argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command.empty() || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return command.empty() ? 2 : 0;
  }
  if (command == "logits")
    return logitsCommand(argc - 2, argv + 2);
  if (command == "generate")
    return generateCommand(argc - 2, argv + 2);
  if (command == "run")
    return runCommand(argc - 2, argv + 2);
  if (command == "bench")
    return benchCommand(argc - 2, argv + 2);
  if (command == "niah")
    return niahCommand(argc - 2, argv + 2);
  if (command == "chat")
    return sl::server::chatCommand(argc - 2, argv + 2);
  if (command == "serve")
    return sl::server::serveCommand(argc - 2, argv + 2);
  std::cerr << "slrun: unknown command '" << command << "'\n\n" << kUsage;
  return 2;
}

}  // namespace sl::runtime
