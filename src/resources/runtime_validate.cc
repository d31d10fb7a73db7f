// resources/runtime_validate.cc: ValidateServingRuntime for ServingRuntime and ClusterServingRuntime.
#include <map>
#include <string>

#include "resources/internal.h"
#include "resources/resources.h"

namespace inferd::resources {
namespace {

using internal::CheckBool;
using internal::CheckContainer;
using internal::CheckDnsLabel;
using internal::CheckInt;
using internal::CheckObject;
using internal::CheckProtocol;
using internal::CheckString;
using internal::CheckVersionString;
using internal::Field;
using internal::Index;
using internal::Join;

// KServe: priority >= 1 (the CRD's minimum); it only matters with autoSelect (KServe's own
// kserve-predictiveserver sets it with autoSelect: false). Auto-selectable entries of one format must agree on
// their priority (KServe's webhook: "different priorities assigned for the model format").
Status CheckFormats(const Json& v, const std::string& path) {
  if (!v.is_array()) return InvalidArgument(path + ": must be a list of {name, version, autoSelect, priority}");
  std::map<std::string, int> auto_priority;  // format name -> priority of its auto-selectable entries
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = Index(path, i);
    RETURN_IF_ERROR(CheckObject(v[i], p));
    const Json* name = Field(v[i], "name");
    if (!name) return InvalidArgument(Join(p, "name") + ": required");
    std::string n;
    RETURN_IF_ERROR(CheckString(*name, Join(p, "name"), &n));
    if (n.empty()) return InvalidArgument(Join(p, "name") + ": must not be empty");
    if (const Json* ver = Field(v[i], "version")) RETURN_IF_ERROR(CheckVersionString(*ver, Join(p, "version")));
    bool auto_select = false;
    if (const Json* a = Field(v[i], "autoSelect")) RETURN_IF_ERROR(CheckBool(*a, Join(p, "autoSelect"), &auto_select));
    if (const Json* pr = Field(v[i], "priority")) {
      int priority = 0;
      RETURN_IF_ERROR(CheckInt(*pr, Join(p, "priority"), &priority));
      if (priority < 1)
        return InvalidArgument(Join(p, "priority") + ": priority must be greater than 0, got " + std::to_string(priority));
      if (auto_select) {
        auto [it, inserted] = auto_priority.emplace(n, priority);
        if (!inserted && it->second != priority)
          return InvalidArgument(Join(p, "priority") + ": different priorities assigned for the model format " + n);
      }
    }
  }
  return Status::Ok();
}

Status Validate(const Json& obj, bool cluster_scoped) {
  const std::string kind = cluster_scoped ? "ClusterServingRuntime" : "ServingRuntime";
  if (!obj.is_object()) return InvalidArgument(kind + ": must be an object");
  const Json* av = Field(obj, "apiVersion");
  if (!av) return InvalidArgument("apiVersion: required (" + std::string(kRuntimeApiVersion) + ")");
  std::string s;
  RETURN_IF_ERROR(CheckString(*av, "apiVersion", &s));
  if (s != kRuntimeApiVersion)
    return InvalidArgument("apiVersion: must be " + std::string(kRuntimeApiVersion) + " for " + kind + ", got \"" +
                           s + "\"");
  const Json* k = Field(obj, "kind");
  if (!k) return InvalidArgument("kind: required (" + kind + ")");
  RETURN_IF_ERROR(CheckString(*k, "kind", &s));
  if (s != kind) return InvalidArgument("kind: must be " + kind + ", got \"" + s + "\"");

  const Json* md = Field(obj, "metadata");
  if (!md) return InvalidArgument("metadata: required (metadata.name names the runtime)");
  RETURN_IF_ERROR(CheckObject(*md, "metadata"));
  const Json* name = Field(*md, "name");
  if (!name) return InvalidArgument("metadata.name: required");
  RETURN_IF_ERROR(CheckDnsLabel(*name, "metadata.name"));
  if (!cluster_scoped)
    if (const Json* ns = Field(*md, "namespace")) RETURN_IF_ERROR(CheckDnsLabel(*ns, "metadata.namespace"));

  const Json* spec = Field(obj, "spec");
  if (!spec) return InvalidArgument("spec: required");
  RETURN_IF_ERROR(CheckObject(*spec, "spec"));
  const Json* containers = Field(*spec, "containers");
  if (!containers || (containers->is_array() && containers->empty()))
    return InvalidArgument("spec.containers: at least one container is required");
  if (!containers->is_array()) return InvalidArgument("spec.containers: must be a list of containers");
  for (size_t i = 0; i < containers->size(); ++i)
    RETURN_IF_ERROR(CheckContainer((*containers)[i], Index("spec.containers", i)));
  if (const Json* f = Field(*spec, "supportedModelFormats"))
    RETURN_IF_ERROR(CheckFormats(*f, "spec.supportedModelFormats"));
  if (const Json* pv = Field(*spec, "protocolVersions")) {
    if (!pv->is_array()) return InvalidArgument("spec.protocolVersions: must be a list");
    for (size_t i = 0; i < pv->size(); ++i)
      RETURN_IF_ERROR(CheckProtocol((*pv)[i], Index("spec.protocolVersions", i)));
  }
  if (const Json* d = Field(*spec, "disabled")) RETURN_IF_ERROR(CheckBool(*d, "spec.disabled"));
  if (const Json* m = Field(*spec, "multiModel")) RETURN_IF_ERROR(CheckBool(*m, "spec.multiModel"));
  return Status::Ok();
}

}  // namespace

Status ValidateServingRuntime(const Json& obj, bool cluster_scoped) {
  try {
    return Validate(obj, cluster_scoped);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(cluster_scoped ? "ClusterServingRuntime: " : "ServingRuntime: ") + e.what());
  } catch (...) {
    return InvalidArgument(cluster_scoped ? "ClusterServingRuntime: invalid object" : "ServingRuntime: invalid object");
  }
}

}  // namespace inferd::resources
