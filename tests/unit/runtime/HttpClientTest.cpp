// The HTTP/1.1 client of slrun niah --url (runtime/io/HttpClient.h): URLs, response parsing
// (lengths, chunks, truncation), and its errors against real sockets: connection refused, a
// server that never answers, and a complete exchange with a one-shot server thread.
#include "runtime/io/HttpClient.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace sl::io {
namespace {

TEST(HttpClientTest, Urls) {
  auto url = parseHttpUrl("http://127.0.0.1:8080/base/");
  ASSERT_TRUE(url) << url.status().message();
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 8080);
  EXPECT_EQ(url->path, "/base");
  auto plain = parseHttpUrl("http://example.org");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->port, 80);
  EXPECT_EQ(plain->path, "");
  auto v6 = parseHttpUrl("http://[::1]:9000");
  ASSERT_TRUE(v6) << v6.status().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9000);
  auto https = parseHttpUrl("https://api.example.org");
  ASSERT_FALSE(https);
  EXPECT_NE(https.status().message().find("https is not supported"), std::string::npos);
  for (const char *bad : {"ftp://x", "127.0.0.1:80", "http://", "http://h:0", "http://h:70000",
                          "http://h:x", "http://[::1", "http://u@h", "http://h/a?b"})
    EXPECT_FALSE(parseHttpUrl(bad)) << bad;
}

TEST(HttpClientTest, ParsesResponses) {
  HttpResponse response;
  bool complete = false;
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\n";
  ASSERT_TRUE(parseHttpResponse(head + "hel", false, &response, &complete));
  EXPECT_FALSE(complete);
  ASSERT_TRUE(parseHttpResponse(head + "hello", false, &response, &complete));
  ASSERT_TRUE(complete);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "hello");
  EXPECT_EQ(response.header("x-a"), "b");
  // Chunked, with an extension and a trailer.
  const std::string chunked = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n";
  ASSERT_TRUE(parseHttpResponse(chunked.substr(0, chunked.size() - 2), false, &response,
                                &complete));
  EXPECT_FALSE(complete);
  ASSERT_TRUE(parseHttpResponse(chunked, false, &response, &complete));
  ASSERT_TRUE(complete);
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.body, "abcde");
  // No length: the body ends with the connection.
  ASSERT_TRUE(parseHttpResponse("HTTP/1.0 200 OK\r\n\r\nuntil close", true, &response, &complete));
  ASSERT_TRUE(complete);
  EXPECT_EQ(response.body, "until close");
  // Malformed or cut short.
  EXPECT_FALSE(parseHttpResponse("SMTP ready\r\n\r\n", false, &response, &complete));
  EXPECT_FALSE(parseHttpResponse("", true, &response, &complete));
  EXPECT_FALSE(parseHttpResponse(head + "he", true, &response, &complete));
  EXPECT_FALSE(parseHttpResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                                 false, &response, &complete));
}

// A listening socket on a free loopback port.
struct Listener {
  int fd = -1, port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr *>(&address), size) != 0 || ::listen(fd, 4) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr *>(&address), &size) != 0)
      return;
    port = ntohs(address.sin_port);
  }
  ~Listener() {
    if (fd >= 0)
      ::close(fd);
  }
};

HttpUrl loopback(int port) {
  auto url = parseHttpUrl("http://127.0.0.1:" + std::to_string(port));
  return url ? *url : HttpUrl{};
}

TEST(HttpClientTest, ConnectionRefused) {
  int port;
  {
    Listener listener;  // a port that was free a moment ago, closed again
    ASSERT_GT(listener.port, 0);
    port = listener.port;
  }
  auto response = httpRequest(loopback(port), "POST", "/v1/chat/completions", {}, "{}");
  ASSERT_FALSE(response);
  EXPECT_NE(response.status().message().find("POST http://127.0.0.1:" + std::to_string(port) +
                                             "/v1/chat/completions: cannot connect to "
                                             "127.0.0.1:" + std::to_string(port) +
                                             " (Connection refused)"),
            std::string::npos)
      << response.status().message();
}

TEST(HttpClientTest, SilentServerTimesOut) {
  Listener listener;  // accepts connections (the backlog), never answers
  ASSERT_GT(listener.port, 0);
  HttpOptions options;
  options.idleSeconds = 0.3;
  auto response = httpRequest(loopback(listener.port), "GET", "/health", {}, "", options);
  ASSERT_FALSE(response);
  EXPECT_NE(response.status().message().find("timed out waiting for the answer"),
            std::string::npos)
      << response.status().message();
}

TEST(HttpClientTest, OneExchange) {
  Listener listener;
  ASSERT_GT(listener.port, 0);
  std::string request;
  std::thread server([&] {
    int client = ::accept(listener.fd, nullptr, nullptr);
    if (client < 0)
      return;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos || request.find("{\"a\":1}") == std::string::npos) {
      ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
      if (n <= 0)
        break;
      request.append(buffer, size_t(n));
    }
    const std::string answer = "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n4\r\n{\"e\"\r\n3\r\n:1}\r\n0\r\n\r\n";
    ::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
    ::close(client);
  });
  auto response = httpRequest(loopback(listener.port), "POST", "/v1/x",
                              {{"Authorization", "Bearer k"}}, "{\"a\":1}");
  server.join();
  ASSERT_TRUE(response) << response.status().message();
  EXPECT_EQ(response->status, 401);
  EXPECT_EQ(response->body, "{\"e\":1}");
  EXPECT_EQ(request.rfind("POST /v1/x HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("\r\nAuthorization: Bearer k\r\n"), std::string::npos);
  EXPECT_NE(request.find("\r\nContent-Length: 7\r\n"), std::string::npos);
  EXPECT_NE(request.find("\r\nConnection: close\r\n"), std::string::npos);
}

}  // namespace
}  // namespace sl::io
