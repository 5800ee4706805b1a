// `slrun serve`: an OpenAI-compatible HTTP server (runtime/server/Http.h) over one model. Worker
// threads parse, validate, render and tokenize; one executor thread runs the requests of a FIFO queue (sessions, snapshots and generations all touch model state there).
#include "runtime/app/Backends.h"
#include "runtime/server/Commands.h"
#include "runtime/support/CommandLine.h"
#include "runtime/server/Conversation.h"
#include "runtime/server/Http.h"
#include "runtime/server/Requests.h"
#include "runtime/server/Snapshot.h"
#include "runtime/core/MemoryBudget.h"

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
    "                   [--max-snapshots 64] [--max-snapshot-bytes 68719476736]\n"
    "                   [--max-body-bytes 16777216] [--max-connections 1024]\n"
    "                   [--head-timeout 10] [--body-timeout 60]\n"
    "OpenAI-compatible HTTP server (see docs/serving.md).\n";

std::string dumpJson(const json &value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

int64_t unixTime() { return int64_t(std::time(nullptr)); }

void sendError(http::Response &res, const ApiError &error) {
  res.status = error.status;
  res.contentType = "application/json";
  res.body = dumpJson(errorBody(error));
  if (error.status == 429 || error.status == 503)
    res.setHeader("Retry-After", "1");
}

void sendJson(http::Response &res, const json &body, int status = 200) {
  res.status = status;
  res.contentType = "application/json";
  res.body = dumpJson(body);
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
  bool waitFor(double seconds) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return finished; });
  }
};

struct SessionEntry {
  std::string id;
  std::unique_ptr<Conversation> conversation;
  int64_t created = 0, lastUsed = 0, tokens = 0, turns = 0;
};

struct ServeConfig {
  ModelConfig model;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string apiKey;
  size_t maxQueue = 16, maxSessions = 32;
  std::string snapshotDir = "snapshots";
  SnapshotLimits snapshots;
  http::Limits http;
};

class Server {
public:
  explicit Server(ServeConfig config) : config_(std::move(config)) {}
  int run();
  // Cancels the running generation and refuses the queued ones (503), so that the HTTP layer's
  // workers, which wait for them, return promptly; then stops the HTTP layer.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(queueMutex_);
      stopping_ = true;
      if (current_)
        current_->cancelled = true;
      queueChanged_.notify_all();
    }
    if (http_)
      http_->stop();
  }

private:
  http::Router routes();
  RequestContext requestContext() const;
  void handleCompletion(const http::Request &req, http::Response &res, bool chat);
  void handleSnapshot(const http::Request &req, http::Response &res,
                      const std::string &sessionId, bool save, const std::string &nameFromPath);
  json sessionJson(const SessionEntry &entry);
  // Queue: false when full.
  bool enqueue(const std::shared_ptr<Job> &job);
  void executorLoop();
  void load();
  // Every session the server may hold (--max-sessions, plus the one of session-less requests)
  // at --max-context tokens, with its checkpoints, must fit the memory left after the weights.
  Status checkSessionsFit() const;
  std::shared_ptr<SessionEntry> sessionFor(const std::string &id, bool create);

  ServeConfig config_;
  std::unique_ptr<http::Server> http_;
  Metrics metrics_;
  std::unique_ptr<LoadedModel> model_;
  std::atomic<bool> ready_{false}, loadFailed_{false};

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
    http_->stop();
    return;
  }
  model_ = std::move(*model);
  if (Status status = checkSessionsFit(); !status) {
    logLine(status.message());
    loadFailed_ = true;
    http_->stop();
    return;
  }
  scratch_ = std::make_unique<Conversation>(*model_);
  ready_ = true;
  logLine("ready: model '" + model_->id + "', context " + std::to_string(config_.model.capacity) +
          " tokens");
  executorLoop();
}

Status Server::checkSessionsFit() const {
  const runtime::Artifact &artifact = model_->model->artifact();
  auto state = runtime::sessionBytes(artifact, config_.model.capacity);
  if (!state)
    return Status::error("--max-context: " + state.status().message());
  const uint64_t sessions = config_.maxSessions + 1;
  // Checkpoints (Mamba states at turn boundaries) stay on the host on either backend.
  auto checkpoints = runtime::mulBytes(state->mambaState, Conversation::kMaxCheckpoints);
  auto backend = runtime::selectBackend(config_.model.device);
  if (!backend)
    return backend.status();
  auto onHost = (*backend)->hostMemory
                    ? (checkpoints ? runtime::addBytes(state->total(), *checkpoints) : std::nullopt)
                    : (checkpoints ? runtime::addBytes(state->stripeTables, *checkpoints)
                                   : std::nullopt);
  auto hostTotal = onHost ? runtime::mulBytes(*onHost, sessions) : std::nullopt;
  std::string what = "--max-sessions " + std::to_string(config_.maxSessions) +
                     " (+1 for requests without a session) x --max-context " +
                     std::to_string(config_.model.capacity) + " tokens";
  if (!hostTotal)
    return Status::error(what + " needs more bytes than 64 bits count");
  if (Status status = runtime::checkFits(what + " (state and checkpoints)", *hostTotal,
                                         runtime::availableHostBytes(), "host memory");
      !status)
    return Status::error(status.message() + "; lower --max-sessions or --max-context");
  if (auto memory = model_->engine->executor().deviceMemory()) {
    auto deviceTotal = runtime::mulBytes(state->total(), sessions);
    if (deviceTotal)
      if (Status status = runtime::checkFits(what + " (session state)", *deviceTotal,
                                             memory->first, "device memory");
          !status)
        return Status::error(status.message() + "; lower --max-sessions or --max-context");
  }
  return Status::success();
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

// --- completions -----------------------------------------------------------------------------

RequestContext Server::requestContext() const {
  RequestContext context;
  context.modelId = model_->id;
  context.capacity = config_.model.capacity;
  context.vocab = model_->engine->vocab();
  context.tokenizer = &*model_->tokenizer;
  context.chatTemplate = model_->chatTemplate ? &*model_->chatTemplate : nullptr;
  context.chatTemplateError = model_->chatTemplateError;
  return context;
}

void Server::handleCompletion(const http::Request &req, http::Response &res, bool chat) {
  // One parse, under limits; the chat template sees the request's objects in their order (as
  // transformers does).
  RequestContext context = requestContext();
  nlohmann::ordered_json body;
  auto completion = std::make_shared<Completion>();
  ApiError error;
  if (!parseRequestBody(req.body, context.limits, &body, &error) ||
      !parseCompletion(body, context, chat, completion.get(), &error))
    return sendError(res, error);
  if (!completion->seeded)
    completion->generate.sampling.seed =
        std::random_device{}() * 0x100000001ULL ^ requestCounter_.load();

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
    // A client that leaves while its request waits or runs cancels it.
    while (!job->waitFor(0.1))
      if (req.disconnected())
        job->cancelled = true;
    if (job->cancelled.load() && job->body.is_null())
      return sendError(res, ApiError{499, "cancelled", "server_error"});
    return sendJson(res, job->body, job->status);
  }
  res.setHeader("Cache-Control", "no-cache");
  res.contentType = "text/event-stream";
  res.stream = [job](const std::function<bool(std::string_view)> &write) {
    std::string event;
    while (job->next(&event))
      if (!write(event)) {
        job->cancelled = true;
        job->wait();
        return;
      }
  };
  res.onAbandon = [job] { job->cancelled = true; };
}

// --- snapshots -------------------------------------------------------------------------------

void Server::handleSnapshot(const http::Request &req, http::Response &res,
                            const std::string &pathId, bool save, const std::string &nameFromPath) {
  nlohmann::ordered_json body = nlohmann::ordered_json::object();
  ApiError error;
  if (!req.body.empty() && !parseRequestBody(req.body, RequestLimits{}, &body, &error))
    return sendError(res, error);
  std::string name = nameFromPath, sessionId = pathId;
  auto text = [&](const char *key, std::string *out) {
    auto it = body.find(key);
    if (it == body.end() || !it->is_string())
      return false;
    *out = it->get<std::string>();
    return true;
  };
  if (name.empty() && !text("name", &name))
    return sendError(res, badRequest("'name' (a string) is required", "name"));
  if (sessionId.empty() && !text("session_id", &sessionId))
    return sendError(res, badRequest("'session_id' (a string) is required", "session_id"));
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
      SnapshotStatus status = saveSnapshot(*model_, *entry->conversation, config_.snapshotDir, name,
                                           {{"session_id", sessionId}}, config_.snapshots);
      if (status.error == SnapshotError::full)
        return self.fail(ApiError{507, status.message, "invalid_request_error", "name",
                                  "snapshot_storage_full"});
      if (!status.ok())
        return self.fail(ApiError{status.error == SnapshotError::invalid ? 400 : 500,
                                  status.message, "server_error"});
      logLine("saved session '" + sessionId + "' to " + snapshotPath(config_.snapshotDir, name));
      self.body = {{"object", "session.snapshot"},
                   {"session_id", sessionId},
                   {"name", name},
                   {"tokens", entry->conversation->session().length()},
                   {"fingerprint", fingerprintHex(model_->fingerprint)}};
      return;
    }
    auto conversation = std::make_unique<Conversation>(*model_);
    json meta;
    SnapshotStatus status =
        loadSnapshot(*model_, *conversation, config_.snapshotDir, name, &meta, config_.snapshots);
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

http::Router Server::routes() {
  http::Router router;
  router.add("GET", "/health", [this](const http::Request &, http::Response &res) {
    if (ready_)
      sendJson(res, {{"status", "ok"}});
    else
      sendJson(res, {{"status", loadFailed_ ? "failed" : "loading"}}, 503);
  }, /*light=*/true);
  router.add("GET", "/metrics", [this](const http::Request &, http::Response &res) {
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
    res.contentType = "text/plain; version=0.0.4";
    res.body = metrics_.render(depth, running, sessions, ready_);
  }, /*light=*/true);
  auto modelJson = [this] {
    return json{{"id", model_->id},
                {"object", "model"},
                {"created", 0},
                {"owned_by", "superlinear"},
                {"max_model_len", config_.model.capacity}};
  };
  router.add("GET", "/v1/models", [modelJson](const http::Request &, http::Response &res) {
    sendJson(res, {{"object", "list"}, {"data", json::array({modelJson()})}});
  }, /*light=*/true);
  router.add("GET", "/v1/models/**", [this, modelJson](const http::Request &req,
                                                       http::Response &res) {
    if (req.params[0] != model_->id)
      return sendError(res, ApiError{404, "the model '" + req.params[0] + "' does not exist",
                                     "invalid_request_error", "model", "model_not_found"});
    sendJson(res, modelJson());
  });
  router.add("POST", "/v1/chat/completions", [this](const http::Request &req, http::Response &res) {
    handleCompletion(req, res, /*chat=*/true);
  });
  router.add("POST", "/v1/completions", [this](const http::Request &req, http::Response &res) {
    handleCompletion(req, res, /*chat=*/false);
  });
  router.add("GET", "/v1/sessions", [this](const http::Request &, http::Response &res) {
    json data = json::array();
    std::lock_guard<std::mutex> lock(sessionMutex_);
    for (const auto &[id, entry] : sessions_)
      data.push_back(sessionJson(*entry));
    sendJson(res, {{"object", "list"}, {"data", data}});
  });
  auto notFound = [](http::Response &res, const std::string &id) {
    sendError(res, ApiError{404, "no session '" + id + "'", "invalid_request_error", "session_id",
                            "session_not_found"});
  };
  router.add("GET", "/v1/sessions/*", [this, notFound](const http::Request &req,
                                                      http::Response &res) {
    std::lock_guard<std::mutex> lock(sessionMutex_);
    auto it = sessions_.find(req.params[0]);
    if (it == sessions_.end())
      return notFound(res, req.params[0]);
    sendJson(res, sessionJson(*it->second));
  });
  router.add("DELETE", "/v1/sessions/*", [this, notFound](const http::Request &req,
                                                         http::Response &res) {
    std::lock_guard<std::mutex> lock(sessionMutex_);
    if (!sessions_.erase(req.params[0]))
      return notFound(res, req.params[0]);
    sendJson(res, {{"id", req.params[0]}, {"object", "session.deleted"}, {"deleted", true}});
  });
  router.add("POST", "/v1/sessions/*/snapshot", [this](const http::Request &req,
                                                      http::Response &res) {
    handleSnapshot(req, res, req.params[0], /*save=*/true, "");
  });
  router.add("POST", "/v1/sessions/*/restore", [this](const http::Request &req,
                                                     http::Response &res) {
    handleSnapshot(req, res, req.params[0], /*save=*/false, "");
  });
  router.add("POST", "/v1/snapshots/*/load", [this](const http::Request &req,
                                                   http::Response &res) {
    handleSnapshot(req, res, "", /*save=*/false, req.params[0]);
  });
  return router;
}

int Server::run() {
  std::string expectedKey = "Bearer " + config_.apiKey;
  auto filter = [this, expectedKey](const http::Request &req, http::Response &res) {
    if (req.path == "/health")
      return false;
    if (!config_.apiKey.empty() &&
        !http::constantTimeEquals(req.header("authorization"), expectedKey)) {
      sendError(res, ApiError{401, "invalid or missing API key (send 'Authorization: Bearer KEY')",
                              "invalid_request_error", "", "invalid_api_key"});
      return true;
    }
    if (!ready_ && req.path != "/metrics") {
      sendError(res, ApiError{503, "the model is loading", "server_error", "", "loading"});
      return true;
    }
    return false;
  };
  auto errorResponse = [](int status, const std::string &message, http::Response &res) {
    sendError(res, ApiError{status, message,
                            status >= 500 ? "server_error" : "invalid_request_error"});
  };
  auto logger = [this](const http::Request &req, int status) {
    metrics_.request(endpointLabel(req.path), status);
  };
  http::Limits limits = config_.http;
  // Every queued or running generation holds a worker; the rest answer everything else.
  limits.workers = config_.maxQueue + 1 + 32;
  http_ = std::make_unique<http::Server>(limits, routes(), filter, errorResponse, logger);
  if (Status status = http_->bind(config_.host, config_.port); !status) {
    logLine(status.message());
    return 1;
  }
  logLine("listening on http://" + config_.host + ":" + std::to_string(http_->port()) +
          (config_.apiKey.empty() ? "" : " (API key required)"));
  std::thread loader([this] { load(); });
  http_->serve();
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
                                  "device", "max-snapshots", "max-snapshot-bytes", "max-body-bytes",
                                  "max-connections", "head-timeout", "body-timeout"});
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
  auto maxQueue = line->integer("max-queue", 16, 1, 1024);
  auto capacity = line->integer("max-context", 4096, 2);
  auto chunk = line->integer("chunk", 0, 1);
  auto maxSessions = line->integer("max-sessions", 32, 1, 100000);
  const SnapshotLimits snapshotDefaults;
  const http::Limits httpDefaults;
  auto maxSnapshots = line->integer("max-snapshots", int64_t(snapshotDefaults.maxFiles), 0, 1000000);
  auto maxSnapshotBytes = line->integer("max-snapshot-bytes", int64_t(snapshotDefaults.maxBytes), 0);
  auto maxBody = line->integer("max-body-bytes", int64_t(httpDefaults.maxBodyBytes), 1024,
                               int64_t(1) << 32);
  auto maxConnections = line->integer("max-connections", int64_t(httpDefaults.maxConnections), 1,
                                      1000000);
  auto headTimeout = line->integer("head-timeout", int64_t(httpDefaults.headSeconds), 1, 3600);
  auto bodyTimeout = line->integer("body-timeout", int64_t(httpDefaults.bodySeconds), 1, 3600);
  for (const Status &status : {artifact.status(), weights.status(), port.status(),
                               maxQueue.status(), capacity.status(), chunk.status(),
                               maxSessions.status(), maxSnapshots.status(),
                               maxSnapshotBytes.status(), maxBody.status(),
                               maxConnections.status(), headTimeout.status(),
                               bodyTimeout.status()})
    if (!status) {
      std::cerr << "slrun serve: " << status.message() << "\n" << kServeUsage;
      return 2;
    }
  const std::string device = line->get("device", "cpu");
  if (auto backend = runtime::selectBackend(device); !backend) {
    std::cerr << "slrun serve: " << backend.status().message() << "\n" << kServeUsage;
    return 2;
  }
  config.model = ModelConfig{*artifact, *weights, *capacity, *chunk, device};
  config.host = line->get("host", "127.0.0.1");
  config.port = int(*port);
  config.apiKey = line->get("api-key");
  config.maxQueue = size_t(*maxQueue);
  config.maxSessions = size_t(*maxSessions);
  config.snapshotDir = line->get("snapshot-dir", "snapshots");
  config.snapshots.maxFiles = size_t(*maxSnapshots);
  config.snapshots.maxBytes = uint64_t(*maxSnapshotBytes);
  config.http.maxBodyBytes = size_t(*maxBody);
  config.http.maxConnections = size_t(*maxConnections);
  config.http.headSeconds = double(*headTimeout);
  config.http.bodySeconds = double(*bodyTimeout);

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
