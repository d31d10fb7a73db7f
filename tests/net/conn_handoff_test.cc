// net/conn_handoff.h: a connected socket passed over a channel is the same connection on the other side; the
// ready message; a gone peer; and what a broken or hostile peer can send (no descriptor leaks, no block).
#include "net/conn_handoff.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "core/fd_message.h"

namespace inferd::net {
namespace {

size_t OpenFds() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST(ConnHandoffTest, APassedSocketIsTheSameConnection) {
  auto ch = MakeChannel();
  ASSERT_TRUE(ch.ok()) << ch.status().message();
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  ASSERT_TRUE(SendConn(ch->first, pair[0], kConnUnix));
  close(pair[0]);  // the sender's copy goes; the connection lives on in the receiver's
  Received r = Receive(ch->second);
  ASSERT_EQ(r.what, Received::kConn);
  EXPECT_EQ(r.kind, kConnUnix);
  ASSERT_GE(r.fd, 0);
  ASSERT_EQ(write(r.fd, "hello", 5), 5);
  char buf[8] = {};
  ASSERT_EQ(read(pair[1], buf, sizeof buf), 5);
  EXPECT_STREQ(buf, "hello");
  EXPECT_EQ(Receive(ch->second).what, Received::kEmpty);  // nothing more queued, and no block
  close(r.fd);
  close(pair[1]);
  close(ch->first);
  close(ch->second);
}

TEST(ConnHandoffTest, ReadyThenClosed) {
  auto ch = MakeChannel();
  ASSERT_TRUE(ch.ok());
  ASSERT_TRUE(SendReady(ch->second));
  EXPECT_EQ(Receive(ch->first).what, Received::kReady);
  close(ch->second);
  EXPECT_EQ(Receive(ch->first).what, Received::kClosed);
  EXPECT_FALSE(SendReady(ch->first));  // no SIGPIPE: a failed send
  close(ch->first);
}

// Raw messages a broken or hostile peer could send: each is kBad, and every descriptor it carried is closed.
void SendRaw(int channel, char byte, const int* fds, size_t n) {
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (n > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
  }
  ASSERT_EQ(sendmsg(channel, &msg, 0), 1);
}

TEST(ConnHandoffTest, BadMessagesAreDroppedWithTheirDescriptors) {
  auto ch = MakeChannel();
  ASSERT_TRUE(ch.ok());
  int pipefd[2];
  ASSERT_EQ(pipe(pipefd), 0);
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  const size_t before = OpenFds();
  SendRaw(ch->first, kConnTcp, nullptr, 0);          // a connection without a descriptor
  SendRaw(ch->first, kConnTcp, pipefd, 1);           // not a socket
  SendRaw(ch->first, 'X', pair, 1);                  // an unknown kind
  SendRaw(ch->first, kConnTcp, pair, 2);             // two descriptors
  SendRaw(ch->first, 'R', pair, 1);                  // "ready" carrying a descriptor
  ASSERT_TRUE(SendFdMessage(ch->first, "TT", pair[0], 0));  // longer than one byte: truncated
  for (int i = 0; i < 6; ++i) EXPECT_EQ(Receive(ch->second).what, Received::kBad) << i;
  EXPECT_EQ(Receive(ch->second).what, Received::kEmpty);
  EXPECT_EQ(OpenFds(), before);  // every received duplicate was closed
  for (int fd : {pipefd[0], pipefd[1], pair[0], pair[1], ch->first, ch->second}) close(fd);
}

// A receiver that does not read: sends fail at once (the accepting process serves the connection itself).
TEST(ConnHandoffTest, AFullQueueFailsWithoutBlocking) {
  auto ch = MakeChannel();
  ASSERT_TRUE(ch.ok());
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  int sent = 0;
  while (sent < 100000 && SendConn(ch->first, pair[0], kConnUnix)) ++sent;
  EXPECT_GT(sent, 0);
  EXPECT_LT(sent, 100000);
  for (Received r = Receive(ch->second); r.what == Received::kConn; r = Receive(ch->second)) close(r.fd);
  for (int fd : {pair[0], pair[1], ch->first, ch->second}) close(fd);
}

}  // namespace
}  // namespace inferd::net
