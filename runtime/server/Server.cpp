// `slrun serve`: an OpenAI-compatible HTTP server (cpp-httplib) over one model on the CPU
// backend. HTTP threads parse, validate, render and tokenize; one executor thread runs the
// requests of a FIFO queue (sessions, snapshots and generations all touch model state there).
#include "runtime/server/Commands.h"
#include "runtime/cli/CommandLine.h"
#include "runtime/server/Conversation.h"
#include "runtime/server/Snapshot.h"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <pthread.h>
#include <random>
#include <thread>

namespace sl::server {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

const char *kServeUsage =
    "usage: slrun serve --artifact A --weights DIR [--host 127.0.0.1] [--port 8080]\n"
    "                   [--api-key KEY] [--max-queue 16] [--max-context 4096] [--chunk N]\n"
    "                   [--snapshot-dir ./snapshots] [--max-sessions 32] [--device cpu|cuda]\n"
    "OpenAI-compatible HTTP server (see docs/serving.md).\n";

std::string dumpJson(const json &value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

int64_t unixTime() { return int64_t(std::time(nullptr)); }

// An OpenAI-style error.
struct ApiError {
  ApiError() = default;
  ApiError(int status, std::string message, std::string type = "invalid_request_error",
           std::string param = "", std::string code = "")
      : status(status), message(std::move(message)), type(std::move(type)),
        param(std::move(param)), code(std::move(code)) {}
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // "" = null
  std::string code;   // "" = null
};

json errorBody(const ApiError &error) {
  return {{"error",
           {{"message", error.message},
            {"type", error.type},
            {"param", error.param.empty() ? json(nullptr) : json(error.param)},
            {"code", error.code.empty() ? json(nullptr) : json(error.code)}}}};
}

void sendError(httplib::Response &res, const ApiError &error) {
  res.status = error.status;
  res.set_content(dumpJson(errorBody(error)), "application/json");
}

ApiError badRequest(const std::string &message, const std::string &param = "",
                    const std::string &code = "") {
  return ApiError{400, message, "invalid_request_error", param, code};
}

void sendJson(httplib::Response &res, const json &body, int status = 200) {
  res.status = status;
  res.set_content(dumpJson(body), "application/json");
}

// --- metrics ---------------------------------------------------------------------------------

class Metrics {
public:
  void request(const std::string &endpoint, int status) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++requests_[{endpoint, status}];
  }
  void generation(const GenerateResult &result) {
    std::lock_guard<std::mutex> lock(mutex_);
    promptTokens_ += result.promptTokens;
    cachedTokens_ += result.cachedTokens;
    generatedTokens_ += result.completionTokens;
    prefillTokens_ += result.prefilledTokens;
    prefillSeconds_ += result.prefillSeconds;
    decodeTokens_ += result.completionTokens;
    decodeSeconds_ += result.decodeSeconds;
    if (result.prefilledTokens > 0 && result.prefillSeconds > 0)
      lastPrefillRate_ = result.prefilledTokens / result.prefillSeconds;
    if (result.completionTokens > 0 && result.decodeSeconds > 0)
      lastDecodeRate_ = result.completionTokens / result.decodeSeconds;
    if (result.finishReason == "cancelled")
      ++cancelled_;
  }
  std::string render(size_t queueDepth, bool running, size_t sessions, bool loaded) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string out;
    auto metric = [&](const char *name, const char *type, const char *help) {
      out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    auto number = [](double value) {
      char buffer[64];
      std::snprintf(buffer, sizeof buffer, "%.6g", value);
      return std::string(buffer);
    };
    metric("sl_requests_total", "counter", "HTTP requests by endpoint and status.");
    for (const auto &[key, count] : requests_)
      out += "sl_requests_total{endpoint=\"" + key.first + "\",status=\"" +
             std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
    metric("sl_prompt_tokens_total", "counter", "Prompt tokens of completed generations.");
    out += "sl_prompt_tokens_total " + std::to_string(promptTokens_) + "\n";
    metric("sl_cached_prompt_tokens_total", "counter", "Prompt tokens reused from sessions.");
    out += "sl_cached_prompt_tokens_total " + std::to_string(cachedTokens_) + "\n";
    metric("sl_generated_tokens_total", "counter", "Generated tokens.");
    out += "sl_generated_tokens_total " + std::to_string(generatedTokens_) + "\n";
    metric("sl_cancelled_generations_total", "counter", "Generations stopped by a disconnect.");
    out += "sl_cancelled_generations_total " + std::to_string(cancelled_) + "\n";
    metric("sl_prefill_tokens_total", "counter", "Tokens prefilled.");
    out += "sl_prefill_tokens_total " + std::to_string(prefillTokens_) + "\n";
    metric("sl_prefill_seconds_total", "counter", "Seconds spent in prefill.");
    out += "sl_prefill_seconds_total " + number(prefillSeconds_) + "\n";
    metric("sl_decode_tokens_total", "counter", "Tokens sampled in the decode phase.");
    out += "sl_decode_tokens_total " + std::to_string(decodeTokens_) + "\n";
    metric("sl_decode_seconds_total", "counter", "Seconds spent in the decode phase.");
    out += "sl_decode_seconds_total " + number(decodeSeconds_) + "\n";
    metric("sl_prefill_tokens_per_second", "gauge", "Prefill throughput of the last request.");
    out += "sl_prefill_tokens_per_second " + number(lastPrefillRate_) + "\n";
    metric("sl_decode_tokens_per_second", "gauge", "Decode throughput of the last request.");
    out += "sl_decode_tokens_per_second " + number(lastDecodeRate_) + "\n";
    metric("sl_queue_depth", "gauge", "Requests waiting for the executor.");
    out += "sl_queue_depth " + std::to_string(queueDepth) + "\n";
    metric("sl_running_requests", "gauge", "Requests being executed (0 or 1).");
    out += "sl_running_requests " + std::to_string(running ? 1 : 0) + "\n";
    metric("sl_sessions", "gauge", "Sessions held by the server.");
    out += "sl_sessions " + std::to_string(sessions) + "\n";
    metric("sl_model_loaded", "gauge", "1 once the model is loaded.");
    out += "sl_model_loaded " + std::to_string(loaded ? 1 : 0) + "\n";
    return out;
  }

private:
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  int64_t promptTokens_ = 0, cachedTokens_ = 0, generatedTokens_ = 0, cancelled_ = 0;
  int64_t prefillTokens_ = 0, decodeTokens_ = 0;
  double prefillSeconds_ = 0, decodeSeconds_ = 0, lastPrefillRate_ = 0, lastDecodeRate_ = 0;
};

// The endpoint label of a path (ids and names replaced).
std::string endpointLabel(const std::string &path) {
  static const char *fixedPaths[] = {"/v1/chat/completions", "/v1/completions", "/v1/models",
                                     "/v1/sessions", "/health", "/metrics"};
  for (const char *fixed : fixedPaths)
    if (path == fixed)
      return fixed;
  if (path.rfind("/v1/sessions/", 0) == 0) {
    std::string rest = path.substr(13);
    size_t slash = rest.find('/');
    return slash == std::string::npos ? "/v1/sessions/{id}" : "/v1/sessions/{id}" + rest.substr(slash);
  }
  if (path.rfind("/v1/snapshots/", 0) == 0)
    return "/v1/snapshots/{name}/load";
  if (path.rfind("/v1/models/", 0) == 0)
    return "/v1/models/{id}";
  return "other";
}

// --- the executor queue ----------------------------------------------------------------------

struct Job {
  std::function<void(Job &)> run;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string> events;  // SSE events of a streaming request
  bool finished = false;
  int status = 200;
  json body;  // the response of a non-streaming request
  std::atomic<bool> cancelled{false};

  void push(std::string event) {
    std::lock_guard<std::mutex> lock(mutex);
    events.push_back(std::move(event));
    changed.notify_all();
  }
  void finish() {
    std::lock_guard<std::mutex> lock(mutex);
    finished = true;
    changed.notify_all();
  }
  void fail(const ApiError &error) {
    status = error.status;
    body = errorBody(error);
  }
  // The next event; false when the job finished and every event was taken.
  bool next(std::string *event) {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return !events.empty() || finished; });
    if (events.empty())
      return false;
    *event = std::move(events.front());
    events.pop_front();
    return true;
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return finished; });
  }
};

struct SessionEntry {
  std::string id;
  std::unique_ptr<Conversation> conversation;
  int64_t created = 0, lastUsed = 0, tokens = 0, turns = 0;
};

// A validated completion request.
struct Completion {
  bool chat = true, stream = false, includeUsage = false;
  std::string sessionId;
  GenerateRequest generate;
  bool ignoreEos = false;
};

bool validId(const std::string &id) {
  if (id.empty() || id.size() > 128)
    return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
      return false;
  return true;
}

struct ServeConfig {
  ModelConfig model;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string apiKey;
  size_t maxQueue = 16, maxSessions = 32;
  std::string snapshotDir = "snapshots";
};

class Server {
public:
  explicit Server(ServeConfig config) : config_(std::move(config)) {}
  int run();
  void stop() { http_.stop(); }

private:
  void routes();
  bool parseCompletion(const json &body, const nlohmann::ordered_json &ordered, bool chat,
                       Completion *out, ApiError *error);
  void handleCompletion(const httplib::Request &req, httplib::Response &res, bool chat);
  void handleSnapshot(const httplib::Request &req, httplib::Response &res,
                      const std::string &sessionId, bool save, const std::string &nameFromPath);
  json sessionJson(const SessionEntry &entry);
  // Queue: false when full.
  bool enqueue(const std::shared_ptr<Job> &job);
  void executorLoop();
  void load();
  std::shared_ptr<SessionEntry> sessionFor(const std::string &id, bool create);

  ServeConfig config_;
  httplib::Server http_;
  Metrics metrics_;
  std::unique_ptr<LoadedModel> model_;
  std::atomic<bool> ready_{false}, loadFailed_{false};
  std::mutex textMutex_;  // tokenizer encode + template render from HTTP threads

  std::mutex queueMutex_;
  std::condition_variable queueChanged_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::shared_ptr<Job> current_;
  bool stopping_ = false;
  std::unique_ptr<Conversation> scratch_;  // requests without a session

  std::mutex sessionMutex_;
  std::map<std::string, std::shared_ptr<SessionEntry>> sessions_;
  std::atomic<uint64_t> requestCounter_{0};
};

bool Server::enqueue(const std::shared_ptr<Job> &job) {
  std::lock_guard<std::mutex> lock(queueMutex_);
  if (stopping_ || queue_.size() >= config_.maxQueue)
    return false;
  queue_.push_back(job);
  queueChanged_.notify_one();
  return true;
}

void Server::executorLoop() {
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(queueMutex_);
      queueChanged_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_)
        break;
      job = queue_.front();
      queue_.pop_front();
      current_ = job;
    }
    if (!job->cancelled.load()) {
      try {
        job->run(*job);
      } catch (const std::exception &e) {
        job->fail(ApiError{500, std::string("internal error: ") + e.what(), "server_error"});
      }
    }
    job->finish();
    std::lock_guard<std::mutex> lock(queueMutex_);
    current_.reset();
  }
  // Shutting down: nothing queued runs.
  std::lock_guard<std::mutex> lock(queueMutex_);
  for (auto &job : queue_) {
    job->fail(ApiError{503, "the server is shutting down", "server_error"});
    job->finish();
  }
  queue_.clear();
}

void Server::load() {
  auto model = loadModel(config_.model);
  if (!model) {
    logLine(model.status().message());
    loadFailed_ = true;
    while (!http_.is_running())
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    http_.stop();
    return;
  }
  model_ = std::move(*model);
  scratch_ = std::make_unique<Conversation>(*model_);
  ready_ = true;
  logLine("ready: model '" + model_->id + "', context " + std::to_string(config_.model.capacity) +
          " tokens");
  executorLoop();
}

std::shared_ptr<SessionEntry> Server::sessionFor(const std::string &id, bool create) {
  std::lock_guard<std::mutex> lock(sessionMutex_);
  auto it = sessions_.find(id);
  if (it != sessions_.end())
    return it->second;
  if (!create)
    return nullptr;
  if (sessions_.size() >= config_.maxSessions) {
    auto oldest = sessions_.begin();
    for (auto candidate = sessions_.begin(); candidate != sessions_.end(); ++candidate)
      if (candidate->second->lastUsed < oldest->second->lastUsed)
        oldest = candidate;
    logLine("evicting session '" + oldest->first + "' (--max-sessions " +
            std::to_string(config_.maxSessions) + ")");
    sessions_.erase(oldest);
  }
  auto entry = std::make_shared<SessionEntry>();
  entry->id = id;
  entry->conversation = std::make_unique<Conversation>(*model_);
  entry->created = entry->lastUsed = unixTime();
  sessions_[id] = entry;
  return entry;
}

json Server::sessionJson(const SessionEntry &entry) {
  return {{"id", entry.id},           {"object", "session"},
          {"tokens", entry.tokens},   {"turns", entry.turns},
          {"created", entry.created}, {"last_used", entry.lastUsed}};
}

// --- request validation ----------------------------------------------------------------------

bool Server::parseCompletion(const json &body, const nlohmann::ordered_json &ordered, bool chat,
                             Completion *out, ApiError *error) {
  const int64_t capacity = config_.model.capacity;
  out->chat = chat;
  if (!body.is_object()) {
    *error = badRequest("the request body must be a JSON object");
    return false;
  }
  auto field = [&](const char *name) -> const json * {
    auto it = body.find(name);
    return it == body.end() || it->is_null() ? nullptr : &*it;
  };
  if (const json *model = field("model")) {
    if (!model->is_string()) {
      *error = badRequest("'model' must be a string", "model");
      return false;
    }
    if (model->get<std::string>() != model_->id) {
      *error = ApiError{404, "the model '" + model->get<std::string>() + "' does not exist (this server has '" + model_->id + "')",
                        "invalid_request_error", "model", "model_not_found"};
      return false;
    }
  }
  if (const json *stream = field("stream")) {
    if (!stream->is_boolean()) {
      *error = badRequest("'stream' must be a boolean", "stream");
      return false;
    }
    out->stream = stream->get<bool>();
  }
  if (const json *options = field("stream_options")) {
    if (!options->is_object() ||
        (options->contains("include_usage") && !(*options)["include_usage"].is_boolean())) {
      *error = badRequest("'stream_options' must be an object {\"include_usage\": bool}",
                          "stream_options");
      return false;
    }
    out->includeUsage = options->value("include_usage", false);
  }
  const json *maxTokens = field("max_completion_tokens");
  const char *maxTokensName = "max_completion_tokens";
  if (!maxTokens) {
    maxTokens = field("max_tokens");
    maxTokensName = "max_tokens";
  }
  out->generate.maxTokens = -1;
  if (maxTokens) {
    if (!maxTokens->is_number_integer()) {
      *error = badRequest(std::string("'") + maxTokensName + "' must be an integer", maxTokensName);
      return false;
    }
    int64_t value = maxTokens->get<int64_t>();
    if (value < 1 || value > capacity) {
      *error = badRequest(std::string("'") + maxTokensName + "' must be in [1, " +
                              std::to_string(capacity) + "] (the context), got " +
                              std::to_string(value),
                          maxTokensName);
      return false;
    }
    out->generate.maxTokens = value;
  }
  runtime::SamplingParams &sampling = out->generate.sampling;
  sampling.temperature = 1.0;  // the OpenAI default
  if (const json *temperature = field("temperature")) {
    if (!temperature->is_number() || temperature->get<double>() < 0 ||
        temperature->get<double>() > 2) {
      *error = badRequest("'temperature' must be a number in [0, 2]", "temperature");
      return false;
    }
    sampling.temperature = temperature->get<double>();
  }
  if (const json *topP = field("top_p")) {
    if (!topP->is_number() || !(topP->get<double>() > 0) || topP->get<double>() > 1) {
      *error = badRequest("'top_p' must be a number in (0, 1]", "top_p");
      return false;
    }
    sampling.top_p = topP->get<double>();
  }
  if (const json *topK = field("top_k")) {
    if (!topK->is_number_integer() || topK->get<int64_t>() < -1 ||
        topK->get<int64_t>() > INT32_MAX) {
      *error = badRequest("'top_k' must be an integer >= -1 (-1 or 0: off)", "top_k");
      return false;
    }
    sampling.top_k = int32_t(std::max<int64_t>(0, topK->get<int64_t>()));
  }
  if (const json *seed = field("seed")) {
    if (!seed->is_number_integer()) {
      *error = badRequest("'seed' must be an integer", "seed");
      return false;
    }
    sampling.seed = seed->is_number_unsigned() ? seed->get<uint64_t>()
                                               : uint64_t(seed->get<int64_t>());
  } else {
    sampling.seed = std::random_device{}() * 0x100000001ULL ^ requestCounter_.load();
  }
  if (const json *n = field("n")) {
    if (!n->is_number_integer() || n->get<int64_t>() != 1) {
      *error = badRequest("only 'n': 1 is supported", "n");
      return false;
    }
  }
  if (const json *ignoreEos = field("ignore_eos")) {
    if (!ignoreEos->is_boolean()) {
      *error = badRequest("'ignore_eos' must be a boolean", "ignore_eos");
      return false;
    }
    out->ignoreEos = ignoreEos->get<bool>();
  }
  if (const json *stop = field("stop")) {
    std::vector<std::string> stops;
    if (stop->is_string()) {
      stops.push_back(stop->get<std::string>());
    } else if (stop->is_array() && stop->size() <= 16) {
      for (const json &item : *stop) {
        if (!item.is_string()) {
          stops.clear();
          stops.push_back("");
          break;
        }
        stops.push_back(item.get<std::string>());
      }
    } else {
      stops.push_back("");
    }
    for (const std::string &s : stops)
      if (s.empty()) {
        *error = badRequest("'stop' must be a non-empty string or a list of at most 16 of them",
                            "stop");
        return false;
      }
    out->generate.stop = stops;
  }
  // The session: top level, or inside "metadata".
  const json *sessionId = field("session_id");
  if (!sessionId)
    if (const json *metadata = field("metadata"))
      if (metadata->is_object() && metadata->contains("session_id"))
        sessionId = &(*metadata)["session_id"];
  if (sessionId) {
    if (!sessionId->is_string() || !validId(sessionId->get<std::string>())) {
      *error = badRequest("'session_id' must be 1-128 of A-Z a-z 0-9 . _ -", "session_id");
      return false;
    }
    out->sessionId = sessionId->get<std::string>();
  }

  // The prompt.
  std::vector<int32_t> &prompt = out->generate.prompt;
  if (chat) {
    const json *messages = field("messages");
    if (!messages || !messages->is_array() || messages->empty()) {
      *error = badRequest("'messages' must be a non-empty array", "messages");
      return false;
    }
    if (!model_->chatTemplate) {
      *error = badRequest("this model has no chat template (" + model_->chatTemplateError +
                          "); use /v1/completions");
      return false;
    }
    json normalized = json::array();
    for (size_t i = 0; i < messages->size(); ++i) {
      const json &message = (*messages)[i];
      std::string param = "messages[" + std::to_string(i) + "]";
      if (!message.is_object() || !message.contains("role") || !message["role"].is_string()) {
        *error = badRequest(param + " must be an object with a string 'role'", param);
        return false;
      }
      std::string role = message["role"].get<std::string>();
      if (role != "system" && role != "user" && role != "assistant" && role != "tool" &&
          role != "developer") {
        *error = badRequest(param + ".role '" + role + "' is not one of system, user, assistant, tool",
                            param + ".role");
        return false;
      }
      json copy = message;
      if (role == "developer")
        copy["role"] = "system";
      auto content = message.find("content");
      if (content == message.end() || content->is_null()) {
        if (role != "assistant") {
          *error = badRequest(param + ".content is missing", param + ".content");
          return false;
        }
        copy["content"] = "";
      } else if (content->is_array()) {
        std::string text;
        for (const json &part : *content) {
          if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
              !part["text"].is_string()) {
            *error = badRequest(param + ".content parts must be {\"type\": \"text\", \"text\": ...}",
                                param + ".content");
            return false;
          }
          text += part["text"].get<std::string>();
        }
        copy["content"] = text;
      } else if (!content->is_string()) {
        *error = badRequest(param + ".content must be a string or an array of text parts",
                            param + ".content");
        return false;
      }
      normalized.push_back(std::move(copy));
    }
    json tools = nullptr;
    if (const json *t = field("tools")) {
      if (!t->is_array()) {
        *error = badRequest("'tools' must be an array", "tools");
        return false;
      }
      tools = *t;
    }
    if (const json *kwargs = field("chat_template_kwargs"); kwargs && !kwargs->is_object()) {
      *error = badRequest("'chat_template_kwargs' must be an object", "chat_template_kwargs");
      return false;
    }
    // The same messages, tools and kwargs with the request's key order, for the template.
    nlohmann::ordered_json orderedMessages = nlohmann::ordered_json::array();
    for (size_t i = 0; i < normalized.size(); ++i) {
      nlohmann::ordered_json message = ordered["messages"][i];
      message["role"] = normalized[i]["role"].get<std::string>();
      message["content"] = normalized[i]["content"].get<std::string>();
      orderedMessages.push_back(std::move(message));
    }
    nlohmann::ordered_json orderedTools =
        tools.is_null() ? nlohmann::ordered_json(nullptr) : ordered["tools"];
    nlohmann::ordered_json orderedExtra = ordered.contains("chat_template_kwargs")
                                              ? ordered["chat_template_kwargs"]
                                              : nlohmann::ordered_json::object();
    std::lock_guard<std::mutex> lock(textMutex_);
    auto text = model_->chatTemplate->renderOrdered(
        orderedMessages, orderedTools, /*addGenerationPrompt=*/true, orderedExtra,
        model_->tokenizer->bosText(), model_->tokenizer->eosText());
    if (!text) {
      *error = badRequest("chat template: " + text.status().message(), "messages");
      return false;
    }
    auto ids = model_->tokenizer->encode(*text, /*addSpecial=*/false);
    if (!ids) {
      *error = badRequest("tokenizer: " + ids.status().message(), "messages");
      return false;
    }
    prompt = std::move(*ids);
    // A session also keeps a checkpoint at the end of the last message (before the generation
    // prompt), which the next turn's rendering shares even when the template renders earlier
    // assistant turns differently from the generation prompt (e.g. thinking).
    if (!out->sessionId.empty()) {
      auto head = model_->chatTemplate->renderOrdered(
          orderedMessages, orderedTools, /*addGenerationPrompt=*/false, orderedExtra,
          model_->tokenizer->bosText(), model_->tokenizer->eosText());
      if (head) {
        auto headIds = model_->tokenizer->encode(*head, /*addSpecial=*/false);
        if (headIds && headIds->size() < prompt.size() &&
            std::equal(headIds->begin(), headIds->end(), prompt.begin()))
          out->generate.boundary = int64_t(headIds->size());
      }
    }
  } else {
    const json *p = field("prompt");
    std::string text;
    bool haveText = false;
    if (p && p->is_string()) {
      text = p->get<std::string>();
      haveText = true;
    } else if (p && p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
      text = (*p)[0].get<std::string>();
      haveText = true;
    } else if (p && p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
      for (const json &id : *p) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
            id.get<int64_t>() >= model_->engine->vocab()) {
          *error = badRequest("'prompt' token ids must be integers in [0, " +
                                  std::to_string(model_->engine->vocab()) + ")",
                              "prompt");
          return false;
        }
        prompt.push_back(int32_t(id.get<int64_t>()));
      }
    } else {
      *error = badRequest("'prompt' must be a string (or a list of token ids)", "prompt");
      return false;
    }
    if (haveText) {
      if (text.empty()) {
        *error = badRequest("'prompt' is empty", "prompt");
        return false;
      }
      std::lock_guard<std::mutex> lock(textMutex_);
      auto ids = model_->tokenizer->encode(text, /*addSpecial=*/true);
      if (!ids) {
        *error = badRequest("tokenizer: " + ids.status().message(), "prompt");
        return false;
      }
      prompt = std::move(*ids);
    }
  }
  if (prompt.empty()) {
    *error = badRequest("the prompt has no tokens", chat ? "messages" : "prompt");
    return false;
  }
  if (Status status = model_->engine->checkTokens(prompt); !status) {
    *error = badRequest("the prompt: " + status.message(), chat ? "messages" : "prompt");
    return false;
  }
  if (int64_t(prompt.size()) >= capacity) {
    *error = badRequest("the prompt has " + std::to_string(prompt.size()) +
                            " tokens; the context holds " + std::to_string(capacity) +
                            " (at least one must be left to generate)",
                        chat ? "messages" : "prompt", "context_length_exceeded");
    return false;
  }
  if (out->generate.maxTokens < 0)
    out->generate.maxTokens = capacity - int64_t(prompt.size());
  return true;
}

// --- completions -----------------------------------------------------------------------------

void Server::handleCompletion(const httplib::Request &req, httplib::Response &res, bool chat) {
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded())
    return sendError(res, badRequest("the request body is not valid JSON"));
  // The chat template sees the request's objects in their order (as transformers does).
  auto ordered = nlohmann::ordered_json::parse(req.body, nullptr, false);
  auto completion = std::make_shared<Completion>();
  ApiError error;
  if (!parseCompletion(body, ordered, chat, completion.get(), &error))
    return sendError(res, error);

  uint64_t number = ++requestCounter_;
  char idBuffer[64];
  std::snprintf(idBuffer, sizeof idBuffer, "%s-%08llx%04x", chat ? "chatcmpl" : "cmpl",
                static_cast<unsigned long long>(number), unsigned(std::random_device{}() & 0xffff));
  std::string id = idBuffer;
  int64_t created = unixTime();
  std::string object = chat ? "chat.completion" : "text_completion";
  std::string modelId = model_->id;

  auto usageJson = [](const GenerateResult &result) {
    return json{{"prompt_tokens", result.promptTokens},
                {"completion_tokens", result.completionTokens},
                {"total_tokens", result.promptTokens + result.completionTokens},
                {"prompt_tokens_details", {{"cached_tokens", result.cachedTokens}}}};
  };
  auto chunkJson = [=](const json &choice) {
    return json{{"id", id},
                {"object", chat ? "chat.completion.chunk" : "text_completion"},
                {"created", created},
                {"model", modelId},
                {"choices", json::array({choice})}};
  };
  auto sse = [](const json &value) { return "data: " + dumpJson(value) + "\n\n"; };

  auto job = std::make_shared<Job>();
  job->run = [this, completion, chat, id, created, object, modelId, usageJson, chunkJson,
              sse](Job &self) {
    std::shared_ptr<SessionEntry> entry;
    Conversation *conversation = scratch_.get();
    if (!completion->sessionId.empty()) {
      entry = sessionFor(completion->sessionId, /*create=*/true);
      conversation = entry->conversation.get();
    }
    GenerateRequest request = completion->generate;
    request.reusePrefix = entry != nullptr;
    request.ignoreEos = completion->ignoreEos;
    if (completion->stream) {
      json first = chat ? json{{"index", 0},
                               {"delta", {{"role", "assistant"}, {"content", ""}}},
                               {"finish_reason", nullptr}}
                        : json{{"index", 0}, {"text", ""}, {"finish_reason", nullptr}};
      self.push(sse(chunkJson(first)));
    }
    auto onText = [&](const std::string &text) {
      if (completion->stream) {
        json choice = chat ? json{{"index", 0}, {"delta", {{"content", text}}},
                                  {"finish_reason", nullptr}}
                           : json{{"index", 0}, {"text", text}, {"finish_reason", nullptr}};
        self.push(sse(chunkJson(choice)));
      }
      return !self.cancelled.load();
    };
    auto result = generate(*model_, *conversation, request, onText, &self.cancelled);
    if (entry) {
      std::lock_guard<std::mutex> lock(sessionMutex_);
      entry->lastUsed = unixTime();
      entry->tokens = conversation->session().length();
      ++entry->turns;
    }
    if (!result) {
      ApiError failure{500, "generation failed: " + result.status().message(), "server_error"};
      logLine(failure.message);
      if (completion->stream) {
        self.push(sse(errorBody(failure)));
        self.push("data: [DONE]\n\n");
      } else {
        self.fail(failure);
      }
      return;
    }
    metrics_.generation(*result);
    if (result->finishReason == "cancelled")
      return;
    if (completion->stream) {
      json last = chat ? json{{"index", 0}, {"delta", json::object()},
                              {"finish_reason", result->finishReason}}
                       : json{{"index", 0}, {"text", ""}, {"finish_reason", result->finishReason}};
      self.push(sse(chunkJson(last)));
      if (completion->includeUsage) {
        json usage = chunkJson(last);
        usage["choices"] = json::array();
        usage["usage"] = usageJson(*result);
        self.push(sse(usage));
      }
      self.push("data: [DONE]\n\n");
      return;
    }
    json choice = chat ? json{{"index", 0},
                              {"message", {{"role", "assistant"}, {"content", result->text}}},
                              {"logprobs", nullptr},
                              {"finish_reason", result->finishReason}}
                       : json{{"index", 0},
                              {"text", result->text},
                              {"logprobs", nullptr},
                              {"finish_reason", result->finishReason}};
    self.body = {{"id", id},       {"object", object},
                 {"created", created}, {"model", modelId},
                 {"choices", json::array({choice})}, {"usage", usageJson(*result)}};
    if (entry) {
      self.body["session_id"] = entry->id;
      self.body["session_reuse"] = reuseName(result->reuse);
    }
  };

  if (!enqueue(job))
    return sendError(res, ApiError{429,
                                   "the server is busy: " + std::to_string(config_.maxQueue) +
                                       " requests are already waiting (--max-queue); retry later",
                                   "rate_limit_error", "", "rate_limit_exceeded"});
  if (!completion->stream) {
    job->wait();
    if (job->cancelled.load() && job->body.is_null())
      return sendError(res, ApiError{499, "cancelled", "server_error"});
    return sendJson(res, job->body, job->status);
  }
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream",
      [job](size_t, httplib::DataSink &sink) {
        std::string event;
        if (!job->next(&event)) {
          sink.done();
          return true;
        }
        if (!sink.is_writable() || !sink.write(event.data(), event.size())) {
          job->cancelled = true;
          return false;
        }
        return true;
      },
      [job](bool success) {
        if (!success)
          job->cancelled = true;
      });
}

// --- snapshots -------------------------------------------------------------------------------

void Server::handleSnapshot(const httplib::Request &req, httplib::Response &res,
                            const std::string &pathId, bool save, const std::string &nameFromPath) {
  json body = req.body.empty() ? json::object() : json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return sendError(res, badRequest("the request body must be a JSON object"));
  std::string name = nameFromPath, sessionId = pathId;
  if (name.empty()) {
    if (!body.contains("name") || !body["name"].is_string())
      return sendError(res, badRequest("'name' (a string) is required", "name"));
    name = body["name"].get<std::string>();
  }
  if (sessionId.empty()) {
    if (!body.contains("session_id") || !body["session_id"].is_string())
      return sendError(res, badRequest("'session_id' (a string) is required", "session_id"));
    sessionId = body["session_id"].get<std::string>();
  }
  if (!validSnapshotName(name))
    return sendError(res, badRequest("invalid snapshot name '" + name +
                                         "' (1-128 of A-Z a-z 0-9 . _ -, no leading dot)",
                                     "name"));
  if (!validId(sessionId))
    return sendError(res, badRequest("invalid session id", "session_id"));
  if (save && !sessionFor(sessionId, false))
    return sendError(res, ApiError{404, "no session '" + sessionId + "'", "invalid_request_error",
                                   "session_id", "session_not_found"});
  auto job = std::make_shared<Job>();
  job->run = [this, save, sessionId, name](Job &self) {
    if (save) {
      auto entry = sessionFor(sessionId, false);
      if (!entry)
        return self.fail(ApiError{404, "no session '" + sessionId + "'", "invalid_request_error",
                                  "session_id", "session_not_found"});
      std::string path;
      SnapshotStatus status = saveSnapshot(*model_, *entry->conversation, config_.snapshotDir, name,
                                           {{"session_id", sessionId}}, &path);
      if (!status.ok())
        return self.fail(ApiError{status.error == SnapshotError::invalid ? 400 : 500,
                                  status.message, "server_error"});
      logLine("saved session '" + sessionId + "' to " + path);
      self.body = {{"object", "session.snapshot"},
                   {"session_id", sessionId},
                   {"name", name},
                   {"path", path},
                   {"tokens", entry->conversation->session().length()},
                   {"fingerprint", fingerprintHex(model_->fingerprint)}};
      return;
    }
    auto conversation = std::make_unique<Conversation>(*model_);
    json meta;
    SnapshotStatus status =
        loadSnapshot(*model_, *conversation, config_.snapshotDir, name, &meta);
    if (!status.ok()) {
      switch (status.error) {
      case SnapshotError::notFound:
        return self.fail(ApiError{404, status.message, "invalid_request_error", "name",
                                  "snapshot_not_found"});
      case SnapshotError::foreignModel:
        return self.fail(ApiError{409, status.message, "invalid_request_error", "name",
                                  "snapshot_model_mismatch"});
      case SnapshotError::invalid:
        return self.fail(ApiError{400, status.message, "invalid_request_error", "name",
                                  "invalid_snapshot"});
      default:
        return self.fail(ApiError{500, status.message, "server_error"});
      }
    }
    auto entry = sessionFor(sessionId, true);
    std::lock_guard<std::mutex> lock(sessionMutex_);
    entry->conversation = std::move(conversation);
    entry->tokens = entry->conversation->session().length();
    entry->lastUsed = unixTime();
    logLine("restored session '" + sessionId + "' from snapshot '" + name + "'");
    self.body = sessionJson(*entry);
    self.body["restored_from"] = name;
  };
  if (!enqueue(job))
    return sendError(res, ApiError{429, "the server is busy (--max-queue); retry later",
                                   "rate_limit_error", "", "rate_limit_exceeded"});
  job->wait();
  sendJson(res, job->body, job->status);
}

// --- routes ----------------------------------------------------------------------------------

void Server::routes() {
  size_t threads = config_.maxQueue + 48;
  http_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_.set_payload_max_length(16 << 20);
  http_.set_keep_alive_timeout(5);

  http_.set_pre_routing_handler([this](const httplib::Request &req, httplib::Response &res) {
    if (req.path == "/health")
      return httplib::Server::HandlerResponse::Unhandled;
    if (!config_.apiKey.empty() && req.get_header_value("Authorization") != "Bearer " + config_.apiKey) {
      sendError(res, ApiError{401, "invalid or missing API key (send 'Authorization: Bearer KEY')",
                              "invalid_request_error", "", "invalid_api_key"});
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!ready_ && req.path != "/metrics") {
      sendError(res, ApiError{503, "the model is loading", "server_error", "", "loading"});
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http_.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request &req, httplib::Response &res) {
    if (!res.body.empty())
      return httplib::Server::HandlerResponse::Unhandled;
    ApiError error{res.status, "", "invalid_request_error"};
    if (res.status == 404)
      error.message = "no route " + req.method + " " + req.path;
    else if (res.status == 413)
      error.message = "the request body is too large";
    else
      error.message = "HTTP " + std::to_string(res.status);
    sendError(res, error);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http_.set_exception_handler([](const httplib::Request &, httplib::Response &res,
                                 std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception &e) {
      what = e.what();
    } catch (...) {
    }
    sendError(res, ApiError{500, "internal error: " + what, "server_error"});
  });
  http_.set_logger([this](const httplib::Request &req, const httplib::Response &res) {
    metrics_.request(endpointLabel(req.path), res.status);
  });

  http_.Get("/health", [this](const httplib::Request &, httplib::Response &res) {
    if (ready_)
      sendJson(res, {{"status", "ok"}});
    else
      sendJson(res, {{"status", loadFailed_ ? "failed" : "loading"}}, 503);
  });
  http_.Get("/metrics", [this](const httplib::Request &, httplib::Response &res) {
    size_t depth, sessions;
    bool running;
    {
      std::lock_guard<std::mutex> lock(queueMutex_);
      depth = queue_.size();
      running = current_ != nullptr;
    }
    {
      std::lock_guard<std::mutex> lock(sessionMutex_);
      sessions = sessions_.size();
    }
    res.set_content(metrics_.render(depth, running, sessions, ready_),
                    "text/plain; version=0.0.4");
  });
  auto modelJson = [this] {
    return json{{"id", model_->id},
                {"object", "model"},
                {"created", 0},
                {"owned_by", "superlinear"},
                {"max_model_len", config_.model.capacity}};
  };
  http_.Get("/v1/models", [modelJson](const httplib::Request &, httplib::Response &res) {
    sendJson(res, {{"object", "list"}, {"data", json::array({modelJson()})}});
  });
  http_.Get(R"(/v1/models/(.+))", [this, modelJson](const httplib::Request &req, httplib::Response &res) {
    if (req.matches[1] != model_->id)
      return sendError(res, ApiError{404, "the model '" + std::string(req.matches[1]) + "' does not exist",
                                     "invalid_request_error", "model", "model_not_found"});
    sendJson(res, modelJson());
  });
  http_.Post("/v1/chat/completions", [this](const httplib::Request &req, httplib::Response &res) {
    handleCompletion(req, res, /*chat=*/true);
  });
  http_.Post("/v1/completions", [this](const httplib::Request &req, httplib::Response &res) {
    handleCompletion(req, res, /*chat=*/false);
  });
  http_.Get("/v1/sessions", [this](const httplib::Request &, httplib::Response &res) {
    json data = json::array();
    std::lock_guard<std::mutex> lock(sessionMutex_);
    for (const auto &[id, entry] : sessions_)
      data.push_back(sessionJson(*entry));
    sendJson(res, {{"object", "list"}, {"data", data}});
  });
  auto notFound = [](httplib::Response &res, const std::string &id) {
    sendError(res, ApiError{404, "no session '" + id + "'", "invalid_request_error", "session_id",
                            "session_not_found"});
  };
  http_.Get(R"(/v1/sessions/([^/]+))",
            [this, notFound](const httplib::Request &req, httplib::Response &res) {
              std::string id = req.matches[1];
              std::lock_guard<std::mutex> lock(sessionMutex_);
              auto it = sessions_.find(id);
              if (it == sessions_.end())
                return notFound(res, id);
              sendJson(res, sessionJson(*it->second));
            });
  http_.Delete(R"(/v1/sessions/([^/]+))",
               [this, notFound](const httplib::Request &req, httplib::Response &res) {
                 std::string id = req.matches[1];
                 std::lock_guard<std::mutex> lock(sessionMutex_);
                 if (!sessions_.erase(id))
                   return notFound(res, id);
                 sendJson(res, {{"id", id}, {"object", "session.deleted"}, {"deleted", true}});
               });
  http_.Post(R"(/v1/sessions/([^/]+)/snapshot)",
             [this](const httplib::Request &req, httplib::Response &res) {
               handleSnapshot(req, res, req.matches[1], /*save=*/true, "");
             });
  http_.Post(R"(/v1/sessions/([^/]+)/restore)",
             [this](const httplib::Request &req, httplib::Response &res) {
               handleSnapshot(req, res, req.matches[1], /*save=*/false, "");
             });
  http_.Post(R"(/v1/snapshots/([^/]+)/load)",
             [this](const httplib::Request &req, httplib::Response &res) {
               handleSnapshot(req, res, "", /*save=*/false, req.matches[1]);
             });
}

int Server::run() {
  routes();
  int port = config_.port;
  if (port == 0) {
    port = http_.bind_to_any_port(config_.host);
    if (port < 0) {
      logLine("cannot listen on " + config_.host);
      return 1;
    }
  } else if (!http_.bind_to_port(config_.host, port)) {
    logLine("cannot listen on " + config_.host + ":" + std::to_string(port) +
            " (in use, or not an address of this machine)");
    return 1;
  }
  logLine("listening on http://" + config_.host + ":" + std::to_string(port) +
          (config_.apiKey.empty() ? "" : " (API key required)"));
  std::thread loader([this] { load(); });
  http_.listen_after_bind();
  {
    std::lock_guard<std::mutex> lock(queueMutex_);
    stopping_ = true;
    if (current_)
      current_->cancelled = true;
    queueChanged_.notify_all();
  }
  loader.join();
  logLine(loadFailed_ ? "stopped: the model did not load" : "stopped");
  return loadFailed_ ? 1 : 0;
}

}  // namespace

int serveCommand(int argc, char **argv) {
  auto line = cli::CommandLine::parse(argc, argv, {"help"},
                                 {"artifact", "weights", "host", "port", "api-key", "max-queue",
                                  "max-context", "chunk", "snapshot-dir", "max-sessions",
                                  "device"});
  if (!line) {
    std::cerr << "slrun serve: " << line.status().message() << "\n" << kServeUsage;
    return 2;
  }
  if (line->has("help")) {
    std::cout << kServeUsage;
    return 0;
  }
  ServeConfig config;
  auto artifact = line->required("artifact");
  auto weights = line->required("weights");
  auto port = line->integer("port", 8080, 0, 65535);
  auto maxQueue = line->integer("max-queue", 16, 0, 100000);
  auto capacity = line->integer("max-context", 4096, 2);
  auto chunk = line->integer("chunk", 0, 1);
  auto maxSessions = line->integer("max-sessions", 32, 1, 100000);
  for (const Status &status : {artifact.status(), weights.status(), port.status(),
                               maxQueue.status(), capacity.status(), chunk.status(),
                               maxSessions.status()})
    if (!status) {
      std::cerr << "slrun serve: " << status.message() << "\n" << kServeUsage;
      return 2;
    }
  const std::string device = line->get("device", "cpu");
  if (device != "cpu" && device != "cuda") {
    std::cerr << "slrun serve: --device must be cpu or cuda, got '" << device << "'\n"
              << kServeUsage;
    return 2;
  }
  config.model = ModelConfig{*artifact, *weights, *capacity, *chunk, device};
  config.host = line->get("host", "127.0.0.1");
  config.port = int(*port);
  config.apiKey = line->get("api-key");
  config.maxQueue = size_t(*maxQueue);
  config.maxSessions = size_t(*maxSessions);
  config.snapshotDir = line->get("snapshot-dir", "snapshots");

  // SIGINT / SIGTERM stop the server (handled by a thread with sigwait); SIGPIPE is ignored.
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Server server(config);
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    if (!done) {
      logLine(std::string("received ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
              ", shutting down");
      server.stop();
    }
  });
  int rc = server.run();
  done = true;
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return rc;
}

}  // namespace sl::server
