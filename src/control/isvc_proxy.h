// control/isvc_proxy.h: the web app's "try it" call, POST|GET
// /inferd/v1/namespaces/{ns}/inferenceservices/{name}/proxy/<path> (docs/webapp.md, "Try it"): forwarded to
// inferd's own gateway as if sent to the service's URL (Host {name}.{ns}.{domain}, the gateway's token when it
// has one), and the answer passed back with its status and Content-Type (ProxyAnswerContentType).
//
// Contract: <path> must start with `v1/models/` or `v2/models/` and hold only [A-Za-z0-9._~:/-] with no `..`
// segment (400 otherwise); the method is POST or GET (405 otherwise). Bounds: the request body and the answer
// at most 8 MiB (413 / 502 beyond), the whole call 30 s (504). The gateway unreachable: 502. Runs on an API
// stream thread (blocking). Errors are Kubernetes Status objects written to `out` with their status code.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/api_server.h"
#include "core/status.h"

namespace inferd::control {

struct ProxyTarget {
  std::string gateway;  // "http://127.0.0.1:8080"
  std::string host;     // the service's host, "iris.default.example.com"
  std::string token;    // the gateway's bearer token, "" = none
  size_t max_bytes = 8 << 20;
  long timeout_s = 30;
};

// Why `method` and `path` (after ".../proxy/") may not be forwarded; nullopt when they may.
struct ProxyError {
  int code;
  std::string reason, message;
};
std::optional<ProxyError> CheckProxyPath(std::string_view method, std::string_view path);

// The Content-Type the answer is passed back with: the upstream's when it is application/json or
// application/octet-stream (what KServe's protocols answer), else text/plain. A model's answer is data, never a
// page of the web app's origin (where the session cookie lives): a custom container answering text/html must
// not run script there when the proxy URL is opened directly. The answer also carries nosniff and a sandboxing
// Content-Security-Policy.
std::string ProxyAnswerContentType(std::string_view upstream);

// Forwards `req` (its body and Content-Type) to `path` at the gateway and writes the answer to `out`.
Status ProxyToGateway(const ProxyTarget& target, std::string_view path, const api::ApiRequest& req,
                      api::ApiStream& out);

}  // namespace inferd::control
