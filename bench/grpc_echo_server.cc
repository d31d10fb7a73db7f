// bench/grpc_echo_server.cc: the floor for the gRPC benchmark. A bare GRPCInferenceService on the same
// callback API as inferd whose ModelInfer answers, without any model, the response inferd gives for one
// iris row (model name, version "1", a 36-character id, output-0 INT64 [1] = 1; raw when the request is
// raw). Comparing `grpc_load` against this and against inferd shows what inferd adds on top of gRPC.
//
//   grpc_echo_server [--host 127.0.0.1] [--port 0]
// prints "grpc_echo_server listening port=N" and serves until SIGINT/SIGTERM.
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <absl/synchronization/mutex.h>
#include <grpcpp/grpcpp.h>

#include "inference.grpc.pb.h"

namespace {

class EchoService final : public inference::GRPCInferenceService::CallbackService {
 public:
  EchoService() {
    typed_.set_model_version("1");
    auto* out = typed_.add_outputs();
    out->set_name("output-0");
    out->set_datatype("INT64");
    out->add_shape(1);
    raw_ = typed_;
    typed_.mutable_outputs(0)->mutable_contents()->add_int64_contents(1);
    int64_t one = 1;
    raw_.add_raw_output_contents(std::string(reinterpret_cast<const char*>(&one), sizeof one));
  }

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* ctx, const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* resp) override {
    resp->set_live(true);
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }

  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* ctx, const inference::ServerReadyRequest*,
                                        inference::ServerReadyResponse* resp) override {
    resp->set_ready(true);
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* ctx, const inference::ModelInferRequest* req,
                                       inference::ModelInferResponse* resp) override {
    *resp = req->raw_input_contents_size() > 0 ? raw_ : typed_;
    resp->set_model_name(req->model_name());
    resp->set_id(req->id().empty() ? kId : req->id());
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }

 private:
  static constexpr const char* kId = "00000000-0000-4000-8000-000000000000";
  inference::ModelInferResponse typed_;
  inference::ModelInferResponse raw_;
};

void Usage() {
  std::fprintf(stderr, "usage: grpc_echo_server [--host ADDR] [--port N]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) Usage();
    if (a == "--host") {
      host = argv[++i];
    } else if (a == "--port") {
      port = std::atoi(argv[++i]);
    } else {
      Usage();
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);  // as inferd does
  EchoService service;
  grpc::ServerBuilder builder;
  int selected = 0;
  builder.AddListeningPort(host + ":" + std::to_string(port), grpc::InsecureServerCredentials(), &selected);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || selected == 0) {
    std::fprintf(stderr, "grpc_echo_server: cannot bind %s:%d\n", host.c_str(), port);
    return 1;
  }
  std::printf("grpc_echo_server listening port=%d\n", selected);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}
