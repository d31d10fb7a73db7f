// kube/leader.h: leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does
// it (tryAcquireOrRenew, resourcelock/leaselock.go), so that one of several `inferd operator` replicas
// reconciles.
//
// Contract:
// - DecideLease is pure: from the Lease as read now (nullopt = it does not exist), the local observation
//   (the record last seen and when, on the local monotonic clock, it last changed), the monotonic now, the
//   wall-clock now (for the MicroTime fields) and the config, it returns what to do:
//     missing lease                          -> kCreate (holder = self, acquire = renew = now, transitions 0)
//     held by self                           -> kRenew (renewTime = now; acquireTime, transitions kept)
//     held by another (non-empty holder) and
//       observed unchanged for < leaseDuration -> kWait (never trusts the remote renewTime)
//     else (expired locally, or holder "")    -> kTakeOver (holder = self, acquire = renew = now,
//                                                leaseTransitions + 1)
//   The desired record keeps the Lease's resourceVersion, so the runner's PUT is guarded by it.
// - ObserveLease is pure: the observation after reading `current` at now (the time moves only when the
//   record - holder, duration, acquire, renew, transitions - differs from the one last observed).
// - LeaderElector applies decisions through KubeClient: Create (POST; 409 AlreadyExists = lost) or
//   Update (PUT with the read resourceVersion; 409 Conflict = lost). Run loops every retry_period: while
//   leading it renews, and it gives up leadership (on_stopped_leading) when no renew succeeded for
//   renew_deadline. On Stop while leading it releases the Lease (holder "", as ReleaseOnCancel does) so
//   a successor need not wait lease_duration.
// - Times: MicroTime "2006-01-02T15:04:05.000000Z" (FormatMicroTime / ParseMicroTime, UTC).
// - Defaults are controller-runtime's: 15 s lease, 10 s renew deadline, 2 s retry period.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "core/mutex.h"
#include "kube/client.h"
#include "kube/workqueue.h"

namespace inferd::kube {

using WallTime = std::chrono::system_clock::time_point;

std::string FormatMicroTime(WallTime t);
std::optional<WallTime> ParseMicroTime(std::string_view text);  // also accepts RFC 3339 without fraction

// The Lease's spec plus the resourceVersion it was read at.
struct LeaseRecord {
  std::string holder_identity;
  int lease_duration_seconds = 0;
  std::string acquire_time;  // MicroTime
  std::string renew_time;    // MicroTime
  int lease_transitions = 0;
  std::string resource_version;

  bool SameRecord(const LeaseRecord& o) const;  // every spec field equal (resourceVersion not compared)
};

Gvr LeaseGvr();
LeaseRecord LeaseFromJson(const Json& lease);
// A Lease object named `name` in `ns` with this record (metadata.resourceVersion when set).
Json LeaseToJson(const LeaseRecord& record, std::string_view ns, std::string_view name);

struct LeaderConfig {
  std::string identity;  // unique per replica (e.g. pod name + uuid)
  std::string lease_namespace = "default";
  std::string lease_name = "inferd-operator-leader";
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
};

struct LeaseObservation {
  std::optional<LeaseRecord> record;  // last seen
  int64_t observed_ns = 0;            // local monotonic time it last changed
};

LeaseObservation ObserveLease(const LeaseObservation& previous, const std::optional<LeaseRecord>& current,
                              int64_t now_ns);

enum class LeaseAction { kCreate, kRenew, kTakeOver, kWait };
const char* LeaseActionName(LeaseAction a);

struct LeaseDecision {
  LeaseAction action = LeaseAction::kWait;
  LeaseRecord desired;  // what to write (kWait: the current record)
};

LeaseDecision DecideLease(const std::optional<LeaseRecord>& current, const LeaseObservation& observation,
                          int64_t now_ns, WallTime wall_now, const LeaderConfig& config);

struct LeaderCallbacks {
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
};

class LeaderElector {
 public:
  LeaderElector(KubeClient& client, LeaderConfig config, LeaderCallbacks callbacks = {},
                const Clock* clock = RealClock::Get());
  ~LeaderElector();  // Stop()s

  // One attempt (read, decide, write) at the clock's now; true when this replica holds the Lease after it.
  // Updates IsLeader and calls the callbacks on a change.
  bool TryAcquireOrRenew();
  // Loops TryAcquireOrRenew every retry_period until Stop (drops leadership after renew_deadline without
  // a successful renew). Start() runs it on an own thread.
  void Run();
  void Start();
  // Ends Run, releases the Lease when leading, joins the thread.
  void Stop();

  bool IsLeader() const { return leader_.load(); }
  const LeaderConfig& config() const { return config_; }

 private:
  void SetLeader(bool leader);
  void Release();

  KubeClient& client_;
  LeaderConfig config_;
  LeaderCallbacks callbacks_;
  const Clock* clock_;
  LeaseObservation observation_;
  int64_t last_renew_ns_ = 0;
  std::atomic<bool> leader_{false};
  std::atomic<bool> stop_{false};
  Mutex mu_;
  CondVar cv_;
  std::thread thread_;
};

}  // namespace inferd::kube
