#include "operator/rbac.h"

#include "operator/plan.h"

namespace inferd::op {

const std::vector<RbacRule>& RbacRules() {
  static const std::vector<RbacRule> rules = [] {
    const std::vector<std::string> read = {"get", "list", "watch"};
    const std::vector<std::string> write = {"get", "list", "watch", "create", "update", "patch", "delete"};
    std::vector<RbacRule> r = {
        // The finalizer is added and removed with a merge patch; status goes through PUT /status.
        {{"serving.kserve.io"}, {"inferenceservices"}, {"get", "list", "watch", "update", "patch"}},
        {{"serving.kserve.io"}, {"inferenceservices/status"}, {"get", "update", "patch"}},
        // Children with blockOwnerDeletion need update on the owner's finalizers subresource (admission
        // plugin OwnerReferencesPermissionEnforcement).
        {{"serving.kserve.io"}, {"inferenceservices/finalizers"}, {"update"}},
        {{"serving.kserve.io"}, {"servingruntimes", "clusterservingruntimes"}, read},
    };
    for (const ChildKind& k : ManagedKinds()) {
      const std::string av = k.api_version;
      const size_t slash = av.find('/');
      r.push_back({{slash == std::string::npos ? "" : av.substr(0, slash)}, {k.resource}, write});
    }
    r.push_back({{"coordination.k8s.io"}, {"leases"}, {"get", "create", "update"}});
    return r;
  }();
  return rules;
}

resources::Json RbacJson() {
  resources::Json rules = resources::Json::array();
  for (const auto& r : RbacRules()) {
    rules.push_back({{"apiGroups", r.api_groups}, {"resources", r.resources}, {"verbs", r.verbs}});
  }
  return {{"rules", std::move(rules)}};
}

}  // namespace inferd::op
