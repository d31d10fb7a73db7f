#include "server/rest_handler.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "core/bearer.h"
#include "core/clock.h"
#include "core/json_depth.h"
#include "core/http_status.h"
#include "core/logging.h"
#include "core/percent.h"
#include "core/uuid.h"
#include "model/request_context.h"
#include "protocol/json_tensor.h"
#include "protocol/json_writer.h"
#include "protocol/v1_json.h"
#include "protocol/v2_json.h"

namespace inferd {

namespace {

RestResponse Error(const Status& st) {
  RestResponse r;
  r.status = HttpStatusFor(st.code());
  r.body = ErrorJson(st.message());
  return r;
}

RestResponse Json(std::string body, int status = 200) {
  RestResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

int64_t BatchRows(const InferRequest& req) {
  if (req.inputs.empty() || req.inputs[0].shape().empty()) return 1;
  return req.inputs[0].shape()[0];
}

}  // namespace

RestHandler::RestHandler(ModelRepository* repo, Metrics* metrics, ServerState* state, const ServerOptions& options,
                         ThreadPool* slow_pool, V1PassThroughs v1_passthroughs,
                         logger::PayloadLogger* payload_logger)
    : repo_(repo),
      metrics_(metrics),
      state_(state),
      options_(options),
      slow_pool_(slow_pool),
      v1_passthroughs_(std::move(v1_passthroughs)),
      payload_logger_(payload_logger) {}

void RestHandler::Handle(RestRequest&& req, std::function<void(RestResponse&&)> done) {
  if (payload_logger_) [[unlikely]] {
    HandleLogged(std::move(req), std::move(done));
    return;
  }
  bool deferred = false;
  RestResponse r = Route(req, done, &deferred);
  if (!deferred) done(std::move(r));
}

void RestHandler::HandleLogged(RestRequest&& req, Done done) {
  auto pending = payload_logger_->OnRequest(req.method, req.target, req.headers, req.content_type, req.body);
  if (pending) {
    done = [logger = payload_logger_, p = std::move(*pending), inner = std::move(done)](RestResponse&& r) mutable {
      logger->OnResponse(std::move(p), r.status, r.body);
      inner(std::move(r));
    };
  }
  bool deferred = false;
  RestResponse r = Route(req, done, &deferred);
  if (!deferred) done(std::move(r));
}

RestResponse RestHandler::ModelReadyResponse(std::string_view model, std::string_view version, bool v1) {
  auto m = repo_->Get(model, version);
  if (!m.ok() && m.status().code() != StatusCode::kUnavailable) return Error(m.status());  // unknown, invalid
  // An evicted model is ready for inference: its next request loads it (model/repository.h).
  const bool ready = m.ok() || repo_->Evicted(model);
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("name");
  w.String(model);
  w.Key("ready");
  w.Bool(ready);
  if (!ready && v1) {
    w.Key("error");
    w.String(m.status().message());
  }
  w.EndObject();
  return Json(std::move(out), ready ? 200 : 503);
}

RestResponse RestHandler::ModelListResponse() {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("models");
  w.BeginArray();
  for (const auto& name : repo_->ReadyModelNames()) w.String(name);
  w.EndArray();
  w.EndObject();
  return Json(std::move(out));
}

RestResponse RestHandler::ModelMetadataResponse(RestRequest& req, std::string_view model, std::string_view version,
                                                Done& done, bool* deferred) {
  auto m = repo_->Get(model, version);
  if (!m.ok()) return ReloadOrError(m.status(), req, model, version, Retry::kV2Metadata, done, deferred);
  std::string out;
  WriteV2ModelMetadata((*m)->metadata(), &out);
  return Json(std::move(out));
}

namespace {

// The body of a repository load/unload (Triton's: `{"parameters": {...}}`). inferd loads a model's files as
// they are on disk, so a load's `config` or `file:<path>` overrides are refused rather than ignored; an
// unload's `unload_dependents` is accepted (inferd has no ensembles, so a model has no dependents).
Status CheckRepositoryBody(bool load, const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return Status::Ok();
  const char* verb = load ? "repository load" : "repository unload";
  auto parsed = ParseBoundedJson(body, std::string(verb) + " body");
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return InvalidArgument(std::string(verb) + " body must be a JSON object");
  for (const auto& [key, value] : parsed->items()) {
    if (key != "parameters") {
      return InvalidArgument(std::string(verb) + ": unknown field '" + key.substr(0, 100) + "'");
    }
    if (!value.is_object()) return InvalidArgument(std::string(verb) + ": parameters must be an object");
    for (const auto& [name, v] : value.items()) {
      if (!load && name == "unload_dependents" && v.is_boolean()) continue;
      return InvalidArgument(std::string(verb) + ": parameters." + name.substr(0, 100) +
                             " is not supported (inferd " + (load ? "loads the model's files as they are on disk" :
                                                                      "takes no unload parameters but unload_dependents") +
                             ")");
    }
  }
  return Status::Ok();
}

std::string Rfc3339Now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s.%06lldZ", buf, static_cast<long long>(us));
  return out;
}

// CloudEvents on V1 predict (KServe's behaviour): binary mode (ce-* headers, body = data) or structured
// mode (application/cloudevents+json, the predict body in `data`). The answer is an event of type
// io.kserve.inference.response from io.kserve.inference.<model> with a new id, in the same mode.
bool IsStructuredCloudEvent(const RestRequest& req) {
  return req.content_type.starts_with("application/cloudevents+json");
}

// Extracts `data` of a structured event (JSON object or string) as the predict body.
Status StructuredEventData(const std::string& body, std::string* data) {
  simdjson::dom::element doc, d;
  RETURN_IF_ERROR(ParseJson(body, &doc, "CloudEvent"));
  if (doc.type() != simdjson::dom::element_type::OBJECT) return InvalidArgument("CloudEvent: must be a JSON object");
  std::string_view sv;
  if (doc["specversion"].get(sv)) return InvalidArgument("CloudEvent.specversion: missing");
  if (doc["data"].get(d)) return InvalidArgument("CloudEvent.data: missing");
  if (d.type() == simdjson::dom::element_type::STRING) {
    *data = std::string(d.get_string().value_unsafe());
  } else {
    *data = simdjson::minify(d);
  }
  return Status::Ok();
}

// The answer to a failed model load (repository load, or an evicted model's reload for a request): Error's,
// except that a model larger than the whole memory budget is 507 Insufficient Storage (model/repository.h).
RestResponse LoadError(const Status& st) {
  RestResponse r = Error(st);
  if (IsMemoryBudgetRefusal(st)) r.status = 507;
  return r;
}

void WrapCloudEvent(const RestRequest& req, std::string_view model, RestResponse* r) {
  std::string source = "io.kserve.inference." + std::string(model);
  if (IsStructuredCloudEvent(req)) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject();
    w.Key("specversion"); w.String("1.0");
    w.Key("id"); w.String(NewUuid());
    w.Key("source"); w.String(source);
    w.Key("type"); w.String("io.kserve.inference.response");
    w.Key("time"); w.String(Rfc3339Now());
    w.Key("datacontenttype"); w.String("application/json");
    w.Key("data"); w.Raw(r->body);
    w.EndObject();
    r->body = std::move(out);
    r->content_type = "application/cloudevents+json";
    return;
  }
  r->headers = {{"ce-specversion", "1.0"},
                {"ce-id", NewUuid()},
                {"ce-source", source},
                {"ce-type", "io.kserve.inference.response"},
                {"ce-time", Rfc3339Now()}};
}

}  // namespace

RestResponse RestHandler::V1Predict(RestRequest& req, std::string_view model_name, std::string_view version,
                                    Done& done, bool* deferred) {
  if (IsStructuredCloudEvent(req)) {
    std::string data;
    if (Status st = StructuredEventData(req.body, &data); !st.ok()) return Error(st);
    req.body = std::move(data);
  }
  RestResponse r = V1PredictJson(req, model_name, version, done, deferred);
  if (*deferred) return r;  // batched: the completion wraps the event
  if (r.status == 200 && (req.cloudevent_binary || IsStructuredCloudEvent(req))) WrapCloudEvent(req, model_name, &r);
  return r;
}

Status RestHandler::Record(Model& model, Status status, const std::string& request_id, int64_t t0,
                           const InferTiming& timing, const InferRequest& ireq) {
  metrics_->RecordInfer(model, status, timing, NowNs() - t0, BatchRows(ireq));
  if (status.code() == StatusCode::kInternal) {
    LOG_ERROR("[rid={}] model '{}': {}", request_id, model.name(), status.message());
  }
  return status;
}

Status RestHandler::Execute(Model& model, Status parsed, const std::string& request_id, int64_t t0,
                            InferRequest& ireq, InferResponse* iresp) {
  InferTiming timing;
  if (parsed.ok()) parsed = model.Infer(ireq, iresp, &timing);
  return Record(model, std::move(parsed), request_id, t0, timing, ireq);
}

RestResponse RestHandler::V1Answer(const InferResponse& iresp, V1Form form) {
  RestResponse r;
  r.body.reserve(64 + iresp.outputs[0].byte_size() * 3);
  WriteV1PredictResponse(iresp.outputs[0], form, &r.body);
  return r;
}

RestResponse RestHandler::V2Answer(const Model& model, InferRequest& ireq, InferResponse& iresp) {
  iresp.model_name = model.name();
  iresp.model_version = model.version();
  iresp.id = ireq.id.empty() ? NewUuid() : std::move(ireq.id);
  bool binary_all = GetBoolParameter(ireq.parameters, "binary_data_output", false);
  iresp.parameters = std::move(ireq.parameters);
  RestResponse r;
  r.body.reserve(256);
  r.inference_header_content_length = WriteV2InferResponse(iresp, binary_all, &r.body);
  if (r.inference_header_content_length) r.content_type = "application/octet-stream";
  return r;
}

namespace {

// V1 `predictions` are made of one output (ModelMetadata::v1_output): a V1 request asks for that one only.
void RequestV1Output(const ModelMetadata& md, InferRequest* ireq) {
  ireq->outputs.push_back({md.outputs[static_cast<size_t>(md.v1_output)].name, {}});
}

}  // namespace

// A request queued on a model's batcher. It owns everything the queued inference points into (the
// body that binary inputs view, the InferRequest/Response) until the completion has answered.
struct RestHandler::BatchedCall {
  BatchedGuard guard;  // first member: released last, after the answer was handed to `done`
  RestRequest req;
  std::shared_ptr<Model> model;
  std::string model_name;  // as addressed (CloudEvents source)
  bool v1 = false;
  V1Form form = V1Form::kInstances;
  InferRequest ireq;
  InferResponse iresp;
  int64_t t0 = 0;
  Done done;
  explicit BatchedCall(ServerState* state) : guard(state) {}
};

RestResponse RestHandler::InferBatched(std::shared_ptr<Model> model, bool v1, RestRequest& req,
                                       std::string_view model_name, std::optional<size_t> header_length, int64_t t0,
                                       Done& done, bool* deferred) {
  auto call = std::make_shared<BatchedCall>(state_);
  call->req = std::move(req);  // before parsing: inputs may view the body
  call->model = std::move(model);
  call->model_name = std::string(model_name);
  call->v1 = v1;
  call->t0 = t0;
  call->done = std::move(done);
  *deferred = true;
  Model& m = *call->model;
  Status st;
  if (v1) {
    call->ireq.model_name = m.name();
    call->ireq.inferred_datatypes = true;
    st = ParseV1PredictRequest(call->req.body, m.metadata(), &call->ireq, &call->form);
    if (st.ok()) RequestV1Output(m.metadata(), &call->ireq);
  } else {
    st = ParseV2InferRequest(call->req.body, header_length, &call->ireq);
  }
  if (st.ok()) {
    st = m.InferAsync(&call->ireq, &call->iresp, [this, call](Status result, const InferTiming& timing) {
      CompleteBatched(*call, std::move(result), timing);
    });
  }
  if (!st.ok()) {  // rejected before queueing (bad input, queue full): answer now, on this thread
    call->done(Error(Record(m, std::move(st), call->req.request_id, t0, InferTiming{}, call->ireq)));
  }
  return {};
}

void RestHandler::CompleteBatched(BatchedCall& call, Status status, const InferTiming& timing) {
  Model& m = *call.model;
  status = Record(m, std::move(status), call.req.request_id, call.t0, timing, call.ireq);
  RestResponse r;
  if (!status.ok()) {
    r = Error(status);
  } else if (call.v1) {
    r = V1Answer(call.iresp, call.form);
    if (call.req.cloudevent_binary || IsStructuredCloudEvent(call.req)) WrapCloudEvent(call.req, call.model_name, &r);
  } else {
    r = V2Answer(m, call.ireq, call.iresp);
  }
  call.done(std::move(r));
}

StatusOr<std::shared_ptr<Model>> RestHandler::LookupForInference(std::string_view model, std::string_view version) {
  return repo_->Get(model, version);
}

RestResponse RestHandler::ReloadOrError(Status st, RestRequest& req, std::string_view model,
                                        std::string_view version, Retry retry, Done& done, bool* deferred) {
  const bool inference = retry != Retry::kV2Metadata;
  if (st.code() != StatusCode::kUnavailable || req.reload_attempted || !slow_pool_ || !repo_->Evicted(model)) {
    if (inference) metrics_->RecordRejected("rest");
    return Error(st);
  }
  auto waiter = repo_->AdmitReloadWaiter(model);
  if (!waiter.ok()) {
    if (inference) metrics_->RecordRejected("rest");
    return Error(waiter.status());
  }
  struct Call {
    explicit Call(ServerState* state) : guard(state) {}
    BatchedGuard guard;  // first member: released last, after the answer was handed to `done`
    RestRequest req;
    Done done;
    std::string model, version;
    ReloadWaiter waiter;
  };
  auto call = std::make_shared<Call>(state_);
  call->req = std::move(req);
  call->req.reload_attempted = true;
  call->done = std::move(done);
  call->model = std::string(model);
  call->version = std::string(version);
  call->waiter = std::move(*waiter);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.reload_timeout_ms);
  auto task = [this, call, retry, deadline] {
    // `m` pins the reloaded model until the request's own lookup below has it: it cannot be evicted between.
    auto m = repo_->WaitForReload(call->waiter, call->model, call->version, deadline);
    if (!m.ok()) return call->done(LoadError(m.status()));
    bool again_deferred = false;
    RestResponse r;
    switch (retry) {
      case Retry::kV1Predict:
        r = V1PredictJson(call->req, call->model, call->version, call->done, &again_deferred);
        break;
      case Retry::kV2Infer:
        r = V2Infer(call->req, call->model, call->version, call->done, &again_deferred);
        break;
      case Retry::kV2Metadata:
        r = ModelMetadataResponse(call->req, call->model, call->version, call->done, &again_deferred);
        break;
    }
    if (again_deferred) return;  // batched: the batcher answers
    if (retry == Retry::kV1Predict && r.status == 200 && (call->req.cloudevent_binary || IsStructuredCloudEvent(call->req))) {
      WrapCloudEvent(call->req, call->model, &r);
    }
    call->done(std::move(r));
  };
  *deferred = true;
  if (!slow_pool_->Submit(task)) {
    call->done(Error(Unavailable("too many requests wait for models to load; retry later")));
  }
  return {};
}

namespace {

// A pass-through's answer (server/v1_passthrough.h) as the REST answer: its body as JSON, its headers and status.
RestResponse AnswerOf(PassThroughAnswer&& a) {
  RestResponse r = Json(std::move(a.body));
  r.headers = std::move(a.headers);
  r.status = a.status;
  return r;
}

PassThroughCall PassThroughOf(const RestRequest& req, int64_t deadline_ns = 0) {
  return PassThroughCall{req.body, req.content_type, req.request_id, req.headers.empty() ? nullptr : &req.headers,
                         deadline_ns};
}

}  // namespace

RestResponse RestHandler::V1Explain(RestRequest& req, std::shared_ptr<Model> model, Done& done, bool* deferred) {
  // An explanation may take seconds (KernelSHAP calls the model thousands of times; an attack calls the predictor
  // a thousand times; a Python explain() may do anything): it runs on the slow-work pool, so the I/O thread keeps
  // serving its other connections, and counts as in flight for the drain (inline for a handler without a pool).
  struct Call {
    explicit Call(ServerState* state) : guard(state) {}
    BatchedGuard guard;  // first member: released last, after the answer was handed to `done`
    RestRequest req;
    std::shared_ptr<Model> model;
    Done done;
    int64_t t0 = NowNs();
  };
  auto call = std::make_shared<Call>(state_);
  call->req = std::move(req);
  call->model = std::move(model);
  call->done = std::move(done);
  auto task = [this, call] {
    InferTiming timing;
    auto out = v1_passthroughs_.Explain(*call->model, PassThroughOf(call->req), &timing);
    Status st = Record(*call->model, out.status(), call->req.request_id, call->t0, timing, InferRequest{});
    if (!st.ok()) return call->done(Error(st));
    call->done(AnswerOf(std::move(*out)));
  };
  *deferred = true;
  if (!slow_pool_) {
    task();  // a handler made without a pool (tests): inline
  } else if (!slow_pool_->Submit(task)) {
    call->done(Error(Unavailable("too many explanations queued; retry later")));
  }
  return {};
}

RestResponse RestHandler::V1PredictJson(RestRequest& req, std::string_view model_name, std::string_view version,
                                        Done& done, bool* deferred) {
  int64_t t0 = NowNs();
  auto m = LookupForInference(model_name, version);
  if (!m.ok()) return ReloadOrError(m.status(), req, model_name, version, Retry::kV1Predict, done, deferred);
  // Custom Python models, and frameworks with their own dialect (TF Serving's): the body goes to the model whole.
  if ((*m)->metadata().v1_passthrough || (*m)->backend().native_rest()) {
    Model& model = **m;
    InferTiming timing;
    // TF Serving's --rest_api_timeout_in_ms bounds the model's run (from the request's arrival here).
    const int64_t timeout_ms = model.backend().native_rest() ? options_.rest_api_timeout_ms : 0;
    auto out = v1_passthroughs_.Predict(model, PassThroughOf(req, timeout_ms > 0 ? t0 + timeout_ms * 1000000 : 0),
                                        &timing);
    Status st = Record(model, out.status(), req.request_id, t0, timing, InferRequest{});
    if (!st.ok()) return Error(st);
    return AnswerOf(std::move(*out));
  }
  if ((*m)->batching()) return InferBatched(std::move(*m), true, req, model_name, std::nullopt, t0, done, deferred);
  Model& model = **m;
  InferRequest ireq;
  ireq.model_name = model.name();
  ireq.inferred_datatypes = true;
  V1Form form;
  Status st = ParseV1PredictRequest(req.body, model.metadata(), &ireq, &form);
  if (st.ok()) RequestV1Output(model.metadata(), &ireq);
  InferResponse iresp;
  st = Execute(model, st, req.request_id, t0, ireq, &iresp);
  if (!st.ok()) return Error(st);
  return V1Answer(iresp, form);
}

RestResponse RestHandler::V2Infer(RestRequest& req, std::string_view model_name, std::string_view version,
                                  Done& done, bool* deferred) {
  int64_t t0 = NowNs();
  auto m = LookupForInference(model_name, version);
  if (!m.ok()) return ReloadOrError(m.status(), req, model_name, version, Retry::kV2Infer, done, deferred);
  Model& model = **m;
  std::optional<size_t> header_length;
  if (req.inference_header_content_length) {
    const std::string& h = *req.inference_header_content_length;
    size_t v = 0;
    auto r = std::from_chars(h.data(), h.data() + h.size(), v);
    if (r.ec != std::errc() || r.ptr != h.data() + h.size()) {
      return Error(InvalidArgument("Inference-Header-Content-Length: '" + h + "' is not a non-negative integer"));
    }
    header_length = v;
  } else if (req.content_type.starts_with("application/octet-stream")) {
    return Error(InvalidArgument(
        "Inference-Header-Content-Length: header missing on a binary (application/octet-stream) request"));
  }
  if (model.batching()) return InferBatched(std::move(*m), false, req, model_name, header_length, t0, done, deferred);
  InferRequest ireq;
  InferResponse iresp;
  Status st = ParseV2InferRequest(req.body, header_length, &ireq);
  // The request's id, parameters and headers for a model that hands them to user code (a custom Python
  // model's preprocess), and the headers it answers with (model/request_context.h).
  HeaderList response_headers;
  const RequestContext ctx{ireq.id, &ireq.parameters, req.headers.empty() ? nullptr : &req.headers,
                           &response_headers};
  {
    ScopedRequestContext scope(&ctx);
    st = Execute(model, st, req.request_id, t0, ireq, &iresp);
  }
  if (!st.ok()) return Error(st);
  RestResponse r = V2Answer(model, ireq, iresp);
  for (auto& h : response_headers) r.headers.push_back(std::move(h));
  return r;
}

namespace {

// 405 naming the method and the path.
RestResponse MethodNotAllowed(const RestRequest& req, std::string_view path) {
  RestResponse r = Error(InvalidArgument("method " + req.method + " is not allowed on " + std::string(path)));
  r.status = 405;
  return r;
}

}  // namespace

// Route, RouteV1, RouteV2 and RouteRepository are split for size only. They take the decoded segments by
// reference (no allocation added); GCC 12 does not inline RouteV1/RouteV2, so a request makes one more direct
// call, measured as no cost (docs/benchmarks.md, "Control plane and HTTP layer before and after issue 13").
RestResponse RestHandler::Route(RestRequest& req, Done& done, bool* deferred) {
  std::string_view target = req.target;
  std::string_view path = target.substr(0, target.find('?'));
  auto parts = SplitPath(path);
  // Segments are percent-decoded one by one (a model name may contain an encoded ':' or space).
  std::vector<std::string> seg(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    auto decoded = PercentDecode(parts[i]);
    if (!decoded.ok()) return Error(InvalidArgument("path: malformed percent-encoding"));
    seg[i] = std::move(*decoded);
  }
  size_t n = seg.size();

  if (state_->draining.load(std::memory_order_relaxed) && req.method == "POST") {
    return Error(Unavailable("server is shutting down"));
  }

  if (n == 0) {
    if (req.method != "GET") return MethodNotAllowed(req, path);
    return Json("{\"status\":\"alive\"}");
  }
  if (n == 1 && seg[0] == "metrics") {
    RestResponse r;
    r.body = metrics_->Serialize(repo_);
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  }
  if (seg[0] == "v1" && n >= 2 && seg[1] == "models") return RouteV1(req, seg, path, done, deferred);
  if (seg[0] == "v2") return RouteV2(req, seg, path, done, deferred);
  return Error(NotFound("unknown path " + std::string(path)));
}

// KServe V1: /v1/models, /v1/models/{m}[:verb] and /v1/models/{m}/versions/{v}[:verb].
RestResponse RestHandler::RouteV1(RestRequest& req, const std::vector<std::string>& seg, std::string_view path,
                                  Done& done, bool* deferred) {
  const size_t n = seg.size();
  const bool get = req.method == "GET", post = req.method == "POST";
  if (n == 2) {
    if (!get) return MethodNotAllowed(req, path);
    return ModelListResponse();
  }
  std::string last = seg[n - 1];
  std::string verb;
  size_t colon = last.rfind(':');
  if (colon != std::string::npos) {
    verb = last.substr(colon + 1);
    last = last.substr(0, colon);
  }
  std::string model, version;
  // TF Serving's `.../metadata` (answered for models whose backend speaks its dialect: model/native_rest.h).
  const bool metadata = verb.empty() && (n == 4 || n == 6) && last == "metadata";
  if (n == 3) {
    model = last;
  } else if (n == 4 && metadata) {
    model = seg[2];
  } else if ((n == 5 || (n == 6 && metadata)) && seg[3] == "versions") {
    model = seg[2];
    version = n == 5 ? last : seg[4];
  } else {
    return Error(NotFound("unknown path " + std::string(path)));
  }
  if (verb.empty()) {
    if (!get) return MethodNotAllowed(req, path);
    return V1ModelGet(model, version, metadata, path);
  }
  if (!post) return MethodNotAllowed(req, path);
  if (verb == "predict") return V1Predict(req, model, version, done, deferred);
  if (verb == "explain" || verb == "classify" || verb == "regress") {
    auto m = repo_->Get(model, version);
    if (!m.ok()) return Error(m.status());
    if (verb == "explain") return V1Explain(req, std::move(*m), done, deferred);
    // TF Serving's tf.Example verbs, answered by a backend that speaks its dialect (model/native_rest.h).
    if (!(*m)->backend().native_rest()) return Error(Unimplemented(":" + verb + " is not implemented; use :predict"));
    const int64_t t0 = NowNs();
    InferTiming timing;
    auto out = v1_passthroughs_.NativeVerb(**m, verb, PassThroughOf(req), &timing);
    Status st = Record(**m, out.status(), req.request_id, t0, timing, InferRequest{});
    if (!st.ok()) return Error(st);
    return AnswerOf(std::move(*out));
  }
  return Error(NotFound("unknown verb ':" + verb + "' in " + std::string(path)));
}

// GET /v1/models/<m>[/versions/<v>][/metadata]: KServe's readiness answer, or the model's own dialect's status and
// metadata (model/native_rest.h) when its backend speaks one.
RestResponse RestHandler::V1ModelGet(const std::string& model, const std::string& version, bool metadata,
                                     std::string_view path) {
  auto m = repo_->Get(model, version);
  NativeRestApi* api = m.ok() ? (*m)->backend().native_rest() : nullptr;
  if (!api) {
    if (metadata) return Error(NotFound("unknown path " + std::string(path)));
    return ModelReadyResponse(model, version, /*v1=*/true);
  }
  const std::string loaded = (*m)->metadata().versions.empty() ? "" : (*m)->metadata().versions.front();
  auto out = metadata ? api->Metadata(model, loaded) : api->ModelStatus(model, loaded);
  if (!out.ok()) return Error((*m)->WithModelName(out.status()));
  RestResponse r = Json(std::move(out->body));
  r.headers = std::move(out->headers);
  r.status = out->status;
  return r;
}

// Open Inference Protocol V2: server metadata, health, models and the repository extension.
RestResponse RestHandler::RouteV2(RestRequest& req, const std::vector<std::string>& seg, std::string_view path,
                                  Done& done, bool* deferred) {
  const size_t n = seg.size();
  const bool get = req.method == "GET", post = req.method == "POST";
  if (n == 1) {
    if (!get) return MethodNotAllowed(req, path);
    std::string out;
    JsonWriter w(&out);
    w.BeginObject();
    w.Key("name");
    w.String(options_.server_name);
    w.Key("version");
    w.String(options_.server_version);
    w.Key("extensions");
    w.BeginArray();
    w.String("model_repository");
    w.String("binary_tensor_data");
    w.EndArray();
    w.EndObject();
    return Json(std::move(out));
  }
  if (seg[1] == "health" && n == 3) {
    if (!get) return MethodNotAllowed(req, path);
    if (seg[2] == "live") return Json("{\"live\":true}");
    if (seg[2] == "ready") {
      bool ready = !state_->draining.load(std::memory_order_relaxed) && repo_->AllReady() &&
                   (!state_->dependency_ready || state_->dependency_ready());
      return Json(ready ? "{\"ready\":true}" : "{\"ready\":false}", ready ? 200 : 503);
    }
  }
  if (seg[1] == "models") {
    if (n == 2) {
      if (!get) return MethodNotAllowed(req, path);
      return ModelListResponse();
    }
    std::string_view model = seg[2], version;
    size_t rest = 3;
    if (n >= 5 && seg[3] == "versions") {
      version = seg[4];
      rest = 5;
    }
    if (n == rest) {
      if (!get) return MethodNotAllowed(req, path);
      return ModelMetadataResponse(req, model, version, done, deferred);
    }
    if (n == rest + 1 && seg[rest] == "ready") {
      if (!get) return MethodNotAllowed(req, path);
      return ModelReadyResponse(model, version, /*v1=*/false);
    }
    if (n == rest + 1 && seg[rest] == "infer") {
      if (!post) return MethodNotAllowed(req, path);
      return V2Infer(req, model, version, done, deferred);
    }
  }
  if (seg[1] == "repository") return RouteRepository(req, seg, path, done, deferred);
  return Error(NotFound("unknown path " + std::string(path)));
}

// The V2 repository extension: /v2/repository/index and /v2/repository/models/{m}/(load|unload).
RestResponse RestHandler::RouteRepository(RestRequest& req, const std::vector<std::string>& seg,
                                          std::string_view path, Done& done, bool* deferred) {
  const size_t n = seg.size();
  const bool get = req.method == "GET", post = req.method == "POST";
  if (n == 3 && seg[2] == "index") {
    if (!post && !get) return MethodNotAllowed(req, path);
    std::string out;
    JsonWriter w(&out);
    w.BeginArray();
    for (const auto& e : repo_->Index()) {
      w.BeginObject();
      w.Key("name");
      w.String(e.name);
      if (!e.version.empty()) { w.Key("version"); w.String(e.version); }
      if (!e.state.empty()) { w.Key("state"); w.String(e.state); }
      if (!e.reason.empty()) { w.Key("reason"); w.String(e.reason); }
      w.EndObject();
    }
    w.EndArray();
    return Json(std::move(out));
  }
  if (n == 5 && seg[2] == "models" && (seg[4] == "load" || seg[4] == "unload")) {
    if (!post) return MethodNotAllowed(req, path);
    if (!options_.repository_token.empty() && !BearerTokenMatches(req.authorization, options_.repository_token)) {
      RestResponse r = Error(Unauthenticated("repository " + seg[4] + " needs Authorization: Bearer <token>"));
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    if (Status st = ValidateModelName(seg[3]); !st.ok()) return Error(st);
    std::string model = seg[3];
    bool load = seg[4] == "load";
    if (Status st = CheckRepositoryBody(load, req.body); !st.ok()) return Error(st);
    auto task = [this, model, load, done]() mutable {
      Status st = load ? repo_->Load(model) : repo_->Unload(model);
      if (!st.ok()) {
        done(LoadError(st));
        return;
      }
      std::string out;
      JsonWriter w(&out);
      w.BeginObject();
      w.Key("name");
      w.String(model);
      w.Key(load ? "load" : "unload");
      w.Bool(true);
      w.EndObject();
      done(Json(std::move(out)));
    };
    if (!slow_pool_->Submit(task)) return Error(Unavailable("too many model loads queued; retry later"));
    *deferred = true;
    return {};
  }
  return Error(NotFound("unknown path " + std::string(path)));
}

}  // namespace inferd
