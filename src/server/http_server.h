// server/http_server.h: the HTTP/1.1 front end (Boost.Beast) of the model server.
//
// Contract:
// - `workers` event-loop threads, each with its own io_context. The first accepts and hands each new
//   connection to the loops in turn (and to the ready copies, below), so that a few connections spread evenly
//   (SO_REUSEPORT acceptors per loop left it to the kernel's hash: 8 connections often split 6/2). A connection
//   lives on one thread; its requests are handled in order (keep-alive, no pipelining reordering).
// - Processes (`--processes N`, cli/worker_processes.h): AddCopy(channel) (any thread) adds a copy of this
//   server reachable over a net/conn_handoff.h channel; once the copy has said it serves, it takes its turn
//   in the rotation: the connection is passed to it and closed here. A copy whose channel fails (gone, or
//   its queue full) is skipped (gone: for good) and the connection served here. A server started with
//   ServerOptions::handoff_fd binds no TCP port: it serves the connections that arrive on that channel
//   (spread over its loops the same way) and says it serves once Start has set up its loops.
// - ServerOptions::uds_path non-empty: one more listening socket, a Unix stream socket at that path
//   (a stale socket file there is unlinked first; mode 0600; unlinked by Stop()), on the first loop; its
//   connections are handed round robin to the loops and served like TCP ones (same handler and session
//   code, instantiated per socket type). StopAccepting() closes it too.
// - Each connection is a net::HttpSession (net/http_session.h, shared with the API) over RestApp, which
//   turns a request into a RestRequest and writes the RestHandler's answer back on the connection's loop.
// - Connections are managed by net/ (listener.h, conn.h), like the gateway's and the API's: accept backoff on
//   EMFILE/ENFILE, a cap on open connections (ServerOptions::limits.max_connections, TCP and UDS together;
//   past it a new connection is closed at once), and per-phase deadlines (head, body, keep-alive, send) after
//   which a connection is closed without an answer.
// - Request bodies above ServerOptions::max_request_bytes are answered 413 naming the limit; a head over
//   64 KiB 431; malformed HTTP gets 400 (net/http_answers.h); a body whose Content-Length would take the process's body bytes in flight past
//   limits.max_body_bytes_in_flight is answered 503 with Retry-After: 1 before any of it is read (chunked
//   bodies reserve as they grow). After these answers the connection is half-closed and what the client
//   still sends is dropped for at most 2 s, then it is closed. Nothing a client sends can stop the server.
// - StopAccepting() closes the acceptors (SIGTERM drain); responses sent after that carry
//   "Connection: close". Stop() ends the event loops and joins the threads.
#pragma once

#include <memory>
#include <vector>

#include "core/status.h"
#include "server/rest_handler.h"

namespace inferd {

class HttpServer {
 public:
  HttpServer(RestHandler* handler, ServerState* state, const ServerOptions& options);
  ~HttpServer();

  Status Start();
  int port() const;
  // Takes ownership of `channel`. See the contract.
  void AddCopy(int channel);
  // Connections open on each event loop now (each counted on its own loop's thread; for tests).
  std::vector<size_t> OpenConnectionsPerLoop();
  void StopAccepting();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd
