// control/model_storage.cc: credentials, downloads, their status and the cache's collection for the
// reconciler (see model_storage.h).
#include "control/model_storage.h"

#include <filesystem>
#include <stdexcept>

#include "core/backoff.h"
#include "core/logging.h"
#include "storage/cache_gc.h"

namespace inferd::control {

namespace fs = std::filesystem;
using resources::Json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint64_t kDefaultBudgetCap = 50ull << 30;

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A single file (file:///x/model.joblib): the model directory is the one holding it.
std::string ModelDir(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) ? fs::path(path).parent_path().string() : path;
}

}  // namespace

struct ModelStorage::Download {
  enum State { kRunning, kDone, kFailed } state = kRunning;
  std::string uri, local_path, error, last_error;
  storage::Progress progress;
  int attempts = 0;
  int retry_after_s = 0;
  Clock::time_point retry_at;
};

ModelStorage::ModelStorage(storage::StorageOptions options, StorageServeOptions serve, std::function<void()> wake)
    : cache_dir_(options.cache_dir), storage_(std::move(options)), serve_(serve), wake_(std::move(wake)),
      pool_(std::make_unique<ThreadPool>(2, 1024)) {}

ModelStorage::~ModelStorage() {
  stopping_ = true;  // running downloads end at their next progress report
  pool_.reset();     // runs what is queued (ending at once), then joins: before storage_ goes
}

StatusOr<ModelStorage::Source> ModelStorage::Resolve(const Json& isvc, const std::string& storage_uri,
                                                     const resources::CredentialLookup& lookup) const {
  ASSIGN_OR_RETURN(resources::StorageCredentials c, resources::ResolveStorageCredentials(isvc, storage_uri, lookup));
  Source s;
  s.uri = c.uri;
  s.secrets = c.secrets;
  s.notes = c.notes;
  if (!c.from_serve_env) s.credentials = storage::Credentials{c.env, c.identity};
  if (!s.uri.empty() && storage::IsSupportedUri(s.uri) && !storage::IsLocalUri(s.uri)) {
    s.cache_key = storage::Storage::CacheKey(s.uri, s.credentials ? &*s.credentials : nullptr);
  }
  return s;
}

bool ModelStorage::Present(const std::string& model_path) const {
  std::error_code ec;
  return model_path.empty() || fs::exists(model_path, ec);
}

ModelStorage::Outcome ModelStorage::Ensure(const Source& src) {
  Outcome out;
  if (src.uri.empty()) {
    out.ready = true;
    return out;
  }
  if (!src.cache_key.empty()) return Remote(src);
  // In place (or a URI Fetch refuses at once): quick, on this thread.
  auto r = storage_.Fetch(src.uri);
  out.status = {{"uri", src.uri}};
  if (r.ok()) {
    out.ready = true;
    out.model_path = ModelDir(r->local_path);
    out.status["state"] = "Ready";
  } else {
    out.failed = true;
    out.reason = r.status().code() == StatusCode::kNotFound ? "ModelNotFound" : "StorageFailed";
    out.message = "storage: " + r.status().message();
    out.status["state"] = "Failed";
    out.status["message"] = out.message;
  }
  return out;
}

void ModelStorage::Start(const Source& src) {
  std::shared_ptr<Download> d = downloads_[src.cache_key];
  auto job = [this, src, d] {
    const storage::Credentials* creds = src.credentials ? &*src.credentials : nullptr;
    auto r = storage_.Fetch(
        src.uri,
        [this, d](const storage::Progress& p) {
          if (stopping_) throw std::runtime_error("inferd serve is stopping");  // Fetch fails, cleans up
          MutexLock l(mu_);
          d->progress = p;
        },
        creds);
    {
      MutexLock l(mu_);
      if (r.ok()) {
        d->state = Download::kDone;
        d->local_path = r->local_path;
      } else {
        d->state = Download::kFailed;
        d->error = r.status().message();
        d->last_error = d->error;
        d->retry_after_s = static_cast<int>(
            ExponentialBackoff(d->attempts - 1, std::chrono::seconds(5), std::chrono::seconds(300)).count());
        d->retry_at = Clock::now() + std::chrono::seconds(d->retry_after_s);
      }
    }
    collect_due_ = true;
    wake_();
  };
  if (!pool_->Submit(std::move(job))) {
    d->state = Download::kFailed;
    d->error = "too many downloads queued";
    d->retry_after_s = 5;
    d->retry_at = Clock::now() + std::chrono::seconds(5);
  }
}

ModelStorage::Outcome ModelStorage::Remote(const Source& src) {
  Outcome out;
  MutexLock lock(mu_);
  std::shared_ptr<Download>& d = downloads_[src.cache_key];
  if (!d || (d->state == Download::kFailed && Clock::now() >= d->retry_at)) {
    if (!d) d = std::make_shared<Download>();
    d->state = Download::kRunning;
    d->uri = src.uri;
    d->attempts++;
    d->progress = {};
    out.started = true;
    Start(src);
  }
  out.status = {{"uri", src.uri}, {"bytesDone", d->progress.bytes_done}};
  if (d->progress.bytes_total) out.status["bytesTotal"] = d->progress.bytes_total;
  if (d->attempts > 1) out.status["attempts"] = d->attempts;
  switch (d->state) {
    case Download::kDone:
      out.ready = true;
      out.model_path = ModelDir(d->local_path);
      out.status["state"] = "Ready";
      break;
    case Download::kFailed:
      out.failed = true;
      out.reason = "DownloadFailed";
      out.message = "storage: " + d->error + " (attempt " + std::to_string(d->attempts) + " failed; the next one in " +
                    std::to_string(d->retry_after_s) + " s)";
      out.status["state"] = "Failed";
      out.status["message"] = out.message;
      break;
    case Download::kRunning:
      out.reason = "Downloading";
      out.message = "downloading the model";
      if (d->attempts > 1 && !d->last_error.empty()) {
        out.message += " (attempt " + std::to_string(d->attempts) + "; the last one failed: " + d->last_error + ")";
        out.status["lastError"] = d->last_error;
      }
      out.status["state"] = "Downloading";
      break;
  }
  return out;
}

void ModelStorage::CollectIfDue(const std::set<std::string>& referenced, const std::set<std::string>& in_use,
                                Clock::time_point now) {
  const bool tick = now - last_collection_ >= std::chrono::seconds(std::max(1, serve_.gc_interval_s));
  if (!collect_due_.exchange(false) && !tick) return;
  last_collection_ = now;
  storage::CollectInputs in;
  in.referenced = referenced;
  in.in_use = in_use;
  in.now_s = UnixNow();
  {
    MutexLock lock(mu_);
    for (const auto& [key, d] : downloads_) {
      if (d->state == Download::kRunning) in.in_use.insert(key);
    }
  }
  in.budget_bytes = serve_.cache_budget_bytes;
  if (in.budget_bytes == 0) {
    in.budget_bytes = kDefaultBudgetCap;
    auto space = storage::DiskSpaceAt(cache_dir_);
    if (space.ok()) in.budget_bytes = std::min(kDefaultBudgetCap, space->total_bytes / 2);
  }
  storage::CollectResult r = storage::CollectCache(storage_.cache(), in);
  std::map<std::string, std::string> uris;
  {
    MutexLock lock(mu_);
    for (const auto& [key, d] : downloads_) uris[key] = d->uri;
    for (const auto& removed : r.removed) downloads_.erase(removed.name);
    // Records of entries nothing references any more (and not downloading) go too: the map stays bounded.
    for (auto it = downloads_.begin(); it != downloads_.end();) {
      bool keep = referenced.count(it->first) || it->second->state == Download::kRunning;
      it = keep ? std::next(it) : downloads_.erase(it);
    }
  }
  for (const auto& removed : r.removed) {
    auto u = uris.find(removed.name);
    LOG_INFO("storage: cache: removed {} ({}, {:.1f} MiB){}", removed.name, removed.reason,
             static_cast<double>(removed.bytes) / (1 << 20), u == uris.end() ? "" : " of " + u->second);
  }
  for (const auto& e : r.errors) LOG_WARN("storage: cache: {}", e);
  if (!r.removed.empty()) pool_->Submit([this] { storage_.EmptyTrash(); });
  if (r.plan.over_budget != over_budget_logged_) {
    over_budget_logged_ = r.plan.over_budget;
    if (r.plan.over_budget) {
      LOG_WARN("storage: the model cache holds {} bytes in use, over its budget of {} bytes (--storage_cache_budget)",
               r.plan.bytes_after, in.budget_bytes);
    }
  }
}

}  // namespace inferd::control
