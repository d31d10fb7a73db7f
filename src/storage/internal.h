// storage/internal.h: pieces shared by the storage module's .cc files (not part of its public contract).
//
// Conventions: nothing here throws (std::filesystem calls use the error_code overloads); messages do not
// name the storage URI: Storage::Fetch prefixes every error with it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "storage/storage.h"

namespace inferd::storage::internal {

// ---- uri.cc -------------------------------------------------------------------------------------------
enum class Scheme { kLocal, kFile, kHttp, kS3, kGs, kPvc };

struct ParsedUri {
  Scheme scheme = Scheme::kLocal;
  std::string path;    // kLocal/kFile: the filesystem path; kS3/kGs: the key or prefix (may be empty);
                       // kPvc: the path inside the claim (may be empty); kHttp: unused
  std::string bucket;  // kS3/kGs: the bucket; kPvc: the claim
  std::string url;     // kHttp: the URL as given
};

StatusOr<ParsedUri> ParseUri(const std::string& uri);

// Percent-encodes every byte except the RFC 3986 unreserved set (A-Z a-z 0-9 - _ . ~), and '/' when
// keep_slash; hex digits upper case (the form SigV4 canonical requests use).
std::string PercentEncode(std::string_view s, bool keep_slash);
std::string PercentDecode(std::string_view s);

// The file name a downloaded URL keeps: the last path component, query and fragment stripped,
// percent-decoded. InvalidArgument when there is none (e.g. "http://host/").
StatusOr<std::string> FileNameFromUrl(const std::string& url);

// Whether a file name is one of the archive kinds http(s) downloads unpack.
bool IsArchiveName(std::string_view name);

// Checks a relative path taken from a remote listing or an archive: not empty, not absolute, no '..'
// component. `what` names it in the error (InvalidArgument). A leading "./" is allowed.
Status CheckRelativePath(std::string_view rel, std::string_view what);
std::vector<std::string> SplitPath(std::string_view p);  // components, empty and "." ones dropped

// ---- cache.cc -----------------------------------------------------------------------------------------
std::string Sha256Hex(std::string_view data);

// Variables the credentials come from: the injected map when it is non-empty, else the process env.
class Env {
 public:
  explicit Env(const std::map<std::string, std::string>* injected) : injected_(injected) {}
  std::string Get(const std::string& name, const std::string& fallback = "") const;

 private:
  const std::map<std::string, std::string>* injected_;
};

// ---- progress.cc --------------------------------------------------------------------------------------
// Byte accounting of one Fetch: enforces max_bytes, calls the progress callback throttled (every 1 MiB or
// 200 ms, plus a final call) and writes LOG_INFO progress lines (at most one per 5 s). Fetching thread only.
class Transfer {
 public:
  Transfer(std::string uri, uint64_t max_bytes, ProgressFn progress);
  void AddTotal(uint64_t n) {  // a Content-Length; ignored once SetTotal fixed the total
    if (!total_fixed_) total_ += n;
  }
  void SetTotal(uint64_t n) {
    total_ = n;
    total_fixed_ = true;
  }
  void BeginObject(std::string name);
  // Counts n more bytes; non-OK when max_bytes is exceeded or the callback threw.
  Status Add(uint64_t n);
  void Finish();  // the final progress call and log line
  uint64_t bytes_done() const { return done_; }
  uint64_t max_bytes() const { return max_bytes_; }
  uint64_t total() const { return total_; }

 private:
  Status Report();
  std::string uri_;
  uint64_t max_bytes_;
  ProgressFn progress_;
  uint64_t done_ = 0, total_ = 0, reported_bytes_ = 0;
  bool total_fixed_ = false;
  std::string current_;
  std::chrono::steady_clock::time_point start_, last_report_, last_log_;
};

std::string HumanBytes(uint64_t n);

// ---- http_client.cc -----------------------------------------------------------------------------------
struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string aws_sigv4;             // CURLOPT_AWS_SIGV4 value ("aws:amz:<region>:s3"); empty: unsigned
  std::string user, password;        // the access key and secret for SigV4
  bool verify_tls = true;
  bool follow_redirects = true;
};

// Maps an HTTP status >= 300 to a Status: 404 NotFound, 401/403 Unauthenticated, 408/429/5xx Unavailable,
// anything else InvalidArgument. `body` (an error document) adds its <Code>/<Message> or a short excerpt.
Status StatusForHttp(long code, const std::string& url, const std::string& body);

// GETs `req.url` into the file `path` (created only on success), counting bytes on `transfer`.
Status HttpDownload(const HttpRequest& req, const std::string& path, Transfer* transfer);
// GETs a small document (listings) into memory; at most max_size bytes.
StatusOr<std::string> HttpGetString(const HttpRequest& req, size_t max_size = 64u << 20);

// ---- archive.cc ---------------------------------------------------------------------------------------
// Unpacks a .zip/.tar/.tar.gz/.tgz into dest (an existing directory) with the safety rules of the
// contract; InvalidArgument naming the entry for an unsafe one, PayloadTooLarge past max_bytes unpacked.
Status ExtractArchive(const std::string& archive_path, const std::string& dest, uint64_t max_bytes);

// ---- fetchers (http_fetch.cc, s3.cc, gcs.cc) -----------------------------------------------------------
struct FetchContext {
  std::string uri;
  std::string model_dir;   // the temporary directory that becomes the cache entry
  std::string cache_dir;   // for scratch files (an archive before it is unpacked)
  const Env* env = nullptr;
  Transfer* transfer = nullptr;
};

Status FetchHttp(const ParsedUri& u, const FetchContext& ctx);
Status FetchS3(const ParsedUri& u, const FetchContext& ctx);
Status FetchGcs(const ParsedUri& u, const FetchContext& ctx);

// One object of a bucket listing.
struct RemoteObject {
  std::string name;
  uint64_t size = 0;
};

// One page of a bucket listing, as the listing parsers read it (pure functions of the response body; they
// trust nothing in it: names are checked later by SelectObjects, sizes that do not parse are 0).
struct ListPage {
  std::vector<RemoteObject> objects;
  bool truncated = false;  // another page follows, asked for with next_token
  std::string next_token;
};
// S3 ListObjectsV2's XML (<Contents><Key>/<Size>, <IsTruncated>, <NextContinuationToken>). Unavailable when
// the body is not a ListBucketResult, a <Contents> has no <Key> or is cut off, or IsTruncated comes without
// a token.
StatusOr<ListPage> ParseS3ListPage(std::string_view xml);
// Cloud Storage objects.list JSON (items[].name/size, nextPageToken). Unavailable when the body is not JSON
// or an item has no name.
StatusOr<ListPage> ParseGcsListPage(std::string_view json);

// Decides what of a listing a key/prefix fetch downloads: the object named exactly `key` (kept under its
// base name), else every object under `key` as a directory (relative paths kept; "directory marker"
// objects ending in '/' skipped). Each returned pair is (object name, relative destination path), checked
// with CheckRelativePath. NotFound when nothing matches.
StatusOr<std::vector<std::pair<RemoteObject, std::string>>> SelectObjects(const std::vector<RemoteObject>& listing,
                                                                          const std::string& key);

// Downloads the selected objects into ctx.model_dir; url_for maps an object name to its request.
Status DownloadObjects(const std::vector<std::pair<RemoteObject, std::string>>& objects, const FetchContext& ctx,
                       const std::function<HttpRequest(const std::string& name)>& request_for);

}  // namespace inferd::storage::internal
