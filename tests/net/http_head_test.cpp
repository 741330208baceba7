// http_head_test.cpp — the request scanning that examples/http_server.cpp, its
// thread-per-connection twin and the http benchmark's epoll ceiling share
// (examples/http_head.h): pipelined heads answered in order, bodies skipped across
// reads, incomplete heads kept, "Connection: close", HTTP/1.0 and malformed requests
// ending the connection.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "../../examples/http_head.h"

namespace {

using namespace http_head;

TEST(HttpHead, PipelinedHeadsAreAllAnswered) {
  std::string in =
      "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\n\r\nGET /y HTTP/1.1\r\n\r\n";
  std::size_t skip = 0;
  Scan s = scan_heads(in, skip);
  EXPECT_EQ(s.ok, 3u);
  EXPECT_EQ(s.used, in.size());
  EXPECT_TRUE(s.last.empty());
  EXPECT_EQ(skip, 0u);
}

TEST(HttpHead, AnIncompleteHeadIsKeptForTheNextRead) {
  std::string first = "GET / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\nHo";
  std::size_t skip = 0;
  Scan s = scan_heads(first, skip);
  EXPECT_EQ(s.ok, 1u);
  EXPECT_EQ(s.used, std::string_view("GET / HTTP/1.1\r\n\r\n").size());
  std::string rest = first.substr(s.used) + "st: a\r\n\r\n";
  s = scan_heads(rest, skip);
  EXPECT_EQ(s.ok, 1u);
  EXPECT_EQ(s.used, rest.size());
}

TEST(HttpHead, ABodyIsSkippedEvenAcrossReads) {
  std::string in = "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello";
  std::size_t skip = 0;
  Scan s = scan_heads(in, skip);
  EXPECT_EQ(s.ok, 1u);
  EXPECT_EQ(s.used, in.size());
  EXPECT_EQ(skip, 5u);  // five body bytes still to come
  std::string next = "worldGET / HTTP/1.1\r\n\r\n";
  s = scan_heads(next, skip);
  EXPECT_EQ(skip, 0u);
  EXPECT_EQ(s.ok, 1u);  // "world" was body, not a request
  EXPECT_EQ(s.used, next.size());
}

TEST(HttpHead, ConnectionCloseIsTheLastAnswer) {
  std::string in =
      "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\nGET / "
      "HTTP/1.1\r\n\r\n";
  std::size_t skip = 0;
  Scan s = scan_heads(in, skip);
  EXPECT_EQ(s.ok, 1u);  // the one before; nothing after the closing request
  EXPECT_EQ(s.last, kOkClose);
}

TEST(HttpHead, Http10ClosesUnlessKeptAlive) {
  std::size_t skip = 0;
  EXPECT_EQ(scan_heads("GET / HTTP/1.0\r\n\r\n", skip).last, kOkClose);
  Scan s = scan_heads("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", skip);
  EXPECT_EQ(s.ok, 1u);
  EXPECT_TRUE(s.last.empty());
}

TEST(HttpHead, MalformedRequestsGet400AndTheEnd) {
  std::size_t skip = 0;
  Scan s = scan_heads("GET / HTTP/1.1\r\n\r\nGARBAGE\r\n\r\n", skip);
  EXPECT_EQ(s.ok, 1u);
  EXPECT_EQ(s.last, kBadRequest);
  s = scan_heads("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", skip);
  EXPECT_EQ(s.ok, 0u);
  EXPECT_EQ(s.last, kBadRequest);
}

TEST(HttpHead, AChunkedBodyIsAnsweredThenTheConnectionCloses) {
  std::size_t skip = 0;
  Scan s = scan_heads("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", skip);
  EXPECT_EQ(s.ok, 0u);
  EXPECT_EQ(s.last, kOkClose);
}

TEST(HttpHead, StrayLineBreaksBetweenRequestsAreIgnored) {
  std::string in = "GET / HTTP/1.1\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n";
  std::size_t skip = 0;
  Scan s = scan_heads(in, skip);
  EXPECT_EQ(s.ok, 2u);
  EXPECT_EQ(s.used, in.size());
}

}  // namespace
