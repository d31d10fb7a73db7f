// net/http_session.h: the one HTTP/1.1 server session of inferd's listeners that answer requests themselves
// (the model server's REST front end, over TCP and its Unix socket, and the API). The gateway's session is a
// proxy with a measured fast path of its own (gateway/http_proxy.cc) on the same net/ pieces.
//
// Contract:
// - HttpSession<Socket, App> serves one accepted connection (a TrackedConn: phases, deadlines, the cap entry
//   and the body reservation are net/conn.h's) on its loop's thread: requests in order, keep-alive, pipelined
//   bytes kept for the next request. Socket is tcp::socket or a Unix stream socket; App is the listener's
//   handler, a template parameter so that the request path has no indirect call.
// - Reading is bounded: the head by kHeaderLimit (431), the body by App::body_limit() (413), a malformed
//   message is 400 (net/http_answers.h), and a body whose Content-Length would take the process's body
//   budget past its capacity is 503 + Retry-After before any of it is read (a chunked body reserves as it
//   grows). These answers, and any answer App::OnHead gives while a body is still unread, close the
//   connection: it is half-closed and what the client still sends is dropped for at most kLingerMs.
// - App provides:
//     using Reply = ...;                          // what its handler answers
//     struct Scope { explicit Scope(App&); };     // held from a request's start (or an error answer's) until
//                                                 // its answer is written (the model server counts in-flight
//                                                 // requests with it)
//     uint64_t body_limit() const;
//     std::string_view body_limit_flag() const;   // named in the 413 message ("" = none)
//     const char* busy_name() const;              // "the <name> is busy" in the 503
//     template <class S> std::optional<Reply> OnHead(S& session, const Request& head);
//                                                 // the head is complete, no body byte read: an answer here
//                                                 // is sent at once (auth); nullopt reads on
//     Reply Answer(const HttpAnswer& a);          // the listener's form of a session-level answer (the
//                                                 // session adds Retry-After when the answer has one)
//     template <class S> void Handle(const std::shared_ptr<S>& session, Request& msg);
//                                                 // the whole request: calls session->Respond(reply) once
//                                                 // (loop thread), or hands the socket off (TakeSocket)
//     void Fill(Reply&& r, Response& res);       // status, content type, headers and body of the answer
//     bool keep_alive() const;                    // false: every answer closes (draining)
// - Respond must run on the loop's thread; Responder() gives a callable that may run on any thread (it
//   posts to the loop unless already there). TakeSocket ends the session's part (the socket goes to the
//   caller with the request's body reservation released).
#pragma once

#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <optional>
#include <thread>
#include <utility>

#include "net/conn.h"
#include "net/http_answers.h"
#include "net/http_io.h"

namespace inferd::net {

// App::Fill for a Reply with the usual members (status, content_type, headers as name/value pairs, body).
template <class Reply>
void FillResponse(Reply&& r, boost::beast::http::response<boost::beast::http::string_body>& res) {
  res.result(static_cast<unsigned>(r.status));
  res.set(boost::beast::http::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) res.set(name, value);
  res.body() = std::move(r.body);
}

template <class Socket, class App>
class HttpSession : public TrackedConn, public std::enable_shared_from_this<HttpSession<Socket, App>> {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  using Reply = typename App::Reply;

  HttpSession(Socket socket, LoopConns* loop, App* app) : TrackedConn(loop), socket_(std::move(socket)), app_(app) {}

  void Start() {
    NewParser();
    ReadSome();  // kHead since the accept
  }

  // Writes the answer to the current request (loop thread).
  void Respond(Reply&& r) { Write(std::move(r)); }

  // Respond from any thread: on the loop's thread it writes at once, elsewhere it posts there (the session
  // must end on its loop's thread, not where the handler's callback object happens to be destroyed).
  auto Responder() {
    return [self = this->shared_from_this(), executor = socket_.get_executor(),
            io_thread = std::this_thread::get_id()](Reply&& r) mutable {
      if (std::this_thread::get_id() == io_thread) {
        self->Write(std::move(r));
      } else {
        boost::asio::post(executor, [self = std::move(self), r = std::move(r)]() mutable { self->Write(std::move(r)); });
      }
    };
  }

  // Hands the connection over (a stream answered on a thread of its own); the session does nothing more.
  Socket TakeSocket() {
    ReleaseBody();
    return std::move(socket_);
  }
  unsigned version() const { return version_; }
  const Socket& socket() const { return socket_; }

 private:
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

  void OnExpired(Phase) override { Close(); }

  void NewParser() {
    head_ = false;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(app_->body_limit());
  }

  // The next request on a keep-alive connection: already (partly) here when pipelined, else kIdle.
  void Next() {
    NewParser();
    if (buffer_.size() != 0) {
      SetPhase(Phase::kHead);
      return Parse();
    }
    SetPhase(Phase::kIdle);
    ReadSome();
  }

  void ReadSome() {
    socket_.async_read_some(buffer_.prepare(ReadSize(buffer_)),
                            [self = this->shared_from_this()](boost::beast::error_code ec, size_t n) {
                              self->OnBytes(ec, n);
                            });
  }

  void OnBytes(boost::beast::error_code ec, size_t n) {
    if (ec) return Close();  // EOF, reset, closed by the sweep; also in the middle of a request
    buffer_.commit(n);
    if (phase() == Phase::kIdle) {
      SetPhase(Phase::kHead);
    } else if (phase() == Phase::kBody) {
      Progress();
    }
    Parse();
  }

  void Parse() {
    boost::beast::error_code ec;
    for (;;) {
      switch (Feed(*parser_, buffer_, ec)) {
        case Fed::kNeedMore:
          // A chunked body has no length up front: it reserves as it grows.
          if (parser_->chunked() && !ReserveGrowth(parser_->get().body().size())) return SendBusy();
          return ReadSome();
        case Fed::kError:
          return SendAnswer(ParseErrorAnswer(ec, app_->body_limit(), app_->body_limit_flag()));
        case Fed::kHeader:
          if (!OnHeader()) return;
          continue;
        case Fed::kDone:
          return OnRequest();
      }
    }
  }

  // False when the request was answered from its head.
  bool OnHeader() {
    auto& msg = parser_->get();
    version_ = msg.version() ? msg.version() : 11;
    head_ = msg.method() == boost::beast::http::verb::head;
    if (auto early = app_->OnHead(*this, msg)) {
      // A body, if any, stays unread: the connection closes after the answer.
      keep_alive_ = parser_->is_done() && msg.keep_alive();
      linger_ = !parser_->is_done();
      scope_.emplace(*app_);
      Write(std::move(*early));
      return false;
    }
    // The body's bytes are counted before any is read: past the budget, 503 without reading it.
    if (auto len = parser_->content_length(); len && !ReserveBody(*len)) {
      SendBusy();
      return false;
    }
    SetPhase(Phase::kBody);
    return true;
  }

  void OnRequest() {
    SetPhase(Phase::kBusy);
    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version() ? msg.version() : 11;
    scope_.emplace(*app_);
    app_->Handle(this->shared_from_this(), msg);
  }

  void SendBusy() { SendAnswer(BusyAnswer(app_->busy_name(), body_budget())); }

  // An answer after which the connection closes, the rest of the request (if any) unread.
  void SendAnswer(const HttpAnswer& a) {
    keep_alive_ = false;
    linger_ = true;
    scope_.emplace(*app_);
    Write(app_->Answer(a), a.retry_after);
  }

  void Write(Reply&& r, bool retry_after = false) {
    res_.emplace();
    res_->version(version_);
    app_->Fill(std::move(r), *res_);
    if (retry_after) res_->set(boost::beast::http::field::retry_after, "1");
    const bool keep = keep_alive_ && app_->keep_alive();
    res_->keep_alive(keep);
    res_->prepare_payload();
    if (head_) res_->body().clear();  // HEAD: the GET answer's head (its Content-Length too), no body
    sr_.emplace(*res_);
    SetPhase(Phase::kSend);
    WriteMessage(socket_, *sr_, [this] { Progress(); },
                 [self = this->shared_from_this(), keep](boost::beast::error_code ec) {
                   self->sr_.reset();
                   self->ReleaseBody();
                   self->scope_.reset();
                   if (ec) return self->Close();
                   if (self->linger_) return self->Linger();
                   if (!keep) return self->Close();
                   self->Next();
                 });
  }

  // After an answer that leaves request bytes unread: half-close, then drop what the client still sends (for
  // at most kLingerMs, the sweep's deadline), so that the close does not turn into a reset that loses the
  // answer.
  void Linger() {
    boost::beast::error_code ec;
    socket_.shutdown(Socket::shutdown_send, ec);
    if (ec) return Close();
    SetPhase(Phase::kLinger);
    buffer_.clear();
    Discard(socket_, buffer_, kLingerMaxBytes, [self = this->shared_from_this()] { self->Close(); });
  }

  void Close() {
    boost::beast::error_code ec;
    socket_.shutdown(Socket::shutdown_send, ec);
    socket_.close(ec);
  }

  Socket socket_;
  App* app_;
  boost::beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::optional<Response> res_;
  std::optional<boost::beast::http::response_serializer<boost::beast::http::string_body>> sr_;
  std::optional<typename App::Scope> scope_;
  bool keep_alive_ = true;
  bool head_ = false;  // the request being answered is a HEAD
  bool linger_ = false;
  unsigned version_ = 11;
};

}  // namespace inferd::net
