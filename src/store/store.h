// store/store.h: the control plane's source of truth: Kubernetes-shaped objects in SQLite, with
// Kubernetes' object-metadata semantics and a watch stream.
//
// Contract:
// - Objects are JSON ({apiVersion, kind, metadata, spec, status}). The store owns metadata.uid,
//   resourceVersion, generation and creationTimestamp: on Create it sets them (uid a random UUID,
//   generation 1, creationTimestamp RFC 3339 UTC, resourceVersion a decimal string of a store-wide counter
//   that grows with every write); on Update it bumps resourceVersion, and generation only when `spec`
//   changed (labels, annotations or status do not bump it); deletionTimestamp is not used (deletes are
//   immediate).
// - Optimistic concurrency: an Update or Delete whose metadata.resourceVersion (or `precondition_rv`) is
//   set and differs from the stored one fails with Conflict ("the object has been modified; please apply
//   your changes to the latest version and try again"); empty means unconditional.
// - Update replaces metadata.labels/annotations and spec, keeping status; UpdateStatus replaces only
//   status (the status subresource). Both keep uid/creationTimestamp/generation as stored.
// - Writes are one SQLite transaction each (WAL, synchronous=NORMAL): a crash never leaves a half-written
//   object, and everything committed is there after a restart (the counter continues).
// - Threads: every method may be called from any thread (one internal mutex serializes SQLite access).
//   Watches are fed under that mutex after commit; each watch has a bounded queue (`kWatchQueueLimit`
//   events) and is closed (Next returns nullopt, `expired()` true) when a slow consumer overflows it,
//   as Kubernetes closes slow watches; the consumer re-lists.
// - Depth: a write whose object nests deeper than kMaxJsonDepth (core/json_depth.h) is InvalidArgument, so
//   every stored row can be read back and serialized without deep recursion.
// - Unusable rows: a row the store cannot hand out as an object of its type (text that is not JSON or is nested
//   too deep, not an object, apiVersion/kind not those of the type it is stored under, metadata.name or
//   namespace missing or not the row's key, store-owned metadata of the wrong type, or a resource type
//   nobody registered) is never returned and never aborts a read: it is moved, with the reason, to the table
//   `quarantine` (its text kept for a person to inspect or restore) and logged. QuarantineUnusable checks
//   every row at start; Get/List/Update/Delete quarantine a bad row they meet later. Get of a quarantined
//   name is NotFound with the reason. Quarantining does not bump resourceVersion and sends no watch event.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace inferd::store {

using Json = nlohmann::ordered_json;

// A resource type: e.g. {"serving.kserve.io/v1beta1", "InferenceService", "inferenceservices", true}.
struct ResourceType {
  std::string api_version;
  std::string kind;
  std::string plural;
  bool namespaced = true;
};

struct ObjectList {
  std::vector<Json> items;       // sorted by namespace, then name
  std::string resource_version;  // the store's counter when listed (a watch from here misses nothing)
};

struct WatchEvent {
  std::string type;  // "ADDED" | "MODIFIED" | "DELETED"
  Json object;       // the object after the write (for DELETED: as it was, with a new resourceVersion)
};

class Watch {
 public:
  virtual ~Watch() = default;
  // The next event, waiting up to `timeout`; nullopt on timeout or when the watch is closed/expired.
  virtual std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) = 0;
  virtual bool expired() const = 0;  // closed because the consumer fell behind, or the store closed
  virtual void Close() = 0;          // wakes a blocked Next; idempotent
};

inline constexpr size_t kWatchQueueLimit = 10000;

// The key a type's rows are stored under: "<plural>.<group>" ("events" for the core group).
std::string ResourceKey(const ResourceType& type);

// A row moved to the quarantine table (see "Unusable rows" above).
struct QuarantinedRow {
  std::string resource;  // as stored: "<plural>.<group>" ("events" for the core group)
  std::string ns, name;  // as stored ("" namespace for cluster-scoped types)
  std::string reason;
  std::string quarantined_at;  // RFC 3339 UTC
  size_t bytes = 0;            // size of the stored text (kept in the table, not returned here)
};

class Store {
 public:
  // Opens (creating if needed) the database at `path` (":memory:" for tests).
  static StatusOr<std::unique_ptr<Store>> Open(const std::string& path);
  virtual ~Store() = default;

  // AlreadyExists when (type, namespace, name) exists. `obj.metadata.name` required (InvalidArgument);
  // namespaced types default metadata.namespace to "default"; cluster types drop it.
  virtual StatusOr<Json> Create(const ResourceType& type, Json obj) = 0;
  virtual StatusOr<Json> Get(const ResourceType& type, const std::string& ns, const std::string& name) = 0;
  // ns empty = all namespaces (or a cluster-scoped type).
  virtual StatusOr<ObjectList> List(const ResourceType& type, const std::string& ns) = 0;
  virtual StatusOr<Json> Update(const ResourceType& type, Json obj) = 0;
  virtual StatusOr<Json> UpdateStatus(const ResourceType& type, Json obj) = 0;
  virtual StatusOr<Json> Delete(const ResourceType& type, const std::string& ns, const std::string& name,
                                const std::string& precondition_rv = "") = 0;

  // Events for `type` in `ns` (empty = all) with resourceVersion > `since_rv` (empty or "0": only new
  // events; Kubernetes' "send initial ADDED events" is the caller's job: List, then watch from the list's
  // resourceVersion). Events older than the store's in-memory history (the last kWatchQueueLimit
  // writes) are not replayed: Watch returns a Status whose message says "too old resource version".
  virtual StatusOr<std::unique_ptr<Watch>> WatchFrom(const ResourceType& type, const std::string& ns,
                                                     const std::string& since_rv) = 0;

  // Checks every stored row against `types` (the types its users serve) and quarantines the unusable ones,
  // including rows of a resource not among `types`. Returns the rows it moved now. Called once at start,
  // before anything reads the store.
  virtual StatusOr<std::vector<QuarantinedRow>> QuarantineUnusable(const std::vector<ResourceType>& types) = 0;
  // Every row in quarantine, oldest first.
  virtual StatusOr<std::vector<QuarantinedRow>> Quarantined() = 0;
};

}  // namespace inferd::store
