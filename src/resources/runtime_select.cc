// resources/runtime_select.cc: SelectRuntime, KServe's runtime selection (see resources.h).
//
// Messages start with the reason KServe reports in status.modelStatus.lastFailureInfo.reason:
// RuntimeNotRecognized (named runtime missing), RuntimeDisabled, NoSupportingRuntime.
// Runtimes with `multiModel: true` are auto-selected for multi-model predictors only (TrainedModels), first.
#include <string>

#include "resources/internal.h"
#include "resources/resources.h"

namespace inferd::resources {
namespace {

using internal::Field;

std::string RuntimeName(const Json& rt) {
  const Json* md = Field(rt, "metadata");
  const Json* name = md ? Field(*md, "name") : nullptr;
  return name && name->is_string() ? name->get<std::string>() : "";
}

const Json& Spec(const Json& rt) {
  static const Json kEmpty = Json::object();
  const Json* s = Field(rt, "spec");
  return s && s->is_object() ? *s : kEmpty;
}

bool FlagSet(const Json& spec, std::string_view key) {
  const Json* v = Field(spec, key);
  return v && v->is_boolean() && v->get<bool>();
}

// KServe: a runtime that lists no protocolVersions speaks v1 only.
bool SupportsProtocol(const Json& spec, const std::string& protocol) {
  const Json* pv = Field(spec, "protocolVersions");
  if (!pv || !pv->is_array() || pv->empty()) return protocol == "v1";
  for (const auto& p : *pv)
    if (p.is_string() && p.get<std::string>() == protocol) return true;
  return false;
}

bool VersionMatches(const std::string& model_version, const Json& format) {
  if (model_version.empty()) return true;
  const Json* v = Field(format, "version");
  if (!v) return true;
  const std::string runtime_version = internal::VersionString(*v);
  if (runtime_version.empty()) return true;
  return internal::MajorVersion(model_version) == internal::MajorVersion(runtime_version);
}

bool FormatMatches(const Json& format, const ComponentSpec& c) {
  const Json* name = Field(format, "name");
  return name && name->is_string() && name->get<std::string>() == c.format && VersionMatches(c.format_version, format);
}

// The highest priority among the runtime's auto-selectable formats matching the model (0 when an entry
// has no priority), or -1 when none matches.
int AutoSelectPriority(const Json& spec, const ComponentSpec& c) {
  const Json* formats = Field(spec, "supportedModelFormats");
  if (!formats || !formats->is_array()) return -1;
  int best = -1;
  for (const auto& f : *formats) {
    if (!FlagSet(f, "autoSelect") || !FormatMatches(f, c)) continue;
    const Json* p = Field(f, "priority");
    const int priority = p && p->is_number_integer() ? p->get<int>() : 0;
    best = std::max(best, priority);
  }
  return best;
}

bool SupportsFormat(const Json& spec, const ComponentSpec& c) {
  const Json* formats = Field(spec, "supportedModelFormats");
  if (!formats || !formats->is_array()) return false;
  for (const auto& f : *formats)
    if (FormatMatches(f, c)) return true;
  return false;
}

std::string ModelDescription(const ComponentSpec& c) {
  std::string s = c.format;
  if (!c.format_version.empty()) s += " (version " + c.format_version + ")";
  return s;
}

StatusOr<RuntimeChoice> Explicit(const ComponentSpec& c, const std::vector<Json>& ns, const std::vector<Json>& cluster) {
  const Json* found = nullptr;
  bool cluster_scoped = false;
  for (const auto& rt : ns)
    if (!found && RuntimeName(rt) == c.runtime) found = &rt;
  if (!found) {
    for (const auto& rt : cluster)
      if (!found && RuntimeName(rt) == c.runtime) found = &rt, cluster_scoped = true;
  }
  if (!found)
    return InvalidArgument("RuntimeNotRecognized: specified runtime \"" + c.runtime +
                           "\" is not recognized: no ServingRuntime in the namespace or ClusterServingRuntime has that name");
  const Json& spec = Spec(*found);
  if (FlagSet(spec, "disabled"))
    return InvalidArgument("RuntimeDisabled: specified runtime \"" + c.runtime + "\" is disabled");
  if (!c.format.empty() && !SupportsFormat(spec, c))
    return InvalidArgument("NoSupportingRuntime: specified runtime \"" + c.runtime +
                           "\" does not support specified framework/version " + ModelDescription(c));
  if (!SupportsProtocol(spec, c.protocol_version))
    return InvalidArgument("NoSupportingRuntime: specified runtime \"" + c.runtime +
                           "\" does not support protocol version " + c.protocol_version);
  return RuntimeChoice{c.runtime, cluster_scoped, *found};
}

StatusOr<RuntimeChoice> Auto(const ComponentSpec& c, const std::vector<Json>& ns, const std::vector<Json>& cluster,
                             bool multi_model_runtimes) {
  if (c.format.empty())
    return NotFound("NoSupportingRuntime: the predictor names no model format to select a runtime by");
  const Json* best = nullptr;
  bool best_cluster = false;
  int best_priority = -1;
  auto consider = [&](const std::vector<Json>& list, bool cluster_scoped) {
    for (const auto& rt : list) {
      if (!rt.is_object() || RuntimeName(rt).empty()) continue;
      const Json& spec = Spec(rt);
      if (FlagSet(spec, "disabled") || FlagSet(spec, "multiModel") != multi_model_runtimes) continue;
      if (!SupportsProtocol(spec, c.protocol_version)) continue;
      const int priority = AutoSelectPriority(spec, c);
      if (priority > best_priority) {  // strict: earlier (namespace) runtimes win ties
        best = &rt;
        best_cluster = cluster_scoped;
        best_priority = priority;
      }
    }
  };
  consider(ns, false);
  consider(cluster, true);
  if (!best)
    return NotFound("NoSupportingRuntime: no runtime found to support predictor with model type: " +
                    ModelDescription(c) + " and protocol version " + c.protocol_version);
  return RuntimeChoice{RuntimeName(*best), best_cluster, *best};
}

}  // namespace

StatusOr<RuntimeChoice> SelectRuntime(const ComponentSpec& spec, const std::vector<Json>& namespace_runtimes,
                                      const std::vector<Json>& cluster_runtimes) {
  try {
    if (!spec.runtime.empty()) return Explicit(spec, namespace_runtimes, cluster_runtimes);
    if (spec.multi_model) {
      auto mm = Auto(spec, namespace_runtimes, cluster_runtimes, true);
      if (mm.ok() || mm.status().code() != StatusCode::kNotFound) return mm;
    }
    return Auto(spec, namespace_runtimes, cluster_runtimes, false);
  } catch (const std::exception& e) {
    return Internal(std::string("runtime selection: ") + e.what());
  } catch (...) {
    return Internal("runtime selection failed");
  }
}

}  // namespace inferd::resources
