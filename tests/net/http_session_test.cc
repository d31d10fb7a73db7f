// net/http_session.h on a real TCP connection, with a small handler: requests in order on one keep-alive
// connection (pipelined too), the bounded reading (413, 431, 400, 503 from the head), an answer given from the
// head (the body stays unread and the connection closes), answers from another thread, and the socket handed
// off. Raw bytes in, raw bytes out: what a client sees.
#include "net/http_session.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "net/listener.h"

namespace inferd::net {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

struct TestReply {
  int status = 200;
  std::string body;
};

// /deny: answered 401 from the head; /async: answered from another thread; /take: the socket is handed off
// and answered by hand; anything else: 200 with "<method> <target> <body size>".
struct TestApp {
  using Reply = TestReply;
  struct Scope {
    explicit Scope(TestApp& app) : app(app) { ++app.in_flight; }
    ~Scope() { --app.in_flight; }
    TestApp& app;
  };
  using Request = http::request<http::string_body>;

  std::atomic<int> in_flight{0};
  std::atomic<int> handled{0};

  uint64_t body_limit() const { return 1000; }
  std::string_view body_limit_flag() const { return "--test_limit"; }
  const char* busy_name() const { return "test server"; }
  bool keep_alive() const { return true; }

  template <class S>
  std::optional<Reply> OnHead(S&, const Request& head) {
    if (head.target() == "/deny") return Reply{401, "denied"};
    return std::nullopt;
  }
  Reply Answer(const HttpAnswer& a) { return Reply{a.status, a.message}; }

  template <class S>
  void Handle(const std::shared_ptr<S>& session, Request& msg) {
    ++handled;
    std::string text = std::string(msg.method_string()) + " " + std::string(msg.target()) + " " +
                       std::to_string(msg.body().size());
    if (msg.target() == "/async") {
      std::thread([respond = session->Responder(), text]() mutable { respond(Reply{200, text}); }).detach();
      return;
    }
    if (msg.target() == "/take") {
      tcp::socket s = session->TakeSocket();
      std::string raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\ntaken";
      boost::system::error_code ec;
      asio::write(s, asio::buffer(raw), ec);
      s.close(ec);
      return;
    }
    session->Respond(Reply{200, text});
  }

  void Fill(Reply&& r, http::response<http::string_body>& res) {
    res.result(static_cast<unsigned>(r.status));
    res.body() = std::move(r.body);
  }
};

class HttpSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gate_ = std::make_shared<ConnGate>(100);
    budget_ = std::make_shared<BodyBudget>(500);  // below the body limit: 503 is reachable
    conns_.emplace(ctx_, "test", Timeouts{}, gate_, budget_);
    tcp::acceptor acc(ctx_);
    ASSERT_TRUE(ListenTcp(acc, asio::ip::make_address("127.0.0.1"), 0, false, "test").ok());
    port_ = acc.local_endpoint().port();
    accept_.emplace(
        std::move(acc), "test", gate_, [this]() -> asio::io_context& { return ctx_; },
        [this](tcp::socket s) { std::make_shared<HttpSession<tcp::socket, TestApp>>(std::move(s), &*conns_, &app_)->Start(); });
    accept_->Start();
    thread_ = std::thread([this] { ctx_.run(); });
  }
  void TearDown() override {
    asio::post(ctx_, [this] { accept_->Close(); });
    ctx_.stop();
    thread_.join();
  }

  // Sends `raw` on a new connection and reads until the server closes it.
  std::string Exchange(const std::string& raw) {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)));
    asio::write(s, asio::buffer(raw));
    std::string got;
    char buf[65536];
    boost::system::error_code ec;
    for (;;) {
      size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) break;
      got.append(buf, n);
    }
    return got;
  }
  static int Count(const std::string& s, const std::string& what) {
    int n = 0;
    for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
    return n;
  }

  asio::io_context ctx_{1};
  std::shared_ptr<ConnGate> gate_;
  std::shared_ptr<BodyBudget> budget_;
  TestApp app_;
  std::optional<LoopConns> conns_;
  std::optional<AcceptLoop<tcp>> accept_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(HttpSessionTest, PipelinedRequestsAreAnsweredInOrderOnOneConnection) {
  std::string got = Exchange(
      "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  size_t a = got.find("POST /a 3"), b = got.find("GET /b 0"), c = got.find("GET /c 0");
  ASSERT_NE(a, std::string::npos) << got;
  ASSERT_NE(b, std::string::npos) << got;
  ASSERT_NE(c, std::string::npos) << got;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(Count(got, "HTTP/1.1 200 OK"), 3);
  EXPECT_EQ(app_.handled.load(), 3);
}

TEST_F(HttpSessionTest, HeadGetsTheHeadOfTheAnswerWithoutItsBody) {
  // The body of a HEAD answer would be read as the start of the next answer on a keep-alive connection.
  std::string got = Exchange(
      "HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Count(got, "HTTP/1.1 200 OK"), 2) << got;
  EXPECT_NE(got.find("Content-Length: 12\r\n"), std::string::npos) << got;  // "HEAD /page 0": the GET answer's length
  EXPECT_EQ(got.find("HEAD /page 0"), std::string::npos) << got;
  EXPECT_NE(got.find("GET /next 0"), std::string::npos) << got;
}

TEST_F(HttpSessionTest, BodyOverTheLimitIs413NamingItsFlag) {
  std::string got = Exchange("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n" + std::string(1001, 'x'));
  EXPECT_TRUE(got.starts_with("HTTP/1.1 413")) << got;
  EXPECT_NE(got.find("larger than the limit of 1000 bytes (--test_limit)"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_EQ(app_.handled.load(), 0);
}

TEST_F(HttpSessionTest, HeadOverTheLimitIs431) {
  std::string got = Exchange("GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(kHeaderLimit, 'y') + "\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 431")) << got.substr(0, 200);
  EXPECT_EQ(app_.handled.load(), 0);
}

TEST_F(HttpSessionTest, MalformedRequestIs400) {
  std::string got = Exchange("GET /a HTTP/1.1\r\nHost x\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 400")) << got;
  EXPECT_NE(got.find("malformed HTTP request"), std::string::npos) << got;
}

TEST_F(HttpSessionTest, BodyPastTheBudgetIs503FromItsHead) {
  // 900 bytes pass the body limit (1000) but not the budget (500): answered from the head, body never sent.
  std::string got = Exchange("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 503")) << got;
  EXPECT_NE(got.find("Retry-After: 1"), std::string::npos) << got;
  EXPECT_NE(got.find("the test server is busy"), std::string::npos) << got;
  EXPECT_EQ(app_.handled.load(), 0);
  EXPECT_EQ(budget_->used(), 0u);
}

TEST_F(HttpSessionTest, ChunkedBodyReservesAsItGrows) {
  std::string got = Exchange("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n" +
                             std::string(16, 'z') + "\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 503")) << got;  // the first growth step (64 KiB) is past the budget
  EXPECT_EQ(app_.handled.load(), 0);
}

TEST_F(HttpSessionTest, AnswerFromTheHeadLeavesTheBodyUnreadAndCloses) {
  std::string got = Exchange("POST /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 401")) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_EQ(app_.handled.load(), 0);
}

TEST_F(HttpSessionTest, AnswerFromTheHeadOfABodilessRequestKeepsTheConnection) {
  std::string got = Exchange(
      "GET /deny HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 401")) << got;
  EXPECT_NE(got.find("GET /after 0"), std::string::npos) << got;
}

TEST_F(HttpSessionTest, AnswersFromAnotherThreadAreWrittenOnTheLoop) {
  std::string got = Exchange(
      "GET /async HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /async HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Count(got, "GET /async 0"), 2) << got;
  for (int i = 0; i < 100 && app_.in_flight.load() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(app_.in_flight.load(), 0);  // every Scope ended with its answer
}

TEST_F(HttpSessionTest, HandedOffSocketIsTheCallers) {
  std::string got = Exchange("GET /take HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK")) << got;
  EXPECT_TRUE(got.ends_with("taken")) << got;
}

}  // namespace
}  // namespace inferd::net
