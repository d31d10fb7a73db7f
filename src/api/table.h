// api/table.h: server-side printing (meta.k8s.io/v1 Table) and the pieces it needs, as pure functions:
// content negotiation from an Accept header, the JSONPath subset of CRD printer columns, RFC 3339 parsing and
// Kubernetes' HumanDuration. The time is always passed in (seconds since the epoch); no I/O.
//
// Contract (Kubernetes' behaviour, /work/shared/reference/kubernetes.md section 2):
// - A Table's first columns come from the kind's columns (api/kinds.h); cells follow the CRD table convertor:
//   a JSONPath's first match only; missing -> null; `string` prints the value (objects/arrays as JSON),
//   `integer` int64 (floats truncated), `number` float64, `boolean` a bool (else null), `date` a
//   HumanDuration since the timestamp ("<invalid>" when unparsable).
// - Rows carry the object as includeObject says: Metadata (default) -> PartialObjectMetadata with the object's
//   metadata, Object -> the object, None -> null.
// - JSONPath subset: optional `{...}` and leading `$`; `.field`, `['field']`, `[N]`, `[*]`, and filters
//   `[?(@.a.b==LIT)]` / `!=` where LIT is 'text', "text", true, false or a number. Anything else is an error.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/kinds.h"
#include "core/status.h"
#include "store/store.h"

namespace inferd::api {

// ---- content negotiation ----
// One media range of an Accept header: "application/json;as=Table;v=v1;g=meta.k8s.io" -> type
// "application/json", params {as: Table, v: v1, g: meta.k8s.io} (names lower-cased, values as sent).
struct MediaRange {
  std::string type;
  std::vector<std::pair<std::string, std::string>> params;
  std::string Param(std::string_view name) const;  // "" when absent
};
std::vector<MediaRange> ParseAccept(std::string_view accept);

// The Table version an Accept header asks for, the first acceptable in order: "v1" or "v1beta1" (both are
// answered with the same shape under that apiVersion); nullopt when it asks for none.
std::optional<std::string> WantedTableVersion(std::string_view accept);

// ---- time ----
// "2026-12-07T01:02:03Z" (fraction and numeric offsets allowed) -> seconds since the epoch; nullopt otherwise.
std::optional<long long> ParseRfc3339(std::string_view s);
// Kubernetes' duration.HumanDuration of `seconds` ("<invalid>" below -1 s).
std::string HumanDuration(long long seconds);

// ---- JSONPath ----
// The first value `path` selects in `root`: null pointer when nothing matches; an error when `path` is
// outside the subset above.
StatusOr<const store::Json*> JsonPathFirst(const store::Json& root, std::string_view path);

// ---- Table ----
enum class IncludeObject { kNone, kMetadata, kObject };
// From the `includeObject` query parameter ("" = Metadata); other values are InvalidArgument.
StatusOr<IncludeObject> ParseIncludeObject(std::string_view value);

struct TableOptions {
  std::string api_version = "meta.k8s.io/v1";  // or meta.k8s.io/v1beta1 (WantedTableVersion)
  IncludeObject include = IncludeObject::kMetadata;
  bool headers = true;  // false: no columnDefinitions (watch events after the first)
  long long now_unix = 0;
};
store::Json ColumnDefinitions(const Kind& kind);
store::Json TableRow(const Kind& kind, const store::Json& obj, const TableOptions& opt);
// A Table of `objects`; `resource_version` (a list's) goes to metadata.resourceVersion when not empty.
store::Json MakeTable(const Kind& kind, const std::vector<store::Json>& objects, const std::string& resource_version,
                      const TableOptions& opt);

}  // namespace inferd::api
