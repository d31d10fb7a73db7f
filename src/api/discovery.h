// api/discovery.h: Kubernetes API discovery and /version, built from the kind table (api/kinds.h) as pure
// functions (/work/shared/reference/kubernetes.md section 1).
//
// - Legacy discovery (what python-kubernetes' DynamicClient and older clients read): /api -> APIVersions,
//   /apis -> APIGroupList, /api/v1 and /apis/<group>/<version> -> APIResourceList (with singularName,
//   shortNames, categories, verbs, and `<plural>/status` entries for status subresources).
// - Aggregated discovery (what kubectl 1.32 asks for first): apidiscovery.k8s.io/v2 (or v2beta1)
//   APIGroupDiscoveryList for /api (the core group, named "") or /apis; answered only when the Accept header
//   asks for it, with Content-Type `application/json;g=apidiscovery.k8s.io;v=<v>;as=APIGroupDiscoveryList`.
// - /version: the nine string fields of version.Info; gitVersion is semver ("v1.32.0-inferd.<version>") so that
//   kubectl 1.32 parses it and sees no version skew.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "store/store.h"

namespace inferd::api {

store::Json LegacyApiVersions();  // GET /api
store::Json LegacyApiGroupList();  // GET /apis
// GET /api/v1 or /apis/<group>/<version>: nullopt when no kind has that group-version.
std::optional<store::Json> LegacyResourceList(std::string_view group_version);

// The aggregated discovery version the Accept header asks for ("v2" or "v2beta1"), or nullopt (legacy).
std::optional<std::string> WantedAggregatedDiscovery(std::string_view accept);
// GET /api (core = true) or /apis in aggregated form, as apidiscovery.k8s.io/<version>.
store::Json AggregatedDiscovery(bool core, const std::string& version);
std::string AggregatedContentType(const std::string& version);

store::Json VersionInfo();  // GET /version
}  // namespace inferd::api
