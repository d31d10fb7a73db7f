#include "control/plan.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "autoscaler/autoscaler.h"

namespace inferd::control {

using resources::Json;

std::string RevisionHash(const Json& component, const resources::RuntimeChoice* runtime,
                         const std::map<std::string, std::string>& annotations) {
  // canaryTrafficPercent moves traffic between revisions and does not make a new one (as in Knative,
  // where traffic lives in the Route).
  Json templ = component;
  if (templ.is_object()) templ.erase("canaryTrafficPercent");
  std::string input = templ.dump();
  if (runtime) {
    auto spec = runtime->runtime.is_object() ? runtime->runtime.find("spec") : runtime->runtime.end();
    input += "|" + runtime->name + "|" + (spec != runtime->runtime.end() ? spec->dump() : std::string("null"));
  }
  // The autoscaling annotations are part of the revision (Knative keeps them on the revision template).
  for (const auto& [k, v] : annotations) {
    if (k.starts_with(autoscaler::kAnnotationPrefix)) input += "|" + k + "=" + v;
  }
  return std::to_string(std::hash<std::string>{}(input));
}

int NextRevisionNumber(std::optional<int> newest, const std::string& recorded_latest, const std::string& recorded_hash,
                       const std::string& hash) {
  if (newest) return *newest + 1;
  int number = 0;  // after a restart: continue the numbering the status recorded
  if (recorded_latest.size() > 5) number = std::atoi(recorded_latest.substr(recorded_latest.size() - 5).c_str());
  if (recorded_hash != hash) ++number;
  return number == 0 ? 1 : number;
}

std::string RevisionName(const std::string& service, const std::string& component, int number) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%05d", number);
  return service + "-" + component + "-" + buf;
}

TrafficPlan PlanTraffic(const TrafficInput& in) {
  TrafficPlan out;
  out.rollout = in.rollout;
  std::string& rolled = out.rollout.latest_rolled_out;
  const bool has_rolled = std::find(in.revisions.begin(), in.revisions.end(), rolled) != in.revisions.end();
  const bool newest_ready = !in.newest.empty() && in.newest_ready;
  out.split = newest_ready && in.canary_percent >= 0 && in.canary_percent < 100 && !rolled.empty() &&
              rolled != in.newest && has_rolled;
  if (newest_ready && !out.split && rolled != in.newest) {
    if (!rolled.empty()) out.rollout.previous_rolled_out = rolled;
    rolled = in.newest;
  }
  const bool rolled_runs = std::find(in.revisions.begin(), in.revisions.end(), rolled) != in.revisions.end();
  if (out.split) {
    out.traffic.push_back({in.newest, in.canary_percent, true, in.tag_routing ? "latest" : ""});
    // KServe tags the previous revision "prev" in every split (its ksvc traffic), with or without tag routing:
    // kubectl's PREV and PREVROLLEDOUTREVISION columns read that tag. Only "latest" needs the annotation.
    out.traffic.push_back({rolled, 100 - in.canary_percent, false, "prev"});
  } else if (!rolled.empty() && rolled_runs) {
    const bool is_newest = !in.newest.empty() && in.newest == rolled;
    out.traffic.push_back({rolled, 100, is_newest, in.tag_routing ? (is_newest ? "latest" : "prev") : ""});
  }
  // Retire what is neither the newest nor the last rolled out.
  std::vector<std::string> remaining = in.revisions;
  out.newest = in.newest;
  for (size_t i = 0; i < remaining.size();) {
    if (remaining[i] == rolled || (!out.newest.empty() && remaining[i] == out.newest)) {
      ++i;
      continue;
    }
    out.retire.push_back(remaining[i]);
    remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(i));
    out.newest = remaining.empty() ? "" : remaining.back();
  }
  return out;
}

std::string TrafficText(const std::vector<TrafficTarget>& traffic) {
  std::string text;
  for (const auto& t : traffic) text += (text.empty() ? "" : ", ") + std::to_string(t.percent) + "% to " + t.revision;
  return text;
}

ScalePlan PlanScale(const ScaleInput& in) {
  ScalePlan out;
  std::vector<bool> ready = in.replica_ready;
  const int have = static_cast<int>(ready.size());
  if (in.can_start && have < in.want) out.start = in.want - have;
  while (static_cast<int>(ready.size()) > std::max(0, in.want)) {
    size_t pick = ready.size() - 1;  // the newest, unless one is not ready
    for (size_t i = 0; i < ready.size(); ++i) {
      if (!ready[i]) {
        pick = i;
        break;
      }
    }
    out.retire.push_back(pick);
    ready.erase(ready.begin() + static_cast<std::ptrdiff_t>(pick));
  }
  return out;
}

ComponentReadiness PlanReadiness(const ComponentObservation& in) {
  ComponentReadiness out;
  out.failure_reason = in.failure_reason;
  out.failure_message = in.failure_message;
  out.reason = in.reason;
  out.message = in.message;
  if (!in.load_failure.empty()) {
    out.failure_reason = out.reason = "ModelLoadFailed";
    out.failure_message = out.message = in.load_failure;
  }
  if (!in.build_error.empty()) {
    out.failure_reason = out.reason = "RuntimeNotRunnable";
    out.failure_message = out.message = in.build_error;
  }
  out.transition_status = in.spec_invalid ? "InvalidSpec" : "InProgress";
  out.active_state = "Pending";
  if (in.newest_ready) {
    out.active_state = "Loaded";
    out.transition_status = "UpToDate";
  } else if (!out.failure_reason.empty() && !in.spec_invalid) {
    out.active_state = in.serving_ready ? "Loaded" : "FailedToLoad";
    out.transition_status = "BlockedByFailedLoad";
  } else if (!in.spec_invalid) {
    out.active_state = in.serving_ready ? "Loaded" : in.newest_has_replicas ? "Loading" : "Pending";
  }
  if (!in.serving_ready && out.reason.empty()) {
    out.reason = in.newest_has_replicas ? "Loading" : (in.storage_ready ? "Pending" : "Downloading");
    out.message = in.newest_has_replicas ? "waiting for a replica to load the model"
                                         : (in.storage_ready ? "" : "downloading the model");
  }
  return out;
}

}  // namespace inferd::control
