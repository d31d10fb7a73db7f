// server/rest_handler.h: the KServe V1 and Open Inference Protocol V2 REST routes, independent of
// the HTTP library (http_server.cc adapts Beast to this).
//
// Contract:
// - Handle() calls `done` exactly once. Inference runs inline on the calling (I/O) thread: a tree
//   model answers in microseconds and a thread hop would cost more. Model load/unload and V1 :explain
//   (which may take seconds) run on the slow-work pool and call `done` from a pool thread. For a model
//   with server-side batching on (Model::batching), the request is parsed and validated inline, queued
//   with Model::InferAsync, and `done` is called from the model's batcher thread (the I/O thread never
//   waits for a batch); the request body, which binary inputs view, moves into the queued call and lives
//   until it completes.
// - An inference or V2 metadata request to a model the memory budget evicted (model/repository.h) is answered
//   after the model loads again: it waits on the slow-work pool (ReloadOrError), never on an I/O thread.
// - Model names in paths are checked by ValidateModelName (model/repository.h): an invalid one is a 400.
//   With ServerOptions::repository_token set, load and unload need `Authorization: Bearer <token>` (401
//   and `WWW-Authenticate: Bearer` otherwise).
// - Every error answer is {"error": "..."} with the status code of reference/protocols.md
//   (400/404/413/500/501/503) and a message naming the field.
// - Thread-safe: one RestHandler serves all I/O threads; it holds no per-request state.
// - With a payload logger (logger/payload_logger.h; the server then collects request headers), every request
//   is offered to it before routing and its answer after: the logger copies what it sends and never blocks.
//   Without one, the only cost is one null check.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/http_status.h"  // HttpStatusFor, ErrorJson (the REST front end's error answers)
#include "core/thread_pool.h"
#include "logger/payload_logger.h"
#include "model/repository.h"
#include "protocol/v1_json.h"
#include "server/metrics.h"
#include "server/server_state.h"
#include "server/v1_passthrough.h"

namespace inferd {

struct RestRequest {
  std::string method;
  std::string target;  // path and query
  std::string body;
  std::string content_type;
  std::optional<std::string> inference_header_content_length;
  std::string request_id;  // x-request-id, may be empty
  bool cloudevent_binary = false;  // a ce-specversion header was present (CloudEvents binary mode)
  // The Authorization header, copied only for /v2/repository/ targets (the repository API's token check,
  // ServerOptions::repository_token); empty otherwise, so the inference path copies nothing more.
  std::string authorization;
  // Every request header (names lower case), filled only when ServerOptions::collect_headers is set (models that
  // take bodies whole, server/v1_passthrough.h, see the headers; the tensor path copies nothing more).
  HeaderList headers;
  // Set when the request already waited for its model's reload (the memory budget evicted it): a second
  // miss answers 503 instead of waiting again.
  bool reload_attempted = false;
};

struct RestResponse {
  int status = 200;
  std::string body;
  const char* content_type = "application/json";
  std::optional<size_t> inference_header_content_length;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (CloudEvents ce-*)
};

class RestHandler {
 public:
  // `v1_passthroughs`: the models whose V1 bodies go to them whole (metadata().v1_passthrough).
  RestHandler(ModelRepository* repo, Metrics* metrics, ServerState* state, const ServerOptions& options,
              ThreadPool* slow_pool, V1PassThroughs v1_passthroughs = {},
              logger::PayloadLogger* payload_logger = nullptr);

  void Handle(RestRequest&& req, std::function<void(RestResponse&&)> done);

 private:
  using Done = std::function<void(RestResponse&&)>;
  struct BatchedCall;  // a request queued on a model's batcher (rest_handler.cc)

  RestResponse Route(RestRequest& req, Done& done, bool* deferred);
  // Handle with the payload logger on: the request event, then Route with a `done` that logs the answer.
  void HandleLogged(RestRequest&& req, Done done);
  // Route's parts by path prefix (the segments are Route's percent-decoded path segments).
  RestResponse RouteV1(RestRequest& req, const std::vector<std::string>& seg, std::string_view path, Done& done,
                       bool* deferred);
  RestResponse RouteV2(RestRequest& req, const std::vector<std::string>& seg, std::string_view path, Done& done,
                       bool* deferred);
  RestResponse RouteRepository(RestRequest& req, const std::vector<std::string>& seg, std::string_view path,
                               Done& done, bool* deferred);
  // The inference routes answer through `done` (and set *deferred) when the model batches.
  RestResponse V1Predict(RestRequest& req, std::string_view model, std::string_view version, Done& done,
                         bool* deferred);
  RestResponse V1PredictJson(RestRequest& req, std::string_view model, std::string_view version, Done& done,
                             bool* deferred);
  RestResponse V2Infer(RestRequest& req, std::string_view model, std::string_view version, Done& done,
                       bool* deferred);
  // The batched path of V1PredictJson / V2Infer: takes over `req` and `done`, always sets *deferred.
  RestResponse InferBatched(std::shared_ptr<Model> model, bool v1, RestRequest& req, std::string_view model_name,
                            std::optional<size_t> header_length, int64_t t0, Done& done, bool* deferred);
  void CompleteBatched(BatchedCall& call, Status status, const InferTiming& timing);
  // `POST /v1/models/<m>:explain`: the model's registered explainer (server/v1_passthrough.h), else 501. An
  // explanation can take seconds (an attack's thousand predictor calls, KernelSHAP's samples): it runs on the
  // slow-work pool, never on an I/O thread (takes over `req` and `done`, sets *deferred; 503 when the pool's
  // queue is full; inline when the handler has no pool).
  RestResponse V1Explain(RestRequest& req, std::shared_ptr<Model> model, Done& done, bool* deferred);
  // repo_->Get for an inference request (ReloadOrError counts a miss in inferd_requests_rejected_total).
  StatusOr<std::shared_ptr<Model>> LookupForInference(std::string_view model, std::string_view version);
  // What ReloadOrError runs again once the model is back.
  enum class Retry { kV1Predict, kV2Infer, kV2Metadata };
  // The answer to a request whose model lookup failed with `st`: for a model the memory budget evicted, the
  // request (`req`, `done`) moves to the slow-work pool, waits there for the model's reload
  // (ModelRepository::WaitForReload, bounded by ServerOptions::reload_timeout_ms and --max_reload_waiters)
  // and runs again (`retry`: V1PredictJson, V2Infer or ModelMetadataResponse); *deferred is set. Otherwise
  // Error(st) (an inference request's counted as rejected).
  RestResponse ReloadOrError(Status st, RestRequest& req, std::string_view model, std::string_view version,
                             Retry retry, Done& done, bool* deferred);
  // Runs a request whose parsing gave `parsed` (unless that failed), records metrics, logs model
  // failures with the request id. Returns the final status.
  Status Execute(Model& model, Status parsed, const std::string& request_id, int64_t t0, InferRequest& ireq,
                 InferResponse* iresp);
  // Records metrics for a finished request and logs model failures. Returns `status`.
  Status Record(Model& model, Status status, const std::string& request_id, int64_t t0, const InferTiming& timing,
                const InferRequest& ireq);
  // Encodes a successful inference.
  static RestResponse V1Answer(const InferResponse& iresp, V1Form form);
  static RestResponse V2Answer(const Model& model, InferRequest& ireq, InferResponse& iresp);
  RestResponse ModelListResponse();  // {"models":[ready names]}, V1 and V2 alike
  // GET /v2/models/<m>[/versions/<v>]: an evicted model is loaded again first (ReloadOrError).
  RestResponse ModelMetadataResponse(RestRequest& req, std::string_view model, std::string_view version, Done& done,
                                     bool* deferred);
  RestResponse ModelReadyResponse(std::string_view model, std::string_view version, bool v1);
  RestResponse V1ModelGet(const std::string& model, const std::string& version, bool metadata, std::string_view path);

  ModelRepository* repo_;
  Metrics* metrics_;
  ServerState* state_;
  ServerOptions options_;
  ThreadPool* slow_pool_;
  const V1PassThroughs v1_passthroughs_;
  logger::PayloadLogger* const payload_logger_;
};

}  // namespace inferd
