// api/api_server.h: the control plane's REST API, shaped like the Kubernetes API server's so that a later
// step can point kubectl at it.
//
// Routes (JSON bodies; YAML accepted too when Content-Type is application/yaml):
//   /apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices[/{name}[/status]]
//   /apis/serving.kserve.io/v1beta1/inferenceservices                      (list across namespaces)
//   /apis/serving.kserve.io/v1alpha1/namespaces/{ns}/servingruntimes[/{name}[/status]]
//   /apis/serving.kserve.io/v1alpha1/clusterservingruntimes[/{name}[/status]]
//   /apis/serving.kserve.io/v1alpha1/namespaces/{ns}/inferencegraphs|trainedmodels[/{name}[/status]]
//   (every kind and its scope, verbs and subresources: api/kinds.h, the one table of kinds)
//   /api/v1/namespaces/{ns}/events                                         (read-only; written by control)
//   /api/v1/namespaces/{ns}/secrets[/{name}], /serviceaccounts[/{name}]   (core/v1, no /status; also listed
//                                                                           across namespaces at /api/v1/...)
//   /api/v1/namespaces[/{name}]                  (core/v1 Namespace, api/namespaces.h; a namespaced object can
//                                                 only be created in one that exists: 404 otherwise)
//   GET (get, list; `?watch=1|true` streams newline-delimited {"type","object"} events, chunked, after
//   the initial ADDED events of the current objects unless `resourceVersion=N` is given), POST (create; a
//   Namespace also as kubectl's protobuf), PUT (replace, never creates; metadata.resourceVersion enforces
//   optimistic concurrency, 409 when stale, and is required for serving.kserve.io kinds: 422 without), PATCH
//   (merge patch, also for application/json and YAML; JSON patch; server-side apply with managedFields and
//   409 conflicts: api/patch.h; anything else 415), DELETE (DeleteOptions; answers Status Success; a
//   Namespace takes its objects with it) and DELETE on a collection (deletecollection). Writes record
//   metadata.managedFields per field manager. POST, PUT, PATCH and DELETE take Kubernetes' `dryRun=All`:
//   checked and answered as if written, nothing stored (other values: 400). docs/kubernetes.md, "Writes".
//   Also `/healthz`, `/version` (api/discovery.h), `/openapi/v3[/...]` (api/openapi.h; `/openapi/v2` is 404),
//   and the extension routes registered with AddExtension.
// - Discovery: /api, /apis (aggregated apidiscovery.k8s.io/v2 when the Accept asks for it, else legacy),
//   /api/v1, /apis/{group}/{version} (api/discovery.h).
// - Server-side printing: GET, list and watch answer meta.k8s.io Tables when the Accept asks for them
//   (`includeObject=None|Metadata|Object`; api/table.h). Watches take Kubernetes' allowWatchBookmarks (with
//   sendInitialEvents=true: a BOOKMARK annotated k8s.io/initial-events-end after the initial ADDED events),
//   timeoutSeconds, resourceVersion ("" and "0": synthetic ADDED first), labelSelector and fieldSelector
//   (metadata.name, metadata.namespace, and what api/kinds.h's SelectableField adds per kind: an Event's
//   involvedObject.*, which `kubectl describe` uses; any other field is 400 "field label not supported").
// - Paths and query strings are percent-decoded strictly (core/percent.h): a malformed escape is 400.
// - Errors are Kubernetes Status objects: {"kind":"Status","apiVersion":"v1","status":"Failure",
//   "message":..., "reason": NotFound|AlreadyExists|Conflict|Invalid|BadRequest|Unauthorized|
//   MethodNotAllowed, "code": N} (api/status_object.h). Validation failures are 422 Invalid with the field in
//   the message and details.causes [{reason, message, field}].
// - Writes are validated (a CRD kind's schema first: api/schema.h, `?fieldValidation` Strict|Warn|Ignore, unknown
//   fields pruned and reported in a `Warning` header or refused with 400, type/enum/bound errors 422 with causes;
//   then resources::Validate*, then ApiOptions::validate_isvc) before they reach the store: nothing half-applied. A Secret is stored normalized (stringData folded into base64 data); one stored
//   with `immutable: true` refuses changes to data, type and immutable (422). Secret values are never
//   logged; they are returned to token holders as Kubernetes returns them (base64 in `data`).
//   Spec writes to InferenceServices keep the stored status; /status writes replace only status.
// - Auth (api/access.h, the one decision): every route except /healthz (/livez, /readyz) and the public pages
//   (AddPage) needs `Authorization: Bearer <token>` when a token is configured, or the web app's session cookie
//   (ApiOptions::session_csrf; then `X-CSRF-Token` on writes): checked from the request's head, before its
//   body is read; otherwise 401 (403 for a missing/wrong CSRF token) and the connection closes with the body
//   unread. A state-changing request from another site (Origin / Sec-Fetch-Site) is 403 on every path, token
//   or not. Binding a non-loopback host without a token is refused by Start.
// - HTTPS and plain HTTP share the port (net/tls.h): a connection whose first byte is a TLS handshake record
//   is served over TLS (ApiOptions::tls_cert_file), any other as plain HTTP, but only to a loopback peer (a
//   remote one gets 400 and the connection closes). Watches and extension streams work over both.
// - Connections are managed by net/ (listener.h, conn.h) like the gateway's and the model server's: accept
//   backoff, a connection cap, head/body/keep-alive/send deadlines, and the body budget (503 + Retry-After
//   past it, decided from Content-Length before the body is read).
// - Threads: one Asio I/O thread (plus one thread per open watch/stream, bounded by max_streams); the
//   Store is thread-safe. The ApiServer does not own the Store; it must outlive the server.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/kinds.h"  // the resource types the API serves (InferenceServiceType() etc.)
#include "core/status.h"
#include "net/budget.h"
#include "net/limits.h"
#include "store/store.h"

namespace inferd::api {

struct ApiOptions {
  std::string host = "127.0.0.1";
  int port = 8090;  // 0 = ephemeral
  std::string token;  // empty = no auth (only allowed on loopback)
  // HTTPS (net/tls.h): a PEM certificate (chain) and its key; empty = plain HTTP only. Either way plain HTTP
  // is answered only to loopback peers, on the same port as HTTPS.
  std::string tls_cert_file, tls_key_file;
  size_t max_body_bytes = 8 << 20;
  // Connections: deadlines, connection cap, body bytes in flight (net/limits.h). body_budget: the process's
  // budget when shared with another listener (`inferd serve`: the gateway); null = one of its own.
  net::Limits limits;
  std::shared_ptr<net::BodyBudget> body_budget;
  int max_streams = 64;  // concurrent watch / follow streams; beyond: 429
  // Optional: more checks of an InferenceService write, after resources::ValidateInferenceService passed
  // (the control plane's: autoscaling fields and annotations against the cluster's autoscaler settings). An
  // error is a 422 Invalid with its message. Called on the API's I/O thread; must not block.
  std::function<Status(const store::Json& isvc)> validate_isvc;
  // The web app's sessions (webui/sessions.h): the CSRF token of the live session whose id is the value of the
  // request's `inferd_session` cookie, nullopt when there is none. Called on the I/O thread from the request's
  // head; must not block. Unset: no cookie auth.
  std::function<std::optional<std::string>(std::string_view session_id)> session_csrf;
};

struct ApiRequest {
  std::string method, path;  // path without the query
  std::map<std::string, std::string> query;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case, in the order sent
  bool tls = false;  // came over HTTPS
  // The first value of header `name` (lower case), "" when absent.
  std::string_view Header(std::string_view name) const;
};
// A streaming/extension response: call `write(chunk)` any number of times (false = client gone: stop),
// then return the final status (OK = `status` with what was written). `content_type`, `status` and `headers`
// are set before the first write.
struct ApiStream {
  std::string content_type = "text/plain";
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::function<bool(std::string_view chunk)> write;
};
// Runs on its own thread (counts against max_streams). Must return when `write` returns false.
using ExtensionHandler = std::function<Status(const ApiRequest& req, ApiStream& out)>;

// A whole answer, made on the I/O thread from the request alone (AddPage: must not block).
struct ApiReply {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};
using PageHandler = std::function<ApiReply(const ApiRequest& req)>;
enum class PathMatch { kExact, kPrefix };
enum class PageAuth { kApi, kPublic };  // kApi: the API's auth (bearer or session); kPublic: none

class ApiServer {
 public:
  ApiServer(store::Store* store, ApiOptions options);
  ~ApiServer();
  // Registers a handler for every path starting with `prefix` (e.g. "/inferd/v1/logs/"). Before Start.
  void AddExtension(std::string prefix, ExtensionHandler handler);
  // Registers a handler answered on the I/O thread (the web app's files and session calls: webui/). Pages are
  // matched before extensions and routes, the first registered first. Before Start.
  void AddPage(std::string path, PathMatch match, PageAuth auth, PageHandler handler);
  Status Start();  // binds and serves; port() then gives the bound port
  int port() const;
  void Stop();  // closes listeners and open streams; idempotent

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::api
