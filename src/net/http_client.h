// net/http_client.h: the one outgoing HTTP client of inferd (libcurl, blocking, one easy handle per request):
// storage downloads and listings (storage/http_client.cc) and the CLI's calls to `inferd serve`
// (cli/api_client.cc) go through it.
//
// Contract:
// - Fetch performs one request on the calling thread and hands every piece of the response body to
//   `on_body` as it arrives, with the response's status code and declared Content-Length (-1 when unknown);
//   `on_body` returning false stops the transfer (the result is then kAborted). With follow_redirects the
//   bodies of the redirects are not passed on.
// - The method is GET unless `method` says otherwise; a request with a `body` (or POST/PUT/PATCH) sends it
//   with Content-Length; headers are given as "Name: value" lines. Only http and https are allowed (also
//   for redirects, at most 5).
// - Bounds: connect_timeout_s and timeout_s (the whole transfer; 0 = none), and below low_speed_bytes per
//   second for low_speed_s the transfer is aborted (0 = off). Callers bound the body in on_body.
// - The result tells a transport failure apart from an HTTP answer: kOk means an answer came (any status);
//   kBadRequest is a request curl refuses (malformed URL, unsupported scheme, unreadable CA file or client
//   certificate); kFailed is anything else (no connection, timeout, TLS); `error` is curl's message.
// - Response headers a caller names in collect_headers come back in ClientResult.headers (e.g. the API's
//   Warning headers, which the CLI prints).
// - TLS: ca_file or ca_pem (PEM bytes) replace the system's CA bundle; client_cert_*/client_key_* (files or
//   PEM bytes) authenticate the client (Kubernetes' kubeconfig credentials, kube/client.h).
// - `cancel`, when set by another thread, stops the transfer (kAborted) within about a second, also while
//   no byte arrives (a long-lived watch stream).
// - curl_global_init runs once, before the first request (thread-safe).
// - ClientSession keeps one easy handle between requests, so consecutive requests to the same host reuse
//   its connection (curl's connection cache; the payload logger's workers send thousands of events a second).
//   Each Fetch starts from default options, as the free Fetch does. One thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inferd::net {

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  bool send_body = false;  // also an empty body (POST/PUT/PATCH set it by themselves)
  std::string user_agent;
  long connect_timeout_s = 0;
  long timeout_s = 0;
  long low_speed_bytes = 0, low_speed_s = 0;
  bool follow_redirects = false;
  bool verify_tls = true;
  std::string ca_file;    // a CA bundle (PEM) instead of the system's
  std::string ca_pem;     // the same as PEM bytes
  std::string client_cert_file, client_key_file;  // TLS client certificate and key (PEM files)
  std::string client_cert_pem, client_key_pem;    // the same as PEM bytes
  const std::atomic<bool>* cancel = nullptr;      // true: abort the transfer
  std::string aws_sigv4;  // CURLOPT_AWS_SIGV4 ("aws:amz:<region>:s3"), with user/password as key and secret
  std::string user, password;
  std::vector<std::string> collect_headers;  // response header names whose values ClientResult.headers returns
};

struct ResponseHead {
  long status = 0;
  int64_t content_length = -1;
};

enum class Transport { kOk, kBadRequest, kFailed, kAborted };

struct ClientResult {
  Transport transport = Transport::kOk;
  long status = 0;    // the HTTP status when an answer came
  std::string error;  // curl's message when transport != kOk
  // The final response's headers named in collect_headers, each occurrence in order (curl_easy_header;
  // bounded by curl's own limit on a response head).
  std::vector<std::pair<std::string, std::string>> headers;
};

using BodySink = std::function<bool(std::string_view data, const ResponseHead& head)>;

ClientResult Fetch(const ClientRequest& req, const BodySink& on_body);

class ClientSession {
 public:
  ClientSession();
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;
  ClientResult Fetch(const ClientRequest& req, const BodySink& on_body);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::net
