// A small HTTP/1.1 client over POSIX sockets (http:// only): one request per connection
// ("Connection: close"), a deadline for connecting and one for the silence between two reads,
// bodies by Content-Length, chunked transfer encoding or the end of the connection, and a bound
// on the response size. Errors name the URL and what failed (refused, timed out, malformed).
#pragma once

#include "runtime/support/Status.h"

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace sl::io {

struct HttpUrl {
  std::string host;  // without brackets for IPv6 literals
  int port = 80;
  std::string path;  // the base path, no trailing '/' ("" for the root)
  std::string text;  // as given, for messages
};

// http://HOST[:PORT][/PATH]; https:// and other schemes are errors that say so.
StatusOr<HttpUrl> parseHttpUrl(const std::string &url);

struct HttpResponse {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::string body;
  std::string header(const std::string &lowerName) const;
};

struct HttpOptions {
  double connectSeconds = 10;    // to open the connection
  double idleSeconds = 600;      // without a byte sent or received
  size_t maxResponseBytes = size_t(64) << 20;
};

// `method` `url.path + path` with `headers` (Host, Content-Length and Connection are added) and
// `body`; the whole response. A non-2xx status is a response, not an error.
StatusOr<HttpResponse> httpRequest(const HttpUrl &url, const std::string &method,
                                   const std::string &path,
                                   const std::vector<std::pair<std::string, std::string>> &headers,
                                   const std::string &body, const HttpOptions &options = {});

// Parses a complete response (status line, headers, body); `complete` tells whether the bytes
// hold all of it (false: more must be read; an error: malformed). `ended`: the connection closed
// after these bytes (a body without length then ends there).
Status parseHttpResponse(const std::string &bytes, bool ended, HttpResponse *out, bool *complete);

}  // namespace sl::io
