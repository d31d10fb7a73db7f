// supervisor/zygote.h (internal): replica templates ("zygotes"): a process started once, with the program's
// shared libraries linked and relocated, its static initializers run and (optionally) a framework such as
// scikit-learn imported, that forks a new replica on request instead of the supervisor exec'ing one.
//
// Why: a replica exec'd from scratch pays the dynamic linking of ~100 shared libraries and the static
// initializers of gRPC, protobuf, ICU... (~20 ms of a 30 ms cold start, docs/benchmarks.md "Where a cold
// start's time goes"), and a scikit-learn model that needs Python pays ~1 s to import numpy and scikit-learn.
// A fork of a template that already did both costs about a millisecond.
//
// Protocol: one AF_UNIX SOCK_SEQPACKET socket pair, the template's end on its stdin (fd 0). Messages (each
// one datagram, at most kMaxZygoteMessage bytes):
//   template -> supervisor  "R"                         ready to fork (its preload is done)
//                           "P" <i32 pid>               forked: the reply to a fork request
//                           "E" <text>                  the fork request failed (the reply to it)
//                           "X" <i32 pid> <i32 wstatus> a replica it forked has exited; its group was SIGKILLed
//   supervisor -> template  "F" argv, env, cwd          fork; the output pipe's write end as SCM_RIGHTS
// (lists: u32 count, then each string as u32 length + bytes; env as name, value pairs.)
//
// The template side (RunZygote) stays single-threaded: it forks from its only thread, so the child inherits no
// lock held by another thread. A forked replica gets what SpawnChild gives an exec'd one: its own process
// group, PR_SET_PDEATHSIG(SIGKILL) (its parent is the template, which has the same towards the supervisor's
// loop thread: the chain still ends every replica when `inferd serve` dies, and a template that dies takes its
// replicas with it; the supervisor then starts them again by exec), default signal dispositions, an empty
// mask, stdin /dev/null, stdout and stderr on the pipe, no other fd; then the environment overrides are set,
// the working directory entered, and the program's `run(argv)` is called; its return value is the exit code.
// The template reaps its children (they are not the supervisor's) and reports their exit ("X").
//
// ZygoteClient is the supervisor's side: not thread-safe; the supervisor calls it on its loop thread only
// (the template must be forked from the thread that outlives it: PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "supervisor/spawn.h"

namespace inferd::supervisor::internal {

inline constexpr size_t kMaxZygoteMessage = 128 * 1024;

// Called around each fork on the template's thread (e.g. the embedded Python's PyOS_BeforeFork/AfterFork).
struct ZygoteHooks {
  std::function<void()> before_fork;
  std::function<void()> after_fork_parent;
  std::function<void()> after_fork_child;
};

// The template's main loop on `sock` (its end of the pair). Returns when the supervisor closes its end (0) or
// on an unrecoverable error (1). Forked children never return from it: they exit with run(argv)'s value.
int RunZygote(int sock, const ZygoteHooks& hooks, const std::function<int(std::vector<std::string>)>& run);

class ZygoteClient {
 public:
  // `argv` starts the template (argv[0] resolved like a replica's); `env` overrides the environment.
  ZygoteClient(std::string name, std::string exe, std::vector<std::string> argv, EnvList env);
  ~ZygoteClient();  // closes the socket (the template exits), SIGKILLs and reaps it
  ZygoteClient(const ZygoteClient&) = delete;
  ZygoteClient& operator=(const ZygoteClient&) = delete;

  // Starts the template process. Not ready until its "R" has been read (Drain).
  Status Start();
  bool running() const { return pid_ > 0; }
  bool ready() const { return ready_; }
  int pid() const { return pid_; }
  int sock_fd() const { return sock_; }
  int out_fd() const { return out_fd_; }
  const std::string& name() const { return name_; }

  // Asks the template for a replica; blocks for the reply (at most `timeout`). Exits read meanwhile are kept
  // for Drain. An error leaves the template usable unless it died (then running() is false).
  StatusOr<Child> Fork(const std::vector<std::string>& argv, const EnvList& env, const std::string& cwd,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  // Reads every message waiting (non-blocking). Returns the exits reported, (pid, wait status). When the
  // template has gone (EOF, error), it is reaped and running() becomes false: every replica it forked is
  // dying with it (PR_SET_PDEATHSIG).
  std::vector<std::pair<int, int>> Drain();
  // The template's own output (logged by the caller); "" when none is waiting.
  std::string ReadOutput();
  // Kills and reaps the template (it is started again by Start).
  void Kill();

 private:
  bool HandleMessage(const std::string& msg);  // false: malformed

  std::string name_, exe_;
  std::vector<std::string> argv_;
  EnvList env_;
  int pid_ = -1, sock_ = -1, out_fd_ = -1;
  bool ready_ = false;
  int reply_pid_ = 0;
  std::string reply_error_;
  bool have_reply_ = false;
  std::vector<std::pair<int, int>> exits_;
};

}  // namespace inferd::supervisor::internal
