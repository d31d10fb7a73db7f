#include "util/test_util.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <regex>
#include <thread>

namespace inferd::testing {

std::string ModelsDir() {
  const char* e = getenv("INFERD_TEST_MODELS");
#ifdef INFERD_TEST_MODELS
  return e ? e : INFERD_TEST_MODELS;
#else
  return e ? e : "";
#endif
}

std::string InferdBin() {
  const char* e = getenv("INFERD_BIN");
#ifdef INFERD_BIN
  return e ? e : INFERD_BIN;
#else
  return e ? e : "inferd";
#endif
}

struct ServerProcess::Impl {
  int out_fd = -1;
  std::thread reader;
  std::mutex mu;
  std::string output;
  bool exited = false;
  int exit_status = -1;
};

std::unique_ptr<ServerProcess> ServerProcess::Start(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) return nullptr;
  std::vector<std::string> full = {InferdBin(), "model-server"};
  full.insert(full.end(), args.begin(), args.end());
  if (std::find(args.begin(), args.end(), "--http_port") == args.end()) {
    full.push_back("--http_port");
    full.push_back("0");
  }
  if (std::find(args.begin(), args.end(), "--grpc_port") == args.end()) {
    full.push_back("--grpc_port");
    full.push_back("0");
  }
  pid_t pid = fork();
  if (pid < 0) return nullptr;
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  auto sp = std::unique_ptr<ServerProcess>(new ServerProcess());
  sp->impl_ = std::make_unique<Impl>();
  sp->pid_ = pid;
  sp->impl_->out_fd = fds[0];
  Impl* impl = sp->impl_.get();
  impl->reader = std::thread([impl] {
    char buf[4096];
    for (;;) {
      ssize_t n = read(impl->out_fd, buf, sizeof buf);
      if (n <= 0) break;
      std::lock_guard<std::mutex> l(impl->mu);
      impl->output.append(buf, static_cast<size_t>(n));
    }
  });
  std::regex re("listening http_port=(\\d+) grpc_port=(\\d+)");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard<std::mutex> l(impl->mu);
      std::smatch m;
      if (std::regex_search(impl->output, m, re)) {
        sp->http_port_ = std::stoi(m[1]);
        sp->grpc_port_ = std::stoi(m[2]);
        return sp;
      }
    }
    if (!sp->Alive()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  fprintf(stderr, "inferd did not start listening; output:\n%s\n", sp->Output().c_str());
  return nullptr;
}

ServerProcess::~ServerProcess() {
  if (Alive()) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    int st;
    waitpid(pid_, &st, 0);
  }
  if (impl_ && impl_->reader.joinable()) impl_->reader.join();
  if (impl_ && impl_->out_fd >= 0) close(impl_->out_fd);
}

bool ServerProcess::Alive() {
  if (impl_->exited) return false;
  int st;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    impl_->exited = true;
    impl_->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return false;
  }
  return true;
}

std::string ServerProcess::Output() {
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->output;
}

std::unique_ptr<ServerProcess> ServerProcess::StartReady(const std::vector<std::string>& args, std::string* error,
                                                         int ready_timeout_ms) {
  std::string cmd = InferdBin() + " model-server";
  for (const auto& a : args) cmd += " " + a;
  auto s = Start(args);
  if (!s) {
    *error = "the model server did not start listening: " + cmd;
    return nullptr;
  }
  if (!s->WaitReady(ready_timeout_ms)) {
    *error = "the model server did not become ready within " + std::to_string(ready_timeout_ms) + " ms: " + cmd +
             "\noutput:\n" + s->Output();
    return nullptr;
  }
  error->clear();
  return s;
}

bool ServerProcess::WaitReady(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (HttpRequest(http_port_, "GET", "/v2/health/ready", "", {}, 1000).status == 200) return true;
    if (!Alive()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int ServerProcess::Terminate(int timeout_ms) {
  if (!Alive()) return impl_->exit_status;
  kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!Alive()) return impl_->exit_status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

namespace {
size_t WriteBody(char* p, size_t s, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, s * n);
  return s * n;
}
size_t WriteHeader(char* p, size_t s, size_t n, void* ud) {
  std::string line(p, s * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string k = line.substr(0, colon);
    std::transform(k.begin(), k.end(), k.begin(), ::tolower);
    std::string v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ')) v.erase(v.begin());
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(ud))[k] = v;
  }
  return s * n;
}
}  // namespace

namespace {
// uds_path non-empty: over that Unix socket (the URL's host:port is then only the Host header).
HttpResponse DoRequest(int port, const std::string& uds_path, const std::string& method, const std::string& path,
                       const std::string& body, const std::vector<std::string>& headers, long timeout_ms) {
  HttpResponse r;
  CURL* c = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (!uds_path.empty()) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, uds_path.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  if (method == "POST" || method == "PUT" || !body.empty()) {  // PATCH and DELETE carry bodies too
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  struct curl_slist* hl = nullptr;
  for (const auto& h : headers) hl = curl_slist_append(hl, h.c_str());
  hl = curl_slist_append(hl, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  } else {
    r.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return r;
}
}  // namespace

HttpResponse HttpRequest(int port, const std::string& method, const std::string& path, const std::string& body,
                         const std::vector<std::string>& headers, long timeout_ms) {
  return DoRequest(port, "", method, path, body, headers, timeout_ms);
}

HttpResponse HttpRequestUds(const std::string& uds_path, const std::string& method, const std::string& path,
                            const std::string& body, const std::vector<std::string>& headers, long timeout_ms) {
  return DoRequest(80, uds_path, method, path, body, headers, timeout_ms);
}

HttpResponse HttpGet(int port, const std::string& path) { return HttpRequest(port, "GET", path, "", {}); }

HttpResponse HttpPost(int port, const std::string& path, const std::string& body,
                      const std::vector<std::string>& headers) {
  return HttpRequest(port, "POST", path, body, headers);
}

}  // namespace inferd::testing
