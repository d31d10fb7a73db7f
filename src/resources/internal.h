// resources/internal.h: helpers shared by the resources module's .cc files (not part of its API).
//
// Contract: field accessors treat an explicit JSON null like an absent field (Kubernetes semantics:
// `field:` and `field: null` both mean "unset"). Check* functions return InvalidArgument whose message
// starts with the field path they were given. No function here throws.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "resources/resources.h"

namespace inferd::resources::internal {

// The predictor implementations KServe knows, in the order its error message lists them.
const std::vector<std::string>& PredictorImplementations();  // model, sklearn, ..., huggingface
// "[model, sklearn, ..., containers]" as written in the "exactly one of" message.
std::string PredictorImplementationList();

inline constexpr std::string_view kProtocols[] = {"v1", "v2", "grpc-v1", "grpc-v2"};
bool IsKnownProtocol(std::string_view p);
std::string ProtocolList();  // "v1, v2, grpc-v1, grpc-v2"

// The member `key` of `obj`, or nullptr when obj is not an object, the key is absent or its value is null.
const Json* Field(const Json& obj, std::string_view key);

// "a.b" + "c" -> "a.b.c"; "a.b" + 3 -> "a.b[3]".
std::string Join(std::string_view path, std::string_view key);
std::string Index(std::string_view path, size_t i);

// Type checks; `out` may be null. Integers must be JSON integers that fit in an int.
Status CheckObject(const Json& v, const std::string& path);
Status CheckString(const Json& v, const std::string& path, std::string* out = nullptr);
Status CheckBool(const Json& v, const std::string& path, bool* out = nullptr);
Status CheckInt(const Json& v, const std::string& path, int* out = nullptr);
// A string, or (leniently) a number written without quotes, e.g. `version: 1` -> "1".
Status CheckVersionString(const Json& v, const std::string& path, std::string* out = nullptr);
// Arrays of strings (command/args).
Status CheckStringList(const Json& v, const std::string& path);
// [{name, value?, valueFrom?}]
Status CheckEnvList(const Json& v, const std::string& path);
// {key: "string"} (labels, annotations).
Status CheckStringMap(const Json& v, const std::string& path);
// A container object: name?, image?, command?, args?, env?, workingDir?, readinessProbe?.
Status CheckContainer(const Json& v, const std::string& path);
// A container's `resources` (requests/limits maps): nvidia.com/gpu a whole number, requests equal to limits
// (Kubernetes' rule for extended resources), other vendors' GPUs refused; `pod_level` (spec.predictor.resources):
// no GPUs at all (gpu_resources.cc).
Status CheckResources(const Json& v, const std::string& path, bool pod_level = false);
// A probe: httpGet.path (visible ASCII), the integer timings >= 0.
Status CheckProbe(const Json& v, const std::string& path);
// storageUri: file://, http(s)://, s3://, gs://, pvc:// or a local path.
Status CheckStorageUri(const Json& v, const std::string& path);
// protocolVersion: one of kProtocols.
Status CheckProtocol(const Json& v, const std::string& path, std::string* out = nullptr);
// metadata.name / metadata.namespace as a DNS-1123 label.
Status CheckDnsLabel(const Json& v, const std::string& path);

// Conversions for resolved forms (on already validated values).
std::string VersionString(const Json& v);  // string as is, numbers as written
std::vector<std::string> StringList(const Json* v);
std::vector<EnvVar> EnvList(const Json* v);
ContainerSpec ContainerFrom(const Json& v);
std::optional<ProbeSpec> ProbeFrom(const Json* probe);

// Major version: "1.2.3" -> "1", "v2" -> "v2".
std::string_view MajorVersion(std::string_view version);

}  // namespace inferd::resources::internal
