// HandoffListener on real sockets: connections reach the callback as non-blocking TCP_NODELAY descriptors, and
// after accept ran into the open-file limit (EMFILE) the listener resumes by itself once descriptors are free
// again (gRPC 1.51's own listener stops for good there, which is why the gRPC ports use this one).
#include "net/handoff.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace inferd::net {
namespace {

using namespace std::chrono_literals;

std::vector<int> Sockets(int n) {
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) fds.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  return fds;
}

// Connects the sockets to 127.0.0.1:port (the kernel completes them whether or not they are accepted).
void Connect(const std::vector<int>& fds, int port) {
  for (int fd : fds) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
}

class Received {
 public:
  void Add(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(fd);
  }
  size_t WaitFor(size_t n, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (fds_.size() >= n) return fds_.size();
      }
      std::this_thread::sleep_for(5ms);
    }
    std::lock_guard<std::mutex> lock(mu_);
    return fds_.size();
  }
  std::vector<int> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(fds_);
  }

 private:
  std::mutex mu_;
  std::vector<int> fds_;
};

void CloseAll(const std::vector<int>& fds) {
  for (int fd : fds) ::close(fd);
}

TEST(HandoffListener, HandsOverNonBlockingNoDelaySockets) {
  Received got;
  HandoffListener l("test", [&](int fd) { got.Add(fd); });
  ASSERT_TRUE(l.Start("127.0.0.1", 0).ok());
  ASSERT_GT(l.port(), 0);
  auto clients = Sockets(3);
  Connect(clients, l.port());
  ASSERT_EQ(got.WaitFor(3, 5s), 3u);
  for (int fd : got.Take()) {
    EXPECT_NE(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    int nodelay = 0;
    socklen_t len = sizeof nodelay;
    ASSERT_EQ(::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
    EXPECT_NE(nodelay, 0);
    ::close(fd);
  }
  CloseAll(clients);
  l.Stop();
  l.Stop();  // idempotent
}

TEST(HandoffListener, BusyPortIsAnError) {
  HandoffListener a("a", [](int fd) { ::close(fd); });
  ASSERT_TRUE(a.Start("127.0.0.1", 0).ok());
  HandoffListener b("b", [](int fd) { ::close(fd); });
  EXPECT_FALSE(b.Start("127.0.0.1", a.port()).ok());
}

TEST(HandoffListener, ResumesAfterRunningOutOfDescriptors) {
  Received got;
  HandoffListener l("test", [&](int fd) { got.Add(fd); });
  ASSERT_TRUE(l.Start("127.0.0.1", 0).ok());
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = std::min<rlim_t>(old.rlim_cur, 4096);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  // The clients' sockets, then every other descriptor used up, then the connections: they wait in the
  // kernel's queue while accept fails.
  auto clients = Sockets(4);
  std::vector<int> filler;
  for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) filler.push_back(fd);
  ASSERT_EQ(errno, EMFILE);
  Connect(clients, l.port());
  std::this_thread::sleep_for(300ms);  // accept fails (EMFILE) and pauses meanwhile
  EXPECT_EQ(got.WaitFor(1, 10ms), 0u);
  CloseAll(filler);  // descriptors free again: the listener goes on by itself
  EXPECT_EQ(got.WaitFor(4, 5s), 4u);
  ::setrlimit(RLIMIT_NOFILE, &old);
  CloseAll(got.Take());
  CloseAll(clients);
}

}  // namespace
}  // namespace inferd::net
