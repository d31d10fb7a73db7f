// gateway/http_proxy.h: the gateway's HTTP/1.1 reverse proxy (Boost.Beast; internal to the gateway module).
//
// `workers` threads, each with its own io_context (the first also accepts, and hands each new connection to the
// workers in turn), its own random generator and
// round-robin counter, its own keep-alive connection pools (one per endpoint, at most max_idle_per_endpoint
// idle each) and its own reference to the routing table (reloaded only when TableHolder's version moves).
// Nothing on the request path takes a lock; shared state is the per-endpoint in-flight atomics and the
// revision stats.
//
// Per client connection (a Session): requests are read as raw bytes into one reused buffer and scanned by a
// small header scanner (message boundary, Host, Authorization, Content-Length, and whether any hop-by-hop
// header or Expect is present). Fast path: the request is written to the replica in one write straight from
// that buffer, the answer is read into the upstream connection's buffer, scanned the same way and written to
// the client from there (buffers are swapped, not copied), so a request costs no header parsing into
// containers, no re-serialization and no copy of a body. Anything else takes the slow path: Beast's parser
// picks up the same unconsumed bytes (request, or answer) and the message is re-serialized as before. See
// gateway.h for which requests and answers take which path.
//
// Client connections are accepted and bounded by net/ (listener.h, conn.h), as the model server's and the API's
// are: accept backoff, GatewayOptions::limits (deadlines per phase, connection cap) and the body budget (the
// request's Content-Length is reserved when its head is read; 503 + Retry-After past it, body unread). A
// request being answered (held by the activator, at a replica) has no client deadline: the service's
// `timeout` bounds it.
#pragma once

#include <memory>

#include "core/status.h"
#include "gateway/gateway.h"
#include "gateway/routing.h"

namespace inferd::gateway {

class HttpProxy {
 public:
  HttpProxy(const GatewayOptions& options, const TableHolder* table);
  ~HttpProxy();
  Status Start();
  int port() const;
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::gateway
