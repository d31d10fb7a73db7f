// supervisor/zygote.cc: replica templates (see zygote.h).
#include "supervisor/zygote.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/fd_message.h"
#include "core/logging.h"

namespace inferd::supervisor::internal {
namespace {

void PutU32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }

void PutStr(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

// Bounds-checked reader of one message.
struct Reader {
  std::string_view in;
  bool ok = true;
  uint32_t U32() {
    uint32_t v = 0;
    if (in.size() < sizeof v) {
      ok = false;
      return 0;
    }
    memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return v;
  }
  std::string Str() {
    uint32_t n = U32();
    if (!ok || n > in.size()) {
      ok = false;
      return "";
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

bool SendMsg(int sock, const std::string& msg, int fd = -1) { return SendFdMessage(sock, msg, fd, 0); }

// One datagram (and the fd passed with it, else -1). Returns the byte count, 0 at EOF, -1 on error/EAGAIN or a
// truncated datagram (never sent by a well-behaved peer; its descriptors are closed).
ssize_t RecvMsg(int sock, std::string* msg, int* fd, int flags) {
  msg->resize(kMaxZygoteMessage);
  const FdMessage m = RecvFdMessage(sock, msg, flags);
  if (fd) {
    *fd = m.fd;
  } else if (m.fd >= 0) {
    close(m.fd);
  }
  if (m.truncated) {
    errno = EMSGSIZE;  // not EAGAIN: the caller treats it as a broken peer
    return -1;
  }
  return m.n;
}

// ---- template side ---------------------------------------------------------------------------------------

struct ForkRequest {
  std::vector<std::string> argv;
  EnvList env;
  std::string cwd;
};

bool ParseRequest(const std::string& msg, ForkRequest* r) {
  if (msg.empty() || msg[0] != 'F') return false;
  Reader rd{std::string_view(msg).substr(1)};
  uint32_t argc = rd.U32();
  for (uint32_t i = 0; rd.ok && i < argc && i < kMaxZygoteMessage; ++i) r->argv.push_back(rd.Str());
  uint32_t envc = rd.U32();
  for (uint32_t i = 0; rd.ok && i < envc && i < kMaxZygoteMessage; ++i) {
    std::string k = rd.Str();
    std::string v = rd.Str();
    r->env.emplace_back(std::move(k), std::move(v));
  }
  r->cwd = rd.Str();
  return rd.ok && !r->argv.empty();
}

// In the forked child: becomes the replica (see the contract), never returns.
[[noreturn]] void BecomeReplica(pid_t zygote, int out_fd, ForkRequest& req, const ZygoteHooks& hooks,
                                const std::function<int(std::vector<std::string>)>& run) {
  setpgid(0, 0);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != zygote) _exit(126);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  for (int s = 1; s < NSIG; ++s) {
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int devnull = open("/dev/null", O_RDWR);
  if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0) _exit(126);
  if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    for (int fd = 3; fd < 65536; ++fd) close(fd);
  }
  if (!req.cwd.empty() && chdir(req.cwd.c_str()) != 0) {
    dprintf(2, "inferd supervisor: cannot chdir to %s: %s\n", req.cwd.c_str(), strerror(errno));
    _exit(127);
  }
  for (const auto& [k, v] : req.env) setenv(k.c_str(), v.c_str(), 1);
  if (hooks.after_fork_child) hooks.after_fork_child();
  int rc = run(std::move(req.argv));
  std::exit(rc);  // as a process that returned from main: atexit handlers, stdio flushed
}

void HandleFork(int sock, const std::string& msg, int out_fd, const ZygoteHooks& hooks,
                const std::function<int(std::vector<std::string>)>& run) {
  ForkRequest req;
  if (out_fd < 0 || !ParseRequest(msg, &req)) {
    if (out_fd >= 0) close(out_fd);
    SendMsg(sock, "Emalformed fork request");
    return;
  }
  const pid_t self = getpid();
  if (hooks.before_fork) hooks.before_fork();
  pid_t pid = fork();
  if (pid == 0) {
    close(sock);
    BecomeReplica(self, out_fd, req, hooks, run);
  }
  int err = errno;
  if (hooks.after_fork_parent) hooks.after_fork_parent();
  close(out_fd);
  if (pid < 0) {
    SendMsg(sock, std::string("Efork: ") + strerror(err));
    return;
  }
  setpgid(pid, pid);  // as SpawnChild: a group kill right after the reply cannot miss it
  std::string reply = "P";
  PutU32(reply, static_cast<uint32_t>(pid));
  SendMsg(sock, reply);
}

// Reaps every exited child: its group gets SIGKILL first (while the unreaped leader keeps the group id from
// being reused), then the exit is reported.
bool ReapChildren(int sock) {
  for (;;) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return true;
    pid_t pid = info.si_pid;
    kill(-pid, SIGKILL);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    std::string msg = "X";
    PutU32(msg, static_cast<uint32_t>(pid));
    PutU32(msg, static_cast<uint32_t>(ws));
    if (!SendMsg(sock, msg)) return false;
  }
}

}  // namespace

int RunZygote(int sock, const ZygoteHooks& hooks, const std::function<int(std::vector<std::string>)>& run) {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return 1;
  if (!SendMsg(sock, "R")) return 1;
  std::string msg;
  for (;;) {
    pollfd pf[2] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (pf[1].revents) {
      signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      }
      if (!ReapChildren(sock)) return 1;
    }
    if (pf[0].revents) {
      int fd = -1;
      ssize_t n = RecvMsg(sock, &msg, &fd, 0);
      if (n == 0) return 0;  // the supervisor closed its end
      if (n < 0) {
        if (fd >= 0) close(fd);
        if (errno == EAGAIN) continue;
        return 1;
      }
      HandleFork(sock, msg, fd, hooks, run);
    }
  }
}

// ---- supervisor side -------------------------------------------------------------------------------------

ZygoteClient::ZygoteClient(std::string name, std::string exe, std::vector<std::string> argv, EnvList env)
    : name_(std::move(name)), exe_(std::move(exe)), argv_(std::move(argv)), env_(std::move(env)) {}

ZygoteClient::~ZygoteClient() { Kill(); }

Status ZygoteClient::Start() {
  Kill();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return Internal(std::string("socketpair: ") + strerror(errno));
  }
  auto child = SpawnChild(exe_, argv_, env_, "", sv[1]);
  close(sv[1]);
  if (!child.ok()) {
    close(sv[0]);
    return child.status();
  }
  pid_ = child->pid;
  out_fd_ = child->out_fd;
  sock_ = sv[0];
  fcntl(sock_, F_SETFL, fcntl(sock_, F_GETFL) | O_NONBLOCK);
  ready_ = false;
  LOG_INFO("supervisor: started replica template {} (pid {})", name_, pid_);
  return Status::Ok();
}

void ZygoteClient::Kill() {
  if (sock_ >= 0) close(sock_);
  sock_ = -1;
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int ws;
    while (waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
  if (out_fd_ >= 0) close(out_fd_);
  out_fd_ = -1;
  ready_ = false;
}

bool ZygoteClient::HandleMessage(const std::string& msg) {
  if (msg.empty()) return false;
  Reader rd{std::string_view(msg).substr(1)};
  switch (msg[0]) {
    case 'R':
      ready_ = true;
      return true;
    case 'P':
      reply_pid_ = static_cast<int>(rd.U32());
      have_reply_ = rd.ok;
      return rd.ok;
    case 'E':
      reply_error_ = msg.substr(1);
      reply_pid_ = 0;
      have_reply_ = true;
      return true;
    case 'X': {
      int pid = static_cast<int>(rd.U32());
      int ws = static_cast<int>(rd.U32());
      if (rd.ok) exits_.emplace_back(pid, ws);
      return rd.ok;
    }
    default:
      return false;
  }
}

std::vector<std::pair<int, int>> ZygoteClient::Drain() {
  std::string msg;
  while (sock_ >= 0) {
    ssize_t n = RecvMsg(sock_, &msg, nullptr, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0 || !HandleMessage(msg)) {
      LOG_WARN("supervisor: replica template {} (pid {}) is gone", name_, pid_);
      Kill();
      break;
    }
  }
  return std::exchange(exits_, {});
}

std::string ZygoteClient::ReadOutput() {
  if (out_fd_ < 0) return "";
  char buf[4096];
  ssize_t n = read(out_fd_, buf, sizeof buf);
  if (n <= 0) {
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      close(out_fd_);
      out_fd_ = -1;
    }
    return "";
  }
  return std::string(buf, static_cast<size_t>(n));
}

StatusOr<Child> ZygoteClient::Fork(const std::vector<std::string>& argv, const EnvList& env, const std::string& cwd,
                                   std::chrono::milliseconds timeout) {
  if (!ready_ || sock_ < 0) return Unavailable("replica template " + name_ + " is not ready");
  std::string req = "F";
  PutU32(req, static_cast<uint32_t>(argv.size()));
  for (const auto& a : argv) PutStr(req, a);
  PutU32(req, static_cast<uint32_t>(env.size()));
  for (const auto& [k, v] : env) {
    PutStr(req, k);
    PutStr(req, v);
  }
  PutStr(req, cwd);
  if (req.size() > kMaxZygoteMessage) return InvalidArgument("replica command too long for a template");
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Internal(std::string("pipe2: ") + strerror(errno));
  bool sent = SendMsg(sock_, req, p[1]);
  close(p[1]);
  if (!sent) {
    close(p[0]);
    Kill();
    return Unavailable("replica template " + name_ + " does not take requests");
  }
  have_reply_ = false;
  reply_error_.clear();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string msg;
  while (!have_reply_ && sock_ >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pf{sock_, POLLIN, 0};
    if (left.count() <= 0 || poll(&pf, 1, static_cast<int>(left.count())) == 0) break;
    ssize_t n = RecvMsg(sock_, &msg, nullptr, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0 || !HandleMessage(msg)) Kill();
  }
  if (!have_reply_ || reply_pid_ <= 0) {
    close(p[0]);
    std::string why = have_reply_ ? reply_error_ : "no answer";
    if (!have_reply_) Kill();  // a template that does not answer is not trusted with the next one
    return Unavailable("replica template " + name_ + ": " + why);
  }
  have_reply_ = false;
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
  return Child{reply_pid_, p[0]};
}

}  // namespace inferd::supervisor::internal
