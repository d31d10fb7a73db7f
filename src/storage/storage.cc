// storage/storage.cc: Storage::Fetch, the content-addressed cache and its per-URI locks.
//
// A remote fetch takes the URI's in-process lock, reuses <cache_dir>/<sha256(uri)> when it exists, and
// otherwise downloads into a fresh <cache_dir>/.tmp-XXXXXX that is renamed into place only after the
// fetcher succeeded (and removed on any failure). Two processes sharing a cache directory may both
// download; the second rename finds the entry there and that process uses it (never a partial one).
#include <openssl/evp.h>
#include <stdlib.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>

#include "core/logging.h"
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

// Removes a temporary directory unless released.
struct TempDir {
  std::string path;
  ~TempDir() {
    if (path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

struct Storage::Impl {
  StorageOptions options;
  std::mutex mu;
  std::map<std::string, std::weak_ptr<std::mutex>> locks;  // per URI; entries die with their last user

  std::shared_ptr<std::mutex> LockFor(const std::string& uri) {
    std::lock_guard<std::mutex> g(mu);
    for (auto it = locks.begin(); it != locks.end();) {
      it = it->second.expired() ? locks.erase(it) : std::next(it);
    }
    std::shared_ptr<std::mutex> m = locks[uri].lock();
    if (!m) {
      m = std::make_shared<std::mutex>();
      locks[uri] = m;
    }
    return m;
  }

  std::string CachePath(const std::string& uri) const {
    std::string dir = options.cache_dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    return dir + "/" + internal::Sha256Hex(uri);
  }

  StatusOr<FetchResult> FetchLocal(const std::string& path) {
    std::error_code ec;
    fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) return NotFound("no such file or directory: " + path);
    FetchResult r;
    r.local_path = path;
    return r;
  }

  StatusOr<FetchResult> Fetch(const std::string& uri, const ProgressFn& progress) {
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
    std::string final_path = CachePath(uri);
    std::shared_ptr<std::mutex> lock = LockFor(uri);
    std::lock_guard<std::mutex> g(*lock);

    std::error_code ec;
    if (fs::is_directory(final_path, ec)) {
      LOG_INFO("storage: {}: using the cached copy {}", uri, final_path);
      FetchResult r;
      r.local_path = final_path;
      r.cached = true;
      return r;
    }
    fs::create_directories(options.cache_dir, ec);
    if (ec) return Internal("cannot create the cache directory " + options.cache_dir + ": " + ec.message());
    std::string tmpl = options.cache_dir + "/.tmp-XXXXXX";
    if (!mkdtemp(tmpl.data())) return Internal("cannot create a temporary directory in " + options.cache_dir);
    TempDir tmp{tmpl};

    LOG_INFO("storage: {}: downloading into {}", uri, final_path);
    internal::Env env(&options.env);
    internal::Transfer transfer(uri, options.max_bytes, progress);
    internal::FetchContext ctx;
    ctx.uri = uri;
    ctx.model_dir = tmp.path;
    ctx.cache_dir = options.cache_dir;
    ctx.env = &env;
    ctx.transfer = &transfer;
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
    return r;
  }
};

Storage::Storage(StorageOptions options) : impl_(std::make_unique<Impl>()) { impl_->options = std::move(options); }

Storage::~Storage() = default;

StatusOr<FetchResult> Storage::Fetch(const std::string& uri, const ProgressFn& progress) {
  try {
    StatusOr<FetchResult> r = impl_->Fetch(uri, progress);
    if (!r.ok()) return r.status().WithPrefix(uri);
    return r;
  } catch (const std::exception& e) {
    return Internal(uri + ": " + e.what());
  } catch (...) {
    return Internal(uri + ": unexpected exception");
  }
}

std::string Storage::CachePath(const std::string& uri) const { return impl_->CachePath(uri); }

}  // namespace inferd::storage
