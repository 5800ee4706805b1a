// The routes of `slrun serve` and the OpenAI endpoints: /v1/models, /v1/completions and
// /v1/chat/completions (streamed as server-sent events or answered whole), /v1/sessions,
// /health, /metrics. See Server.h.
#include "runtime/server/Server.h"

#include <cstdio>
#include <ctime>
#include <random>

namespace sl::server::detail {

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

void sendJson(http::Response &res, const json &body, int status) {
  res.status = status;
  res.contentType = "application/json";
  res.body = dumpJson(body);
}

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

}  // namespace sl::server::detail
