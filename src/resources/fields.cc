// resources/fields.cc: field access and type checks shared by the validators (see internal.h).
#include <climits>
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>

#include "core/json_field.h"
#include "resources/internal.h"

namespace inferd::resources::internal {

const std::vector<std::string>& PredictorImplementations() {
  static const std::vector<std::string> kImpls = {"model",      "sklearn", "xgboost", "tensorflow",
                                                  "pytorch",    "triton",  "onnx",    "pmml",
                                                  "lightgbm",   "paddle",  "huggingface"};
  return kImpls;
}

std::string PredictorImplementationList() {
  std::string s = "[";
  for (const auto& name : PredictorImplementations()) s += name + ", ";
  s += "containers]";
  return s;
}

bool IsKnownProtocol(std::string_view p) {
  for (auto k : kProtocols)
    if (k == p) return true;
  return false;
}

std::string ProtocolList() {
  std::string s;
  for (auto k : kProtocols) {
    if (!s.empty()) s += ", ";
    s += k;
  }
  return s;
}

const Json* Field(const Json& obj, std::string_view key) { return JsonField(obj, key); }

std::string Join(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string s(path);
  s += '.';
  s += key;
  return s;
}

std::string Index(std::string_view path, size_t i) { return std::string(path) + "[" + std::to_string(i) + "]"; }

namespace {
const char* TypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "a list";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}
Status TypeError(const std::string& path, std::string_view want, const Json& v) {
  return InvalidArgument(path + ": must be " + std::string(want) + ", got " + TypeName(v));
}
}  // namespace

Status CheckObject(const Json& v, const std::string& path) {
  if (!v.is_object()) return TypeError(path, "an object", v);
  return Status::Ok();
}

Status CheckString(const Json& v, const std::string& path, std::string* out) {
  if (!v.is_string()) {
    if (v.is_number() || v.is_boolean())
      return InvalidArgument(path + ": must be a string, got " + TypeName(v) + " (quote it: \"" + v.dump() +
                             "\")");
    return TypeError(path, "a string", v);
  }
  if (out) *out = v.get<std::string>();
  return Status::Ok();
}

Status CheckBool(const Json& v, const std::string& path, bool* out) {
  if (!v.is_boolean()) return TypeError(path, "a boolean (true or false)", v);
  if (out) *out = v.get<bool>();
  return Status::Ok();
}

Status CheckInt(const Json& v, const std::string& path, int* out) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT_MAX)) return InvalidArgument(path + ": " + v.dump() + " is out of range");
    if (out) *out = static_cast<int>(u);
    return Status::Ok();
  }
  if (v.is_number_integer()) {
    auto i = v.get<int64_t>();
    if (i > INT_MAX || i < INT_MIN) return InvalidArgument(path + ": " + v.dump() + " is out of range");
    if (out) *out = static_cast<int>(i);
    return Status::Ok();
  }
  return TypeError(path, "an integer", v);
}

Status CheckVersionString(const Json& v, const std::string& path, std::string* out) {
  if (v.is_string() || v.is_number()) {
    if (out) *out = VersionString(v);
    return Status::Ok();
  }
  return TypeError(path, "a string", v);
}

Status CheckStringList(const Json& v, const std::string& path) {
  if (!v.is_array()) return TypeError(path, "a list of strings", v);
  for (size_t i = 0; i < v.size(); ++i) RETURN_IF_ERROR(CheckString(v[i], Index(path, i)));
  return Status::Ok();
}

Status CheckEnvList(const Json& v, const std::string& path) {
  if (!v.is_array()) return TypeError(path, "a list of {name, value}", v);
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = Index(path, i);
    RETURN_IF_ERROR(CheckObject(v[i], p));
    const Json* name = Field(v[i], "name");
    if (!name) return InvalidArgument(Join(p, "name") + ": required");
    std::string n;
    RETURN_IF_ERROR(CheckString(*name, Join(p, "name"), &n));
    if (n.empty()) return InvalidArgument(Join(p, "name") + ": must not be empty");
    if (const Json* value = Field(v[i], "value")) RETURN_IF_ERROR(CheckString(*value, Join(p, "value")));
  }
  return Status::Ok();
}

Status CheckStringMap(const Json& v, const std::string& path) {
  RETURN_IF_ERROR(CheckObject(v, path));
  for (auto it = v.begin(); it != v.end(); ++it) RETURN_IF_ERROR(CheckString(it.value(), Join(path, it.key())));
  return Status::Ok();
}

Status CheckContainer(const Json& v, const std::string& path) {
  RETURN_IF_ERROR(CheckObject(v, path));
  if (const Json* f = Field(v, "name")) RETURN_IF_ERROR(CheckString(*f, Join(path, "name")));
  if (const Json* f = Field(v, "image")) RETURN_IF_ERROR(CheckString(*f, Join(path, "image")));
  if (const Json* f = Field(v, "command")) RETURN_IF_ERROR(CheckStringList(*f, Join(path, "command")));
  if (const Json* f = Field(v, "args")) RETURN_IF_ERROR(CheckStringList(*f, Join(path, "args")));
  if (const Json* f = Field(v, "env")) RETURN_IF_ERROR(CheckEnvList(*f, Join(path, "env")));
  if (const Json* f = Field(v, "workingDir")) RETURN_IF_ERROR(CheckString(*f, Join(path, "workingDir")));
  if (const Json* f = Field(v, "readinessProbe")) RETURN_IF_ERROR(CheckProbe(*f, Join(path, "readinessProbe")));
  if (const Json* f = Field(v, "resources")) RETURN_IF_ERROR(CheckResources(*f, Join(path, "resources")));
  return Status::Ok();
}

Status CheckProbe(const Json& v, const std::string& path) {
  RETURN_IF_ERROR(CheckObject(v, path));
  if (const Json* h = Field(v, "httpGet")) {
    RETURN_IF_ERROR(CheckObject(*h, Join(path, "httpGet")));
    if (const Json* p = Field(*h, "path")) {
      std::string s;
      RETURN_IF_ERROR(CheckString(*p, Join(Join(path, "httpGet"), "path"), &s));
      // It goes into the probe's request line: visible ASCII only.
      for (unsigned char ch : s)
        if (ch <= 0x20 || ch >= 0x7f)
          return InvalidArgument(Join(Join(path, "httpGet"), "path") +
                                 ": must be a URL path without spaces or control characters");
    }
  }
  for (const char* key :
       {"periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold", "initialDelaySeconds"}) {
    if (const Json* n = Field(v, key)) {
      int i = 0;
      RETURN_IF_ERROR(CheckInt(*n, Join(path, key), &i));
      if (i < 0) return InvalidArgument(Join(path, key) + ": must be >= 0");
    }
  }
  return Status::Ok();
}

Status CheckStorageUri(const Json& v, const std::string& path) {
  std::string uri;
  RETURN_IF_ERROR(CheckString(v, path, &uri));
  if (uri.empty()) return InvalidArgument(path + ": must not be empty");
  const auto sep = uri.find("://");
  if (sep == std::string::npos) return Status::Ok();  // an absolute or relative local path
  const std::string scheme = uri.substr(0, sep);
  static const char* kSchemes[] = {"file", "http", "https", "s3", "gs", "pvc"};
  bool known = false;
  for (const char* s : kSchemes) known = known || scheme == s;
  if (!known)
    return InvalidArgument(path + ": storage URI scheme \"" + scheme + "://\" is not supported here (" + uri +
                           "); use file://, a local path, http://, https://, s3://, gs:// or pvc://");
  if (sep + 3 >= uri.size()) return InvalidArgument(path + ": \"" + uri + "\" names no location after the scheme");
  if (scheme == "pvc") {
    // pvc://<claim>/<path>: the claim name must be there.
    const std::string rest = uri.substr(sep + 3);
    if (rest.front() == '/') return InvalidArgument(path + ": \"" + uri + "\" has no claim name (pvc://<claim>/<path>)");
  }
  return Status::Ok();
}

Status CheckProtocol(const Json& v, const std::string& path, std::string* out) {
  std::string p;
  RETURN_IF_ERROR(CheckString(v, path, &p));
  if (!IsKnownProtocol(p)) return InvalidArgument(path + ": invalid protocol " + p + ". Must be one of [" + ProtocolList() + "]");
  if (out) *out = p;
  return Status::Ok();
}

Status CheckDnsLabel(const Json& v, const std::string& path) {
  std::string name;
  RETURN_IF_ERROR(CheckString(v, path, &name));
  if (name.empty()) return InvalidArgument(path + ": required");
  if (!IsDns1123Label(name))
    return InvalidArgument(path + ": \"" + name +
                           "\" is not a valid name: a lowercase RFC 1123 label must consist of lower case "
                           "alphanumeric characters or '-', must start and end with an alphanumeric character "
                           "(e.g. 'my-name' or '123-abc') and be at most 63 characters long");
  return Status::Ok();
}

std::string VersionString(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  return "";
}

std::vector<std::string> StringList(const Json* v) {
  std::vector<std::string> out;
  if (!v || !v->is_array()) return out;
  for (const auto& e : *v)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

std::vector<EnvVar> EnvList(const Json* v) {
  std::vector<EnvVar> out;
  if (!v || !v->is_array()) return out;
  for (const auto& e : *v) {
    const Json* name = Field(e, "name");
    if (!name || !name->is_string()) continue;
    const Json* value = Field(e, "value");
    out.push_back({name->get<std::string>(), value && value->is_string() ? value->get<std::string>() : ""});
  }
  return out;
}

std::optional<ProbeSpec> ProbeFrom(const Json* v) {
  if (!v || !v->is_object()) return std::nullopt;
  ProbeSpec p;
  auto num = [&](const char* key) {
    const Json* n = Field(*v, key);
    return n && n->is_number_integer() && n->get<int64_t>() > 0 && n->get<int64_t>() < 86400 ? n->get<int>() : 0;
  };
  if (const Json* h = Field(*v, "httpGet"))
    if (const Json* path = Field(*h, "path"); path && path->is_string()) p.path = path->get<std::string>();
  p.period_seconds = num("periodSeconds");
  p.timeout_seconds = num("timeoutSeconds");
  p.failure_threshold = num("failureThreshold");
  return p;
}

ContainerSpec ContainerFrom(const Json& v) {
  ContainerSpec c;
  if (const Json* f = Field(v, "name"); f && f->is_string()) c.name = f->get<std::string>();
  if (const Json* f = Field(v, "image"); f && f->is_string()) c.image = f->get<std::string>();
  c.command = StringList(Field(v, "command"));
  c.args = StringList(Field(v, "args"));
  c.env = EnvList(Field(v, "env"));
  if (const Json* f = Field(v, "workingDir"); f && f->is_string()) c.working_dir = f->get<std::string>();
  c.readiness = ProbeFrom(Field(v, "readinessProbe"));
  return c;
}

std::string_view MajorVersion(std::string_view version) {
  const auto dot = version.find('.');
  return dot == std::string_view::npos ? version : version.substr(0, dot);
}

}  // namespace inferd::resources::internal

namespace inferd::resources {

const std::vector<std::string>& PredictorImplementations() { return internal::PredictorImplementations(); }

ContainerSpec ParseContainer(const Json& container) {
  try {
    return internal::ContainerFrom(container);
  } catch (...) {
    return {};  // accessors check types; building strings only throws on memory exhaustion
  }
}

namespace {
std::optional<double> NumberWithSuffix(std::string_view q, std::string* suffix) {
  if (q.empty() || q.size() > 64) return std::nullopt;
  const std::string s(q);
  // No sign, space, nan or hex (strtod would take them; Kubernetes quantities do not).
  if (!(std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '.') || s.find_first_of("xX") != std::string::npos)
    return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(v) || v < 0) return std::nullopt;
  *suffix = std::string(end);
  return v;
}
}  // namespace

std::optional<double> ParseCpuQuantity(std::string_view q) {
  std::string suffix;
  auto v = NumberWithSuffix(q, &suffix);
  if (!v) return std::nullopt;
  if (suffix.empty()) return *v;
  if (suffix == "m") return *v / 1000;
  return std::nullopt;
}

std::optional<double> ParseMemoryQuantity(std::string_view q) {
  std::string suffix;
  auto v = NumberWithSuffix(q, &suffix);
  if (!v) return std::nullopt;
  static const std::map<std::string, double> kUnits = {
      {"", 1},        {"k", 1e3},        {"M", 1e6},           {"G", 1e9},              {"T", 1e12},
      {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}, {"m", 1e-3}};
  auto it = kUnits.find(suffix);
  if (it == kUnits.end()) return std::nullopt;
  return *v * it->second;
}

}  // namespace inferd::resources
