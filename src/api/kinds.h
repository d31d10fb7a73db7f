// api/kinds.h: the one table of the resource kinds the API serves. Discovery (/api, /apis, aggregated v2),
// routing (which URL names which type), server-side Table printing (printer columns) and the store's list of
// known types all read it; there is no second list. Adding a kind is one entry in kinds.cc.
//
// Contract:
// - Kinds() is built once, never changes, and its entries live for the process: `&kind.type` pointers are
//   stable, so a `const store::ResourceType&` from an accessor below can be compared by address.
// - Columns are what kubectl shows: KServe's additionalPrinterColumns (exact names, types and JSONPaths of its
//   CRDs, first the implicit Name column, last Age) and, for core kinds, the columns Kubernetes prints for the
//   built-in types (e.g. Secret NAME TYPE DATA AGE). A column is a JSONPath (table.h's subset) or, for the few
//   built-in columns Kubernetes computes in Go, a `compute` function of the object.
// - Verbs are the ones this API serves; status_subresource says whether
//   `<plural>/status` exists.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace inferd::api {

struct PrinterColumn {
  std::string name;       // as in columnDefinitions ("URL"; kubectl upper-cases it)
  std::string type;       // string | integer | number | boolean | date
  std::string json_path;  // ".status.url" (ignored when `compute` is set)
  std::string format;     // "name" for the Name column, else empty
  int priority = 0;       // != 0: shown by kubectl only with -o wide
  std::string description;
  // A cell Kubernetes computes in Go for a built-in type (an Event's OBJECT, a Secret's DATA). `now_unix`
  // is the time the table is printed (seconds since the epoch).
  store::Json (*compute)(const store::Json& obj, long long now_unix) = nullptr;
};

struct Kind {
  store::ResourceType type;  // apiVersion, kind, plural, namespaced
  std::string singular;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> verbs;
  bool status_subresource = false;
  std::vector<PrinterColumn> columns;  // in Table order

  std::string group() const;    // "serving.kserve.io"; "" for the core group
  std::string version() const;  // "v1beta1"
  bool read_only() const;       // no create/update/delete verbs (Events here: written by the control plane)
};

// Every kind, in discovery order (the core group's first, then serving.kserve.io's).
const std::vector<Kind>& Kinds();
// The entry for a type (by apiVersion and plural), or null.
const Kind* FindKind(const store::ResourceType& type);
const Kind* FindKind(std::string_view api_version, std::string_view plural);
// Field selectors (`?fieldSelector=`): every kind takes metadata.name and metadata.namespace; Events also take
// what Kubernetes indexes for them (involvedObject.{kind,namespace,name,uid,apiVersion,resourceVersion,
// fieldPath}, reason, reportingComponent, source, type: `kubectl describe` lists an object's events with
// them), Secrets `type`. SelectableFieldValue is the field's text in `obj` ("" when absent or not a string).
bool SelectableField(const Kind& kind, std::string_view field);
std::string SelectableFieldValue(const store::Json& obj, std::string_view field);
// Every served type (for store::Store::QuarantineUnusable and the like).
std::vector<store::ResourceType> AllResourceTypes();

// The resource types the API serves (shared with control/ and the CLI): references into Kinds().
const store::ResourceType& InferenceServiceType();
const store::ResourceType& ServingRuntimeType();
const store::ResourceType& ClusterServingRuntimeType();
const store::ResourceType& InferenceGraphType();  // serving.kserve.io/v1alpha1, namespaced, `ig`
const store::ResourceType& TrainedModelType();    // serving.kserve.io/v1alpha1, namespaced, `tm`
const store::ResourceType& EventType();           // core/v1 Event, namespaced
const store::ResourceType& SecretType();          // core/v1 Secret, namespaced
const store::ResourceType& ServiceAccountType();  // core/v1 ServiceAccount, namespaced
const store::ResourceType& NamespaceType();       // core/v1 Namespace, cluster-scoped, `ns` (api/namespaces.h)

}  // namespace inferd::api
