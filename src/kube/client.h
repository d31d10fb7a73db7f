// kube/client.h: a small Kubernetes API client (the `inferd operator`'s and the tests' way to a cluster).
// Written on inferd's one libcurl client (net/http_client.h) and nlohmann json, not on a C++ Kubernetes
// client library: none is packaged here (Debian has none; kubernetes-client/c needs libwebsockets and
// its own YAML/JSON stack), and the operator needs a few verbs on unstructured objects only.
//
// Contract:
// - Configuration: a kubeconfig file (LoadKubeConfigFile / ParseKubeConfig: clusters[].cluster{server,
//   certificate-authority | certificate-authority-data, insecure-skip-tls-verify}, users[].user{token |
//   tokenFile, client-certificate[-data], client-key[-data]}, contexts[].context{cluster, user, namespace},
//   current-context or a named context) or in-cluster (InClusterConfig: KUBERNETES_SERVICE_HOST/PORT, the
//   service-account token, ca.crt and namespace files). Unsupported credentials (exec, auth-provider,
//   username/password) are refused with a message naming them, never silently dropped. A CA together
//   with insecure-skip-tls-verify is refused (as client-go does). Relative file paths in a kubeconfig are
//   resolved against the kubeconfig's directory. A token file is re-read at most once a minute
//   (kTokenRefresh), so a rotated service-account token is picked up.
// - Objects are unstructured JSON (resources::Json). Every verb names its resource with a Gvr
//   (group, version, plural, namespaced); a cluster-scoped Gvr ignores `ns`. For a namespaced Gvr, List
//   and Watch with ns == "" cover all namespaces.
// - Errors are ApiStatus values: the HTTP code (0 when no answer came: connection refused, timeout, TLS)
//   and the Kubernetes Status `reason` from the body (NotFound, AlreadyExists, Conflict, Expired, Gone,
//   Invalid, ...; derived from the HTTP code when the body is not a Status), plus its message. No call
//   throws (json parse errors become ApiStatus with code 0, reason "InvalidResponse").
// - Bounds: every request has connect_timeout_s and request_timeout_s (a watch: timeoutSeconds, or
//   kMaxWatchSeconds when none is sent, plus request_timeout_s); response bodies are capped at
//   max_body_bytes (reason "ResponseTooLarge"); a watch line is capped at max_watch_line_bytes (the watch
//   ends with reason "LineTooLong"). A watch can be cancelled from another thread through
//   WatchOptions::cancel (seen within about a second).
// - Thread-safe: one curl handle per request; the only shared state is the cached token (mutex).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"
#include "kube/clock.h"
#include "resources/resources.h"

namespace inferd::kube {

using Json = resources::Json;

// ---- errors ---------------------------------------------------------------------------------------------
struct ApiStatus {
  int code = 200;      // HTTP status; 0 when no answer came
  std::string reason;  // the Kubernetes Status reason ("" when ok); "Transport" when no answer came
  std::string message;

  bool ok() const { return code >= 200 && code < 300; }
  bool IsNotFound() const { return code == 404; }
  bool IsAlreadyExists() const { return code == 409 && reason == "AlreadyExists"; }
  bool IsConflict() const { return code == 409 && reason != "AlreadyExists"; }
  // 410, or reason Expired / Gone (also from an ERROR watch event).
  bool IsExpired() const { return code == 410 || reason == "Expired" || reason == "Gone"; }
  std::string ToString() const;  // "409 Conflict: <message>"
  // The inferd Status it maps to (kNotFound, kAlreadyExists, kConflict, kUnavailable for 0/429/5xx, ...),
  // message ToString().
  Status ToStatus() const;

  static ApiStatus Ok() { return {}; }
};

// The ApiStatus of a Kubernetes Status object (kind Status) or, when `body` is not one, of the HTTP code.
ApiStatus StatusFromBody(int http_code, std::string_view body);

// A value or the ApiStatus saying why there is none.
template <class T>
class Result {
 public:
  Result(ApiStatus status) : status_(std::move(status)) {}  // NOLINT
  Result(T value) : value_(std::move(value)) {}              // NOLINT
  bool ok() const { return value_.has_value(); }
  const ApiStatus& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  ApiStatus status_;
  std::optional<T> value_;
};

// ---- resources ------------------------------------------------------------------------------------------
struct Gvr {
  std::string group;  // "" for the core group
  std::string version;
  std::string plural;
  bool namespaced = true;

  std::string ApiVersion() const;  // "v1" or "group/version"
  // "/api/v1[/namespaces/<ns>]/<plural>[/<name>[/<sub>]]" or "/apis/<g>/<v>/...". Names are
  // percent-encoded; ns "" (or a cluster-scoped Gvr) leaves the namespace segment out.
  std::string Path(std::string_view ns, std::string_view name = "", std::string_view subresource = "") const;
};

// obj[key] when obj is an object and that member is a string, else "" (never throws: nlohmann's value()
// throws on a member of another type, and objects come from the network).
std::string StringField(const Json& obj, std::string_view key);
// obj["metadata"][key] the same way.
std::string MetaField(const Json& obj, std::string_view key);

// "namespace/name" (or "name" for a cluster-scoped object) of an object, from its metadata.
std::string ObjectKey(const Json& obj);
// The inverse: {namespace, name} ("" namespace when the key has no '/').
std::pair<std::string, std::string> SplitKey(std::string_view key);

// ---- configuration -----------------------------------------------------------------------------------
struct KubeConfig {
  std::string server;  // "https://host:port" or "http://..."
  std::string ca_file;  // PEM bundle file
  std::string ca_data;  // PEM bytes (certificate-authority-data, decoded)
  bool insecure_skip_tls_verify = false;
  std::string token;       // bearer token
  std::string token_file;  // re-read at most every kTokenRefresh (takes precedence over `token`)
  std::string client_cert_file, client_key_file;  // PEM files
  std::string client_cert_data, client_key_data;  // PEM bytes
  std::string namespace_name = "default";         // the context's namespace
  long connect_timeout_s = 10;
  long request_timeout_s = 30;
  size_t max_body_bytes = 64u << 20;
  size_t max_watch_line_bytes = 16u << 20;
  std::string user_agent = "inferd-kube/0.1";
};

inline constexpr int64_t kTokenRefreshNs = 60'000'000'000;  // client-go's and python's one minute
// A watch sent without timeoutSeconds is still ended by the client after this long (plus the request timeout).
inline constexpr int kMaxWatchSeconds = 3600;

// Parses kubeconfig YAML. `context` "" means current-context. `base_dir` resolves relative file paths.
StatusOr<KubeConfig> ParseKubeConfig(std::string_view yaml, std::string_view context = "",
                                     std::string_view base_dir = "");
// Reads `path` ("" = $KUBECONFIG's first entry, else ~/.kube/config) and parses it.
StatusOr<KubeConfig> LoadKubeConfigFile(const std::string& path, std::string_view context = "");

// In-cluster configuration. `getenv` looks variables up (defaults to ::getenv); `sa_dir` holds token,
// ca.crt and namespace. Unavailable("not in cluster: ...") when a variable or the token file is missing.
struct InClusterSource {
  std::function<const char*(const char*)> getenv;
  std::string sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};
StatusOr<KubeConfig> InClusterConfig(const InClusterSource& source = {});

// ---- requests ------------------------------------------------------------------------------------------
struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // "" = most recent (quorum); "0" = any
  int64_t limit = 0;             // 0 = no paging
  std::string continue_token;
};

struct DeleteOptions {
  std::string propagation_policy;  // "" (server default), "Background", "Foreground", "Orphan"
  std::optional<std::string> precondition_uid, precondition_resource_version;
};

enum class PatchType { kMerge, kJson, kApply };

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR
  Json object;
};

// Parses one watch line ({"type":..,"object":{..}}). An unknown type or a missing object is an error.
Result<WatchEvent> ParseWatchEvent(std::string_view line);

// Splits a byte stream into '\n'-terminated lines (a trailing '\r' is dropped; empty lines are skipped).
// A line longer than max_line makes Feed fail; the splitter then stays failed.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line) : max_line_(max_line) {}
  // Calls on_line for every complete line in `data`; on_line returning false stops (Feed returns true).
  // Returns false when a line exceeds the bound.
  bool Feed(std::string_view data, const std::function<bool(std::string_view)>& on_line);
  size_t buffered() const { return partial_.size(); }

 private:
  size_t max_line_;
  std::string partial_;
  bool failed_ = false;
};

struct WatchOptions {
  std::string resource_version;  // "" = now (with synthetic ADDEDs), "0" = any, else strictly after
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  int timeout_seconds = 300;  // server-side timeoutSeconds (0 = none sent: the client ends it after kMaxWatchSeconds)
  const std::atomic<bool>* cancel = nullptr;  // set to stop the watch from another thread
};

// Called for every event; returning false ends the watch (Watch then returns OK).
using WatchHandler = std::function<bool(WatchEvent&& event)>;

class KubeClient {
 public:
  // `clock` times the token file's refresh only.
  explicit KubeClient(KubeConfig config, const Clock* clock = RealClock::Get());
  const KubeConfig& config() const { return config_; }

  Result<Json> Get(const Gvr& gvr, std::string_view ns, std::string_view name, std::string_view subresource = "");
  // One page: the List object ({items:[..], metadata:{resourceVersion, continue}}).
  Result<Json> List(const Gvr& gvr, std::string_view ns, const ListOptions& options = {});
  // Every page (following metadata.continue, at most max_items items in all): one List object whose
  // metadata.resourceVersion is the first page's. A continue token that expired gives 410.
  Result<Json> ListAll(const Gvr& gvr, std::string_view ns, ListOptions options = {}, size_t max_items = 100000);
  Result<Json> Create(const Gvr& gvr, std::string_view ns, const Json& object);
  // PUT of the whole object; name from metadata.name; metadata.resourceVersion guards it (409 when stale).
  Result<Json> Update(const Gvr& gvr, std::string_view ns, const Json& object);
  // PUT .../status: only .status changes on the server.
  Result<Json> UpdateStatus(const Gvr& gvr, std::string_view ns, const Json& object);
  // PATCH with merge-patch+json (kMerge), json-patch+json (kJson) or apply-patch+yaml (kApply, needs
  // field_manager; force sets force=true).
  Result<Json> Patch(const Gvr& gvr, std::string_view ns, std::string_view name, const Json& patch,
                     PatchType type = PatchType::kMerge, std::string_view subresource = "",
                     std::string_view field_manager = "", bool force = false);
  // The answer: the object (finalizers pending) or a Status of kind "Status" (deleted at once).
  Result<Json> Delete(const Gvr& gvr, std::string_view ns, std::string_view name, const DeleteOptions& options = {});
  // Streams events to on_event until the server ends the stream (OK), on_event returns false (OK), the
  // cancel flag is set (OK), or an error (HTTP error, transport, LineTooLong, a malformed line). An ERROR
  // event is passed to on_event like any other (its object is the Status; see StatusFromEvent).
  ApiStatus Watch(const Gvr& gvr, std::string_view ns, const WatchOptions& options, const WatchHandler& on_event);

  // Any other request: method, path (with query), JSON body ("" = none), content type of the body.
  Result<Json> Request(std::string_view method, const std::string& path_and_query, const std::string& body = "",
                       std::string_view content_type = "application/json");

  // The Authorization header value now ("" when no token), re-reading token_file when due.
  std::string BearerHeader();

 private:
  KubeConfig config_;
  const Clock* clock_;
  Mutex token_mu_;
  std::string token_ GUARDED_BY(token_mu_);
  int64_t token_read_ns_ GUARDED_BY(token_mu_) = 0;
  bool token_loaded_ GUARDED_BY(token_mu_) = false;
};

// The ApiStatus an ERROR watch event carries (its object is a Status).
ApiStatus StatusFromEvent(const WatchEvent& event);

}  // namespace inferd::kube
