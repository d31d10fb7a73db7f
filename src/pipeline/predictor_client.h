// pipeline/predictor_client.h: the call from a transformer or explainer to its predictor, as KServe's
// kserve.Model default predict makes it (shared/reference/pipeline.md §1.5), native: REST V1
// (`POST /v1/models/<m>:predict`), REST V2 (`POST /v2/models/<m>/infer`, with the binary extension when
// the body carries raw tensors) or gRPC V2 (ModelInfer). Used by the Python shim's default predict
// (backends/python, the `_inferd_predictor` builtin module) and by native explainers (ART).
//
// Contract:
// - Where it connects (RouteFor, pure): when `gateway` (INFERD_GATEWAY for REST, INFERD_GATEWAY_GRPC for
//   gRPC; PredictorConfig::FromEnv reads them) is set and the predictor host is not an IP literal or
//   localhost, the connection goes to the gateway with Host / :authority = the predictor host (without its
//   port); otherwise straight to predictor_host. gRPC without a port gets :80 (:443 with use_ssl), as KServe.
// - Headers forwarded from the incoming request: exactly x-request-id, x-b3-traceid and authorization
//   (lower-case names; KServe's _FORWARDABLE_HEADERS); every other incoming header is dropped.
// - Errors as KServe answers them (its transformer turns any predictor failure into 500): a non-2xx answer
//   is kInternal "HTTPStatusError : <predictor's error>, '<status> <reason>' for url '<url>'" (the
//   predictor's `error` field when its body is JSON; HttpStatusOf() gives the status back to callers that
//   want to pass it on); no connection is kInternal
//   "ConnectError : <why>", the timeout kInternal "ReadTimeout : ..."; a gRPC failure is kInternal
//   "AioRpcError : <code>: <message>". The message always names the predictor host.
// - Bounds: timeout_s for the whole call (KServe's --predictor_request_timeout_seconds, default 600); the
//   answer body is limited to max_response_bytes (kInternal "ResponseTooLarge : ..." above it).
// - REST is never retried (KServe's REST client never is); gRPC retries UNAVAILABLE up to `retries` times.
// - Connections are pooled and kept alive (one libcurl connection cache and one gRPC channel per client);
//   a client may be used from any number of threads at once. No call holds a lock while waiting on the
//   network. Callers that hold Python's GIL release it around these calls (the builtin module does).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "model/passthrough.h"

namespace inference {
class ModelInferRequest;
class ModelInferResponse;
}  // namespace inference

namespace inferd::pipeline {

enum class PredictorProtocol { kRestV1, kRestV2, kGrpcV2 };

// "v1", "v2", "grpc-v2" (KServe's spellings); anything else is kInvalidArgument naming the value.
StatusOr<PredictorProtocol> ParsePredictorProtocol(std::string_view s);
std::string_view PredictorProtocolName(PredictorProtocol p);

struct PredictorConfig {
  std::string host;  // --predictor_host: host[:port] (no scheme)
  PredictorProtocol protocol = PredictorProtocol::kRestV1;
  bool use_ssl = false;      // https / a TLS gRPC channel
  double timeout_s = 600;    // whole call
  int retries = 0;           // gRPC only (UNAVAILABLE)
  std::string gateway_http;  // "127.0.0.1:<port>" or "" (INFERD_GATEWAY)
  std::string gateway_grpc;  // "127.0.0.1:<port>" or "" (INFERD_GATEWAY_GRPC)
  int64_t max_response_bytes = int64_t{1} << 30;

  // This config with gateway_http / gateway_grpc taken from the environment when they are empty.
  PredictorConfig WithGatewayFromEnv() const;
};

// Where one call connects and what it names as Host / :authority. Pure.
struct PredictorRoute {
  std::string connect;    // host:port to connect to
  std::string authority;  // Host header / :authority ("" = the default, i.e. `connect`)
};
PredictorRoute RouteFor(std::string_view predictor_host, std::string_view gateway, bool grpc, bool use_ssl);

struct PredictorReply {
  long status = 0;       // HTTP status (2xx here)
  std::string body;      // the answer: JSON, or JSON followed by binary tensors (V2 binary extension)
  int64_t json_length = -1;  // inference-header-content-length, -1 when absent
  HeaderList headers;    // every response header (lower-case names) except content-length
};

class PredictorClient {
 public:
  explicit PredictorClient(PredictorConfig config);  // no I/O; connections open on first use
  ~PredictorClient();
  PredictorClient(const PredictorClient&) = delete;
  PredictorClient& operator=(const PredictorClient&) = delete;

  const PredictorConfig& config() const;

  // POST <base>/v1/models/<model>:predict, Content-Type application/json. `incoming` are the caller's
  // request headers (may be null), of which the three forwardable ones are sent.
  StatusOr<PredictorReply> PredictV1(std::string_view model, std::string_view json,
                                     const HeaderList* incoming = nullptr) const;
  // POST <base>/v2/models/<model>/infer. json_length < body.size() sends the binary extension
  // (inference-header-content-length, application/octet-stream); otherwise application/json.
  StatusOr<PredictorReply> InferV2(std::string_view model, std::string_view body, size_t json_length,
                                   const HeaderList* incoming = nullptr) const;
  // gRPC ModelInfer on the V2 service.
  Status InferGrpc(const inference::ModelInferRequest& request, inference::ModelInferResponse* response,
                   const HeaderList* incoming = nullptr) const;

  // --enable_predictor_health_check: the predictor's server readiness (GET / for v1, GET /v2/health/ready
  // for v2, ServerReady for grpc-v2) and model readiness (GET /v1/models/<m>, /v2/models/<m>/ready,
  // ModelReady). Ok when ready; any error or non-2xx is kUnavailable naming the predictor. A probe waits at
  // most 5 s (or timeout_s when shorter).
  Status ServerReady() const;
  Status ModelReady(std::string_view model) const;

  // The predictor's HTTP status inside a failure from PredictV1 / InferV2 / ServerReady / ModelReady
  // ("HTTPStatusError : ... '<status> <reason>' for url ..."), or 0 when the failure was no HTTP answer.
  static long HttpStatusOf(const Status& st);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace inferd::pipeline
