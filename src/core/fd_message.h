// core/fd_message.h: one datagram that may carry one file descriptor (SCM_RIGHTS), over a Unix SOCK_SEQPACKET
// socket: the one implementation under the replica templates' protocol (supervisor/zygote.h) and the
// connections `--processes` passes to its copies (net/conn_handoff.h).
//
// Contract (plain system calls; no threads, no allocation beyond the caller's buffer):
// - SendFdMessage(sock, data, fd, flags): one sendmsg of `data`, with `fd` attached when fd >= 0; MSG_NOSIGNAL
//   always (a gone peer is a failed send, not SIGPIPE), `flags` adds e.g. MSG_DONTWAIT; EINTR is retried.
//   True when the whole datagram went. The caller keeps its own `fd` either way.
// - RecvFdMessage(sock, buf, flags): one recvmsg into `*buf`, whose size on entry is the most accepted and
//   which is resized to what arrived; EINTR is retried; descriptors arrive close-on-exec. In the result:
//   `n` the bytes (0: the peer closed; -1: an error or nothing queued with MSG_DONTWAIT, errno kept); `fd` the
//   first descriptor that came (the caller owns it), else -1; `extra` how many more came (closed here);
//   `truncated` when the datagram or its descriptors did not fit (then `fd` is closed too and is -1), so a
//   broken or hostile peer can never leave a descriptor open in the receiver.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace inferd {

bool SendFdMessage(int sock, std::string_view data, int fd, int flags);

struct FdMessage {
  ssize_t n = -1;
  int fd = -1;
  int extra = 0;
  bool truncated = false;
};
FdMessage RecvFdMessage(int sock, std::string* buf, int flags);

}  // namespace inferd
