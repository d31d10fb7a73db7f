#include "server/tfserving_grpc.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <chrono>
#include <climits>
#include <exception>
#include <vector>

#include "core/clock.h"
#include "core/logging.h"
#include "server/grpc_server.h"

namespace inferd {

namespace {

using google::protobuf::io::CodedInputStream;
using WFL = google::protobuf::internal::WireFormatLite;

constexpr std::string_view kPredictionService = "/tensorflow.serving.PredictionService/";
constexpr std::string_view kModelService = "/tensorflow.serving.ModelService/";

Status NotProtobuf() { return InvalidArgument("the request is not a valid protobuf message"); }

// The length-delimited field's bytes at the stream's position (its tag already read).
bool ReadBytes(CodedInputStream* in, std::string* out) {
  uint32_t len = 0;
  return in->ReadVarint32(&len) && in->ReadString(out, static_cast<int>(len));
}

// ModelSpec's routing fields, merged into *spec (a repeated embedded message merges, as protobuf parses it).
bool ReadSpec(std::string_view bytes, TfsModelSpec* spec) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  spec->present = true;
  while (uint32_t tag = in.ReadTag()) {
    const int field = WFL::GetTagFieldNumber(tag);
    const bool delimited = WFL::GetTagWireType(tag) == WFL::WIRETYPE_LENGTH_DELIMITED;
    if (field == 1 && delimited) {
      if (!ReadBytes(&in, &spec->name)) return false;
    } else if (field == 4 && delimited) {
      std::string label;
      if (!ReadBytes(&in, &label)) return false;
      spec->label = std::move(label);
      spec->version.reset();  // a oneof: the last one set wins
    } else if (field == 2 && delimited) {  // google.protobuf.Int64Value {int64 value = 1}
      std::string wrapper;
      if (!ReadBytes(&in, &wrapper)) return false;
      CodedInputStream w(reinterpret_cast<const uint8_t*>(wrapper.data()), static_cast<int>(wrapper.size()));
      int64_t v = spec->version.value_or(0);
      while (uint32_t t = w.ReadTag()) {
        if (t == WFL::MakeTag(1, WFL::WIRETYPE_VARINT)) {
          uint64_t raw = 0;
          if (!w.ReadVarint64(&raw)) return false;
          v = static_cast<int64_t>(raw);
        } else if (!WFL::SkipField(&w, t)) {
          return false;
        }
      }
      if (!w.ConsumedEntireMessage()) return false;
      spec->version = v;
      spec->label.reset();
    } else if (!WFL::SkipField(&in, tag)) {
      return false;
    }
  }
  return in.ConsumedEntireMessage();
}

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
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, method_ + ": no request message"));
      return;
    }
    StatusOr<std::string> answer = Internal("unexpected exception");
    try {
      answer = service_->Handle(method_, Flatten(request_));
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
  grpc::ByteBuffer request_, response_;
};

// A call refused before it was admitted (shutting down): not counted.
class Refused final : public grpc::ServerGenericBidiReactor {
 public:
  explicit Refused(grpc::Status st) { Finish(st); }
  void OnDone() override { delete this; }
};

}  // namespace

StatusOr<TfsModelSpec> ReadTfsModelSpec(std::string_view request, bool in_first_task) {
  TfsModelSpec spec;
  if (request.size() > static_cast<size_t>(INT_MAX)) return NotProtobuf();
  CodedInputStream in(reinterpret_cast<const uint8_t*>(request.data()), static_cast<int>(request.size()));
  bool first_task_seen = false;
  while (uint32_t tag = in.ReadTag()) {
    if (tag != WFL::MakeTag(1, WFL::WIRETYPE_LENGTH_DELIMITED)) {
      if (!WFL::SkipField(&in, tag)) return NotProtobuf();
      continue;
    }
    std::string bytes;
    if (!ReadBytes(&in, &bytes)) return NotProtobuf();
    if (!in_first_task) {
      if (!ReadSpec(bytes, &spec)) return NotProtobuf();
      continue;
    }
    if (first_task_seen) continue;  // MultiInference: the first task's model (each task names the same one)
    first_task_seen = true;
    CodedInputStream task(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
    while (uint32_t t = task.ReadTag()) {
      std::string inner;
      if (t == WFL::MakeTag(1, WFL::WIRETYPE_LENGTH_DELIMITED)) {
        if (!ReadBytes(&task, &inner) || !ReadSpec(inner, &spec)) return NotProtobuf();
      } else if (!WFL::SkipField(&task, t)) {
        return NotProtobuf();
      }
    }
    if (!task.ConsumedEntireMessage()) return NotProtobuf();
  }
  if (!in.ConsumedEntireMessage()) return NotProtobuf();
  return spec;
}

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

StatusOr<std::string> TfServingGrpcService::Handle(std::string_view method, std::string_view request) {
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
  const NativeGrpcCall call{rpc, request, m.name(), m.version()};
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
