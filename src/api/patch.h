// api/patch.h: the write semantics of Kubernetes' PATCH types and of field ownership, as pure functions over
// JSON objects (no I/O, time passed in). api_server.cc picks the one the request's Content-Type names.
//
// Contract:
// - JSON merge patch (application/merge-patch+json, RFC 7386) is resources::MergePatch: one implementation.
// - JSON patch (application/json-patch+json, RFC 6902): ApplyJsonPatch applies add/remove/replace/move/copy/
//   test in order, JSON Pointers per RFC 6901 ("~1" is '/', "~0" is '~', "-" appends to an array). A body that
//   is not an array of well-formed operations is InvalidArgument (the apiserver's 400 BadRequest); an
//   operation that cannot apply (a missing path, a failed `test`, an index out of range) is InvalidArgument
//   with *not_applicable set (the apiserver's 422 "the server rejected our request due to an error in our
//   request", the cause carrying this message). At most kMaxJsonPatchOps operations (the apiserver's limit;
//   PayloadTooLarge beyond).
// - Field ownership (server-side apply, https://kubernetes.io/docs/reference/using-api/server-side-apply/):
//   metadata.managedFields holds one entry per (manager, operation) with the set of fields the manager owns,
//   in Kubernetes' FieldsV1 form ({"f:spec":{"f:predictor":{"f:minReplicas":{}}}}).
//   * ServerSideApply(live, applied, manager, force, now): the object a manager's apply produces. Fields the
//     manager applied before and no longer sends are removed unless another manager owns them; the applied
//     values are merged over the live object; a field another manager owns with a different live value is a
//     conflict (nothing written) unless `force`, which takes the field from that manager. The manager's Apply
//     entry becomes exactly the set it sent. `live` null = the object does not exist yet (created).
//   * RecordUpdate(old, next, manager, now): after a non-apply write (create, replace, merge/JSON patch), the
//     fields whose values the write changed become `manager`'s (operation Update) and leave every other
//     manager; removed fields leave every manager. A write that changes no field leaves managedFields as they
//     were. A write that itself changes metadata.managedFields (kubectl's client-side -> server-side apply
//     migration does) keeps what the client wrote (checked against the bounds below).
//   Membership tests are ordered-set lookups per path prefix: O(fields * depth * log fields), never fields^2.
//   What differs from Kubernetes (documented in docs/kubernetes.md, "Writes"): every list is atomic (owned and
//   replaced whole; Kubernetes merges lists marked x-kubernetes-list-type map/set per element), maps have no
//   "." entries, status is not tracked (the status subresource has no managedFields entries here), and
//   applied nulls are ignored.
// Pure functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace inferd::api {

using store::Json;

inline constexpr size_t kMaxJsonPatchOps = 10000;
// Field tracking's bounds (hostile bodies): the path elements of every tracked field together, and the
// managedFields entries of one object. Beyond them a write is InvalidArgument (the API's 422).
inline constexpr size_t kMaxFieldPathElements = 1 << 20;
inline constexpr size_t kMaxManagedFieldsEntries = 64;

StatusOr<Json> ApplyJsonPatch(Json doc, const Json& ops, bool* not_applicable = nullptr);

// A field path: the keys from the object's root ("spec", "predictor", "minReplicas").
using FieldPath = std::vector<std::string>;

// The leaf fields of an applied configuration (objects recursed into; scalars, lists and empty objects are
// leaves), minus what the server owns (apiVersion, kind, status, metadata name/namespace/uid/resourceVersion/
// generation/creationTimestamp/deletionTimestamp/managedFields). Sorted, unique.
std::vector<FieldPath> OwnedLeaves(const Json& obj);
// FieldsV1 <-> paths. FromFieldsV1 reads what Kubernetes writes: "f:" keys are descended, an entry with "k:",
// "v:" or "i:" children (a list element) makes its list a leaf, "." is skipped. Anything else is ignored.
Json ToFieldsV1(const std::vector<FieldPath>& paths);
std::vector<FieldPath> FromFieldsV1(const Json& fields);
// ".spec.predictor.minReplicas", as Kubernetes names a field in conflicts.
std::string FieldPathString(const FieldPath& p);

struct ApplyConflict {
  std::string manager;      // who owns the field
  std::string api_version;  // the version the owner wrote it in
  FieldPath field;
};

struct ApplyResult {
  Json object;                           // the object to store (with its new metadata.managedFields)
  std::vector<ApplyConflict> conflicts;  // non-empty: nothing may be written
  Status error;                          // not ok: the object or its managedFields exceed the bounds above
};

// `api_version` names the version the entry was written in; `now` is RFC 3339 UTC.
ApplyResult ServerSideApply(const Json& live, const Json& applied, const std::string& manager, bool force,
                            const std::string& api_version, const std::string& now);
// Errors: InvalidArgument when the object or client-written managedFields exceed the bounds above or are not
// a list of objects.
StatusOr<Json> RecordUpdate(const Json& old_obj, Json next, const std::string& manager,
                            const std::string& api_version, const std::string& now);

// kubectl's client-side apply patch (jsonmergepatch.CreateThreeWayJSONMergePatch): a JSON merge patch that
// deletes (null) what `original` (the last-applied configuration) had and `modified` (the file) no longer has,
// and sets every value of `modified` that `current` (the live object) lacks or holds differently. Objects are
// recursed into, lists and scalars replaced whole. {} = nothing to change. `original` null: no deletions.
Json ThreeWayMergePatch(const Json& original, const Json& modified, const Json& current);

// Kubernetes' 409 text for apply conflicts: `Apply failed with 1 conflict: conflict with "m" using v: .f`.
std::string ConflictMessage(const std::vector<ApplyConflict>& conflicts);

}  // namespace inferd::api
