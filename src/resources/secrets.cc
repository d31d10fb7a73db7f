// resources/secrets.cc: Secret and ServiceAccount validation, Secret normalization, base64 (see secrets.h).
#include "resources/secrets.h"

#include "core/base64.h"
#include "resources/internal.h"

namespace inferd::resources {
namespace {

using internal::CheckBool;
using internal::CheckDnsLabel;
using internal::CheckObject;
using internal::CheckString;
using internal::CheckStringMap;
using internal::Field;
using internal::Index;
using internal::Join;

constexpr size_t kMaxSecretBytes = 1 << 20;  // Kubernetes' limit on a Secret's data

// A DNS-1123 subdomain: dot-separated labels, at most 253 characters (Secret and ServiceAccount names).
bool IsDns1123Subdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label = name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    // Subdomain labels may be up to 253 long as a whole; each part follows the label rules otherwise.
    if (label.empty()) return false;
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    if (label.front() == '-' || label.back() == '-') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsSecretKey(std::string_view key) {
  if (key.empty() || key.size() > 253 || key == "." || key == "..") return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.')) {
      return false;
    }
  }
  return true;
}

Status CheckCoreMetadata(const Json& obj, std::string_view kind) {
  const Json* md = Field(obj, "metadata");
  if (!md) return InvalidArgument("metadata: required (metadata.name names the " + std::string(kind) + ")");
  RETURN_IF_ERROR(CheckObject(*md, "metadata"));
  const Json* name = Field(*md, "name");
  if (!name) return InvalidArgument("metadata.name: required");
  std::string n;
  RETURN_IF_ERROR(CheckString(*name, "metadata.name", &n));
  if (!IsDns1123Subdomain(n)) {
    return InvalidArgument("metadata.name: \"" + n.substr(0, 300) +
                           "\" is not a valid name: a lowercase RFC 1123 subdomain must consist of lower case "
                           "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                           "character");
  }
  if (const Json* ns = Field(*md, "namespace")) RETURN_IF_ERROR(CheckDnsLabel(*ns, "metadata.namespace"));
  if (const Json* l = Field(*md, "labels")) RETURN_IF_ERROR(CheckStringMap(*l, "metadata.labels"));
  if (const Json* a = Field(*md, "annotations")) RETURN_IF_ERROR(CheckStringMap(*a, "metadata.annotations"));
  return Status::Ok();
}

Status CheckApiVersionKind(const Json& obj, std::string_view kind) {
  const Json* av = Field(obj, "apiVersion");
  std::string s;
  if (av) {
    RETURN_IF_ERROR(CheckString(*av, "apiVersion", &s));
    if (s != kCoreApiVersion) return InvalidArgument("apiVersion: must be v1 for " + std::string(kind) + ", got \"" + s + "\"");
  }
  const Json* k = Field(obj, "kind");
  if (k) {
    RETURN_IF_ERROR(CheckString(*k, "kind", &s));
    if (s != kind) return InvalidArgument("kind: must be " + std::string(kind) + ", got \"" + s + "\"");
  }
  return Status::Ok();
}

// A map of string values; the messages name the key, never the value.
Status CheckSecretMap(const Json& v, const std::string& path, bool base64, size_t* total) {
  RETURN_IF_ERROR(CheckObject(v, path));
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string p = path + "[" + it.key().substr(0, 300) + "]";
    if (!IsSecretKey(it.key())) {
      return InvalidArgument(p + ": a valid config key must consist of alphanumeric characters, '-', '_' or '.'");
    }
    if (!it.value().is_string()) return InvalidArgument(p + ": must be a string");
    const std::string& s = it.value().get_ref<const std::string&>();
    if (base64) {
      auto decoded = Base64Decode(s);
      if (!decoded.ok()) return InvalidArgument(p + ": " + decoded.status().message());
      *total += decoded->size();
    } else {
      *total += s.size();
    }
  }
  return Status::Ok();
}

Status CheckNameList(const Json& v, const std::string& path) {
  if (!v.is_array()) return InvalidArgument(path + ": must be a list");
  for (size_t i = 0; i < v.size(); ++i) {
    RETURN_IF_ERROR(CheckObject(v[i], Index(path, i)));
    const Json* name = Field(v[i], "name");
    if (!name) return InvalidArgument(Join(Index(path, i), "name") + ": required");
    RETURN_IF_ERROR(CheckString(*name, Join(Index(path, i), "name")));
  }
  return Status::Ok();
}

// A field inferd does not know is refused rather than dropped (nothing silently ignored).
Status CheckKnownFields(const Json& obj, std::string_view kind, std::initializer_list<std::string_view> fields) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known = it.key() == "apiVersion" || it.key() == "kind" || it.key() == "metadata";
    for (std::string_view f : fields) known |= it.key() == f;
    if (!known) return InvalidArgument(it.key().substr(0, 100) + ": unknown field of a " + std::string(kind));
  }
  return Status::Ok();
}

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

}  // namespace

std::string Base64Encode(std::string_view data) { return inferd::Base64Encode(data); }

StatusOr<std::string> Base64Decode(std::string_view input) {
  // OpenSSL's decoder is lenient (spaces, a short final group); Kubernetes (Go's StdEncoding) is not, except
  // that it skips line breaks: drop those, check the form, then let OpenSSL decode.
  std::string text;
  text.reserve(input.size());
  for (char c : input) {
    if (c != '\n' && c != '\r') text.push_back(c);
  }
  if (text.size() % 4 != 0) return InvalidArgument("illegal base64 data: the length is not a multiple of 4");
  size_t pad = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size()) return InvalidArgument("illegal base64 data at input byte " + std::to_string(i));
      ++pad;
    } else if (pad > 0 || !IsBase64Char(c)) {
      return InvalidArgument("illegal base64 data at input byte " + std::to_string(i));
    }
  }
  if (text.size() > (64u << 20)) return InvalidArgument("base64 data too long");
  return inferd::Base64Decode(text);  // the form is checked above: only the decoding is shared
}

Status ValidateSecret(const Json& obj) {
  if (!obj.is_object()) return InvalidArgument("a Secret must be an object");
  RETURN_IF_ERROR(CheckApiVersionKind(obj, "Secret"));
  RETURN_IF_ERROR(CheckCoreMetadata(obj, "Secret"));
  size_t total = 0;
  if (const Json* d = Field(obj, "data")) RETURN_IF_ERROR(CheckSecretMap(*d, "data", true, &total));
  if (const Json* d = Field(obj, "stringData")) RETURN_IF_ERROR(CheckSecretMap(*d, "stringData", false, &total));
  if (total > kMaxSecretBytes) {
    return InvalidArgument("data: Too long: must have at most " + std::to_string(kMaxSecretBytes) + " bytes");
  }
  if (const Json* t = Field(obj, "type")) RETURN_IF_ERROR(CheckString(*t, "type"));
  if (const Json* i = Field(obj, "immutable")) RETURN_IF_ERROR(CheckBool(*i, "immutable"));
  return CheckKnownFields(obj, "Secret", {"data", "stringData", "type", "immutable"});
}

Json NormalizeSecret(Json obj) {
  if (!obj.is_object()) return obj;
  if (obj.contains("stringData") && obj["stringData"].is_object()) {
    if (!obj.contains("data") || !obj["data"].is_object()) obj["data"] = Json::object();
    for (auto it = obj["stringData"].begin(); it != obj["stringData"].end(); ++it) {
      if (it.value().is_string()) obj["data"][it.key()] = Base64Encode(it.value().get<std::string>());
    }
  }
  obj.erase("stringData");
  if (!obj.contains("type") || obj["type"].is_null() ||
      (obj["type"].is_string() && obj["type"].get<std::string>().empty())) {
    obj["type"] = "Opaque";
  }
  return obj;
}

Status ValidateServiceAccount(const Json& obj) {
  if (!obj.is_object()) return InvalidArgument("a ServiceAccount must be an object");
  RETURN_IF_ERROR(CheckApiVersionKind(obj, "ServiceAccount"));
  RETURN_IF_ERROR(CheckCoreMetadata(obj, "ServiceAccount"));
  if (const Json* s = Field(obj, "secrets")) RETURN_IF_ERROR(CheckNameList(*s, "secrets"));
  if (const Json* s = Field(obj, "imagePullSecrets")) RETURN_IF_ERROR(CheckNameList(*s, "imagePullSecrets"));
  if (const Json* a = Field(obj, "automountServiceAccountToken")) {
    RETURN_IF_ERROR(CheckBool(*a, "automountServiceAccountToken"));
  }
  return CheckKnownFields(obj, "ServiceAccount", {"secrets", "imagePullSecrets", "automountServiceAccountToken"});
}

StatusOr<std::string> SecretValue(const Json& secret, std::string_view key) {
  const Json* data = Field(secret, "data");
  const Json* v = data ? Field(*data, key) : nullptr;
  if (!v || !v->is_string()) return NotFound("no data key " + std::string(key));
  auto decoded = Base64Decode(v->get<std::string>());
  if (!decoded.ok()) return InvalidArgument("data[" + std::string(key) + "]: " + decoded.status().message());
  return decoded;
}

}  // namespace inferd::resources
