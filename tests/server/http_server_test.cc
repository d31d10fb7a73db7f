// server/http_server.h: new connections are handed to the event loops in turn (8 connections over 2 loops:
// 4 and 4, where SO_REUSEPORT acceptors per loop let the kernel's hash split them 6/2 or 7/1 about half the
// time), and a server started with a handoff channel serves the connections passed to it.
#include "server/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "model/backend_registry.h"
#include "model/repository.h"
#include "net/conn_handoff.h"
#include "server/metrics.h"
#include "server/rest_handler.h"

namespace inferd {
namespace {

// One REST front end over an empty repository (/v2/health/live answers 200 without a model).
struct Front {
  explicit Front(ServerOptions o) : options(std::move(o)), repo(&registry, RepositoryOptions{}) {
    handler = std::make_unique<RestHandler>(&repo, &metrics, &state, options, nullptr, V1PassThroughs{});
    server = std::make_unique<HttpServer>(handler.get(), &state, options);
  }
  ~Front() { server->Stop(); }
  ServerOptions options;
  BackendRegistry registry;
  ModelRepository repo;
  Metrics metrics;
  ServerState state;
  std::unique_ptr<RestHandler> handler;
  std::unique_ptr<HttpServer> server;
};

ServerOptions Local(int workers) {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.http_port = 0;
  o.workers = workers;
  return o;
}

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// One keep-alive request on `fd`; the status line of its answer.
std::string Live(int fd) {
  const std::string req = "GET /v2/health/live HTTP/1.1\r\nHost: t\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) return "write failed";
  char buf[512];
  const ssize_t n = read(fd, buf, sizeof buf);
  if (n <= 0) return "no answer";
  const std::string got(buf, static_cast<size_t>(n));
  return got.substr(0, got.find("\r\n"));
}

TEST(HttpServerSpread, ConnectionsGoToTheLoopsInTurn) {
  Front f(Local(2));
  ASSERT_TRUE(f.server->Start().ok());
  std::vector<int> fds;
  for (int i = 0; i < 8; ++i) {
    fds.push_back(Connect(f.server->port()));
    ASSERT_GE(fds.back(), 0);
    EXPECT_EQ(Live(fds.back()), "HTTP/1.1 200 OK");  // answered: its session exists on some loop
  }
  EXPECT_EQ(f.server->OpenConnectionsPerLoop(), (std::vector<size_t>{4, 4}));
  for (int fd : fds) close(fd);
}

// A copy (ServerOptions::handoff_fd) binds nothing, says it serves, and answers what arrives on its channel.
TEST(HttpServerSpread, ACopyServesPassedConnections) {
  auto ch = net::MakeChannel();
  ASSERT_TRUE(ch.ok());
  ServerOptions o = Local(2);
  o.http_port = 1;  // not bound: a copy reports the first process's port
  o.handoff_fd = ch->second;
  Front copy(o);
  ASSERT_TRUE(copy.server->Start().ok());
  EXPECT_EQ(copy.server->port(), 1);
  // The connections come from an ordinary listener standing in for the first process.
  Front first(Local(1));
  ASSERT_TRUE(first.server->Start().ok());
  first.server->AddCopy(ch->first);
  usleep(300 * 1000);  // its loop reads the copy's 'R' (queued since Start) and gives the copy its turn
  std::vector<int> fds;
  for (int i = 0; i < 6; ++i) {
    fds.push_back(Connect(first.server->port()));
    ASSERT_GE(fds.back(), 0);
    EXPECT_EQ(Live(fds.back()), "HTTP/1.1 200 OK") << i;
  }
  // In turn: first, copy, first, ...; the copy spreads its share over its own two loops in turn.
  EXPECT_EQ(first.server->OpenConnectionsPerLoop(), (std::vector<size_t>{3}));
  EXPECT_EQ(copy.server->OpenConnectionsPerLoop(), (std::vector<size_t>{2, 1}));
  for (int fd : fds) close(fd);
}

TEST(HttpServerSpread, ABadHandoffDescriptorIsAnError) {
  ServerOptions o = Local(1);
  o.handoff_fd = 9999;  // not open
  Front f(o);
  Status st = f.server->Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--handoff_fd 9999"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace inferd
