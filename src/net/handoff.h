// net/handoff.h: a TCP listener that accepts on a thread of its own and hands each connected socket, as a file
// descriptor, to a callback that owns it from then on. For servers whose library cannot be trusted with its
// own accept loop: gRPC 1.51 (Debian bookworm's) stops accepting on a listening socket for good after one
// accept fails with EMFILE (grpc/grpc#20418): new connections then sit in the kernel's queue unanswered until
// the process restarts. The model server's and the gateway's gRPC ports are therefore accepted here and given
// to gRPC with grpc::AddInsecureChannelFromFd.
//
// Contract:
// - Start(host, port) binds host:port (0 picks a free port; port() tells which; no SO_REUSEPORT, so a busy port
//   is an error) and starts the thread. Accepting is net/listener.h's AcceptLoop: a resource error (EMFILE,
//   ENFILE, ENOBUFS, ENOMEM) pauses it, 10 ms doubling to 1 s, and it resumes by itself; its log line is
//   written at most once per 10 s. There is no connection cap: the receiver does not report when it closes a
//   connection.
// - on_fd runs on the listener's thread, once per connection, with a connected TCP socket in non-blocking
//   mode with TCP_NODELAY and close-on-exec set; it must not block.
// - Stop() closes the listening socket and joins the thread (no on_fd afterwards); idempotent; the destructor
//   stops. Start/Stop/port are for one controlling thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace inferd::net {

class HandoffListener {
 public:
  HandoffListener(std::string name, std::function<void(int fd)> on_fd);
  ~HandoffListener();
  HandoffListener(const HandoffListener&) = delete;
  HandoffListener& operator=(const HandoffListener&) = delete;

  Status Start(const std::string& host, int port);
  int port() const { return port_; }
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace inferd::net
