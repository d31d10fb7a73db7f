// End-to-end: a real `inferd model-server` serving TensorFlow SavedModels written by TensorFlow (tests/data/tf),
// asked over HTTP the way KServe users ask TF Serving (KServe's tensorflow runtime): TF Serving's REST API on the
// V1 paths, plus V2 inference, a Triton-layout repository (model.savedmodel) and a stateful model.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <tuple>
#include <nlohmann/json.hpp>
#include <string>

#include "core/base64.h"
#include "tf/saved_model.pb.h"
#include "tf/tf_image_testing.h"
#include "util/test_util.h"

namespace inferd::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string TfData(const std::string& rel) { return std::string(INFERD_SOURCE_DIR) + "/tests/data/tf/" + rel; }

class TensorflowRest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The TF Serving layout KServe's samples use: the storageUri holds numbered version directories.
    server_ = ServerProcess::StartReady(
                  {"--model_name", "half_plus_two", "--model_dir", TfData("saved_model_half_plus_two_cpu")}, &error_)
                  .release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << error_; }
  static int port() { return server_->http_port(); }

  static inline ServerProcess* server_ = nullptr;
  static inline std::string error_;
};

TEST_F(TensorflowRest, TfServingPredictAsKServeDocumentsIt) {
  // KServe's tensorflow sample request shape and TF Serving's documented answer for half_plus_two.
  auto r = HttpPost(port(), "/v1/models/half_plus_two:predict", R"({"instances": [1.0, 2.0, 5.0]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body), Json::parse(R"({"predictions": [2.5, 3.0, 4.5]})"));
  EXPECT_EQ(r.headers["content-type"], "application/json");
  // Columnar, and through the versioned path.
  r = HttpPost(port(), "/v1/models/half_plus_two/versions/123:predict", R"({"inputs": {"x": [[1.0], [3.0]]}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body), Json::parse(R"({"outputs": [[2.5], [3.5]]})"));
}

TEST_F(TensorflowRest, StatusAndMetadataAsTfServingAnswersThem) {
  auto r = HttpGet(port(), "/v1/models/half_plus_two");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  ASSERT_EQ(j["model_version_status"].size(), 1u) << r.body;
  EXPECT_EQ(j["model_version_status"][0]["version"], "123");
  EXPECT_EQ(j["model_version_status"][0]["state"], "AVAILABLE");
  for (const char* path : {"/v1/models/half_plus_two/metadata", "/v1/models/half_plus_two/versions/123/metadata"}) {
    r = HttpGet(port(), path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    j = Json::parse(r.body);
    EXPECT_EQ(j["model_spec"]["name"], "half_plus_two");
    EXPECT_EQ(j["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]["x"]["dtype"], "DT_FLOAT");
  }
  // KServe's other paths stay as they are.
  r = HttpGet(port(), "/v2/models/half_plus_two");
  ASSERT_EQ(r.status, 200) << r.body;
  j = Json::parse(r.body);
  EXPECT_EQ(j["platform"], "tensorflow_savedmodel");
  EXPECT_EQ(j["inputs"][0]["name"], "x");
  EXPECT_EQ(j["inputs"][0]["datatype"], "FP32");
}

TEST_F(TensorflowRest, V2Inference) {
  auto r = HttpPost(port(), "/v2/models/half_plus_two/infer",
                    R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [3, 1], "data": [1, 2, 5]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["outputs"][0]["name"], "y");
  EXPECT_EQ(j["outputs"][0]["data"], Json::parse("[2.5, 3.0, 4.5]"));
  // A shape that does not fit the declared [-1, 1] is a 400 naming the input.
  r = HttpPost(port(), "/v2/models/half_plus_two/infer",
               R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [3], "data": [1, 2, 5]}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("x"), std::string::npos) << r.body;
}

TEST_F(TensorflowRest, ClassifyAndRegressOnTfExamples) {
  // TF Serving's REST API doc's classify/regress shape, on half_plus_two's ParseExample signatures (y = x/2 + 2,
  // y2 = x/2 + 3): the examples become serialized tf.Examples the graph parses.
  auto r = HttpPost(port(), "/v1/models/half_plus_two:regress",
                    R"({"signature_name": "regress_x_to_y", "examples": [{"x": 1.0}, {"x": [3.0]}, {"x": -4.5}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body), Json::parse(R"({"results": [2.5, 3.5, -0.25]})"));
  r = HttpPost(port(), "/v1/models/half_plus_two/versions/123:regress",
               R"({"signature_name": "regress_x_to_y2", "examples": [{"x": 1.0}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body), Json::parse(R"({"results": [3.5]})"));
  // The context's features go to every example; an example's own value wins.
  r = HttpPost(port(), "/v1/models/half_plus_two:classify",
               R"({"signature_name": "classify_x_to_y", "context": {"x": 10.0}, "examples": [{}, {"x": 2.0}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body), Json::parse(R"({"results": [[["", 7.0]], [["", 3.0]]]})"));
  // Errors: a predict signature, a signature whose input is not serialized Examples, an integer feature the graph
  // reads as float, no examples, an unknown signature.
  const std::pair<const char*, const char*> bad[] = {
      {":classify", R"({"examples": [{"x": 1.0}]})"},
      {":regress", R"({"signature_name": "regress_x2_to_y3", "examples": [{"x": 1.0}]})"},
      {":regress", R"({"signature_name": "regress_x_to_y", "examples": [{"x": 1}]})"},
      {":regress", R"({"signature_name": "regress_x_to_y", "examples": []})"},
      {":regress", R"({"signature_name": "regress_x_to_y", "examples": [{"x": [1.0, "a"]}]})"},
      {":classify", R"({"signature_name": "nope", "examples": [{"x": 1.0}]})"},
  };
  for (const auto& [verb, body] : bad) {
    r = HttpPost(port(), std::string("/v1/models/half_plus_two") + verb, body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
    EXPECT_TRUE(Json::parse(r.body).contains("error")) << r.body;
  }
}

TEST_F(TensorflowRest, BadRequestsAre400WithTfServingsErrorBody) {
  for (const char* body : {R"({"instances": "x"})", R"({"signature_name": "nope", "instances": [1.0]})",
                           R"({"instances": [1.0], "inputs": [1.0]})", R"({"instances": [[1.0], [[2.0]]]})",
                           "{not json"}) {
    auto r = HttpPost(port(), "/v1/models/half_plus_two:predict", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    Json j = Json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r.body;
  }
  auto r = HttpPost(port(), "/v1/models/nosuch:predict", R"({"instances": [1.0]})");
  EXPECT_EQ(r.status, 404) << r.body;
  r = HttpGet(port(), "/v1/models/nosuch/metadata");
  EXPECT_EQ(r.status, 404) << r.body;
  // The server is still serving.
  r = HttpPost(port(), "/v1/models/half_plus_two:predict", R"({"instances": [2.0]})");
  EXPECT_EQ(r.status, 200) << r.body;
}

// A SavedModel that decodes JPEG in its graph, as KServe's TensorFlow flowers sample does (its request:
// {"instances": [{"image_bytes": {"b64": ...}, "key": "1"}]}), written here with inferd's copy of TensorFlow's
// schema (proto/tf): image_bytes [-1] -> Reshape to a scalar -> DecodeJpeg(channels 3, INTEGER_ACCURATE) -> Cast
// -> ExpandDims -> ResizeBilinear (to its own size) -> Mean over H, W, C = "scores"; key -> Identity = "key".
std::string JpegModelPb() {
  namespace pb = inferd::tfproto;
  pb::SavedModel sm;
  auto* mg = sm.add_meta_graphs();
  mg->mutable_meta_info_def()->add_tags("serve");
  auto* g = mg->mutable_graph_def();
  auto node = [&](const std::string& name, const std::string& op, std::vector<std::string> in) {
    auto* n = g->add_node();
    n->set_name(name);
    n->set_op(op);
    for (auto& i : in) n->add_input(i);
    return n->mutable_attr();
  };
  auto int_const = [&](const std::string& name, std::vector<int32_t> v, bool scalar) {
    auto* t = (*node(name, "Const", {}))["value"].mutable_tensor();
    t->set_dtype(3);
    if (!scalar) t->mutable_tensor_shape()->add_dim()->set_size(static_cast<int64_t>(v.size()));
    for (int32_t x : v) t->add_int_val(x);
  };
  for (const char* ph : {"image_bytes", "key"}) {
    auto* a = node(ph, "Placeholder", {});
    (*a)["dtype"].set_type(7);
    (*a)["shape"].mutable_shape()->add_dim()->set_size(-1);
  }
  int_const("scalar_shape", {}, false);
  int_const("zero", {0}, true);
  int_const("size", {23, 37}, false);
  int_const("axes", {1, 2, 3}, false);
  node("one_image", "Reshape", {"image_bytes", "scalar_shape"});
  auto* d = node("decode", "DecodeJpeg", {"one_image"});
  (*d)["channels"].set_i(3);
  (*d)["dct_method"].set_s("INTEGER_ACCURATE");
  auto* c = node("cast", "Cast", {"decode"});
  (*c)["SrcT"].set_type(4);
  (*c)["DstT"].set_type(1);
  node("batch", "ExpandDims", {"cast", "zero"});
  node("resize", "ResizeBilinear", {"batch", "size"});
  node("mean", "Mean", {"resize", "axes"});
  node("key_out", "Identity", {"key"});
  pb::SignatureDef& sig = (*mg->mutable_signature_def())["serving_default"];
  sig.set_method_name("tensorflow/serving/predict");
  for (auto [alias, tensor, dtype] : {std::tuple{"image_bytes", "image_bytes:0", 7}, {"key", "key:0", 7}}) {
    (*sig.mutable_inputs())[alias].set_name(tensor);
    (*sig.mutable_inputs())[alias].set_dtype(dtype);
    (*sig.mutable_inputs())[alias].mutable_tensor_shape()->add_dim()->set_size(-1);
  }
  for (auto [alias, tensor, dtype] : {std::tuple{"scores", "mean:0", 1}, {"key", "key_out:0", 7}}) {
    (*sig.mutable_outputs())[alias].set_name(tensor);
    (*sig.mutable_outputs())[alias].set_dtype(dtype);
  }
  return sm.SerializeAsString();
}

TEST(TensorflowImages, JpegDecodedInTheGraphAsKServesFlowersSampleSendsIt) {
  const std::string dir = ::testing::TempDir() + "/tf_jpeg_model_" + std::to_string(getpid());
  if (!inferd::tf::testing::MakePilImages(dir + "/images")) GTEST_SKIP() << "needs /usr/bin/python3 with PIL";
  fs::create_directories(dir + "/model/1");
  std::ofstream(dir + "/model/1/saved_model.pb", std::ios::binary) << JpegModelPb();
  std::string error;
  auto server = ServerProcess::StartReady({"--model_name", "flowers", "--model_dir", dir + "/model"}, &error);
  ASSERT_NE(server, nullptr) << error;
  const std::string jpeg = inferd::tf::testing::ReadBytes(dir + "/images/rgb.jpg");
  const std::string pil = inferd::tf::testing::ReadBytes(dir + "/images/rgb.jpg.raw");  // PIL's decoding
  double mean = 0;
  for (char ch : pil) mean += static_cast<uint8_t>(ch);
  mean /= static_cast<double>(pil.size());
  auto r = HttpPost(server->http_port(), "/v1/models/flowers:predict",
                    R"({"instances": [{"image_bytes": {"b64": ")" + Base64Encode(jpeg) + R"("}, "key": "1"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  ASSERT_EQ(j["predictions"].size(), 1u) << r.body;
  EXPECT_EQ(j["predictions"][0]["key"], "1");
  EXPECT_NEAR(j["predictions"][0]["scores"].get<double>(), mean, 1e-3 * mean) << r.body;
  // A corrupt image is the client's error, naming the node; the server stays up.
  r = HttpPost(server->http_port(), "/v1/models/flowers:predict",
               R"({"instances": [{"image_bytes": {"b64": ")" + Base64Encode(jpeg.substr(0, 200)) + R"("}, "key": "2"}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("DecodeJpeg 'decode'"), std::string::npos) << r.body;
  EXPECT_EQ(HttpGet(server->http_port(), "/v1/models/flowers").status, 200);
}

TEST(TensorflowRepository, TritonLayoutAndAStatefulModel) {
  // A Triton model repository: <model>/<version>/model.savedmodel/ (the SavedModel's files), and TF Serving's
  // counter (no default signature; signatures assign a variable) beside it.
  fs::path repo = fs::temp_directory_path() / ("inferd_tf_repo_" + std::to_string(::getpid()));
  fs::remove_all(repo);
  fs::create_directories(repo / "half" / "1");
  fs::copy(TfData("saved_model_half_plus_two_cpu/00000123"), repo / "half" / "1" / "model.savedmodel",
           fs::copy_options::recursive);
  fs::copy(TfData("saved_model_counter"), repo / "counter", fs::copy_options::recursive);
  std::string error;
  auto server = ServerProcess::StartReady({"--model_repository", repo.string()}, &error);
  ASSERT_NE(server, nullptr) << error;
  const int port = server->http_port();
  auto r = HttpPost(port, "/v2/models/half/infer",
                    R"({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 1], "data": [1, 3]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["outputs"][0]["data"], Json::parse("[2.5, 3.5]"));

  // The counter was not run at load (no warm-up of a stateful model), so it starts at 0.
  auto call = [&](const std::string& sig) {
    auto resp = HttpPost(port, "/v1/models/counter:predict", R"({"signature_name": ")" + sig + R"(", "inputs": {}})");
    EXPECT_EQ(resp.status, 200) << sig << ": " << resp.body;
    return Json::parse(resp.body, nullptr, false);
  };
  Json first = call("get_counter");
  ASSERT_TRUE(first.contains("outputs")) << first.dump();
  EXPECT_EQ(first["outputs"], Json(0.0)) << first.dump();
  call("incr_counter");
  call("incr_counter");
  EXPECT_EQ(call("get_counter")["outputs"], Json(2.0));
  r = HttpPost(port, "/v1/models/counter:predict", R"({"signature_name": "incr_counter_by", "inputs": {"delta": 3}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(call("get_counter")["outputs"], Json(5.0));
  // V2 runs the default signature, which the counter does not have: it declares no inputs, so any input is a 400.
  r = HttpGet(port, "/v2/models/counter");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["inputs"], Json::array()) << r.body;
  r = HttpPost(port, "/v2/models/counter/infer",
               R"({"inputs": [{"name": "delta", "datatype": "FP32", "shape": [1], "data": [1]}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(call("get_counter")["outputs"], Json(5.0));  // and nothing ran
  server.reset();
  fs::remove_all(repo);
}

}  // namespace
}  // namespace inferd::testing
