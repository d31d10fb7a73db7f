// resources/secrets.h: the core/v1 Secret and ServiceAccount as KServe's users bring them for storage
// credentials, and KServe's credential builder as a pure function: which Secrets an InferenceService's
// model download uses and what they configure.
//
// Contract (pure functions over JSON objects, any thread, no I/O):
// - ValidateSecret: metadata (name a DNS-1123 subdomain, namespace a label, string labels/annotations),
//   `data` a map of base64 strings (keys: alphanumerics, '-', '_', '.'), `stringData` a map of strings,
//   `type` a string, `immutable` a boolean, at most 1 MiB of data in all (Kubernetes' limits).
//   NormalizeSecret folds stringData into data (base64; stringData wins over data for the same key, as in
//   Kubernetes) and defaults `type` to "Opaque"; the API stores the normalized form only.
// - ValidateServiceAccount: metadata as above, `secrets` a list of {name}, `imagePullSecrets` a list of
//   {name}, `automountServiceAccountToken` a boolean.
// - Error messages name the field and never a value of `data` or `stringData`.
// - ResolveStorageCredentials follows KServe's storage initializer injection (pkg/credentials):
//   * with `spec.predictor.<implementation>.storage` (KServe's StorageSpec): the Secret named by the
//     InferenceService's annotation serving.kserve.io/storageSecretName, else "storage-config"; its entry
//     `storage.key` (required to exist when given; else "default", or "default_<type>" when
//     storage.parameters.type is set) holds a JSON object of strings {type, bucket, access_key_id,
//     secret_access_key, endpoint_url, region, verify_ssl, anonymous, ca_bundle}, overlaid by
//     storage.parameters. Only type s3 is supported. The URI is storageUri, else s3://<bucket>/<storage.path>.
//   * else, for s3:// and gs:// URIs only: the Secret named by serving.kserve.io/storageSecretName, else the
//     Secrets listed by the predictor's ServiceAccount (serviceAccountName, default "default"). A Secret
//     with AWS_SECRET_ACCESS_KEY configures S3 (AWS_ACCESS_KEY_ID too, and KServe's annotations
//     serving.kserve.io/s3-endpoint, s3-usehttps, s3-region, s3-verifyssl, s3-useanoncredential,
//     s3-cabundle (a local PEM path here), each also readable as the data key of its variable); one with
//     gcloud-application-credentials.json configures GCS (a service-account key). Later Secrets override
//     earlier ones, as KServe merges their variables.
//   * No annotation, no serviceAccountName and no ServiceAccount "default" in the namespace: `from_serve_env`
//     (the download uses `inferd serve`'s own environment, as before Secrets existed).
//   * Errors (the service shows them as a not-Ready condition): NotFound naming the missing ServiceAccount or
//     Secret; InvalidArgument for an unusable Secret or storage spec, naming it.
//   * `notes`: things the Secrets ask for that inferd does not do (virtual-host buckets, S3 acceleration,
//     CA bundles from ConfigMaps, IRSA role annotations), for a Warning event.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "resources/resources.h"

namespace inferd::resources {

inline constexpr std::string_view kCoreApiVersion = "v1";

Status ValidateSecret(const Json& obj);
Json NormalizeSecret(Json obj);
Status ValidateServiceAccount(const Json& obj);

// data[key] of a (normalized) Secret, decoded. NotFound when absent, InvalidArgument when not base64.
StatusOr<std::string> SecretValue(const Json& secret, std::string_view key);

// RFC 4648 base64 with padding (Kubernetes' encoding of Secret data). Decode refuses anything else (Go's
// StdEncoding: padding required, only line breaks skipped), then decodes with core/base64.h.
std::string Base64Encode(std::string_view data);
StatusOr<std::string> Base64Decode(std::string_view text);

// Objects of the InferenceService's namespace, by name; nullptr when there is none.
struct CredentialLookup {
  std::function<const Json*(const std::string& name)> secret;
  std::function<const Json*(const std::string& name)> service_account;
};

struct StorageCredentials {
  std::string uri;             // what to fetch (storageUri, or built from the storage spec)
  bool from_serve_env = true;  // no Secret applies: inferd serve's own environment configures the download
  std::map<std::string, std::string> env;  // KServe's variable names -> values (see storage/storage.h)
  std::string identity;        // "<ns>/<secret>,..." plus a digest of storage parameters; never values
  std::vector<std::string> secrets;  // the Secrets used, for messages
  std::vector<std::string> notes;
};

// `storage_uri` is the predictor's resolved storageUri ("" when none).
StatusOr<StorageCredentials> ResolveStorageCredentials(const Json& isvc, const std::string& storage_uri,
                                                       const CredentialLookup& lookup);

// Apply-time checks of the storage spec (`spec.predictor.<implementation>.storage`): shape, and only what
// inferd can do (type s3, storageUri s3:// with it); InvalidArgument naming the field.
Status ValidateStorageSpec(const Json& isvc);

}  // namespace inferd::resources
