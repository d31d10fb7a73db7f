// bench/http_rate.cc: open-loop, rate-limited HTTP/1.1 load for latency at a fixed offered rate.
//
//   http_rate --port N --path /v1/models/iris:predict --body_file F --rate R
//             [--host 127.0.0.1] [--connections 16] [--duration_s 10] [--warmup_s 1]
// Request i is due at start + i / R whatever happened before it (open loop). A due request goes out on
// an idle keep-alive connection, or waits for one; its latency runs from the moment it was due, not
// from the moment it was sent, so a stall shows up in the percentiles instead of silently lowering the
// offered rate (the coordinated omission of closed-loop clients such as hey). One thread, Asio + Beast:
// on the 2-core benchmark box it costs the server far less CPU than hey's Go client. Prints one line:
//   offered_rps=... achieved_rps=... p50_us=... p99_us=... p999_us=... max_us=... errors=... unanswered=...
// covering the requests due inside the measured window (after the warm-up). errors: non-200 answers and
// broken connections; unanswered: requests still unsent or unanswered 2 s after the last one was due
// (the server could not keep up; they are missing from the percentiles, so achieved_rps tells whether
// the percentiles mean anything). Exit status 1 when a connection cannot be opened or nothing succeeded.
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path;
  std::string body_file;
  double rate = 0;
  int connections = 16;
  double duration_s = 10;
  double warmup_s = 1;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "http_rate: %s\nusage: http_rate --port N --path P --body_file F --rate R [--host ADDR] "
               "[--connections C] [--duration_s S] [--warmup_s W]\n",
               why.c_str());
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) Usage("missing value for " + a);
    std::string v = argv[++i];
    if (a == "--host") o.host = v;
    else if (a == "--port") o.port = std::atoi(v.c_str());
    else if (a == "--path") o.path = v;
    else if (a == "--body_file") o.body_file = v;
    else if (a == "--rate") o.rate = std::atof(v.c_str());
    else if (a == "--connections") o.connections = std::atoi(v.c_str());
    else if (a == "--duration_s") o.duration_s = std::atof(v.c_str());
    else if (a == "--warmup_s") o.warmup_s = std::atof(v.c_str());
    else Usage("unknown flag " + a);
  }
  if (o.port <= 0 || o.port > 65535 || o.path.empty() || o.body_file.empty()) Usage("--port, --path and --body_file are required");
  if (o.rate <= 0 || o.connections < 1 || o.duration_s <= 0 || o.warmup_s < 0) Usage("bad numeric flag");
  return o;
}

class Load {
 public:
  Load(asio::io_context& ctx, const Options& o, std::string request)
      : ctx_(ctx), o_(o), request_(std::move(request)), timer_(ctx) {}

  bool Connect() {
    beast::error_code ec;
    tcp::endpoint ep(asio::ip::make_address(o_.host, ec), static_cast<unsigned short>(o_.port));
    if (ec) {
      std::fprintf(stderr, "http_rate: --host '%s' is not an IP address\n", o_.host.c_str());
      return false;
    }
    for (int i = 0; i < o_.connections; ++i) {
      auto c = std::make_unique<Conn>(ctx_);
      c->socket.connect(ep, ec);
      if (!ec) c->socket.set_option(tcp::no_delay(true), ec);
      if (ec) {
        std::fprintf(stderr, "http_rate: cannot connect to %s:%d: %s\n", o_.host.c_str(), o_.port, ec.message().c_str());
        return false;
      }
      idle_.push_back(c.get());
      conns_.push_back(std::move(c));
    }
    return true;
  }

  void Start() {
    start_ = Clock::now();
    interval_ = std::chrono::duration<double>(1.0 / o_.rate);
    total_ = static_cast<uint64_t>((o_.warmup_s + o_.duration_s) * o_.rate);
    measured_from_ = static_cast<uint64_t>(o_.warmup_s * o_.rate);
    latencies_us_.reserve(static_cast<size_t>(total_ - measured_from_));
    Tick();
  }

  int Report() const {
    std::vector<double> v = latencies_us_;
    std::sort(v.begin(), v.end());
    auto pct = [&](double p) {
      if (v.empty()) return 0.0;
      size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()));
      return v[std::min(i, v.size() - 1)];
    };
    double window = std::chrono::duration<double>(last_done_ - measured_start_).count();
    double achieved = window > 0 ? static_cast<double>(v.size()) / window : 0;
    std::printf(
        "offered_rps=%.1f achieved_rps=%.1f p50_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f errors=%llu "
        "unanswered=%llu\n",
        o_.rate, achieved, pct(50), pct(99), pct(99.9), v.empty() ? 0.0 : v.back(),
        static_cast<unsigned long long>(errors_), static_cast<unsigned long long>(unsent_));
    return v.empty() ? 1 : 0;
  }

 private:
  struct Conn {
    explicit Conn(asio::io_context& ctx) : socket(ctx) {}
    tcp::socket socket;
    beast::flat_buffer buffer;
    std::optional<http::response_parser<http::string_body>> parser;
    uint64_t index = 0;  // of the request in flight
    Clock::time_point due;
  };

  Clock::time_point Due(uint64_t i) const {
    return start_ + std::chrono::duration_cast<Clock::duration>(interval_ * static_cast<double>(i));
  }

  // Queues every request that is due by now, hands queued requests to idle connections and sleeps until
  // the next one is due.
  void Tick() {
    auto now = Clock::now();
    while (next_ < total_ && Due(next_) <= now) queue_.push_back(next_++);
    Dispatch();
    if (next_ < total_) {
      timer_.expires_at(Due(next_));
      timer_.async_wait([this](beast::error_code ec) {
        if (!ec) Tick();
      });
    } else {
      // Everything has been due; give the stragglers two seconds, then stop.
      timer_.expires_after(std::chrono::seconds(2));
      timer_.async_wait([this](beast::error_code ec) {
        if (!ec) Finish();
      });
    }
  }

  void Dispatch() {
    while (!queue_.empty() && !idle_.empty()) {
      Conn* c = idle_.back();
      idle_.pop_back();
      c->index = queue_.front();
      queue_.pop_front();
      c->due = Due(c->index);
      Send(c);
    }
  }

  void Send(Conn* c) {
    asio::async_write(c->socket, asio::buffer(request_), [this, c](beast::error_code ec, size_t) {
      if (ec) return Fail(c, ec);
      c->parser.emplace();
      c->parser->body_limit(64 * 1024 * 1024);
      http::async_read(c->socket, c->buffer, *c->parser, [this, c](beast::error_code ec, size_t) {
        if (ec) return Fail(c, ec);
        auto done = Clock::now();
        if (c->parser->get().result() != http::status::ok) {
          ++errors_;
        } else if (c->index >= measured_from_) {
          if (latencies_us_.empty()) measured_start_ = Due(measured_from_);
          latencies_us_.push_back(std::chrono::duration<double, std::micro>(done - c->due).count());
          last_done_ = done;
        }
        if (!c->parser->get().keep_alive()) {
          beast::error_code ignored;
          c->socket.close(ignored);
          return CheckEnd();
        }
        idle_.push_back(c);
        Dispatch();
        CheckEnd();
      });
    });
  }

  void Fail(Conn* c, beast::error_code ec) {
    if (errors_++ == 0) std::fprintf(stderr, "http_rate: connection error: %s\n", ec.message().c_str());
    beast::error_code ignored;
    c->socket.close(ignored);
    CheckEnd();
  }

  void CheckEnd() {
    if (next_ == total_ && queue_.empty() && idle_.size() == OpenConnections()) Finish();
    if (OpenConnections() == 0) Finish();
  }

  size_t OpenConnections() const {
    return static_cast<size_t>(std::count_if(conns_.begin(), conns_.end(), [](const auto& c) { return c->socket.is_open(); }));
  }

  void Finish() {
    if (finished_) return;
    finished_ = true;
    unsent_ = total_ - next_ + queue_.size() + (OpenConnections() - idle_.size());  // never answered
    ctx_.stop();
  }

  asio::io_context& ctx_;
  const Options& o_;
  const std::string request_;
  asio::steady_timer timer_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<Conn*> idle_;
  std::deque<uint64_t> queue_;
  Clock::time_point start_, measured_start_, last_done_;
  std::chrono::duration<double> interval_{};
  uint64_t next_ = 0, total_ = 0, measured_from_ = 0, errors_ = 0, unsent_ = 0;
  std::vector<double> latencies_us_;
  bool finished_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  Options o = Parse(argc, argv);
  std::ifstream in(o.body_file, std::ios::binary);
  if (!in) Usage("cannot read --body_file " + o.body_file);
  std::stringstream body;
  body << in.rdbuf();
  std::string b = body.str();
  std::string request = "POST " + o.path + " HTTP/1.1\r\nHost: " + o.host + ":" + std::to_string(o.port) +
                        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(b.size()) +
                        "\r\n\r\n" + b;

  asio::io_context ctx{1};
  Load load(ctx, o, std::move(request));
  if (!load.Connect()) return 1;
  load.Start();
  ctx.run();
  return load.Report();
}
