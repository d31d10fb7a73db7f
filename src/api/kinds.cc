// api/kinds.cc: the kind table (see kinds.h). KServe's columns are copied from its CRDs'
// additionalPrinterColumns (config/crd/full/serving.kserve.io_*.yaml); the core kinds' from what the
// Kubernetes API server prints for the built-in types.
#include "api/kinds.h"

#include <algorithm>
#include <cctype>

#include "api/table.h"
#include "core/json_field.h"

namespace inferd::api {

using store::Json;
using store::ResourceType;

namespace {

const std::vector<std::string> kAllVerbs = {"create", "delete", "deletecollection", "get", "list", "patch", "update",
                                            "watch"};
const std::vector<std::string> kReadVerbs = {"get", "list", "watch"};

PrinterColumn NameColumn(int priority = 0) {
  return {"Name", "string", ".metadata.name", "name", priority,
          "Name must be unique within a namespace. More info: "
          "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
          nullptr};
}
// A CRD's Age (additionalPrinterColumns' `date` type).
PrinterColumn CrdAgeColumn() { return {"Age", "date", ".metadata.creationTimestamp", "", 0, "", nullptr}; }
PrinterColumn Col(std::string name, std::string type, std::string path, int priority = 0) {
  return {std::move(name), std::move(type), std::move(path), "", priority, "", nullptr};
}
PrinterColumn Computed(std::string name, Json (*fn)(const Json&, long long), int priority = 0) {
  return {std::move(name), "string", "", "", priority, "", fn};
}

const Json* Field(const Json& obj, std::string_view key) { return JsonField(obj, key); }
std::string StringField(const Json& obj, std::string_view key) { return JsonStringField(obj, key); }
std::string Since(const std::string& timestamp, long long now) {
  auto t = ParseRfc3339(timestamp);
  return t ? HumanDuration(now - *t) : "<unknown>";
}
Json CountOf(const Json& obj, const char* key) {
  const Json* v = Field(obj, key);
  return v && (v->is_object() || v->is_array()) ? static_cast<int64_t>(v->size()) : 0;
}

// Built-in columns (Kubernetes' printers for core/v1).
Json AgeCell(const Json& obj, long long now) {
  const Json* md = Field(obj, "metadata");
  return Since(md ? StringField(*md, "creationTimestamp") : "", now);
}
Json SecretDataCell(const Json& obj, long long) { return CountOf(obj, "data"); }
Json SecretsCell(const Json& obj, long long) { return CountOf(obj, "secrets"); }
Json EventLastSeenCell(const Json& obj, long long now) {
  std::string last = Since(StringField(obj, "lastTimestamp"), now);
  const Json* count = Field(obj, "count");
  if (count && count->is_number_integer() && count->get<int64_t>() > 1) {
    return last + " (x" + std::to_string(count->get<int64_t>()) + " over " +
           Since(StringField(obj, "firstTimestamp"), now) + ")";
  }
  return last;
}
Json EventFirstSeenCell(const Json& obj, long long now) { return Since(StringField(obj, "firstTimestamp"), now); }
Json EventObjectCell(const Json& obj, long long) {
  const Json* io = Field(obj, "involvedObject");
  if (!io) return "/";
  std::string kind = StringField(*io, "kind");
  std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::tolower(c); });
  return kind + "/" + StringField(*io, "name");
}
Json EventSubobjectCell(const Json& obj, long long) {
  const Json* io = Field(obj, "involvedObject");
  return io ? StringField(*io, "fieldPath") : "";
}
Json EventSourceCell(const Json& obj, long long) {
  const Json* src = Field(obj, "source");
  if (!src) return "";
  std::string s = StringField(*src, "component");
  if (std::string host = StringField(*src, "host"); !host.empty()) s += ", " + host;
  return s;
}
Json EventCountCell(const Json& obj, long long) {
  const Json* c = Field(obj, "count");
  return c && c->is_number_integer() ? c->get<int64_t>() : 0;
}

std::vector<Kind> BuildKinds() {
  const std::string kServing = "serving.kserve.io/";
  const std::vector<PrinterColumn> url_ready = {NameColumn(), Col("URL", "string", ".status.url"),
                                                Col("Ready", "string", ".status.conditions[?(@.type=='Ready')].status"),
                                                CrdAgeColumn()};
  const std::vector<PrinterColumn> runtime_columns = {
      NameColumn(), Col("Disabled", "boolean", ".spec.disabled"),
      Col("ModelType", "string", ".spec.supportedModelFormats[*].name"),
      Col("Containers", "string", ".spec.containers[*].name"), CrdAgeColumn()};
  const std::string traffic = ".status.components.predictor.traffic";
  std::vector<Kind> k;
  // ---- core/v1 ----
  k.push_back({{"v1", "Event", "events", true}, "event", {"ev"}, {}, kReadVerbs, false,
               {Computed("Last Seen", EventLastSeenCell), Col("Type", "string", ".type"),
                Col("Reason", "string", ".reason"), Computed("Object", EventObjectCell),
                Computed("Subobject", EventSubobjectCell, 1), Computed("Source", EventSourceCell, 1),
                Col("Message", "string", ".message"), Computed("First Seen", EventFirstSeenCell, 1),
                Computed("Count", EventCountCell, 1), NameColumn(1)}});
  // Namespace: cluster-scoped; the server owns its status (phase), as Kubernetes' namespace strategy does, so
  // there is no status subresource here (api/namespaces.h).
  k.push_back({{"v1", "Namespace", "namespaces", false}, "namespace", {"ns"}, {}, kAllVerbs, false,
               {NameColumn(), Col("Status", "string", ".status.phase"), Computed("Age", AgeCell)}});
  k.push_back({{"v1", "Secret", "secrets", true}, "secret", {}, {}, kAllVerbs, false,
               {NameColumn(), Col("Type", "string", ".type"), Computed("Data", SecretDataCell),
                Computed("Age", AgeCell)}});
  k.push_back({{"v1", "ServiceAccount", "serviceaccounts", true}, "serviceaccount", {"sa"}, {}, kAllVerbs, false,
               {NameColumn(), Computed("Secrets", SecretsCell), Computed("Age", AgeCell)}});
  // ---- serving.kserve.io ----
  k.push_back({{kServing + "v1beta1", "InferenceService", "inferenceservices", true}, "inferenceservice", {"isvc"},
               {}, kAllVerbs, true,
               {NameColumn(), Col("URL", "string", ".status.url"),
                Col("Ready", "string", ".status.conditions[?(@.type=='Ready')].status"),
                Col("Prev", "integer", traffic + "[?(@.tag=='prev')].percent"),
                Col("Latest", "integer", traffic + "[?(@.latestRevision==true)].percent"),
                Col("PrevRolledoutRevision", "string", traffic + "[?(@.tag=='prev')].revisionName"),
                Col("LatestReadyRevision", "string", traffic + "[?(@.latestRevision==true)].revisionName"),
                CrdAgeColumn()}});
  k.push_back({{kServing + "v1alpha1", "ServingRuntime", "servingruntimes", true}, "servingruntime", {}, {},
               kAllVerbs, true, runtime_columns});
  k.push_back({{kServing + "v1alpha1", "ClusterServingRuntime", "clusterservingruntimes", false},
               "clusterservingruntime", {}, {}, kAllVerbs, true, runtime_columns});
  k.push_back({{kServing + "v1alpha1", "InferenceGraph", "inferencegraphs", true}, "inferencegraph", {"ig"}, {},
               kAllVerbs, true, url_ready});
  k.push_back({{kServing + "v1alpha1", "TrainedModel", "trainedmodels", true}, "trainedmodel", {"tm"}, {},
               kAllVerbs, true, url_ready});
  return k;
}

const ResourceType& TypeOf(std::string_view api_version, std::string_view plural) {
  const Kind* k = FindKind(api_version, plural);
  return k->type;  // every accessor names an entry of BuildKinds
}

}  // namespace

std::string Kind::group() const {
  auto slash = type.api_version.rfind('/');
  return slash == std::string::npos ? "" : type.api_version.substr(0, slash);
}
std::string Kind::version() const {
  auto slash = type.api_version.rfind('/');
  return slash == std::string::npos ? type.api_version : type.api_version.substr(slash + 1);
}
bool Kind::read_only() const { return std::find(verbs.begin(), verbs.end(), "create") == verbs.end(); }

const std::vector<Kind>& Kinds() {
  static const std::vector<Kind> kinds = BuildKinds();
  return kinds;
}

const Kind* FindKind(std::string_view api_version, std::string_view plural) {
  for (const Kind& k : Kinds())
    if (k.type.api_version == api_version && k.type.plural == plural) return &k;
  return nullptr;
}
const Kind* FindKind(const ResourceType& type) { return FindKind(type.api_version, type.plural); }

bool SelectableField(const Kind& kind, std::string_view field) {
  if (field == "metadata.name" || field == "metadata.namespace") return true;
  if (kind.type.api_version == "v1" && kind.type.kind == "Event") {
    static constexpr std::string_view kEventFields[] = {
        "involvedObject.kind", "involvedObject.namespace",       "involvedObject.name",
        "involvedObject.uid",  "involvedObject.apiVersion",      "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"};
    return std::find(std::begin(kEventFields), std::end(kEventFields), field) != std::end(kEventFields);
  }
  return kind.type.api_version == "v1" && kind.type.kind == "Secret" && field == "type";
}

std::string SelectableFieldValue(const Json& obj, std::string_view field) {
  if (field == "source") field = "source.component";  // an Event's `source` selects on its component
  const Json* cur = &obj;
  while (cur) {
    auto dot = field.find('.');
    cur = Field(*cur, std::string(field.substr(0, dot)).c_str());
    if (dot == std::string_view::npos) break;
    field.remove_prefix(dot + 1);
  }
  return cur && cur->is_string() ? cur->get<std::string>() : "";
}

std::vector<ResourceType> AllResourceTypes() {
  std::vector<ResourceType> out;
  for (const Kind& k : Kinds()) out.push_back(k.type);
  return out;
}

const ResourceType& NamespaceType() { return TypeOf("v1", "namespaces"); }
const ResourceType& InferenceServiceType() {
  static const ResourceType& t = TypeOf("serving.kserve.io/v1beta1", "inferenceservices");
  return t;
}
const ResourceType& ServingRuntimeType() {
  static const ResourceType& t = TypeOf("serving.kserve.io/v1alpha1", "servingruntimes");
  return t;
}
const ResourceType& ClusterServingRuntimeType() {
  static const ResourceType& t = TypeOf("serving.kserve.io/v1alpha1", "clusterservingruntimes");
  return t;
}
const ResourceType& InferenceGraphType() {
  static const ResourceType& t = TypeOf("serving.kserve.io/v1alpha1", "inferencegraphs");
  return t;
}
const ResourceType& TrainedModelType() {
  static const ResourceType& t = TypeOf("serving.kserve.io/v1alpha1", "trainedmodels");
  return t;
}
const ResourceType& EventType() {
  static const ResourceType& t = TypeOf("v1", "events");
  return t;
}
const ResourceType& SecretType() {
  static const ResourceType& t = TypeOf("v1", "secrets");
  return t;
}
const ResourceType& ServiceAccountType() {
  static const ResourceType& t = TypeOf("v1", "serviceaccounts");
  return t;
}

}  // namespace inferd::api
