#include "runtime/server/Http.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace sl::server::http {

namespace {

using Clock = std::chrono::steady_clock;

bool isTokenChar(unsigned char c) {
  return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char &c : out)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

// Whether the comma-separated header value has `token` (case-insensitive).
bool hasToken(std::string_view value, std::string_view token) {
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    std::string_view item = trim(value.substr(start, comma == std::string_view::npos
                                                         ? std::string_view::npos
                                                         : comma - start));
    if (lower(item) == token)
      return true;
    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  return false;
}

const char *reasonPhrase(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 413: return "Content Too Large";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 499: return "Client Closed Request";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 503: return "Service Unavailable";
  case 505: return "HTTP Version Not Supported";
  default: return "Status";
  }
}

}  // namespace

const std::string &Request::header(std::string_view name) const {
  static const std::string empty;
  for (const auto &[key, value] : headers)
    if (key == name)
      return value;
  return empty;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // The length is not secret enough to hide (keys have a fixed format); the bytes are.
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= x ^ y;
  }
  return difference == 0;
}

// --- the parser ------------------------------------------------------------------------------

RequestParser::State RequestParser::fail(int status, std::string message) {
  errorStatus_ = status;
  errorMessage_ = std::move(message);
  phase_ = Phase::head;
  return State::error;
}

RequestParser::State RequestParser::feed(std::string_view bytes) {
  if (errorStatus_)
    return State::error;
  // Drop what earlier requests consumed before growing the buffer.
  if (cursor_ > 0 && (cursor_ >= buffer_.size() || cursor_ > (1u << 16))) {
    buffer_.erase(0, cursor_);
    cursor_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
  return step();
}

bool RequestParser::takeBodyBytes() {
  size_t take = std::min(remaining_, buffer_.size() - cursor_);
  request_.body.append(buffer_, cursor_, take);
  cursor_ += take;
  remaining_ -= take;
  return remaining_ == 0;
}

RequestParser::State RequestParser::step() {
  switch (phase_) {
  case Phase::head: {
    // Empty lines before a request line are allowed (RFC 9112, 2.2).
    while (buffer_.compare(cursor_, 2, "\r\n") == 0)
      cursor_ += 2;
    size_t end = buffer_.find("\r\n\r\n", cursor_);
    if (end == std::string::npos) {
      if (buffer_.size() - cursor_ > limits_.maxHeadBytes)
        return fail(431, "the request head is larger than " +
                             std::to_string(limits_.maxHeadBytes) + " bytes");
      return State::needMore;
    }
    if (end + 4 - cursor_ > limits_.maxHeadBytes)
      return fail(431, "the request head is larger than " + std::to_string(limits_.maxHeadBytes) +
                           " bytes");
    return parseHead(end);
  }
  case Phase::lengthBody:
    if (!takeBodyBytes())
      return State::needMore;
    phase_ = Phase::done;
    return step();
  case Phase::chunkSize: {
    size_t end = buffer_.find("\r\n", cursor_);
    if (end == std::string::npos) {
      if (buffer_.size() - cursor_ > 1024)
        return fail(400, "a chunk-size line is longer than 1024 bytes");
      return State::needMore;
    }
    if (end - cursor_ > 1024)
      return fail(400, "a chunk-size line is longer than 1024 bytes");
    std::string_view line(buffer_.data() + cursor_, end - cursor_);
    size_t digits = 0;
    uint64_t size = 0;
    while (digits < line.size() && std::isxdigit(static_cast<unsigned char>(line[digits]))) {
      if (digits == 15)
        return fail(413, "a chunk is larger than the body limit of " +
                             std::to_string(limits_.maxBodyBytes) + " bytes");
      char c = char(std::tolower(static_cast<unsigned char>(line[digits])));
      size = size * 16 + uint64_t(c <= '9' ? c - '0' : c - 'a' + 10);
      ++digits;
    }
    std::string_view rest = trim(line.substr(digits));
    if (digits == 0 || (!rest.empty() && rest.front() != ';'))
      return fail(400, "malformed chunk-size line");
    if (size > limits_.maxBodyBytes || request_.body.size() + size > limits_.maxBodyBytes)
      return fail(413, "the request body is larger than " +
                           std::to_string(limits_.maxBodyBytes) + " bytes");
    cursor_ = end + 2;
    if (size == 0) {
      phase_ = Phase::trailers;
      remaining_ = 0;  // trailer bytes seen
      return step();
    }
    remaining_ = size_t(size);
    phase_ = Phase::chunkData;
    return step();
  }
  case Phase::chunkData:
    if (!takeBodyBytes())
      return State::needMore;
    phase_ = Phase::chunkDataEnd;
    return step();
  case Phase::chunkDataEnd:
    if (buffer_.size() - cursor_ < 2)
      return State::needMore;
    if (buffer_.compare(cursor_, 2, "\r\n") != 0)
      return fail(400, "chunk data is not followed by CRLF");
    cursor_ += 2;
    phase_ = Phase::chunkSize;
    return step();
  case Phase::trailers: {
    // Trailer fields are read and ignored, within the head limit.
    while (true) {
      size_t end = buffer_.find("\r\n", cursor_);
      if (end == std::string::npos) {
        if (remaining_ + buffer_.size() - cursor_ > limits_.maxHeadBytes)
          return fail(431, "the trailer fields are larger than " +
                               std::to_string(limits_.maxHeadBytes) + " bytes");
        return State::needMore;
      }
      remaining_ += end + 2 - cursor_;
      if (remaining_ > limits_.maxHeadBytes)
        return fail(431, "the trailer fields are larger than " +
                             std::to_string(limits_.maxHeadBytes) + " bytes");
      bool last = end == cursor_;
      cursor_ = end + 2;
      if (last)
        break;
    }
    phase_ = Phase::done;
    return step();
  }
  case Phase::done:
    return State::complete;
  }
  return State::needMore;
}

RequestParser::State RequestParser::parseHead(size_t headEnd) {
  std::string_view head(buffer_.data() + cursor_, headEnd - cursor_);
  size_t lineEnd = head.find("\r\n");
  std::string_view line = head.substr(0, lineEnd);
  // request-line = method SP request-target SP HTTP-version
  size_t space1 = line.find(' ');
  size_t space2 = space1 == std::string_view::npos ? space1 : line.find(' ', space1 + 1);
  if (space2 == std::string_view::npos || line.find(' ', space2 + 1) != std::string_view::npos)
    return fail(400, "malformed request line");
  std::string_view method = line.substr(0, space1);
  std::string_view target = line.substr(space1 + 1, space2 - space1 - 1);
  std::string_view version = line.substr(space2 + 1);
  if (method.empty() || method.size() > 32 ||
      !std::all_of(method.begin(), method.end(), [](char c) { return isTokenChar(c); }))
    return fail(400, "malformed request method");
  if (target.empty() || target.front() != '/' ||
      !std::all_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
      }))
    return fail(400, "the request target must be a path starting with '/'");
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !std::isdigit(version[5]) ||
      version[6] != '.' || !std::isdigit(version[7]))
    return fail(400, "malformed HTTP version");
  if (version[5] != '1')
    return fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");

  Request &request = request_;
  request = Request{};
  request.method = std::string(method);
  request.target = std::string(target);
  size_t question = target.find('?');
  request.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos)
    request.query = std::string(target.substr(question + 1));
  request.minorVersion = version[7] - '0';

  std::string contentLength;
  bool haveLength = false, chunked = false;
  std::string_view fields = lineEnd == std::string_view::npos ? "" : head.substr(lineEnd + 2);
  while (!fields.empty()) {
    size_t end = fields.find("\r\n");
    std::string_view field = fields.substr(0, end);
    fields = end == std::string_view::npos ? "" : fields.substr(end + 2);
    if (field.front() == ' ' || field.front() == '\t')
      return fail(400, "folded header lines are not accepted");
    size_t colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return fail(400, "malformed header line");
    std::string_view name = field.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), [](char c) { return isTokenChar(c); }))
      return fail(400, "malformed header name");
    std::string_view value = trim(field.substr(colon + 1));
    for (char c : value)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        return fail(400, "a control character in header '" + std::string(name) + "'");
    if (request.headers.size() >= limits_.maxHeaders)
      return fail(431, "more than " + std::to_string(limits_.maxHeaders) + " header fields");
    std::string key = lower(name);
    if (key == "content-length") {
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return std::isdigit(c); }))
        return fail(400, "malformed Content-Length");
      if (haveLength && contentLength != value)
        return fail(400, "conflicting Content-Length headers");
      contentLength = std::string(value);
      haveLength = true;
    } else if (key == "transfer-encoding") {
      if (lower(value) != "chunked")
        return fail(501, "Transfer-Encoding '" + std::string(value) +
                             "' is not supported (only chunked)");
      if (chunked)
        return fail(400, "Transfer-Encoding given twice");
      chunked = true;
    }
    request.headers.emplace_back(std::move(key), std::string(value));
  }
  if (chunked && haveLength)
    return fail(400, "both Content-Length and Transfer-Encoding were sent");
  if (chunked && request.minorVersion == 0)
    return fail(400, "chunked transfer coding in an HTTP/1.0 request");
  const std::string &connection = request.header("connection");
  request.keepAlive = request.minorVersion == 1 ? !hasToken(connection, "close")
                                                : hasToken(connection, "keep-alive");
  request.expectContinue = request.minorVersion == 1 &&
                           lower(request.header("expect")) == "100-continue";
  cursor_ = headEnd + 4;
  headReported_ = false;

  if (chunked) {
    phase_ = Phase::chunkSize;
  } else if (haveLength) {
    uint64_t length = std::stoull(contentLength);
    if (length > limits_.maxBodyBytes)
      return fail(413, "the request body is larger than " +
                           std::to_string(limits_.maxBodyBytes) + " bytes");
    remaining_ = size_t(length);
    phase_ = remaining_ > 0 ? Phase::lengthBody : Phase::done;
  } else {
    phase_ = Phase::done;
  }
  if (phase_ == Phase::done)
    return State::complete;
  headReported_ = true;
  // The body may already be buffered; report the head first only when it is not.
  State state = step();
  return state == State::needMore ? State::headDone : state;
}

Request RequestParser::take() {
  Request out = std::move(request_);
  request_ = Request{};
  phase_ = Phase::head;
  remaining_ = 0;
  headReported_ = false;
  return out;
}

// --- routing ---------------------------------------------------------------------------------

namespace {

std::vector<std::string> splitPath(const std::string &path) {
  std::vector<std::string> segments;
  size_t start = 1;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos)
      slash = path.size();
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

bool matchSegments(const std::vector<std::string> &pattern, const std::vector<std::string> &path,
                   std::vector<std::string> *captures) {
  captures->clear();
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == "**") {
      if (i >= path.size())
        return false;
      std::string rest;
      for (size_t j = i; j < path.size(); ++j)
        rest += (j > i ? "/" : "") + path[j];
      if (rest.empty())
        return false;
      captures->push_back(rest);
      return true;
    }
    if (i >= path.size())
      return false;
    if (pattern[i] == "*") {
      if (path[i].empty())
        return false;
      captures->push_back(path[i]);
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return pattern.size() == path.size();
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler, bool light) {
  routes_.push_back(Route{std::move(method), splitPath(pattern), std::move(handler), light});
}

bool Router::isLight(const Request &request) const {
  std::vector<std::string> path = splitPath(request.path), captures;
  for (const Route &route : routes_)
    if (route.method == request.method && matchSegments(route.segments, path, &captures))
      return route.light;
  return true;  // answered by the layer itself (404, 405)
}

const Handler *Router::match(const Request &request, std::vector<std::string> *captures,
                             int *status, std::string *allowed) const {
  std::vector<std::string> path = splitPath(request.path);
  allowed->clear();
  for (const Route &route : routes_) {
    if (!matchSegments(route.segments, path, captures))
      continue;
    if (route.method == request.method)
      return &route.handler;
    if (allowed->find(route.method) == std::string::npos)
      *allowed += (allowed->empty() ? "" : ", ") + route.method;
  }
  captures->clear();
  *status = allowed->empty() ? 404 : 405;
  return nullptr;
}

// --- the server ------------------------------------------------------------------------------

namespace {

struct Connection {
  int fd = -1;
  std::string remote;
  std::unique_ptr<RequestParser> parser;
  Clock::time_point deadline;
  bool reading = false;  // registered with the event loop
  bool idle = false;     // kept alive, between requests
};

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(seconds));
}

// Writes all of `data` to a non-blocking socket, waiting at most `seconds` whenever it blocks.
bool writeAll(int fd, std::string_view data, double seconds) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      int ready = ::poll(&p, 1, int(seconds * 1000));
      if (ready <= 0 || (p.revents & (POLLERR | POLLHUP)))
        return false;
      continue;
    }
    return false;
  }
  return true;
}

std::string headText(const Response &response, bool keepAlive, bool chunked) {
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " +
                     reasonPhrase(response.status) + "\r\n";
  if (!response.contentType.empty())
    head += "Content-Type: " + response.contentType + "\r\n";
  for (const auto &[name, value] : response.headers)
    head += name + ": " + value + "\r\n";
  if (chunked)
    head += "Transfer-Encoding: chunked\r\n";
  else if (!response.stream)
    head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  head += keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  head += "\r\n";
  return head;
}

std::string peerName(const sockaddr_storage &address) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (address.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in &>(address).sin_addr, host, sizeof host);
  else if (address.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 &>(address).sin6_addr, host,
              sizeof host);
  return host;
}

}  // namespace

struct Server::Impl {
  Limits limits;
  Router router;
  Filter filter;
  ErrorBody errorBody;
  Logger logger;

  int listenFd = -1, epollFd = -1, wakeFd = -1;
  std::atomic<bool> stopping{false};
  std::map<int, std::shared_ptr<Connection>> connections;  // event-loop thread only

  std::mutex mutex;  // guards the two queues below
  std::condition_variable workAvailable;
  std::deque<std::shared_ptr<Connection>> work;       // complete requests for the workers
  std::deque<std::shared_ptr<Connection>> lightWork;  // ... of light routes
  std::vector<std::shared_ptr<Connection>> returned;  // kept-alive connections back to the loop
  std::vector<std::thread> workers;
  std::atomic<size_t> open{0};

  void wake() {
    uint64_t one = 1;
    ssize_t ignored = ::write(wakeFd, &one, sizeof one);
    (void)ignored;
  }

  void closeConnection(const std::shared_ptr<Connection> &connection) {
    if (connection->reading)
      ::epoll_ctl(epollFd, EPOLL_CTL_DEL, connection->fd, nullptr);
    connection->reading = false;
    ::close(connection->fd);
    connection->fd = -1;
    --open;
  }

  // An error the layer answers itself, then closes (best effort: the socket may be full).
  void answerAndClose(const std::shared_ptr<Connection> &connection, int status,
                      const std::string &message) {
    Response response;
    response.status = status;
    errorBody(status, message, response);
    Request request;
    request.path = "(unparsed)";
    // One non-blocking attempt: the loop thread never waits for a client.
    writeAll(connection->fd, headText(response, false, false) + response.body, 0);
    logger(request, status);
    connections.erase(connection->fd);
    closeConnection(connection);
  }

  void watch(const std::shared_ptr<Connection> &connection) {
    epoll_event event{};
    event.events = EPOLLIN | EPOLLRDHUP;
    event.data.fd = connection->fd;
    ::epoll_ctl(epollFd, EPOLL_CTL_ADD, connection->fd, &event);
    connection->reading = true;
    connections[connection->fd] = connection;
  }

  void dispatch(const std::shared_ptr<Connection> &connection) {
    if (connection->reading)
      ::epoll_ctl(epollFd, EPOLL_CTL_DEL, connection->fd, nullptr);
    connection->reading = false;
    connections.erase(connection->fd);
    queue(connection);
  }

  // Hands a connection whose request is complete to the workers of its kind.
  void queue(const std::shared_ptr<Connection> &connection) {
    bool light = router.isLight(connection->parser->pending());
    std::lock_guard<std::mutex> lock(mutex);
    (light ? lightWork : work).push_back(connection);
    workAvailable.notify_all();
  }

  // Handles what the parser reports after new bytes (event-loop thread).
  void advance(const std::shared_ptr<Connection> &connection, RequestParser::State state) {
    switch (state) {
    case RequestParser::State::needMore:
      return;
    case RequestParser::State::headDone:
      connection->deadline = after(limits.bodySeconds);
      // The state after the head is the request's own (it was just parsed).
      return;
    case RequestParser::State::complete:
      return dispatch(connection);
    case RequestParser::State::error:
      return answerAndClose(connection, connection->parser->errorStatus(),
                            connection->parser->errorMessage());
    }
  }

  void readable(const std::shared_ptr<Connection> &connection) {
    char buffer[65536];
    // Read at most 1 MiB per wake-up so that one fast sender cannot starve the others.
    for (int round = 0; round < 16; ++round) {
      ssize_t n = ::recv(connection->fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        if (connection->idle) {
          connection->idle = false;
          connection->deadline = after(limits.headSeconds);
        }
        RequestParser::State state = connection->parser->feed(std::string_view(buffer, size_t(n)));
        if (state == RequestParser::State::headDone && connection->parser->expectsContinue())
          writeAll(connection->fd, "HTTP/1.1 100 Continue\r\n\r\n", 0);
        advance(connection, state);
        if (state != RequestParser::State::needMore && state != RequestParser::State::headDone)
          return;
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return;
      // End of stream or an error: the client left.
      connections.erase(connection->fd);
      closeConnection(connection);
      return;
    }
  }

  void loop() {
    epoll_event events[256];
    auto nextSweep = Clock::now();
    while (!stopping.load()) {
      int n = ::epoll_wait(epollFd, events, 256, 100);
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listenFd) {
          acceptAll();
        } else if (fd == wakeFd) {
          uint64_t count;
          ssize_t ignored = ::read(wakeFd, &count, sizeof count);
          (void)ignored;
          takeReturned();
        } else if (auto it = connections.find(fd); it != connections.end()) {
          auto connection = it->second;
          readable(connection);
        }
      }
      if (Clock::now() >= nextSweep) {
        sweep();
        nextSweep = after(0.1);
      }
    }
    ::close(listenFd);
    listenFd = -1;
    for (auto &[fd, connection] : std::map<int, std::shared_ptr<Connection>>(connections))
      closeConnection(connection);
    connections.clear();
  }

  void acceptAll() {
    while (true) {
      sockaddr_storage address{};
      socklen_t length = sizeof address;
      int fd = ::accept4(listenFd, reinterpret_cast<sockaddr *>(&address), &length,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        return;  // EAGAIN, or out of descriptors: the next wake-up retries
      if (open.load() >= limits.maxConnections) {
        ::close(fd);
        continue;
      }
      ++open;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto connection = std::make_shared<Connection>();
      connection->fd = fd;
      connection->remote = peerName(address);
      connection->parser = std::make_unique<RequestParser>(limits);
      connection->deadline = after(limits.headSeconds);
      watch(connection);
    }
  }

  void takeReturned() {
    std::vector<std::shared_ptr<Connection>> back;
    {
      std::lock_guard<std::mutex> lock(mutex);
      back.swap(returned);
    }
    for (auto &connection : back) {
      connection->idle = !connection->parser->midRequest();
      connection->deadline = after(connection->idle ? limits.idleSeconds : limits.headSeconds);
      watch(connection);
    }
  }

  // Closes connections past their deadline: 408 when a request was under way.
  void sweep() {
    auto now = Clock::now();
    std::vector<std::shared_ptr<Connection>> expired;
    for (auto &[fd, connection] : connections)
      if (connection->deadline <= now)
        expired.push_back(connection);
    for (auto &connection : expired) {
      if (connection->parser->midRequest()) {
        answerAndClose(connection, 408,
                       connection->parser->inBody()
                           ? "the request body did not arrive within " +
                                 std::to_string(int(limits.bodySeconds)) + " s"
                           : "the request head did not arrive within " +
                                 std::to_string(int(limits.headSeconds)) + " s");
      } else {
        connections.erase(connection->fd);
        closeConnection(connection);
      }
    }
  }

  // --- worker threads ---

  void workerLoop(bool light) {
    std::deque<std::shared_ptr<Connection>> &mine = light ? lightWork : work;
    while (true) {
      std::shared_ptr<Connection> connection;
      {
        std::unique_lock<std::mutex> lock(mutex);
        workAvailable.wait(lock, [&] { return stopping.load() || !mine.empty(); });
        if (mine.empty())
          return;
        connection = mine.front();
        mine.pop_front();
      }
      serveConnection(connection, light);
    }
  }

  void respond(Request &request, Response &response) {
    if (filter(request, response))
      return;
    std::vector<std::string> captures;
    int status = 404;
    std::string allowed;
    const Handler *handler = router.match(request, &captures, &status, &allowed);
    if (!handler) {
      response.status = status;
      if (status == 405) {
        response.setHeader("Allow", allowed);
        errorBody(405, "method " + request.method + " is not allowed on " + request.path +
                           " (allowed: " + allowed + ")",
                  response);
      } else {
        errorBody(404, "no route " + request.method + " " + request.path, response);
      }
      return;
    }
    request.params = std::move(captures);
    (*handler)(request, response);
  }

  // Runs the requests of a connection until it must wait for bytes again, then hands it back.
  void serveConnection(const std::shared_ptr<Connection> &connection, bool light) {
    int fd = connection->fd;
    while (true) {
      if (router.isLight(connection->parser->pending()) != light)
        return queue(connection);  // a pipelined request of the other kind
      Request request = connection->parser->take();
      request.remote = connection->remote;
      request.disconnected = [fd] {
        char byte;
        ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
      };
      Response response;
      try {
        respond(request, response);
      } catch (const std::exception &e) {
        response = Response{};
        response.status = 500;
        errorBody(500, "internal error", response);
        std::fprintf(stderr, "slrun serve: internal error in %s %s: %s\n", request.method.c_str(),
                     request.path.c_str(), e.what());
      }
      bool keepAlive = request.keepAlive && !stopping.load();
      bool delivered = deliver(fd, request, response, &keepAlive);
      logger(request, response.status);
      if (!delivered && response.onAbandon)
        response.onAbandon();
      if (!delivered || !keepAlive)
        break;
      RequestParser::State state = connection->parser->resume();
      if (state == RequestParser::State::complete)
        continue;  // a pipelined request
      if (state == RequestParser::State::error) {
        Response error;
        error.status = connection->parser->errorStatus();
        errorBody(error.status, connection->parser->errorMessage(), error);
        writeAll(fd, headText(error, false, false) + error.body, limits.writeSeconds);
        break;
      }
      std::lock_guard<std::mutex> lock(mutex);
      returned.push_back(connection);
      wake();
      return;
    }
    ::close(fd);
    connection->fd = -1;
    --open;
  }

  bool deliver(int fd, const Request &request, Response &response, bool *keepAlive) {
    if (!response.stream)
      return writeAll(fd, headText(response, *keepAlive, false) + response.body,
                      limits.writeSeconds);
    bool chunked = request.minorVersion == 1;
    if (!chunked)
      *keepAlive = false;  // HTTP/1.0: the body ends with the connection
    if (!writeAll(fd, headText(response, *keepAlive, chunked), limits.writeSeconds))
      return false;
    bool alive = true;
    double writeSeconds = limits.writeSeconds;
    auto write = [&](std::string_view data) {
      if (!alive || data.empty())
        return alive;
      if (chunked) {
        char size[32];
        std::snprintf(size, sizeof size, "%zx\r\n", data.size());
        alive = writeAll(fd, std::string(size) + std::string(data) + "\r\n", writeSeconds);
      } else {
        alive = writeAll(fd, data, writeSeconds);
      }
      return alive;
    };
    response.stream(write);
    if (alive && chunked)
      alive = writeAll(fd, "0\r\n\r\n", writeSeconds);
    return alive;
  }
};

Server::Server(Limits limits, Router router, Filter filter, ErrorBody errorBody, Logger logger)
    : impl_(std::make_unique<Impl>()) {
  impl_->limits = limits;
  impl_->router = std::move(router);
  impl_->filter = std::move(filter);
  impl_->errorBody = std::move(errorBody);
  impl_->logger = std::move(logger);
}

Server::~Server() {
  stop();
  if (impl_->listenFd >= 0)
    ::close(impl_->listenFd);
  if (impl_->epollFd >= 0)
    ::close(impl_->epollFd);
  if (impl_->wakeFd >= 0)
    ::close(impl_->wakeFd);
}

Status Server::bind(const std::string &host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo *found = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return Status::error("cannot listen on " + host + ":" + service + ": " + gai_strerror(rc));
  std::string why = "no address";
  for (addrinfo *address = found; address; address = address->ai_next) {
    int fd = ::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                      address->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    // SO_REUSEADDR lets a restarted server bind past TIME_WAIT; on Linux it never lets two
    // listening sockets share a port. SO_REUSEPORT would, and is deliberately not set.
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, address->ai_addr, address->ai_addrlen) == 0 && ::listen(fd, 511) == 0) {
      sockaddr_storage bound{};
      socklen_t length = sizeof bound;
      ::getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &length);
      port_ = ntohs(bound.ss_family == AF_INET6
                        ? reinterpret_cast<sockaddr_in6 &>(bound).sin6_port
                        : reinterpret_cast<sockaddr_in &>(bound).sin_port);
      impl_->listenFd = fd;
      ::freeaddrinfo(found);
      return Status::success();
    }
    why = errno == EADDRINUSE ? "the port is in use (is another server running there?)"
                              : std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(found);
  return Status::error("cannot listen on " + host + ":" + service + ": " + why);
}

void Server::serve() {
  Impl &impl = *impl_;
  // Each connection needs a descriptor: allow as many as the hard limit.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  impl.epollFd = ::epoll_create1(EPOLL_CLOEXEC);
  impl.wakeFd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  for (int fd : {impl.listenFd, impl.wakeFd}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = fd;
    ::epoll_ctl(impl.epollFd, EPOLL_CTL_ADD, fd, &event);
  }
  for (size_t i = 0; i < impl.limits.workers; ++i)
    impl.workers.emplace_back([&impl] { impl.workerLoop(/*light=*/false); });
  for (int i = 0; i < 2; ++i)
    impl.workers.emplace_back([&impl] { impl.workerLoop(/*light=*/true); });
  running_ = true;
  impl.loop();
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    impl.workAvailable.notify_all();
  }
  for (std::thread &worker : impl.workers)
    worker.join();
  impl.workers.clear();
  for (auto *queue : {&impl.work, &impl.lightWork}) {
    for (auto &connection : *queue)
      ::close(connection->fd);
    queue->clear();
  }
  for (auto &connection : impl.returned)
    ::close(connection->fd);
  impl.returned.clear();
  running_ = false;
}

void Server::stop() {
  if (!impl_->stopping.exchange(true) && impl_->wakeFd >= 0)
    impl_->wake();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->workAvailable.notify_all();
}

}  // namespace sl::server::http
