// tests/kube/fake_api_server.h: a TEST DOUBLE of the Kubernetes API server. No real API server can run on
// the machines these tests run on, so the operator and src/kube/ are tested against this in-process fake.
// It reproduces the parts of the API's behaviour a controller depends on (sourced in
// /work/shared/reference/kubernetes.md sections 4, 5 and 8), not the real apiserver: no admission, no
// schema validation, no authentication (a bearer token, when set, is only checked for presence/equality),
// no field selectors other than metadata.name / metadata.namespace, no strategic merge.
//
// What it does:
// - Plain HTTP/1.1 (Boost.Beast) on 127.0.0.1:<ephemeral>, one thread per connection, keep-alive.
// - Generic over any GVR: /api/v1/... and /apis/<group>/<version>/..., namespaced
//   (/namespaces/<ns>/<plural>[/<name>[/status]]) or cluster-scoped (RegisterKind says which, and the Kind;
//   an unregistered plural is namespaced, its kind taken from the created object).
// - Verbs: POST (create; 409 AlreadyExists; generateName), GET (object or list with labelSelector
//   equality/existence terms, limit + continue, resourceVersion in metadata), PUT (update; needs
//   metadata.resourceVersion: missing -> 422, stale -> 409 Conflict; keeps .status), PUT .../status
//   (only .status changes), PATCH (application/merge-patch+json, also on /status; apply-patch+yaml is
//   treated as a merge that creates when missing), DELETE (DeleteOptions propagationPolicy; answers a
//   Status "Success", or the object with deletionTimestamp while metadata.finalizers is non-empty; the
//   object goes when an update empties its finalizers).
// - Each write bumps one global resourceVersion counter; objects get uid, creationTimestamp, generation
//   (1, +1 on a change outside metadata and status).
// - Watch (?watch=true|1): resourceVersion "" or "0" -> synthetic ADDED for the current objects, then
//   changes; a specific value -> every change after it from the history. The history keeps the last
//   `history_window` events; an older resourceVersion gets an ERROR event (code 410, reason Expired) in a
//   200 stream; a list continue token from before the window gets HTTP 410. allowWatchBookmarks gets a
//   BOOKMARK when the watch is closed by CloseWatches or timeoutSeconds. Events are newline-terminated
//   JSON lines in a chunked 200 response.
// - Garbage collection (Options::garbage_collect): deleting an object deletes, in the background, every
//   object whose metadata.ownerReferences names its uid (Orphan policy: removes the references instead).
// - Fault injection: FailNext (the next N matching requests get an error Status with that code),
//   CloseWatches (ends every open watch stream), SendRawToWatches (bytes as they are into every open
//   watch), CompactHistory (forgets the history: older
//   resourceVersions get 410), Drop (removes an object as if a user deleted it, with a DELETED event).
// - Direct access for assertions: Object, Objects, Put, resource_version, requests.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kube/client.h"

namespace inferd::kube::testing {

class FakeApiServer {
 public:
  struct Options {
    size_t history_window = 1000;
    bool garbage_collect = true;
    std::string token;  // when set, requests must carry "Authorization: Bearer <token>" (else 401)
    size_t max_body_bytes = 8u << 20;
  };

  FakeApiServer();
  explicit FakeApiServer(Options options);
  ~FakeApiServer();
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  int port() const;
  std::string url() const;  // "http://127.0.0.1:<port>"
  // A KubeConfig for KubeClient pointing here (namespace "default", short timeouts).
  KubeConfig Config() const;

  // Declares a resource's kind and scope (optional for namespaced ones: the kind then comes from the
  // object). Lists answer "<Kind>List".
  void RegisterKind(const Gvr& gvr, std::string kind);

  // ---- faults ----
  // The next `count` requests whose "METHOD path" contains `match` ("" = any) get `code` with `reason`.
  void FailNext(int count, int code, std::string reason = "InternalError", std::string match = "");
  // Ends every open watch (normally: the stream closes; with bookmarks a BOOKMARK is sent first).
  void CloseWatches();
  // Writes `bytes` as they are into every open watch stream (hostile or malformed events).
  void SendRawToWatches(std::string bytes);
  // Forgets every event so far: a watch or continue token from before now gets 410.
  void CompactHistory();
  // Deletes an object at once (finalizers ignored), as if someone else had; true when it existed.
  bool Drop(const Gvr& gvr, std::string_view ns, std::string_view name);

  // ---- direct state access ----
  std::optional<Json> Object(const Gvr& gvr, std::string_view ns, std::string_view name) const;
  std::vector<Json> Objects(const Gvr& gvr, std::string_view ns = "") const;  // "" = all namespaces
  // Creates or replaces an object directly (bumps resourceVersion, emits ADDED/MODIFIED); returns it.
  Json Put(const Gvr& gvr, Json object);
  uint64_t resource_version() const;
  int open_watches() const;
  // "METHOD target" of every request so far.
  std::vector<std::string> requests() const;
  size_t CountRequests(std::string_view method, std::string_view target_substring) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::kube::testing
