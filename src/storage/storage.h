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
// - s3:// and gs:// list the key as a prefix first: an object named exactly like the key is fetched alone
//   (keeping its base name), else every object under "<key>/" (a trailing '/' or an empty key: the key
//   itself is the prefix). When listing is refused (401/403) a key not ending in '/' is fetched as one
//   object. Also read: AWS_SESSION_TOKEN, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL (fallbacks of
//   AWS_REGION / S3_ENDPOINT); credentials absent: unsigned requests (public buckets).
// - pvc:// needs pvc_root (InvalidArgument without it); a '..' in its path is InvalidArgument.
// - Errors: InvalidArgument (bad URI, unsupported scheme, no cache_dir for a remote scheme, unsafe or
//   corrupt archive, other 4xx), NotFound (404 / no object / missing local path), Unauthenticated
//   (401/403), Unavailable (network, 408/429/5xx), PayloadTooLarge (past max_bytes, downloaded or
//   unpacked), Internal (local disk errors, a throwing progress callback), each message naming the URI.
// - Progress: called on the fetching thread at most every 1 MiB or 200 ms, plus once at the end with the
//   final count; bytes_total is the sum of the listed sizes (s3/gs) or the Content-Length (http).
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
// Whether Fetch uses the URI in place, without downloading (a local path, file://, pvc://): such a fetch is
// quick and needs no worker thread. False for unsupported URIs.
bool IsLocalUri(const std::string& uri);

}  // namespace inferd::storage
