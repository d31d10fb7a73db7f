// Server-side batching end to end: a real `inferd model-server` with batching on, driven by concurrent
// clients over REST (V1 and V2) and gRPC. Every answer must equal what an unbatched server answers for
// the same rows, and /metrics must show fewer executions than requests. Also: per-model settings in
// model-settings.json, a full queue answering 503, and SIGTERM draining queued requests.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "inference.grpc.pb.h"
#include "util/test_util.h"

namespace inferd::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kClients = 32;
constexpr int kRounds = 2;  // each client sends kRounds V1 and kRounds V2 requests

// Iris-like rows that differ per (request, row), spread over the three classes.
std::vector<std::vector<float>> RowsFor(int request) {
  int n = 1 + request % 3;
  std::vector<std::vector<float>> rows;
  for (int r = 0; r < n; ++r) {
    int k = request * 3 + r;
    rows.push_back({4.5f + static_cast<float>(k % 7) * 0.5f, 2.2f + static_cast<float>(k % 5) * 0.4f,
                    1.0f + static_cast<float>(k % 11) * 0.55f, 0.1f + static_cast<float>(k % 9) * 0.3f});
  }
  return rows;
}

std::string JsonRows(const std::vector<std::vector<float>>& rows) {
  std::string s = "[";
  for (size_t r = 0; r < rows.size(); ++r) {
    s += r ? ",[" : "[";
    for (size_t c = 0; c < rows[r].size(); ++c) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%s%.2f", c ? "," : "", static_cast<double>(rows[r][c]));
      s += buf;
    }
    s += "]";
  }
  return s + "]";
}

std::string V1Body(int request) { return R"({"instances":)" + JsonRows(RowsFor(request)) + "}"; }

std::string V2Body(int request) {
  auto rows = RowsFor(request);
  return R"({"id":"r)" + std::to_string(request) + R"(","inputs":[{"name":"input-0","shape":[)" +
         std::to_string(rows.size()) + R"(,4],"datatype":"FP32","data":)" + JsonRows(rows) +
         R"(}],"outputs":[{"name":"output-0"},{"name":"probabilities"}]})";
}

// The value of `name{model="iris",version="1"}` in a Prometheus text body (-1 when absent).
double MetricValue(const std::string& body, const std::string& series) {
  size_t p = body.find("\n" + series + " ");
  if (p == std::string::npos) return -1;
  return std::stod(body.substr(p + series.size() + 2));
}

std::unique_ptr<ServerProcess> StartIris(std::vector<std::string> extra, std::string* error) {
  std::vector<std::string> args = {"--model_name", "iris", "--model_dir", ModelsDir() + "/xgb_iris_softmax",
                                   "--workers", "2"};
  args.insert(args.end(), extra.begin(), extra.end());
  return ServerProcess::StartReady(args, error);
}

class BatchingIris : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    batched_ = StartIris({"--max_batch_size", "8", "--max_latency", "2000"}, &batched_error_).release();
    plain_ = StartIris({}, &plain_error_).release();
  }
  static void TearDownTestSuite() {
    delete batched_;
    delete plain_;
    batched_ = plain_ = nullptr;
  }
  void SetUp() override {  // a server that did not start fails every test (util/test_util.h)
    ASSERT_NE(batched_, nullptr) << batched_error_;
    ASSERT_NE(plain_, nullptr) << plain_error_;
  }
  static ServerProcess* batched_;
  static ServerProcess* plain_;
  static std::string batched_error_, plain_error_;
};
std::string BatchingIris::batched_error_, BatchingIris::plain_error_;
ServerProcess* BatchingIris::batched_ = nullptr;
ServerProcess* BatchingIris::plain_ = nullptr;

TEST_F(BatchingIris, ConcurrentV1AndV2ClientsGetTheirOwnRows) {
  // The unbatched answers, one request at a time.
  const int n = kClients * kRounds;
  std::vector<std::string> want_v1(n), want_v2(n);
  for (int i = 0; i < n; ++i) {
    auto r1 = HttpPost(plain_->http_port(), "/v1/models/iris:predict", V1Body(i));
    auto r2 = HttpPost(plain_->http_port(), "/v2/models/iris/infer", V2Body(i));
    ASSERT_EQ(r1.status, 200) << r1.body;
    ASSERT_EQ(r2.status, 200) << r2.body;
    want_v1[static_cast<size_t>(i)] = r1.body;
    want_v2[static_cast<size_t>(i)] = r2.body;
  }
  // Class ids alone could hide a row mix-up; the V2 probabilities differ per row.
  EXPECT_NE(want_v2[0], want_v2[3]);

  const double execs_before =
      MetricValue(HttpGet(batched_->http_port(), "/metrics").body, R"(nv_inference_exec_count{model="iris",version="1"})");
  std::vector<std::string> got_v1(n), got_v2(n);
  std::vector<long> status_v1(n), status_v2(n);
  std::atomic<int> ready{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      ++ready;
      while (ready.load() < kClients) std::this_thread::yield();  // start together
      for (int round = 0; round < kRounds; ++round) {
        int i = round * kClients + c;
        auto r1 = HttpPost(batched_->http_port(), "/v1/models/iris:predict", V1Body(i));
        auto r2 = HttpPost(batched_->http_port(), "/v2/models/iris/infer", V2Body(i));
        status_v1[static_cast<size_t>(i)] = r1.status;
        got_v1[static_cast<size_t>(i)] = r1.body;
        status_v2[static_cast<size_t>(i)] = r2.status;
        got_v2[static_cast<size_t>(i)] = r2.body;
      }
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < n; ++i) {
    auto k = static_cast<size_t>(i);
    EXPECT_EQ(status_v1[k], 200) << got_v1[k];
    EXPECT_EQ(got_v1[k], want_v1[k]) << "V1 request " << i;
    EXPECT_EQ(status_v2[k], 200) << got_v2[k];
    EXPECT_EQ(got_v2[k], want_v2[k]) << "V2 request " << i;
  }
  std::string metrics = HttpGet(batched_->http_port(), "/metrics").body;
  double execs = MetricValue(metrics, R"(nv_inference_exec_count{model="iris",version="1"})") - std::max(execs_before, 0.0);
  double successes = MetricValue(metrics, R"(nv_inference_request_success{model="iris",version="1"})");
  EXPECT_GT(execs, 0) << metrics;
  EXPECT_LT(execs, 2 * n) << "no two requests were ever batched\n" << metrics;
  EXPECT_GE(successes, 2 * n) << metrics;
}

TEST_F(BatchingIris, ErrorsStillAnswerInlineAndNameTheField) {
  auto r = HttpPost(batched_->http_port(), "/v2/models/iris/infer",
                    R"({"inputs":[{"name":"input-0","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("shape"), std::string::npos) << r.body;
  r = HttpPost(batched_->http_port(), "/v1/models/iris:predict", "{not json");
  EXPECT_EQ(r.status, 400);
  // CloudEvents wrapping still happens on the batched path.
  r = HttpPost(batched_->http_port(), "/v1/models/iris:predict", V1Body(0),
               {"Content-Type: application/json", "ce-specversion: 1.0", "ce-id: 1", "ce-source: t", "ce-type: x"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["ce-source"], "io.kserve.inference.iris");
}

// ---- gRPC ------------------------------------------------------------------------------------------

inference::ModelInferRequest GrpcRequest(int request) {
  inference::ModelInferRequest r;
  r.set_model_name("iris");
  r.set_id("g" + std::to_string(request));
  auto rows = RowsFor(request);
  auto* in = r.add_inputs();
  in->set_name("input-0");
  in->set_datatype("FP32");
  in->add_shape(static_cast<int64_t>(rows.size()));
  in->add_shape(4);
  std::string blob;
  for (const auto& row : rows) blob.append(reinterpret_cast<const char*>(row.data()), row.size() * sizeof(float));
  r.add_raw_input_contents(blob);
  r.add_outputs()->set_name("probabilities");
  return r;
}

std::string GrpcAnswer(inference::GRPCInferenceService::Stub* stub, int request) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  inference::ModelInferResponse resp;
  grpc::Status st = stub->ModelInfer(&ctx, GrpcRequest(request), &resp);
  if (!st.ok()) return "error: " + st.error_message();
  if (resp.raw_output_contents_size() != 1) return "no raw output";
  return resp.id() + ":" + resp.raw_output_contents(0);
}

TEST_F(BatchingIris, ConcurrentGrpcClientsGetTheirOwnRows) {
  auto connect = [](int port) {
    return inference::GRPCInferenceService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  };
  auto plain = connect(plain_->grpc_port());
  const int n = 64;
  std::vector<std::string> want(n), got(n);
  for (int i = 0; i < n; ++i) want[static_cast<size_t>(i)] = GrpcAnswer(plain.get(), i);
  ASSERT_EQ(want[0].rfind("g0:", 0), 0u) << want[0];
  std::vector<std::thread> clients;
  for (int c = 0; c < 16; ++c) {
    clients.emplace_back([&, c] {
      auto stub = connect(batched_->grpc_port());
      for (int i = c; i < n; i += 16) got[static_cast<size_t>(i)] = GrpcAnswer(stub.get(), i);
    });
  }
  for (auto& t : clients) t.join();
  for (int i = 0; i < n; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], want[static_cast<size_t>(i)]) << "request " << i;
}

// ---- per-model settings, queue bound, drain (fault-injection models) -------------------------------

class FaultEnv {
 public:
  FaultEnv() { setenv("INFERD_FAULT_INJECTION", "1", 1); }
  ~FaultEnv() { unsetenv("INFERD_FAULT_INJECTION"); }
};

std::string ModelDir(const std::string& name, const std::string& fault_json, const std::string& settings_json) {
  auto dir = fs::temp_directory_path() / ("inferd-batching-" + std::to_string(getpid())) / name;
  fs::create_directories(dir);
  std::ofstream(dir / "model.fault") << fault_json;
  if (!settings_json.empty()) std::ofstream(dir / "model-settings.json") << settings_json;
  return dir.string();
}

const std::string kOneRow = R"({"inputs":[{"name":"input-0","shape":[1,2],"datatype":"FP32","data":[1,2]}]})";

TEST(BatchingSettings, FullQueueIs503NamingTheLimit) {
  FaultEnv env;
  // From model-settings.json alone (no flags): one executor, one queued request at most.
  std::string dir = ModelDir("slowq", R"({"sleep_ms":600})",
                             R"({"max_batch_size":4,"max_latency_us":0,"max_queue_size":1,"instances":1,"name":"x"})");
  auto s = ServerProcess::Start({"--model_name", "slowq", "--model_dir", dir});
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->WaitReady(15000)) << s->Output();
  int port = s->http_port();
  HttpResponse running, queued;
  std::thread a([&] { running = HttpPost(port, "/v2/models/slowq/infer", kOneRow); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a is executing
  std::thread b([&] { queued = HttpPost(port, "/v2/models/slowq/infer", kOneRow); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // b is queued
  auto refused = HttpPost(port, "/v2/models/slowq/infer", kOneRow);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("max_queue_size 1"), std::string::npos) << refused.body;
  a.join();
  b.join();
  EXPECT_EQ(running.status, 200) << running.body;
  EXPECT_EQ(queued.status, 200) << queued.body;
  EXPECT_NE(queued.body.find(R"("data":[1.0,2.0])"), std::string::npos) << queued.body;
  EXPECT_NE(s->Output().find("batching on (max_batch_size 4, max_latency 0 us, max_queue_size 1, instances 1)"),
            std::string::npos)
      << s->Output();
  EXPECT_EQ(s->Terminate(), 0);
}

TEST(BatchingSettings, WrongTypeIsALoadErrorNamingTheKey) {
  FaultEnv env;
  std::string dir = ModelDir("badsettings", "{}", R"({"max_batch_size":"eight"})");
  auto s = ServerProcess::Start({"--model_name", "badsettings", "--model_dir", dir});
  ASSERT_NE(s, nullptr);
  std::string body;
  for (int i = 0; i < 500; ++i) {
    body = HttpPost(s->http_port(), "/v2/repository/index", "").body;
    if (body.find("UNAVAILABLE") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(body.find("model-settings.json: key 'max_batch_size' must be an integer, got a string"), std::string::npos)
      << body;
}

TEST(BatchingSettings, BadFlagIsAStartError) {
  auto s = ServerProcess::Start({"--model_name", "iris", "--model_dir", ModelsDir() + "/xgb_iris_softmax",
                                 "--max_queue_size", "0"});
  EXPECT_EQ(s, nullptr);
}

TEST(BatchingDrain, SigtermAnswersQueuedRequestsAndExitsZero) {
  FaultEnv env;
  std::string dir = ModelDir("slowd", R"({"sleep_ms":500})", "");
  auto s = ServerProcess::Start({"--model_name", "slowd", "--model_dir", dir, "--max_batch_size", "2",
                                 "--max_latency", "100000", "--instances", "1"});
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->WaitReady(15000)) << s->Output();
  int port = s->http_port();
  // Two requests fill a batch (executing 500 ms); a third waits in the queue behind it.
  std::vector<HttpResponse> answers(3);
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] { answers[static_cast<size_t>(i)] = HttpPost(port, "/v2/models/slowd/infer", kOneRow); });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  kill(s->pid(), SIGTERM);
  for (auto& t : clients) t.join();
  for (const auto& r : answers) {
    EXPECT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_NE(r.body.find(R"("data":[1.0,2.0])"), std::string::npos) << r.body;
  }
  EXPECT_EQ(s->Terminate(10000), 0) << s->Output();
}

}  // namespace
}  // namespace inferd::testing
