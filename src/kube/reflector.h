// kube/reflector.h: list + watch of one resource into a local cache, with event handlers (client-go's
// Reflector + Informer, reduced to what a controller needs).
//
// Contract:
// - Run(stop) loops until `stop` is set: List (paged, limit page_size) -> replace the Store (handlers see
//   OnAdd for new keys, OnUpdate for changed or resynced ones, OnDelete for keys gone) -> Watch from the
//   list's metadata.resourceVersion with allowWatchBookmarks and timeoutSeconds. A normal close of the
//   watch re-watches from the last resourceVersion seen (an event's or a BOOKMARK's). A 410 (HTTP, or an
//   ERROR event with code 410 / reason Expired or Gone) relists. Any other error (a failed list, a 500,
//   a transport failure, a malformed line, an ERROR event) waits a backoff (core/backoff.h: initial *
//   2^failures, capped at max_backoff; reset by a watch that delivered an event) and relists. A watch that
//   ends in under a second without any event counts as an error (as client-go does), so a server that
//   closes every watch at once cannot make it spin.
// - resourceVersions are compared for equality only. BOOKMARK events move the resourceVersion and do not
//   reach the handlers. DELETED removes the key; ADDED/MODIFIED insert or replace it.
// - The Store is thread-safe; handlers are called on the reflector's thread, after the Store changed,
//   and must not block for long (they normally enqueue a key in a WorkQueue: EnqueueHandlers).
// - HasSynced() is true once the first list was stored. Counters (lists, watches, relists_on_expired,
//   errors) are for tests and metrics.
// - Every wait is bounded: the client's timeouts per request, the backoff (sleeps on a condition variable
//   that `Stop` wakes), the watch's timeoutSeconds.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/mutex.h"
#include "kube/client.h"
#include "kube/workqueue.h"

namespace inferd::kube {

// The local cache: objects by ObjectKey ("namespace/name"). Thread-safe; values are copies.
class Store {
 public:
  std::optional<Json> Get(const std::string& key) const;
  std::vector<Json> List() const;
  std::vector<std::string> Keys() const;
  size_t Size() const;
  // For the reflector: set one object (returns the previous one), erase one (returns it).
  std::optional<Json> Upsert(const std::string& key, Json object);
  std::optional<Json> Erase(const std::string& key);

 private:
  mutable Mutex mu_;
  std::map<std::string, Json> objects_ GUARDED_BY(mu_);
};

struct EventHandlers {
  std::function<void(const Json& obj)> on_add;
  std::function<void(const Json& old_obj, const Json& new_obj)> on_update;
  std::function<void(const Json& obj)> on_delete;
};

// Handlers that Add the object's key to `queue` for each event.
EventHandlers EnqueueHandlers(WorkQueue& queue);
// Handlers that Add the key of the object's controller owner (an ownerReference with controller: true
// whose apiVersion and kind match) to `queue`: how a controller hears about the children it owns.
EventHandlers EnqueueOwnerHandlers(WorkQueue& queue, std::string owner_api_version, std::string owner_kind);
// The "namespace/name" of the controller owner of `obj` with that apiVersion/kind, or nullopt.
std::optional<std::string> ControllerOwnerKey(const Json& obj, std::string_view api_version, std::string_view kind);

struct ReflectorOptions {
  Gvr gvr;
  std::string ns;  // "" = all namespaces (namespaced Gvr)
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  int watch_timeout_s = 300;  // client-go picks [300, 600); one value keeps tests deterministic
  std::chrono::milliseconds initial_backoff{800};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds min_watch_duration{1000};  // a shorter watch without events is an error
};

class Reflector {
 public:
  Reflector(KubeClient& client, ReflectorOptions options, Store& store, EventHandlers handlers = {});
  ~Reflector();  // Stop()s

  // Runs on the calling thread until Stop().
  void Run();
  // Run() on an own thread; Stop() ends and joins it (within the client's watch cancel latency, ~1 s).
  void Start();
  void Stop();

  bool HasSynced() const { return synced_.load(); }
  std::string LastResourceVersion() const;

  struct Counters {
    uint64_t lists = 0, watches = 0, relists_on_expired = 0, errors = 0, events = 0;
  };
  Counters counters() const;

 private:
  enum class WatchEnd { kClosed, kExpired, kError, kStopped };
  ApiStatus ListAndReplace();
  WatchEnd WatchOnce();
  bool Apply(WatchEvent& event);  // false on an ERROR event (sets last_error_)
  void Backoff(int failures);

  KubeClient& client_;
  ReflectorOptions options_;
  Store& store_;
  EventHandlers handlers_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> synced_{false};
  mutable Mutex mu_;
  CondVar cv_;
  std::string last_rv_ GUARDED_BY(mu_);
  ApiStatus last_error_ GUARDED_BY(mu_);
  Counters counters_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace inferd::kube
