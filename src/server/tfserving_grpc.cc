#include "server/tfserving_grpc.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <exception>
#include <vector>

#include "core/clock.h"
#include "core/logging.h"
#include "server/grpc_server.h"

namespace inferd {

namespace {

constexpr std::string_view kPredictionService = "/tensorflow.serving.PredictionService/";
constexpr std::string_view kModelService = "/tensorflow.serving.ModelService/";

std::string SpecString(const TfsModelSpec& spec) {
  if (spec.version) return "Specific(" + spec.name + ", " + std::to_string(*spec.version) + ")";
  return "Latest(" + spec.name + ")";
}

// The call's bytes (one copy out of gRPC's slices).
std::string Flatten(const grpc::ByteBuffer& buf) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buf.Dump(&slices).ok()) return out;
  out.reserve(buf.Length());
  for (const grpc::Slice& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// One unary call: reads the request, answers it inline, finishes.
class Reactor final : public grpc::ServerGenericBidiReactor {
 public:
  Reactor(TfServingGrpcService* service, grpc::GenericCallbackServerContext* ctx, std::atomic<int64_t>* active)
      : service_(service), method_(ctx->method()), active_(active) {
    // The client's deadline on the steady clock (none: gRPC's infinite future; a day away counts as none).
    const auto left = ctx->deadline() - std::chrono::system_clock::now();
    if (left < std::chrono::hours(24)) {
      deadline_ns_ = NowNs() + std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::nanoseconds>(left).count());
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, method_ + ": no request message"));
      return;
    }
    StatusOr<std::string> answer = Internal("unexpected exception");
    try {
      answer = service_->Handle(method_, Flatten(request_), deadline_ns_);
    } catch (const std::exception& e) {
      LOG_ERROR("gRPC {}: unexpected exception: {}", method_, e.what());
      answer = Internal(method_ + ": " + e.what());
    } catch (...) {
    }
    if (!answer.ok()) {
      Finish(ToGrpcStatus(answer.status()));
      return;
    }
    grpc::Slice slice(*answer);
    response_ = grpc::ByteBuffer(&slice, 1);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void OnDone() override {
    if (active_) active_->fetch_sub(1);
    delete this;
  }

 private:
  TfServingGrpcService* service_;
  std::string method_;
  std::atomic<int64_t>* active_;
  int64_t deadline_ns_ = 0;
  grpc::ByteBuffer request_, response_;
};

// A call refused before it was admitted (shutting down): not counted.
class Refused final : public grpc::ServerGenericBidiReactor {
 public:
  explicit Refused(grpc::Status st) { Finish(st); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerGenericBidiReactor* TfServingGrpcService::CreateReactor(grpc::GenericCallbackServerContext* ctx) {
  active_calls_->fetch_add(1);
  if (stopping_->load()) {
    active_calls_->fetch_sub(1);
    return new Refused(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
  }
  return new Reactor(this, ctx, active_calls_);
}

StatusOr<std::shared_ptr<Model>> TfServingGrpcService::FindModel(std::string_view rpc, const TfsModelSpec& spec) {
  if (!spec.present) return InvalidArgument("Missing ModelSpec");
  if (spec.label) return InvalidArgument("Unrecognized servable version label: " + *spec.label);
  const std::string version = spec.version ? std::to_string(*spec.version) : "";
  StatusOr<std::shared_ptr<Model>> model = NotFound("");
  if (!spec.name.empty()) model = repo_->Get(spec.name, version);
  if (!model.ok() && model.status().code() == StatusCode::kUnavailable && repo_->Evicted(spec.name)) {
    auto waiter = repo_->AdmitReloadWaiter(spec.name);
    if (!waiter.ok()) return waiter.status();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(reload_timeout_ms_);
    model = repo_->WaitForReload(*waiter, spec.name, version, deadline);
  }
  if (model.ok() || model.status().code() != StatusCode::kNotFound) return model;
  if (rpc == "GetModelStatus") {
    if (spec.version) return NotFound("Could not find version " + version + " of model " + spec.name);
    return NotFound("Could not find any versions of model " + spec.name);
  }
  return NotFound("Servable not found for request: " + SpecString(spec));
}

StatusOr<std::string> TfServingGrpcService::Handle(std::string_view method, std::string_view request,
                                                   int64_t deadline_ns) {
  std::string_view rpc;
  if (method.starts_with(kPredictionService)) {
    rpc = method.substr(kPredictionService.size());
    if (rpc != "Predict" && rpc != "GetModelMetadata" && rpc != "Classify" && rpc != "Regress" &&
        rpc != "MultiInference") {
      rpc = {};
    }
  } else if (method.starts_with(kModelService)) {
    rpc = method.substr(kModelService.size());
    if (rpc == "HandleReloadConfigRequest") {
      return Unimplemented("tensorflow.serving.ModelService/HandleReloadConfigRequest is not served: load and unload "
                           "models through the V2 repository API (inference.GRPCInferenceService/RepositoryModelLoad)");
    }
    if (rpc != "GetModelStatus") rpc = {};
  }
  if (rpc.empty()) return Unimplemented("method not found: " + std::string(method));
  const bool predict = rpc == "Predict";
  if (predict && state_ && state_->draining.load(std::memory_order_relaxed)) {
    if (metrics_) metrics_->RecordRejected("grpc");
    return Unavailable("the server is shutting down");
  }
  std::optional<InflightGuard> inflight;
  if (predict && state_) inflight.emplace(state_);
  const int64_t t0 = NowNs();
  ASSIGN_OR_RETURN(TfsModelSpec spec, ReadTfsModelSpec(request, rpc == "MultiInference"));
  auto model = FindModel(rpc, spec);
  if (!model.ok()) {
    if (predict && metrics_) metrics_->RecordRejected("grpc");
    return model.status();
  }
  Model& m = **model;
  NativeGrpcApi* api = m.backend().native_grpc();
  if (!api) {
    return Unimplemented("model '" + m.name() + "' (platform " + m.metadata().platform +
                         ") does not serve TF Serving's gRPC API; call inference.GRPCInferenceService (V2) instead");
  }
  const NativeGrpcCall call{rpc, request, m.name(), m.version(), deadline_ns};
  if (!predict) return api->Call(call);
  Model::PendingGuard pending = m.CountPending();
  StatusOr<std::string> out = api->Call(call);
  InferTiming timing;
  timing.compute_ns = NowNs() - t0;
  if (metrics_) metrics_->RecordInfer(m, out.status(), timing, NowNs() - t0, 1);
  if (!out.ok()) return m.WithModelName(out.status());
  return out;
}

}  // namespace inferd
