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
//   200 = Ready. A Ready replica is probed every second; failures of `failure_threshold` consecutive probes
//   make it NotReady (not restarted). Exit of the process: phase Backoff, restart after
//   min(initial_backoff * 2^(restarts), max_backoff); the counter resets after the replica stayed up for
//   `backoff_reset`. Exit code / signal and the last log lines are kept for status
//   (reason "CrashLoopBackOff" while backing off after more than one crash, "Error" after the first).
// - Output: stdout and stderr (interleaved, line-buffered) go to a bounded ring (`log_bytes`, default 1 MiB)
//   per replica, kept across restarts, for `inferd logs`; lines are also passed to the optional sink.
// - Threads: all methods are thread-safe. One internal thread runs the event loop (pipes, pidfd/waitpid,
//   probes, timers). `on_change` is called on that thread after any phase change; it must not block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
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
  std::chrono::milliseconds probe_interval{5};
  int failure_threshold = 3;
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{5 * 60 * 1000};
  std::chrono::milliseconds backoff_reset{10 * 1000};
  std::chrono::milliseconds stop_grace{5000};
  size_t log_bytes = 1 << 20;
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
  std::chrono::system_clock::time_point started_at, ready_at;
};

class Supervisor {
 public:
  using ChangeFn = std::function<void(const ReplicaStatus&)>;
  explicit Supervisor(ChangeFn on_change = nullptr);
  ~Supervisor();  // stops every replica (SIGTERM, then SIGKILL)

  StatusOr<ReplicaId> Start(ReplicaSpec spec);  // spawns now; errors only for a bad spec
  void Stop(ReplicaId id);                        // asynchronous; the replica leaves List when gone
  void StopAndWait(ReplicaId id);                 // blocks until the process group is gone
  std::optional<ReplicaStatus> Get(ReplicaId id) const;
  std::vector<ReplicaStatus> List() const;
  // The last `max_bytes` of the replica's output (whole lines).
  std::string Logs(ReplicaId id, size_t max_bytes = 64 * 1024) const;
  // Blocks until new output arrives after byte offset `from` (or timeout); returns it and the new offset.
  std::pair<std::string, uint64_t> LogsSince(ReplicaId id, uint64_t from, std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::supervisor
