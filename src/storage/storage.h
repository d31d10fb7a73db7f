// storage/storage.h: a model's storageUri -> a local directory the model server can load.
//
// Schemes: local path and file:// (used in place, never copied), http(s):// (a single file, or a
// .zip/.tar/.tar.gz/.tgz archive unpacked), s3://bucket/key-or-prefix (SigV4-signed through libcurl with
// KServe's env vars AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (default us-east-1), S3_ENDPOINT
// (host[:port] or URL), S3_USE_HTTPS (default 1), S3_VERIFY_SSL, AWS_CA_BUNDLE (a PEM file),
// awsAnonymousCredential (true: unsigned requests even with keys); a prefix downloads every object under
// it, keeping relative paths; path-style addressing), gs://bucket/object-or-prefix (public objects over
// https://storage.googleapis.com; a bearer token from GOOGLE_OAUTH_ACCESS_TOKEN, or one obtained with a
// service-account key: its JSON in GOOGLE_SERVICE_ACCOUNT_KEY_JSON or a file named by
// GOOGLE_APPLICATION_CREDENTIALS; the endpoint is overridable for tests with GCS_ENDPOINT),
// pvc://claim/path (mapped to <pvc_root>/claim/path).
//
// Contract:
// - Downloads land in a content-addressed cache: <cache_dir>/<CacheKey(uri, credentials)>/ holds the model
//   files. A download goes to <cache_dir>/.tmp-XXXX and is renamed into place only when complete, so a
//   model is never served from a partial download; a finished entry is reused (two services with the same
//   URI and credentials share one copy; concurrent Fetch calls of one entry download once, the others
//   wait). An entry's directory mtime is its last use (set when it is fetched or reused, and by Touch).
// - Credentials: Fetch's `credentials`, when given (an InferenceService's Secrets), replace the process
//   environment for every variable above except GCS_ENDPOINT; their `identity` (never the values) is part
//   of the cache key, so services with different credentials never share an entry.
// - Archives are unpacked with libarchive; an entry with an absolute path, a `..` component, or a
//   symlink/hardlink whose target leaves the destination fails the whole fetch (InvalidArgument naming the
//   entry) and leaves nothing in the cache. Unpacking stops as soon as the bytes pass max_unpacked_bytes
//   (an entry's declared size counts before any of it is written) or the entries pass max_archive_entries:
//   PayloadTooLarge naming the bound and what sets it, the partial directory removed.
// - A single downloaded file keeps its name (the last path component of the URI; query stripped).
// - s3:// and gs:// list the key as a prefix first: an object named exactly like the key is fetched alone
//   (keeping its base name), else every object under "<key>/" (a trailing '/' or an empty key: the key
//   itself is the prefix). When listing is refused (401/403) a key not ending in '/' is fetched as one
//   object. Also read: AWS_SESSION_TOKEN, AWS_DEFAULT_REGION and AWS_ENDPOINT_URL (fallbacks of
//   AWS_REGION / S3_ENDPOINT); credentials absent: unsigned requests (public buckets). A listing is bounded
//   (1,000,000 objects, 10,000 pages); a malformed page fails the fetch.
// - pvc:// needs pvc_root (InvalidArgument without it); a '..' in its path is InvalidArgument.
// - Errors: InvalidArgument (bad URI, unsupported scheme, no cache_dir for a remote scheme, unsafe or
//   corrupt archive, other 4xx), NotFound (404 / no object / missing local path), Unauthenticated
//   (401/403), Unavailable (network, 408/429/5xx, a malformed listing), PayloadTooLarge (past max_bytes
//   downloaded, or an archive past its bounds), Internal (local disk errors, a throwing progress
//   callback), each message naming the URI and never a credential's value.
// - Progress: called on the fetching thread at most every 1 MiB or 200 ms, plus once at the end with the
//   final count; bytes_total is the sum of the listed sizes (s3/gs) or the Content-Length (http).
// - Cache collection (cache_gc.h): cache() lists the entries (and stale temporaries), touches and removes
//   them. Remove never takes an entry a Fetch holds at that moment (it answers Unavailable "busy"); a
//   removed entry is renamed to .trash-* at once and its files are deleted by EmptyTrash.
// - Threads: Fetch may be called from any thread, concurrently; it blocks for the download. Progress is
//   reported through the callback on the fetching thread. cache() and EmptyTrash from any thread.
// - Limits: max_bytes per fetch (default 20 GiB), connect timeout 10 s, low-speed abort (1 KiB/s for 60 s).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/status.h"
#include "storage/cache_gc.h"

namespace inferd::storage {

struct StorageOptions {
  std::string cache_dir;  // required for remote schemes
  std::string pvc_root;   // pvc://claim/path -> pvc_root/claim/path
  uint64_t max_bytes = 20ull << 30;  // bytes downloaded per fetch
  // Bytes one archive may unpack to; 0 = the lesser of max_bytes and half the space free at cache_dir when
  // the fetch starts (DefaultMaxUnpackedBytes).
  uint64_t max_unpacked_bytes = 0;
  uint64_t max_archive_entries = 100'000;
  // What sets those two bounds, for error messages (inferd serve passes its flags' names).
  std::string max_unpacked_bytes_source = "max_unpacked_bytes";
  std::string max_archive_entries_source = "max_archive_entries";
  // Environment the credentials come from (tests inject their own; empty map = the process env).
  std::map<std::string, std::string> env;
};

// Credentials for one fetch, e.g. an InferenceService's Secrets resolved to KServe's variable names
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, S3_ENDPOINT, ..., GOOGLE_SERVICE_ACCOUNT_KEY_JSON).
struct Credentials {
  std::map<std::string, std::string> env;
  std::string identity;  // where they came from, without values ("ns/secret-a,ns/secret-b"); in the cache key
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
  StatusOr<FetchResult> Fetch(const std::string& uri, const ProgressFn& progress = nullptr,
                              const Credentials* credentials = nullptr);
  // The cache entry's name (sha256 hex of the URI, and of the credentials' identity when given) and the
  // directory it maps to (whether or not it is there yet).
  static std::string CacheKey(const std::string& uri, const Credentials* credentials = nullptr);
  std::string CachePath(const std::string& uri, const Credentials* credentials = nullptr) const;
  // The cache's entries, for the collector (cache_gc.h). Valid as long as the Storage.
  CacheStore& cache();
  // Deletes the files of removed entries (.trash-*, also those a crash left). Slow for big trees.
  void EmptyTrash();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The default archive bound: the lesser of max_bytes and half of `free_bytes` (the space free at the cache).
uint64_t DefaultMaxUnpackedBytes(uint64_t max_bytes, uint64_t free_bytes);
// Free bytes (for an unprivileged user) and total bytes of the filesystem holding `path` (Internal when
// statvfs fails; the archive bound then falls back to max_bytes).
struct DiskSpace {
  uint64_t free_bytes = 0, total_bytes = 0;
};
StatusOr<DiskSpace> DiskSpaceAt(const std::string& path);

// Whether the URI's scheme is one Fetch understands (validation uses it).
bool IsSupportedUri(const std::string& uri);
// Whether Fetch uses the URI in place, without downloading (a local path, file://, pvc://): such a fetch is
// quick and needs no worker thread. False for unsupported URIs.
bool IsLocalUri(const std::string& uri);

}  // namespace inferd::storage
