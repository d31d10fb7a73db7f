// net/conn_handoff.cc: see conn_handoff.h.
#include "net/conn_handoff.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace inferd::net {
namespace {

// Room for a few descriptors, so that a message carrying more than one is read whole and all of them closed.
constexpr size_t kMaxFds = 4;

void CloseAll(const int* fds, size_t n) {
  for (size_t i = 0; i < n; ++i) ::close(fds[i]);
}

}  // namespace

StatusOr<ChannelPair> MakeChannel() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
    return Internal(std::string("cannot make a connection channel: ") + std::strerror(errno));
  }
  return ChannelPair{sv[0], sv[1]};
}

bool SendConn(int channel, int fd, char kind) {
  char byte = kind;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  return ::sendmsg(channel, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) == 1;
}

bool SendReady(int channel) {
  const char byte = 'R';
  return ::send(channel, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1;
}

Received Receive(int channel) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(channel, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return {};
    return {Received::kClosed};
  }
  if (n == 0) return {Received::kClosed};
  int fds[kMaxFds];
  size_t nfds = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count && nfds < kMaxFds; ++i) {
      std::memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
    }
  }
  const bool truncated = (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
  if (!truncated && nfds == 0 && byte == 'R') return {Received::kReady};
  struct stat st {};
  if (truncated || nfds != 1 || (byte != kConnTcp && byte != kConnUnix) || ::fstat(fds[0], &st) != 0 ||
      !S_ISSOCK(st.st_mode)) {
    CloseAll(fds, nfds);
    return {Received::kBad};
  }
  const int flags = ::fcntl(fds[0], F_GETFL);
  if (flags < 0 || ::fcntl(fds[0], F_SETFL, flags | O_NONBLOCK) != 0) {
    CloseAll(fds, nfds);
    return {Received::kBad};
  }
  return {Received::kConn, fds[0], byte};
}

}  // namespace inferd::net
