// api/openapi.h: the OpenAPI documents the Kubernetes API publishes, built from the kinds the API serves and
// their CRD schemas, so that `kubectl apply -f` (validation "strict" by default) finds what it looks for and
// needs no --validate=false (facts: /work/shared/reference/kubernetes.md section 3).
//
// - GET /openapi/v3: the index, {"paths":{"apis/serving.kserve.io/v1beta1":{"serverRelativeURL":
//   "/openapi/v3/apis/serving.kserve.io/v1beta1?hash=<H>"}, ..., "api/v1":{...}}}. H is a hash of that document
//   (FNV-1a 64, hex; Kubernetes uses SHA-512: clients only compare it), so a client's cache follows changes.
// - GET /openapi/v3/apis/<group>/<version> and /openapi/v3/api/v1: an OpenAPI 3.0 document with the paths of
//   each resource of that group-version (collection, namespaced and all-namespaces lists, item, /status).
//   Every `patch` operation carries x-kubernetes-group-version-kind and the query parameters fieldValidation,
//   fieldManager, dryRun and force, and lists application/json-patch+json, application/merge-patch+json and
//   application/apply-patch+yaml: kubectl then sends fieldValidation=Strict, validates nothing itself and, for a
//   custom kind, uses merge patches (never strategic merge: not offered). components.schemas holds each kind's
//   CRD schema (core kinds: an open object) named like Kubernetes names them (io.kserve.serving.v1beta1.
//   InferenceService, io.k8s.api.core.v1.Secret), with x-kubernetes-group-version-kind.
// - /openapi/v2: 404. kubectl reads v2 only when the v3 index lacks the group-version or the patch operation
//   lacks fieldValidation (neither happens here); its other v2 lookups (strategic-merge detection during
//   apply) tolerate the error.
// Pure functions of their inputs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace inferd::api {

struct OpenApiResource {
  std::string group;  // "" = the core group (api/v1)
  std::string version, kind, plural;
  bool namespaced = true;
  bool has_status = false;  // a /status subresource
  bool read_only = false;   // get, list, watch only (Events)
  const nlohmann::ordered_json* schema = nullptr;  // the CRD's openAPIV3Schema; null = an open object
};

// "apis/<group>/<version>", or "api/<version>" for the core group.
std::string GroupVersionKey(const OpenApiResource& r);

nlohmann::ordered_json OpenApiV3Document(const std::vector<OpenApiResource>& resources, std::string_view key);
nlohmann::ordered_json OpenApiV3Index(const std::vector<OpenApiResource>& resources);

struct OpenApiAnswer {
  int status = 200;
  std::string body;  // JSON (a Status object when status != 200)
};
// Answers GET `path` when it is under /openapi/ (nullopt otherwise). Query strings are ignored.
std::optional<OpenApiAnswer> ServeOpenApi(std::string_view path, const std::vector<OpenApiResource>& resources);

}  // namespace inferd::api
