// bench/http_hello.cc: the floor for the REST benchmark. A bare Boost.Beast HTTP/1.1 server with the
// threading model of inferd's src/server/http_server.cc (one io_context and one SO_REUSEPORT acceptor per
// worker thread, keep-alive, TCP_NODELAY, a fresh request_parser<string_body> per request) that answers
// every request, whatever its method and target, with the same fixed application/json body of
// --body_bytes bytes. The request body is read (as inferd reads it) and dropped. Pipelined requests already in
// the buffer are answered together in one write (see AnswerPipelined). What inferd adds on top
// of this is routing, JSON decoding, the model, JSON encoding and metrics.
//
//   http_hello [--host 127.0.0.1] [--port 0] [--workers 1] [--body_bytes 21]
// prints "http_hello listening port=N" once bound and serves until SIGINT/SIGTERM.
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kHeaderLimit = 64 * 1024;
constexpr size_t kBodyLimit = 64 * 1024 * 1024;

// A JSON object of exactly n bytes (n >= 2): {"x":"aaa..."} or, below 8 bytes, {} padded with spaces.
std::string MakeBody(size_t n) {
  if (n < 8) return "{}" + std::string(n - 2, ' ');
  return "{\"x\":\"" + std::string(n - 8, 'a') + "\"}";
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const std::string* body) : socket_(std::move(socket)), body_(body) {}

  void Start() { Read(); }

 private:
  void Read() {
    if (!parser_) NewParser();  // else a pipelined request whose start is already parsed (OnRead)
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void NewParser() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    parser_->eager(true);
  }

  void OnRead(beast::error_code ec) {
    if (ec) return Close();  // end of stream, reset or malformed: the benchmark never sends those
    auto& msg = parser_->get();
    bool keep = msg.keep_alive();
    if (keep && msg.version() == 11 && buffer_.size() > 0) return AnswerPipelined();
    parser_.reset();
    res_.emplace();
    res_->version(msg.version() ? msg.version() : 11);
    res_->result(http::status::ok);
    res_->set(http::field::content_type, "application/json");
    res_->keep_alive(keep);
    res_->body() = *body_;
    res_->prepare_payload();
    http::async_write(socket_, *res_, [self = shared_from_this(), keep](beast::error_code ec, size_t) {
      if (ec || !keep) return self->Close();
      self->Read();
    });
  }

  // Pipelined requests (a client such as inferd's payload logger writes several before reading): the ones
  // already complete in the buffer are answered with one write instead of one write each, as the cheap sink
  // the logger benchmark needs. The answers are the bytes Beast writes for the response above (hand-built:
  // a serializer per answer costs more than the answer). wrk never pipelines, so the REST floor is unchanged.
  void AnswerPipelined() {
    wire_.clear();
    bool close = false;
    for (;;) {
      AppendAnswer(parser_->get().keep_alive());
      if (!parser_->get().keep_alive()) {
        close = true;
        break;
      }
      NewParser();
      if (buffer_.size() == 0) break;
      beast::error_code ec;
      buffer_.consume(parser_->put(buffer_.data(), ec));
      if (ec == http::error::need_more || (!ec && !parser_->is_done())) break;  // Read() goes on with it
      if (ec) {
        close = true;
        break;
      }
    }
    asio::async_write(socket_, asio::buffer(wire_), [self = shared_from_this(), close](beast::error_code ec, size_t) {
      if (ec || close) return self->Close();
      self->Read();
    });
  }

  void AppendAnswer(bool keep) {
    wire_.append("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
    if (!keep) wire_.append("Connection: close\r\n");
    wire_.append("Content-Length: ").append(std::to_string(body_->size())).append("\r\n\r\n").append(*body_);
  }

  void Close() {
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    socket_.close(ec);
  }

  tcp::socket socket_;
  const std::string* body_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::string wire_;  // the answers of pipelined requests
};

struct Loop {
  asio::io_context ctx{1};
  std::optional<tcp::acceptor> acceptor;
};

void Accept(Loop* loop, const std::string* body) {
  loop->acceptor->async_accept([loop, body](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !loop->acceptor->is_open()) return;
    if (!ec) {
      socket.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(socket), body)->Start();
    }
    Accept(loop, body);
  });
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "http_hello: %s\nusage: http_hello [--host ADDR] [--port N] [--workers N] [--body_bytes N]\n",
               why.c_str());
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0, workers = 1;
  long body_bytes = 21;  // {"predictions":[1,1]}
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) Usage("missing value for " + a);
    std::string v = argv[++i];
    if (a == "--host") host = v;
    else if (a == "--port") port = std::atoi(v.c_str());
    else if (a == "--workers") workers = std::atoi(v.c_str());
    else if (a == "--body_bytes") body_bytes = std::atol(v.c_str());
    else Usage("unknown flag " + a);
  }
  if (workers < 1 || port < 0 || port > 65535 || body_bytes < 2) Usage("bad numeric flag");

  // Signals go to the main thread's sigwait, not to the event loops.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  const std::string body = MakeBody(static_cast<size_t>(body_bytes));
  beast::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) Usage("--host: '" + host + "' is not an IP address");

  std::vector<std::unique_ptr<Loop>> loops;
  for (int i = 0; i < workers; ++i) {
    auto loop = std::make_unique<Loop>();
    loop->acceptor.emplace(loop->ctx);
    tcp::endpoint ep(address, static_cast<unsigned short>(port));
    auto& acc = *loop->acceptor;
    acc.open(ep.protocol(), ec);
    if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      int one = 1;
      if (setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        std::fprintf(stderr, "http_hello: cannot set SO_REUSEPORT\n");
        return 1;
      }
    }
    if (!ec) acc.bind(ep, ec);
    if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      std::fprintf(stderr, "http_hello: cannot listen on %s:%d: %s\n", host.c_str(), port, ec.message().c_str());
      return 1;
    }
    if (i == 0) port = acc.local_endpoint().port();
    loops.push_back(std::move(loop));
  }

  std::vector<std::thread> threads;
  for (auto& loop : loops) {
    Accept(loop.get(), &body);
    threads.emplace_back([l = loop.get()] { l->ctx.run(); });
  }
  std::printf("http_hello listening port=%d\n", port);
  std::fflush(stdout);

  int sig = 0;
  sigwait(&set, &sig);
  for (auto& loop : loops) loop->ctx.stop();
  for (auto& t : threads) t.join();
  return 0;
}
