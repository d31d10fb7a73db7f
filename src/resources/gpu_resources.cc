// resources/gpu_resources.cc: a container's `resources` block as Kubernetes validates it for GPUs
// (nvidia.com/gpu, an extended resource), and the GPU count a container asks for (see resources.h).
#include <string>

#include "resources/internal.h"
#include "resources/resources.h"

namespace inferd::resources {
namespace {

using internal::CheckObject;
using internal::Field;
using internal::Join;

constexpr int kMaxGpus = 1 << 20;  // far beyond any machine; keeps the count an int

// An extended resource's quantity: a whole number (Kubernetes: "must be an integer"), as a JSON integer or a
// string of digits. nullopt otherwise.
std::optional<int> WholeCount(const Json& v) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    return u <= kMaxGpus ? std::optional<int>(static_cast<int>(u)) : std::nullopt;
  }
  if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    return i >= 0 && i <= kMaxGpus ? std::optional<int>(static_cast<int>(i)) : std::nullopt;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (d < 0 || d > kMaxGpus || d != static_cast<double>(static_cast<int>(d))) return std::nullopt;
    return static_cast<int>(d);
  }
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty() || s.size() > 7) return std::nullopt;
  int n = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    n = n * 10 + (ch - '0');
  }
  return n <= kMaxGpus ? std::optional<int>(n) : std::nullopt;
}

std::string Text(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// A key naming a GPU of another vendor (amd.com/gpu, gpu.intel.com/i915, ...): not allocated here.
bool OtherGpu(const std::string& key) {
  return key != kGpuResource && key.find('/') != std::string::npos && key.find("gpu") != std::string::npos;
}

}  // namespace

namespace internal {

Status CheckResources(const Json& v, const std::string& path, bool pod_level) {
  RETURN_IF_ERROR(CheckObject(v, path));
  const Json* limits = Field(v, "limits");
  const Json* requests = Field(v, "requests");
  for (auto [m, name] : {std::pair{limits, "limits"}, std::pair{requests, "requests"}}) {
    if (!m) continue;
    const std::string mp = Join(path, name);
    RETURN_IF_ERROR(CheckObject(*m, mp));
    for (auto it = m->begin(); it != m->end(); ++it) {
      const std::string& key = it.key();
      const Json& value = it.value();
      const std::string kp = mp + "[" + key + "]";
      if (OtherGpu(key))
        return InvalidArgument(kp + ": not supported yet: inferd serve allocates " + std::string(kGpuResource) +
                               " only");
      if (key != kGpuResource) continue;
      if (pod_level)
        return InvalidArgument(kp + ": pod-level resources take only cpu and memory (Kubernetes); request " +
                               std::string(kGpuResource) + " on the container");
      auto n = WholeCount(value);
      if (!n) return InvalidArgument(kp + ": Invalid value: \"" + Text(value) + "\": must be an integer >= 0");
    }
  }
  // Kubernetes' rule for resources that cannot be overcommitted: limits alone imply the same requests;
  // requests alone are refused; both must be equal.
  const Json* req = requests && requests->is_object() ? Field(*requests, kGpuResource) : nullptr;
  const Json* lim = limits && limits->is_object() ? Field(*limits, kGpuResource) : nullptr;
  if (req && !lim)
    return InvalidArgument(Join(path, "limits") + "[" + std::string(kGpuResource) +
                           "]: Required value: Limit must be set for non overcommitable resources");
  if (req && lim && *WholeCount(*req) != *WholeCount(*lim))
    return InvalidArgument(Join(path, "requests") + "[" + std::string(kGpuResource) + "]: Invalid value: \"" +
                           Text(*req) + "\": must be equal to " + std::string(kGpuResource) + " limit of " +
                           Text(*lim));
  return Status::Ok();
}

}  // namespace internal

std::optional<int> GpuLimit(const Json& container) {
  if (!container.is_object()) return std::nullopt;
  const Json* r = Field(container, "resources");
  if (!r || !r->is_object()) return std::nullopt;
  const Json* limits = Field(*r, "limits");
  if (!limits || !limits->is_object()) return std::nullopt;
  const Json* g = Field(*limits, kGpuResource);
  return g ? WholeCount(*g) : std::nullopt;
}

}  // namespace inferd::resources
