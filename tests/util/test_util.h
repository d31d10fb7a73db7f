// tests/util/test_util.h: start a real `inferd` process on ephemeral ports and talk to it with libcurl.
//
// Contract: ServerProcess::Start forks/execs `INFERD_BIN model-server` with the given arguments plus
// `--http_port 0 --grpc_port 0`, reads the child's stdout until the line
// "inferd model-server listening http_port=N grpc_port=M" and exposes those ports. The destructor
// kills the process group if the test did not stop it. Helpers are for the test's main thread unless
// stated; Http* functions are thread-safe (one curl easy handle per call).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace inferd::testing {

std::string ModelsDir();  // INFERD_TEST_MODELS
std::string InferdBin();  // INFERD_BIN

class ServerProcess {
 public:
  // Returns nullptr (and prints why) when the server did not start listening within 30 s.
  static std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& args);
  // Start + WaitReady(ready_timeout_ms). On failure: nullptr, and *error says why (with the server's output).
  // For fixtures that share one server: call it from SetUpTestSuite and ASSERT on the result in SetUp().
  // Never ASSERT in SetUpTestSuite: gtest then reports every test of the suite as SKIPPED (and ctest as
  // not failed) instead of failing them.
  static std::unique_ptr<ServerProcess> StartReady(const std::vector<std::string>& args, std::string* error,
                                                   int ready_timeout_ms = 30000);
  ~ServerProcess();

  int http_port() const { return http_port_; }
  int grpc_port() const { return grpc_port_; }
  int pid() const { return pid_; }
  // Polls GET /v2/health/ready until 200 or the timeout.
  bool WaitReady(int timeout_ms = 30000);
  // Sends SIGTERM and waits; returns the exit status (or -1 on timeout / signal).
  int Terminate(int timeout_ms = 30000);
  bool Alive();
  // Everything the child wrote to stdout/stderr so far (collected by a reader thread).
  std::string Output();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int pid_ = -1;
  int http_port_ = 0;
  int grpc_port_ = 0;
};

struct HttpResponse {
  long status = 0;  // 0: transport error
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;                           // curl's message when status == 0
};

HttpResponse HttpGet(int port, const std::string& path);
HttpResponse HttpPost(int port, const std::string& path, const std::string& body,
                      const std::vector<std::string>& headers = {"Content-Type: application/json"});
HttpResponse HttpRequest(int port, const std::string& method, const std::string& path, const std::string& body,
                         const std::vector<std::string>& headers, long timeout_ms = 30000);
// The same over a Unix domain stream socket (`model-server --uds PATH`); Host is 127.0.0.1:80.
HttpResponse HttpRequestUds(const std::string& uds_path, const std::string& method, const std::string& path,
                            const std::string& body, const std::vector<std::string>& headers = {},
                            long timeout_ms = 30000);

}  // namespace inferd::testing
