// Integration tests of the REST front end: a real `inferd model-server` process on ephemeral ports,
// driven with libcurl. Models are the XGBoost ones written by scripts/gen_test_models.py.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "util/test_util.h"

namespace inferd::testing {
namespace {

const std::string kIris = R"({"instances":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]})";

class IrisServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = ServerProcess::StartReady({"--model_name", "iris", "--model_dir", ModelsDir() + "/xgb_iris_softmax",
                                         "--max_request_bytes", "100000"},
                                        &error_)
                  .release();
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << error_; }  // fails, never skips (util/test_util.h)
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void TearDown() override {
    // Whatever a test sent, the server must still be up.
    if (server_) {
      EXPECT_EQ(HttpGet(port(), "/").status, 200) << server_->Output();
    }
  }
  static int port() { return server_->http_port(); }
  static HttpResponse Infer(const std::string& body, const std::vector<std::string>& headers = {"Content-Type: application/json"}) {
    return HttpPost(port(), "/v2/models/iris/infer", body, headers);
  }
  static ServerProcess* server_;
  static std::string error_;
};
ServerProcess* IrisServer::server_ = nullptr;
std::string IrisServer::error_;

TEST_F(IrisServer, V1Endpoints) {
  auto r = HttpGet(port(), "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"alive"})");
  EXPECT_EQ(HttpGet(port(), "/v1/models").body, R"({"models":["iris"]})");
  r = HttpGet(port(), "/v1/models/iris");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"name":"iris","ready":true})");
  r = HttpGet(port(), "/v1/models/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":"Model with name nope does not exist."})");
}

TEST_F(IrisServer, V1PredictIrisSample) {
  auto r = HttpPost(port(), "/v1/models/iris:predict", kIris);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"predictions":[1.0,1.0]})");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  // Columnar form answers "outputs".
  r = HttpPost(port(), "/v1/models/iris:predict", R"({"inputs":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"outputs":[1.0,1.0]})");
  // TF Serving's version path form.
  r = HttpPost(port(), "/v1/models/iris/versions/1:predict", kIris);
  EXPECT_EQ(r.body, R"({"predictions":[1.0,1.0]})");
}

TEST_F(IrisServer, V1CloudEvents) {
  // Binary mode: ce-* headers in, ce-* headers out, body is the plain answer.
  auto r = HttpPost(port(), "/v1/models/iris:predict", kIris,
                    {"Content-Type: application/json", "ce-specversion: 1.0", "ce-id: 42", "ce-source: test",
                     "ce-type: io.kserve.inference.request"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"predictions":[1.0,1.0]})");
  EXPECT_EQ(r.headers["ce-specversion"], "1.0");
  EXPECT_EQ(r.headers["ce-source"], "io.kserve.inference.iris");
  EXPECT_EQ(r.headers["ce-type"], "io.kserve.inference.response");
  EXPECT_EQ(r.headers["ce-id"].size(), 36u);
  EXPECT_NE(r.headers["ce-id"], "42");
  // Structured mode: the answer is an event whose data is the answer.
  r = HttpPost(port(), "/v1/models/iris:predict",
               R"({"specversion":"1.0","id":"1","source":"t","type":"io.kserve.inference.request","datacontenttype":"application/json","data":)" + kIris + "}",
               {"Content-Type: application/cloudevents+json"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/cloudevents+json");
  EXPECT_NE(r.body.find(R"("source":"io.kserve.inference.iris","type":"io.kserve.inference.response")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("data":{"predictions":[1.0,1.0]})"), std::string::npos) << r.body;
  r = HttpPost(port(), "/v1/models/iris:predict", R"({"specversion":"1.0"})", {"Content-Type: application/cloudevents+json"});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("CloudEvent.data"), std::string::npos) << r.body;
}

TEST_F(IrisServer, V1Errors) {
  auto r = HttpPost(port(), "/v1/models/iris:predict", "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("malformed JSON"), std::string::npos) << r.body;
  r = HttpPost(port(), "/v1/models/iris:predict", R"({"instancez":[]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("instances"), std::string::npos) << r.body;
  r = HttpPost(port(), "/v1/models/iris:predict", R"({"instances":[[1,2,3],[1,2]]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("ragged"), std::string::npos) << r.body;
  r = HttpPost(port(), "/v1/models/iris:predict", R"({"instances":[[1,2,3]]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("shape"), std::string::npos) << r.body;
  r = HttpPost(port(), "/v1/models/iris:predict", R"({"instances":[["a","b","c","d"]]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("datatype"), std::string::npos) << r.body;
  // Issue 15: every model is explained by the model server itself (TreeSHAP for this XGBoost model); its
  // errors are 400s naming the field.
  r = HttpPost(port(), "/v1/models/iris:explain", kIris);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"explanations\":[{\"shap_values\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"method\":\"tree\""), std::string::npos) << r.body;
  r = HttpPost(port(), "/v1/models/iris:explain", R"({"instances":[[1,2,3]]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("instances"), std::string::npos) << r.body;
  r = HttpPost(port(), "/v1/models/nope:predict", kIris);
  EXPECT_EQ(r.status, 404);
  r = HttpGet(port(), "/v1/models/iris:predict");
  EXPECT_EQ(r.status, 405);
}

TEST_F(IrisServer, V2ServerEndpoints) {
  auto r = HttpGet(port(), "/v2");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("extensions":["model_repository","binary_tensor_data"])"), std::string::npos) << r.body;
  EXPECT_EQ(HttpGet(port(), "/v2/health/live").body, R"({"live":true})");
  EXPECT_EQ(HttpGet(port(), "/v2/health/ready").body, R"({"ready":true})");
  EXPECT_EQ(HttpGet(port(), "/v2/models").body, R"({"models":["iris"]})");
  r = HttpGet(port(), "/v2/models/iris");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.rfind(R"({"name":"iris","versions":["1"],"platform":"xgboost","inputs":[{"name":"input-0","datatype":"FP32","shape":[-1,4]}],"outputs":[{"name":"output-0","datatype":"FP32","shape":[-1]})", 0), 0u) << r.body;
  EXPECT_EQ(HttpGet(port(), "/v2/models/iris/versions/1").body, r.body);
  EXPECT_EQ(HttpGet(port(), "/v2/models/iris/ready").body, R"({"name":"iris","ready":true})");
  EXPECT_EQ(HttpGet(port(), "/v2/models/iris/versions/7/ready").status, 404);
  EXPECT_EQ(HttpGet(port(), "/v2/models/nope").status, 404);
  EXPECT_EQ(HttpGet(port(), "/no/such/path").status, 404);
}

TEST_F(IrisServer, V2InferExactBody) {
  auto r = Infer(R"({"id":"req-1","inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP32","data":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]}]})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"model_name":"iris","model_version":"1","id":"req-1","outputs":[{"name":"output-0","datatype":"FP32","shape":[2],"data":[1.0,1.0]}]})");
  // Flat data, FP64, a versioned path and parameters echoed; the id is generated when absent.
  r = HttpPost(port(), "/v2/models/iris/versions/1/infer",
               R"({"parameters":{"tag":"x","n":3},"inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP64","data":[6.8,2.8,4.8,1.4,6.0,3.4,4.5,1.6]}]})");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"("parameters":{"n":3,"tag":"x"})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("data":[1.0,1.0])"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"("id":")"), std::string::npos);
  // Requested outputs are honoured, in the requested order.
  r = Infer(R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[6.8,2.8,4.8,1.4]}],"outputs":[{"name":"probabilities"},{"name":"output-0"}]})");
  EXPECT_EQ(r.status, 200);
  size_t p = r.body.find(R"("name":"probabilities")"), o = r.body.find(R"("name":"output-0")");
  EXPECT_NE(p, std::string::npos) << r.body;
  EXPECT_NE(o, std::string::npos) << r.body;
  EXPECT_LT(p, o);
}

std::string Binary(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

TEST_F(IrisServer, V2BinaryRoundTrip) {
  std::string header = R"({"inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}],"parameters":{"binary_data_output":true}})";
  std::string body = header + Binary({6.8f, 2.8f, 4.8f, 1.4f, 6.0f, 3.4f, 4.5f, 1.6f});
  auto r = Infer(body, {"Content-Type: application/octet-stream",
                        "Inference-Header-Content-Length: " + std::to_string(header.size())});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/octet-stream");
  size_t hl = std::stoul(r.headers["inference-header-content-length"]);
  ASSERT_LE(hl, r.body.size());
  std::string json = r.body.substr(0, hl);
  EXPECT_NE(json.find(R"("parameters":{"binary_data_size":8})"), std::string::npos) << json;
  ASSERT_EQ(r.body.size() - hl, 8u);
  float ids[2];  // FP32 class ids, as Booster.predict answers
  std::memcpy(ids, r.body.data() + hl, 8);
  EXPECT_EQ(ids[0], 1.0f);
  EXPECT_EQ(ids[1], 1.0f);
  // The per-output flag wins over the request-level one: output-0 JSON, probabilities binary.
  header = R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}],"parameters":{"binary_data_output":true},"outputs":[{"name":"output-0","parameters":{"binary_data":false}},{"name":"probabilities"}]})";
  body = header + Binary({6.8f, 2.8f, 4.8f, 1.4f});
  r = Infer(body, {"Inference-Header-Content-Length: " + std::to_string(header.size())});
  ASSERT_EQ(r.status, 200) << r.body;
  hl = std::stoul(r.headers["inference-header-content-length"]);
  json = r.body.substr(0, hl);
  EXPECT_NE(json.find(R"("data":[1.0])"), std::string::npos) << json;
  EXPECT_EQ(r.body.size() - hl, 12u);  // 3 FP32 probabilities
  float probs[3];
  std::memcpy(probs, r.body.data() + hl, 12);
  EXPECT_NEAR(probs[0] + probs[1] + probs[2], 1.0f, 1e-5);
  EXPECT_GT(probs[1], probs[0]);
}

TEST_F(IrisServer, V2Errors) {
  struct Case {
    std::string body;
    std::vector<std::string> headers;
    long status;
    std::string needle;
  };
  const std::vector<std::string> json = {"Content-Type: application/json"};
  std::string hdr = R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]})";
  std::vector<Case> cases = {
      {"{\"inputs\": [", json, 400, "malformed JSON"},
      {"[]", json, 400, "JSON object"},
      {R"({"inputs":[]})", json, 400, "inputs"},
      {R"({"id":5,"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]})", json, 400, "id"},
      {R"({"inputs":[{"name":"input-0","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})", json, 400, "shape"},
      {R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[1,2,3]}]})", json, 400, "needs 4 elements"},
      {R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP99","data":[1,2,3,4]}]})", json, 400, "unknown datatype 'FP99'"},
      {R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP16","data":[1,2,3,4]}]})", json, 400, "binary form"},
      {R"({"inputs":[{"name":"input-0","shape":[1,-4],"datatype":"FP32","data":[1,2,3,4]}]})", json, 400, "negative"},
      {R"({"inputs":[{"name":"input-0","shape":[100000000000,100000000000],"datatype":"FP32","data":[1]}]})", json, 400, "more than"},
      {R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[1,2,3,"x"]}]})", json, 400, "inputs[0]"},
      {R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"BYTES","data":["a","b","c","d"]}]})", json, 400, "datatype"},
      // A typed BOOL tensor for an FP32 input is refused, as Triton refuses any datatype but the model's
      // (docs/protocols.md: numbers convert to numbers; booleans only from V1's untyped JSON).
      {R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"BOOL","data":[true,false,true,true]}]})", json, 400, "datatype: expected FP32, got BOOL"},
      {R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"outputs":[{"name":"nope"}]})", json, 400, "unknown output 'nope'"},
      {R"({"inputs":[{"name":"a","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]},{"name":"b","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]})", json, 400, "unexpected input"},
      // Binary extension: truncated body, leftover bytes, missing header, bad header.
      {hdr + std::string(8, '\0'), {"Inference-Header-Content-Length: " + std::to_string(hdr.size())}, 400, "binary_data_size"},
      {hdr + std::string(20, '\0'), {"Inference-Header-Content-Length: " + std::to_string(hdr.size())}, 400, "not claimed"},
      {hdr + std::string(16, '\0'), {"Content-Type: application/octet-stream"}, 400, "Inference-Header-Content-Length"},
      {hdr + std::string(16, '\0'), json, 400, "needs the Inference-Header-Content-Length header"},
      {hdr, {"Inference-Header-Content-Length: 99999"}, 400, "larger than the body"},
      {hdr, {"Inference-Header-Content-Length: -1"}, 400, "Inference-Header-Content-Length"},
  };
  for (const auto& c : cases) {
    auto r = Infer(c.body, c.headers);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    EXPECT_NE(r.body.find(c.needle), std::string::npos) << c.body << " -> " << r.body;
    EXPECT_EQ(r.body.rfind(R"({"error":)", 0), 0u) << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/json");
  }
  auto r = HttpPost(port(), "/v2/models/nope/infer", R"({"inputs":[]})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"error":"Model with name nope does not exist."})");
}

// V1 bodies carry no datatypes: JSON booleans are read as BOOL and, like numbers, converted to the model's
// datatype (as KServe's numpy does: True is 1.0). The same rows as numbers give the same answer.
TEST_F(IrisServer, V1BooleansConvertLikeNumbers) {
  auto b = HttpPost(port(), "/v1/models/iris:predict", R"({"instances":[[true,false,true,true]]})");
  EXPECT_EQ(b.status, 200) << b.body;
  auto n = HttpPost(port(), "/v1/models/iris:predict", R"({"instances":[[1,0,1,1]]})");
  EXPECT_EQ(b.body, n.body);
  // V2 numbers of another numeric datatype still convert (FP64 and INT64 data for an FP32 model).
  EXPECT_EQ(Infer(R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"INT64","data":[1,0,1,1]}]})").status, 200);
  EXPECT_EQ(Infer(R"({"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP64","data":[1,0,1,1]}]})").status, 200);
}

TEST_F(IrisServer, BodyLimitIs413) {
  std::string big(200000, ' ');
  auto r = Infer("{" + big + "}");
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("100000"), std::string::npos) << r.body;
}

TEST_F(IrisServer, MalformedPercentEscapesInThePathAre400) {
  // core/percent.h: strict ("%-1" passed the old decoder's from_chars as the byte 0xFF).
  for (const char* path : {"/v2/models/ir%-1is", "/v2/models/iris%2", "/v2/models/%zziris/ready"}) {
    auto r = HttpGet(port(), path);
    EXPECT_EQ(r.status, 400) << path << " " << r.body;
    EXPECT_NE(r.body.find("malformed percent-encoding"), std::string::npos) << r.body;
  }
  EXPECT_EQ(HttpGet(port(), "/v2/models/%69ris/ready").status, 200);  // "%69" is "i"
}

TEST_F(IrisServer, MalformedHttpGets400) {
  // A raw socket speaking broken HTTP.
  auto r = HttpRequest(port(), "BREW", "/", "", {});
  EXPECT_GE(r.status, 400);
}

TEST_F(IrisServer, MetricsCountRequests) {
  for (int i = 0; i < 3; ++i) HttpPost(port(), "/v1/models/iris:predict", kIris);
  Infer(R"({"inputs":[{"name":"input-0","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})");
  auto r = HttpGet(port(), "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers["content-type"].find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find("request_predict_seconds_count{model_name=\"iris\"}"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("nv_inference_request_success{model=\"iris\",version=\"1\"}"), std::string::npos);
  EXPECT_NE(r.body.find("nv_inference_request_failure{model=\"iris\",reason=\"REJECTED\",version=\"1\"} "), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("nv_inference_compute_infer_duration_us"), std::string::npos);
  EXPECT_NE(r.body.find("nv_inference_queue_duration_us"), std::string::npos);
}

TEST(Repository, LoadUnloadIndex) {
  auto s = ServerProcess::Start({"--model_repository", ModelsDir() + "/repo"});
  ASSERT_NE(s, nullptr);
  int port = s->http_port();
  // "broken" fails to load, so the server as a whole is not ready; wait for the others instead.
  for (int i = 0; i < 500 && HttpGet(port, "/v2/models/iris/ready").status != 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (int i = 0; i < 500 && HttpPost(port, "/v2/repository/index", "").body.find("UNAVAILABLE") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto r = HttpPost(port, "/v2/repository/index", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"({"name":"iris","version":"1","state":"READY"})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"name":"broken","state":"UNAVAILABLE","reason":")"), std::string::npos) << r.body;
  EXPECT_EQ(HttpGet(port, "/v2/health/ready").status, 503);

  r = HttpPost(port, "/v2/repository/models/iris/unload", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"name":"iris","unload":true})");
  EXPECT_EQ(HttpPost(port, "/v1/models/iris:predict", kIris).status, 404);
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/iris/unload", "").status, 404);

  r = HttpPost(port, "/v2/repository/models/iris/load", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"name":"iris","load":true})");
  EXPECT_EQ(HttpPost(port, "/v1/models/iris:predict", kIris).body, R"({"predictions":[1.0,1.0]})");

  r = HttpPost(port, "/v2/repository/models/broken/load", "");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("broken"), std::string::npos) << r.body;
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/nope/load", "").status, 404);
  EXPECT_EQ(HttpPost(port, "/v2/repository/models/..%2Fetc/load", "").status, 400);
  EXPECT_EQ(s->Terminate(), 0);
}

TEST(Detection, TwoFilesIsAClearLoadError) {
  auto s = ServerProcess::Start({"--model_name", "m", "--model_dir", ModelsDir() + "/errors/two_files"});
  ASSERT_NE(s, nullptr);
  std::string body;
  for (int i = 0; i < 500; ++i) {
    body = HttpPost(s->http_port(), "/v2/repository/index", "").body;
    if (body.find("UNAVAILABLE") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(body.find("more than one model file"), std::string::npos) << body;
  EXPECT_NE(body.find("model.bst"), std::string::npos) << body;
  EXPECT_NE(body.find("model.json"), std::string::npos) << body;
  auto r = HttpGet(s->http_port(), "/v1/models/m");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(HttpGet(s->http_port(), "/v2/health/ready").status, 503);
}

// Fault-injection models (backends/fault), written to a temp dir.
std::string FaultModel(const std::string& name, const std::string& json) {
  auto dir = std::filesystem::temp_directory_path() / ("inferd-fault-" + std::to_string(getpid())) / name;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "model.fault") << json;
  return dir.string();
}

class FaultEnv {
 public:
  FaultEnv() { setenv("INFERD_FAULT_INJECTION", "1", 1); }
  ~FaultEnv() { unsetenv("INFERD_FAULT_INJECTION"); }
};

TEST(Faults, ThrowingModelFailsOnlyItsRequest) {
  FaultEnv env;
  std::string dir = FaultModel("thrower", R"({"throw":"boom"})");
  auto s = ServerProcess::Start({"--model_name", "thrower", "--model_dir", dir});
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->WaitReady()) << s->Output();
  std::string two_rows = R"({"inputs":[{"name":"input-0","shape":[2,1],"datatype":"FP32","data":[1,2]}]})";
  auto r = HttpPost(s->http_port(), "/v2/models/thrower/infer", two_rows);
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("boom"), std::string::npos) << r.body;
  EXPECT_TRUE(s->Alive());
  // The same server keeps answering (warm-up shaped requests pass through the fault model).
  r = HttpPost(s->http_port(), "/v2/models/thrower/infer",
               R"({"inputs":[{"name":"input-0","shape":[1,1],"datatype":"FP32","data":[7]}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("data":[7.0])"), std::string::npos) << r.body;
  auto m = HttpGet(s->http_port(), "/metrics").body;
  EXPECT_NE(m.find("nv_inference_request_failure{model=\"thrower\",reason=\"BACKEND\",version=\"1\"} 1"), std::string::npos) << m;
}

TEST(Drain, SigtermFinishesInFlightRequestsAndExitsZero) {
  FaultEnv env;
  std::string dir = FaultModel("slow", R"({"sleep_ms":800})");
  auto s = ServerProcess::Start({"--model_name", "slow", "--model_dir", dir});
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->WaitReady(10000)) << s->Output();
  int port = s->http_port();
  HttpResponse slow;
  std::thread t([&] {
    slow = HttpPost(port, "/v2/models/slow/infer",
                    R"({"inputs":[{"name":"input-0","shape":[1,2],"datatype":"FP32","data":[1,2]}]})");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto t0 = std::chrono::steady_clock::now();
  kill(s->pid(), SIGTERM);
  t.join();
  EXPECT_EQ(slow.status, 200) << slow.error << slow.body;
  EXPECT_NE(slow.body.find(R"("data":[1.0,2.0])"), std::string::npos) << slow.body;
  EXPECT_EQ(s->Terminate(10000), 0) << s->Output();
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  // Nothing listens any more.
  EXPECT_EQ(HttpRequest(port, "GET", "/", "", {}, 1000).status, 0);
}

// --uds: the same REST API on a Unix stream socket next to the port; a stale socket file is replaced, the
// new one is 0600, answers keep-alive requests on every loop thread and is gone after SIGTERM.
TEST(Uds, RestOverUnixSocket) {
  char tmpl[] = "/tmp/inferd-uds-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  std::string path = dir + "/m.sock";
  {  // a stale socket file, as a killed server leaves it
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    close(fd);
  }
  auto s = ServerProcess::Start({"--model_name", "iris", "--model_dir", ModelsDir() + "/xgb_iris_softmax", "--uds",
                                 path, "--workers", "2"});
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->WaitReady()) << s->Output();
  struct stat st{};
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  for (int i = 0; i < 4; ++i) {  // several connections: spread over both loops
    auto r = HttpRequestUds(path, "POST", "/v1/models/iris:predict", kIris, {"Content-Type: application/json"});
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.body, R"({"predictions":[1.0,1.0]})");
  }
  auto r = HttpRequestUds(path, "GET", "/v2/health/ready", "");
  EXPECT_EQ(r.status, 200) << r.error;
  r = HttpRequestUds(path, "GET", "/v1/models/nope", "");
  EXPECT_EQ(r.status, 404);
  // Raw bytes on one connection: two keep-alive requests, then malformed HTTP gets 400 and a close.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  auto roundtrip = [&](const std::string& req) {
    EXPECT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    std::string got;
    char buf[4096];
    while (got.find("\r\n\r\n") == std::string::npos || got.size() < got.find("\r\n\r\n") + 4 + 2) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
      if (got.find("Content-Length: ") != std::string::npos) {
        size_t cl = std::stoul(got.substr(got.find("Content-Length: ") + 16));
        size_t head = got.find("\r\n\r\n");
        if (head != std::string::npos && got.size() >= head + 4 + cl) break;
      }
    }
    return got;
  };
  EXPECT_EQ(roundtrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(roundtrip("GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_EQ(roundtrip("NOT HTTP\r\n\r\n").rfind("HTTP/1.1 400", 0), 0u);
  close(fd);
  // TCP still answers.
  EXPECT_EQ(HttpGet(s->http_port(), "/").status, 200);
  EXPECT_EQ(s->Terminate(10000), 0) << s->Output();
  EXPECT_NE(lstat(path.c_str(), &st), 0);  // removed at shutdown
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace inferd::testing
