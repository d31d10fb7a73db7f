// net/listener.h's socket setup: a listener's host, and one SO_REUSEPORT acceptor per event loop on one port.
#include "net/listener.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <vector>

namespace inferd::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST(ListenAddressTest, IpAddressesOnlyNamingTheListener) {
  EXPECT_TRUE(ListenAddress("127.0.0.1", "http").ok());
  EXPECT_TRUE(ListenAddress("::1", "http").ok());
  auto bad = ListenAddress("localhost", "gateway host");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "gateway host: 'localhost' is not an IP address");
}

TEST(ListenTcpEachTest, OneAcceptorPerLoopOnOnePort) {
  std::vector<std::unique_ptr<asio::io_context>> ctxs;
  std::vector<asio::io_context*> loops;
  for (int i = 0; i < 3; ++i) {
    ctxs.push_back(std::make_unique<asio::io_context>());
    loops.push_back(ctxs.back().get());
  }
  std::vector<tcp::acceptor> acceptors;
  int port = 0;
  ASSERT_TRUE(ListenTcpEach(loops, asio::ip::make_address("127.0.0.1"), 0, "test", &acceptors, &port).ok());
  ASSERT_EQ(acceptors.size(), 3u);
  EXPECT_GT(port, 0);
  for (size_t i = 0; i < acceptors.size(); ++i) {
    EXPECT_EQ(acceptors[i].local_endpoint().port(), port);
    EXPECT_EQ(&static_cast<asio::io_context&>(acceptors[i].get_executor().context()), loops[i]);
  }
  // Without SO_REUSEPORT the port is taken.
  asio::io_context other;
  tcp::acceptor plain(other);
  Status st = ListenTcp(plain, asio::ip::make_address("127.0.0.1"), port, /*reuse_port=*/false, "plain");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.message();
}

TEST(EventLoopsTest, ConfiguredOrOnePerHardwareThread) {
  EXPECT_EQ(EventLoops(3), 3);
  EXPECT_GE(EventLoops(0), 1);
}

}  // namespace
}  // namespace inferd::net
