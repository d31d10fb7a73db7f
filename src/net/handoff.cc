#include "net/handoff.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <thread>

#include "net/listener.h"

namespace inferd::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct HandoffListener::Impl {
  std::string name;
  std::function<void(int)> on_fd;
  asio::io_context ctx;
  // No cap (see the header): a gate that never fills, left as soon as a connection is handed over.
  std::shared_ptr<ConnGate> gate = std::make_shared<ConnGate>(std::numeric_limits<int64_t>::max());
  std::optional<AcceptLoop<tcp>> loop;
  std::thread thread;

  void Hand(tcp::socket socket) {
    gate->Leave();
    const int fd = socket.release();
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
    on_fd(fd);
  }
};

HandoffListener::HandoffListener(std::string name, std::function<void(int fd)> on_fd)
    : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  impl_->on_fd = std::move(on_fd);
}

HandoffListener::~HandoffListener() { Stop(); }

Status HandoffListener::Start(const std::string& host, int port) {
  if (impl_->thread.joinable()) return Internal(impl_->name + ": already started");
  ASSIGN_OR_RETURN(auto address, ListenAddress(host.empty() ? "0.0.0.0" : host, impl_->name));
  tcp::acceptor acc(impl_->ctx);
  RETURN_IF_ERROR(ListenTcp(acc, address, port, /*reuse_port=*/false, impl_->name));
  port_ = acc.local_endpoint().port();
  Impl* impl = impl_.get();
  impl->loop.emplace(std::move(acc), impl->name, impl->gate, [impl]() -> asio::io_context& { return impl->ctx; },
                     [impl](tcp::socket s) { impl->Hand(std::move(s)); });
  impl->loop->Start();
  impl->thread = std::thread([impl] {
    auto work = asio::make_work_guard(impl->ctx);
    impl->ctx.run();
  });
  return Status::Ok();
}

void HandoffListener::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  Impl* impl = impl_.get();
  asio::post(impl->ctx, [impl] {
    impl->loop->Close();
    impl->ctx.stop();
  });
  impl->thread.join();
  impl->loop.reset();
}

}  // namespace inferd::net
