// operator/controller.h: `inferd operator`'s controller: watches InferenceServices, the runtimes and the
// children it owns through kube/ reflectors, and reconciles each InferenceService with the pure plan
// (operator/plan.h), acting through the Kubernetes API (kube/client.h).
//
// Contract:
// - Watches (list + watch, relist on 410: kube::Reflector): InferenceServices, ServingRuntimes and
//   ClusterServingRuntimes, and every child kind of ManagedKinds() (Ingress/HTTPRoute/Knative Service
//   only when configured), children filtered by the label serving.kserve.io/inferenceservice. An event
//   on an InferenceService queues its key; on a child, its controller owner's key; on a runtime, every
//   InferenceService that may use it (its namespace's, or all for a ClusterServingRuntime).
// - Reconcile(key), one key at a time (kube::WorkQueue: never the same key twice at once):
//     gone from the cache                 -> nothing (the garbage collector deletes the children);
//     deletionTimestamp set               -> delete the owned children, then remove the finalizer
//                                            `inferenceservice.finalizers` (merge patch guarded by
//                                            resourceVersion);
//     else                                -> add the finalizer when missing, plan, then create missing
//                                            children, update drifted ones (PUT with their resourceVersion),
//                                            delete owned ones no longer wanted, and PUT /status only when
//                                            the status changed.
//   Any API error ends the pass with that error: the key is re-queued with the queue's backoff
//   (client-go's default rate limiter); a success forgets its failures. A 404 on delete counts as done.
// - Runtimes: the cluster's ClusterServingRuntimes, then inferd's built-in ones whose names the cluster does
//   not define (Options::builtin_runtimes), so the operator runs without any runtime installed.
// - Leader election (Options::leader_elect): workers reconcile only while this replica holds the Lease
//   (kube::LeaderElector); the caches stay warm meanwhile so a new leader starts at once.
// - Threads: one per reflector, one worker, one for the elector. Stop() ends and joins them all; every
//   wait is bounded (the queue's Get timeout, the client's timeouts).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "kube/leader.h"
#include "kube/reflector.h"
#include "kube/workqueue.h"
#include "operator/plan.h"

namespace inferd::op {

struct ControllerOptions {
  OperatorConfig plan;
  std::string watch_namespace;  // "" = all namespaces
  bool builtin_runtimes = true;
  bool leader_elect = false;
  kube::LeaderConfig leader;  // lease name/namespace/identity when leader_elect
  std::chrono::milliseconds reflector_initial_backoff{800};
  std::chrono::milliseconds reflector_max_backoff{30000};
  kube::RateLimiterOptions rate;  // the queue's requeue backoff
};

kube::Gvr IsvcGvr();
kube::Gvr ChildGvr(const ChildKind& kind);

class Controller {
 public:
  Controller(kube::KubeClient& client, ControllerOptions options);
  ~Controller();  // Stop()s
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void Start();
  void Stop();
  bool HasSynced() const;
  bool IsLeader() const;

  // One reconcile of "namespace/name" (what the worker runs per key); public for tests.
  kube::ApiStatus Reconcile(const std::string& key);

  struct Counters {
    uint64_t reconciles = 0, errors = 0, creates = 0, updates = 0, deletes = 0, status_writes = 0;
  };
  Counters counters() const;

 private:
  struct Watch;
  void Worker();
  void EnqueueAll(const std::string& ns);  // every cached InferenceService (of `ns`; "" = all)
  kube::ApiStatus Finalize(const Json& isvc, const std::vector<Json>& children);
  kube::ApiStatus Apply(const ChildAction& action);
  kube::ApiStatus EnsureFinalizer(Json& isvc);
  std::vector<Json> ChildrenOf(const std::string& ns) const;
  std::vector<Json> ClusterRuntimes() const;

  kube::KubeClient& client_;
  ControllerOptions options_;
  kube::WorkQueue queue_;
  kube::Store isvcs_, runtimes_, cluster_runtimes_;
  std::vector<std::unique_ptr<Watch>> watches_;
  std::unique_ptr<kube::LeaderElector> elector_;
  std::atomic<bool> stop_{false};
  std::thread worker_;
  mutable Mutex mu_;
  Counters counters_ GUARDED_BY(mu_);
};

}  // namespace inferd::op
