// storage/storage.cc: Storage::Fetch, the content-addressed cache, its per-entry locks and its listing and
// removal for the collector.
//
// A remote fetch takes the entry's in-process lock, reuses <cache_dir>/<key> when it exists, and
// otherwise downloads into a fresh <cache_dir>/.tmp-XXXXXX that is renamed into place only after the
// fetcher succeeded (and removed on any failure). Two processes sharing a cache directory may both
// download; the second rename finds the entry there and that process uses it (never a partial one).
// Removal (the collector) takes the same lock without waiting, so it never takes an entry a Fetch is
// checking or creating, and renames the entry away at once (.trash-*); EmptyTrash deletes the files later.
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>

#include "core/logging.h"
#include "core/mutex.h"
#include "storage/internal.h"
#include "storage/storage.h"

namespace inferd::storage {
namespace internal {

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) return "";
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string Env::Get(const std::string& name, const std::string& fallback) const {
  if (credentials_ && name != "GCS_ENDPOINT") {
    auto it = credentials_->env.find(name);
    return it == credentials_->env.end() || it->second.empty() ? fallback : it->second;
  }
  return Base(name, fallback);
}

std::string Env::Base(const std::string& name, const std::string& fallback) const {
  if (injected_ && !injected_->empty()) {
    auto it = injected_->find(name);
    return it == injected_->end() || it->second.empty() ? fallback : it->second;
  }
  const char* v = std::getenv(name.c_str());
  return v && *v ? v : fallback;
}

}  // namespace internal

namespace {

namespace fs = std::filesystem;
using internal::ParsedUri;
using internal::Scheme;

constexpr char kTempPrefix[] = ".tmp-";
constexpr char kTrashPrefix[] = ".trash-";

// Removes a temporary directory unless released.
struct TempDir {
  std::string path;
  ~TempDir() {
    if (path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Disk space of a tree, from lstat's allocated blocks (what the budget is about); links are not followed.
uint64_t TreeBytes(const fs::path& root) {
  struct stat st;
  if (lstat(root.c_str(), &st) != 0) return 0;
  uint64_t total = static_cast<uint64_t>(st.st_blocks) * 512;
  if (!S_ISDIR(st.st_mode)) return total;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (lstat(it->path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

int64_t MtimeSeconds(const fs::path& p) {
  struct stat st;
  return lstat(p.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtim.tv_sec) : 0;
}

void SetMtime(const std::string& path, int64_t now_s) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(now_s);
  times[0].tv_nsec = times[1].tv_nsec = 0;
  utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW);
}

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

uint64_t DefaultMaxUnpackedBytes(uint64_t max_bytes, uint64_t free_bytes) {
  return std::min(max_bytes, free_bytes / 2);
}

StatusOr<DiskSpace> DiskSpaceAt(const std::string& path) {
  struct statvfs vfs;
  if (statvfs(path.c_str(), &vfs) != 0) return Internal("statvfs " + path + ": " + std::strerror(errno));
  DiskSpace d;
  d.free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  d.total_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  return d;
}

struct Storage::Impl : CacheStore {
  StorageOptions options;
  Mutex mu;
  // Per cache entry (held while an entry is fetched or removed: they guard directories, not memory);
  // entries die with their last user.
  std::map<std::string, std::weak_ptr<std::mutex>> locks GUARDED_BY(mu);
  // This process's downloads in progress (names; their scratch files are named after them:
  // "<name>.archive-XXXXXX").
  std::set<std::string> active_temps GUARDED_BY(mu);
  std::map<std::string, uint64_t> sizes GUARDED_BY(mu);  // entry sizes, measured once (entries never change)

  std::shared_ptr<std::mutex> LockFor(const std::string& key) {
    MutexLock g(mu);
    for (auto it = locks.begin(); it != locks.end();) {
      it = it->second.expired() ? locks.erase(it) : std::next(it);
    }
    std::shared_ptr<std::mutex> m = locks[key].lock();
    if (!m) {
      m = std::make_shared<std::mutex>();
      locks[key] = m;
    }
    return m;
  }

  bool IsActiveLocked(const std::string& name) const REQUIRES(mu) {
    for (const std::string& a : active_temps) {
      if (name.starts_with(a)) return true;
    }
    return false;
  }

  std::string Dir() const {
    std::string dir = options.cache_dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return dir;
  }

  StatusOr<FetchResult> FetchLocal(const std::string& path) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) return NotFound("no such file or directory: " + path);
    FetchResult r;
    r.local_path = path;
    return r;
  }

  internal::ArchiveLimits ArchiveLimitsNow() const {
    internal::ArchiveLimits l;
    l.max_entries = options.max_archive_entries;
    l.entries_source = options.max_archive_entries_source;
    l.bytes_source = options.max_unpacked_bytes_source;
    if (options.max_unpacked_bytes > 0) {
      l.max_bytes = options.max_unpacked_bytes;
    } else {
      auto space = DiskSpaceAt(options.cache_dir);
      l.max_bytes = space.ok() ? DefaultMaxUnpackedBytes(options.max_bytes, space->free_bytes) : options.max_bytes;
      l.bytes_source += " (default: the lesser of " + internal::HumanBytes(options.max_bytes) +
                        " and half the space free at " + options.cache_dir + ")";
    }
    return l;
  }

  StatusOr<FetchResult> Fetch(const std::string& uri, const ProgressFn& progress, const Credentials* creds) {
    ASSIGN_OR_RETURN(ParsedUri u, internal::ParseUri(uri));
    switch (u.scheme) {
      case Scheme::kLocal:
      case Scheme::kFile:
        return FetchLocal(u.path);
      case Scheme::kPvc: {
        if (options.pvc_root.empty()) return InvalidArgument("pvc:// needs the storage's pvc_root to be set");
        std::string path = options.pvc_root + "/" + u.bucket;
        if (!u.path.empty()) path += "/" + u.path;
        return FetchLocal(path);
      }
      default:
        break;
    }
    if (options.cache_dir.empty()) return InvalidArgument("remote storage URIs need a cache directory");
    const std::string key = CacheKey(uri, creds);
    const std::string final_path = Dir() + "/" + key;
    std::shared_ptr<std::mutex> lock = LockFor(key);
    std::lock_guard<std::mutex> g(*lock);

    std::error_code ec;
    if (fs::is_directory(final_path, ec)) {
      LOG_INFO("storage: {}: using the cached copy {}", uri, final_path);
      SetMtime(final_path, NowSeconds());
      FetchResult r;
      r.local_path = final_path;
      r.cached = true;
      return r;
    }
    fs::create_directories(options.cache_dir, ec);
    if (ec) return Internal("cannot create the cache directory " + options.cache_dir + ": " + ec.message());
    std::string tmpl = Dir() + "/" + kTempPrefix + "XXXXXX";
    if (!mkdtemp(tmpl.data())) return Internal("cannot create a temporary directory in " + options.cache_dir);
    TempDir tmp{tmpl};
    const std::string tmp_name = fs::path(tmpl).filename().string();
    {
      MutexLock g2(mu);
      active_temps.insert(tmp_name);
    }
    struct Untrack {
      Impl* impl;
      std::string name;
      ~Untrack() {
        MutexLock g3(impl->mu);
        impl->active_temps.erase(name);
      }
    } untrack{this, tmp_name};

    LOG_INFO("storage: {}: downloading into {}{}", uri, final_path,
             creds ? " with the credentials of " + creds->identity : std::string());
    internal::Env env(&options.env, creds);
    internal::Transfer transfer(uri, options.max_bytes, progress);
    internal::FetchContext ctx;
    ctx.uri = uri;
    ctx.model_dir = tmp.path;
    ctx.cache_dir = options.cache_dir;
    ctx.env = &env;
    ctx.transfer = &transfer;
    if (u.scheme == Scheme::kHttp) ctx.archive = ArchiveLimitsNow();
    Status st;
    switch (u.scheme) {
      case Scheme::kHttp:
        st = internal::FetchHttp(u, ctx);
        break;
      case Scheme::kS3:
        st = internal::FetchS3(u, ctx);
        break;
      case Scheme::kGs:
        st = internal::FetchGcs(u, ctx);
        break;
      default:
        st = Internal("unhandled scheme");
    }
    if (!st.ok()) {
      LOG_WARN("storage: {}: fetch failed: {}", uri, st.message());
      return st;
    }
    transfer.Finish();
    fs::permissions(tmp.path, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec, ec);
    FetchResult r;
    r.local_path = final_path;
    r.bytes = transfer.bytes_done();
    fs::rename(tmp.path, final_path, ec);
    if (ec) {
      std::error_code ec2;
      if (fs::is_directory(final_path, ec2)) {  // another process finished first: use its copy
        r.cached = true;
        return r;
      }
      return Internal("cannot move the download into " + final_path + ": " + ec.message());
    }
    tmp.path.clear();
    SetMtime(final_path, NowSeconds());
    return r;
  }

  // ---- CacheStore --------------------------------------------------------------------------------------
  StatusOr<std::vector<CacheEntry>> List() override {
    std::vector<CacheEntry> out;
    if (options.cache_dir.empty()) return out;
    std::error_code ec;
    fs::directory_iterator it(Dir(), ec), end;
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory) return out;
      return Internal("cannot list " + options.cache_dir + ": " + ec.message());
    }
    for (; it != end; it.increment(ec)) {
      if (ec) return Internal("cannot list " + options.cache_dir + ": " + ec.message());
      std::string name = it->path().filename().string();
      if (name.starts_with(kTrashPrefix)) continue;
      {
        MutexLock g(mu);
        if (IsActiveLocked(name)) continue;
      }
      CacheEntry e;
      e.name = name;
      e.temporary = name.starts_with(kTempPrefix);
      e.last_used_s = MtimeSeconds(it->path());
      if (!e.temporary && !it->is_directory(ec)) continue;  // not ours
      std::optional<uint64_t> known;
      if (!e.temporary) {
        MutexLock g(mu);
        if (auto s = sizes.find(name); s != sizes.end()) known = s->second;
      }
      e.bytes = known ? *known : TreeBytes(it->path());
      if (!known && !e.temporary) {
        MutexLock g(mu);
        sizes[name] = e.bytes;
      }
      out.push_back(std::move(e));
    }
    return out;
  }

  void Touch(const std::string& name, int64_t now_s) override {
    if (name.empty() || name.find('/') != std::string::npos) return;
    SetMtime(Dir() + "/" + name, now_s);
  }

  Status Remove(const std::string& name) override {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.starts_with(kTrashPrefix)) {
      return InvalidArgument("not a cache entry: \"" + name + "\"");
    }
    std::shared_ptr<std::mutex> lock = LockFor(name);
    std::unique_lock<std::mutex> g(*lock, std::try_to_lock);
    if (!g.owns_lock()) return Unavailable("busy (being fetched)");
    {
      MutexLock g2(mu);
      if (IsActiveLocked(name)) return Unavailable("busy (a download in progress)");
    }
    std::string trash = Dir() + "/" + kTrashPrefix + name;
    std::error_code ec;
    fs::rename(Dir() + "/" + name, trash, ec);
    if (ec) {
      if (ec == std::errc::no_such_file_or_directory) return Status::Ok();
      if (ec == std::errc::directory_not_empty || ec == std::errc::file_exists) {  // an older trash of it
        fs::remove_all(trash, ec);
        fs::rename(Dir() + "/" + name, trash, ec);
      }
      if (ec) return Internal("cannot remove " + name + ": " + ec.message());
    }
    MutexLock g2(mu);
    sizes.erase(name);
    return Status::Ok();
  }

  void EmptyTrash() {
    if (options.cache_dir.empty()) return;
    std::error_code ec;
    std::vector<fs::path> trash;
    for (fs::directory_iterator it(Dir(), ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().filename().string().starts_with(kTrashPrefix)) trash.push_back(it->path());
    }
    for (const auto& p : trash) {
      std::error_code rec;
      fs::remove_all(p, rec);
      if (rec) LOG_WARN("storage: cannot delete {}: {}", p.string(), rec.message());
    }
  }
};

Storage::Storage(StorageOptions options) : impl_(std::make_unique<Impl>()) { impl_->options = std::move(options); }

Storage::~Storage() = default;

StatusOr<FetchResult> Storage::Fetch(const std::string& uri, const ProgressFn& progress,
                                     const Credentials* credentials) {
  try {
    StatusOr<FetchResult> r = impl_->Fetch(uri, progress, credentials);
    if (!r.ok()) return r.status().WithPrefix(uri);
    return r;
  } catch (const std::exception& e) {
    return Internal(uri + ": " + e.what());
  } catch (...) {
    return Internal(uri + ": unexpected exception");
  }
}

std::string Storage::CacheKey(const std::string& uri, const Credentials* credentials) {
  if (!credentials) return internal::Sha256Hex(uri);
  // The NUL cannot occur in a URI (ParseUri refuses control characters), so no two inputs collide.
  return internal::Sha256Hex(uri + std::string(1, '\0') + credentials->identity);
}

std::string Storage::CachePath(const std::string& uri, const Credentials* credentials) const {
  return impl_->Dir() + "/" + CacheKey(uri, credentials);
}

CacheStore& Storage::cache() { return *impl_; }

void Storage::EmptyTrash() {
  try {
    impl_->EmptyTrash();
  } catch (const std::exception& e) {
    LOG_WARN("storage: emptying the trash: {}", e.what());
  }
}

}  // namespace inferd::storage
