// Unit tests of the gateway's fast-path head scanner (gateway/http_scan.h): what it accepts, and that anything
// odd goes to the slow path (Beast's parser) instead.
#include <gtest/gtest.h>

#include <string>

#include "gateway/http_scan.h"

namespace inferd::gateway {
namespace {

bool Request(const std::string& head, RequestHead* h) {
  size_t end = FindHeadEnd(head.data(), head.size(), 0);
  return end == head.size() && ParseRequestHead(head.data(), end, h);
}

bool Response(const std::string& head, unsigned* status = nullptr, uint64_t* length = nullptr) {
  unsigned s = 0;
  uint64_t l = 0;
  size_t end = FindHeadEnd(head.data(), head.size(), 0);
  bool ok = end == head.size() && ParseResponseHead(head.data(), end, &s, &l);
  if (status) *status = s;
  if (length) *length = l;
  return ok;
}

TEST(HttpScanTest, FastPathRequest) {
  RequestHead h;
  std::string head = "POST /v2/models/m/infer HTTP/1.1\r\nHost:  gw \r\nAuthorization: Bearer t\r\n"
                     "Content-Length: 12\r\n\r\n";
  ASSERT_TRUE(Request(head, &h));
  EXPECT_EQ(head.substr(h.target_off, h.target_len), "/v2/models/m/infer");
  EXPECT_EQ(head.substr(h.host_off, h.host_len), "gw");
  EXPECT_EQ(head.substr(h.auth_off, h.auth_len), "Bearer t");
  EXPECT_EQ(h.content_length, 12u);
}

TEST(HttpScanTest, OddRequestsTakeTheSlowPath) {
  RequestHead h;
  for (const char* head : {
           "GET / HTTP/1.0\r\nHost: a\r\n\r\n",                                  // not HTTP/1.1
           "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",                                 // no body in the answer
           "GET / HTTP/1.1\r\n\r\n",                                             // no Host
           "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",                       // two Hosts
           "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",                        // obs-fold
           "GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n",                             // bare LF
           "GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n",                             // bare CR
           "GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n",                             // control byte in the target
       }) {
    EXPECT_FALSE(Request(head, &h)) << head;
  }
}

TEST(HttpScanTest, Responses) {
  unsigned status = 0;
  uint64_t length = 0;
  ASSERT_TRUE(Response("HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n", &status, &length));
  EXPECT_EQ(status, 200u);
  EXPECT_EQ(length, 17u);
  EXPECT_TRUE(Response("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n"));
  EXPECT_FALSE(Response("HTTP/1.1 200 OK\r\n\r\n"));                               // no Content-Length
  EXPECT_FALSE(Response("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"));  // no body by definition
  EXPECT_FALSE(Response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n"));
  EXPECT_FALSE(Response("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n"));
}

// Found by fuzz/http_scan_fuzz: a bare CR (or another control byte) in the reason phrase was relayed as is,
// though Beast (and clients that take a CR for a line ending) read that status line differently.
TEST(HttpScanTest, ReasonPhraseHoldsFieldTextOnly) {
  EXPECT_FALSE(Response("HTTP/1.1 200 OK\rlication/json\r\nContent-Length: 17\r\n\r\n"));
  EXPECT_FALSE(Response(std::string("HTTP/1.1 200 O\0K\r\nContent-Length: 1\r\n\r\n", 38)));
  EXPECT_FALSE(Response("HTTP/1.1 200\rX\r\nContent-Length: 1\r\n\r\n"));
  EXPECT_TRUE(Response("HTTP/1.1 200 All\tgood \xc3\xa9\r\nContent-Length: 1\r\n\r\n"));
}

}  // namespace
}  // namespace inferd::gateway
