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

#include "core/percent.h"
#include "core/status.h"
#include "net/http_client.h"
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

// core/percent.h's codec. Storage decodes only a download URL's file name, keeping a malformed escape
// literally (the WHATWG URL decoder's rule: the remote server may well have such a name).
using inferd::PercentEncode;
inline std::string PercentDecode(std::string_view s) { return *inferd::PercentDecode(s, {.keep_malformed = true}); }

// The file name a downloaded URL keeps: the last path component, query and fragment stripped,
// percent-decoded. InvalidArgument when there is none (e.g. "http://host/").
StatusOr<std::string> FileNameFromUrl(const std::string& url);

// Whether a file name is one of the archive kinds http(s) downloads unpack.
bool IsArchiveName(std::string_view name);

// Checks a relative path taken from a remote listing or an archive: not empty, not absolute, no '..'
// component. `what` names it in the error (InvalidArgument). A leading "./" is allowed.
Status CheckRelativePath(std::string_view rel, std::string_view what);
std::vector<std::string> SplitPath(std::string_view p);  // components, empty and "." ones dropped

// ---- storage.cc ---------------------------------------------------------------------------------------
std::string Sha256Hex(std::string_view data);

// Variables the fetchers read. With per-fetch credentials (a service's Secrets) every variable comes from
// them alone, except the endpoint overrides that are not credentials (GCS_ENDPOINT); without, from the
// injected map when it is non-empty, else the process env.
class Env {
 public:
  explicit Env(const std::map<std::string, std::string>* injected, const Credentials* credentials = nullptr)
      : injected_(injected), credentials_(credentials) {}
  std::string Get(const std::string& name, const std::string& fallback = "") const;

 private:
  std::string Base(const std::string& name, const std::string& fallback) const;
  const std::map<std::string, std::string>* injected_;
  const Credentials* credentials_;
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
// net/http_client.h's request with storage's bounds: connect timeout 10 s, abort below 1 KiB/s for 60 s,
// redirects followed. form_body non-empty: POST it as application/x-www-form-urlencoded instead of a GET.
// url, headers, aws_sigv4 (with user and password as the key and secret), verify_tls and ca_file are the
// base's.
struct HttpRequest : net::ClientRequest {
  HttpRequest() {
    user_agent = "inferd-storage/0.1";
    connect_timeout_s = 10;
    low_speed_bytes = 1024;
    low_speed_s = 60;
    follow_redirects = true;
  }
  std::string form_body;
};

// Maps an HTTP status >= 300 to a Status: 404 NotFound, 401/403 Unauthenticated, 408/429/5xx Unavailable,
// anything else InvalidArgument. `body` (an error document) adds its <Code>/<Message> or a short excerpt.
Status StatusForHttp(long code, const std::string& url, const std::string& body);

// GETs `req.url` into the file `path` (created only on success), counting bytes on `transfer`.
Status HttpDownload(const HttpRequest& req, const std::string& path, Transfer* transfer);
// GETs (or POSTs, see form_body) a small document (listings, tokens) into memory; at most max_size bytes.
StatusOr<std::string> HttpGetString(const HttpRequest& req, size_t max_size = 64u << 20);

// ---- archive.cc ---------------------------------------------------------------------------------------
// Bounds on what one archive may unpack to; the *_source strings say in errors what sets each bound.
struct ArchiveLimits {
  uint64_t max_bytes = 0;
  uint64_t max_entries = 0;
  std::string bytes_source, entries_source;
};
// Unpacks a .zip/.tar/.tar.gz/.tgz into dest (an existing directory) with the safety rules of the
// contract; InvalidArgument naming the entry for an unsafe one. PayloadTooLarge as soon as the bytes
// (an entry's declared size, or the bytes actually unpacked, whichever shows it first) or the entries pass
// a bound: nothing more is written, and the caller removes dest.
Status ExtractArchive(const std::string& archive_path, const std::string& dest, const ArchiveLimits& limits);

// ---- fetchers (http_fetch.cc, s3.cc, gcs.cc) -----------------------------------------------------------
struct FetchContext {
  std::string uri;
  std::string model_dir;   // the temporary directory that becomes the cache entry
  std::string cache_dir;   // for scratch files (an archive before it is unpacked)
  const Env* env = nullptr;
  Transfer* transfer = nullptr;
  ArchiveLimits archive;   // for http(s) archives
};

Status FetchHttp(const ParsedUri& u, const FetchContext& ctx);
Status FetchS3(const ParsedUri& u, const FetchContext& ctx);
Status FetchGcs(const ParsedUri& u, const FetchContext& ctx);

// One object of a bucket listing.
struct RemoteObject {
  std::string name;
  uint64_t size = 0;
};

// One page of a listing, as the S3 and GCS parsers read it.
struct ListPage {
  std::vector<RemoteObject> objects;
  std::string next_token;  // empty: the last page
};
// ListObjectsV2's XML (s3.cc) and the JSON API's objects list (gcs.cc). Strict: a document that is cut
// short, an object without a name or a size, a size that is not a non-negative integer (or is absurd:
// above 2^53), a truncated page without a token: Unavailable naming what is wrong. Names are returned as
// written (SelectObjects checks them as paths).
StatusOr<ListPage> ParseS3ListPage(std::string_view xml);
StatusOr<ListPage> ParseGcsListPage(std::string_view json);

// An object size as a listing writes it: an unsigned decimal; false for anything else (a sign, garbage, a
// value above 2^53: no object is that big, and such a number is a broken or hostile listing).
bool ParseObjectSize(std::string_view text, uint64_t* out);

// Bounds of one listing.
struct ListLimits {
  size_t max_objects = 1'000'000;
  size_t max_pages = 10'000;
};
// Follows a listing page by page (fetch_page(token), "" first) until a page without a next token. Errors:
// the page's own; Unavailable when a token repeats; InvalidArgument past max_objects objects or max_pages
// pages (a listing that never ends, e.g. a new token on every empty page).
StatusOr<std::vector<RemoteObject>> ListAllPages(const std::function<StatusOr<ListPage>(const std::string&)>& fetch_page,
                                                 const ListLimits& limits = {});

// ---- gcs_auth.cc ----------------------------------------------------------------------------------------
// An OAuth2 access token for a Google service-account key (the JSON file KServe's GCS secret holds): an
// RS256-signed JWT (iss = client_email, scope devstorage.read_only, aud = token_uri, one hour) exchanged at
// the key's token_uri (RFC 7523). `now_s` is the Unix time the JWT is issued at. Errors name the field or
// the HTTP answer, never the key or the token. InvalidArgument for a key that is not a service-account
// key or cannot sign; Unauthenticated when the token endpoint refuses it.
StatusOr<std::string> GcsAccessTokenFromServiceAccount(std::string_view key_json, int64_t now_s);
// The JWT alone (tests check it).
StatusOr<std::string> GcsServiceAccountJwt(std::string_view key_json, int64_t now_s);

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
