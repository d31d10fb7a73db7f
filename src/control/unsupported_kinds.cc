// control/unsupported_kinds.cc: not-Ready status for InferenceGraphs and TrainedModels (see the header).
#include "control/unsupported_kinds.h"

#include <map>
#include <vector>

#include "api/kinds.h"
#include "control/isvc_status.h"
#include "core/logging.h"

namespace inferd::control {

using store::Json;

namespace {
bool IsReady(const Json& obj) {
  if (!obj.contains("status") || !obj["status"].is_object()) return false;
  const Json& st = obj["status"];
  if (!st.contains("conditions") || !st["conditions"].is_array()) return false;
  for (const Json& c : st["conditions"]) {
    if (c.is_object() && c.value("type", Json()) == "Ready") return c.value("status", Json()) == "True";
  }
  return false;
}
std::string StringAt(const Json& obj, const char* a, const char* b) {
  if (!obj.contains(a) || !obj[a].is_object() || !obj[a].contains(b) || !obj[a][b].is_string()) return "";
  return obj[a][b].get<std::string>();
}
}  // namespace

Json UnsupportedKindStatus(const Json& obj, std::optional<bool> isvc_ready, const std::string& now) {
  const Json old = obj.contains("status") ? obj["status"] : Json();
  bool graph = obj.value("kind", "") == "InferenceGraph";
  std::vector<ConditionStatus> conds;
  if (!graph) {
    std::string isvc = StringAt(obj, "spec", "inferenceService");
    if (!isvc_ready) {
      conds.push_back(MakeCondition("InferenceServiceReady", false, "InferenceServiceNotFound",
                                    "InferenceService \"" + isvc + "\" not found"));
    } else {
      conds.push_back(MakeCondition("InferenceServiceReady", *isvc_ready, "InferenceServiceNotReady",
                                    "Inference Service needs to be ready before Trained Model can be ready"));
    }
  }
  conds.push_back(MakeCondition(
      "Ready", false, "NotSupported",
      graph ? "inferd stores InferenceGraphs but does not run them yet: the graph router comes with inferd issue 17"
            : "inferd stores TrainedModels but does not load them yet: multi-model serving comes with inferd issue 17"));
  Json status = old.is_object() ? old : Json::object();
  status[kStatusConditions] = ConditionsToJson(conds, old, now);
  if (obj.contains("metadata") && obj["metadata"].is_object() && obj["metadata"].contains("generation")) {
    status["observedGeneration"] = obj["metadata"]["generation"];
  }
  return status;
}

void MarkUnsupportedKinds(store::Store* db, const std::string& now) {
  for (const auto* type : {&api::TrainedModelType()}) {  // InferenceGraphs: control/graphs.h
    auto list = db->List(*type, "");
    if (!list.ok()) continue;
    std::map<std::string, std::optional<bool>> isvc_ready;  // "ns/name" -> Ready (nullopt: missing)
    for (Json& obj : list->items) {
      std::optional<bool> ready;
      if (type == &api::TrainedModelType()) {
        std::string ns = StringAt(obj, "metadata", "namespace"), name = StringAt(obj, "spec", "inferenceService");
        auto [it, fresh] = isvc_ready.try_emplace(ns + "/" + name);
        if (fresh) {
          auto isvc = name.empty() ? StatusOr<Json>(NotFound("")) : db->Get(api::InferenceServiceType(), ns, name);
          if (isvc.ok()) it->second = IsReady(*isvc);
        }
        ready = it->second;
      }
      Json status = UnsupportedKindStatus(obj, ready, now);
      if (obj.contains("status") && obj["status"] == status) continue;
      obj["status"] = std::move(status);
      auto r = db->UpdateStatus(*type, obj);
      if (!r.ok() && r.status().code() != StatusCode::kNotFound && r.status().code() != StatusCode::kConflict) {
        LOG_WARN("status of {} {}: {}", type->kind, StringAt(obj, "metadata", "name"), r.status().message());
      }
    }
  }
}

}  // namespace inferd::control
