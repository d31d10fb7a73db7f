// resources/storage_credentials.cc: KServe's credential builder for model downloads, as a pure function
// (ResolveStorageCredentials, ValidateStorageSpec; see secrets.h). KServe's own: pkg/credentials
// (service_account_credentials.go, s3/, gcs/) and the storage initializer's _update_with_storage_spec.
#include <openssl/evp.h>

#include "core/json_depth.h"
#include "resources/internal.h"
#include "resources/secrets.h"

namespace inferd::resources {
namespace {

using internal::Field;

constexpr char kSecretNameAnnotation[] = "serving.kserve.io/storageSecretName";
constexpr char kDefaultStorageSpecSecret[] = "storage-config";
constexpr char kS3KeyId[] = "AWS_ACCESS_KEY_ID";
constexpr char kS3Secret[] = "AWS_SECRET_ACCESS_KEY";
constexpr char kGcsKeyFile[] = "gcloud-application-credentials.json";
constexpr char kIrsaAnnotation[] = "eks.amazonaws.com/role-arn";
constexpr char kS3AnnotationPrefix[] = "serving.kserve.io/";

std::string StringAt(const Json& obj, std::initializer_list<const char*> path) {
  const Json* v = &obj;
  for (const char* k : path) {
    v = Field(*v, k);
    if (!v) return "";
  }
  return v->is_string() ? v->get<std::string>() : "";
}

std::string Annotation(const Json& obj, const std::string& key) {
  const Json* md = Field(obj, "metadata");
  const Json* a = md ? Field(*md, "annotations") : nullptr;
  const Json* v = a ? Field(*a, key) : nullptr;
  return v && v->is_string() ? v->get<std::string>() : "";
}

bool HasAnnotation(const Json& obj, const std::string& key) {
  const Json* md = Field(obj, "metadata");
  const Json* a = md ? Field(*md, "annotations") : nullptr;
  return a && Field(*a, key);
}

bool HasData(const Json& secret, const char* key) {
  const Json* d = Field(secret, "data");
  return d && Field(*d, key);
}

bool Truthy(const std::string& v) { return v == "true" || v == "True" || v == "TRUE" || v == "1"; }

std::string Digest(const std::string& s) {  // a short, stable digest for cache identities
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len && i < 8; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

// spec.predictor.<implementation>, the first KServe implementation present (nullptr for containers).
std::pair<const Json*, std::string> Implementation(const Json& isvc) {
  const Json* spec = Field(isvc, "spec");
  const Json* pred = spec ? Field(*spec, "predictor") : nullptr;
  if (!pred) return {nullptr, ""};
  for (const std::string& name : internal::PredictorImplementations()) {
    if (const Json* impl = Field(*pred, name); impl && impl->is_object()) return {impl, "spec.predictor." + name};
  }
  return {nullptr, ""};
}

std::string SchemeOf(const std::string& uri) {
  size_t sep = uri.find("://");
  if (sep == std::string::npos) return "";
  std::string s = uri.substr(0, sep);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// KServe's getEnvValue for one setting: the Secret's annotation, else its data key of that name.
StatusOr<std::string> S3Setting(const Json& secret, const std::string& name, const char* annotation,
                                const char* data_key) {
  std::string full = std::string(kS3AnnotationPrefix) + annotation;
  if (HasAnnotation(secret, full)) return Annotation(secret, full);
  auto v = SecretValue(secret, data_key);
  if (v.ok()) return std::move(*v);
  if (v.status().code() == StatusCode::kNotFound) return std::string();
  return v.status().WithPrefix("secret \"" + name + "\"");
}

// The variables of one S3 Secret (KServe's BuildSecretEnvs + BuildS3EnvVars), merged into `out`.
Status AddS3Secret(const Json& secret, const std::string& name, StorageCredentials* out) {
  for (const char* key : {kS3KeyId, kS3Secret}) {
    auto v = SecretValue(secret, key);
    if (!v.ok()) return v.status().WithPrefix("secret \"" + name + "\"");
    out->env[key] = std::move(*v);
  }
  auto setting = [&](const char* annotation, const char* data_key) {
    return S3Setting(secret, name, annotation, data_key);
  };
  ASSIGN_OR_RETURN(std::string endpoint, setting("s3-endpoint", "S3_ENDPOINT"));
  while (!endpoint.empty() && std::isspace(static_cast<unsigned char>(endpoint.back()))) endpoint.pop_back();
  while (!endpoint.empty() && std::isspace(static_cast<unsigned char>(endpoint.front()))) endpoint.erase(0, 1);
  if (!endpoint.empty()) {
    std::string lower = endpoint;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.starts_with("https://")) {
      out->env["S3_USE_HTTPS"] = "1";
      out->env["S3_ENDPOINT"] = endpoint.substr(8);
      out->env["AWS_ENDPOINT_URL"] = endpoint;
    } else if (lower.starts_with("http://")) {
      out->env["S3_USE_HTTPS"] = "0";
      out->env["S3_ENDPOINT"] = endpoint.substr(7);
      out->env["AWS_ENDPOINT_URL"] = endpoint;
    } else {
      ASSIGN_OR_RETURN(std::string https, setting("s3-usehttps", "S3_USE_HTTPS"));
      if (!https.empty()) out->env["S3_USE_HTTPS"] = https;
      out->env["S3_ENDPOINT"] = endpoint;
      out->env["AWS_ENDPOINT_URL"] = (https == "0" ? "http://" : "https://") + endpoint;
    }
  }
  const std::pair<const char*, const char*> direct[] = {{"s3-verifyssl", "S3_VERIFY_SSL"},
                                                         {"s3-useanoncredential", "awsAnonymousCredential"},
                                                         {"s3-region", "AWS_DEFAULT_REGION"},
                                                         {"s3-cabundle", "AWS_CA_BUNDLE"}};
  for (const auto& [annotation, var] : direct) {
    ASSIGN_OR_RETURN(std::string v, setting(annotation, var));
    if (!v.empty()) out->env[var] = v;
  }
  ASSIGN_OR_RETURN(std::string virtual_bucket, setting("s3-usevirtualbucket", "S3_USER_VIRTUAL_BUCKET"));
  if (Truthy(virtual_bucket)) {
    out->notes.push_back("secret \"" + name + "\" asks for virtual-host bucket addressing (s3-usevirtualbucket); "
                         "inferd addresses buckets path-style");
  }
  ASSIGN_OR_RETURN(std::string accelerate, setting("s3-useaccelerate", "S3_USE_ACCELERATE"));
  if (Truthy(accelerate)) {
    out->notes.push_back("secret \"" + name + "\" asks for S3 transfer acceleration (s3-useaccelerate); inferd "
                         "does not use it");
  }
  ASSIGN_OR_RETURN(std::string ca_map, setting("s3-cabundle-configmap", "AWS_CA_BUNDLE_CONFIGMAP"));
  if (!ca_map.empty()) {
    out->notes.push_back("secret \"" + name + "\" names a CA bundle ConfigMap (s3-cabundle-configmap); inferd has "
                         "no ConfigMaps: give a local PEM file with serving.kserve.io/s3-cabundle");
  }
  return Status::Ok();
}

Status AddSecret(const std::string& ns, const std::string& name, const std::string& referrer,
                 const CredentialLookup& lookup, StorageCredentials* out) {
  const Json* secret = lookup.secret ? lookup.secret(name) : nullptr;
  if (!secret) return NotFound("secret \"" + name + "\" (" + referrer + ") not found in namespace " + ns);
  out->secrets.push_back(name);
  out->identity += (out->identity.empty() ? "" : ",") + ns + "/" + name;
  if (HasData(*secret, kS3Secret)) return AddS3Secret(*secret, name, out);
  if (HasData(*secret, kGcsKeyFile)) {
    auto key = SecretValue(*secret, kGcsKeyFile);
    if (!key.ok()) return key.status().WithPrefix("secret \"" + name + "\"");
    out->env["GOOGLE_SERVICE_ACCOUNT_KEY_JSON"] = std::move(*key);
    return Status::Ok();
  }
  // KServe skips Secrets of other kinds (Azure, HTTPS headers, HDFS, Hugging Face) too.
  return Status::Ok();
}

// KServe's CreateStorageSpecSecretEnvs plus the storage initializer's _update_with_storage_spec.
StatusOr<StorageCredentials> FromStorageSpec(const Json& isvc, const std::string& ns, const Json& storage,
                                             const std::string& path, const std::string& storage_uri,
                                             const CredentialLookup& lookup) {
  StorageCredentials out;
  out.from_serve_env = false;
  std::string key = StringAt(storage, {"key"});
  std::map<std::string, std::string> params;
  if (const Json* p = Field(storage, "parameters"); p && p->is_object()) {
    for (auto it = p->begin(); it != p->end(); ++it) {
      if (it.value().is_string()) params[it.key()] = it.value().get<std::string>();
    }
  }
  std::string secret_name = Annotation(isvc, kSecretNameAnnotation);
  if (secret_name.empty()) secret_name = kDefaultStorageSpecSecret;
  std::map<std::string, std::string> config;  // the storage secret's JSON entry
  const Json* secret = lookup.secret ? lookup.secret(secret_name) : nullptr;
  std::string entry = key;
  if (!secret) {
    if (!key.empty()) {
      return NotFound("storage secret \"" + secret_name + "\" (" + path + ".key: " + key + ") not found in namespace " + ns);
    }
  } else {
    if (entry.empty()) entry = params.count("type") ? "default_" + params["type"] : "default";
    auto data = SecretValue(*secret, entry);
    if (!data.ok() && data.status().code() != StatusCode::kNotFound) {
      return data.status().WithPrefix("storage secret \"" + secret_name + "\"");
    }
    if (!data.ok() && !key.empty()) {
      return NotFound("specified storage key " + key + " not found in storage secret " + secret_name);
    }
    if (data.ok()) {
      auto parsed = ParseBoundedJson(*data, "storage secret entry");
      Json j = parsed.ok() ? std::move(*parsed) : Json();
      if (!j.is_object()) {
        return InvalidArgument("invalid json encountered in key " + entry + " of storage secret " + secret_name);
      }
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!it.value().is_string()) {
          return InvalidArgument("invalid json encountered in key " + entry + " of storage secret " + secret_name +
                                 ": \"" + it.key().substr(0, 100) + "\" is not a string");
        }
        config[it.key()] = it.value().get<std::string>();
      }
      out.secrets.push_back(secret_name);
    }
  }
  for (const auto& [k, v] : params) config[k] = v;  // the storage initializer's override
  std::string type = config["type"];
  if (type.empty()) return InvalidArgument(path + ": unable to determine storage type (set parameters.type or "
                                           "\"type\" in the storage secret's entry)");
  if (type != "s3") {
    return InvalidArgument(path + ": storage type \"" + type + "\" is not supported by inferd (supported: s3)");
  }
  out.uri = storage_uri;
  if (out.uri.empty()) {
    std::string object_path = StringAt(storage, {"path"});
    while (!object_path.empty() && object_path.front() == '/') object_path.erase(0, 1);
    if (object_path.empty()) return InvalidArgument(path + ".path: required when there is no storageUri");
    if (config["bucket"].empty()) {
      return InvalidArgument("format [s3] requires a bucket but one wasn't found in storage data or parameters");
    }
    out.uri = "s3://" + config["bucket"] + "/" + object_path;
  }
  const std::pair<const char*, const char*> vars[] = {
      {"endpoint_url", "AWS_ENDPOINT_URL"}, {"access_key_id", "AWS_ACCESS_KEY_ID"},
      {"secret_access_key", "AWS_SECRET_ACCESS_KEY"}, {"region", "AWS_DEFAULT_REGION"},
      {"ca_bundle", "AWS_CA_BUNDLE"}, {"verify_ssl", "S3_VERIFY_SSL"}, {"anonymous", "awsAnonymousCredential"}};
  for (const auto& [field, var] : vars) {
    if (config.count(field)) out.env[var] = config[field];
  }
  Json params_json = Json::object();
  for (const auto& [k, v] : params) params_json[k] = v;
  out.identity = ns + "/" + secret_name + "[" + entry + "]#" + Digest(params_json.dump());
  return out;
}

}  // namespace

StatusOr<StorageCredentials> ResolveStorageCredentials(const Json& isvc, const std::string& storage_uri,
                                                       const CredentialLookup& lookup) {
  const std::string ns = StringAt(isvc, {"metadata", "namespace"}).empty() ? "default"
                                                                           : StringAt(isvc, {"metadata", "namespace"});
  auto [impl, path] = Implementation(isvc);
  if (const Json* storage = impl ? Field(*impl, "storage") : nullptr) {
    return FromStorageSpec(isvc, ns, *storage, path + ".storage", storage_uri, lookup);
  }
  StorageCredentials out;
  out.uri = storage_uri;
  const std::string scheme = SchemeOf(storage_uri);
  if (scheme != "s3" && scheme != "gs") return out;  // KServe's credentials concern object stores here

  if (std::string name = Annotation(isvc, kSecretNameAnnotation); !name.empty()) {
    out.from_serve_env = false;
    RETURN_IF_ERROR(AddSecret(ns, name, std::string("annotation ") + kSecretNameAnnotation, lookup, &out));
    return out;
  }
  std::string sa_name = StringAt(isvc, {"spec", "predictor", "serviceAccountName"});
  if (sa_name.empty()) sa_name = StringAt(isvc, {"spec", "predictor", "serviceAccount"});  // deprecated alias
  const bool explicit_sa = !sa_name.empty();
  if (!explicit_sa) sa_name = "default";
  const Json* sa = lookup.service_account ? lookup.service_account(sa_name) : nullptr;
  if (!sa) {
    if (explicit_sa) {
      return NotFound("serviceaccount \"" + sa_name + "\" (spec.predictor.serviceAccountName) not found in namespace " + ns);
    }
    return out;  // no ServiceAccount "default" here: inferd serve's environment, as before Secrets existed
  }
  out.from_serve_env = false;
  out.identity = ns + "/sa:" + sa_name;
  if (HasAnnotation(*sa, kIrsaAnnotation)) {
    out.notes.push_back("serviceaccount \"" + sa_name + "\" has " + kIrsaAnnotation +
                        " (IAM roles for service accounts); inferd cannot assume roles: give its Secrets the keys");
  }
  if (const Json* secrets = Field(*sa, "secrets"); secrets && secrets->is_array()) {
    for (const Json& ref : *secrets) {
      std::string name = StringAt(ref, {"name"});
      if (name.empty()) continue;
      RETURN_IF_ERROR(AddSecret(ns, name, "listed by serviceaccount \"" + sa_name + "\"", lookup, &out));
    }
  }
  return out;
}

Status ValidateStorageSpec(const Json& isvc) {
  auto [impl, path] = Implementation(isvc);
  const Json* storage = impl ? Field(*impl, "storage") : nullptr;
  if (!storage) return Status::Ok();
  const std::string p = path + ".storage";
  RETURN_IF_ERROR(internal::CheckObject(*storage, p));
  for (auto it = storage->begin(); it != storage->end(); ++it) {
    const std::string& k = it.key();
    if (k != "key" && k != "path" && k != "parameters" && k != "schemaPath") {
      return InvalidArgument(p + "." + k.substr(0, 100) + ": unknown field of the storage spec");
    }
  }
  for (const char* f : {"key", "path", "schemaPath"}) {
    if (const Json* v = Field(*storage, f)) RETURN_IF_ERROR(internal::CheckString(*v, p + "." + f));
  }
  if (const Json* params = Field(*storage, "parameters")) {
    RETURN_IF_ERROR(internal::CheckStringMap(*params, p + ".parameters"));
    if (const Json* type = Field(*params, "type")) {
      const std::string t = type->get<std::string>();
      if (t == "hdfs" || t == "webhdfs") {
        return InvalidArgument(p + ".parameters.type: storage type \"" + t + "\" is not supported by inferd (supported: s3)");
      }
      if (t != "s3") {
        return InvalidArgument(p + ".parameters.type: storage.spec.type, must be one of: [s3://, hdfs://, webhdfs://]. "
                               "storage.spec.type [" + t + "] is not supported");
      }
    }
  }
  std::string uri = StringAt(*impl, {"storageUri"});
  if (uri.empty()) uri = StringAt(isvc, {"spec", "predictor", "storageUri"});
  if (!uri.empty() && SchemeOf(uri) != "s3") {
    return InvalidArgument(path + ".storageUri: with a storage spec, storageUri must be an s3:// URI "
                           "(inferd supports the storage spec for s3 only), got \"" + uri.substr(0, 200) + "\"");
  }
  if (uri.empty() && StringAt(*storage, {"path"}).empty()) {
    return InvalidArgument(p + ".path: required when there is no storageUri");
  }
  return Status::Ok();
}

}  // namespace inferd::resources
