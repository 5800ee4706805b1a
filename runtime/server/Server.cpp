// `slrun serve`: an OpenAI-compatible HTTP server (runtime/server/Http.h) over one model. Worker
// threads parse, validate, render and tokenize; one executor thread runs the requests of a FIFO queue (sessions, snapshots and generations all touch model state there).
//
// This file: the command line, the HTTP server's set-up (API key, error responses, metrics per
// request), the model's loading and the shutdown. The rest is in ServerRoutes.cpp,
// ServerSessions.cpp, ServerQueue.cpp and ServerMetrics.cpp (Server.h).
#include "runtime/server/Commands.h"

#include "runtime/app/Backends.h"
#include "runtime/server/Server.h"
#include "runtime/support/CommandLine.h"

#include <csignal>
#include <iostream>
#include <pthread.h>
#include <thread>

namespace sl::server::detail {

namespace {

const char *kServeUsage =
    "usage: slrun serve --artifact A --weights DIR [--host 127.0.0.1] [--port 8080]\n"
    "                   [--api-key KEY] [--max-queue 16] [--max-context 4096] [--chunk N]\n"
    "                   [--snapshot-dir ./snapshots] [--max-sessions 32] [--device cpu|cuda]\n"
    "                   [--devices 0,1,...] [--max-snapshots 64]\n"
    "                   [--max-snapshot-bytes 68719476736]\n"
    "                   [--max-body-bytes 16777216] [--max-connections 1024]\n"
    "                   [--head-timeout 10] [--body-timeout 60]\n"
    "OpenAI-compatible HTTP server (see docs/serving.md).\n";

}  // namespace

void Server::stop() {
  stopExecutor();
  if (http_)
    http_->stop();
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
  stopExecutor();
  loader.join();
  logLine(loadFailed_ ? "stopped: the model did not load" : "stopped");
  return loadFailed_ ? 1 : 0;
}

}  // namespace sl::server::detail

namespace sl::server {

using namespace detail;

int serveCommand(int argc, char **argv) {
  auto line = cli::CommandLine::parse(argc, argv, {"help"},
                                 {"artifact", "weights", "host", "port", "api-key", "max-queue",
                                  "max-context", "chunk", "snapshot-dir", "max-sessions",
                                  "device", "devices", "max-snapshots", "max-snapshot-bytes", "max-body-bytes",
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
  auto device = runtime::deviceSpec(*line);
  if (auto backend = device ? runtime::selectBackend(*device)
                            : StatusOr<const runtime::Backend *>(device.status());
      !backend) {
    std::cerr << "slrun serve: " << backend.status().message() << "\n" << kServeUsage;
    return 2;
  }
  config.model = ModelConfig{*artifact, *weights, *capacity, *chunk, *device};
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
