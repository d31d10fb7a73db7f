// control/plan.h: the reconciler's decisions for one component of an InferenceService, as pure functions:
// which revision the spec asks for, where traffic goes (KServe's canary rollout and rollback), which
// revisions retire, how many replicas start or retire, and what the component's model state and
// readiness say.
//
// Contract:
// - Pure: every input is an argument (no clock, no I/O, no locks), and nothing here names a process, a
//   replica id or the supervisor: a revision is a name and counts. The reconciler (control_plane.cc)
//   turns a plan into processes; a Kubernetes operator can turn the same plan into Deployments.
// - Components: every function works on one component (predictor, transformer or explainer); a service's
//   plan is one call per component (reconcile_service.cc: ReconcileComponent), calls, not branches.
// - Revisions: a revision is a component's template (the component's spec without canaryTrafficPercent,
//   the chosen runtime and the autoscaling annotations); a new template is a new revision named
//   {service}-{component}-{NNNNN}, numbered on from the newest one (after a restart: from the number the
//   stored status recorded, kept when the template is the one that status recorded).
// - Traffic (PlanTraffic): without a canary the newest revision takes all traffic once it has a ready
//   replica (it is then "rolled out"); until then the last rolled-out one keeps serving. With
//   canaryTrafficPercent P (< 100) and a ready newest revision, P% go to it and the rest to the last
//   rolled-out one; P = 0 is a rollback. Revisions that are neither the newest nor the last rolled out retire.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "resources/resources.h"

namespace inferd::control {

// ---- revisions ----

// The hash naming a component template. `component` is spec.<component> as written; `runtime` the chosen
// runtime (null for custom containers); `annotations` the component's (only autoscaling ones count).
std::string RevisionHash(const resources::Json& component, const resources::RuntimeChoice* runtime,
                         const std::map<std::string, std::string>& annotations);

// The number of a new revision with template `hash`. `newest` is the newest running revision's number
// (nullopt: none runs, e.g. after a restart); then `recorded_latest` (the stored status's
// latestCreatedRevision) and `recorded_hash` (its template hash) continue the numbering.
int NextRevisionNumber(std::optional<int> newest, const std::string& recorded_latest, const std::string& recorded_hash,
                       const std::string& hash);

std::string RevisionName(const std::string& service, const std::string& component, int number);

// ---- traffic ----

struct Rollout {
  std::string latest_rolled_out;    // the last revision that took all traffic ("" = none yet)
  std::string previous_rolled_out;  // the one before it
};

struct TrafficTarget {
  std::string revision;
  int percent = 0;
  bool latest = false;
  std::string tag;  // "prev" on the previous revision of a split (as KServe); "latest" only with enable-tag-routing
};

struct TrafficInput {
  std::vector<std::string> revisions;  // the component's revisions, oldest first
  std::string newest;                  // the revision the spec asks for ("" = none: the spec is invalid)
  bool newest_ready = false;           // it has a ready replica
  int canary_percent = -1;             // canaryTrafficPercent; -1 = none
  bool tag_routing = false;
  Rollout rollout;                     // from the previous pass
};

struct TrafficPlan {
  Rollout rollout;
  std::vector<TrafficTarget> traffic;
  bool split = false;                // a canary split is in effect
  std::vector<std::string> retire;   // revisions to retire (neither the newest nor the last rolled out)
  // The newest revision once they retired: `newest`, except that when there was none (an invalid spec) and a
  // revision retired, the last remaining one counts as the newest (the reconciler has always done so).
  std::string newest;
};

TrafficPlan PlanTraffic(const TrafficInput& in);

// "10% to a, 90% to b" (the TrafficShifted event's message; "" for no traffic).
std::string TrafficText(const std::vector<TrafficTarget>& traffic);

// ---- replicas ----

struct ScaleInput {
  int want = 0;                     // the autoscaler's desired count
  std::vector<bool> replica_ready;  // the revision's replicas, oldest first: ready or not
  bool can_start = true;            // its model and command are ready
};

struct ScalePlan {
  int start = 0;                    // replicas to start
  std::vector<size_t> retire;       // indices into replica_ready, in the order to retire them
};

// Scale down takes a not-ready replica first, else the newest; indices refer to the list as it shrinks
// (remove each one before applying the next).
ScalePlan PlanScale(const ScaleInput& in);

// ---- model state and readiness ----

// What was found about a component this pass, before its readiness is decided.
struct ComponentObservation {
  bool spec_invalid = false;  // the spec, runtime or scaling was refused (said in failure and reason)
  std::string failure_reason, failure_message;  // for KServe's lastFailureInfo so far ("" = none)
  std::string reason, message;                  // why the component is not ready so far ("" = not known)
  std::string load_failure;   // the newest revision's model failed to load with this ("" = no)
  std::string build_error;    // the newest revision's command cannot be built or started ("" = no)
  bool newest_ready = false;  // the newest revision has a ready replica, or was ready and is at zero on purpose
  bool newest_has_replicas = false;
  bool serving_ready = false;  // a revision with a share of the traffic is ready (or at zero on purpose)
  bool storage_ready = true;   // the newest revision's model is local
};

struct ComponentReadiness {
  std::string transition_status;  // modelStatus.transitionStatus
  std::string active_state;       // modelStatus.states.activeModelState
  std::string failure_reason, failure_message;  // lastFailureInfo ("" = none)
  std::string reason, message;    // the component's not-ready reason and message (unused while serving)
};

ComponentReadiness PlanReadiness(const ComponentObservation& in);

}  // namespace inferd::control
