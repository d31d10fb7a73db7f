// Tests of the tensorflow backend (backends/tensorflow): its factory on SavedModels written by TensorFlow
// (tests/data/tf, outputs from tests/data/tf/expected_outputs.json), the model layer's V2 path through it, and the
// TF Serving REST codec (row and columnar formats, signature_name, b64, errors) on those models.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backends/tensorflow/tf_backend.h"
#include "backends/tensorflow/tfserving_json.h"
#include "model/model.h"
#include "tf/model.h"

namespace inferd {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

PassThroughCall Body(std::string_view body) {
  PassThroughCall c;
  c.body = body;
  return c;
}

std::string TfData(const std::string& rel) { return std::string(INFERD_SOURCE_DIR) + "/tests/data/tf/" + rel; }

StatusOr<std::unique_ptr<Backend>> LoadDir(const std::string& dir) {
  LoadOptions o;
  o.model_name = "m";
  o.model_dir = dir;
  return NewTensorflowBackendFactory()->Load(o);
}

Tensor Fp32(const std::string& name, const std::vector<float>& v, Shape shape) {
  Tensor t(name, DataType::kFp32, std::move(shape));
  std::memcpy(t.Allocate(v.size() * sizeof(float)), v.data(), v.size() * sizeof(float));
  return t;
}

std::vector<float> Floats(const Tensor& t) {
  std::vector<float> v(t.byte_size() / sizeof(float));
  std::memcpy(v.data(), t.raw(), t.byte_size());
  return v;
}

TEST(TfBackend, HalfPlusTwoMetadataAndV2Inference) {
  // A model directory with a numeric version subdirectory (TF Serving's layout): the version is served.
  auto b = LoadDir(TfData("saved_model_half_plus_two_cpu/00000123"));
  ASSERT_TRUE(b.ok()) << b.status().message();
  const ModelMetadata& md = (*b)->metadata();
  EXPECT_EQ(md.platform, "tensorflow_savedmodel");
  ASSERT_EQ(md.inputs.size(), 1u);
  EXPECT_EQ(md.inputs[0].name, "x");
  EXPECT_EQ(md.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.inputs[0].shape, (Shape{-1, 1}));
  ASSERT_EQ(md.outputs.size(), 1u);
  EXPECT_EQ(md.outputs[0].name, "y");
  ASSERT_NE((*b)->native_rest(), nullptr);
  EXPECT_EQ((*b)->native_rest()->dialect(), "tfserving");

  Model model("half_plus_two", "123", std::move(*b));
  ASSERT_TRUE(model.WarmUp().ok());
  InferRequest req;
  req.inputs.push_back(Fp32("x", {1, 2, 5}, {3, 1}));
  InferResponse resp;
  Status st = model.Infer(req, &resp);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(resp.outputs.size(), 1u);
  EXPECT_EQ(resp.outputs[0].shape(), (Shape{3, 1}));
  EXPECT_EQ(Floats(resp.outputs[0]), (std::vector<float>{2.5f, 3.0f, 4.5f}));
}

TEST(TfBackend, ModelDirectoryPicksTheHighestVersion) {
  // TF Serving's layout with two versions that answer differently: 7 is half plus three, 12 half plus two (12 > 7
  // numerically, not as text).
  fs::path dir = fs::temp_directory_path() / ("inferd_tf_versions_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy(TfData("saved_model_half_plus_three/00000123"), dir / "7", fs::copy_options::recursive);
  fs::copy(TfData("saved_model_half_plus_two_cpu/00000123"), dir / "12", fs::copy_options::recursive);
  auto b = LoadDir(dir.string());
  ASSERT_TRUE(b.ok()) << b.status().message();
  auto answer = (*b)->native_rest()->Predict(Body(R"({"instances": [1.0, 2.0]})"));
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  EXPECT_EQ(Json::parse(answer->body), Json::parse(R"({"predictions": [2.5, 3.0]})"));
  fs::remove_all(dir / "12");
  b = LoadDir(dir.string());
  ASSERT_TRUE(b.ok()) << b.status().message();
  answer = (*b)->native_rest()->Predict(Body(R"({"instances": [1.0, 2.0]})"));
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  EXPECT_EQ(Json::parse(answer->body), Json::parse(R"({"predictions": [3.5, 4.0]})"));
  fs::remove_all(dir);
}

TEST(TfBackend, BadDirectoriesFailTheLoadWithAReason) {
  auto missing = LoadDir(TfData("no_such_model"));
  ASSERT_FALSE(missing.ok());
  fs::path dir = fs::temp_directory_path() / ("inferd_tf_bad_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "saved_model.pb") << "this is not a protobuf";
  auto bad = LoadDir(dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("saved_model.pb"), std::string::npos) << bad.status().message();
  fs::remove_all(dir);
}

// --- TF Serving REST through the backend ----------------------------------------------------------------------

class TfServingRestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = LoadDir(TfData("saved_model_half_plus_two_cpu/00000123"));
    ASSERT_TRUE(b.ok()) << b.status().message();
    backend_ = std::move(*b);
    api_ = backend_->native_rest();
  }
  StatusOr<Json> Predict(const std::string& body) {
    auto a = api_->Predict(Body(body));
    if (!a.ok()) return a.status();
    EXPECT_EQ(a->status, 200);
    return Json::parse(a->body);
  }
  std::unique_ptr<Backend> backend_;
  NativeRestApi* api_ = nullptr;
};

TEST_F(TfServingRestTest, KServeSampleRowFormat) {
  // TF Serving's documented example, as KServe's tensorflow docs send it.
  auto a = api_->Predict(Body(R"({"instances": [1.0, 2.0, 5.0]})"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->body, R"({"predictions": [2.5,3.0,4.5]})");
}

TEST_F(TfServingRestTest, RowFormatWithNamedInputsAndNestedValues) {
  auto j = Predict(R"({"instances": [{"x": [1.0]}, {"x": [3]}]})");
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_EQ(*j, Json::parse(R"({"predictions": [[2.5], [3.5]]})"));
}

TEST_F(TfServingRestTest, ColumnarFormat) {
  auto j = Predict(R"({"inputs": [[1.0], [2.0], [5.0]]})");
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_EQ(*j, Json::parse(R"({"outputs": [[2.5], [3.0], [4.5]]})"));
  j = Predict(R"({"inputs": {"x": [4.0]}})");
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_EQ(*j, Json::parse(R"({"outputs": [4.0]})"));
}

TEST_F(TfServingRestTest, SignatureName) {
  // An unknown signature is a 400 naming it; the default one may be named explicitly.
  auto bad = Predict(R"({"signature_name": "nope", "instances": [1.0]})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("nope"), std::string::npos) << bad.status().message();
  auto j = Predict(R"({"signature_name": "serving_default", "instances": [1.0]})");
  ASSERT_TRUE(j.ok()) << j.status().message();
  EXPECT_EQ(*j, Json::parse(R"({"predictions": [2.5]})"));
}

TEST_F(TfServingRestTest, BadRequestsAreRefusedNamingWhatIsWrong) {
  struct Case {
    const char* body;
    const char* says;
  } cases[] = {
      {R"({"instances": [1.0], "inputs": [1.0]})", "Not both"},
      {R"({"signature_name": "serving_default"})", "Missing 'inputs' or 'instances'"},
      {R"({"instances": 1.0})", "instances"},
      {R"({"instances": []})", "empty"},
      {R"({"instances": [[1.0], [1.0, 2.0]]})", "same shape"},
      {R"({"instances": [{"y": 1.0}]})", "missing input 'x'"},
      {R"({"instances": [{"x": 1.0, "z": 2.0}]})", "no input 'z'"},
      {R"({"instances": ["a"]})", "expected a number"},
      {R"({"instances": [true]})", "expected a number"},
      {R"({"instances": [null]})", "null"},
      {R"({"inputs": [[1.0], [2.0, 3.0]]})", "rectangular"},
      {R"({"inputs": [[1.0], 2.0]})", "rectangular"},
      {R"({"instances": [1.0], "extra": 1})", "extra"},
      {R"({"signature_name": 3, "instances": [1.0]})", "signature_name"},
      {R"(not json)", "not valid JSON"},
      {R"([1, 2])", "object"},
  };
  for (const auto& c : cases) {
    auto r = Predict(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << c.body << " -> " << r.status().message();
  }
  std::string deep = R"({"inputs": )" + std::string(100, '[') + "1" + std::string(100, ']') + "}";
  auto r = Predict(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper"), std::string::npos) << r.status().message();
}

TEST_F(TfServingRestTest, StatusAndMetadata) {
  auto s = api_->ModelStatus("half_plus_two", "123");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Json::parse(s->body), Json::parse(R"({"model_version_status": [{"version": "123", "state": "AVAILABLE",
      "status": {"error_code": "OK", "error_message": ""}}]})"));
  auto m = api_->Metadata("half_plus_two", "123");
  ASSERT_TRUE(m.ok());
  Json j = Json::parse(m->body);
  EXPECT_EQ(j["model_spec"]["name"], "half_plus_two");
  EXPECT_EQ(j["model_spec"]["version"], "123");
  const Json& sig = j["metadata"]["signature_def"]["signature_def"]["serving_default"];
  EXPECT_EQ(sig["method_name"], "tensorflow/serving/predict");
  EXPECT_EQ(sig["inputs"]["x"]["dtype"], "DT_FLOAT");
  EXPECT_EQ(sig["inputs"]["x"]["name"], "x:0");
  EXPECT_EQ(sig["inputs"]["x"]["tensor_shape"]["dim"][0]["size"], "-1");
  EXPECT_EQ(sig["outputs"]["y"]["name"], "y:0");
  EXPECT_TRUE(j["metadata"]["signature_def"]["signature_def"].contains("regress_x_to_y"));
}

// --- models with several inputs and outputs, integer dtypes, several signatures -------------------------------

TEST(TfServingRest, MultipleInputsRowAndColumnar) {
  // tf_rust_keras_multiple_inputs: two float inputs; expected outputs from TensorFlow.
  Json expected = Json::parse(std::ifstream(TfData("expected_outputs.json")));
  const Json& c = expected["tf_rust_keras_multiple_inputs"]["signatures"]["serving_default"][0];
  auto b = LoadDir(TfData("tf_rust_keras_multiple_inputs"));
  ASSERT_TRUE(b.ok()) << b.status().message();
  ASSERT_EQ((*b)->metadata().inputs.size(), 2u);
  // Columnar: each input's whole tensor, reshaped from the expected file's flat values.
  Json inputs = Json::object();
  for (auto it = c["inputs"].begin(); it != c["inputs"].end(); ++it) {
    const Json& shape = it.value()["shape"];
    const Json& values = it.value()["values"];
    ASSERT_EQ(shape.size(), 2u) << it.key();
    Json rows = Json::array();
    size_t cols = shape[1].get<size_t>();
    for (size_t r = 0; r < shape[0].get<size_t>(); ++r) {
      Json row = Json::array();
      for (size_t k = 0; k < cols; ++k) row.push_back(values[r * cols + k]);
      rows.push_back(row);
    }
    inputs[it.key()] = rows;
  }
  auto a = (*b)->native_rest()->Predict(Body(Json{{"inputs", inputs}}.dump()));
  ASSERT_TRUE(a.ok()) << a.status().message();
  Json got = Json::parse(a->body)["outputs"];
  const std::string out_alias = c["outputs"].begin().key();
  const Json& want = c["outputs"][out_alias]["values"];
  std::vector<double> flat;
  std::function<void(const Json&)> walk = [&](const Json& v) {
    if (v.is_array()) {
      for (const Json& e : v) walk(e);
    } else {
      flat.push_back(v.get<double>());
    }
  };
  walk(c["outputs"].size() == 1 ? got : got[out_alias]);
  ASSERT_EQ(flat.size(), want.size());
  for (size_t i = 0; i < flat.size(); ++i) EXPECT_NEAR(flat[i], want[i].get<double>(), 1e-4 * (1 + std::abs(flat[i])));
  // Row format: one object per example naming both inputs; same answers, one row each.
  Json instances = Json::array();
  const size_t n = inputs.begin().value().size();
  for (size_t r = 0; r < n; ++r) {
    Json ex = Json::object();
    for (auto it = inputs.begin(); it != inputs.end(); ++it) ex[it.key()] = it.value()[r];
    instances.push_back(ex);
  }
  a = (*b)->native_rest()->Predict(Body(Json{{"instances", instances}}.dump()));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(Json::parse(a->body)["predictions"].size(), n);
  // A row without the second input is refused, naming it.
  Json one = instances[0];
  one.erase(one.begin());
  a = (*b)->native_rest()->Predict(Body(Json{{"instances", Json::array({one})}}.dump()));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("missing input"), std::string::npos) << a.status().message();
}

TEST(TfServingRest, IntegerInputsAreRangeChecked) {
  auto b = LoadDir(TfData("tfjs_node_times_two_int"));
  ASSERT_TRUE(b.ok()) << b.status().message();
  auto a = (*b)->native_rest()->Predict(Body(R"({"instances": [1, 2, -3]})"));
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(Json::parse(a->body), Json::parse(R"({"predictions": [2, 4, -6]})"));
  a = (*b)->native_rest()->Predict(Body(R"({"instances": [1.5]})"));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("integer"), std::string::npos) << a.status().message();
  a = (*b)->native_rest()->Predict(Body(R"({"instances": [4294967296]})"));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("range"), std::string::npos) << a.status().message();
}

TEST(TfServingRest, NamedSignatures) {
  // tfjs_node_module_with_multiple_signatures: serving_default and timestwo.
  auto b = LoadDir(TfData("tfjs_node_module_with_multiple_signatures"));
  ASSERT_TRUE(b.ok()) << b.status().message();
  Json expected = Json::parse(std::ifstream(TfData("expected_outputs.json")));
  const Json& c = expected["tfjs_node_module_with_multiple_signatures"]["signatures"]["timestwo"][0];
  const std::string in_alias = c["inputs"].begin().key();
  Json body = {{"signature_name", "timestwo"}, {"inputs", {{in_alias, c["inputs"][in_alias]["values"]}}}};
  if (c["inputs"][in_alias]["shape"].empty()) body["inputs"][in_alias] = c["inputs"][in_alias]["values"][0];
  auto a = (*b)->native_rest()->Predict(Body(body.dump()));
  ASSERT_TRUE(a.ok()) << a.status().message() << " for " << body.dump();
  Json got = Json::parse(a->body)["outputs"];
  const Json& want = c["outputs"].begin().value()["values"];
  if (c["outputs"].size() > 1) got = got[c["outputs"].begin().key()];
  if (!got.is_array()) got = Json::array({got});
  ASSERT_EQ(got.size(), want.size()) << a->body;
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i].get<double>(), want[i].get<double>(), 1e-5);
}

// --- the codec alone ------------------------------------------------------------------------------------------

TEST(TfServingJson, WritesFloatsAsTfServingDoesAndStringsAsB64WhenAsked) {
  auto f = tf::Tensor::Make(tf::DType::kFloat, {4});
  ASSERT_TRUE(f.ok());
  float vals[] = {3.0f, 0.1f, std::numeric_limits<float>::infinity(), std::nanf("")};
  std::memcpy(f->data<float>(), vals, sizeof vals);
  auto out = tfserving::WritePredictResponse(false, {"y"}, {*f});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, R"({"outputs": [3.0,0.1,Infinity,NaN]})");
  auto s = tf::Tensor::Make(tf::DType::kString, {2});
  ASSERT_TRUE(s.ok());
  s->strings() = {"abc", std::string("\xff\x00", 2)};
  out = tfserving::WritePredictResponse(true, {"text"}, {*s});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, R"({"predictions": ["abc",{"b64": "/wA="}]})");  // not UTF-8: b64
  s->strings() = {"\xef\xbf\xbd", "caf\xc3\xa9"};  // UTF-8, U+FFFD included: strings as they are
  out = tfserving::WritePredictResponse(true, {"text"}, {*s});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "{\"predictions\": [\"\xef\xbf\xbd\",\"caf\xc3\xa9\"]}");
  s->strings() = {"abc", std::string("\xff\x00", 2)};
  out = tfserving::WritePredictResponse(true, {"image_bytes"}, {*s});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, R"({"predictions": [{"b64": "YWJj"},{"b64": "/wA="}]})");  // *_bytes: always b64
}

TEST(TfServingJson, RowFormatNeedsOneBatchSize) {
  auto a = tf::Tensor::Make(tf::DType::kInt32, {2});
  auto b = tf::Tensor::Make(tf::DType::kInt32, {3});
  ASSERT_TRUE(a.ok() && b.ok());
  auto out = tfserving::WritePredictResponse(true, {"a", "b"}, {*a, *b});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("batch size"), std::string::npos);
  out = tfserving::WritePredictResponse(false, {"a", "b"}, {*a, *b});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, R"({"outputs": {"a": [0,0], "b": [0,0,0]}})");
  auto scalar = tf::Tensor::Make(tf::DType::kInt32, {});
  ASSERT_TRUE(scalar.ok());
  EXPECT_FALSE(tfserving::WritePredictResponse(true, {"s"}, {*scalar}).ok());
}

TEST(TfServingJson, StringInputsTakeB64) {
  tf::SignatureDef sig;
  sig.inputs["text"] = tf::TensorInfo{"text:0", tf::DType::kString, {}};
  auto lookup = [&](std::string_view) -> StatusOr<const tf::SignatureDef*> { return &sig; };
  auto r = tfserving::ParsePredictRequest(R"({"instances": ["plain", {"b64": "aGk="}]})", lookup);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(r->inputs[0].second.strings(), (std::vector<std::string>{"plain", "hi"}));
  r = tfserving::ParsePredictRequest(R"({"instances": [{"b64": "!!"}]})", lookup);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("b64"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace inferd
