#include "net/listener.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

namespace inferd::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Status ListenTcp(tcp::acceptor& acc, const asio::ip::address& address, int port, bool reuse_port,
                 const std::string& what) {
  boost::system::error_code ec;
  tcp::endpoint ep(address, static_cast<unsigned short>(port));
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) {
    int one = 1;
    if (setsockopt(acc.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      return Internal(what + ": cannot set SO_REUSEPORT");
    }
  }
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable(what + ": cannot listen on " + address.to_string() + ":" + std::to_string(port) + ": " +
                       ec.message());
  }
  return Status::Ok();
}

StatusOr<asio::ip::address> ListenAddress(const std::string& host, const std::string& what) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return InvalidArgument(what + ": '" + host + "' is not an IP address");
  return address;
}

int EventLoops(int workers) {
  return workers > 0 ? workers : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

Status ListenUnix(asio::local::stream_protocol::acceptor& acc, const std::string& path, bool* bound,
                  const std::string& what) {
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return InvalidArgument(what + ": '" + path + "' is longer than " +
                           std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return InvalidArgument(what + ": '" + path + "' exists and is not a socket");
    ::unlink(path.c_str());  // stale, from an earlier run
  }
  boost::system::error_code ec;
  asio::local::stream_protocol::endpoint ep(path);
  acc.open(ep.protocol(), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) {
    *bound = true;
    if (::chmod(path.c_str(), 0600) != 0) return Internal(what + ": cannot chmod '" + path + "'");
    acc.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) return Unavailable(what + ": cannot listen on unix socket " + path + ": " + ec.message());
  return Status::Ok();
}

uint64_t CurrentFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  return rl.rlim_cur == RLIM_INFINITY ? uint64_t{1} << 20 : static_cast<uint64_t>(rl.rlim_cur);
}

uint64_t RaiseFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
      LOG_DEBUG("open-file limit raised from {} to {}", was, rl.rlim_max);
    } else {
      LOG_WARN("cannot raise the open-file limit from {} to its hard limit {}", was, rl.rlim_max);
    }
  }
  return CurrentFileLimit();
}

Status ResolveLimits(Limits* l, uint64_t body_limit) {
  constexpr int64_t kDayMs = 86'400'000;
  const Timeouts& t = l->timeouts;
  for (auto [v, flag] : {std::pair{t.header_ms, "client_header_timeout"}, {t.body_ms, "client_body_timeout"},
                         {t.keepalive_ms, "keepalive_timeout"}, {t.send_ms, "send_timeout"}}) {
    if (v <= 0 || v > kDayMs) {
      return InvalidArgument(std::string("--") + flag + " must be more than 0 and at most 86400 seconds");
    }
  }
  if (l->max_connections < 0) return InvalidArgument("--max_connections must be >= 0 (0 = the default)");
  if (l->max_connections == 0) l->max_connections = DefaultMaxConnections(CurrentFileLimit());
  if (l->max_body_bytes_in_flight == 0) l->max_body_bytes_in_flight = 4 * body_limit;
  if (l->max_body_bytes_in_flight < body_limit) {
    return InvalidArgument("--max_body_bytes_in_flight (" + std::to_string(l->max_body_bytes_in_flight) +
                           ") must be at least the body limit (" + std::to_string(body_limit) +
                           "): a body that size could never be read");
  }
  return Status::Ok();
}

}  // namespace inferd::net
