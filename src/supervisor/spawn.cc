// supervisor/spawn.cc: fork+exec with PDEATHSIG, process-group helpers.
#include "supervisor/spawn.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

namespace inferd::supervisor::internal {
namespace {

std::string LookupEnv(const EnvList& env, const std::string& name, bool* found) {
  for (auto it = env.rbegin(); it != env.rend(); ++it) {
    if (it->first == name) {
      *found = true;
      return it->second;
    }
  }
  const char* v = getenv(name.c_str());
  *found = v != nullptr;
  return v ? v : "";
}

bool IsExecutableFile(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
}

std::string ParentCwd() {
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof buf) == nullptr) return "/";
  return buf;
}

std::string Absolute(const std::string& p, const std::string& base) {
  if (!p.empty() && p[0] == '/') return p;
  return base + "/" + p;
}

// Moves `fd` above stderr so that the child's dup2 onto 0/1/2 cannot clobber it.
int DupAbove2(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return n;
}

// --- async-signal-safe helpers for the child between fork and exec ---
void WriteAll(int fd, const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s += w;
    n -= static_cast<size_t>(w);
  }
}

[[noreturn]] void ChildFail(const std::string& prefix, int err) {
  char digits[16];
  int n = 0;
  unsigned v = static_cast<unsigned>(err);
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0 && n < 15);
  char out[18];
  int k = 0;
  while (n > 0) out[k++] = digits[--n];
  out[k++] = '\n';
  WriteAll(2, prefix.data(), prefix.size());
  WriteAll(2, out, static_cast<size_t>(k));
  _exit(127);
}

}  // namespace

StatusOr<std::string> ResolveExecutable(const std::string& argv0, const std::string& cwd, const EnvList& env) {
  if (argv0.empty()) return InvalidArgument("argv[0]: must not be empty");
  std::string base = cwd.empty() ? ParentCwd() : Absolute(cwd, ParentCwd());
  if (argv0.find('/') != std::string::npos) {
    std::string p = Absolute(argv0, base);
    if (!IsExecutableFile(p)) return InvalidArgument("argv[0]: \"" + argv0 + "\" is not an executable file");
    return p;
  }
  bool found = false;
  std::string path = LookupEnv(env, "PATH", &found);
  if (!found) path = "/usr/local/bin:/usr/bin:/bin";
  size_t pos = 0;
  for (;;) {
    size_t colon = path.find(':', pos);
    std::string dir = path.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    if (dir.empty()) dir = ".";
    std::string p = Absolute(dir, base) + "/" + argv0;
    if (IsExecutableFile(p)) return p;
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  return InvalidArgument("argv[0]: executable \"" + argv0 + "\" not found in PATH");
}

StatusOr<Child> SpawnChild(const std::string& exe, const std::vector<std::string>& argv, const EnvList& env,
                           const std::string& cwd, int stdin_fd) {
  // Everything the child needs is prepared before fork: after fork only async-signal-safe calls.
  std::vector<char*> argv_c;
  argv_c.reserve(argv.size() + 1);
  for (const auto& a : argv) argv_c.push_back(const_cast<char*>(a.c_str()));
  argv_c.push_back(nullptr);

  std::vector<std::string> env_strs;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    std::string_view key = kv.substr(0, kv.find('='));
    bool overridden = false;
    for (const auto& [k, v] : env) {
      if (k == key) {
        overridden = true;
        break;
      }
    }
    if (!overridden) env_strs.emplace_back(kv);
  }
  for (size_t i = 0; i < env.size(); ++i) {
    bool later = false;  // the last override of a name wins
    for (size_t j = i + 1; j < env.size(); ++j) later = later || env[j].first == env[i].first;
    if (!later) env_strs.push_back(env[i].first + "=" + env[i].second);
  }
  std::vector<char*> envp;
  envp.reserve(env_strs.size() + 1);
  for (auto& s : env_strs) envp.push_back(s.data());
  envp.push_back(nullptr);

  const std::string exec_fail = "inferd supervisor: cannot exec " + exe + ": errno ";
  const std::string chdir_fail = "inferd supervisor: cannot chdir to " + cwd + ": errno ";
  long open_max = sysconf(_SC_OPEN_MAX);
  int max_fd = open_max > 0 && open_max < 65536 ? static_cast<int>(open_max) : 65536;

  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Internal(std::string("pipe2: ") + strerror(errno));
  int rfd = DupAbove2(p[0]);
  int wfd = DupAbove2(p[1]);
  int devnull = stdin_fd >= 0 ? DupAbove2(fcntl(stdin_fd, F_DUPFD_CLOEXEC, 3))
                              : DupAbove2(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (rfd < 0 || wfd < 0 || devnull < 0) {
    int err = errno;
    for (int fd : {rfd, wfd, devnull})
      if (fd >= 0) close(fd);
    return Internal(std::string("spawn fds: ") + strerror(err));
  }

  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(rfd);
    close(wfd);
    close(devnull);
    return Internal(std::string("fork: ") + strerror(err));
  }
  if (pid == 0) {
    // Child.
    setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(126);
    if (getppid() != parent) _exit(126);  // the parent died before prctl: PDEATHSIG would never fire
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (int s = 1; s < NSIG; ++s) {
      if (s != SIGKILL && s != SIGSTOP) sigaction(s, &sa, nullptr);  // EINVAL for libc-internal ones
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (dup2(devnull, 0) < 0 || dup2(wfd, 1) < 0 || dup2(wfd, 2) < 0) _exit(126);
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
      for (int fd = 3; fd < max_fd; ++fd) close(fd);
    }
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) ChildFail(chdir_fail, errno);
    execve(exe.c_str(), argv_c.data(), envp.data());
    ChildFail(exec_fail, errno);
  }
  // Parent. Also set the group from here so that a kill(-pid) right after fork cannot miss the child
  // (fails harmlessly with EACCES once the child has exec'd).
  setpgid(pid, pid);
  close(wfd);
  close(devnull);
  int fl = fcntl(rfd, F_GETFL);
  fcntl(rfd, F_SETFL, fl | O_NONBLOCK);
  return Child{static_cast<int>(pid), rfd};
}

int PidfdOpen(int pid) {
#ifdef SYS_pidfd_open
  // Test hook: exercise the waitpid-polling fallback used on kernels before 5.3.
  if (getenv("INFERD_SUPERVISOR_NO_PIDFD") != nullptr) return -1;
  long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return -1;
  int ifd = static_cast<int>(fd);
  fcntl(ifd, F_SETFD, FD_CLOEXEC);  // pidfds are close-on-exec already; be explicit
  return ifd;
#else
  (void)pid;
  return -1;
#endif
}

bool GroupHasLiveMembers(int pgid) {
  if (pgid <= 0) return false;
  if (kill(-pgid, 0) != 0 && errno == ESRCH) return false;
  DIR* d = opendir("/proc");
  if (d == nullptr) return true;
  bool live = false;
  while (!live) {
    struct dirent* e = readdir(d);
    if (e == nullptr) break;
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[512];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    // "pid (comm) S ppid pgrp ..."; comm may contain spaces and parentheses: parse after the last ')'.
    char* rp = strrchr(buf, ')');
    if (rp == nullptr) continue;
    char state = 0;
    int ppid = 0, pgrp = 0;
    if (sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
    if (pgrp == pgid && state != 'Z' && state != 'X') live = true;
  }
  closedir(d);
  return live;
}

}  // namespace inferd::supervisor::internal
