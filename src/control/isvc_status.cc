#include "control/isvc_status.h"

#include <map>

namespace inferd::control {

using resources::Json;

namespace {

// The previous status's object at `key`, or null.
const Json* Child(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string Text(const Json* obj, const char* key) {
  return obj && obj->is_object() ? obj->value(key, std::string()) : std::string();
}

Json FailureJson(const FailureInfo& f, const Json& old_status, const std::string& now) {
  Json j = {{"location", f.location}, {"reason", f.reason}, {"message", f.message}};
  if (!f.model_revision_name.empty()) j["modelRevisionName"] = f.model_revision_name;
  // Keep the time of a failure that is still the same one.
  const Json* old = Child(old_status, "modelStatus");
  old = old ? Child(*old, "lastFailureInfo") : nullptr;
  j["time"] = old && old->is_object() && Text(old, "message") == f.message ? old->value("time", now) : now;
  return j;
}

Json ModelStatusJson(const ModelStatus& m, const Json& old_status, const std::string& now) {
  Json j = {{"transitionStatus", m.transition_status},
            {"states", {{"activeModelState", m.active_state}, {"targetModelState", m.target_state}}},
            {"copies", {{"failedCopies", m.failed_copies}, {"totalCopies", m.total_copies}}}};
  if (m.last_failure) j["lastFailureInfo"] = FailureJson(*m.last_failure, old_status, now);
  return j;
}

Json ComponentJson(const ComponentStatus& c) {
  Json j = {{"url", c.url}};
  if (!c.latest_created.empty()) j["latestCreatedRevision"] = c.latest_created;
  if (!c.latest_ready.empty()) j["latestReadyRevision"] = c.latest_ready;
  if (!c.latest_rolled_out.empty()) j["latestRolledoutRevision"] = c.latest_rolled_out;
  if (!c.previous_rolled_out.empty()) j["previousRolledoutRevision"] = c.previous_rolled_out;
  Json traffic = Json::array();
  for (const auto& t : c.traffic) {
    Json e = {{"revisionName", t.revision}, {"percent", t.percent}, {"latestRevision", t.latest}};
    if (!t.tag.empty()) {
      e["tag"] = t.tag;
      e["url"] = t.url;
    }
    traffic.push_back(std::move(e));
  }
  j["traffic"] = std::move(traffic);
  return j;
}

Json ReplicaJson(const ReplicaStatusView& r) {
  Json j = {{"name", r.name},         {"revision", r.revision},  {"phase", r.phase},       {"pid", r.pid},
            {"httpPort", r.http_port}, {"grpcPort", r.grpc_port}, {"restarts", r.restarts}};
  if (!r.reason.empty()) j["reason"] = r.reason;
  if (!r.message.empty()) j["message"] = r.message;
  if (!r.gpus.empty()) j["gpus"] = r.gpus;
  return j;
}

Json RevisionJson(const RevisionStatus& r) {
  Json j = {{"name", r.name},         {"runtime", r.runtime},
            {"percent", r.percent},   {"replicas", r.replicas},
            {"readyReplicas", r.ready_replicas}, {"latest", r.latest}};
  if (r.autoscaler) {
    const RevisionAutoscalerStatus& a = *r.autoscaler;
    j["autoscaler"] = {{"desiredReplicas", a.desired_replicas}, {"metric", a.metric},
                       {"target", a.target},                    {"minScale", a.min_scale},
                       {"maxScale", a.max_scale},               {"panicking", a.panicking},
                       {"observed", a.observed}};
  }
  if (!r.tag.empty()) j["tag"] = r.tag;
  return j;
}

// status.inferd: the carried keys first, then this pass's, in the order the reconciler always wrote them.
Json InferdJson(const InferdStatus& s) {
  Json j = s.carried.is_object() ? s.carried : Json::object();
  j.erase(kStatusInferdReplicas);
  j.erase("storage");
  if (s.spec_hash) j[kStatusInferdSpecHash] = *s.spec_hash;
  for (const char* key : {"transformerSpecHash", "explainerSpecHash"}) {
    auto it = s.component_spec_hashes.find(key);
    if (it == s.component_spec_hashes.end()) {
      j.erase(key);
    } else {
      j[key] = it->second;
    }
  }
  if (s.runtime) j["runtime"] = *s.runtime;
  if (!s.storage.is_null()) j["storage"] = s.storage;
  Json replicas = Json::array();
  for (const auto& r : s.replicas) replicas.push_back(ReplicaJson(r));
  j[kStatusInferdReplicas] = std::move(replicas);
  j.erase("modelLoad");
  if (s.model_load) {
    const ModelLoadStatus& m = *s.model_load;
    Json load = {{"revision", m.revision},
                 {"failedAttempts", m.failed_attempts},
                 {"state", m.next_retry_time.empty() ? "Retrying" : "BackOff"}};
    if (!m.next_retry_time.empty()) load["nextRetryTime"] = m.next_retry_time;
    j["modelLoad"] = std::move(load);
  }
  Json revisions = Json::array();
  for (const auto& r : s.revisions) revisions.push_back(RevisionJson(r));
  j["revisions"] = std::move(revisions);
  return j;
}

}  // namespace

ConditionStatus MakeCondition(const std::string& type, bool ok, const std::string& reason, const std::string& message) {
  if (ok) return {type, "True", "", ""};
  return {type, "False", reason, message};
}

Json ConditionsToJson(const std::vector<ConditionStatus>& conditions, const Json& old_status, const std::string& now) {
  std::map<std::string, const Json*> old;
  if (const Json* list = Child(old_status, kStatusConditions); list && list->is_array()) {
    for (const auto& c : *list) {
      if (c.is_object()) old[c.value("type", std::string())] = &c;
    }
  }
  Json out = Json::array();
  for (const auto& c : conditions) {
    Json j = {{"type", c.type}, {"status", c.status}};
    if (!c.reason.empty()) j["reason"] = c.reason;
    if (!c.message.empty()) j["message"] = c.message;
    auto it = old.find(c.type);
    bool same = it != old.end() && Text(it->second, "status") == c.status && Text(it->second, "reason") == c.reason &&
                Text(it->second, "message") == c.message;
    j["lastTransitionTime"] = same ? it->second->value("lastTransitionTime", now) : now;
    out.push_back(std::move(j));
  }
  return out;
}

Json ToJson(const IsvcStatus& s, const Json& old_status, const std::string& now) {
  Json j = Json::object();
  j["url"] = s.url;
  j["address"] = {{"url", s.address_url}};
  j["modelStatus"] = ModelStatusJson(s.model_status, old_status, now);
  Json components = Json::object();
  for (const auto& [name, c] : s.components) components[name] = ComponentJson(c);
  j["components"] = std::move(components);
  j[kStatusConditions] = ConditionsToJson(s.conditions, old_status, now);
  j["observedGeneration"] = s.observed_generation;
  if (!s.deployment_mode.empty()) j["deploymentMode"] = s.deployment_mode;
  j[kStatusInferd] = InferdJson(s.inferd);
  return j;
}

}  // namespace inferd::control
