// api/schema.cc: the structural-schema walk (contract in schema.h).
#include "api/schema.h"

#include <algorithm>
#include <regex>
#include <unordered_map>

namespace inferd::api {
namespace {

using Json = SchemaJson;

// ObjectMeta's JSON field names (k8s.io/apimachinery/pkg/apis/meta/v1 ObjectMeta).
bool IsObjectMetaField(const std::string& k) {
  static const char* const kFields[] = {
      "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
      "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
      "ownerReferences", "finalizers", "managedFields"};
  for (const char* f : kFields)
    if (k == f) return true;
  return false;
}

std::string GivenType(const Json& v) {
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  return "null";
}

bool HasType(const Json& v, const std::string& t) {
  if (t == "object") return v.is_object();
  if (t == "array") return v.is_array();
  if (t == "string") return v.is_string();
  if (t == "integer") return v.is_number_integer();
  if (t == "number") return v.is_number();
  if (t == "boolean") return v.is_boolean();
  return true;  // an unknown type name is scripts/check_crds.py's to refuse
}

bool Flag(const Json& s, const char* key) { return s.contains(key) && s[key].is_boolean() && s[key].get<bool>(); }

const Json* Get(const Json& s, const char* key) { return s.contains(key) ? &s[key] : nullptr; }

// UTF-8 characters (Kubernetes counts runes for minLength/maxLength).
size_t RuneCount(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

bool MatchesPattern(const std::string& pattern, const std::string& value) {
  if (value.size() > kMaxPatternInput) return false;
  thread_local std::unordered_map<std::string, std::regex> cache;
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    try {
      it = cache.emplace(pattern, std::regex(pattern, std::regex::ECMAScript)).first;
    } catch (const std::regex_error&) {
      return true;  // a pattern std::regex cannot compile is not held against the user
    }
  }
  try {
    return std::regex_search(value, it->second);
  } catch (const std::regex_error&) {  // complexity/stack limits of the implementation
    return false;
  }
}

constexpr size_t kMaxPathBytes = 1024;  // a reported path (keys are the client's: bounded in messages)

class Walker {
 public:
  Walker(bool prune, SchemaResult* out) : prune_(prune), out_(out) {}

  void Root(const Json& s, Json& v) {
    if (!v.is_object()) {
      Node(s, v, "");
      return;
    }
    // metadata: ObjectMeta, whatever the schema says (Kubernetes allows only name/generateName restrictions).
    if (v.contains("metadata") && v["metadata"].is_object()) {
      Json& md = v["metadata"];
      std::vector<std::string> drop;
      for (auto& [k, val] : md.items())
        if (!IsObjectMetaField(k)) drop.push_back(k);
      for (const auto& k : drop) Unknown(md, k, "metadata." + k);
    }
    Object(s, v, "", /*skip_metadata=*/true);
  }

  void Node(const Json& s, Json& v, const std::string& path) {
    if (Flag(s, "x-kubernetes-int-or-string")) {
      if (!v.is_number_integer() && !v.is_string()) {
        TypeError(v, path, "integer-or-string");  // no single type names both; Kubernetes lists the anyOf
        return;
      }
      if (v.is_string()) String(s, v, path);
      return;
    }
    const Json* type = Get(s, "type");
    if (type && type->is_string()) {
      if (!HasType(v, type->get<std::string>())) {
        TypeError(v, path, type->get<std::string>());
        return;
      }
    } else if (v.is_null()) {
      return;  // untyped (preserve-unknown) node: anything goes
    }
    if (const Json* e = Get(s, "enum"); e && e->is_array()) Enum(*e, v, path);
    if (v.is_number()) Number(s, v, path);
    if (v.is_string()) String(s, v, path);
    if (v.is_array()) Array(s, v, path);
    if (v.is_object()) Object(s, v, path, false);
  }

 private:
  static std::string Child(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  void Add(FieldError e) {
    ++out_->total_errors;
    if (out_->errors.size() < kMaxReported) out_->errors.push_back(std::move(e));
  }
  void Invalid(const Json& v, const std::string& path, std::string detail) {
    FieldError e;
    e.type = FieldError::Type::kInvalid;
    e.field = path;
    e.value = v;
    e.detail = std::move(detail);
    Add(std::move(e));
  }
  void TypeError(const Json& v, const std::string& path, const std::string& want) {
    FieldError e;
    e.type = FieldError::Type::kTypeInvalid;
    e.field = path;
    e.value = v.is_null() ? Json("null") : v;
    e.detail = path + " in body must be of type " + want + ": \"" + GivenType(v) + "\"";
    Add(std::move(e));
  }
  void Unknown(Json& parent, const std::string& key, const std::string& path) {
    ++out_->total_unknown;
    if (out_->unknown_fields.size() < kMaxReported) out_->unknown_fields.push_back(path.substr(0, kMaxPathBytes));
    if (prune_) parent.erase(key);
  }

  void Enum(const Json& allowed, const Json& v, const std::string& path) {
    for (const auto& a : allowed)
      if (a == v) return;
    FieldError e;
    e.type = FieldError::Type::kNotSupported;
    e.field = path;
    e.value = v;
    for (const auto& a : allowed) e.supported.push_back(a.is_string() ? a.get<std::string>() : a.dump());
    Add(std::move(e));
  }

  void Number(const Json& s, const Json& v, const std::string& path) {
    double x = v.get<double>();
    if (const Json* m = Get(s, "minimum"); m && m->is_number()) {
      bool excl = Flag(s, "exclusiveMinimum");
      if (excl ? x <= m->get<double>() : x < m->get<double>()) {
        Invalid(v, path, path + " in body should be greater than " + std::string(excl ? "" : "or equal to ") + m->dump());
      }
    }
    if (const Json* m = Get(s, "maximum"); m && m->is_number()) {
      bool excl = Flag(s, "exclusiveMaximum");
      if (excl ? x >= m->get<double>() : x > m->get<double>()) {
        Invalid(v, path, path + " in body should be less than " + std::string(excl ? "" : "or equal to ") + m->dump());
      }
    }
  }

  void String(const Json& s, const Json& v, const std::string& path) {
    const std::string& str = v.get_ref<const std::string&>();
    if (const Json* m = Get(s, "maxLength"); m && m->is_number_unsigned() && RuneCount(str) > m->get<size_t>()) {
      FieldError e;
      e.type = FieldError::Type::kTooLong;
      e.field = path;
      e.detail = "may not be more than " + m->dump() + " bytes";
      Add(std::move(e));
    }
    if (const Json* m = Get(s, "minLength"); m && m->is_number_unsigned() && RuneCount(str) < m->get<size_t>()) {
      Invalid(v, path, path + " in body should be at least " + m->dump() + " chars long");
    }
    if (const Json* p = Get(s, "pattern"); p && p->is_string() && !MatchesPattern(p->get<std::string>(), str)) {
      Invalid(v, path, path + " in body should match '" + p->get<std::string>() + "'");
    }
  }

  void Array(const Json& s, Json& v, const std::string& path) {
    if (const Json* m = Get(s, "minItems"); m && m->is_number_unsigned() && v.size() < m->get<size_t>()) {
      Invalid(v, path, path + " in body should have at least " + m->dump() + " items");
    }
    if (const Json* m = Get(s, "maxItems"); m && m->is_number_unsigned() && v.size() > m->get<size_t>()) {
      FieldError e;
      e.type = FieldError::Type::kTooMany;
      e.field = path;
      e.value = v.size();
      e.detail = "must have at most " + m->dump() + " items";
      Add(std::move(e));
    }
    const Json* items = Get(s, "items");
    if (!items || !items->is_object()) return;
    for (size_t i = 0; i < v.size(); ++i) Node(*items, v[i], path + "[" + std::to_string(i) + "]");
  }

  void Object(const Json& s, Json& v, const std::string& path, bool skip_metadata) {
    const Json* props = Get(s, "properties");
    const Json* additional = Get(s, "additionalProperties");
    bool preserve = Flag(s, "x-kubernetes-preserve-unknown-fields");
    if (!props && !(additional && additional->is_object()) && preserve) return;  // open: nothing checked
    std::vector<std::string> keys;
    keys.reserve(v.size());
    for (auto& [k, val] : v.items()) keys.push_back(k);
    for (const auto& k : keys) {
      if (skip_metadata && k == "metadata") continue;
      std::string child = Child(path, k);
      const Json* sub = nullptr;
      if (props && props->is_object() && props->contains(k)) {
        sub = &(*props)[k];
      } else if (additional && additional->is_object()) {
        sub = additional;
      }
      if (!sub) {
        if (!preserve) Unknown(v, k, child);
        continue;
      }
      if (v[k].is_null()) {
        v.erase(k);  // Kubernetes drops nulls of non-nullable fields
        continue;
      }
      Node(*sub, v[k], child);
    }
    if (const Json* req = Get(s, "required"); req && req->is_array()) {
      for (const auto& r : *req) {
        if (!r.is_string() || v.contains(r.get<std::string>())) continue;
        FieldError e;
        e.type = FieldError::Type::kRequired;
        e.field = Child(path, r.get<std::string>());
        Add(std::move(e));
      }
    }
  }

  bool prune_;
  SchemaResult* out_;
};

}  // namespace

SchemaResult CheckAgainstSchema(const SchemaJson& schema, SchemaJson& obj, bool prune) {
  SchemaResult out;
  Walker(prune, &out).Root(schema, obj);
  std::sort(out.unknown_fields.begin(), out.unknown_fields.end());  // as the API server lists them
  return out;
}

namespace {
// A JSON string of client text (a query value need not be UTF-8: bad bytes become U+FFFD, never an exception).
std::string Quoted(std::string_view text) {
  return SchemaJson(std::string(text)).dump(-1, ' ', false, SchemaJson::error_handler_t::replace);
}
}  // namespace

StatusOr<FieldValidation> ParseFieldValidation(std::string_view value) {
  if (value.empty() || value == "Warn") return FieldValidation::kWarn;
  if (value == "Strict") return FieldValidation::kStrict;
  if (value == "Ignore") return FieldValidation::kIgnore;
  return InvalidArgument("fieldValidation: Unsupported value: " + Quoted(value) +
                         ": supported values: \"Ignore\", \"Strict\", \"Warn\"");
}

std::string UnknownFieldText(const std::string& path) { return "unknown field " + Quoted(path); }

}  // namespace inferd::api
