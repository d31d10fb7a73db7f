// operator/rbac.h: the Kubernetes API access `inferd operator` needs, in one place: the controller watches
// and writes exactly these resources (it builds its watches from WatchedResources), `inferd operator
// --print-rbac` prints RbacRules as JSON, and the kustomize ClusterRole in config/ is checked against it.
//
// Contract: pure data; the rules' order and contents are stable (tests compare them).
#pragma once

#include <string>
#include <vector>

#include "resources/resources.h"

namespace inferd::op {

struct RbacRule {
  std::vector<std::string> api_groups, resources, verbs;
};

// Every rule the operator needs (InferenceServices and their status/finalizers, the runtimes, every child
// kind of ManagedKinds(), Leases for leader election).
const std::vector<RbacRule>& RbacRules();

// {"rules":[{"apiGroups":[..],"resources":[..],"verbs":[..]},...]}: a ClusterRole's rules.
resources::Json RbacJson();

}  // namespace inferd::op
