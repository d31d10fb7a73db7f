// gateway/http_worker.h: one I/O worker of the gateway's HTTP proxy and its upstream connection pools
// (internal to the gateway module): shared by the client sessions (http_proxy.cc) and by the InferenceGraph
// step calls (graph_calls.cc), which go to a service's replicas through the same pools, picks, activator and
// stats as a client's request. Everything here is used on the worker's own thread only, except the table
// holder and the endpoint atomics (see http_proxy.h).
#pragma once

#include <sys/socket.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/gateway.h"
#include "gateway/routing.h"
#include "net/http_answers.h"
#include "net/http_io.h"
#include "net/listener.h"

namespace inferd::gateway::http_internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

using net::kHeaderLimit;
constexpr int64_t kPeekAfterIdleNs = 1'000'000'000;  // see Worker::TakeIdle

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// An upstream connection: TCP, or a Unix stream socket for endpoints with a uds_path. Asio's generic stream
// socket holds either (its protocol is the family/protocol pair the connect endpoint gives), so the relay
// code is one, with no dispatch per read or write: reads and writes do not depend on the protocol.
using UpstreamSocket = asio::generic::stream_protocol::socket;

struct UpstreamConn {
  explicit UpstreamConn(asio::io_context& ctx) : socket(ctx) {}
  UpstreamSocket socket;
  beast::flat_buffer buffer;
  int64_t idle_since_ns = 0;  // when it went back to the pool
};

// True when an idle pooled connection still looks usable: the peer has not closed it and sent nothing.
inline bool StillOpen(UpstreamConn& c) {
  if (c.buffer.size() != 0 || !c.socket.is_open()) return false;
  char b;
  ssize_t r = ::recv(c.socket.native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// Removes the hop-by-hop headers (RFC 7230 6.1), including those named by Connection.
template <class Fields>
void StripHopByHop(Fields& f) {
  auto conn = f[http::field::connection];
  if (!conn.empty()) {
    std::vector<std::string> named;
    for (auto token : http::token_list(conn)) named.emplace_back(token);
    for (const auto& n : named) f.erase(n);
  }
  f.erase(http::field::connection);
  f.erase(http::field::keep_alive);
  f.erase(http::field::proxy_connection);
  f.erase(http::field::proxy_authorization);
  f.erase(http::field::proxy_authenticate);
  f.erase(http::field::te);
  f.erase(http::field::trailer);
  f.erase(http::field::transfer_encoding);
  f.erase(http::field::upgrade);
}

inline std::string_view SV(beast::string_view s) { return {s.data(), s.size()}; }

constexpr size_t kReadChunk = 16 * 1024;

// A connect that failed for lack of this process's resources (the errno values the acceptors back off on),
// not because of the replica.
inline bool OutOfLocalResources(const beast::error_code& ec) {
  return ec == boost::system::errc::too_many_files_open || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == boost::system::errc::no_buffer_space || ec == boost::system::errc::not_enough_memory;
}

struct Pool {
  std::vector<std::unique_ptr<UpstreamConn>> idle;
};

struct Worker {
  asio::io_context ctx{1};  // first member: destroyed last, after every socket below
  std::optional<net::LoopConns> conns;  // client connections of this loop (deadlines, cap, body budget)
  std::optional<net::AcceptLoop<tcp>> acceptor;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  const GatewayOptions* options = nullptr;
  const TableHolder* holder = nullptr;
  std::shared_ptr<const CompiledTable> table;
  uint64_t table_version = 0;
  FastRng rng{0};
  uint32_t rr = 0;
  std::unordered_map<uint64_t, Pool> pools;

  const std::shared_ptr<const CompiledTable>& Table() {
    uint64_t v = holder->version();
    if (v != table_version) {
      table = holder->Load();
      table_version = v;
      // Idle connections to replicas that left the table are closed.
      for (auto it = pools.begin(); it != pools.end();) {
        if (!std::binary_search(table->endpoint_ids.begin(), table->endpoint_ids.end(), it->first)) {
          it = pools.erase(it);
        } else {
          ++it;
        }
      }
    }
    return table;
  }

  // An idle connection is checked with a non-blocking peek (a syscall) only when it has been idle for a
  // while; one that was answering a moment ago is used as is, and should the replica have closed it anyway,
  // the first use fails with nothing answered and the request is sent once more on a new connection.
  std::unique_ptr<UpstreamConn> TakeIdle(uint64_t id, int64_t now_ns) {
    auto it = pools.find(id);
    if (it == pools.end()) return nullptr;
    auto& idle = it->second.idle;
    while (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      if (c->buffer.size() != 0 || !c->socket.is_open()) continue;
      if (now_ns - c->idle_since_ns < kPeekAfterIdleNs || StillOpen(*c)) return c;
    }
    return nullptr;
  }

  void PutIdle(uint64_t id, std::unique_ptr<UpstreamConn> c, int64_t now_ns) {
    const auto& t = Table();
    if (!std::binary_search(t->endpoint_ids.begin(), t->endpoint_ids.end(), id)) return;
    auto& idle = pools[id].idle;
    if (idle.size() < options->max_idle_per_endpoint) {
      c->idle_since_ns = now_ns;
      idle.push_back(std::move(c));
    }
  }
};


}  // namespace inferd::gateway::http_internal
