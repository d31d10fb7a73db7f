// net/conn_handoff.h: connected sockets passed between the processes of one listener, over a Unix
// SOCK_SEQPACKET socketpair (a "channel"), for `inferd model-server --processes N` (cli/worker_processes.h):
// the first process accepts every connection and hands every N-th to each copy in turn, so that N processes
// share the load evenly. Why not SO_REUSEPORT sockets in each process (as before): the kernel hashes
// connections onto them, and 8 connections split 6/2 or 7/1 about as often as 4/4 (docs/benchmarks.md).
//
// Contract (plain syscalls, no threads, no allocation beyond the message):
// - MakeChannel: a socketpair(AF_UNIX, SOCK_SEQPACKET), both ends close-on-exec and non-blocking.
// - SendConn(channel, fd, kind): one message, one byte (kind: 'T' a TCP socket, 'U' a Unix stream socket)
//   carrying `fd` (SCM_RIGHTS). It never blocks: false when the receiver's queue is full or the receiver is
//   gone; the caller keeps (or closes) its own `fd` either way: the receiver gets a new descriptor.
// - SendReady(channel): one message 'R' with no descriptor: a copy says it serves.
// - Receive(channel): one message: kConn with the descriptor (close-on-exec, non-blocking) and its kind;
//   kReady for 'R'; kEmpty when nothing is queued; kClosed when the other end is gone. Anything else (no or
//   several descriptors, a descriptor that is not a socket, an unknown kind, a truncated message) is kBad,
//   and every descriptor it carried is closed: a hostile or broken peer cannot leak descriptors into this
//   process.
#pragma once

#include "core/status.h"

namespace inferd::net {

struct ChannelPair {
  int first = -1;   // the accepting process's end
  int second = -1;  // the copy's end
};
StatusOr<ChannelPair> MakeChannel();

inline constexpr char kConnTcp = 'T';
inline constexpr char kConnUnix = 'U';

bool SendConn(int channel, int fd, char kind);
bool SendReady(int channel);

struct Received {
  enum Kind { kConn, kReady, kEmpty, kClosed, kBad } what = kEmpty;
  int fd = -1;     // kConn: owned by the caller
  char kind = 0;   // kConn: kConnTcp or kConnUnix
};
Received Receive(int channel);

}  // namespace inferd::net
