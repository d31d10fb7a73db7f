// supervisor/supervisor.h: keeps replica processes running: spawn, capture output, probe readiness,
// restart with exponential backoff, stop, and never leave orphans.
//
// Contract:
// - Each replica is a child process in its own process group (setpgid), started with
//   prctl(PR_SET_PDEATHSIG, SIGKILL) so it dies with `inferd serve` even on SIGKILL of the parent. Stop
//   sends SIGTERM to the group, then SIGKILL after `stop_grace`. The destructor stops every replica.
// - Ports: the spec says how the replica's ports are learnt: `ports_from_stdout` parses the first stdout
//   line matching "listening http_port=N grpc_port=M" (what `inferd model-server --http_port 0` prints);
//   otherwise `fixed_http_port`/`fixed_grpc_port` (the control plane allocated them and put them in argv).
// - Readiness: once the HTTP port is known, GET http://127.0.0.1:<port><ready_path> is probed every
//   `probe_interval` (default 5 ms, so a model that loads in 30 ms is seen within a few ms of loading);
//   200 = Ready. A replica that prints a line containing "inferd model-server ready" (what `inferd model-server`
//   prints once its models are loaded) while not yet Ready is probed at once (again at once if a probe was
//   already under way), so readiness is seen without waiting for the next poll; only the probe decides.
//   A Ready (or NotReady) replica is probed every `ready_probe_interval` (default 1 s);
//   failures of `failure_threshold` consecutive probes make it NotReady (not restarted); a success makes
//   it Ready again. Exit of the process: phase Backoff, restart after
//   min(initial_backoff * 2^(consecutive crashes - 1), max_backoff); that counter resets when the replica
//   had stayed up for `backoff_reset` before it exited (`ReplicaStatus::restarts` never resets). The first
//   crash of a replica that was healthy (it had become Ready, or stayed up `backoff_reset`) is restarted at
//   once, as the kubelet restarts a container the first time without delay: a replica killed under load is
//   back as soon as its model loads, and a crash loop still backs off from its second crash on (0, then
//   initial_backoff, doubling). Exit code /
//   signal and the last log lines are kept for status (reason "CrashLoopBackOff" while backing off after
//   more than one crash, "Error" after the first), and `last_run_ready` says whether the incarnation that
//   exited had become Ready (a replica that cannot start is failing; one that was serving is coming back).
// - Restart(id): the control plane's retry of a replica that is up but failing (e.g. its model failed to
//   load): the process group gets SIGTERM (SIGKILL after `stop_grace`) and the replica is started again as
//   soon as the group is gone, with no backoff of its own (the caller paced the retry); `restarts` counts it.
// - Output: stdout and stderr (interleaved, line-buffered) go to a bounded ring (`log_bytes`, default 1 MiB)
//   per replica, kept across restarts, for `inferd logs`; lines are also passed to the optional `log_sink`.
// - Threads: all methods are thread-safe. One internal thread runs the event loop (pipes, pidfd/waitpid,
//   probes, timers). `on_change` is called on that thread after any phase change; it must not block.
//   Processes are forked from that event-loop thread, not from the caller of Start: PR_SET_PDEATHSIG
//   fires when the *thread* that forked the child exits, so forking from a short-lived caller thread (an
//   HTTP handler, a std::async task) would kill the replica when that thread ends. The loop thread lives as
//   long as the Supervisor, so callers may use Start from any thread. (PDEATHSIG covers the replica
//   itself; its own children are covered by the group kill on Stop/exit, not by PDEATHSIG.)
// - Replica templates (supervisor/zygote.h): AddTemplate(name, argv) starts a template process on the loop
//   thread and keeps it running (started again, with backoff, when it dies). A replica whose spec names a
//   template (`template_name`) is forked by that template when it is ready, instead of exec'd: same process
//   group, PDEATHSIG chain, output pipe, phases and probes; its argv is run by the template's program (argv[0]
//   is not exec'd: the template must be that program). When the template is not ready or the fork fails,
//   the replica is exec'd from its argv as usual, so a template only ever saves time. A template that dies
//   takes the replicas it forked with it (they are restarted like any crash, at once for a healthy one, by
//   exec until the template is back). ReplicaStatus::forked says which way the running incarnation started.
// - Phases: kStarting (forked, ports not known yet) -> kRunning (ports known, probing) -> kReady ->
//   kNotReady (probe failures) -> kReady ... ; any exit -> kBackoff -> kStarting; Stop -> kStopped, after
//   which (once on_change(kStopped) returned) the replica is removed from List/Get. In fixed-port mode kStarting is followed at once by
//   kRunning. When the group leader exits, the rest of its process group is SIGKILLed before the replica
//   enters kBackoff (no orphans). While not Ready, `reason`/`message` keep describing the last crash; they are cleared once
//   the replica becomes Ready again (last_exit_code/last_exit_signal stay).
// - A replica still not Ready 10 s after its port became known is probed at most every 100 ms.
// - Why a replica is not ready (optional, `status_path`): while it runs but is not Ready (kRunning), from
//   `status_probe_after` after it started and at most every `status_probe_interval`, a probe POSTs "{}" to
//   `status_path` (inferd model-server's repository index) in place of a readiness probe, and a 200 answer's
//   body is passed to `not_ready_reason` (on the event-loop thread; it must not block). What it returns is
//   ReplicaStatus::not_ready_reason (a change is reported like a phase change); any other answer counts as
//   ""; it is cleared when the replica becomes Ready or starts again. The caller never makes an HTTP call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace inferd::supervisor {

using ReplicaId = uint64_t;

struct ReplicaSpec {
  std::string name;  // for logs, e.g. "default/sklearn-iris-predictor-00001-1"
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // added to (overriding) the parent's environment
  std::string cwd;
  bool ports_from_stdout = true;
  int fixed_http_port = 0;
  int fixed_grpc_port = 0;
  std::string ready_path = "/v2/health/ready";
  std::chrono::milliseconds probe_interval{5};         // until Ready
  std::chrono::milliseconds ready_probe_interval{1000};  // while Ready / NotReady
  std::chrono::milliseconds probe_timeout{1000};         // one probe: connect + response status line
  int failure_threshold = 3;
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{5 * 60 * 1000};
  std::chrono::milliseconds backoff_reset{10 * 1000};
  std::chrono::milliseconds stop_grace{5000};
  size_t log_bytes = 1 << 20;
  // Optional: every output line (without its newline), called on the event-loop thread; must not block.
  std::function<void(std::string_view line)> log_sink;
  // Optional: where to ask a running, not-ready replica why (see the contract), and how to read the answer.
  std::string status_path;
  std::function<std::string(std::string_view body)> not_ready_reason;
  std::chrono::milliseconds status_probe_after{500};
  std::chrono::milliseconds status_probe_interval{1000};
  // Optional: the replica template (AddTemplate) to fork this replica from; "" or unknown = exec argv. When
  // choose_template is set, it is called (on the loop thread, under the supervisor's lock: it must be quick and
  // must not call the Supervisor) before each start, restarts included, and its answer replaces template_name.
  std::string template_name;
  std::function<std::string()> choose_template;
};

enum class Phase { kStarting, kRunning /* up, not ready yet */, kReady, kNotReady, kBackoff, kStopped };
std::string_view PhaseName(Phase p);

struct ReplicaStatus {
  ReplicaId id = 0;
  std::string name;
  Phase phase = Phase::kStarting;
  int pid = 0;
  int http_port = 0, grpc_port = 0;
  int restarts = 0;
  std::optional<int> last_exit_code;    // exit status of the last exit
  std::optional<int> last_exit_signal;  // or the signal that killed it
  std::string reason;                   // "", "Error", "CrashLoopBackOff", "ProbeFailed"
  std::string message;                  // human text incl. the last log lines after a crash
  bool last_run_ready = false;          // the incarnation that exited last had become Ready
  std::string not_ready_reason;         // kRunning: what its status_path said is wrong ("" = nothing known)
  std::chrono::system_clock::time_point started_at, ready_at;
  bool forked = false;  // the running incarnation was forked from a replica template (not exec'd)
};

class Supervisor {
 public:
  using ChangeFn = std::function<void(const ReplicaStatus&)>;
  explicit Supervisor(ChangeFn on_change = nullptr);
  ~Supervisor();  // stops every replica (SIGTERM, then SIGKILL)

  // Spawns now (on the event-loop thread; returns once the process is forked, so Get shows its pid).
  // Errors only for a bad spec (InvalidArgument naming the field, e.g. an executable not on PATH) or,
  // after the destructor began, Unavailable. A spawn that fails later (fork, exec) is a crash: Backoff.
  StatusOr<ReplicaId> Start(ReplicaSpec spec);
  void Stop(ReplicaId id);         // asynchronous; the replica leaves List when gone
  void Restart(ReplicaId id);      // asynchronous; see the contract above (no-op unless its process runs)
  // Starts (asynchronously, on the loop thread) a replica template named `name` running `argv` with `env`
  // overriding the environment (see the contract); with `on_first_use`, only once a replica first names it
  // (that replica is exec'd; later ones are forked). InvalidArgument for an empty name or argv, an executable
  // not found, or a name already added.
  Status AddTemplate(std::string name, std::vector<std::string> argv,
                     std::vector<std::pair<std::string, std::string>> env = {}, bool on_first_use = false);
  // The pid of a template's process (0 while it is not running), and whether it is ready to fork: for tests.
  int TemplatePid(const std::string& name) const;
  bool TemplateReady(const std::string& name) const;
  // Blocks until the process group is gone (no live member; zombies awaiting init do not count).
  // From inside on_change/log_sink it only requests the stop (waiting there would deadlock).
  void StopAndWait(ReplicaId id);
  std::optional<ReplicaStatus> Get(ReplicaId id) const;
  std::vector<ReplicaStatus> List() const;
  // The last `max_bytes` of the replica's output (whole lines: a cut line is left out, so a last line
  // longer than `max_bytes` gives ""). "" for an unknown replica.
  std::string Logs(ReplicaId id, size_t max_bytes = 64 * 1024) const;
  // Blocks until new output arrives after byte offset `from` (or timeout); returns it and the new offset.
  // Offsets count every byte the replica ever wrote (all restarts), starting at 0. Raw bytes, not
  // line-aligned. When output after `from` was already dropped from the ring, returns from the oldest
  // byte held; an offset past the end is clamped to the end. Returns ("", from) at once for an unknown
  // replica, and as soon as the replica is removed (Stop) while waiting.
  std::pair<std::string, uint64_t> LogsSince(ReplicaId id, uint64_t from, std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::supervisor
