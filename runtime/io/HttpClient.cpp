#include "runtime/io/HttpClient.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sl::io {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return text;
}

std::string trim(const std::string &text) {
  size_t begin = text.find_first_not_of(" \t"), end = text.find_last_not_of(" \t");
  return begin == std::string::npos ? "" : text.substr(begin, end - begin + 1);
}

// A closed-on-destruction socket.
struct Socket {
  int fd = -1;
  ~Socket() {
    if (fd >= 0)
      ::close(fd);
  }
};

int remainingMs(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - std::chrono::steady_clock::now())
                  .count();
  return int(std::clamp<long long>(left, 0, INT32_MAX));
}

std::chrono::steady_clock::time_point after(double seconds) {
  return std::chrono::steady_clock::now() +
         std::chrono::milliseconds(int64_t(std::max(seconds, 0.0) * 1000));
}

// Connects to one resolved address within the deadline; errno-style code on failure.
int connectTo(const addrinfo &address, std::chrono::steady_clock::time_point deadline, int *fd) {
  *fd = ::socket(address.ai_family, address.ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                 address.ai_protocol);
  if (*fd < 0)
    return errno;
  if (::connect(*fd, address.ai_addr, address.ai_addrlen) == 0)
    return 0;
  if (errno != EINPROGRESS)
    return errno;
  pollfd p{*fd, POLLOUT, 0};
  int ready;
  do
    ready = ::poll(&p, 1, remainingMs(deadline));
  while (ready < 0 && errno == EINTR);
  if (ready == 0)
    return ETIMEDOUT;
  int error = 0;
  socklen_t size = sizeof error;
  if (ready < 0 || ::getsockopt(*fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0)
    return errno;
  return error;
}

// Decodes a chunked body starting at `at`; `*complete` false when more bytes are needed.
Status dechunk(const std::string &bytes, size_t at, std::string *body, bool *complete) {
  body->clear();
  *complete = false;
  while (true) {
    size_t lineEnd = bytes.find("\r\n", at);
    if (lineEnd == std::string::npos)
      return Status::success();
    std::string sizeText = bytes.substr(at, lineEnd - at);
    sizeText = trim(sizeText.substr(0, sizeText.find(';')));
    char *end = nullptr;
    errno = 0;
    unsigned long long size = std::strtoull(sizeText.c_str(), &end, 16);
    if (sizeText.empty() || *end || errno || size > (uint64_t(1) << 40))
      return Status::error("a malformed chunk size '" + sizeText + "'");
    at = lineEnd + 2;
    if (size == 0) {
      // Trailers end with an empty line.
      size_t trailerEnd = bytes.find("\r\n", at);
      while (trailerEnd != std::string::npos && trailerEnd != at) {
        at = trailerEnd + 2;
        trailerEnd = bytes.find("\r\n", at);
      }
      *complete = trailerEnd != std::string::npos;
      return Status::success();
    }
    if (bytes.size() < at + size + 2)
      return Status::success();
    body->append(bytes, at, size);
    if (bytes.compare(at + size, 2, "\r\n") != 0)
      return Status::error("a chunk not followed by CRLF");
    at += size + 2;
  }
}

}  // namespace

std::string HttpResponse::header(const std::string &lowerName) const {
  for (const auto &[name, value] : headers)
    if (name == lowerName)
      return value;
  return "";
}

StatusOr<HttpUrl> parseHttpUrl(const std::string &url) {
  HttpUrl out;
  out.text = url;
  const std::string scheme = lower(url.substr(0, url.find("://") == std::string::npos
                                                     ? 0
                                                     : url.find("://")));
  if (scheme == "https")
    return Status::error("--url " + url + ": https is not supported (an http:// URL only; put a "
                                          "TLS proxy in front of the server if it needs one)");
  if (scheme != "http")
    return Status::error("--url " + url + ": expected http://HOST[:PORT][/PATH]");
  std::string rest = url.substr(7);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!out.path.empty() && out.path.back() == '/')
    out.path.pop_back();
  if (authority.find('@') != std::string::npos)
    return Status::error("--url " + url + ": user information in the URL is not supported "
                                          "(use --api-key)");
  std::string port;
  bool hasPort = false;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos)
      return Status::error("--url " + url + ": an IPv6 address without its closing ']'");
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':')
        return Status::error("--url " + url + ": expected ':PORT' after the IPv6 address");
      port = authority.substr(close + 2);
      hasPort = true;
    }
  } else {
    size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port = authority.substr(colon + 1);
      hasPort = true;
    }
  }
  if (out.host.empty())
    return Status::error("--url " + url + ": no host");
  if (hasPort) {
    char *end = nullptr;
    long value = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end || value < 1 || value > 65535)
      return Status::error("--url " + url + ": the port must be a number in [1, 65535]");
    out.port = int(value);
  }
  if (out.path.find_first_of("?# ") != std::string::npos)
    return Status::error("--url " + url + ": expected a base URL without query or fragment");
  return out;
}

Status parseHttpResponse(const std::string &bytes, bool ended, HttpResponse *out, bool *complete) {
  *complete = false;
  size_t headEnd = bytes.find("\r\n\r\n");
  if (headEnd == std::string::npos) {
    if (ended)
      return Status::error(bytes.empty() ? "the server closed the connection without answering"
                                         : "the answer ended inside its header");
    return Status::success();
  }
  const std::string head = bytes.substr(0, headEnd);
  size_t lineEnd = head.find("\r\n");
  const std::string statusLine = head.substr(0, lineEnd);
  // "HTTP/1.x SSS reason"
  if (statusLine.rfind("HTTP/1.", 0) != 0 || statusLine.size() < 12 || statusLine[8] != ' ' ||
      !std::isdigit(uint8_t(statusLine[9])) || !std::isdigit(uint8_t(statusLine[10])) ||
      !std::isdigit(uint8_t(statusLine[11])))
    return Status::error("not an HTTP/1.x answer: '" + statusLine.substr(0, 80) + "'");
  HttpResponse response;
  response.status = std::stoi(statusLine.substr(9, 3));
  response.reason = statusLine.size() > 13 ? statusLine.substr(13) : "";
  for (size_t at = lineEnd == std::string::npos ? head.size() : lineEnd + 2; at < head.size();) {
    size_t next = head.find("\r\n", at);
    if (next == std::string::npos)
      next = head.size();
    std::string line = head.substr(at, next - at);
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0)
      return Status::error("a malformed header line '" + line.substr(0, 80) + "'");
    response.headers.emplace_back(lower(trim(line.substr(0, colon))), trim(line.substr(colon + 1)));
    at = next + 2;
  }
  const size_t bodyAt = headEnd + 4;
  if (lower(response.header("transfer-encoding")).find("chunked") != std::string::npos) {
    if (Status status = dechunk(bytes, bodyAt, &response.body, complete); !status)
      return status;
    if (!*complete && ended)
      return Status::error("the connection closed inside a chunked body");
  } else if (std::string length = response.header("content-length"); !length.empty()) {
    char *end = nullptr;
    errno = 0;
    unsigned long long size = std::strtoull(length.c_str(), &end, 10);
    if (length.find_first_not_of("0123456789") != std::string::npos || *end || errno)
      return Status::error("a malformed Content-Length '" + length + "'");
    if (bytes.size() - bodyAt >= size) {
      response.body = bytes.substr(bodyAt, size);
      *complete = true;
    } else if (ended) {
      return Status::error("the connection closed after " + std::to_string(bytes.size() - bodyAt) +
                           " of " + length + " body bytes");
    }
  } else if (response.status == 204 || response.status == 304) {
    *complete = true;
  } else if (ended) {
    response.body = bytes.substr(bodyAt);
    *complete = true;
  }
  if (*complete)
    *out = std::move(response);
  return Status::success();
}

StatusOr<HttpResponse> httpRequest(const HttpUrl &url, const std::string &method,
                                   const std::string &path,
                                   const std::vector<std::pair<std::string, std::string>> &headers,
                                   const std::string &body, const HttpOptions &options) {
  const std::string target = url.path + path;
  const std::string where = method + " http://" +
                            (url.host.find(':') != std::string::npos ? "[" + url.host + "]"
                                                                     : url.host) +
                            ":" + std::to_string(url.port) + target;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo *found = nullptr;
  const std::string port = std::to_string(url.port);
  if (int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return Status::error(where + ": cannot resolve " + url.host + " (" + gai_strerror(rc) + ")");
  Socket socket;
  int error = 0;
  const auto connectDeadline = after(options.connectSeconds);
  for (addrinfo *address = found; address; address = address->ai_next) {
    if (socket.fd >= 0)
      ::close(socket.fd);
    error = connectTo(*address, connectDeadline, &socket.fd);
    if (error == 0)
      break;
  }
  ::freeaddrinfo(found);
  if (error != 0)
    return Status::error(where + ": cannot connect to " + url.host + ":" + port + " (" +
                         (error == ETIMEDOUT ? "no answer in " +
                                                   std::to_string(int(options.connectSeconds)) +
                                                   " s"
                                             : std::string(std::strerror(error))) +
                         ")");

  std::string request = method + " " + (target.empty() ? "/" : target) + " HTTP/1.1\r\n";
  request += "Host: " +
             (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host) + ":" +
             port + "\r\n";
  for (const auto &[name, value] : headers)
    request += name + ": " + value + "\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  request += body;

  // Waits until the socket is ready for `events`, at most the idle deadline.
  auto wait = [&](short events, const char *doing) -> Status {
    pollfd p{socket.fd, events, 0};
    int ready;
    do
      ready = ::poll(&p, 1, remainingMs(after(options.idleSeconds)));
    while (ready < 0 && errno == EINTR);
    if (ready == 0)
      return Status::error(where + ": timed out " + doing + " (nothing for " +
                           std::to_string(int(options.idleSeconds)) + " s)");
    if (ready < 0)
      return Status::error(where + ": " + doing + ": " + std::strerror(errno));
    return Status::success();
  };
  for (size_t sent = 0; sent < request.size();) {
    if (Status status = wait(POLLOUT, "sending the request"); !status)
      return status;
    ssize_t n = ::send(socket.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
      return Status::error(where + ": sending the request: " + std::strerror(errno));
    if (n > 0)
      sent += size_t(n);
  }
  std::string received;
  HttpResponse response;
  while (true) {
    if (Status status = wait(POLLIN, "waiting for the answer"); !status)
      return status;
    char buffer[65536];
    ssize_t n = ::recv(socket.fd, buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
      continue;
    if (n < 0)
      return Status::error(where + ": reading the answer: " + std::strerror(errno));
    received.append(buffer, size_t(n));
    if (received.size() > options.maxResponseBytes)
      return Status::error(where + ": the answer is larger than " +
                           std::to_string(options.maxResponseBytes) + " bytes");
    bool complete = false;
    if (Status status = parseHttpResponse(received, n == 0, &response, &complete); !status)
      return Status::error(where + ": " + status.message());
    if (complete)
      return response;
  }
}

}  // namespace sl::io
