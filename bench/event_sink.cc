// bench/event_sink.cc: the payload logger benchmark's stand-in for a CloudEvents sink on another machine.
//
// bench/logger_bench.sh runs the sink on the same two cores as the model server it measures, so every
// microsecond the sink spends is taken from the server: with bench/http_hello (Boost.Beast, one parser per
// request) the sink alone cost about 4.6 us of CPU per event, which is most of what the figure then showed.
// A sink on another machine costs the server nothing. This one is written by hand, without Beast, for that
// reason only (measured speed): one blocking thread per connection reads up to 256 KiB at a time, finds each
// complete request (head end, Content-Length, body), and answers all the requests of one read with a single
// write of `HTTP/1.1 200 OK` responses. It counts requests and body bytes, and checks each head for a `Ce-Id`
// header (CloudEvents binary mode); SIGTERM/SIGINT prints the totals.
//
//   event_sink [--host 127.0.0.1] [--port 0] [--max_connections 64]
// prints "event_sink listening port=N" once bound.
//
// Bounds: a head over 64 KiB, a body over 64 MiB, a missing Content-Length on a request with a body
// (Transfer-Encoding: chunked is not supported) or more than --max_connections connections close the
// connection; the sink never buffers more than one request's head and body plus one read.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>

namespace {

constexpr size_t kHeadLimit = 64 * 1024;
constexpr size_t kBodyLimit = 64 * 1024 * 1024;
constexpr size_t kReadSize = 256 * 1024;
constexpr std::string_view kAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

std::atomic<long long> g_requests{0};
std::atomic<long long> g_body_bytes{0};
std::atomic<long long> g_without_ce_id{0};
std::atomic<int> g_connections{0};

// The value of header `name` (case-insensitive) in `head`, or an empty view.
std::string_view HeaderValue(std::string_view head, std::string_view name) {
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    size_t start = pos + 2;
    size_t end = head.find("\r\n", start);
    std::string_view line = head.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      return v;
    }
    pos = end;
  }
  return {};
}

// Parses requests from the front of `buf`. Returns the bytes consumed and adds the requests answered to
// `answers`; -1 when the stream is malformed or over a bound.
long Consume(std::string_view buf, int* answers) {
  size_t done = 0;
  while (true) {
    std::string_view rest = buf.substr(done);
    size_t head_end = rest.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return rest.size() > kHeadLimit ? -1 : static_cast<long>(done);
    std::string_view head = rest.substr(0, head_end + 2);
    size_t body = 0;
    std::string_view cl = HeaderValue(head, "content-length");
    if (!cl.empty()) {
      char* end = nullptr;
      std::string digits(cl.substr(0, cl.find_first_of("\r ")));
      unsigned long long v = std::strtoull(digits.c_str(), &end, 10);
      if (digits.empty() || end == nullptr || *end != '\0' || v > kBodyLimit) return -1;
      body = static_cast<size_t>(v);
    } else if (!HeaderValue(head, "transfer-encoding").empty()) {
      return -1;
    }
    size_t total = head_end + 4 + body;
    if (rest.size() < total) return static_cast<long>(done);
    if (HeaderValue(head, "ce-id").empty()) g_without_ce_id.fetch_add(1, std::memory_order_relaxed);
    g_body_bytes.fetch_add(static_cast<long long>(body), std::memory_order_relaxed);
    ++*answers;
    done += total;
  }
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void Serve(int fd) {
  std::string buf;
  std::string out;
  std::string chunk(kReadSize, '\0');
  while (true) {
    ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    buf.append(chunk.data(), static_cast<size_t>(n));
    int answers = 0;
    long used = Consume(buf, &answers);
    if (used < 0) break;
    buf.erase(0, static_cast<size_t>(used));
    if (answers == 0) continue;
    g_requests.fetch_add(answers, std::memory_order_relaxed);
    out.clear();
    for (int i = 0; i < answers; ++i) out.append(kAnswer);
    if (!WriteAll(fd, out.data(), out.size())) break;
  }
  ::close(fd);
  g_connections.fetch_sub(1);
}

void PrintTotals(int) {
  char line[200];
  int len = std::snprintf(line, sizeof line, "event_sink requests=%lld body_bytes=%lld without_ce_id=%lld\n",
                          g_requests.load(), g_body_bytes.load(), g_without_ce_id.load());
  if (len > 0) (void)!::write(1, line, static_cast<size_t>(len));
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  int max_connections = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view flag = argv[i];
    if (flag == "--host") host = argv[i + 1];
    else if (flag == "--port") port = std::atoi(argv[i + 1]);
    else if (flag == "--max_connections") max_connections = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "event_sink: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, PrintTotals);
  signal(SIGINT, PrintTotals);
  int ls = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      ::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(ls, 128) != 0) {
    std::perror("event_sink: bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("event_sink listening port=%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  while (true) {
    int fd = ::accept(ls, nullptr, nullptr);
    if (fd < 0) continue;
    if (g_connections.load() >= max_connections) {
      ::close(fd);
      continue;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    g_connections.fetch_add(1);
    std::thread(Serve, fd).detach();
  }
}
