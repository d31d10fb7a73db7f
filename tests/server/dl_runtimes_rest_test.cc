// End to end: a real `inferd model-server --model_repository` serving the TorchScript and ONNX test models
// (scripts/gen_dl_test_models.py), answering V1 and V2 REST and V2 gRPC requests with what torch computed.
#include <gtest/gtest.h>

#if !defined(INFERD_HAVE_TORCH) || !defined(INFERD_HAVE_ONNXRUNTIME)
TEST(dl_runtimes, NotBuilt) { GTEST_SKIP() << "inferd was built without libtorch or ONNX Runtime"; }
#else

#include <grpcpp/grpcpp.h>
#include <simdjson.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "util/json_flatten.h"
#include "inference.grpc.pb.h"
#include "util/test_util.h"

namespace inferd::testing {
namespace {

namespace fs = std::filesystem;

std::string DlModels() { return INFERD_DL_TEST_MODELS; }

struct Named {
  std::string name;
  std::vector<double> values;  // flattened rows
  int64_t rows = 0;
  int64_t cols = 0;
};

// NAME.expected.json -> inputs and outputs in file order.
void LoadExpected(const std::string& model, std::vector<Named>* inputs, std::vector<Named>* outputs) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string path = DlModels() + "/" + model + ".expected.json";
  ASSERT_EQ(parser.load(path).get(doc), simdjson::SUCCESS) << path;
  for (auto [part, list] : {std::pair{"inputs", inputs}, std::pair{"outputs", outputs}}) {
    simdjson::dom::object obj;
    ASSERT_EQ(doc[part].get_object().get(obj), simdjson::SUCCESS);
    for (auto field : obj) {
      Named n;
      n.name = std::string(field.key);
      FlattenJson(field.value, &n.values);
      n.rows = static_cast<int64_t>(field.value.get_array().value().size());
      n.cols = static_cast<int64_t>(n.values.size()) / n.rows;
      list->push_back(std::move(n));
    }
  }
}

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);  // exact for float32 values
  return buf;
}

std::string Rows(const Named& n, int64_t r) {
  std::string s = "[";
  for (int64_t c = 0; c < n.cols; ++c) s += (c ? "," : "") + Number(n.values[r * n.cols + c]);
  return s + "]";
}

std::string V2Body(const std::vector<Named>& inputs) {
  std::string body = R"({"inputs":[)";
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Named& n = inputs[i];
    body += (i ? "," : "") + std::string(R"({"name":")") + n.name + R"(","datatype":"FP32","shape":[)" +
            std::to_string(n.rows) + "," + std::to_string(n.cols) + R"(],"data":[)";
    for (int64_t r = 0; r < n.rows; ++r) body += (r ? "," : "") + Rows(n, r);
    body += "]}";
  }
  return body + "]}";
}

void ExpectClose(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-5 * std::fabs(want[i]) + 1e-6) << what << "[" << i << "]";
  }
}

class dl_runtimes : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(DlModels() + "/repo/torch-mlp2/model.pt")) return;
    server_ = ServerProcess::StartReady({"--model_repository", DlModels() + "/repo"}, &error_).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    if (!fs::exists(DlModels() + "/repo/torch-mlp2/model.pt")) GTEST_SKIP() << "no PyTorch/ONNX test models";
    ASSERT_NE(server_, nullptr) << error_;  // fails, never skips (util/test_util.h)
  }
  static int port() { return server_->http_port(); }

  // POSTs a V2 request made of the expected inputs and checks every output against the expected values.
  static void CheckV2(const std::string& model) {
    std::vector<Named> inputs, outputs;
    LoadExpected(model, &inputs, &outputs);
    auto r = HttpPost(port(), "/v2/models/" + model + "/infer", V2Body(inputs));
    ASSERT_EQ(r.status, 200) << r.body;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
    EXPECT_EQ(doc["model_name"].get_string().value(), model);
    simdjson::dom::array outs = doc["outputs"].get_array().value();
    ASSERT_EQ(outs.size(), outputs.size()) << r.body;
    size_t i = 0;
    for (simdjson::dom::element o : outs) {
      const Named& want = outputs[i++];
      EXPECT_EQ(o["name"].get_string().value(), want.name) << r.body;
      EXPECT_EQ(o["datatype"].get_string().value(), "FP32") << r.body;
      std::vector<double> shape, data;
      FlattenJson(o["shape"].value(), &shape);
      EXPECT_EQ(shape, (std::vector<double>{static_cast<double>(want.rows), static_cast<double>(want.cols)}));
      FlattenJson(o["data"].value(), &data);
      ExpectClose(data, want.values, model + " " + want.name);
    }
  }

  static ServerProcess* server_;
  static std::string error_;
};
ServerProcess* dl_runtimes::server_ = nullptr;
std::string dl_runtimes::error_;

TEST_F(dl_runtimes, BothModelsReadyWithMetadata) {
  auto r = HttpGet(port(), "/v2/models/torch-mlp2/ready");
  EXPECT_EQ(r.status, 200) << r.body;
  r = HttpGet(port(), "/v2/models/onnx-mlp/ready");
  EXPECT_EQ(r.status, 200) << r.body;
  r = HttpGet(port(), "/v2/models/torch-mlp2");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("platform":"pytorch_libtorch")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"name":"x","datatype":"FP32","shape":[-1,4]})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"name":"score","datatype":"FP32","shape":[-1,1]})"), std::string::npos) << r.body;
  r = HttpGet(port(), "/v2/models/onnx-mlp");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find(R"("platform":"onnxruntime_onnx")"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"name":"features","datatype":"FP32","shape":[-1,6]})"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"({"name":"probabilities","datatype":"FP32","shape":[-1,3]})"), std::string::npos) << r.body;
}

TEST_F(dl_runtimes, V2RestTorch) { CheckV2("torch-mlp2"); }

TEST_F(dl_runtimes, V2RestOnnx) { CheckV2("onnx-mlp"); }

TEST_F(dl_runtimes, V1RestBothModels) {
  // onnx-mlp: one input, row format; predictions are output 0 (logits), nested by rows.
  std::vector<Named> inputs, outputs;
  LoadExpected("onnx-mlp", &inputs, &outputs);
  std::string body = R"({"instances":[)";
  for (int64_t r = 0; r < inputs[0].rows; ++r) body += (r ? "," : "") + Rows(inputs[0], r);
  body += "]}";
  auto r = HttpPost(port(), "/v1/models/onnx-mlp:predict", body);
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
  std::vector<double> got;
  FlattenJson(doc["predictions"].value(), &got);
  ExpectClose(got, outputs[0].values, "onnx-mlp V1 predictions");

  // torch-mlp2: two inputs, so each instance is an object keyed by input name.
  inputs.clear();
  outputs.clear();
  LoadExpected("torch-mlp2", &inputs, &outputs);
  body = R"({"instances":[)";
  for (int64_t row = 0; row < inputs[0].rows; ++row) {
    body += (row ? "," : "") + std::string("{");
    for (size_t i = 0; i < inputs.size(); ++i) body += (i ? ",\"" : "\"") + inputs[i].name + "\":" + Rows(inputs[i], row);
    body += "}";
  }
  body += "]}";
  r = HttpPost(port(), "/v1/models/torch-mlp2:predict", body);
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser2;
  ASSERT_EQ(parser2.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
  got.clear();
  FlattenJson(doc["predictions"].value(), &got);
  ExpectClose(got, outputs[0].values, "torch-mlp2 V1 predictions");
}

TEST_F(dl_runtimes, V2RestErrors) {
  // Wrong shape: 400 naming the input.
  auto r = HttpPost(port(), "/v2/models/onnx-mlp/infer",
                    R"({"inputs":[{"name":"features","datatype":"FP32","shape":[1,5],"data":[1,2,3,4,5]}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("features"), std::string::npos) << r.body;
  // A missing input of the two-input model.
  r = HttpPost(port(), "/v2/models/torch-mlp2/infer",
               R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("'y'"), std::string::npos) << r.body;
}

TEST_F(dl_runtimes, V2GrpcModelInfer) {
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->grpc_port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = inference::GRPCInferenceService::NewStub(channel);
  for (const char* name : {"torch-mlp2", "onnx-mlp"}) {
    const std::string model = name;
    std::vector<Named> inputs, outputs;
    LoadExpected(model, &inputs, &outputs);
    inference::ModelInferRequest req;
    req.set_model_name(model);
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Named& n = inputs[i];
      auto* in = req.add_inputs();
      in->set_name(n.name);
      in->set_datatype("FP32");
      in->add_shape(n.rows);
      in->add_shape(n.cols);
      if (model == "torch-mlp2") {  // typed contents
        for (double v : n.values) in->mutable_contents()->add_fp32_contents(static_cast<float>(v));
      } else {  // raw contents
        std::string raw;
        for (double v : n.values) {
          float f = static_cast<float>(v);
          raw.append(reinterpret_cast<const char*>(&f), sizeof f);
        }
        req.add_raw_input_contents(raw);
      }
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    inference::ModelInferResponse resp;
    grpc::Status st = stub->ModelInfer(&ctx, req, &resp);
    ASSERT_TRUE(st.ok()) << model << ": " << st.error_message();
    ASSERT_EQ(resp.outputs_size(), static_cast<int>(outputs.size())) << model;
    for (int o = 0; o < resp.outputs_size(); ++o) {
      const auto& out = resp.outputs(o);
      EXPECT_EQ(out.name(), outputs[o].name);
      EXPECT_EQ(out.datatype(), "FP32");
      EXPECT_EQ(std::vector<int64_t>(out.shape().begin(), out.shape().end()),
                (std::vector<int64_t>{outputs[o].rows, outputs[o].cols}));
      std::vector<double> got;
      if (resp.raw_output_contents_size() > o) {
        const std::string& b = resp.raw_output_contents(o);
        std::vector<float> f(b.size() / sizeof(float));
        std::memcpy(f.data(), b.data(), f.size() * sizeof(float));
        got.assign(f.begin(), f.end());
      } else {
        got.assign(out.contents().fp32_contents().begin(), out.contents().fp32_contents().end());
      }
      ExpectClose(got, outputs[o].values, model + " gRPC " + out.name());
    }
  }
}

std::string Maps(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The runtimes are plugins (model/backend_plugin.h): mapped by the server that loaded their models only.
TEST_F(dl_runtimes, PluginsAreMappedOnceTheirModelsLoad) {
  std::string maps = Maps(server_->pid());
  EXPECT_NE(maps.find("libinferd_backend_torch.so"), std::string::npos);
  EXPECT_NE(maps.find("libinferd_backend_onnx.so"), std::string::npos);
  EXPECT_NE(maps.find("libtorch_cpu"), std::string::npos);
}

// KServe's issue: a TorchScript model.pt with no config.pbtxt or model-settings.json (inputs [-1,-1]) failed its
// zero warm-up ("mat1 and mat2 shapes cannot be multiplied") and never became ready. Now it is ready without a
// warm-up (the log says so) and its first request answers as torch does.
TEST(dl_runtimes_undeclared, TorchScriptWithoutDeclaredShapesServes) {
  if (!fs::exists(DlModels() + "/repo/torch-mlp2/model.pt")) GTEST_SKIP() << "no PyTorch/ONNX test models";
  fs::path dir = fs::temp_directory_path() / ("inferd_dl_undeclared_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(DlModels() + "/repo/torch-mlp2/model.pt", dir / "model.pt");
  std::string error;
  auto s = ServerProcess::StartReady({"--model_name", "mlp", "--model_dir", dir.string()}, &error);
  fs::remove_all(dir);
  ASSERT_NE(s, nullptr) << error;
  EXPECT_NE(s->Output().find("no warm-up at load, the first request warms it up"), std::string::npos) << s->Output();
  std::vector<Named> inputs, outputs;
  LoadExpected("torch-mlp2", &inputs, &outputs);
  auto r = HttpPost(s->http_port(), "/v2/models/mlp/infer", V2Body(inputs));
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS);
  std::vector<double> got;
  FlattenJson(doc["outputs"].at(0)["data"].value(), &got);
  ExpectClose(got, outputs[0].values, "output-0 (logits)");
}

TEST(dl_runtimes_plugins, ServerOfOtherFormatsNeverMapsTheRuntimes) {
  auto s = ServerProcess::Start(
      {"--model_name", "iris", "--model_dir", INFERD_SOURCE_DIR "/examples/models/iris-xgboost"});
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->WaitReady()) << s->Output();
  std::string maps = Maps(s->pid());
  ASSERT_FALSE(maps.empty());
  EXPECT_EQ(maps.find("libinferd_backend_"), std::string::npos);
  EXPECT_EQ(maps.find("libtorch"), std::string::npos);
  EXPECT_EQ(maps.find("libc10"), std::string::npos);
  EXPECT_EQ(maps.find("libonnxruntime"), std::string::npos);
}

}  // namespace
}  // namespace inferd::testing

#endif
