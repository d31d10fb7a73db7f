// control/model_storage.h: the control plane's side of model storage: the credentials a service's model is
// fetched with (resolved from its namespace's Secrets and ServiceAccounts at every pass), the downloads
// (two workers, retried with backoff), what status and conditions say about them, and when the cache is
// collected (storage/cache_gc.h).
//
// Contract:
// - Reconciler thread only, except that downloads run on the pool's threads, which call `wake` when one
//   ends. The destructor stops running downloads (at their next progress report) and waits for them.
// - Resolve: ResolveStorageCredentials (resources/secrets.h) and the cache entry the result maps to. A
//   source without credentials uses inferd serve's environment.
// - Ensure: a local URI (local path, file://, pvc://) is checked in place; a remote one is downloaded
//   once per cache entry (services sharing URI and credentials share the download) and retried after a
//   failure with backoff (5 s doubling to 5 min). The outcome says ready (with the model directory), or
//   downloading (progress, and the last failure when this is a retry), or failed (reason DownloadFailed
//   and a message with the error, the attempt and the retry delay): a failure is never reported as
//   "Downloading".
// - Collection (CollectIfDue): when due (MarkCollectionDue: a service was deleted, or a download ended; or
//   gc_interval_s since the last one), removes the entries PlanCollection picks (referenced = entries of
//   live revisions, in use = entries of running or starting revisions and of running downloads), forgets
//   their download records, and deletes the files on the pool. Budget: cache_budget_bytes, else the lesser
//   of 50 GiB and half the cache filesystem's size.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "control/control_plane.h"
#include "core/mutex.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "resources/secrets.h"
#include "storage/storage.h"

namespace inferd::control {

// What the reconciler needs of model storage (ModelStorage below, or a test fake).
class ModelFetcher {
 public:
  virtual ~ModelFetcher() = default;

  struct Source {
    std::string uri;                                  // "" = no model to fetch
    std::optional<storage::Credentials> credentials;  // nullopt: inferd serve's environment
    std::string cache_key;                            // "" for local URIs (used in place)
    std::vector<std::string> secrets;                 // the Secrets used, for messages
    std::vector<std::string> notes;                   // what the Secrets ask for that inferd does not do
  };
  virtual StatusOr<Source> Resolve(const resources::Json& isvc, const std::string& storage_uri,
                                   const resources::CredentialLookup& lookup) const = 0;

  struct Outcome {
    bool ready = false;
    std::string model_path;       // when ready: the directory replicas load from
    resources::Json status;       // for status.inferd.storage
    std::string reason, message;  // not ready: the condition's reason and message
    bool failed = false;          // reason is a failure (not progress)
    bool started = false;         // this call started a download
  };
  // Never blocks on a download: it starts one (or reports the one running, or its last failure).
  virtual Outcome Ensure(const Source& src) = 0;

  // Whether a ready model directory is still there (an idle entry may have been collected).
  virtual bool Present(const std::string& model_path) const = 0;

  virtual void MarkCollectionDue() = 0;
  virtual void CollectIfDue(const std::set<std::string>& referenced, const std::set<std::string>& in_use,
                            std::chrono::steady_clock::time_point now) = 0;
};

class ModelStorage : public ModelFetcher {
 public:
  ModelStorage(storage::StorageOptions options, StorageServeOptions serve, std::function<void()> wake);
  ~ModelStorage() override;

  StatusOr<Source> Resolve(const resources::Json& isvc, const std::string& storage_uri,
                           const resources::CredentialLookup& lookup) const override;
  Outcome Ensure(const Source& src) override;
  bool Present(const std::string& model_path) const override;
  void MarkCollectionDue() override { collect_due_ = true; }
  void CollectIfDue(const std::set<std::string>& referenced, const std::set<std::string>& in_use,
                    std::chrono::steady_clock::time_point now) override;

 private:
  struct Download;
  Outcome Remote(const Source& src);
  void Start(const Source& src) REQUIRES(mu_);

  std::string cache_dir_;
  storage::Storage storage_;
  StorageServeOptions serve_;
  std::function<void()> wake_;
  std::unique_ptr<ThreadPool> pool_;
  mutable Mutex mu_;
  // By cache key. mu_ also guards each Download's fields (the download threads write them).
  std::map<std::string, std::shared_ptr<Download>> downloads_ GUARDED_BY(mu_);
  std::atomic<bool> collect_due_{true};
  std::atomic<bool> stopping_{false};
  std::chrono::steady_clock::time_point last_collection_{};
  bool over_budget_logged_ = false;
};

}  // namespace inferd::control
