// server/tfserving_grpc.h: TF Serving's gRPC API (tensorflow.serving.PredictionService and ModelService: KServe's
// `grpc-v1` protocol for the tensorflow runtime) on the model server's gRPC port, beside V2's
// inference.GRPCInferenceService (server/grpc_server.h).
//
// The front end routes; the model's backend answers (model/native_grpc.h). A call's request message is kept as
// bytes: only the routing fields of its ModelSpec (name, version, version_label) are read here (ReadTfsModelSpec,
// with protobuf's CodedInputStream), the model is looked up, and the backend's NativeGrpcApi parses the message,
// runs the model and writes the response (backends/tensorflow/tfserving_grpc.h). The executable never links TF
// Serving's messages, so loading the tensorflow plugin, which does, registers nothing twice.
//
// Contract:
// - Served as a grpc::CallbackGenericService: it gets every method no registered service has. Methods of
//   tensorflow.serving.PredictionService (Predict, GetModelMetadata, Classify, Regress, MultiInference) and
//   tensorflow.serving.ModelService (GetModelStatus) go to the model; any other method is UNIMPLEMENTED naming
//   it. Handlers run inline on gRPC's threads, as V2's do.
// - Errors as TF Serving answers them: no ModelSpec INVALID_ARGUMENT "Missing ModelSpec"; an unknown model or a
//   version other than the served one NOT_FOUND ("Servable not found for request: Latest(m)" / "Specific(m, v)";
//   GetModelStatus: "Could not find any versions of model m" / "Could not find version v of model m"); a
//   version_label INVALID_ARGUMENT "Unrecognized servable version label: l" (inferd serves one version, with no
//   labels); a model whose backend does not speak TF Serving's API UNIMPLEMENTED naming the model. Backend errors
//   keep their codes (grpc_server.h ToGrpcStatus).
// - The client's gRPC deadline bounds the model's run (NativeGrpcCall::deadline_ns), as TF Serving passes it to
//   the session: past it the run stops between kernels with DEADLINE_EXCEEDED.
// - Predict runs as the model's work (counted in Model::pending(), recorded in the metrics like V2 inference);
//   draining refuses it (UNAVAILABLE); a model the memory budget evicted is loaded again for it, bounded as for
//   V2 (--reload_timeout, --max_reload_waiters).
// - Admission is the gRPC server's (`stopping`, `active_calls`: GrpcServer::Shutdown's rule); the repository,
//   metrics and state outlive the service (metrics and state may be null).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include <grpcpp/generic/async_generic_service.h>

#include "core/status.h"
#include "model/repository.h"
#include "server/metrics.h"
#include "server/server_state.h"
#include "server/tfs_model_spec.h"

namespace inferd {

class TfServingGrpcService final : public grpc::CallbackGenericService {
 public:
  TfServingGrpcService(ModelRepository* repo, Metrics* metrics, ServerState* state, const ServerOptions& options,
                       std::atomic<bool>* stopping, std::atomic<int64_t>* active_calls)
      : repo_(repo), metrics_(metrics), state_(state), reload_timeout_ms_(options.reload_timeout_ms), stopping_(stopping),
        active_calls_(active_calls) {}

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

  // One call: `method` is the full path ("/tensorflow.serving.PredictionService/Predict"), `request` the message,
  // `deadline_ns` the client's deadline as NowNs() (0 = none), which the model's run honours (TF Serving does).
  StatusOr<std::string> Handle(std::string_view method, std::string_view request, int64_t deadline_ns = 0);

 private:
  StatusOr<std::shared_ptr<Model>> FindModel(std::string_view rpc, const TfsModelSpec& spec);

  ModelRepository* repo_;
  Metrics* metrics_;
  ServerState* state_;
  int reload_timeout_ms_;
  std::atomic<bool>* stopping_;
  std::atomic<int64_t>* active_calls_;
};

}  // namespace inferd
