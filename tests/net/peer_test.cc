// net/peer.h on real sockets: a Unix-domain peer and a loopback TCP client are local; a descriptor that is not
// a connected socket is not; the address ranges (127/8, ::1, ::ffff:127.x.y.z) are loopback and nothing else.
#include "net/peer.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace inferd::net {
namespace {

TEST(PeerTest, UnixAndLoopbackPeersAreLocal) {
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  EXPECT_TRUE(PeerIsLocal(pair[0]));
  ::close(pair[0]);
  ::close(pair[1]);

  int lst = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lst, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lst, 1), 0);
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(lst, reinterpret_cast<sockaddr*>(&a), &len), 0);
  int client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  int accepted = ::accept(lst, nullptr, nullptr);
  ASSERT_GE(accepted, 0);
  EXPECT_TRUE(PeerIsLocal(accepted));
  ::close(accepted);
  ::close(client);
  ::close(lst);
}

TEST(PeerTest, WhatCannotBePlacedIsNotLocal) {
  int unconnected = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_FALSE(PeerIsLocal(unconnected));
  ::close(unconnected);
  EXPECT_FALSE(PeerIsLocal(-1));
}

TEST(PeerTest, LoopbackRanges) {
  auto v4 = [](const char* ip) {
    in_addr a{};
    EXPECT_EQ(inet_pton(AF_INET, ip, &a), 1) << ip;
    return IsLoopbackAddress(AF_INET, &a);
  };
  auto v6 = [](const char* ip) {
    in6_addr a{};
    EXPECT_EQ(inet_pton(AF_INET6, ip, &a), 1) << ip;
    return IsLoopbackAddress(AF_INET6, &a);
  };
  EXPECT_TRUE(v4("127.0.0.1"));
  EXPECT_TRUE(v4("127.255.0.9"));
  EXPECT_FALSE(v4("128.0.0.1"));
  EXPECT_FALSE(v4("10.0.0.127"));
  EXPECT_TRUE(v6("::1"));
  EXPECT_TRUE(v6("::ffff:127.0.0.2"));
  EXPECT_FALSE(v6("::ffff:10.0.0.1"));
  EXPECT_FALSE(v6("::2"));
  EXPECT_FALSE(v6("fe80::1"));
  in_addr any{};
  EXPECT_FALSE(IsLoopbackAddress(AF_UNIX, &any));
}

}  // namespace
}  // namespace inferd::net
