// net/http_io.h: the reading and writing steps the listeners' sessions share (Boost.Beast), written so that a
// session can record its phase and progress (net/conn.h) between them.
//
// Contract:
// - Feed parses what a buffer holds into a Beast request parser and consumes it. It stops right after the
//   head is complete (kHeader: exactly once per message, also for a message without a body, and before any
//   body byte was stored: the session checks auth, the body budget and Expect there; calling Feed again goes
//   on), at the end of the message (kDone), when it needs more bytes (kNeedMore), or on a malformed message
//   (kError, ec set: Beast's header_limit/body_limit/bad_* errors).
// - ReadSize is how many bytes the next read asks for (Beast's own choice: small for a fresh buffer, up to
//   64 KiB), so an idle connection holds a small buffer.
// - WriteMessage writes a Beast serializer's whole message, calling note() after every write that moved
//   bytes (send-timeout progress), then done(ec). WriteBytes does the same for a buffer sequence (it must
//   stay valid until done runs). The callables own what keeps the session alive.
// - Discard reads and drops up to `left` bytes (a closing connection's unread input), then done().
#pragma once

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/write.hpp>

#include <cstdint>
#include <utility>

namespace inferd::net {

enum class Fed { kNeedMore, kHeader, kDone, kError };

constexpr uint64_t kLingerMaxBytes = 64ull << 20;

template <class Parser>
Fed Feed(Parser& p, boost::beast::flat_buffer& buf, boost::beast::error_code& ec) {
  for (;;) {
    if (p.is_done()) return Fed::kDone;
    const bool had_header = p.is_header_done();
    const size_t used = p.put(buf.data(), ec);
    buf.consume(used);
    if (ec == boost::beast::http::error::need_more) {
      ec = {};
      return Fed::kNeedMore;
    }
    if (ec) return Fed::kError;
    if (!had_header && p.is_header_done()) return Fed::kHeader;  // also when the message has no body
    if (!p.is_done() && buf.size() == 0) return Fed::kNeedMore;
  }
}

inline size_t ReadSize(boost::beast::flat_buffer& buf) { return boost::beast::read_size(buf, 65536); }

template <class Stream, class Serializer, class Note, class Done>
void WriteMessage(Stream& s, Serializer& sr, Note note, Done done) {
  boost::beast::http::async_write_some(
      s, sr, [&s, &sr, note = std::move(note), done = std::move(done)](boost::beast::error_code ec, size_t) mutable {
        if (ec || sr.is_done()) return done(ec);
        note();
        WriteMessage(s, sr, std::move(note), std::move(done));
      });
}

template <class Stream, class Buffers, class Note, class Done>
void WriteBytes(Stream& s, const Buffers& buffers, Note note, Done done) {
  // asio's transfer_all with a progress note: at most 64 KiB per write, as transfer_all does.
  boost::asio::async_write(
      s, buffers,
      [note = std::move(note)](const boost::system::error_code& ec, size_t sent) mutable -> size_t {
        if (ec) return 0;
        if (sent != 0) note();
        return 65536;
      },
      [done = std::move(done)](boost::beast::error_code ec, size_t) mutable { done(ec); });
}

template <class Stream, class Done>
void Discard(Stream& s, boost::beast::flat_buffer& scratch, uint64_t left, Done done) {
  s.async_read_some(scratch.prepare(16 * 1024),
                    [&s, &scratch, left, done = std::move(done)](boost::beast::error_code ec, size_t n) mutable {
                      if (ec || n >= left) return done();
                      Discard(s, scratch, left - n, std::move(done));
                    });
}

}  // namespace inferd::net
