// net/http_client.h against a real local server (a thread that reads one request and sends a canned answer):
// the body is streamed with the status and the declared length, a request body is sent, the callback can stop
// the transfer, and transport failures are told apart from answers.
#include "net/http_client.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <string>
#include <thread>

namespace inferd::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// Accepts one connection, reads its head (and Content-Length bytes of body), answers `answer`, closes.
class OneShotServer {
 public:
  explicit OneShotServer(std::string answer) : acc_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this, answer = std::move(answer)] {
      boost::system::error_code ec;
      tcp::socket s = acc_.accept(ec);
      if (ec) return;
      std::string in;
      size_t head = asio::read_until(s, asio::dynamic_buffer(in), "\r\n\r\n", ec);
      if (ec) return;
      size_t cl = 0;
      if (auto p = in.find("Content-Length: "); p != std::string::npos && p < head) cl = std::stoul(in.substr(p + 16));
      while (in.size() < head + cl && !ec) {
        char buf[4096];
        size_t n = s.read_some(asio::buffer(buf), ec);
        in.append(buf, n);
      }
      request = in;
      asio::write(s, asio::buffer(answer), ec);
      s.shutdown(tcp::socket::shutdown_both, ec);
    });
  }
  ~OneShotServer() {
    boost::system::error_code ec;
    acc_.close(ec);
    if (thread_.joinable()) thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(acc_.local_endpoint().port()) + path;
  }
  void Join() { thread_.join(); }
  std::string request;

 private:
  asio::io_context io_;
  tcp::acceptor acc_;
  std::thread thread_;
};

TEST(HttpClientTest, StreamsTheBodyWithStatusAndLength) {
  OneShotServer server("HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope!");
  std::string body;
  ResponseHead seen;
  ClientRequest req;
  req.url = server.url("/x?y=1");
  req.headers = {"X-Test: 1"};
  ClientResult r = Fetch(req, [&](std::string_view data, const ResponseHead& head) {
    body.append(data);
    seen = head;
    return true;
  });
  server.Join();
  EXPECT_EQ(r.transport, Transport::kOk) << r.error;
  EXPECT_EQ(r.status, 404);  // an answer, whatever its status
  EXPECT_EQ(body, "nope!");
  EXPECT_EQ(seen.status, 404);
  EXPECT_EQ(seen.content_length, 5);
  EXPECT_TRUE(server.request.starts_with("GET /x?y=1 HTTP/1.1\r\n")) << server.request;
  EXPECT_NE(server.request.find("X-Test: 1"), std::string::npos) << server.request;
}

TEST(HttpClientTest, SendsTheBodyWithItsMethod) {
  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  ClientRequest req;
  req.method = "PATCH";
  req.url = server.url("/obj");
  req.body = "{\"a\":1}";
  ClientResult r = Fetch(req, [](std::string_view, const ResponseHead&) { return true; });
  server.Join();
  EXPECT_EQ(r.transport, Transport::kOk) << r.error;
  EXPECT_TRUE(server.request.starts_with("PATCH /obj HTTP/1.1\r\n")) << server.request;
  EXPECT_TRUE(server.request.ends_with("\r\n\r\n{\"a\":1}")) << server.request;
}

TEST(HttpClientTest, TheCallbackCanStopTheTransfer) {
  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n0123456789");
  ClientRequest req;
  req.url = server.url("/");
  ClientResult r = Fetch(req, [](std::string_view, const ResponseHead&) { return false; });
  server.Join();
  EXPECT_EQ(r.transport, Transport::kAborted);
  EXPECT_EQ(r.status, 200);
}

TEST(HttpClientTest, TransportFailuresAreNotAnswers) {
  auto none = [](std::string_view, const ResponseHead&) { return true; };
  ClientRequest bad;
  bad.url = "ftp://127.0.0.1/x";  // only http and https
  EXPECT_EQ(Fetch(bad, none).transport, Transport::kBadRequest);
  bad.url = "http://[::1";
  EXPECT_EQ(Fetch(bad, none).transport, Transport::kBadRequest);
  // A port nobody listens on (bound and closed again): no connection.
  std::string url;
  {
    asio::io_context io;
    tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    url = "http://127.0.0.1:" + std::to_string(acc.local_endpoint().port()) + "/";
  }
  ClientRequest refused;
  refused.url = url;
  refused.connect_timeout_s = 5;
  ClientResult r = Fetch(refused, none);
  EXPECT_EQ(r.transport, Transport::kFailed);
  EXPECT_FALSE(r.error.empty());
}

}  // namespace
}  // namespace inferd::net
