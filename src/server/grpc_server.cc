#include "server/grpc_server.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/server_posix.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <exception>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>

#include "core/bearer.h"
#include "core/clock.h"
#include "core/logging.h"
#include "core/uuid.h"
#include "inference.grpc.pb.h"
#include "model/request_context.h"
#include "protocol/v2_grpc.h"

namespace inferd {

grpc::StatusCode ToGrpcCode(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return grpc::StatusCode::OK;
    case StatusCode::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case StatusCode::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case StatusCode::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    case StatusCode::kUnimplemented: return grpc::StatusCode::UNIMPLEMENTED;
    case StatusCode::kPayloadTooLarge: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case StatusCode::kAlreadyExists: return grpc::StatusCode::ALREADY_EXISTS;
    case StatusCode::kDeadlineExceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case StatusCode::kInternal: return grpc::StatusCode::INTERNAL;
    case StatusCode::kConflict: return grpc::StatusCode::ABORTED;
    case StatusCode::kUnauthenticated: return grpc::StatusCode::UNAUTHENTICATED;
  }
  return grpc::StatusCode::INTERNAL;
}

grpc::Status ToGrpcStatus(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(ToGrpcCode(status.code()), status.message());
}

namespace {

// Runs `fn` (returning grpc::Status) and turns any exception into INTERNAL: nothing may escape into
// gRPC's threads.
template <typename F>
grpc::Status Guarded(const char* rpc, F&& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    LOG_ERROR("gRPC {}: unexpected exception: {}", rpc, e.what());
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(rpc) + ": " + e.what());
  } catch (...) {
    LOG_ERROR("gRPC {}: unexpected exception", rpc);
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string(rpc) + ": unexpected exception");
  }
}

// Counts a call that was admitted (see GrpcServer::Shutdown) from admission until gRPC is done with it.
class CountedReactor : public grpc::ServerUnaryReactor {
 public:
  explicit CountedReactor(std::atomic<int64_t>* active) : active_(active) {}
  void OnDone() override {
    active_->fetch_sub(1);
    delete this;
  }

 private:
  std::atomic<int64_t>* active_;
};

// A counted reactor finished from another thread (model loads). Finish happens exactly once: either
// from the worker with the result, or from OnCancel when the client goes away or the server shuts
// down first. The worker talks to the call only through `Handle`, which outlives the reactor.
class DetachedReactor final : public CountedReactor {
 public:
  struct Handle {
    explicit Handle(DetachedReactor* r) : reactor(r) {}
    Mutex mu;
    DetachedReactor* reactor GUARDED_BY(mu);  // null once finished

    // Calls fill() (which may write the response, and may return a grpc::Status that replaces an OK
    // `status`) and finishes with `status`, unless already finished.
    template <typename Fill>
    void Finish(Fill&& fill, const grpc::Status& status) {
      MutexLock lock(mu);
      if (reactor == nullptr) return;
      DetachedReactor* r = std::exchange(reactor, nullptr);
      grpc::Status st = status;
      if (st.ok()) {
        if constexpr (std::is_same_v<decltype(fill()), grpc::Status>) {
          st = Guarded("finish", fill);
        } else {
          st = Guarded("finish", [&] { fill(); return grpc::Status::OK; });
        }
      }
      r->Finish(st);
    }
  };

  explicit DetachedReactor(std::atomic<int64_t>* active)
      : CountedReactor(active), handle_(std::make_shared<Handle>(this)) {}
  std::shared_ptr<Handle> handle() const { return handle_; }

  void OnCancel() override {
    handle_->Finish([] {}, grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
  }

 private:
  std::shared_ptr<Handle> handle_;
};

}  // namespace

class GrpcServer::Service final : public inference::GRPCInferenceService::CallbackService {
 public:
  explicit Service(GrpcServer* owner) : s_(owner) {}

  // Every handler starts with Admit(): once Shutdown has begun, new calls are refused (UNAVAILABLE)
  // and are not counted, so a steady stream of them cannot hold the shutdown up.
  bool Admit() {
    s_->active_calls_.fetch_add(1);
    if (!s_->stopping_.load()) return true;
    s_->active_calls_.fetch_sub(1);
    return false;
  }
  static grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* ctx) {
    grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
    r->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"));
    return r;
  }
  // Finishes an admitted call.
  grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext*, const grpc::Status& status) {
    auto* r = new CountedReactor(&s_->active_calls_);
    r->Finish(status);
    return r;
  }

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* ctx, const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* resp) override {
    if (!Admit()) return Refuse(ctx);
    resp->set_live(true);
    return FinishNow(ctx, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* ctx, const inference::ServerReadyRequest*,
                                        inference::ServerReadyResponse* resp) override {
    if (!Admit()) return Refuse(ctx);
    bool draining = s_->state_ && s_->state_->draining.load(std::memory_order_relaxed);
    resp->set_ready(!draining && s_->repo_->AllReady() &&
                    (!s_->state_ || !s_->state_->dependency_ready || s_->state_->dependency_ready()));
    return FinishNow(ctx, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* ctx, const inference::ModelReadyRequest* req,
                                       inference::ModelReadyResponse* resp) override {
    if (!Admit()) return Refuse(ctx);
    return FinishNow(ctx, Guarded("ModelReady", [&] {
                       if (req->name().empty()) return InvalidArgumentStatus("name: the model name is empty");
                       auto model = s_->repo_->Get(req->name(), req->version());
                       if (!model.ok() && model.status().code() == StatusCode::kInvalidArgument) {
                         return ToGrpcStatus(model.status());
                       }
                       // An evicted model is ready for inference: its next request loads it (model/repository.h).
                       resp->set_ready(model.ok() || s_->repo_->Evicted(req->name()));
                       return grpc::Status::OK;
                     }));
  }

  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* ctx,
                                           const inference::ServerMetadataRequest*,
                                           inference::ServerMetadataResponse* resp) override {
    if (!Admit()) return Refuse(ctx);
    return FinishNow(ctx, Guarded("ServerMetadata", [&] {
                       resp->set_name(s_->options_.server_name);
                       resp->set_version(s_->options_.server_version);
                       resp->add_extensions("model_repository");
                       resp->add_extensions("binary_tensor_data");
                       return grpc::Status::OK;
                     }));
  }

  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* ctx,
                                          const inference::ModelMetadataRequest* req,
                                          inference::ModelMetadataResponse* resp) override {
    if (!Admit()) return Refuse(ctx);
    return FinishNow(ctx, Guarded("ModelMetadata", [&] {
                       if (req->name().empty()) return InvalidArgumentStatus("name: the model name is empty");
                       auto model = s_->repo_->Get(req->name(), req->version());
                       if (!model.ok()) return ToGrpcStatus(model.status());
                       FillModelMetadataResponse((*model)->metadata(), resp);
                       return grpc::Status::OK;
                     }));
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* ctx, const inference::ModelInferRequest* req,
                                       inference::ModelInferResponse* resp) override {
    if (!Admit()) return Refuse(ctx);
    grpc::ServerUnaryReactor* batched = nullptr;  // set when the model's batcher finishes the call
    grpc::Status st = Guarded("ModelInfer", [&] { return Infer(*req, resp, &batched); });
    if (batched) return batched;
    return FinishNow(ctx, st);
  }

  grpc::ServerUnaryReactor* RepositoryModelLoad(grpc::CallbackServerContext* ctx,
                                                const inference::RepositoryModelLoadRequest* req,
                                                inference::RepositoryModelLoadResponse* resp) override {
    if (!Admit()) return Refuse(ctx);
    if (grpc::Status st = Authorize(ctx, "load"); !st.ok()) return FinishNow(ctx, st);
    if (req->model_name().empty()) {
      return FinishNow(ctx, InvalidArgumentStatus("model_name: the model name is empty"));
    }
    if (Status st = ValidateModelName(req->model_name()); !st.ok()) return FinishNow(ctx, ToGrpcStatus(st));
    auto* reactor = new DetachedReactor(&s_->active_calls_);
    std::shared_ptr<DetachedReactor::Handle> handle = reactor->handle();
    std::string name = req->model_name();
    // Loading reads files and warms the model up: keep it off gRPC's callback threads.
    ModelRepository* repo = s_->repo_;
    bool started = s_->RunBackground([handle, name, repo, resp] {
      Status st = repo->Load(name);
      handle->Finish(
          [&] {
            resp->set_model_name(name);
            resp->set_isloaded(true);
          },
          ToGrpcStatus(st));
    });
    if (!started) {
      handle->Finish([] {}, grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                          "model_name: could not start a thread to load '" + name + "'"));
    }
    return reactor;
  }

  grpc::ServerUnaryReactor* RepositoryModelUnload(grpc::CallbackServerContext* ctx,
                                                  const inference::RepositoryModelUnloadRequest* req,
                                                  inference::RepositoryModelUnloadResponse* resp) override {
    if (!Admit()) return Refuse(ctx);
    if (grpc::Status st = Authorize(ctx, "unload"); !st.ok()) return FinishNow(ctx, st);
    return FinishNow(ctx, Guarded("RepositoryModelUnload", [&] {
                       if (req->model_name().empty()) {
                         return InvalidArgumentStatus("model_name: the model name is empty");
                       }
                       if (Status st = ValidateModelName(req->model_name()); !st.ok()) return ToGrpcStatus(st);
                       Status st = s_->repo_->Unload(req->model_name());
                       if (!st.ok()) return ToGrpcStatus(st);
                       resp->set_model_name(req->model_name());
                       resp->set_isunloaded(true);
                       return grpc::Status::OK;
                     }));
  }

  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* ctx,
                                            const inference::RepositoryIndexRequest* req,
                                            inference::RepositoryIndexResponse* resp) override {
    if (!Admit()) return Refuse(ctx);
    return FinishNow(ctx, Guarded("RepositoryIndex", [&] {
                       for (const ModelIndexEntry& e : s_->repo_->Index()) {
                         if (req->ready() && e.state != "READY") continue;
                         auto* m = resp->add_models();
                         m->set_name(e.name);
                         m->set_version(e.version);
                         m->set_state(e.state);
                         m->set_reason(e.reason);
                       }
                       return grpc::Status::OK;
                     }));
  }

 private:
  // The repository's mutating verbs need metadata `authorization: Bearer <token>` when a token is set.
  grpc::Status Authorize(grpc::CallbackServerContext* ctx, const char* verb) const {
    const std::string& token = s_->options_.repository_token;
    if (token.empty()) return grpc::Status::OK;
    const auto& md = ctx->client_metadata();
    auto it = md.find("authorization");
    if (it != md.end() && BearerTokenMatches(std::string_view(it->second.data(), it->second.size()), token)) {
      return grpc::Status::OK;
    }
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        std::string("repository ") + verb + " needs metadata authorization: Bearer <token>");
  }

  static grpc::Status InvalidArgumentStatus(std::string m) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(m));
  }

  void Reject() {
    if (s_->metrics_) s_->metrics_->RecordRejected("grpc");
  }

  // A ModelInfer queued on a model's batcher; owns what the queued inference points into.
  struct BatchedCall {
    BatchedGuard guard;  // first member: released last
    std::optional<InflightGuard> inflight;
    std::shared_ptr<Model> model;
    InferRequest request;
    InferResponse response;
    std::string id;
    bool raw = false;
    int64_t t0 = 0;
    int64_t batch_rows = 0;
    std::shared_ptr<DetachedReactor::Handle> handle;
    explicit BatchedCall(ServerState* state) : guard(state) {
      if (state) inflight.emplace(state);
    }
  };

  // The batched path of Infer: the call is finished from the batcher thread (a DetachedReactor, so a
  // cancelled call is answered at once and the late result dropped). Inputs are copied out of `req`
  // first, because gRPC frees `req` once a cancelled call is finished.
  grpc::Status InferBatched(std::shared_ptr<Model> model, const inference::ModelInferRequest& req,
                            inference::ModelInferResponse* resp, InferRequest&& request, int64_t t0,
                            int64_t batch_rows, grpc::ServerUnaryReactor** batched) {
    auto call = std::make_shared<BatchedCall>(s_->state_);
    call->model = std::move(model);
    call->request = std::move(request);
    for (Tensor& t : call->request.inputs) t.MakeOwned();
    call->id = req.id();
    call->raw = req.raw_input_contents_size() > 0;
    call->t0 = t0;
    call->batch_rows = batch_rows;
    auto* reactor = new DetachedReactor(&s_->active_calls_);
    call->handle = reactor->handle();
    *batched = reactor;
    Metrics* metrics = s_->metrics_;
    auto complete = [call, metrics, resp](Status result, const InferTiming& timing) {
      Model& m = *call->model;
      if (metrics) metrics->RecordInfer(m, result, timing, NowNs() - call->t0, call->batch_rows);
      if (!result.ok()) {
        call->handle->Finish([] {}, ToGrpcStatus(result));
        return;
      }
      call->response.model_name = m.name();
      call->response.model_version = m.version();
      call->response.id = call->id.empty() ? NewUuid() : call->id;
      call->response.parameters = std::move(call->request.parameters);
      call->handle->Finish([&] { return ToGrpcStatus(EncodeModelInferResponse(call->response, call->raw, resp)); },
                           grpc::Status::OK);
    };
    Status st;
    try {
      st = call->model->InferAsync(&call->request, &call->response, std::move(complete));
    } catch (const std::exception& e) {  // nothing was queued: the reactor must still be finished
      st = Internal(std::string("ModelInfer: ") + e.what());
    }
    if (!st.ok()) {  // rejected before queueing (bad input, queue full)
      if (metrics) metrics->RecordInfer(*call->model, st, InferTiming{}, NowNs() - t0, batch_rows);
      call->handle->Finish([] {}, ToGrpcStatus(st));
    }
    return grpc::Status::OK;
  }

  // A model the memory budget evicted (model/repository.h) is loaded again for its request, which waits on this
  // gRPC thread (bounded: --max_reload_waiters requests at once, each at most --reload_timeout).
  StatusOr<std::shared_ptr<Model>> WaitForReload(const std::string& name, const std::string& version) {
    auto waiter = s_->repo_->AdmitReloadWaiter(name);
    if (!waiter.ok()) return waiter.status();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(s_->options_.reload_timeout_ms);
    return s_->repo_->WaitForReload(*waiter, name, version, deadline);
  }

  grpc::Status Infer(const inference::ModelInferRequest& req, inference::ModelInferResponse* resp,
                     grpc::ServerUnaryReactor** batched) {
    const int64_t t0 = NowNs();
    if (s_->state_ && s_->state_->draining.load(std::memory_order_relaxed)) {
      Reject();
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
    }
    std::optional<InflightGuard> inflight;
    if (s_->state_) inflight.emplace(s_->state_);

    if (req.model_name().empty()) {
      Reject();
      return InvalidArgumentStatus("model_name: the model name is empty");
    }
    auto model = s_->repo_->Get(req.model_name(), req.model_version());
    if (!model.ok() && model.status().code() == StatusCode::kUnavailable && s_->repo_->Evicted(req.model_name())) {
      model = WaitForReload(req.model_name(), req.model_version());
    }
    if (!model.ok()) {
      Reject();
      return ToGrpcStatus(model.status());
    }
    const int64_t batch_rows =
        (req.inputs_size() > 0 && req.inputs(0).shape_size() > 0) ? std::max<int64_t>(req.inputs(0).shape(0), 0) : 1;
    // `request`'s raw inputs are views into `req`, which outlives this function.
    InferRequest request;
    if (Status st = DecodeModelInferRequest(req, &request); !st.ok()) {
      if (s_->metrics_) s_->metrics_->RecordInfer(**model, st, InferTiming{}, NowNs() - t0, batch_rows);
      return ToGrpcStatus(st);
    }

    if ((*model)->batching()) {
      return InferBatched(std::move(*model), req, resp, std::move(request), t0, batch_rows, batched);
    }
    InferResponse response;
    InferTiming timing;
    // The request's id and parameters for a model that hands them to user code (model/request_context.h);
    // metadata and response headers are REST's only.
    const RequestContext rc{request.id, &request.parameters, nullptr, nullptr};
    Status st;
    {
      ScopedRequestContext scope(&rc);
      st = (*model)->Infer(request, &response, &timing);
    }
    if (s_->metrics_) s_->metrics_->RecordInfer(**model, st, timing, NowNs() - t0, batch_rows);
    if (!st.ok()) return ToGrpcStatus(st);

    response.model_name = (*model)->name();
    response.model_version = (*model)->version();
    response.id = req.id().empty() ? NewUuid() : req.id();
    response.parameters = std::move(request.parameters);
    st = EncodeModelInferResponse(response, req.raw_input_contents_size() > 0, resp);
    return ToGrpcStatus(st);
  }

  GrpcServer* s_;
};

GrpcServer::GrpcServer(ModelRepository* repo, Metrics* metrics, ServerState* state, const ServerOptions& options)
    : repo_(repo), metrics_(metrics), state_(state), options_(options), service_(std::make_unique<Service>(this)),
      tfserving_(std::make_unique<TfServingGrpcService>(repo, metrics, state, options, &stopping_, &active_calls_)) {}

GrpcServer::~GrpcServer() {
  if (server_ && !shut_down_) Shutdown(std::chrono::system_clock::now());
  MutexLock lock(bg_mu_);
  bg_cv_.Wait(bg_mu_, [this]() REQUIRES(bg_mu_) { return bg_running_ == 0; });
}

template <typename F>
bool GrpcServer::RunBackground(F&& fn) {
  {
    MutexLock lock(bg_mu_);
    ++bg_running_;
  }
  try {
    std::thread([this, fn = std::forward<F>(fn)]() mutable {
      try {
        fn();
      } catch (...) {
        LOG_ERROR("gRPC background task raised an exception");
      }
      MutexLock lock(bg_mu_);
      --bg_running_;
      bg_cv_.SignalAll();
    }).detach();
  } catch (const std::system_error& e) {
    LOG_ERROR("gRPC: cannot start a thread: {}", e.what());
    MutexLock lock(bg_mu_);
    --bg_running_;
    bg_cv_.SignalAll();
    return false;
  }
  return true;
}

Status GrpcServer::Start() {
  if (server_) return Internal("gRPC server already started");
  const std::string host = options_.host.empty() ? "0.0.0.0" : options_.host;
  const std::string address = host + ":" + std::to_string(options_.grpc_port);

  // Debian's Abseil tracks the lock order of every absl::Mutex (gRPC's) to detect deadlocks: a few
  // percent of the CPU of each call. It is a debugging aid; inferd's release builds turn it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // No listening port of gRPC's own: connections are accepted by a net::HandoffListener and handed to gRPC
  // (gRPC 1.51 stops accepting for good after one EMFILE; see net/handoff.h).
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(options_.grpc_max_receive_message_length);
  builder.SetMaxSendMessageSize(options_.grpc_max_send_message_length);
  // Bounds in gRPC's terms (net/limits.h): idle connections are closed after the keep-alive timeout, and
  // streams per connection are bounded. (No grpc::ResourceQuota: tried; with gRPC 1.51 a quota too small for
  // its buffers made every call, small ones included, wait until its deadline instead of being refused.)
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             static_cast<int>(std::min<int64_t>(options_.limits.timeouts.keepalive_ms, INT_MAX)));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 1024);
  builder.RegisterService(service_.get());
  builder.RegisterCallbackGenericService(tfserving_.get());
  try {
    server_ = builder.BuildAndStart();
  } catch (const std::exception& e) {
    return Unavailable("gRPC server on " + address + " failed to start: " + e.what());
  }
  if (!server_) return Unavailable("gRPC server on " + address + " failed to start");
  grpc::Server* server = server_.get();
  listener_ = std::make_unique<net::HandoffListener>("grpc", [server](int fd) {
    grpc::AddInsecureChannelFromFd(server, fd);
  });
  if (Status st = listener_->Start(host, options_.grpc_port); !st.ok()) {
    listener_.reset();
    server_->Shutdown(std::chrono::system_clock::now());
    server_->Wait();
    server_.reset();
    return st;
  }
  port_ = listener_->port();
  shut_down_ = false;
  return Status::Ok();
}

void GrpcServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  if (!server_ || shut_down_) return;
  shut_down_ = true;
  // Refuse new calls and let the admitted ones finish until the deadline. gRPC's own graceful
  // shutdown would also wait for idle client connections to answer its GOAWAY ping (seconds when a
  // client is not polling), so it only gets a short grace here once our calls are done; whatever is
  // still running then is cancelled.
  if (listener_) listener_->Stop();  // no new connections
  stopping_.store(true);
  while (active_calls_.load() > 0 && std::chrono::system_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server_->Shutdown(std::min(deadline, std::chrono::system_clock::now() + std::chrono::milliseconds(100)));
  server_->Wait();
}

}  // namespace inferd
