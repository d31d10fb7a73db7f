// server/grpc_server.h: the Open Inference Protocol (V2) gRPC front end of the model server.
//
// Contract:
// - Serves inference.GRPCInferenceService (proto/inference.proto), and TF Serving's PredictionService and
//   ModelService for models whose backend speaks them (server/tfserving_grpc.h, KServe's `grpc-v1`), with
//   gRPC's callback API: handlers
//   run inline on gRPC's own threads, with no hop to another pool (a tree model runs in microseconds;
//   a hop would cost more than the model). Only RepositoryModelLoad, which may take seconds, runs on a
//   separate thread that finishes the call when the load is done, and ModelInfer for a model with
//   server-side batching on is validated inline, queued (Model::InferAsync) and finished from the
//   model's batcher thread (its inputs are copied out of the request message first). A ModelInfer for a model
//   the memory budget evicted waits on its gRPC thread while the model loads again (ModelRepository::
//   WaitForReload: at most --max_reload_waiters such requests at once, each at most --reload_timeout; a load
//   refused by the budget is RESOURCE_EXHAUSTED, as RepositoryModelLoad answers it).
// - The repository, metrics and state are owned by the caller and must outlive this object (metrics
//   and state may be null in tests). Start/Shutdown/port are for one controlling thread; handlers may
//   run concurrently on any number of gRPC threads.
// - Shutdown(deadline) refuses new calls (UNAVAILABLE), lets the admitted ones finish until the
//   deadline, then stops gRPC (idle connections get ~100 ms to take the GOAWAY) and cancels the rest. The destructor shuts down (if not done yet) and waits for running model loads.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>

#include <grpcpp/grpcpp.h>

#include "core/mutex.h"
#include "core/status.h"
#include "model/repository.h"
#include "net/handoff.h"
#include "server/metrics.h"
#include "server/server_state.h"
#include "server/tfserving_grpc.h"

namespace inferd {

// inferd's Status codes as gRPC status codes (see core/status.h).
grpc::StatusCode ToGrpcCode(StatusCode code);
grpc::Status ToGrpcStatus(const Status& status);

class GrpcServer {
 public:
  GrpcServer(ModelRepository* repo, Metrics* metrics, ServerState* state, const ServerOptions& options);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Binds options.host:options.grpc_port (0 picks a free port) with insecure credentials and the
  // configured message size limits, and starts serving. Unavailable when the port cannot be bound.
  // Connections are accepted by a net::HandoffListener (backoff at the fd limit, net/handoff.h) and handed
  // to gRPC; gRPC has no listening socket of its own.
  Status Start();
  // The bound port (valid after a successful Start).
  int port() const { return port_; }
  void Shutdown(std::chrono::system_clock::time_point deadline);

  class Service;  // the generated CallbackService implementation (grpc_server.cc)

 private:
  friend class Service;
  // Runs `fn` on a tracked thread (model loads); the destructor waits for all of them.
  template <typename F>
  bool RunBackground(F&& fn);

  ModelRepository* repo_;
  Metrics* metrics_;
  ServerState* state_;
  ServerOptions options_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<TfServingGrpcService> tfserving_;  // every method service_ does not have
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<net::HandoffListener> listener_;  // accepts for server_ (declared after it: stops first)
  int port_ = 0;
  bool shut_down_ = false;
  std::atomic<bool> stopping_{false};       // Shutdown has begun: refuse new calls
  std::atomic<int64_t> active_calls_{0};    // admitted calls gRPC is not done with yet

  Mutex bg_mu_;
  CondVar bg_cv_;
  int bg_running_ GUARDED_BY(bg_mu_) = 0;
};

}  // namespace inferd
