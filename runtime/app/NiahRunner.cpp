#include "runtime/app/NiahRunner.h"

#include "runtime/app/Backends.h"
#include "runtime/core/MemoryBudget.h"
#include "runtime/io/Json.h"

#include <unistd.h>

namespace sl::runtime {

namespace {

class LocalRunner : public NiahRunner {
public:
  LocalRunner(server::LoadedModel &loaded, const Backend &backend)
      : loaded_(loaded), backend_(backend) {}

  Status beginLength(int64_t length, int64_t capacity) override {
    conversation_.reset();
    const std::string flag = "--lengths=" + std::to_string(length) + " (sessions of " +
                             std::to_string(capacity) + " tokens" +
                             (capacity != length ? ": the prompts and --max-new-tokens" : "") +
                             ")";
    Executor &executor = loaded_.engine->executor();
    const uint64_t logits = uint64_t(std::max<int64_t>(loaded_.engine->vocab(), 0)) * 4;
    if (Status status =
            checkSessionFits(*loaded_.model, executor, backend_, capacity, logits, flag);
        !status)
      return status;
    // Checkpoints work on host copies of the state: on a device backend the session keeps host
    // buffers too (as the server's sessions do).
    if (!backend_.hostMemory) {
      auto state = sessionBytes(loaded_.model->artifact(), capacity);
      if (!state)
        return Status::error(flag + ": " + state.status().message());
      auto checkpoints = mulBytes(state->mambaState, server::Conversation::kMaxCheckpoints);
      auto host = checkpoints ? addBytes(state->total(), *checkpoints) : std::nullopt;
      if (!host)
        return Status::error(flag + ": needs more bytes than 64 bits count");
      if (Status status = checkFits(flag + ": host copies of the session state and checkpoints",
                                    *host, availableHostBytes(), "host memory");
          !status)
        return status;
    }
    loaded_.config.capacity = capacity;
    conversation_ = std::make_unique<server::Conversation>(loaded_);
    return Status::success();
  }

  StatusOr<NiahReply> run(const NiahPrompt &prompt, int64_t maxNewTokens,
                          int64_t sharedTokens) override {
    server::GenerateRequest request;
    request.prompt = prompt.tokens;
    request.maxTokens = maxNewTokens;  // greedy: the default sampling parameters
    // The conversation keeps a checkpoint there (a turn boundary to the server's code) and
    // restores the longest one that prefixes the next prompt.
    request.boundary = sharedTokens;
    auto result = server::generate(loaded_, *conversation_, request, nullptr, nullptr);
    if (!result)
      return result.status();
    NiahReply reply;
    reply.text = std::move(result->text);
    reply.prefilledTokens = result->prefilledTokens;
    return reply;
  }

  void endLength() override { conversation_.reset(); }
  std::string whereKey() const override { return "device"; }
  std::string where() const override { return loaded_.config.device; }
  std::string model() const override { return loaded_.id; }

private:
  server::LoadedModel &loaded_;
  const Backend &backend_;
  std::unique_ptr<server::Conversation> conversation_;
};

class UrlRunner : public NiahRunner {
public:
  explicit UrlRunner(NiahServer server) : server_(std::move(server)) {}

  Status beginLength(int64_t length, int64_t) override {
    // One session per length: a server that keeps sessions (slrun serve) may reuse the prefix
    // of the previous prompt; others ignore the metadata.
    session_ = "niah-" + std::to_string(::getpid()) + "-" + std::to_string(length);
    return Status::success();
  }

  StatusOr<NiahReply> run(const NiahPrompt &prompt, int64_t maxNewTokens, int64_t) override {
    nlohmann::ordered_json body = {
        {"model", server_.model},
        {"messages", nlohmann::ordered_json::array(
                         {{{"role", "user"}, {"content", prompt.content}}})},
        {"max_tokens", maxNewTokens},
        {"temperature", 0},
        {"metadata", {{"session_id", session_}}}};
    auto response = request("POST", "/v1/chat/completions",
                            body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (!response)
      return response.status();
    auto answer = io::parseJson(response->body, io::JsonLimits{},
                                "--url " + server_.url.text + ": malformed JSON in the answer");
    if (!answer)
      return answer.status();
    const std::string where = "--url " + server_.url.text + ": ";
    const nlohmann::json &root = *answer;
    if (!root.is_object() || !root.contains("choices") || !root["choices"].is_array() ||
        root["choices"].empty() || !root["choices"][0].is_object() ||
        !root["choices"][0].contains("message") || !root["choices"][0]["message"].is_object())
      return Status::error(where + "the answer has no choices[0].message: " +
                           response->body.substr(0, 200));
    const nlohmann::json &message = root["choices"][0]["message"];
    NiahReply reply;
    if (message.contains("content") && message["content"].is_string())
      reply.text = message["content"].get<std::string>();
    else if (message.contains("content") && !message["content"].is_null())
      return Status::error(where + "choices[0].message.content is not a string");
    if (root.contains("usage") && root["usage"].is_object()) {
      const nlohmann::json &usage = root["usage"];
      if (usage.contains("prompt_tokens") && usage["prompt_tokens"].is_number_integer()) {
        reply.serverPromptTokens = usage["prompt_tokens"].get<int64_t>();
        int64_t cached = 0;
        if (usage.contains("prompt_tokens_details") && usage["prompt_tokens_details"].is_object() &&
            usage["prompt_tokens_details"].contains("cached_tokens") &&
            usage["prompt_tokens_details"]["cached_tokens"].is_number_integer())
          cached = usage["prompt_tokens_details"]["cached_tokens"].get<int64_t>();
        reply.prefilledTokens = reply.serverPromptTokens - cached;
      }
    }
    return reply;
  }

  void endLength() override {
    // The session's memory on the server is not needed any more; a server without sessions
    // answers 404, which is fine.
    if (!session_.empty())
      (void)request("DELETE", "/v1/sessions/" + session_, "");
    session_.clear();
  }
  std::string whereKey() const override { return "url"; }
  std::string where() const override { return server_.url.text; }
  std::string model() const override { return server_.model; }

private:
  // A request whose non-2xx answer is an error with the server's message.
  StatusOr<io::HttpResponse> request(const std::string &method, const std::string &path,
                                     const std::string &body) {
    std::vector<std::pair<std::string, std::string>> headers = {{"Accept", "application/json"}};
    if (!body.empty())
      headers.emplace_back("Content-Type", "application/json");
    if (!server_.apiKey.empty())
      headers.emplace_back("Authorization", "Bearer " + server_.apiKey);
    auto response = io::httpRequest(server_.url, method, path, headers, body, server_.http);
    if (!response)
      return Status::error("--url " + server_.url.text + ": " + response.status().message());
    if (response->status / 100 == 2)
      return response;
    std::string message = response->body.substr(0, 300);
    if (auto error = io::parseJson(response->body); error && error->is_object() &&
                                                    error->contains("error")) {
      const nlohmann::json &e = (*error)["error"];
      if (e.is_object() && e.contains("message") && e["message"].is_string())
        message = e["message"].get<std::string>();
      else if (e.is_string())
        message = e.get<std::string>();
    }
    return Status::error("--url " + server_.url.text + ": " + method + " " + path +
                         ": the server answered HTTP " + std::to_string(response->status) +
                         (message.empty() ? "" : ": " + message));
  }

  NiahServer server_;
  std::string session_;
};

}  // namespace

StatusOr<std::unique_ptr<NiahRunner>> makeLocalRunner(server::LoadedModel &loaded,
                                                      const std::string &artifact,
                                                      const std::string &weights,
                                                      const std::string &device, int64_t chunk) {
  auto backend = selectBackend(device);
  if (!backend)
    return backend.status();
  loaded.config.artifact = artifact;
  loaded.config.weights = weights;
  loaded.config.device = device;
  loaded.config.chunk = chunk;
  loaded.id = server::modelId(artifact);
  loaded.eos = loaded.tokenizer->eos();
  if (Status status = server::loadEngine(loaded); !status)
    return status;
  return std::unique_ptr<NiahRunner>(std::make_unique<LocalRunner>(loaded, **backend));
}

std::unique_ptr<NiahRunner> makeUrlRunner(NiahServer server) {
  return std::make_unique<UrlRunner>(std::move(server));
}

}  // namespace sl::runtime
