// cli/worker_processes.cc: see worker_processes.h.
#include "cli/worker_processes.h"

#include <pthread.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <thread>

#include "core/logging.h"
#include "net/conn_handoff.h"

namespace inferd::cli {
namespace {

// The flags a copy does not inherit (each takes one value): those it gets its own value for, and --uds, whose
// socket file only the first process serves (a copy binding the same path would fail, or take it over).
bool Overridden(const std::string& name) {
  static const char* const kFlags[] = {"--http_port", "--http-port", "--workers",   "--processes", "--enable_grpc",
                                       "--grpc_port", "--grpc-port", "--uds",       "--handoff_fd"};
  return std::any_of(std::begin(kFlags), std::end(kFlags), [&](const char* f) { return name == f; });
}

}  // namespace

std::vector<std::string> CopyArgv(const std::vector<std::string>& argv, int http_port, int handoff_fd) {
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    const size_t eq = a.find('=');
    if (i > 0 && a.rfind("--", 0) == 0 && Overridden(a.substr(0, eq))) {
      if (eq == std::string::npos) ++i;  // `--flag value`: skip the value too
      continue;
    }
    out.push_back(a);
  }
  out.insert(out.end(), {"--http_port", std::to_string(http_port), "--workers", "1", "--processes", "1",
                         "--enable_grpc", "false", "--handoff_fd", std::to_string(handoff_fd)});
  return out;
}

StatusOr<std::vector<std::string>> OwnArgv() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.empty()) return Internal("cannot read /proc/self/cmdline");
  std::vector<std::string> argv;
  size_t start = 0;
  while (start < all.size()) {
    size_t end = all.find('\0', start);
    if (end == std::string::npos) end = all.size();
    argv.push_back(all.substr(start, end - start));
    start = end + 1;
  }
  return argv;
}

void BlockChildSignal(sigset_t* set) {
  sigaddset(set, SIGCHLD);
  sigset_t child;
  sigemptyset(&child);
  sigaddset(&child, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &child, nullptr);
}

StatusOr<std::vector<Copy>> StartCopies(int count, int http_port) {
  ASSIGN_OR_RETURN(std::vector<std::string> own, OwnArgv());
  sigset_t child_signal;
  sigemptyset(&child_signal);
  sigaddset(&child_signal, SIGCHLD);
  const pid_t parent = getpid();
  std::vector<Copy> copies;
  auto fail = [&copies](std::string why) {
    std::vector<int> pids;
    for (const Copy& c : copies) {
      pids.push_back(c.pid);
      close(c.channel);
    }
    StopCopies(pids, std::chrono::milliseconds(1000));
    return Internal("--processes: " + why);
  };
  for (int i = 0; i < count; ++i) {
    auto channel = net::MakeChannel();
    if (!channel.ok()) return fail(channel.status().message());
    const std::vector<std::string> args = CopyArgv(own, http_port, channel->second);
    std::vector<char*> cargv;  // built before fork: the child calls only async-signal-safe functions
    for (const auto& a : args) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(1);  // the first process is already gone
      sigprocmask(SIG_UNBLOCK, &child_signal, nullptr);
      fcntl(channel->second, F_SETFD, 0);  // the copy's end survives exec; every other descriptor is CLOEXEC
      execv("/proc/self/exe", cargv.data());
      _exit(127);
    }
    close(channel->second);
    if (pid < 0) {
      close(channel->first);
      return fail("fork failed");
    }
    copies.push_back({pid, channel->first});
  }
  LOG_INFO("--processes: started {} more process(es) on port {}", count, http_port);
  return copies;
}

int WaitForShutdownOrCopyExit(const sigset_t& set, std::vector<int>& pids) {
  while (true) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != SIGCHLD) return sig;
    for (auto it = pids.begin(); it != pids.end(); ++it) {
      int status = 0;
      if (waitpid(*it, &status, WNOHANG) != *it) continue;
      if (WIFEXITED(status)) {
        LOG_ERROR("--processes: process {} exited with status {}; stopping the others", *it, WEXITSTATUS(status));
      } else {
        LOG_ERROR("--processes: process {} ended by signal {}; stopping the others", *it, WTERMSIG(status));
      }
      pids.erase(it);
      return -1;
    }
  }
}

void StopCopies(std::vector<int>& pids, std::chrono::milliseconds grace) {
  for (int pid : pids) kill(pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!pids.empty()) {
    std::erase_if(pids, [](int pid) { return waitpid(pid, nullptr, WNOHANG) == pid; });
    if (pids.empty()) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      for (int pid : pids) kill(pid, SIGKILL);
      for (int pid : pids) waitpid(pid, nullptr, 0);
      pids.clear();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace inferd::cli
