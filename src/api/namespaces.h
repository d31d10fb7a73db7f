// api/namespaces.h: core/v1 Namespace as the API serves it (cluster-scoped, /api/v1/namespaces[/{name}]).
//
// Contract:
// - NamespaceType() (api/kinds.h): {"v1", "Namespace", "namespaces", cluster-scoped}.
// - NormalizeNamespace: what the apiserver's namespace strategy does to a written Namespace: the name must be
//   a DNS-1123 label (InvalidArgument "metadata.name: Invalid value: ..." otherwise), the label
//   kubernetes.io/metadata.name=<name> is set, spec.finalizers defaults to ["kubernetes"], status.phase to
//   "Active".
// - DecodeProtobufNamespace: the body `kubectl create namespace` sends (client-go 1.32's typed clients encode
//   built-in kinds as protobuf): "k8s\0" + runtime.Unknown{1: typeMeta{1: apiVersion, 2: kind}, 2: raw,
//   3: contentEncoding, 4: contentType} whose raw is a v1.Namespace{1: ObjectMeta{1: name, 2: generateName,
//   11: labels, 12: annotations}, 2: spec{1: finalizers}}. Other fields are skipped. Read with libprotobuf's
//   CodedInputStream (bounded: the body is already within the API's body limit, every length is checked
//   against what is left, nesting is at most three messages); anything malformed is InvalidArgument, a
//   typeMeta other than v1/Namespace too. Returns the Namespace as JSON.
// - EnsureNamespaces(store, types): at start, creates `default` and a Namespace for every namespace a stored
//   object of `types` already lives in (so data written before namespaces existed keeps working). Idempotent.
// Pure functions except EnsureNamespaces (the store).
#pragma once

#include <string_view>
#include <vector>

#include "api/kinds.h"
#include "core/status.h"
#include "store/store.h"

namespace inferd::api {

Status NormalizeNamespace(store::Json& ns);
StatusOr<store::Json> DecodeProtobufNamespace(std::string_view body);
Status EnsureNamespaces(store::Store* store, const std::vector<const store::ResourceType*>& types);

}  // namespace inferd::api
