// storage/storage.h: a model's storageUri -> a local directory the model server can load.
//
// Schemes: local path and file:// (used in place, never copied), http(s):// (a single file, or a
// .zip/.tar/.tar.gz/.tgz archive unpacked), s3://bucket/key-or-prefix (SigV4-signed through libcurl with
// KServe's env vars AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (default us-east-1), S3_ENDPOINT
// (host[:port] or URL), S3_USE_HTTPS (default 1), S3_VERIFY_SSL; a prefix downloads every object under
// it, keeping relative paths; path-style addressing), gs://bucket/object-or-prefix (public objects over
// https://storage.googleapis.com, a bearer token from GOOGLE_OAUTH_ACCESS_TOKEN when set; the endpoint is
// overridable for tests with GCS_ENDPOINT), pvc://claim/path (mapped to <pvc_root>/claim/path).
//
// Contract:
// - Downloads land in a content-addressed cache: <cache_dir>/<sha256(uri)>/ holds the model files. A
//   download goes to <cache_dir>/.tmp-XXXX and is renamed into place only when complete, so a model is
//   never served from a partial download; a finished entry is reused (two services with the same URI
//   share one copy; concurrent Fetch calls of one URI download once, the others wait).
// - Archives are unpacked with libarchive; an entry with an absolute path, a `..` component, or a
//   symlink/hardlink whose target leaves the destination fails the whole fetch (InvalidArgument naming the
//   entry) and leaves nothing in the cache.
// - A single downloaded file keeps its name (the last path component of the URI; query stripped).
// - Errors: InvalidArgument (bad URI, unsafe archive), NotFound (404 / no object / missing local path),
//   Unauthenticated (401/403), Unavailable (network, 5xx), each message naming the URI.
// - Threads: Fetch may be called from any thread, concurrently; it blocks for the download. Progress is
//   reported through the callback on the fetching thread.
// - Limits: max_bytes per fetch (default 20 GiB), connect timeout 10 s, low-speed abort (1 KiB/s for 60 s).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/status.h"

namespace inferd::storage {

struct StorageOptions {
  std::string cache_dir;  // required for remote schemes
  std::string pvc_root;   // pvc://claim/path -> pvc_root/claim/path
  uint64_t max_bytes = 20ull << 30;
  // Environment the credentials come from (tests inject their own; empty map = the process env).
  std::map<std::string, std::string> env;
};

struct Progress {
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;  // 0 when unknown
  std::string current;       // object or file being fetched
};
using ProgressFn = std::function<void(const Progress&)>;

struct FetchResult {
  std::string local_path;  // directory holding the model (or the local path itself for file://)
  bool cached = false;     // true when an earlier download was reused
  uint64_t bytes = 0;      // bytes downloaded by this call (0 when cached or local)
};

class Storage {
 public:
  explicit Storage(StorageOptions options);
  ~Storage();
  StatusOr<FetchResult> Fetch(const std::string& uri, const ProgressFn& progress = nullptr);
  // The cache directory an URI maps to (whether or not it is there yet).
  std::string CachePath(const std::string& uri) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether the URI's scheme is one Fetch understands (validation uses it).
bool IsSupportedUri(const std::string& uri);

}  // namespace inferd::storage
