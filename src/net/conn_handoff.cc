// net/conn_handoff.cc: see conn_handoff.h. The datagrams themselves are core/fd_message.h's.
#include "net/conn_handoff.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/fd_message.h"

namespace inferd::net {

StatusOr<ChannelPair> MakeChannel() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
    return Internal(std::string("cannot make a connection channel: ") + std::strerror(errno));
  }
  return ChannelPair{sv[0], sv[1]};
}

bool SendConn(int channel, int fd, char kind) {
  return SendFdMessage(channel, std::string_view(&kind, 1), fd, MSG_DONTWAIT);
}

bool SendReady(int channel) { return SendFdMessage(channel, "R", -1, MSG_DONTWAIT); }

Received Receive(int channel) {
  std::string byte(1, '\0');  // a longer datagram is truncated, hence bad
  const FdMessage m = RecvFdMessage(channel, &byte, MSG_DONTWAIT);
  if (m.n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
    return {Received::kClosed};
  }
  if (m.n == 0) return {Received::kClosed};
  const char kind = byte[0];
  if (!m.truncated && m.fd < 0 && m.extra == 0 && kind == 'R') return {Received::kReady};
  struct stat st {};
  const bool socket = m.fd >= 0 && ::fstat(m.fd, &st) == 0 && S_ISSOCK(st.st_mode);
  const int flags = socket ? ::fcntl(m.fd, F_GETFL) : -1;
  if (m.truncated || m.extra != 0 || !socket || (kind != kConnTcp && kind != kConnUnix) || flags < 0 ||
      ::fcntl(m.fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    if (m.fd >= 0) ::close(m.fd);
    return {Received::kBad};
  }
  return {Received::kConn, m.fd, kind};
}

}  // namespace inferd::net
