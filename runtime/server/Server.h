// `slrun serve` (runtime/server/Commands.h): the server over one model, private to
// runtime/server/Server*.cpp. Server.cpp: the command line, the HTTP server's set-up (API key,
// error responses, metrics per request) and the model's loading; ServerRoutes.cpp: the routes
// and the OpenAI completion endpoints; ServerSessions.cpp: sessions, their snapshots and the
// memory they need; ServerQueue.cpp: the executor queue, one thread that runs every request
// touching model state (sessions, snapshots, generations) in FIFO order; ServerMetrics.cpp:
// /metrics.
#pragma once

#include "runtime/server/Conversation.h"
#include "runtime/server/Http.h"
#include "runtime/server/Requests.h"
#include "runtime/server/ServerMetrics.h"
#include "runtime/server/Snapshot.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace sl::server::detail {

using nlohmann::json;

std::string dumpJson(const json &value);
int64_t unixTime();
void sendError(http::Response &res, const ApiError &error);
void sendJson(http::Response &res, const json &body, int status = 200);

// A request for the executor thread: its work, and what it hands back to the HTTP worker
// waiting for it (the SSE events of a streaming request, or the response).
struct Job {
  std::function<void(Job &)> run;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string> events;  // SSE events of a streaming request
  bool finished = false;
  int status = 200;
  json body;  // the response of a non-streaming request
  std::atomic<bool> cancelled{false};

  void push(std::string event);
  void finish();
  void fail(const ApiError &error);
  // The next event; false when the job finished and every event was taken.
  bool next(std::string *event);
  void wait();
  bool waitFor(double seconds);
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
  void stop();

private:
  // --- routes and the OpenAI endpoints (ServerRoutes.cpp) ---------------------------------
  http::Router routes();
  RequestContext requestContext() const;
  void handleCompletion(const http::Request &req, http::Response &res, bool chat);

  // --- sessions and snapshots (ServerSessions.cpp) ----------------------------------------
  void handleSnapshot(const http::Request &req, http::Response &res,
                      const std::string &sessionId, bool save, const std::string &nameFromPath);
  json sessionJson(const SessionEntry &entry);
  std::shared_ptr<SessionEntry> sessionFor(const std::string &id, bool create);

  // --- the executor queue (ServerQueue.cpp) -----------------------------------------------
  // Queue: false when full.
  bool enqueue(const std::shared_ptr<Job> &job);
  // Cancels the running generation and makes the executor refuse the queued ones (503).
  void stopExecutor();
  void executorLoop();

  // --- the model (Server.cpp) and the memory its sessions need (ServerSessions.cpp) -------
  void load();
  // Every session the server may hold (--max-sessions, plus the one of session-less requests)
  // at --max-context tokens, with its checkpoints, must fit the memory left after the weights.
  Status checkSessionsFit() const;

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

}  // namespace sl::server::detail
