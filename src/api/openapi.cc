// api/openapi.cc: OpenAPI v3 index and group-version documents (contract in openapi.h).
#include "api/openapi.h"

#include <cstdint>
#include <cstdio>
#include <set>

#include "api/status_object.h"

namespace inferd::api {
namespace {

using Json = nlohmann::ordered_json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string Hash(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llX", static_cast<unsigned long long>(h));
  return buf;
}

// "serving.kserve.io" -> "io.kserve.serving"; core kinds are io.k8s.api.core.<version>.
std::string SchemaName(const OpenApiResource& r) {
  if (r.group.empty()) return "io.k8s.api.core." + r.version + "." + r.kind;
  std::string rev, g = r.group;
  while (!g.empty()) {
    auto dot = g.rfind('.');
    std::string part = dot == std::string::npos ? g : g.substr(dot + 1);
    g = dot == std::string::npos ? "" : g.substr(0, dot);
    rev += (rev.empty() ? "" : ".") + part;
  }
  return rev + "." + r.version + "." + r.kind;
}

std::string Upper1(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// operationId prefix as Kubernetes builds it: "ServingKserveIoV1beta1", "CoreV1".
std::string OperationGroup(const OpenApiResource& r) {
  std::string out;
  if (r.group.empty()) {
    out = "Core";
  } else {
    std::string g = r.group;
    size_t i = 0;
    while (i <= g.size()) {
      size_t j = g.find('.', i);
      if (j == std::string::npos) j = g.size();
      out += Upper1(g.substr(i, j - i));
      i = j + 1;
    }
  }
  return out + Upper1(r.version);
}

Json Ref(const std::string& name) { return Json{{"$ref", "#/components/schemas/" + name}}; }

Json QueryParam(const char* name, const char* description) {
  return Json{{"name", name}, {"in", "query"}, {"description", description}, {"schema", {{"type", "string"}}}};
}
Json PathParam(const char* name) {
  return Json{{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
}

Json JsonResponse(const Json& schema) {
  return Json{{"description", "OK"}, {"content", {{"application/json", {{"schema", schema}}}}}};
}

Json Gvk(const OpenApiResource& r) { return Json{{"group", r.group}, {"version", r.version}, {"kind", r.kind}}; }

Json Operation(const OpenApiResource& r, const std::string& action, const std::string& id, Json responses) {
  return Json{{"operationId", id},
              {"responses", std::move(responses)},
              {"x-kubernetes-action", action},
              {"x-kubernetes-group-version-kind", Gvk(r)}};
}

Json WriteParams(bool patch) {
  Json p = Json::array({QueryParam("dryRun", "When present, the write is checked and not stored (All)."),
                        QueryParam("fieldManager", "The name of the actor making the change."),
                        QueryParam("fieldValidation",
                                   "How unknown fields are handled: Strict (400 BadRequest), Warn (pruned, "
                                   "reported in Warning headers; the default) or Ignore (pruned silently).")});
  if (patch) p.push_back(QueryParam("force", "Apply patches only: take over conflicting fields."));
  return p;
}

Json PatchOperation(const OpenApiResource& r, const std::string& id, bool status) {
  Json op = Operation(r, "patch", id, Json{{"200", JsonResponse(Ref(SchemaName(r)))}});
  op["parameters"] = WriteParams(true);
  Json content = Json::object();
  for (const char* t : {"application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"}) {
    content[t] = {{"schema", Ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")}};
  }
  op["requestBody"] = {{"content", content}, {"required", true}};
  if (status) op["description"] = "partially update status of the specified " + r.kind;
  return op;
}

Json BodyOperation(const OpenApiResource& r, const std::string& action, const std::string& id, int code) {
  Json op = Operation(r, action, id, Json{{std::to_string(code), JsonResponse(Ref(SchemaName(r)))}});
  op["parameters"] = WriteParams(false);
  op["requestBody"] = {{"content", {{"application/json", {{"schema", Ref(SchemaName(r))}}}}}, {"required", true}};
  return op;
}

// The paths of one resource.
void AddPaths(const OpenApiResource& r, Json& paths) {
  std::string base = "/" + GroupVersionKey(r) + "/";
  std::string scope = r.namespaced ? "Namespaced" : "";
  std::string og = OperationGroup(r);
  std::string coll = base + (r.namespaced ? "namespaces/{namespace}/" : "") + r.plural;
  Json ns_params = r.namespaced ? Json::array({PathParam("namespace")}) : Json::array();
  Json list_schema = Ref(SchemaName(r) + "List");

  Json c = Json::object();
  c["get"] = Operation(r, "list", "list" + og + scope + r.kind, Json{{"200", JsonResponse(list_schema)}});
  if (!r.read_only) c["post"] = BodyOperation(r, "post", "create" + og + scope + r.kind, 201);
  c["parameters"] = ns_params;
  paths[coll] = c;
  if (r.namespaced) {
    paths[base + r.plural] = Json{{"get", Operation(r, "list", "list" + og + r.kind + "ForAllNamespaces",
                                                    Json{{"200", JsonResponse(list_schema)}})}};
  }
  Json item_params = ns_params;
  item_params.push_back(PathParam("name"));
  Json item = Json::object();
  item["get"] = Operation(r, "get", "read" + og + scope + r.kind, Json{{"200", JsonResponse(Ref(SchemaName(r)))}});
  if (!r.read_only) {
    item["put"] = BodyOperation(r, "put", "replace" + og + scope + r.kind, 200);
    item["patch"] = PatchOperation(r, "patch" + og + scope + r.kind, false);
    item["delete"] = Operation(r, "delete", "delete" + og + scope + r.kind,
                               Json{{"200", JsonResponse(Ref("io.k8s.apimachinery.pkg.apis.meta.v1.Status"))}});
  }
  item["parameters"] = item_params;
  paths[coll + "/{name}"] = item;
  if (r.has_status) {
    Json st = Json::object();
    st["get"] = Operation(r, "get", "read" + og + scope + r.kind + "Status",
                          Json{{"200", JsonResponse(Ref(SchemaName(r)))}});
    st["put"] = BodyOperation(r, "put", "replace" + og + scope + r.kind + "Status", 200);
    st["patch"] = PatchOperation(r, "patch" + og + scope + r.kind + "Status", true);
    st["parameters"] = item_params;
    paths[coll + "/{name}/status"] = st;
  }
}

Json KindSchema(const OpenApiResource& r) {
  Json s = r.schema ? *r.schema : Json{{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  if (s.contains("properties") && s["properties"].contains("metadata")) {
    s["properties"]["metadata"] = Ref("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
  }
  s["x-kubernetes-group-version-kind"] = Json::array({Gvk(r)});
  return s;
}

Json ListSchema(const OpenApiResource& r) {
  OpenApiResource list = r;
  list.kind += "List";
  return Json{{"type", "object"},
              {"required", {"items"}},
              {"properties",
               {{"apiVersion", {{"type", "string"}}},
                {"kind", {{"type", "string"}}},
                {"metadata", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}},
                {"items", {{"type", "array"}, {"items", Ref(SchemaName(r))}}}}},
              {"x-kubernetes-group-version-kind", Json::array({Gvk(list)})}};
}

Json MetaSchemas() {
  Json string_map = {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}};
  Json open_list = {{"type", "array"}, {"items", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}};
  Json meta = {{"type", "object"},
               {"properties",
                {{"name", {{"type", "string"}}},
                 {"generateName", {{"type", "string"}}},
                 {"namespace", {{"type", "string"}}},
                 {"uid", {{"type", "string"}}},
                 {"resourceVersion", {{"type", "string"}}},
                 {"generation", {{"type", "integer"}, {"format", "int64"}}},
                 {"creationTimestamp", {{"type", "string"}, {"format", "date-time"}}},
                 {"deletionTimestamp", {{"type", "string"}, {"format", "date-time"}}},
                 {"deletionGracePeriodSeconds", {{"type", "integer"}, {"format", "int64"}}},
                 {"labels", string_map},
                 {"annotations", string_map},
                 {"ownerReferences", open_list},
                 {"finalizers", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                 {"managedFields", open_list},
                 {"selfLink", {{"type", "string"}}}}}};
  return Json{{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", meta},
              {"io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
               {{"type", "object"}, {"description", "A patch: JSON patch, merge patch or apply configuration."}}},
              {"io.k8s.apimachinery.pkg.apis.meta.v1.Status",
               {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}};
}

}  // namespace

std::string GroupVersionKey(const OpenApiResource& r) {
  return r.group.empty() ? "api/" + r.version : "apis/" + r.group + "/" + r.version;
}

nlohmann::ordered_json OpenApiV3Document(const std::vector<OpenApiResource>& resources, std::string_view key) {
  Json paths = Json::object();
  Json schemas = MetaSchemas();
  for (const auto& r : resources) {
    if (GroupVersionKey(r) != key) continue;
    AddPaths(r, paths);
    schemas[SchemaName(r)] = KindSchema(r);
    schemas[SchemaName(r) + "List"] = ListSchema(r);
  }
  return Json{{"openapi", "3.0.0"},
              {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
              {"paths", paths},
              {"components", {{"schemas", schemas}}}};
}

nlohmann::ordered_json OpenApiV3Index(const std::vector<OpenApiResource>& resources) {
  std::set<std::string> keys;
  for (const auto& r : resources) keys.insert(GroupVersionKey(r));
  Json paths = Json::object();
  for (const auto& k : keys) {
    paths[k] = {{"serverRelativeURL", "/openapi/v3/" + k + "?hash=" + Hash(Dump(OpenApiV3Document(resources, k)))}};
  }
  return Json{{"paths", paths}};
}

std::optional<OpenApiAnswer> ServeOpenApi(std::string_view path, const std::vector<OpenApiResource>& resources) {
  constexpr std::string_view kPrefix = "/openapi/";
  if (path.substr(0, kPrefix.size()) != kPrefix && path != "/openapi") return std::nullopt;
  auto not_found = [] {
    return OpenApiAnswer{404, Dump(StatusObject(404, "NotFound", "the server could not find the requested resource"))};
  };
  if (path == "/openapi/v3" || path == "/openapi/v3/") return OpenApiAnswer{200, Dump(OpenApiV3Index(resources))};
  constexpr std::string_view kV3 = "/openapi/v3/";
  if (path.substr(0, kV3.size()) == kV3) {
    std::string key(path.substr(kV3.size()));
    for (const auto& r : resources) {
      if (GroupVersionKey(r) == key) return OpenApiAnswer{200, Dump(OpenApiV3Document(resources, key))};
    }
  }
  return not_found();
}

}  // namespace inferd::api
