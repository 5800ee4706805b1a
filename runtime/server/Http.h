// The HTTP/1.1 layer of `slrun serve`. Written for one threat model: any client on the network
// may be hostile. One event-loop thread reads every connection without blocking, under a
// deadline for the request head and one for the body, with the body limit applied to every
// transfer encoding; only complete requests reach the worker threads, so slow or stalled clients
// hold no thread. Keep-alive and pipelining are supported; the listening socket is bound
// exclusively (no SO_REUSEPORT), so a second server on the same port fails at start.
#pragma once

#include "runtime/support/Status.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sl::server::http {

struct Limits {
  size_t maxHeadBytes = 64 << 10;  // request line + headers
  size_t maxHeaders = 100;
  size_t maxBodyBytes = 16 << 20;  // after de-chunking
  double headSeconds = 10;         // from the first byte of a request to the end of its head
  double bodySeconds = 60;         // from the end of the head to the end of the body
  double idleSeconds = 5;          // a kept-alive connection waiting for its next request
  double writeSeconds = 30;        // one blocked write of a response
  size_t maxConnections = 1024;    // open connections; more are closed at once
  size_t workers = 64;             // threads that run handlers (plus 2 for light routes)
};

struct Request {
  std::string method, target, path, query;  // target = path[?query]
  int minorVersion = 1;                     // HTTP/1.x
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  bool keepAlive = true;
  bool expectContinue = false;
  std::string remote;                       // the peer's address
  std::vector<std::string> params;          // what the route's wildcards matched
  // True once the client has closed its side (a handler that waits polls it).
  std::function<bool()> disconnected = [] { return false; };

  // The first header of that (lower-case) name, or "".
  const std::string &header(std::string_view name) const;
};

// Parses requests from a byte stream, incrementally: bytes in, whole requests out. Pure (no I/O),
// so it is unit-tested and fuzzed alone.
class RequestParser {
public:
  enum class State { needMore, headDone, complete, error };

  explicit RequestParser(const Limits &limits) : limits_(limits) {}

  // Appends bytes and parses as far as they go. `headDone` is reported once per request, when
  // its head is complete but not its body (the caller may answer `Expect: 100-continue`).
  State feed(std::string_view bytes);
  // Parses what is buffered without new bytes (pipelined requests after the previous one).
  State resume() { return feed({}); }
  // After `complete`: the request; parsing of the next one starts with the bytes left over.
  Request take();
  // After `complete`, before take(): the request, to look at.
  const Request &pending() const { return request_; }
  // After `error`: the status to answer (400, 413, 431, 501, 505) and why.
  int errorStatus() const { return errorStatus_; }
  const std::string &errorMessage() const { return errorMessage_; }
  // Bytes received of the request being parsed (0 = between requests).
  bool midRequest() const { return phase_ != Phase::head || cursor_ < buffer_.size(); }
  bool inBody() const { return phase_ != Phase::head; }
  // After `headDone`: whether the client waits for `100 Continue` before sending the body.
  bool expectsContinue() const { return inBody() && request_.expectContinue; }

private:
  enum class Phase { head, lengthBody, chunkSize, chunkData, chunkDataEnd, trailers, done };
  State fail(int status, std::string message);
  State parseHead(size_t headEnd);
  State step();
  // Moves buffered bytes of the current body (or chunk) into the request; true once complete.
  bool takeBodyBytes();

  const Limits &limits_;
  std::string buffer_;
  size_t cursor_ = 0;  // parsed bytes of buffer_
  Phase phase_ = Phase::head;
  Request request_;
  size_t remaining_ = 0;  // of the current body or chunk
  bool headReported_ = false;
  int errorStatus_ = 0;
  std::string errorMessage_;
};

// A response. Either `body` or `stream`: a streaming response is sent with chunked encoding;
// `stream` writes pieces with `write`, which returns false once the client is gone.
struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string contentType = "application/json";
  std::string body;
  std::function<void(const std::function<bool(std::string_view)> &write)> stream;
  // Runs when the response could not be delivered (the client left): a generation stops.
  std::function<void()> onAbandon;

  void setHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

using Handler = std::function<void(const Request &, Response &)>;

// Routes: exact paths, or patterns whose `*` stands for one non-empty path segment and a
// trailing `**` for the rest of the path (one or more segments).
class Router {
public:
  // A `light` route answers at once and writes little (health, metrics, listings): it runs on
  // threads of its own, so that it is answered even while every other worker is busy.
  void add(std::string method, std::string pattern, Handler handler, bool light = false);
  bool isLight(const Request &request) const;
  // The handler of `request`, with the values of the wildcards; or null, with the status (404,
  // or 405 and the methods the path allows).
  const Handler *match(const Request &request, std::vector<std::string> *captures, int *status,
                       std::string *allowed) const;

private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
    bool light = false;
  };
  std::vector<Route> routes_;
};

class Server {
public:
  // Called for every request, before routing (authentication, readiness); true = answered.
  using Filter = std::function<bool(const Request &, Response &)>;
  // Builds the body of an error the layer itself answers (404/405/408/413/431/...).
  using ErrorBody = std::function<void(int status, const std::string &message, Response &)>;
  // Called after each request with its path and status (metrics).
  using Logger = std::function<void(const Request &, int status)>;

  Server(Limits limits, Router router, Filter filter, ErrorBody errorBody, Logger logger);
  ~Server();

  // Binds `host:port` exclusively (port 0: any free port); errors say why.
  Status bind(const std::string &host, int port);
  int port() const { return port_; }
  // Serves until stop(); returns when every connection is closed and every worker has returned.
  void serve();
  void stop();
  bool running() const { return running_.load(); }

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::atomic<bool> running_{false};
};

// Equality of two secrets in time independent of where they differ.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace sl::server::http
