// supervisor/supervisor.cc: the replica supervisor (see supervisor.h).
//
// Structure: one event-loop thread owns every process-related action (fork, reading pipes, reaping,
// probing, signalling, timers). Public methods only edit the shared table under `mu` and wake the loop
// through an eventfd. Everything the loop does happens under `mu` except poll() itself and the user
// callbacks (on_change, log_sink), which are collected while locked and called after unlocking, in order.
#include "supervisor/supervisor.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>

#include "core/backoff.h"
#include "core/logging.h"
#include "core/mutex.h"
#include "supervisor/log_ring.h"
#include "supervisor/probe.h"
#include "supervisor/spawn.h"
#include "supervisor/zygote.h"

namespace inferd::supervisor {

std::string_view PhaseName(Phase p) {
  switch (p) {
    case Phase::kStarting:
      return "Starting";
    case Phase::kRunning:
      return "Running";
    case Phase::kReady:
      return "Ready";
    case Phase::kNotReady:
      return "NotReady";
    case Phase::kBackoff:
      return "Backoff";
    case Phase::kStopped:
      return "Stopped";
  }
  return "Unknown";
}

namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using std::chrono::milliseconds;
using namespace std::chrono_literals;

constexpr TimePoint kNever = TimePoint::max();
constexpr auto kWaitpidPoll = 20ms;         // exit detection without pidfd
constexpr auto kGroupPoll = 5ms;            // re-check of a dying process group
constexpr auto kGroupTimeout = 3s;          // give up waiting for group members (D state...)
constexpr auto kSlowProbeAfter = 10s;       // not Ready this long after the port is known:
constexpr auto kSlowProbeInterval = 100ms;  // probe at most this often
constexpr std::string_view kReadyLine = "inferd model-server ready";  // server/model_server.h
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxReadPerWake = 1 << 20;
constexpr size_t kMaxFinalDrain = 4 << 20;
constexpr size_t kMaxLine = 64 * 1024;  // a longer "line" is cut for parsing and the sink
constexpr size_t kCrashLines = 10;

enum class Proc { kNone, kAlive, kDying /* leader reaped, killing the rest of its group */ };

struct Replica {
  explicit Replica(ReplicaSpec s) : spec(std::move(s)), log(spec.log_bytes) {}

  ReplicaSpec spec;
  std::string exe;
  ReplicaStatus st;
  internal::LogRing log;

  bool spawn_pending = true;  // Start asked; the loop has not forked yet
  std::string forked_by;      // the template that forked the running incarnation ("" = exec'd)
  Proc proc = Proc::kNone;
  int pid = 0, pidfd = -1, out_fd = -1;
  std::string partial;  // incomplete output line
  bool ports_known = false;
  TimePoint started{}, ports_at{};

  internal::HttpProbe probe;
  TimePoint next_probe = kNever;
  int probe_failures = 0;
  bool probe_again = false;  // the replica announced readiness while a probe was under way: probe at once
  bool probing_status = false;  // the active probe asks spec.status_path, not the readiness path
  TimePoint next_status_probe{};

  int crashes = 0;  // consecutive, for the backoff exponent
  TimePoint restart_at = kNever;
  std::string exit_desc;
  bool was_ready = false;  // this incarnation became Ready
  bool first_restart_at_once = false;  // the first crash of this run of crashes was restarted without delay

  bool stop_requested = false, term_sent = false;
  bool restart_requested = false;  // Restart(): start again as soon as this incarnation is gone
  TimePoint kill_at = kNever;
  TimePoint group_deadline = kNever, group_check = kNever;
  bool remove = false;
};

// A replica template (supervisor/zygote.h) and when to start it again after it died.
struct Template {
  std::unique_ptr<internal::ZygoteClient> client;
  TimePoint start_at{};  // kNever while it runs
  int failures = 0;      // consecutive deaths, for the backoff
  std::string partial;   // its output's incomplete line
  bool wanted = true;    // false: added on_first_use and no replica has named it yet
};
constexpr auto kTemplateBackoff = 1s;
constexpr auto kTemplateMaxBackoff = 60s;

milliseconds BackoffDelay(const ReplicaSpec& spec, int exponent) {
  return ExponentialBackoff(exponent, spec.initial_backoff, spec.max_backoff);
}

bool ParseListening(std::string_view line, int* http, int* grpc) {
  static constexpr std::string_view kKey = "listening http_port=";
  size_t p = line.find(kKey);
  if (p == std::string_view::npos) return false;
  auto parse_int = [&](size_t pos, int* out) {
    int v = 0;
    size_t i = pos;
    while (i < line.size() && i - pos < 6 && line[i] >= '0' && line[i] <= '9') v = v * 10 + (line[i++] - '0');
    if (i == pos || v > 65535) return std::string_view::npos;
    *out = v;
    return i;
  };
  size_t e = parse_int(p + kKey.size(), http);
  if (e == std::string_view::npos || *http == 0) return false;
  *grpc = 0;
  static constexpr std::string_view kGrpc = " grpc_port=";
  if (line.substr(e, kGrpc.size()) == kGrpc) parse_int(e + kGrpc.size(), grpc);
  return true;
}

Status ValidateSpec(const ReplicaSpec& s) {
  if (s.argv.empty()) return InvalidArgument("argv: must not be empty");
  for (size_t i = 0; i < s.argv.size(); ++i) {
    if (s.argv[i].find('\0') != std::string::npos)
      return InvalidArgument("argv[" + std::to_string(i) + "]: contains a NUL byte");
  }
  for (const auto& [k, v] : s.env) {
    if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos)
      return InvalidArgument("env: invalid variable name \"" + k + "\"");
  }
  if (!s.cwd.empty()) {
    struct stat st;
    if (stat(s.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return InvalidArgument("cwd: \"" + s.cwd + "\" is not a directory");
  }
  if (!s.ports_from_stdout) {
    if (s.fixed_http_port <= 0 || s.fixed_http_port > 65535)
      return InvalidArgument("fixed_http_port: must be in 1..65535 when ports_from_stdout is false");
    if (s.fixed_grpc_port < 0 || s.fixed_grpc_port > 65535)
      return InvalidArgument("fixed_grpc_port: must be in 0..65535");
  }
  if (s.ready_path.empty() || s.ready_path[0] != '/' ||
      s.ready_path.find_first_of(" \r\n\t") != std::string::npos)
    return InvalidArgument("ready_path: must start with '/' and contain no whitespace");
  if (s.probe_interval <= 0ms) return InvalidArgument("probe_interval: must be positive");
  if (s.ready_probe_interval <= 0ms) return InvalidArgument("ready_probe_interval: must be positive");
  if (s.probe_timeout <= 0ms) return InvalidArgument("probe_timeout: must be positive");
  if (s.failure_threshold < 1) return InvalidArgument("failure_threshold: must be at least 1");
  if (s.initial_backoff < 0ms) return InvalidArgument("initial_backoff: must not be negative");
  if (s.max_backoff < s.initial_backoff) return InvalidArgument("max_backoff: must be >= initial_backoff");
  if (s.backoff_reset < 0ms) return InvalidArgument("backoff_reset: must not be negative");
  if (s.stop_grace < 0ms) return InvalidArgument("stop_grace: must not be negative");
  if (s.log_bytes == 0) return InvalidArgument("log_bytes: must be positive");
  return Status::Ok();
}

void KillGroup(int pid, int sig) {
  if (pid <= 0) return;
  kill(-pid, sig);
  kill(pid, sig);  // in case setpgid failed and the process is not its own group leader
}

}  // namespace

struct Supervisor::Impl {
  ChangeFn on_change;
  mutable Mutex mu;
  mutable CondVar cv;  // output appended, spawned, replica removed
  // mu also guards every Replica's fields.
  std::map<ReplicaId, std::unique_ptr<Replica>> replicas GUARDED_BY(mu);
  std::map<std::string, Template> templates GUARDED_BY(mu);
  ReplicaId next_id GUARDED_BY(mu) = 1;
  int wake_fd = -1;
  bool quit GUARDED_BY(mu) = false;
  bool closing GUARDED_BY(mu) = false;  // destructor began: no new replicas
  std::thread loop;
  std::thread::id loop_tid;

  // Collected under mu by the loop, delivered after unlocking.
  std::vector<ReplicaStatus> notes GUARDED_BY(mu);
  std::vector<std::pair<std::function<void(std::string_view)>, std::string>> sink_lines GUARDED_BY(mu);

  void Wake() const {
    if (wake_fd < 0) return;
    uint64_t one = 1;
    ssize_t n = write(wake_fd, &one, sizeof one);
    (void)n;
  }
  bool OnLoopThread() const { return std::this_thread::get_id() == loop_tid; }

  void Run() EXCLUDES(mu);
  // Calls the callbacks, which may call back into the Supervisor: mu must not be held.
  void Deliver(std::vector<ReplicaStatus>& ns, decltype(sink_lines)& lines) EXCLUDES(mu);

  // The rest runs on the loop thread with mu held.
  void SetPhase(Replica& r, Phase p, bool force = false) REQUIRES(mu);
  void Spawn(Replica& r, TimePoint now) REQUIRES(mu);
  void AfterSpawn(Replica& r, TimePoint now) REQUIRES(mu);
  void ReadOutput(Replica& r, size_t limit) REQUIRES(mu);
  void AppendOutput(Replica& r, std::string_view data) REQUIRES(mu);
  void OnLine(Replica& r, std::string_view line) REQUIRES(mu);
  void CheckExit(Replica& r, TimePoint now) REQUIRES(mu);
  void OnLeaderExit(Replica& r, int wstatus, bool known, TimePoint now) REQUIRES(mu);
  void FinishExit(Replica& r, TimePoint now) REQUIRES(mu);
  void EnterBackoff(Replica& r, TimePoint now) REQUIRES(mu);
  void OnProbe(Replica& r, const internal::HttpProbe::Result& res, TimePoint now) REQUIRES(mu);
  void OnStatusProbe(Replica& r, const internal::HttpProbe::Result& res, TimePoint now) REQUIRES(mu);
  bool StatusProbeDue(Replica& r, TimePoint now) REQUIRES(mu);
  void Process(Replica& r, TimePoint now) REQUIRES(mu);
  bool ForkFromTemplate(Replica& r, TimePoint now) REQUIRES(mu);
  void ProcessTemplates(TimePoint now) REQUIRES(mu);
  void TemplateGone(Template& t, TimePoint now) REQUIRES(mu);
};

void Supervisor::Impl::SetPhase(Replica& r, Phase p, bool force) {
  if (r.st.phase == p && !force) return;
  r.st.phase = p;
  notes.push_back(r.st);
}

void Supervisor::Impl::Spawn(Replica& r, TimePoint now) {
  r.spawn_pending = false;
  r.partial.clear();
  r.ports_known = false;
  r.probe.Reset();
  r.next_probe = kNever;
  r.probe_failures = 0;
  r.probe_again = false;
  r.probing_status = false;
  r.next_status_probe = TimePoint{};
  r.st.not_ready_reason.clear();
  r.term_sent = false;
  r.restart_requested = false;
  r.was_ready = false;
  r.kill_at = kNever;
  r.started = now;
  r.st.started_at = std::chrono::system_clock::now();
  r.st.ready_at = {};
  r.st.http_port = r.st.grpc_port = 0;
  if (ForkFromTemplate(r, now)) return;
  auto child = internal::SpawnChild(r.exe, r.spec.argv, r.spec.env, r.spec.cwd);
  if (!child.ok()) {
    LOG_ERROR("supervisor: cannot spawn replica {}: {}", r.st.name, child.status().message());
    r.st.last_exit_code.reset();
    r.st.last_exit_signal.reset();
    r.exit_desc = "spawn failed: " + child.status().message();
    EnterBackoff(r, now);
    return;
  }
  r.pid = child->pid;
  r.out_fd = child->out_fd;
  r.pidfd = internal::PidfdOpen(r.pid);
  r.proc = Proc::kAlive;
  r.st.pid = r.pid;
  r.st.forked = false;
  LOG_INFO("supervisor: started replica {} (pid {}, restart {})", r.st.name, r.pid, r.st.restarts);
  AfterSpawn(r, now);
}

void Supervisor::Impl::AfterSpawn(Replica& r, TimePoint now) {
  SetPhase(r, Phase::kStarting, /*force=*/true);
  if (!r.spec.ports_from_stdout) {
    r.st.http_port = r.spec.fixed_http_port;
    r.st.grpc_port = r.spec.fixed_grpc_port;
    r.ports_known = true;
    r.ports_at = now;
    r.next_probe = now;
    SetPhase(r, Phase::kRunning);
  }
}

// A replica whose spec names a ready template is forked by it (supervisor/zygote.h); false: exec it.
bool Supervisor::Impl::ForkFromTemplate(Replica& r, TimePoint now) {
  if (r.spec.choose_template) r.spec.template_name = r.spec.choose_template();
  if (r.spec.template_name.empty()) return false;
  auto it = templates.find(r.spec.template_name);
  if (it == templates.end()) return false;
  it->second.wanted = true;
  if (!it->second.client->ready()) return false;
  auto child = it->second.client->Fork(r.spec.argv, r.spec.env, r.spec.cwd);
  if (!child.ok()) {
    LOG_WARN("supervisor: replica {}: {}; starting it by exec", r.st.name, child.status().message());
    return false;
  }
  r.pid = child->pid;
  r.out_fd = child->out_fd;
  r.pidfd = -1;
  r.proc = Proc::kAlive;
  r.st.pid = r.pid;
  r.st.forked = true;
  r.forked_by = r.spec.template_name;
  LOG_INFO("supervisor: started replica {} (pid {}, forked from template {}, restart {})", r.st.name, r.pid,
           r.forked_by, r.st.restarts);
  AfterSpawn(r, now);
  return true;
}

// Starts templates that are due, logs their output, and hands the exits they report to their replicas.
void Supervisor::Impl::ProcessTemplates(TimePoint now) {
  for (auto& [name, t] : templates) {
    internal::ZygoteClient& c = *t.client;
    if (c.running()) {
      for (std::string out = c.ReadOutput(); !out.empty(); out = c.ReadOutput()) {
        t.partial += out;
        size_t nl;
        while ((nl = t.partial.find('\n')) != std::string::npos) {
          LOG_INFO("replica template {}: {}", name, std::string_view(t.partial).substr(0, std::min(nl, kMaxLine)));
          t.partial.erase(0, nl + 1);
        }
        if (t.partial.size() > kMaxLine) t.partial.clear();
      }
      for (auto [pid, ws] : c.Drain()) {
        for (auto& [id, rp] : replicas) {
          Replica& r = *rp;
          if (r.proc == Proc::kAlive && r.forked_by == name && r.pid == pid) OnLeaderExit(r, ws, true, now);
        }
      }
      if (c.ready()) t.failures = 0;
    }
    if (c.running()) continue;
    if (t.start_at == kNever) {
      TemplateGone(t, now);
    } else if (!closing && t.wanted && now >= t.start_at) {
      t.start_at = kNever;
      if (Status st = c.Start(); !st.ok()) {
        LOG_WARN("supervisor: cannot start replica template {}: {}", name, st.message());
        TemplateGone(t, now);
      }
    }
  }
}

// The template died (or could not start): the replicas it forked die with it (PR_SET_PDEATHSIG; killed here
// too), and it is started again after a backoff.
void Supervisor::Impl::TemplateGone(Template& t, TimePoint now) {
  const std::string& name = t.client->name();
  for (auto& [id, rp] : replicas) {
    Replica& r = *rp;
    if (r.proc != Proc::kAlive || r.forked_by != name) continue;
    KillGroup(r.pid, SIGKILL);
    OnLeaderExit(r, 0, /*known=*/false, now);
  }
  ++t.failures;
  auto delay = std::min<milliseconds>(kTemplateBackoff * (1 << std::min(t.failures - 1, 6)), kTemplateMaxBackoff);
  t.start_at = now + delay;
  t.partial.clear();
}

void Supervisor::Impl::ReadOutput(Replica& r, size_t limit) {
  char buf[kReadChunk];
  size_t total = 0;
  while (r.out_fd >= 0 && total < limit) {
    ssize_t n = read(r.out_fd, buf, sizeof buf);
    if (n > 0) {
      AppendOutput(r, std::string_view(buf, static_cast<size_t>(n)));
      total += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    close(r.out_fd);  // EOF (every writer closed it) or an error
    r.out_fd = -1;
  }
}

void Supervisor::Impl::AppendOutput(Replica& r, std::string_view data) {
  r.log.Append(data);
  while (!data.empty()) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      r.partial.append(data.substr(0, kMaxLine - std::min(kMaxLine, r.partial.size())));
      if (r.partial.size() >= kMaxLine) {
        OnLine(r, r.partial);
        r.partial.clear();
      }
      return;
    }
    if (r.partial.empty()) {
      OnLine(r, data.substr(0, std::min(nl, kMaxLine)));
    } else {
      r.partial.append(data.substr(0, std::min(nl, kMaxLine - std::min(kMaxLine, r.partial.size()))));
      OnLine(r, r.partial);
      r.partial.clear();
    }
    data.remove_prefix(nl + 1);
  }
}

void Supervisor::Impl::OnLine(Replica& r, std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  LOG_DEBUG("[{}] {}", r.st.name, line);
  if (r.spec.ports_from_stdout && !r.ports_known && r.proc == Proc::kAlive) {
    int http = 0, grpc = 0;
    if (ParseListening(line, &http, &grpc)) {
      r.st.http_port = http;
      r.st.grpc_port = grpc;
      r.ports_known = true;
      r.ports_at = Clock::now();
      if (!r.term_sent) {
        r.next_probe = r.ports_at;
        SetPhase(r, Phase::kRunning);
      }
    }
  }
  // The replica says it is ready: confirm with a probe now instead of at the next poll.
  if (r.ports_known && r.proc == Proc::kAlive && !r.term_sent && r.st.phase == Phase::kRunning &&
      line.find(kReadyLine) != std::string_view::npos) {
    if (r.probe.active()) {
      r.probe_again = true;
    } else {
      r.next_probe = Clock::now();
    }
  }
  if (r.spec.log_sink) sink_lines.emplace_back(r.spec.log_sink, std::string(line));
}

void Supervisor::Impl::CheckExit(Replica& r, TimePoint now) {
  if (r.proc != Proc::kAlive) return;
  // Peek without reaping first: while the leader is an unreaped zombie its pid (and so its process
  // group id) cannot be reused, which makes the group kill below safe.
  siginfo_t info;
  memset(&info, 0, sizeof info);
  if (waitid(P_PID, static_cast<id_t>(r.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    if (errno == ECHILD) OnLeaderExit(r, 0, /*known=*/false, now);  // reaped elsewhere (SIGCHLD ignored?)
    return;
  }
  if (info.si_pid != r.pid) return;  // still running
  KillGroup(r.pid, SIGKILL);
  int ws = 0;
  pid_t w;
  do {
    w = waitpid(r.pid, &ws, 0);
  } while (w < 0 && errno == EINTR);
  OnLeaderExit(r, ws, w == r.pid, now);
}

void Supervisor::Impl::OnLeaderExit(Replica& r, int wstatus, bool known, TimePoint now) {
  if (r.pidfd >= 0) close(r.pidfd);
  r.pidfd = -1;
  r.probe.Reset();
  r.next_probe = kNever;
  r.kill_at = kNever;
  r.st.last_exit_code.reset();
  r.st.last_exit_signal.reset();
  if (!known) {
    r.exit_desc = "exited (status unknown)";
  } else if (WIFEXITED(wstatus)) {
    r.st.last_exit_code = WEXITSTATUS(wstatus);
    r.exit_desc = "exit code " + std::to_string(WEXITSTATUS(wstatus));
  } else if (WIFSIGNALED(wstatus)) {
    r.st.last_exit_signal = WTERMSIG(wstatus);
    r.exit_desc = "killed by signal " + std::to_string(WTERMSIG(wstatus));
  } else {
    r.exit_desc = "exited (status " + std::to_string(wstatus) + ")";
  }
  r.proc = Proc::kDying;
  r.group_deadline = now + kGroupTimeout;
  r.group_check = now;  // Process() checks the group right away
}

void Supervisor::Impl::FinishExit(Replica& r, TimePoint now) {
  ReadOutput(r, kMaxFinalDrain);
  if (!r.partial.empty()) {
    AppendOutput(r, "\n");  // the next incarnation's output starts on its own line
  }
  if (r.out_fd >= 0) close(r.out_fd);
  r.out_fd = -1;
  r.proc = Proc::kNone;
  r.pid = 0;
  r.st.pid = 0;
  r.forked_by.clear();
  r.group_check = r.group_deadline = kNever;
  if (r.stop_requested) {
    LOG_INFO("supervisor: replica {} stopped ({})", r.st.name, r.exit_desc);
    r.remove = true;
    SetPhase(r, Phase::kStopped);
    return;
  }
  if (r.restart_requested) {  // Restart(): the caller paced it, no backoff here
    LOG_INFO("supervisor: replica {} restarting as asked ({})", r.st.name, r.exit_desc);
    ++r.st.restarts;
    Spawn(r, now);
    return;
  }
  EnterBackoff(r, now);
}

void Supervisor::Impl::EnterBackoff(Replica& r, TimePoint now) {
  r.proc = Proc::kNone;
  r.ports_known = false;
  r.st.http_port = r.st.grpc_port = 0;
  const bool stayed_up = now - r.started >= r.spec.backoff_reset;
  if (stayed_up) r.crashes = 0;
  ++r.crashes;
  r.st.last_run_ready = r.was_ready;
  // A replica that was healthy comes back at once the first time (see supervisor.h); should it crash again,
  // the backoff starts from initial_backoff, as the kubelet's 0, 10 s, 20 s, ... does.
  if (r.crashes == 1) r.first_restart_at_once = stayed_up || r.was_ready;
  milliseconds delay = r.crashes == 1 && r.first_restart_at_once
                           ? milliseconds(0)
                           : BackoffDelay(r.spec, r.crashes - (r.first_restart_at_once ? 2 : 1));
  r.restart_at = now + delay;
  r.st.reason = r.crashes > 1 ? "CrashLoopBackOff" : "Error";
  std::string msg = r.exit_desc;
  auto lines = r.log.LastLines(kCrashLines, 500);
  if (!lines.empty()) {
    msg += "; last output:";
    for (const auto& l : lines) msg += "\n" + l;
  }
  r.st.message = std::move(msg);
  LOG_WARN("supervisor: replica {} {}; restarting in {} ms", r.st.name, r.exit_desc, delay.count());
  SetPhase(r, Phase::kBackoff);
}

void Supervisor::Impl::OnProbe(Replica& r, const internal::HttpProbe::Result& res, TimePoint now) {
  if (r.probing_status) {
    r.probing_status = false;
    if (r.proc != Proc::kAlive || r.term_sent) return;
    OnStatusProbe(r, res, now);
    return;
  }
  if (r.proc != Proc::kAlive || r.term_sent) return;
  Phase ph = r.st.phase;
  if (res.ok) {
    r.probe_failures = 0;
    r.next_probe = now + r.spec.ready_probe_interval;
    if (ph != Phase::kReady) {
      r.was_ready = true;
      r.st.ready_at = std::chrono::system_clock::now();
      r.st.reason.clear();
      r.st.message.clear();
      r.st.not_ready_reason.clear();
      LOG_INFO("supervisor: replica {} ready on port {}", r.st.name, r.st.http_port);
      SetPhase(r, Phase::kReady);
    }
    return;
  }
  if (ph == Phase::kReady) {
    r.next_probe = now + r.spec.ready_probe_interval;
    if (++r.probe_failures >= r.spec.failure_threshold) {
      r.st.reason = "ProbeFailed";
      r.st.message = "readiness probe GET " + r.spec.ready_path + " failed " + std::to_string(r.probe_failures) +
                     " times in a row: " + res.error;
      LOG_WARN("supervisor: replica {} not ready: {}", r.st.name, r.st.message);
      SetPhase(r, Phase::kNotReady);
    }
  } else if (ph == Phase::kNotReady) {
    r.next_probe = now + r.spec.ready_probe_interval;
  } else if (r.probe_again) {  // answered "not ready" before the replica said it was: ask again now
    r.probe_again = false;
    r.next_probe = now;
  } else {
    milliseconds iv = r.spec.probe_interval;
    if (now - r.ports_at >= kSlowProbeAfter) iv = std::max<milliseconds>(iv, kSlowProbeInterval);
    r.next_probe = now + iv;
  }
}

// The answer of spec.status_path (a running replica that is not ready yet): its reason, reported when it
// changed; readiness probing goes on at once.
void Supervisor::Impl::OnStatusProbe(Replica& r, const internal::HttpProbe::Result& res, TimePoint now) {
  r.next_probe = now;
  if (r.st.phase != Phase::kRunning) return;
  std::string reason = res.ok ? r.spec.not_ready_reason(res.body) : std::string();
  if (reason == r.st.not_ready_reason) return;
  r.st.not_ready_reason = std::move(reason);
  if (!r.st.not_ready_reason.empty()) {
    LOG_INFO("supervisor: replica {} is not ready: {}", r.st.name, r.st.not_ready_reason);
  }
  SetPhase(r, r.st.phase, /*force=*/true);  // tell on_change
}

// Whether the next probe of a running, not-ready replica asks why instead (spec.status_path).
bool Supervisor::Impl::StatusProbeDue(Replica& r, TimePoint now) {
  if (r.spec.status_path.empty() || !r.spec.not_ready_reason || r.st.phase != Phase::kRunning) return false;
  if (now - r.started < r.spec.status_probe_after || now < r.next_status_probe) return false;
  r.next_status_probe = now + r.spec.status_probe_interval;
  return true;
}

void Supervisor::Impl::Process(Replica& r, TimePoint now) {
  if (r.spawn_pending) {
    if (r.stop_requested) {
      r.spawn_pending = false;
      r.remove = true;
      SetPhase(r, Phase::kStopped);
      return;
    }
    Spawn(r, now);
  }
  // No pidfd: poll waitpid. A forked replica is the template's child: its exit comes from the template.
  if (r.proc == Proc::kAlive && r.pidfd < 0 && r.forked_by.empty()) CheckExit(r, now);
  if (r.stop_requested && !r.term_sent) {
    r.term_sent = true;
    if (r.proc == Proc::kNone) {  // backing off: nothing runs
      r.restart_at = kNever;
      r.remove = true;
      LOG_INFO("supervisor: replica {} stopped", r.st.name);
      SetPhase(r, Phase::kStopped);
      return;
    }
    if (r.proc == Proc::kAlive) {
      KillGroup(r.pid, SIGTERM);
      r.kill_at = now + r.spec.stop_grace;
      r.probe.Reset();
      r.next_probe = kNever;
    }
  }
  if (r.restart_requested && r.proc == Proc::kAlive && !r.term_sent) {
    r.term_sent = true;
    KillGroup(r.pid, SIGTERM);
    r.kill_at = now + r.spec.stop_grace;
    r.probe.Reset();
    r.next_probe = kNever;
  }
  if (r.proc == Proc::kAlive && now >= r.kill_at) {
    LOG_WARN("supervisor: replica {} did not stop within {} ms; sending SIGKILL", r.st.name,
             r.spec.stop_grace.count());
    KillGroup(r.pid, SIGKILL);
    r.kill_at = kNever;
  }
  if (r.proc == Proc::kDying && now >= r.group_check) {
    if (!internal::GroupHasLiveMembers(r.pid) || now >= r.group_deadline) {
      if (now >= r.group_deadline) LOG_WARN("supervisor: process group {} of {} is still alive", r.pid, r.st.name);
      FinishExit(r, now);
    } else {
      kill(-r.pid, SIGKILL);
      r.group_check = now + kGroupPoll;
    }
  }
  if (r.proc == Proc::kNone && !r.remove && !r.stop_requested && now >= r.restart_at) {
    r.restart_at = kNever;
    ++r.st.restarts;
    Spawn(r, now);
  }
  if (r.probe.active() && now >= r.probe.deadline()) {
    if (auto res = r.probe.Advance(0, now)) OnProbe(r, *res, now);
  }
  if (r.proc == Proc::kAlive && r.ports_known && !r.term_sent && !r.probe.active() && now >= r.next_probe) {
    r.next_probe = kNever;
    r.probing_status = StatusProbeDue(r, now);
    const std::string& path = r.probing_status ? r.spec.status_path : r.spec.ready_path;
    if (auto res = r.probe.Begin(r.st.http_port, path, now + r.spec.probe_timeout, r.probing_status ? "{}" : "")) {
      OnProbe(r, *res, now);
    }
  }
}

void Supervisor::Impl::Deliver(std::vector<ReplicaStatus>& ns, decltype(sink_lines)& lines) {
  for (auto& [fn, line] : lines) {
    try {
      fn(line);
    } catch (...) {
      LOG_ERROR("supervisor: log_sink threw");
    }
  }
  lines.clear();
  if (on_change) {
    for (const auto& s : ns) {
      try {
        on_change(s);
      } catch (...) {
        LOG_ERROR("supervisor: on_change threw");
      }
    }
  }
  ns.clear();
}

void Supervisor::Impl::Run() {
  enum Kind { kWake, kOut, kPidfd, kProbe, kTemplate };
  struct Tag {
    ReplicaId id;
    Kind kind;
  };
  std::vector<pollfd> pfds;
  std::vector<Tag> tags;
  std::vector<ReplicaStatus> my_notes;
  decltype(sink_lines) my_lines;
  for (;;) {
    pfds.clear();
    tags.clear();
    TimePoint deadline = kNever;
    {
      MutexLock l(mu);
      if (quit) break;
      if (wake_fd >= 0) {
        pfds.push_back({wake_fd, POLLIN, 0});
        tags.push_back({0, kWake});
      } else {
        deadline = Clock::now() + 50ms;
      }
      TimePoint now = Clock::now();
      for (auto& [name, t] : templates) {
        for (int fd : {t.client->sock_fd(), t.client->out_fd()}) {
          if (fd < 0) continue;
          pfds.push_back({fd, POLLIN, 0});
          tags.push_back({0, kTemplate});
        }
        if (t.wanted) deadline = std::min(deadline, t.start_at);
      }
      for (auto& [id, rp] : replicas) {
        Replica& r = *rp;
        if (r.spawn_pending) deadline = now;
        if (r.out_fd >= 0) {
          pfds.push_back({r.out_fd, POLLIN, 0});
          tags.push_back({id, kOut});
        }
        if (r.proc == Proc::kAlive) {
          if (r.pidfd >= 0) {
            pfds.push_back({r.pidfd, POLLIN, 0});
            tags.push_back({id, kPidfd});
          } else {
            deadline = std::min(deadline, now + kWaitpidPoll);
          }
        }
        if (r.probe.active()) {
          pfds.push_back({r.probe.fd(), r.probe.events(), 0});
          tags.push_back({id, kProbe});
          deadline = std::min(deadline, r.probe.deadline());
        }
        deadline = std::min({deadline, r.next_probe, r.restart_at, r.kill_at, r.group_check});
      }
    }
    int timeout_ms = -1;
    if (deadline != kNever) {
      auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
      timeout_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 60 * 60 * 1000));
    }
    int n = poll(pfds.data(), pfds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      LOG_ERROR("supervisor: poll: {}", strerror(errno));
      std::this_thread::sleep_for(10ms);
    }
    {
      MutexLock l(mu);
      TimePoint now = Clock::now();
      for (size_t i = 0; n > 0 && i < pfds.size(); ++i) {
        if (pfds[i].revents == 0) continue;
        if (tags[i].kind == kWake) {
          uint64_t v;
          ssize_t rd = read(wake_fd, &v, sizeof v);
          (void)rd;
          continue;
        }
        if (tags[i].kind == kTemplate) continue;  // ProcessTemplates reads every template below
        auto it = replicas.find(tags[i].id);
        if (it == replicas.end()) continue;
        Replica& r = *it->second;
        switch (tags[i].kind) {
          case kOut:
            if (r.out_fd == pfds[i].fd) ReadOutput(r, kMaxReadPerWake);
            break;
          case kPidfd:
            if (r.pidfd == pfds[i].fd) CheckExit(r, now);
            break;
          case kProbe:
            if (r.probe.active() && r.probe.fd() == pfds[i].fd) {
              if (auto res = r.probe.Advance(pfds[i].revents, now)) OnProbe(r, *res, now);
            }
            break;
          case kWake:
          case kTemplate:
            break;
        }
      }
      ProcessTemplates(now);
      for (auto& [id, rp] : replicas) Process(*rp, now);
      ProcessTemplates(now);  // exits reported while a replica was being forked
      my_notes.swap(notes);
      my_lines.swap(sink_lines);
    }
    cv.SignalAll();
    Deliver(my_notes, my_lines);
    // Removed only after their kStopped was delivered, so StopAndWait returns after that callback.
    {
      MutexLock l(mu);
      bool removed = false;
      for (auto it = replicas.begin(); it != replicas.end();) {
        if (it->second->remove) {
          it = replicas.erase(it);
          removed = true;
        } else {
          ++it;
        }
      }
      if (!removed) continue;
    }
    cv.SignalAll();
  }
}

Supervisor::Supervisor(ChangeFn on_change) : impl_(std::make_unique<Impl>()) {
  impl_->on_change = std::move(on_change);
  impl_->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl_->wake_fd < 0) LOG_WARN("supervisor: eventfd: {}; falling back to polling", strerror(errno));
  try {
    impl_->loop = std::thread([impl = impl_.get()] { impl->Run(); });
    impl_->loop_tid = impl_->loop.get_id();
  } catch (const std::exception& e) {
    LOG_ERROR("supervisor: cannot start the event-loop thread: {}", e.what());
    MutexLock l(impl_->mu);  // no other thread yet
    impl_->closing = true;   // Start refuses
  }
}

Supervisor::~Supervisor() {
  Impl& im = *impl_;
  if (im.loop.joinable()) {
    milliseconds max_grace{0};
    {
      MutexLock l(im.mu);
      im.closing = true;
      for (auto& [id, r] : im.replicas) {
        r->stop_requested = true;
        max_grace = std::max(max_grace, r->spec.stop_grace);
      }
      im.Wake();
      // SIGTERM, SIGKILL after the grace, then the group check: bounded, but do not hang on a process
      // stuck in uninterruptible sleep.
      im.cv.WaitFor(im.mu, max_grace + kGroupTimeout + 2s, [&]() REQUIRES(im.mu) { return im.replicas.empty(); });
      im.quit = true;
      im.Wake();
    }
    if (im.OnLoopThread()) {
      im.loop.detach();  // destroyed from a callback: cannot join ourselves
    } else {
      im.loop.join();
    }
  }
  // Whatever is left (a stuck process): SIGKILL and reap so that no zombie stays behind. The loop has ended
  // (or, detached, only finishes its iteration): the lock is uncontended, taken for the analysis' sake.
  MutexLock l(im.mu);
  for (auto& [id, r] : im.replicas) {
    if (r->proc == Proc::kAlive) {
      KillGroup(r->pid, SIGKILL);
      int ws;
      while (waitpid(r->pid, &ws, 0) < 0 && errno == EINTR) {
      }
    }
    if (r->pidfd >= 0) close(r->pidfd);
    if (r->out_fd >= 0) close(r->out_fd);
  }
  im.replicas.clear();
  im.templates.clear();  // each template is killed and reaped
  if (im.wake_fd >= 0) close(im.wake_fd);
}

StatusOr<ReplicaId> Supervisor::Start(ReplicaSpec spec) {
  RETURN_IF_ERROR(ValidateSpec(spec));
  auto exe = internal::ResolveExecutable(spec.argv[0], spec.cwd, spec.env);
  if (!exe.ok()) return exe.status();
  Impl& im = *impl_;
  MutexLock l(im.mu);
  if (im.closing) return Unavailable("supervisor is shutting down");
  ReplicaId id = im.next_id++;
  auto r = std::make_unique<Replica>(std::move(spec));
  r->exe = std::move(exe).value();
  r->st.id = id;
  r->st.name = r->spec.name.empty() ? "replica-" + std::to_string(id) : r->spec.name;
  im.replicas.emplace(id, std::move(r));
  im.Wake();
  if (!im.OnLoopThread()) {
    im.cv.Wait(im.mu, [&]() REQUIRES(im.mu) {
      auto it = im.replicas.find(id);
      return im.quit || it == im.replicas.end() || !it->second->spawn_pending;
    });
  }
  return id;
}

Status Supervisor::AddTemplate(std::string name, std::vector<std::string> argv,
                               std::vector<std::pair<std::string, std::string>> env, bool on_first_use) {
  if (name.empty()) return InvalidArgument("template name: must not be empty");
  if (argv.empty()) return InvalidArgument("template argv: must not be empty");
  auto exe = internal::ResolveExecutable(argv[0], "", env);
  if (!exe.ok()) return exe.status();
  Impl& im = *impl_;
  MutexLock l(im.mu);
  if (im.closing) return Unavailable("supervisor is shutting down");
  if (im.templates.count(name)) return InvalidArgument("template " + name + " already exists");
  Template t;
  t.client = std::make_unique<internal::ZygoteClient>(name, *exe, std::move(argv), std::move(env));
  t.wanted = !on_first_use;
  im.templates.emplace(std::move(name), std::move(t));
  im.Wake();
  return Status::Ok();
}

int Supervisor::TemplatePid(const std::string& name) const {
  MutexLock l(impl_->mu);
  auto it = impl_->templates.find(name);
  return it != impl_->templates.end() && it->second.client->running() ? it->second.client->pid() : 0;
}

bool Supervisor::TemplateReady(const std::string& name) const {
  MutexLock l(impl_->mu);
  auto it = impl_->templates.find(name);
  return it != impl_->templates.end() && it->second.client->ready();
}

void Supervisor::Stop(ReplicaId id) {
  MutexLock l(impl_->mu);
  auto it = impl_->replicas.find(id);
  if (it == impl_->replicas.end()) return;
  it->second->stop_requested = true;
  impl_->Wake();
}

void Supervisor::Restart(ReplicaId id) {
  MutexLock l(impl_->mu);
  auto it = impl_->replicas.find(id);
  if (it == impl_->replicas.end() || it->second->proc != Proc::kAlive || it->second->stop_requested) return;
  it->second->restart_requested = true;
  impl_->Wake();
}

void Supervisor::StopAndWait(ReplicaId id) {
  Stop(id);
  if (impl_->OnLoopThread()) return;
  MutexLock l(impl_->mu);
  impl_->cv.Wait(impl_->mu, [&]() REQUIRES(impl_->mu) { return impl_->quit || impl_->replicas.count(id) == 0; });
}

std::optional<ReplicaStatus> Supervisor::Get(ReplicaId id) const {
  MutexLock l(impl_->mu);
  auto it = impl_->replicas.find(id);
  if (it == impl_->replicas.end()) return std::nullopt;
  return it->second->st;
}

std::vector<ReplicaStatus> Supervisor::List() const {
  MutexLock l(impl_->mu);
  std::vector<ReplicaStatus> out;
  out.reserve(impl_->replicas.size());
  for (const auto& [id, r] : impl_->replicas) out.push_back(r->st);
  return out;
}

std::string Supervisor::Logs(ReplicaId id, size_t max_bytes) const {
  MutexLock l(impl_->mu);
  auto it = impl_->replicas.find(id);
  if (it == impl_->replicas.end()) return "";
  return it->second->log.Tail(max_bytes);
}

std::pair<std::string, uint64_t> Supervisor::LogsSince(ReplicaId id, uint64_t from,
                                                       std::chrono::milliseconds timeout) const {
  Impl& im = *impl_;
  MutexLock l(im.mu);
  auto deadline = Clock::now() + timeout;
  const Replica* r = nullptr;
  auto find = [&]() REQUIRES(im.mu) {
    auto it = im.replicas.find(id);
    r = it == im.replicas.end() ? nullptr : it->second.get();
    return r;
  };
  if (find() == nullptr) return {"", from};
  if (from > r->log.end()) from = r->log.end();
  im.cv.WaitUntil(im.mu, deadline, [&]() REQUIRES(im.mu) { return im.quit || find() == nullptr || r->log.end() > from; });
  if (r == nullptr) return {"", from};
  return {r->log.Since(from), r->log.end()};
}

}  // namespace inferd::supervisor
