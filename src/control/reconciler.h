// control/reconciler.h: the level-triggered InferenceService reconciler of `inferd serve`, with its effects
// behind small interfaces so that it runs against fakes in tests.
//
// Contract:
// - One pass (Reconcile) lists every InferenceService, runtime, Secret and ServiceAccount from the store and, for
//   each service and each of its components (predictor, transformer, explainer; each with its own revisions,
//   replicas, autoscaler, traffic and route): observe (replicas, downloads) -> plan (control/plan.h) -> act
//   (start, retire, restart replicas; fetch models; events); then the service's status from its components
//   (control/isvc_status.h; written only when it changed). Then the
//   gateway's routes are published (when they changed), retired replicas whose delay passed are stopped,
//   and the model cache is collected when due. A lost event, a replica crash or a restart heal the same way.
// - GPUs: a replica of a revision that asks for GPUs starts only with its devices (control/gpu.h:
//   CUDA_VISIBLE_DEVICES, NVIDIA_VISIBLE_DEVICES); devices are released once the supervisor no longer knows the
//   replica (it exited). Replicas the autoscaler wants but no devices are free for wait: the service's
//   condition ResourcesAvailable is False (reason Unschedulable, the scheduler's "Insufficient nvidia.com/gpu"),
//   a FailedScheduling Warning event is written, and a revision with no replica at all is not Ready and
//   answers held requests 503 at once; they start in a later pass once devices free.
// - Effects: replicas through ReplicaRunner (the supervisor, or a fake), models through ModelFetcher
//   (ModelStorage, or a fake), routes through a callback, time through ReconcileClock (status, event and
//   retry times too); the store through store::Store, itself an interface (tests use its SQLite
//   implementation in a temporary directory); TrainedModels' loads through RepositoryClient
//   (control/trained_models.h).
// - TrainedModels (reconcile_trained_models.cc): each pass places every TrainedModel whose service is
//   multi-model in that service's repository directory (its model fetched like a predictor's) and loads it into
//   every ready replica of the service's predictor, unloads what is no longer wanted, and writes each
//   TrainedModel's status. A replica of a multi-model predictor takes requests only once it loaded every placed
//   TrainedModel (a replica started later, or restarted, too); from then on it stays routed while models come
//   and go.
// - Files: reconciler.cc (the loop, replicas, events, storage credentials, routes), reconcile_service.cc (one
//   service's pass), reconciler_state.h (their shared state, internal).
// - Threads: Reconcile, ActivateHeld, PublishKnownServices and StopAll on one thread (the reconciler's); `wake`
//   may be called from it (the caller's loop wakes). LogTargets may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autoscaler/autoscaler.h"
#include "control/gpu.h"
#include "control/local_images.h"
#include "control/model_storage.h"
#include "core/status.h"
#include "gateway/gateway.h"
#include "store/store.h"
#include "supervisor/supervisor.h"

namespace inferd::control {

class RepositoryClient;  // control/trained_models.h

// Replicas: the supervisor (SupervisorRunner), or a test fake.
class ReplicaRunner {
 public:
  virtual ~ReplicaRunner() = default;
  virtual StatusOr<supervisor::ReplicaId> Start(supervisor::ReplicaSpec spec) = 0;
  virtual void Stop(supervisor::ReplicaId id) = 0;         // asynchronous
  virtual void StopAndWait(supervisor::ReplicaId id) = 0;
  virtual void Restart(supervisor::ReplicaId id) = 0;      // asynchronous, no backoff
  // Phase (readiness), ports, crashes, and why a running replica is not ready (not_ready_reason).
  virtual std::optional<supervisor::ReplicaStatus> Get(supervisor::ReplicaId id) const = 0;
};

class SupervisorRunner : public ReplicaRunner {
 public:
  explicit SupervisorRunner(supervisor::Supervisor* sup) : sup_(sup) {}
  StatusOr<supervisor::ReplicaId> Start(supervisor::ReplicaSpec spec) override { return sup_->Start(std::move(spec)); }
  void Stop(supervisor::ReplicaId id) override { sup_->Stop(id); }
  void StopAndWait(supervisor::ReplicaId id) override { sup_->StopAndWait(id); }
  void Restart(supervisor::ReplicaId id) override { sup_->Restart(id); }
  std::optional<supervisor::ReplicaStatus> Get(supervisor::ReplicaId id) const override { return sup_->Get(id); }

 private:
  supervisor::Supervisor* sup_;
};

// Time: the steady clock (decisions, autoscaling) and the wall clock (status and event times).
class ReconcileClock {
 public:
  virtual ~ReconcileClock() = default;
  virtual int64_t SteadyNs() const = 0;
  virtual std::chrono::system_clock::time_point SystemNow() const = 0;
};

class RealClock : public ReconcileClock {
 public:
  int64_t SteadyNs() const override;
  std::chrono::system_clock::time_point SystemNow() const override;
};

struct ReconcilerOptions {
  std::string domain = "example.com";
  int gateway_http_port = 0;  // for status.address, and a transformer's INFERD_GATEWAY
  int gateway_grpc_port = 0;  // a transformer's INFERD_GATEWAY_GRPC (0: not set)
  autoscaler::AutoscalerConfig autoscaler;
  int initial_backoff_ms = 1000;  // replicas' restart backoff, and the failed-load retry delay
  int max_backoff_ms = 300000;
  std::string inferd_bin;         // for `inferd model-server` replicas
  std::string compiled_cache;     // INFERD_COMPILED_CACHE of replicas
  std::string repository_token;   // INFERD_REPOSITORY_TOKEN of replicas
  std::string run_dir;            // replicas' Unix sockets ("" = TCP only)
  // A custom predictor run by a Python interpreter gets this directory (control/kserve_stub.h) last on its
  // PYTHONPATH ("" = none).
  std::string kserve_stub_dir;
  LocalImages images;             // what container images without a command run here (control/local_images.h)
  // The machine's GPUs (control/gpu.h): a replica asking for resources.limits["nvidia.com/gpu"] gets that many
  // of them, never one another replica holds; with none free it waits, and the service says Unschedulable.
  GpuInventory gpus;
  // Multi-model serving: where each multi-model service's repository is (<repository_root>/<ns>/<isvc>), and
  // the calls to its replicas' repository API (null: HttpRepositoryClient with repository_token).
  std::string repository_root;
  RepositoryClient* repository_client = nullptr;
  // Replica templates (supervisor/zygote.h; "" = none): `inferd model-server` predictors whose environment
  // holds only variables read after start-up (ChooseReplicaTemplate) are forked from `native_template`, or from
  // `python_template` when needs_python(format, model_dir) says their model loads through Python (asked again
  // at every start of the replica, restarts included: ReplicaSpec::choose_template).
  std::string native_template, python_template;
  std::function<bool(const std::string& format, const std::string& model_dir)> needs_python;
};

class Reconciler {
 public:
  using RoutesFn = std::function<void(std::shared_ptr<gateway::RoutingTable>)>;
  Reconciler(ReconcilerOptions options, store::Store* store, ReplicaRunner* runner, ModelFetcher* fetcher,
             const ReconcileClock* clock, RoutesFn publish_routes, std::function<void()> wake);
  ~Reconciler();

  void Reconcile();     // one full pass (see the contract)
  void ActivateHeld();  // requests held for a revision: start its first replica and publish routes now
  void PublishKnownServices();  // before the first pass: every stored service has a (503) route
  void StopAll();       // asks every revision's replicas to stop (the runner reaps them)
  int64_t next_retire_ns() const;  // the earliest pending retirement (steady ns; 0: none)

  // For the logs extension (any thread): a service's replicas, newest revision first.
  std::optional<std::vector<std::pair<std::string, supervisor::ReplicaId>>> LogTargets(const std::string& key) const;

  struct State;  // the reconciler thread's (reconciler.cc)

 private:
  std::unique_ptr<State> s_;
};

}  // namespace inferd::control
