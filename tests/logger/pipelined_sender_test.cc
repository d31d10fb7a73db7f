// The payload logger's pipelined sender (logger/pipelined_sender.h) against a real local sink (a Beast server on
// an ephemeral port, one thread per connection): batches delivered in order on one connection with the event's
// headers and bodies, per-event statuses, Connection: close after every answer, a close in the middle of a batch,
// a stalled sink (timeout), a stale kept connection, a dead port, a malformed answer; then the whole logger on it.
#include "logger/pipelined_sender.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <mutex>
#include <thread>

namespace inferd::logger {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

enum class Mode {
  kOk,           // 200 "ok", kept connection; a body "fail500"/"fail400" gets that status
  kCloseEach,    // 200 with Connection: close, then closes
  kCloseAfter3,  // answers 3 requests per connection, then closes without saying so
  kStall,        // reads, never answers
  kIdleClose,    // 200 keep-alive, then closes the connection 100 ms after each answer
  kGarbage,      // answers "nonsense"
};

struct Received {
  std::string target, host, user_agent, ce_id, ce_type, ce_time, ce_recorded, body;
  bool has_content_type = false, has_endpoint = false;
};

class Sink {
 public:
  explicit Sink(Mode mode) : mode_(mode), acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { Accept(); });
  }
  ~Sink() {
    stop_ = true;
    boost::system::error_code ec;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes the blocked accept (closing it does not)
    accept_thread_.join();
    acceptor_.close(ec);
    std::lock_guard<std::mutex> l(mu_);
    for (auto& s : sockets_) s->shutdown(tcp::socket::shutdown_both, ec);
    for (auto& t : threads_) t.join();
  }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/events?x=1"; }
  int accepts() const { return accepts_.load(); }
  std::vector<Received> received() {
    std::lock_guard<std::mutex> l(mu_);
    return received_;
  }

 private:
  void Accept() {
    for (;;) {
      auto sock = std::make_shared<tcp::socket>(io_);
      boost::system::error_code ec;
      acceptor_.accept(*sock, ec);
      if (ec || stop_) return;
      ++accepts_;
      std::lock_guard<std::mutex> l(mu_);
      sockets_.push_back(sock);
      threads_.emplace_back([this, sock] { Serve(*sock); });
    }
  }

  void Serve(tcp::socket& sock) {
    boost::beast::flat_buffer buf;
    int answered = 0;
    for (;;) {
      http::request<http::string_body> req;
      boost::system::error_code ec;
      http::read(sock, buf, req, ec);
      if (ec) return;
      {
        std::lock_guard<std::mutex> l(mu_);
        received_.push_back({std::string(req.target()), std::string(req[http::field::host]),
                             std::string(req[http::field::user_agent]), std::string(req["Ce-Id"]),
                             std::string(req["Ce-Type"]), std::string(req["Ce-Time"]),
                             std::string(req["Ce-Recordedtime"]), req.body(),
                             req.find(http::field::content_type) != req.end(), req.find("Ce-Endpoint") != req.end()});
      }
      if (mode_ == Mode::kStall) {
        while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return;
      }
      if (mode_ == Mode::kGarbage) {
        asio::write(sock, asio::buffer(std::string("nonsense\r\n\r\n")), ec);
        return;
      }
      http::response<http::string_body> res{http::status::ok, 11};
      if (req.body() == "fail500") res.result(http::status::internal_server_error);
      if (req.body() == "fail400") res.result(http::status::bad_request);
      res.body() = "ok";
      res.keep_alive(mode_ != Mode::kCloseEach);
      res.prepare_payload();
      http::write(sock, res, ec);
      if (ec || mode_ == Mode::kCloseEach) return;
      if (mode_ == Mode::kCloseAfter3 && ++answered == 3) {
        sock.shutdown(tcp::socket::shutdown_both, ec);
        sock.close(ec);
        return;
      }
      if (mode_ == Mode::kIdleClose) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        sock.close(ec);
        return;
      }
    }
  }

  Mode mode_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepts_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::vector<std::thread> threads_;
  std::vector<Received> received_;
};

struct Batch {
  std::vector<Record> records;
  std::vector<OutgoingEvent> events() const {
    std::vector<OutgoingEvent> out;
    for (const Record& r : records) out.push_back({&r, int64_t{2} * 1000 * 1000 * 1000});
    return out;
  }
};

// Events without a Content-Type (none is sent) and an empty Ce-Endpoint (sent empty, as KServe).
Batch MakeBatch(int n, const std::string& prefix = "e") {
  Batch b;
  for (int i = 0; i < n; ++i) {
    b.records.push_back(Record{EventType::kRequest, prefix + std::to_string(i), 7, "", "{}",
                               "{\"n\":" + std::to_string(i) + "}"});
  }
  return b;
}

LoggerConfig Config(const std::string& url, long timeout_s = 10) {
  LoggerConfig c;
  c.url = url;
  c.timeout_s = timeout_s;
  return c;
}

std::vector<net::ClientResult> SendAll(EventSender& s, const LoggerConfig& c, const Batch& b) {
  std::vector<net::ClientResult> results;
  auto events = b.events();
  s.SendBatch(c, events, &results);
  return results;
}

TEST(PipelinedSender, BatchInOrderOnOneConnection) {
  Sink sink(Mode::kOk);
  auto sender = NewPipelinedSender();
  LoggerConfig c = Config(sink.url());
  Batch b = MakeBatch(50);
  auto r1 = SendAll(*sender, c, b);
  auto r2 = SendAll(*sender, c, MakeBatch(3, "f"));
  ASSERT_EQ(r1.size(), 50u);
  for (const auto& r : r1) {
    EXPECT_EQ(r.transport, net::Transport::kOk) << r.error;
    EXPECT_EQ(r.status, 200);
  }
  ASSERT_EQ(r2.size(), 3u);
  EXPECT_EQ(r2[2].status, 200);
  auto got = sink.received();
  ASSERT_EQ(got.size(), 53u);
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(got[i].ce_id, "e" + std::to_string(i));
    EXPECT_EQ(got[i].body, b.records[i].body());
  }
  EXPECT_EQ(got[50].ce_id, "f0");
  EXPECT_EQ(got[0].target, "/events?x=1");
  EXPECT_EQ(got[0].host, "127.0.0.1:" + std::to_string(sink.port()));
  EXPECT_EQ(got[0].user_agent, "inferd-logger");
  EXPECT_TRUE(got[0].has_endpoint);
  EXPECT_FALSE(got[0].has_content_type);
  EXPECT_EQ(got[0].ce_type, "org.kubeflow.serving.inference.request");
  EXPECT_EQ(got[0].ce_time, "1970-01-01T00:00:00.000000007Z");
  EXPECT_EQ(got[0].ce_recorded, "1970-01-01T00:00:02.000000000Z");
  EXPECT_EQ(sink.accepts(), 1);           // one kept connection for both batches
}

TEST(PipelinedSender, StatusesMapToTheirEvents) {
  Sink sink(Mode::kOk);
  auto sender = NewPipelinedSender();
  Batch b = MakeBatch(5);
  b.records[1] = Record(EventType::kRequest, "e1", 7, "", "{}", "fail500");
  b.records[3] = Record(EventType::kRequest, "e3", 7, "", "{}", "fail400");
  auto r = SendAll(*sender, Config(sink.url()), b);
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(r[1].status, 500);
  EXPECT_EQ(r[2].status, 200);
  EXPECT_EQ(r[3].status, 400);
  EXPECT_EQ(r[4].status, 200);
  EXPECT_EQ(sink.accepts(), 1);
}

TEST(PipelinedSender, ConnectionCloseAfterEachAnswerSendsEveryEventOnce) {
  Sink sink(Mode::kCloseEach);
  auto sender = NewPipelinedSender();
  auto r = SendAll(*sender, Config(sink.url()), MakeBatch(10));
  ASSERT_EQ(r.size(), 10u);
  for (const auto& x : r) EXPECT_EQ(x.status, 200) << x.error;
  auto got = sink.received();
  ASSERT_EQ(got.size(), 10u);  // the ones after a close were sent again, each processed once
  for (int i = 0; i < 10; ++i) EXPECT_EQ(got[i].ce_id, "e" + std::to_string(i));
  EXPECT_EQ(sink.accepts(), 10);
}

TEST(PipelinedSender, CloseInTheMiddleOfABatchFailsTheRestThenOneAtATime) {
  Sink sink(Mode::kCloseAfter3);
  auto sender = NewPipelinedSender();
  LoggerConfig c = Config(sink.url());
  auto r = SendAll(*sender, c, MakeBatch(8));
  ASSERT_EQ(r.size(), 8u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r[i].status, 200);
  for (int i = 3; i < 8; ++i) {
    EXPECT_EQ(r[i].transport, net::Transport::kFailed);  // unanswered: the retry rules decide
    EXPECT_FALSE(r[i].error.empty());
  }
  // Pipelining is off now: one event per round trip, a new connection after every third.
  auto r2 = SendAll(*sender, c, MakeBatch(7, "g"));
  for (const auto& x : r2) EXPECT_EQ(x.status, 200) << x.error;
  auto got = sink.received();
  int g = 0;
  for (const auto& x : got) g += x.ce_id.starts_with("g") ? 1 : 0;
  EXPECT_EQ(g, 7);
}

TEST(PipelinedSender, StalledSinkTimesOut) {
  Sink sink(Mode::kStall);
  auto sender = NewPipelinedSender();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = SendAll(*sender, Config(sink.url(), 1), MakeBatch(4));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_EQ(r.size(), 4u);
  for (const auto& x : r) {
    EXPECT_EQ(x.transport, net::Transport::kFailed);
    EXPECT_NE(x.error.find("timed out"), std::string::npos) << x.error;
  }
  EXPECT_LT(took, std::chrono::seconds(30));  // bounded by the timeout (1 s), generous for a loaded machine
}

TEST(PipelinedSender, StaleKeptConnectionIsReopened) {
  Sink sink(Mode::kIdleClose);
  auto sender = NewPipelinedSender();
  LoggerConfig c = Config(sink.url());
  auto r1 = SendAll(*sender, c, MakeBatch(1));
  EXPECT_EQ(r1[0].status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the sink closes the idle connection
  auto r2 = SendAll(*sender, c, MakeBatch(1, "h"));
  EXPECT_EQ(r2[0].status, 200) << r2[0].error;
  EXPECT_EQ(sink.accepts(), 2);
}

TEST(PipelinedSender, DeadPortAndMalformedAnswerFail) {
  int dead_port = 0;
  {
    Sink s(Mode::kOk);
    dead_port = s.port();
  }
  auto sender = NewPipelinedSender();
  auto r = SendAll(*sender, Config("http://127.0.0.1:" + std::to_string(dead_port) + "/"), MakeBatch(2));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].transport, net::Transport::kFailed);
  EXPECT_NE(r[0].error.find("connect"), std::string::npos) << r[0].error;

  Sink garbage(Mode::kGarbage);
  auto sender2 = NewPipelinedSender();
  auto g = SendAll(*sender2, Config(garbage.url()), MakeBatch(2));
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].transport, net::Transport::kFailed);
  EXPECT_EQ(g[1].transport, net::Transport::kFailed);
}

TEST(PipelinedSender, LoggerDeliversEverythingThroughIt) {
  Sink sink(Mode::kOk);
  LoggerConfig c = Config(sink.url());
  c.queue_capacity = 4096;
  {
    PayloadLogger log(c, NewHttpSender, nullptr);
    for (int i = 0; i < 1000; ++i) {
      auto p = log.OnRequest("POST", "/v1/models/m:predict", {}, "application/json", "req" + std::to_string(i));
      ASSERT_TRUE(p.has_value());
      log.OnResponse(std::move(*p), 200, "resp");
    }
    log.Stop(std::chrono::milliseconds(60000));
    auto n = log.counts();
    EXPECT_EQ(n.sent, 2000u);
    EXPECT_EQ(n.dropped, 0u);
    EXPECT_EQ(n.failed, 0u);
  }
  auto got = sink.received();
  ASSERT_EQ(got.size(), 2000u);
  EXPECT_LE(sink.accepts(), 2);  // one kept connection per worker
}

}  // namespace
}  // namespace inferd::logger
