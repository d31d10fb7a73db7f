// Tests of operator/health.h: the probe server of `inferd operator` answers /healthz and /readyz, refuses other
// methods and paths, and keeps answering while other clients hold connections open without sending a request
// (the kubelet's probes must not wait behind them).
#include "operator/health.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <vector>

#include <gtest/gtest.h>

#include "util/test_util.h"

namespace {

using inferd::op::HealthServer;

// A connected socket that has sent `bytes` and then nothing more.
int Idle(int port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  if (!bytes.empty() && send(fd, bytes.data(), bytes.size(), 0) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(HealthServerTest, AnswersProbesAndRefusesTheRest) {
  std::atomic<bool> ready{false};
  auto s = HealthServer::Start("127.0.0.1", 0, [&] { return ready.load(); });
  ASSERT_TRUE(s.ok()) << s.status().message();
  const int port = (*s)->port();
  EXPECT_EQ(inferd::testing::HttpGet(port, "/healthz").status, 200);
  EXPECT_EQ(inferd::testing::HttpGet(port, "/readyz").status, 503);
  ready = true;
  EXPECT_EQ(inferd::testing::HttpGet(port, "/readyz").status, 200);
  EXPECT_EQ(inferd::testing::HttpGet(port, "/metrics").status, 404);
  EXPECT_EQ(inferd::testing::HttpRequest(port, "POST", "/healthz", "x", {}).status, 405);
}

TEST(HealthServerTest, IdleAndPartialConnectionsDoNotStallProbes) {
  auto s = HealthServer::Start("127.0.0.1", 0, [] { return true; });
  ASSERT_TRUE(s.ok()) << s.status().message();
  const int port = (*s)->port();
  // Half the cap idle, half with a partial head: the old one-connection-at-a-time server answered nothing
  // until each of them timed out.
  std::vector<int> held;
  for (int i = 0; i < HealthServer::kMaxConnections / 2 - 1; ++i) held.push_back(Idle(port, ""));
  for (int i = 0; i < HealthServer::kMaxConnections / 2 - 1; ++i) held.push_back(Idle(port, "GET /healthz HTTP/1.1\r\n"));
  for (int fd : held) ASSERT_GE(fd, 0);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(inferd::testing::HttpGet(port, "/healthz").status, 200);
  for (int fd : held) close(fd);
}

TEST(HealthServerTest, BadHostIsAnError) {
  auto s = HealthServer::Start("not-an-address", 0, [] { return true; });
  EXPECT_FALSE(s.ok());
}

}  // namespace
