#include "runtime/server/Http.h"

#include <gtest/gtest.h>

#include <string>

namespace sl::server::http {
namespace {

using State = RequestParser::State;

TEST(HttpParserTest, ParsesARequestWithContentLength) {
  Limits limits;
  RequestParser parser(limits);
  std::string text = "POST /v1/completions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                     "Authorization: Bearer k\r\n\r\nhello";
  ASSERT_EQ(parser.feed(text), State::complete);
  Request request = parser.take();
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.path, "/v1/completions");
  EXPECT_EQ(request.query, "x=1");
  EXPECT_EQ(request.body, "hello");
  EXPECT_EQ(request.header("authorization"), "Bearer k");
  EXPECT_TRUE(request.keepAlive);
  EXPECT_FALSE(parser.midRequest());
}

TEST(HttpParserTest, ByteByByteEqualsAtOnce) {
  Limits limits;
  RequestParser parser(limits);
  std::string text = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n";
  State state = State::needMore;
  bool sawHead = false;
  for (size_t i = 0; i < text.size(); ++i) {
    state = parser.feed(text.substr(i, 1));
    sawHead |= state == State::headDone;
    if (i + 1 < text.size())
      ASSERT_NE(state, State::complete) << i;
    ASSERT_NE(state, State::error) << parser.errorMessage();
  }
  EXPECT_TRUE(sawHead);
  ASSERT_EQ(state, State::complete);
  EXPECT_EQ(parser.take().body, "abcde");
}

TEST(HttpParserTest, PipelinedRequestsComeOneByOne) {
  Limits limits;
  RequestParser parser(limits);
  std::string text = "GET /health HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
                     "GET /c HTTP/1.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(parser.feed(text), State::complete);
  EXPECT_EQ(parser.take().path, "/health");
  ASSERT_EQ(parser.resume(), State::complete);
  Request second = parser.take();
  EXPECT_EQ(second.path, "/b");
  EXPECT_EQ(second.body, "hi");
  ASSERT_EQ(parser.resume(), State::complete);
  Request third = parser.take();
  EXPECT_EQ(third.path, "/c");
  EXPECT_FALSE(third.keepAlive);
  EXPECT_EQ(parser.resume(), State::needMore);
}

TEST(HttpParserTest, BodyLimitAppliesToEveryEncoding) {
  Limits limits;
  limits.maxBodyBytes = 10;
  {
    RequestParser parser(limits);
    EXPECT_EQ(parser.feed("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n"), State::error);
    EXPECT_EQ(parser.errorStatus(), 413);
  }
  {
    // Chunks that add up past the limit: refused at the chunk that crosses it, before its data.
    RequestParser parser(limits);
    EXPECT_EQ(parser.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n"),
              State::headDone);
    EXPECT_EQ(parser.feed("5\r\n"), State::error);
    EXPECT_EQ(parser.errorStatus(), 413);
  }
  {
    // A chunk size that overflows 64 bits.
    RequestParser parser(limits);
    EXPECT_EQ(parser.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "ffffffffffffffffffff1\r\n"),
              State::error);
    EXPECT_EQ(parser.errorStatus(), 413);
  }
}

TEST(HttpParserTest, RejectsMalformedAndAmbiguousHeads) {
  Limits limits;
  limits.maxHeadBytes = 256;
  limits.maxHeaders = 4;
  struct Case {
    std::string text;
    int status;
  } cases[] = {
      {"GET /\r\n\r\n", 400},
      {"GET  / HTTP/1.1\r\n\r\n", 400},
      {"GET http://x/ HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / HTTP/1.1\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", 431},
      {"GET / HTTP/1.1\r\nX: " + std::string(300, 'a') + "\r\n\r\n", 431},
      {"GET / HTTP/1.1\r\nX: " + std::string(300, 'a'), 431},  // no end of head in sight
  };
  for (const Case &c : cases) {
    RequestParser parser(limits);
    EXPECT_EQ(parser.feed(c.text), State::error) << c.text;
    EXPECT_EQ(parser.errorStatus(), c.status) << c.text << ": " << parser.errorMessage();
    EXPECT_FALSE(parser.errorMessage().empty());
  }
}

TEST(HttpParserTest, ConnectionSemantics) {
  Limits limits;
  RequestParser parser(limits);
  ASSERT_EQ(parser.feed("GET / HTTP/1.0\r\n\r\n"), State::complete);
  EXPECT_FALSE(parser.take().keepAlive);
  ASSERT_EQ(parser.feed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"), State::complete);
  EXPECT_TRUE(parser.take().keepAlive);
  ASSERT_EQ(parser.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"),
            State::headDone);
  EXPECT_TRUE(parser.expectsContinue());
  ASSERT_EQ(parser.feed("ok"), State::complete);
  EXPECT_EQ(parser.take().body, "ok");
}

TEST(HttpRouterTest, MatchesSegmentsAndAnswers405) {
  Router router;
  int hits = 0;
  router.add("GET", "/v1/sessions/*", [&](const Request &, Response &) { ++hits; });
  router.add("DELETE", "/v1/sessions/*", [&](const Request &, Response &) {});
  router.add("GET", "/v1/models/**", [&](const Request &, Response &) {});
  Request request;
  std::vector<std::string> captures;
  int status = 0;
  std::string allowed;
  request.method = "GET";
  request.path = "/v1/sessions/abc";
  ASSERT_NE(router.match(request, &captures, &status, &allowed), nullptr);
  EXPECT_EQ(captures, std::vector<std::string>{"abc"});
  request.method = "POST";
  EXPECT_EQ(router.match(request, &captures, &status, &allowed), nullptr);
  EXPECT_EQ(status, 405);
  EXPECT_EQ(allowed, "GET, DELETE");
  request.path = "/v1/sessions/";
  EXPECT_EQ(router.match(request, &captures, &status, &allowed), nullptr);
  EXPECT_EQ(status, 404);
  request.method = "GET";
  request.path = "/v1/models/org/name";
  ASSERT_NE(router.match(request, &captures, &status, &allowed), nullptr);
  EXPECT_EQ(captures, std::vector<std::string>{"org/name"});
}

TEST(HttpTest, ConstantTimeEquals) {
  EXPECT_TRUE(constantTimeEquals("Bearer abc", "Bearer abc"));
  EXPECT_FALSE(constantTimeEquals("Bearer abc", "Bearer abd"));
  EXPECT_FALSE(constantTimeEquals("Bearer abc", "Bearer ab"));
  EXPECT_FALSE(constantTimeEquals("", "x"));
  EXPECT_TRUE(constantTimeEquals("", ""));
}

}  // namespace
}  // namespace sl::server::http
