// control/isvc_status.h: an InferenceService's status as a typed value, and its one JSON form.
//
// Contract:
// - IsvcStatus holds what the reconciler decided and observed for one pass (url, address, modelStatus,
//   components with their traffic, conditions, observedGeneration, and inferd's extension `status.inferd`).
//   ToJson is its only JSON writer: every status key is spelled once, in isvc_status.cc (kStatus* names
//   below are the ones other code reads back).
// - ToJson is pure: the previous status (as stored) and the time `now` (RFC 3339) are inputs. It keeps a
//   condition's lastTransitionTime while its status, reason and message stay the same, and the time of
//   modelStatus.lastFailureInfo while its message stays the same; otherwise they become `now`.
// - status.inferd keeps the keys a previous status had that this type does not model (`inferd.carried`,
//   in their order), as the reconciler always did; `replicas` and `storage` are never carried. The
//   JSON's key order is the reconciler's historic one (the store compares statuses as ordered JSON, and a
//   status write happens only when it changed): an unchanged status serializes the same from its second
//   pass on (in the first, the carried `inferd` keys keep their order and `replicas` moves to the end).
// - No I/O, no clock, no locks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "resources/resources.h"

namespace inferd::control {

// Keys read back by other parts of the control plane.
inline constexpr char kStatusConditions[] = "conditions";
inline constexpr char kStatusInferd[] = "inferd";
inline constexpr char kStatusInferdReplicas[] = "replicas";
inline constexpr char kStatusInferdSpecHash[] = "predictorSpecHash";
// The key of a component's template hash in status.inferd: predictorSpecHash, transformerSpecHash, ...
inline std::string SpecHashKey(const std::string& component) { return component + "SpecHash"; }

struct ConditionStatus {
  std::string type;
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason, message;  // "" = absent
};
// A True condition has neither reason nor message; a False one has those that are not empty.
ConditionStatus MakeCondition(const std::string& type, bool ok, const std::string& reason, const std::string& message);

struct FailureInfo {
  std::string location, reason, message;
  std::string model_revision_name;  // "" = absent
};

struct ModelStatus {
  std::string transition_status;  // KServe's TransitionStatus: UpToDate, InProgress, BlockedByFailedLoad, InvalidSpec
  std::string active_state;       // Pending, Loading, Loaded, FailedToLoad
  std::string target_state = "Loaded";
  int failed_copies = 0, total_copies = 0;
  std::optional<FailureInfo> last_failure;
};

struct TrafficStatus {
  std::string revision;
  int percent = 0;
  bool latest = false;
  std::string tag, url;  // with tag routing only
};

struct ComponentStatus {
  std::string url;
  // "" = absent.
  std::string latest_created, latest_ready, latest_rolled_out, previous_rolled_out;
  std::vector<TrafficStatus> traffic;
};

struct ReplicaStatusView {
  std::string name, revision, phase;
  int pid = 0, http_port = 0, grpc_port = 0, restarts = 0;
  std::string reason, message;  // "" = absent
  std::string gpus;             // its devices as CUDA_VISIBLE_DEVICES names them ("" = none; absent)
};

struct ModelLoadStatus {  // status.inferd.modelLoad while the newest revision's model fails to load
  std::string revision;
  int failed_attempts = 0;
  std::string next_retry_time;  // RFC 3339; "" while a retry runs (state Retrying), else state BackOff
};

struct RevisionAutoscalerStatus {
  int desired_replicas = 0;
  std::string metric;
  double target = 0;
  int min_scale = 0, max_scale = 0;
  bool panicking = false;
  double observed = 0;  // already rounded by the caller
};

struct RevisionStatus {
  std::string name, runtime;
  int percent = 0, replicas = 0, ready_replicas = 0;
  bool latest = false;
  std::optional<RevisionAutoscalerStatus> autoscaler;
  std::string tag;  // "" = absent
};

struct InferdStatus {
  resources::Json carried;               // the previous status.inferd (null: none); see the contract
  std::optional<std::string> spec_hash;  // the predictor's; unset: the carried one stays
  // The other components' template hashes, by key (transformerSpecHash, explainerSpecHash): a key not given
  // here is dropped (the component is gone).
  std::map<std::string, std::string> component_spec_hashes;
  std::optional<std::string> runtime;    // unset: the carried one stays
  resources::Json storage;               // null = absent
  std::vector<ReplicaStatusView> replicas;
  std::optional<ModelLoadStatus> model_load;
  std::vector<RevisionStatus> revisions;
};

struct IsvcStatus {
  std::string url, address_url;
  ModelStatus model_status;
  std::vector<std::pair<std::string, ComponentStatus>> components;  // by component name, in order
  std::vector<ConditionStatus> conditions;
  int64_t observed_generation = 1;
  std::string deployment_mode;  // status.deploymentMode ("" = absent: `inferd serve` does not write it)
  InferdStatus inferd;
};

// `old_status` is the stored status (any JSON; a non-object counts as none).
resources::Json ToJson(const IsvcStatus& status, const resources::Json& old_status, const std::string& now);

// The conditions alone (the same rules for lastTransitionTime), for a status edited in place.
resources::Json ConditionsToJson(const std::vector<ConditionStatus>& conditions, const resources::Json& old_status,
                                 const std::string& now);

}  // namespace inferd::control
