// core/fd_message.cc: see fd_message.h.
#include "core/fd_message.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace inferd {
namespace {

// Room for a few descriptors, so that a datagram carrying more than one is seen (and all of them closed)
// rather than cut short by the kernel.
constexpr size_t kFdRoom = 4;

}  // namespace

bool SendFdMessage(int sock, std::string_view data, int fd, int flags) {
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t n;
  do {
    n = ::sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(data.size());
}

FdMessage RecvFdMessage(int sock, std::string* buf, int flags) {
  iovec iov{buf->data(), buf->size()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFdRoom)] = {};
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  FdMessage out;
  do {
    out.n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
  } while (out.n < 0 && errno == EINTR);
  const int saved = errno;
  if (out.n > 0) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int got;
        std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
        if (out.fd < 0) {
          out.fd = got;
        } else {
          ::close(got);
          ++out.extra;
        }
      }
    }
    out.truncated = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
    if (out.truncated && out.fd >= 0) {
      ::close(out.fd);
      out.fd = -1;
    }
  }
  buf->resize(out.n > 0 ? static_cast<size_t>(out.n) : 0);
  errno = saved;
  return out;
}

}  // namespace inferd
