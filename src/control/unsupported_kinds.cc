// control/unsupported_kinds.cc: not-Ready status for InferenceGraphs (see the header).
#include "control/unsupported_kinds.h"

#include <vector>

#include "api/kinds.h"
#include "control/isvc_status.h"
#include "core/logging.h"

namespace inferd::control {

using store::Json;

Json UnsupportedKindStatus(const Json& obj, const std::string& now) {
  const Json old = obj.contains("status") ? obj["status"] : Json();
  std::vector<ConditionStatus> conds;
  conds.push_back(MakeCondition(
      "Ready", false, "NotSupported",
      "inferd stores InferenceGraphs but does not run them yet: the graph router comes with inferd issue 17"));
  Json status = old.is_object() ? old : Json::object();
  status[kStatusConditions] = ConditionsToJson(conds, old, now);
  if (obj.contains("metadata") && obj["metadata"].is_object() && obj["metadata"].contains("generation")) {
    status["observedGeneration"] = obj["metadata"]["generation"];
  }
  return status;
}

void MarkUnsupportedKinds(store::Store* db, const std::string& now) {
  const auto& type = api::InferenceGraphType();
  auto list = db->List(type, "");
  if (!list.ok()) return;
  for (Json& obj : list->items) {
    Json status = UnsupportedKindStatus(obj, now);
    if (obj.contains("status") && obj["status"] == status) continue;
    obj["status"] = std::move(status);
    auto r = db->UpdateStatus(type, obj);
    if (!r.ok() && r.status().code() != StatusCode::kNotFound && r.status().code() != StatusCode::kConflict) {
      LOG_WARN("status of {} {}: {}", type.kind, obj["metadata"].value("name", ""), r.status().message());
    }
  }
}

}  // namespace inferd::control
