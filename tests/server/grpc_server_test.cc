// Tests of the V2 gRPC front end.
//   GrpcInProcess: a GrpcServer in this process over a ModelRepository with a fake backend (no model
//                  files, no binary): lifecycle, every RPC, errors, drain, async loads, shutdown.
//   GrpcBinary:    the real `inferd` binary serving the generated XGBoost iris model, driven with the
//                  generated C++ stub like any KServe/Triton client would.
#include "server/grpc_server.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "inference.grpc.pb.h"
#include "model/backend_registry.h"
#include "model/repository.h"
#include "util/test_util.h"

namespace inferd {
namespace {

namespace fs = std::filesystem;
using inference::GRPCInferenceService;
using inference::ModelInferRequest;
using inference::ModelInferResponse;

const std::vector<std::vector<float>> kIrisRows = {{6.8f, 2.8f, 4.8f, 1.4f}, {6.0f, 3.4f, 4.5f, 1.6f}};

std::unique_ptr<GRPCInferenceService::Stub> Connect(int port) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  return GRPCInferenceService::NewStub(channel);
}

void SetDeadline(grpc::ClientContext* ctx, int seconds = 10) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
}

ModelInferRequest IrisRequest(const std::string& model, const std::vector<std::vector<float>>& rows, bool raw) {
  ModelInferRequest r;
  r.set_model_name(model);
  auto* in = r.add_inputs();
  in->set_name("input-0");
  in->set_datatype("FP32");
  in->add_shape(static_cast<int64_t>(rows.size()));
  in->add_shape(rows.empty() ? 4 : static_cast<int64_t>(rows[0].size()));
  std::string blob;
  for (const auto& row : rows) {
    for (float v : row) {
      if (raw) {
        blob.append(reinterpret_cast<const char*>(&v), sizeof v);
      } else {
        in->mutable_contents()->add_fp32_contents(v);
      }
    }
  }
  if (raw) r.add_raw_input_contents(blob);
  return r;
}

grpc::Status Infer(GRPCInferenceService::Stub* stub, const ModelInferRequest& req, ModelInferResponse* resp) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  return stub->ModelInfer(&ctx, req, resp);
}

// The INT64 values of output `i`, typed or raw.
std::vector<int64_t> Int64Output(const ModelInferResponse& r, int i) {
  if (r.raw_output_contents_size() > i) {
    const std::string& b = r.raw_output_contents(i);
    std::vector<int64_t> v(b.size() / 8);
    std::memcpy(v.data(), b.data(), v.size() * 8);
    return v;
  }
  const auto& c = r.outputs(i).contents().int64_contents();
  return {c.begin(), c.end()};
}

std::vector<float> Fp32Output(const ModelInferResponse& r, int i) {
  if (r.raw_output_contents_size() > i) {
    const std::string& b = r.raw_output_contents(i);
    std::vector<float> v(b.size() / 4);
    std::memcpy(v.data(), b.data(), v.size() * 4);
    return v;
  }
  const auto& c = r.outputs(i).contents().fp32_contents();
  return {c.begin(), c.end()};
}

bool ServerLive(GRPCInferenceService::Stub* stub) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 5);
  inference::ServerLiveResponse resp;
  return stub->ServerLive(&ctx, {}, &resp).ok() && resp.live();
}

bool ModelReady(GRPCInferenceService::Stub* stub, const std::string& name) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 5);
  inference::ModelReadyRequest req;
  req.set_name(name);
  inference::ModelReadyResponse resp;
  return stub->ModelReady(&ctx, req, &resp).ok() && resp.ready();
}

bool WaitServerReady(GRPCInferenceService::Stub* stub, int timeout_s = 30) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  while (std::chrono::steady_clock::now() < deadline) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx, 2);
    inference::ServerReadyResponse resp;
    if (stub->ServerReady(&ctx, {}, &resp).ok() && resp.ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

grpc::Status Load(GRPCInferenceService::Stub* stub, const std::string& name,
                  inference::RepositoryModelLoadResponse* resp = nullptr, const std::string& authorization = "") {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 60);
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  inference::RepositoryModelLoadRequest req;
  req.set_model_name(name);
  inference::RepositoryModelLoadResponse local;
  return stub->RepositoryModelLoad(&ctx, req, resp ? resp : &local);
}

grpc::Status Unload(GRPCInferenceService::Stub* stub, const std::string& name,
                    const std::string& authorization = "") {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  inference::RepositoryModelUnloadRequest req;
  req.set_model_name(name);
  inference::RepositoryModelUnloadResponse resp;
  grpc::Status st = stub->RepositoryModelUnload(&ctx, req, &resp);
  if (st.ok()) {
    EXPECT_EQ(resp.model_name(), name);
    EXPECT_TRUE(resp.isunloaded());
  }
  return st;
}

inference::RepositoryIndexResponse Index(GRPCInferenceService::Stub* stub, bool ready_only = false) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  inference::RepositoryIndexRequest req;
  req.set_ready(ready_only);
  inference::RepositoryIndexResponse resp;
  grpc::Status st = stub->RepositoryIndex(&ctx, req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp;
}

const inference::RepositoryIndexResponse::ModelIndex* FindModel(const inference::RepositoryIndexResponse& r,
                                                                 const std::string& name) {
  for (const auto& m : r.models())
    if (m.name() == name) return &m;
  return nullptr;
}

// ==== in-process server over a fake backend ========================================================

// An iris-shaped model: input "input-0" FP32 [-1,4]; outputs "output-0" INT64 [-1] (1 when the row
// sums to more than 10, else 0) and "probabilities" FP32 [-1,3] (only when requested) and "half" FP16
// [-1] (only when requested). A model file named slow.fault takes 1.5 s to load; one named
// sleepy.fault takes 300 ms per inference.
class FakeBackend : public Backend {
 public:
  explicit FakeBackend(int execute_ms = 0) : execute_ms_(execute_ms) {
    md_.platform = "fake";
    md_.inputs = {{"input-0", DataType::kFp32, {-1, 4}}};
    md_.outputs = {{"output-0", DataType::kInt64, {-1}},
                   {"probabilities", DataType::kFp32, {-1, 3}},
                   {"half", DataType::kFp16, {-1}}};
  }
  const ModelMetadata& metadata() const override { return md_; }
  std::vector<int> default_outputs() const override { return {0}; }
  Status Execute(std::span<const Tensor> inputs, std::span<const int> requested,
                 std::vector<Tensor>* outputs) override {
    if (execute_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(execute_ms_));
    const Tensor& x = inputs[0];
    const int64_t rows = x.shape()[0];
    const float* p = x.data<float>();
    for (int k : requested) {
      Tensor t(md_.outputs[k].name, md_.outputs[k].dtype, {rows});
      if (k == 0) {
        auto* o = reinterpret_cast<int64_t*>(t.Allocate(static_cast<size_t>(rows) * 8));
        for (int64_t r = 0; r < rows; ++r) o[r] = (p[r * 4] + p[r * 4 + 1] + p[r * 4 + 2] + p[r * 4 + 3]) > 10 ? 1 : 0;
      } else if (k == 1) {
        t.set_shape({rows, 3});
        auto* o = reinterpret_cast<float*>(t.Allocate(static_cast<size_t>(rows) * 12));
        for (int64_t i = 0; i < rows * 3; ++i) o[i] = 1.0f / 3;
      } else {
        auto* o = reinterpret_cast<uint16_t*>(t.Allocate(static_cast<size_t>(rows) * 2));
        for (int64_t r = 0; r < rows; ++r) o[r] = FloatToHalf(p[r * 4]);
      }
      outputs->push_back(std::move(t));
    }
    return Status::Ok();
  }

 private:
  int execute_ms_;
  ModelMetadata md_;
};

class FakeFactory : public BackendFactory {
 public:
  std::string_view format() const override { return "fault"; }
  StatusOr<std::unique_ptr<Backend>> Load(const LoadOptions& o) override {
    if (fs::path(o.model_file).filename() == "slow.fault") std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    if (fs::path(o.model_file).filename() == "broken.fault") return Internal("cannot parse broken.fault");
    int execute_ms = fs::path(o.model_file).filename() == "sleepy.fault" ? 300 : 0;
    return std::unique_ptr<Backend>(new FakeBackend(execute_ms));
  }
};

class GrpcInProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("inferd_grpc_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    for (const char* m : {"fast", "slow", "broken", "sleepy"}) {
      fs::create_directories(root_ / m);
      std::ofstream(root_ / m / (std::string(m == std::string("fast") ? "model" : m) + ".fault")) << "x";
    }
    registry_.Register(std::make_unique<FakeFactory>());
    repo_ = std::make_unique<ModelRepository>(&registry_, RepositoryOptions{root_.string(), "", 1});
    ASSERT_TRUE(repo_->AddSource("iris", (root_ / "fast").string()).ok());
    ASSERT_TRUE(repo_->Load("iris").ok());
    options_.host = "127.0.0.1";
    options_.grpc_port = 0;
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(root_);
  }
  void StartServer() {
    server_ = std::make_unique<GrpcServer>(repo_.get(), nullptr, &state_, options_);
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_GT(server_->port(), 0);
    stub_ = Connect(server_->port());
  }

  fs::path root_;
  BackendRegistry registry_;
  std::unique_ptr<ModelRepository> repo_;
  ServerState state_;
  ServerOptions options_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<GRPCInferenceService::Stub> stub_;
};

TEST_F(GrpcInProcess, LiveReadyMetadata) {
  options_.server_name = "inferd-test";
  options_.server_version = "9.9";
  StartServer();
  EXPECT_TRUE(ServerLive(stub_.get()));
  EXPECT_TRUE(WaitServerReady(stub_.get(), 5));
  EXPECT_TRUE(ModelReady(stub_.get(), "iris"));
  EXPECT_FALSE(ModelReady(stub_.get(), "nope"));

  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  inference::ServerMetadataResponse smd;
  ASSERT_TRUE(stub_->ServerMetadata(&ctx, {}, &smd).ok());
  EXPECT_EQ(smd.name(), "inferd-test");
  EXPECT_EQ(smd.version(), "9.9");
  EXPECT_EQ(std::vector<std::string>(smd.extensions().begin(), smd.extensions().end()),
            (std::vector<std::string>{"model_repository", "binary_tensor_data"}));

  grpc::ClientContext ctx2;
  SetDeadline(&ctx2);
  inference::ModelMetadataRequest mreq;
  mreq.set_name("iris");
  inference::ModelMetadataResponse md;
  ASSERT_TRUE(stub_->ModelMetadata(&ctx2, mreq, &md).ok());
  EXPECT_EQ(md.name(), "iris");
  EXPECT_EQ(md.platform(), "fake");
  ASSERT_EQ(md.versions_size(), 1);
  ASSERT_EQ(md.inputs_size(), 1);
  EXPECT_EQ(md.inputs(0).datatype(), "FP32");
  EXPECT_EQ(md.inputs(0).shape(0), -1);
  EXPECT_EQ(md.inputs(0).shape(1), 4);
  ASSERT_EQ(md.outputs_size(), 3);

  grpc::ClientContext ctx3;
  SetDeadline(&ctx3);
  mreq.set_name("nope");
  EXPECT_EQ(stub_->ModelMetadata(&ctx3, mreq, &md).error_code(), grpc::StatusCode::NOT_FOUND);

  state_.draining = true;
  EXPECT_FALSE(WaitServerReady(stub_.get(), 0));
  EXPECT_TRUE(ServerLive(stub_.get()));
}

TEST_F(GrpcInProcess, InferTypedAndRaw) {
  StartServer();
  ModelInferResponse resp;
  ModelInferRequest req = IrisRequest("iris", {{1, 1, 1, 1}, {5, 5, 5, 5}}, false);
  req.set_id("my-id");
  (*req.mutable_parameters())["trace"].set_bool_param(true);
  grpc::Status st = Infer(stub_.get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.model_name(), "iris");
  EXPECT_EQ(resp.model_version(), "1");
  EXPECT_EQ(resp.id(), "my-id");
  EXPECT_TRUE(resp.parameters().at("trace").bool_param());
  ASSERT_EQ(resp.outputs_size(), 1);
  EXPECT_EQ(resp.outputs(0).name(), "output-0");
  EXPECT_EQ(resp.outputs(0).datatype(), "INT64");
  EXPECT_EQ(resp.raw_output_contents_size(), 0);
  EXPECT_EQ(Int64Output(resp, 0), (std::vector<int64_t>{0, 1}));

  ModelInferResponse raw_resp;
  ASSERT_TRUE(Infer(stub_.get(), IrisRequest("iris", {{1, 1, 1, 1}, {5, 5, 5, 5}}, true), &raw_resp).ok());
  ASSERT_EQ(raw_resp.raw_output_contents_size(), 1);
  EXPECT_FALSE(raw_resp.outputs(0).has_contents());
  EXPECT_EQ(Int64Output(raw_resp, 0), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(raw_resp.id().size(), 36u) << "a missing id is generated";
}

TEST_F(GrpcInProcess, RequestedOutputs) {
  StartServer();
  ModelInferRequest req = IrisRequest("iris", {{1, 2, 3, 4}}, false);
  req.add_outputs()->set_name("probabilities");
  req.add_outputs()->set_name("output-0");
  ModelInferResponse resp;
  ASSERT_TRUE(Infer(stub_.get(), req, &resp).ok());
  ASSERT_EQ(resp.outputs_size(), 2);
  EXPECT_EQ(resp.outputs(0).name(), "probabilities");
  EXPECT_EQ(resp.outputs(0).shape_size(), 2);
  EXPECT_EQ(Fp32Output(resp, 0).size(), 3u);
  EXPECT_EQ(resp.outputs(1).name(), "output-0");

  // FP16 has no typed field: the response goes raw.
  ModelInferRequest hreq = IrisRequest("iris", {{1.5f, 0, 0, 0}}, false);
  hreq.add_outputs()->set_name("half");
  hreq.add_outputs()->set_name("output-0");
  ModelInferResponse hresp;
  ASSERT_TRUE(Infer(stub_.get(), hreq, &hresp).ok());
  ASSERT_EQ(hresp.raw_output_contents_size(), 2);
  EXPECT_EQ(hresp.outputs(0).datatype(), "FP16");
  uint16_t h;
  std::memcpy(&h, hresp.raw_output_contents(0).data(), 2);
  EXPECT_EQ(HalfToFloat(h), 1.5f);

  ModelInferRequest bad = IrisRequest("iris", {{1, 2, 3, 4}}, false);
  bad.add_outputs()->set_name("nope");
  ModelInferResponse bresp;
  grpc::Status st = Infer(stub_.get(), bad, &bresp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("outputs[0]"), std::string::npos) << st.error_message();
}

TEST_F(GrpcInProcess, Errors) {
  StartServer();
  ModelInferResponse resp;
  auto code = [&](const ModelInferRequest& r) { return Infer(stub_.get(), r, &resp).error_code(); };
  EXPECT_EQ(code(IrisRequest("nope", {{1, 2, 3, 4}}, false)), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(code(IrisRequest("", {{1, 2, 3, 4}}, false)), grpc::StatusCode::INVALID_ARGUMENT);
  ModelInferRequest wrong_version = IrisRequest("iris", {{1, 2, 3, 4}}, false);
  wrong_version.set_model_version("7");
  EXPECT_EQ(code(wrong_version), grpc::StatusCode::NOT_FOUND);

  ModelInferRequest shape = IrisRequest("iris", {{1, 2, 3}}, false);  // [1,3] for [-1,4]
  grpc::Status st = Infer(stub_.get(), shape, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("inputs[0]"), std::string::npos) << st.error_message();

  ModelInferRequest dtype = IrisRequest("iris", {{1, 2, 3, 4}}, false);
  dtype.mutable_inputs(0)->set_datatype("FLOAT");
  st = Infer(stub_.get(), dtype, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("inputs[0].datatype"), std::string::npos) << st.error_message();

  ModelInferRequest mixed = IrisRequest("iris", {{1, 2, 3, 4}}, false);
  mixed.add_raw_input_contents(std::string(16, '\0'));
  EXPECT_EQ(code(mixed), grpc::StatusCode::INVALID_ARGUMENT);

  ModelInferRequest no_inputs;
  no_inputs.set_model_name("iris");
  EXPECT_EQ(code(no_inputs), grpc::StatusCode::INVALID_ARGUMENT);

  ModelInferRequest huge = IrisRequest("iris", {}, true);
  huge.mutable_inputs(0)->set_shape(0, int64_t{1} << 62);
  EXPECT_EQ(code(huge), grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_TRUE(ServerLive(stub_.get()));
  ASSERT_TRUE(Infer(stub_.get(), IrisRequest("iris", {{1, 2, 3, 4}}, false), &resp).ok());
}

TEST_F(GrpcInProcess, DrainingRefusesInfer) {
  StartServer();
  state_.draining = true;
  ModelInferResponse resp;
  EXPECT_EQ(Infer(stub_.get(), IrisRequest("iris", {{1, 2, 3, 4}}, false), &resp).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(state_.inflight.load(), 0);
}

TEST_F(GrpcInProcess, MessageSizeLimit) {
  options_.grpc_max_receive_message_length = 1024;
  StartServer();
  std::vector<std::vector<float>> rows(200, std::vector<float>{1, 2, 3, 4});  // 3.2 KB
  ModelInferResponse resp;
  EXPECT_EQ(Infer(stub_.get(), IrisRequest("iris", rows, true), &resp).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Infer(stub_.get(), IrisRequest("iris", {{1, 2, 3, 4}}, true), &resp).ok());
}

TEST_F(GrpcInProcess, RepositoryLoadUnloadIndex) {
  StartServer();
  auto idx = Index(stub_.get());
  ASSERT_NE(FindModel(idx, "iris"), nullptr);
  EXPECT_EQ(FindModel(idx, "iris")->state(), "READY");
  EXPECT_EQ(FindModel(idx, "iris")->version(), "1");
  ASSERT_NE(FindModel(idx, "fast"), nullptr) << "repository subdirectories are listed";
  EXPECT_EQ(FindModel(idx, "fast")->state(), "");
  EXPECT_EQ(FindModel(Index(stub_.get(), true), "fast"), nullptr) << "ready=true lists only ready models";

  inference::RepositoryModelLoadResponse lresp;
  grpc::Status st = Load(stub_.get(), "fast", &lresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(lresp.model_name(), "fast");
  EXPECT_TRUE(lresp.isloaded());
  EXPECT_TRUE(ModelReady(stub_.get(), "fast"));

  ASSERT_TRUE(Unload(stub_.get(), "iris").ok());
  EXPECT_FALSE(ModelReady(stub_.get(), "iris"));
  ModelInferResponse resp;
  EXPECT_EQ(Infer(stub_.get(), IrisRequest("iris", {{1, 2, 3, 4}}, false), &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Unload(stub_.get(), "iris").error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(Load(stub_.get(), "iris").ok());
  EXPECT_TRUE(ModelReady(stub_.get(), "iris"));

  EXPECT_EQ(Load(stub_.get(), "nope").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Load(stub_.get(), "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Load(stub_.get(), "../etc").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  st = Load(stub_.get(), "broken");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(st.error_message().find("broken.fault"), std::string::npos) << st.error_message();
  auto idx2 = Index(stub_.get());
  auto* b = FindModel(idx2, "broken");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->state(), "UNAVAILABLE");
  EXPECT_FALSE(b->reason().empty());
}

// Names with bytes no model name may hold are refused before anything is looked up, and never become
// index entries (a NUL once truncated "fast\0<i>" to the directory "fast": one entry per request).
TEST_F(GrpcInProcess, HostileRepositoryNamesAreRefused) {
  StartServer();
  const size_t before = Index(stub_.get()).models_size();
  for (int i = 0; i < 200; ++i) {
    const std::string n = std::to_string(i);
    for (const std::string& name : std::vector<std::string>{std::string("fast\0", 5) + n, "fast/" + n, "..",
                                                            ".hidden", "a b", "fast\n" + n, std::string(300, 'x')}) {
      EXPECT_EQ(Load(stub_.get(), name).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << i;
    }
    EXPECT_EQ(Load(stub_.get(), "absent-" + std::to_string(i)).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_EQ(Unload(stub_.get(), std::string("iris\0", 5)).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(ModelReady(stub_.get(), "iris"));
  EXPECT_EQ(static_cast<size_t>(Index(stub_.get()).models_size()), before);
  ModelInferResponse resp;
  EXPECT_EQ(Infer(stub_.get(), IrisRequest(std::string("iris\0", 5), {{1, 2, 3, 4}}, false), &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GrpcInProcess, RepositoryTokenGuardsLoadAndUnloadOnly) {
  options_.repository_token = "s3cret";
  StartServer();
  for (const std::string& auth : {std::string(), std::string("Bearer wrong"), std::string("s3cret"),
                                  std::string("Bearer s3cret ")}) {
    grpc::Status st = Load(stub_.get(), "fast", nullptr, auth);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << "'" << auth << "'";
    EXPECT_EQ(Unload(stub_.get(), "iris", auth).error_code(), grpc::StatusCode::UNAUTHENTICATED) << "'" << auth << "'";
  }
  EXPECT_TRUE(ModelReady(stub_.get(), "iris"));
  EXPECT_GT(Index(stub_.get()).models_size(), 0);  // reading the index stays open
  ModelInferResponse resp;
  EXPECT_TRUE(Infer(stub_.get(), IrisRequest("iris", {{1, 2, 3, 4}}, false), &resp).ok());  // so does inference
  EXPECT_TRUE(Load(stub_.get(), "fast", nullptr, "Bearer s3cret").ok());
  EXPECT_TRUE(ModelReady(stub_.get(), "fast"));
  EXPECT_TRUE(Unload(stub_.get(), "fast", "Bearer s3cret").ok());
  EXPECT_FALSE(ModelReady(stub_.get(), "fast"));
}

TEST_F(GrpcInProcess, SlowLoadDoesNotBlockOtherCalls) {
  StartServer();
  std::atomic<bool> done{false};
  grpc::Status load_status;
  std::thread loader([&] {
    load_status = Load(stub_.get(), "slow");
    done = true;
  });
  // While the load runs, other RPCs are answered.
  int answered_while_loading = 0;
  for (int i = 0; i < 20 && !done; ++i) {
    ModelInferResponse resp;
    EXPECT_TRUE(Infer(stub_.get(), IrisRequest("iris", {{1, 2, 3, 4}}, false), &resp).ok());
    if (!done) ++answered_while_loading;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT(answered_while_loading, 0);
  loader.join();
  EXPECT_TRUE(load_status.ok()) << load_status.error_message();
  EXPECT_TRUE(ModelReady(stub_.get(), "slow"));
}

TEST_F(GrpcInProcess, ShutdownWithLoadInFlight) {
  StartServer();
  grpc::Status load_status;
  std::thread loader([&] { load_status = Load(stub_.get(), "slow"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto t0 = std::chrono::steady_clock::now();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(50));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::milliseconds(1000)) << "shutdown waited for the load instead of cancelling";
  loader.join();
  EXPECT_FALSE(load_status.ok());
  server_.reset();  // waits for the load thread before the repository goes away
  EXPECT_TRUE(repo_->Get("slow").ok());
}

TEST_F(GrpcInProcess, ShutdownLetsInFlightFinishAndStopsAccepting) {
  ASSERT_TRUE(repo_->Load("sleepy").ok());
  StartServer();
  int port = server_->port();
  EXPECT_TRUE(ServerLive(stub_.get()));  // an idle connection must not hold the shutdown up
  grpc::Status slow_status;
  ModelInferResponse slow_resp;
  std::thread slow([&] { slow_status = Infer(stub_.get(), IrisRequest("sleepy", {{1, 2, 3, 4}}, false), &slow_resp); });
  // Wait until the call is inside the model.
  auto sleepy = repo_->Get("sleepy");
  ASSERT_TRUE(sleepy.ok());
  auto wait_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*sleepy)->pending() == 0 && std::chrono::steady_clock::now() < wait_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if ((*sleepy)->pending() == 0) {
    slow.join();
    FAIL() << "the slow call never reached the model: " << slow_status.error_code() << " "
           << slow_status.error_message();
  }
  auto t0 = std::chrono::steady_clock::now();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto took = std::chrono::steady_clock::now() - t0;
  slow.join();
  EXPECT_TRUE(slow_status.ok()) << "the in-flight call must finish: " << slow_status.error_message();
  EXPECT_EQ(slow_resp.outputs_size(), 1);
  EXPECT_LT(took, std::chrono::milliseconds(3000));
  auto stub = Connect(port);
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 1);
  inference::ServerLiveResponse resp;
  EXPECT_FALSE(stub->ServerLive(&ctx, {}, &resp).ok());
  server_->Shutdown(std::chrono::system_clock::now());  // idempotent
}

TEST_F(GrpcInProcess, PortInUseFailsToStart) {
  StartServer();
  ServerOptions o = options_;
  o.grpc_port = server_->port();
  GrpcServer second(repo_.get(), nullptr, &state_, o);
  Status st = second.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find(std::to_string(o.grpc_port)), std::string::npos) << st.message();
}

TEST_F(GrpcInProcess, ConcurrentClients) {
  StartServer();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto stub = Connect(server_->port());
      for (int i = 0; i < 50; ++i) {
        ModelInferResponse resp;
        float v = static_cast<float>(t + i % 3);
        if (!Infer(stub.get(), IrisRequest("iris", {{v, v, v, v}}, i % 2 == 0), &resp).ok() ||
            Int64Output(resp, 0) != std::vector<int64_t>{4 * v > 10 ? 1 : 0}) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(state_.inflight.load(), 0);
}

// ==== the real binary =============================================================================

class GrpcBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    model_dir_ = testing::ModelsDir() + "/xgb_iris_softmax";
    ASSERT_TRUE(fs::exists(model_dir_)) << model_dir_ << " is missing (scripts/gen_test_models.py)";
    server_ = testing::ServerProcess::Start({"--model_name", "iris", "--model_dir", model_dir_});
    ASSERT_NE(server_, nullptr) << "inferd did not start";
    ASSERT_GT(server_->grpc_port(), 0);
    stub_ = Connect(server_->grpc_port());
    ASSERT_TRUE(WaitServerReady(stub_.get())) << server_->Output();
  }

  std::string model_dir_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<GRPCInferenceService::Stub> stub_;
};

TEST_F(GrpcBinary, LiveReadyMetadata) {
  EXPECT_TRUE(ServerLive(stub_.get()));
  EXPECT_TRUE(ModelReady(stub_.get(), "iris"));
  EXPECT_FALSE(ModelReady(stub_.get(), "nope"));

  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  inference::ServerMetadataResponse smd;
  ASSERT_TRUE(stub_->ServerMetadata(&ctx, {}, &smd).ok());
  EXPECT_FALSE(smd.name().empty());
  EXPECT_FALSE(smd.version().empty());
  std::vector<std::string> ext(smd.extensions().begin(), smd.extensions().end());
  EXPECT_NE(std::find(ext.begin(), ext.end(), "model_repository"), ext.end());
  EXPECT_NE(std::find(ext.begin(), ext.end(), "binary_tensor_data"), ext.end());

  grpc::ClientContext ctx2;
  SetDeadline(&ctx2);
  inference::ModelMetadataRequest req;
  req.set_name("iris");
  inference::ModelMetadataResponse md;
  grpc::Status st = stub_->ModelMetadata(&ctx2, req, &md);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(md.name(), "iris");
  EXPECT_EQ(md.platform(), "xgboost");
  ASSERT_GE(md.versions_size(), 1);
  ASSERT_EQ(md.inputs_size(), 1);
  EXPECT_EQ(md.inputs(0).name(), "input-0");
  EXPECT_EQ(md.inputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(md.inputs(0).shape().begin(), md.inputs(0).shape().end()),
            (std::vector<int64_t>{-1, 4}));
  ASSERT_GE(md.outputs_size(), 1);
  EXPECT_EQ(md.outputs(0).name(), "output-0");
}

TEST_F(GrpcBinary, InferTyped) {
  ModelInferRequest req = IrisRequest("iris", kIrisRows, false);
  req.set_id("typed-1");
  ModelInferResponse resp;
  grpc::Status st = Infer(stub_.get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.model_name(), "iris");
  EXPECT_FALSE(resp.model_version().empty());
  EXPECT_EQ(resp.id(), "typed-1");
  ASSERT_EQ(resp.outputs_size(), 1) << "with no outputs requested only output-0 comes back";
  EXPECT_EQ(resp.outputs(0).name(), "output-0");
  EXPECT_EQ(resp.outputs(0).datatype(), "FP32");  // Booster.predict: float32 class ids
  EXPECT_EQ(std::vector<int64_t>(resp.outputs(0).shape().begin(), resp.outputs(0).shape().end()),
            (std::vector<int64_t>{2}));
  EXPECT_EQ(resp.raw_output_contents_size(), 0);
  EXPECT_EQ(Fp32Output(resp, 0), (std::vector<float>{1, 1}));
}

TEST_F(GrpcBinary, InferRawRoundTrip) {
  ModelInferResponse resp;
  grpc::Status st = Infer(stub_.get(), IrisRequest("iris", kIrisRows, true), &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.outputs_size(), 1);
  ASSERT_EQ(resp.raw_output_contents_size(), 1);
  EXPECT_FALSE(resp.outputs(0).has_contents());
  EXPECT_EQ(resp.raw_output_contents(0).size(), 8u);
  EXPECT_EQ(Fp32Output(resp, 0), (std::vector<float>{1, 1}));
  EXPECT_EQ(resp.id().size(), 36u) << "a missing id is generated";
}

TEST_F(GrpcBinary, MatchesFrameworkPredictions) {
  std::string path = model_dir_ + ".expected.json";  // beside the model directory
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.load(path).get(doc), simdjson::SUCCESS) << path;
  std::vector<std::vector<float>> rows;
  simdjson::dom::array instances;
  ASSERT_EQ(doc["instances"].get_array().get(instances), simdjson::SUCCESS);
  for (simdjson::dom::element row : instances) {
    std::vector<float> r;
    simdjson::dom::array cols;
    ASSERT_EQ(row.get_array().get(cols), simdjson::SUCCESS);
    for (simdjson::dom::element v : cols) {
      double d = 0;
      ASSERT_EQ(v.get_double().get(d), simdjson::SUCCESS);
      r.push_back(static_cast<float>(d));
    }
    rows.push_back(std::move(r));
  }
  std::vector<float> want;
  simdjson::dom::array predict;
  ASSERT_EQ(doc["predict"].get_array().get(predict), simdjson::SUCCESS);
  for (simdjson::dom::element v : predict) {
    double d = 0;
    ASSERT_EQ(v.get_double().get(d), simdjson::SUCCESS);
    want.push_back(static_cast<float>(d));
  }
  ASSERT_FALSE(rows.empty());
  for (bool raw : {false, true}) {
    ModelInferResponse resp;
    grpc::Status st = Infer(stub_.get(), IrisRequest("iris", rows, raw), &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(Fp32Output(resp, 0), want) << (raw ? "raw" : "typed");
  }
}

TEST_F(GrpcBinary, RequestedProbabilities) {
  ModelInferRequest req = IrisRequest("iris", kIrisRows, false);
  req.add_outputs()->set_name("probabilities");
  req.add_outputs()->set_name("output-0");
  ModelInferResponse resp;
  grpc::Status st = Infer(stub_.get(), req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(resp.outputs_size(), 2);
  EXPECT_EQ(resp.outputs(0).name(), "probabilities");
  EXPECT_EQ(resp.outputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(resp.outputs(0).shape().begin(), resp.outputs(0).shape().end()),
            (std::vector<int64_t>{2, 3}));
  std::vector<float> p = Fp32Output(resp, 0);
  ASSERT_EQ(p.size(), 6u);
  for (int r = 0; r < 2; ++r) {
    EXPECT_NEAR(p[r * 3] + p[r * 3 + 1] + p[r * 3 + 2], 1.0, 1e-4);
    EXPECT_GT(p[r * 3 + 1], p[r * 3]);
    EXPECT_GT(p[r * 3 + 1], p[r * 3 + 2]);
  }
  EXPECT_EQ(Fp32Output(resp, 1), (std::vector<float>{1, 1}));
}

TEST_F(GrpcBinary, ErrorsAndStillAlive) {
  ModelInferResponse resp;
  grpc::Status st = Infer(stub_.get(), IrisRequest("nope", kIrisRows, false), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND) << st.error_message();

  ModelInferRequest shape = IrisRequest("iris", {{1, 2, 3}}, false);
  st = Infer(stub_.get(), shape, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("inputs[0]"), std::string::npos) << st.error_message();

  ModelInferRequest count = IrisRequest("iris", kIrisRows, false);
  count.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1);
  st = Infer(stub_.get(), count, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("inputs[0].contents"), std::string::npos) << st.error_message();

  ModelInferRequest dtype = IrisRequest("iris", kIrisRows, false);
  dtype.mutable_inputs(0)->set_datatype("FLOAT32");
  st = Infer(stub_.get(), dtype, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("inputs[0].datatype"), std::string::npos) << st.error_message();

  ModelInferRequest wrong_field = IrisRequest("iris", {{1, 2, 3, 4}}, false);
  wrong_field.mutable_inputs(0)->mutable_contents()->clear_fp32_contents();
  for (int i = 0; i < 4; ++i) wrong_field.mutable_inputs(0)->mutable_contents()->add_int64_contents(i);
  EXPECT_EQ(Infer(stub_.get(), wrong_field, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  ModelInferRequest mixed = IrisRequest("iris", kIrisRows, false);
  mixed.add_raw_input_contents(std::string(32, '\0'));
  st = Infer(stub_.get(), mixed, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  ModelInferRequest raw_short = IrisRequest("iris", kIrisRows, true);
  raw_short.mutable_raw_input_contents(0)->resize(20);
  EXPECT_EQ(Infer(stub_.get(), raw_short, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  ModelInferRequest huge = IrisRequest("iris", kIrisRows, true);
  huge.mutable_inputs(0)->set_shape(0, int64_t{1} << 40);
  EXPECT_EQ(Infer(stub_.get(), huge, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  ModelInferRequest negative = IrisRequest("iris", kIrisRows, false);
  negative.mutable_inputs(0)->set_shape(0, -2);
  EXPECT_EQ(Infer(stub_.get(), negative, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  EXPECT_TRUE(server_->Alive());
  EXPECT_TRUE(ServerLive(stub_.get()));
  ASSERT_TRUE(Infer(stub_.get(), IrisRequest("iris", kIrisRows, false), &resp).ok());
  EXPECT_EQ(Fp32Output(resp, 0), (std::vector<float>{1, 1}));
}

TEST_F(GrpcBinary, RepositoryLoadUnloadIndex) {
  auto idx = Index(stub_.get());
  auto* m = FindModel(idx, "iris");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->state(), "READY");

  ASSERT_TRUE(Unload(stub_.get(), "iris").ok());
  EXPECT_FALSE(ModelReady(stub_.get(), "iris"));
  ModelInferResponse resp;
  EXPECT_NE(Infer(stub_.get(), IrisRequest("iris", kIrisRows, false), &resp).error_code(), grpc::StatusCode::OK);

  inference::RepositoryModelLoadResponse lresp;
  grpc::Status st = Load(stub_.get(), "iris", &lresp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_TRUE(lresp.isloaded());
  EXPECT_TRUE(ModelReady(stub_.get(), "iris"));
  ASSERT_TRUE(Infer(stub_.get(), IrisRequest("iris", kIrisRows, false), &resp).ok());
  EXPECT_EQ(Fp32Output(resp, 0), (std::vector<float>{1, 1}));

  EXPECT_EQ(Load(stub_.get(), "nope").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Unload(stub_.get(), "nope").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(server_->Alive());
}

TEST_F(GrpcBinary, TerminateExitsCleanly) {
  EXPECT_TRUE(ServerLive(stub_.get()));  // leaves an idle client connection open
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(server_->Terminate(), 0) << server_->Output();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3)) << "an idle gRPC client delayed the drain";
}

}  // namespace
}  // namespace inferd
