// net/listener.h's socket setup: a listener's host, and a port that a second plain socket cannot take.
#include "net/listener.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <string>

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

TEST(ListenTcpTest, PortZeroPicksOneThatAPlainSocketCannotShare) {
  asio::io_context ctx;
  tcp::acceptor first(ctx);
  ASSERT_TRUE(ListenTcp(first, asio::ip::make_address("127.0.0.1"), 0, /*reuse_port=*/false, "first").ok());
  const int port = first.local_endpoint().port();
  EXPECT_GT(port, 0);
  tcp::acceptor second(ctx);
  Status st = ListenTcp(second, asio::ip::make_address("127.0.0.1"), port, /*reuse_port=*/false, "second");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.message();
  EXPECT_NE(st.message().find("second: cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << st.message();
}

TEST(EventLoopsTest, ConfiguredOrOnePerHardwareThread) {
  EXPECT_EQ(EventLoops(3), 3);
  EXPECT_GE(EventLoops(0), 1);
}

}  // namespace
}  // namespace inferd::net
