// Tests of the XGBoost backend against the predictions XGBoost's Python package made for the same
// models (NAME.expected.json beside each model directory, written by scripts/gen_test_models.py),
// plus load errors, concurrency and the model layer's request validation on top of this backend.
#include "util/json_flatten.h"
#include "backends/xgboost/xgboost_backend.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "model/model.h"

namespace inferd {
namespace {

std::string ModelPath(const std::string& rel) { return std::string(INFERD_TEST_MODELS) + "/" + rel; }

struct Expected {
  std::string objective;
  std::string predict_datatype;  // KServe xgbserver's V2 datatype for Booster.predict's answer
  int64_t num_class = 0;
  int64_t num_features = 0;
  int64_t rows = 0;
  std::vector<float> instances;  // rows x num_features
  std::vector<double> predict, margin, probabilities;
};

Expected LoadExpected(const std::string& dir) {
  Expected x;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string path = ModelPath(dir + ".expected.json");
  auto err = parser.load(path).get(doc);
  EXPECT_EQ(err, simdjson::SUCCESS) << path;
  if (err) return x;
  std::string_view obj;
  EXPECT_EQ(doc["objective"].get_string().get(obj), simdjson::SUCCESS);
  x.objective = std::string(obj);
  EXPECT_EQ(doc["predict_datatype"].get_string().get(obj), simdjson::SUCCESS);
  x.predict_datatype = std::string(obj);
  EXPECT_EQ(doc["num_class"].get_int64().get(x.num_class), simdjson::SUCCESS);
  EXPECT_EQ(doc["num_features"].get_int64().get(x.num_features), simdjson::SUCCESS);
  std::vector<double> inst;
  FlattenJson(doc["instances"].value(), &inst);
  for (double v : inst) x.instances.push_back(static_cast<float>(v));
  x.rows = static_cast<int64_t>(inst.size()) / x.num_features;
  FlattenJson(doc["predict"].value(), &x.predict);
  FlattenJson(doc["margin"].value(), &x.margin);
  simdjson::dom::element probs;
  if (doc["probabilities"].get(probs) == simdjson::SUCCESS) FlattenJson(probs, &x.probabilities);
  return x;
}

StatusOr<std::unique_ptr<Backend>> LoadBackend(const std::string& dir, const std::string& file, int threads = 1) {
  auto factory = NewXgboostBackendFactory();
  LoadOptions o;
  o.model_name = dir;
  o.model_dir = ModelPath(dir);
  o.model_file = file.empty() ? "" : ModelPath(dir + "/" + file);
  o.intra_op_threads = threads;
  return factory->Load(o);
}

Tensor InputTensor(const std::vector<float>& values, int64_t rows, int64_t cols) {
  Tensor t("input-0", DataType::kFp32, {rows, cols});
  std::memcpy(t.Allocate(values.size() * sizeof(float)), values.data(), values.size() * sizeof(float));
  return t;
}

int OutputIndex(const ModelMetadata& md, const std::string& name) {
  for (size_t i = 0; i < md.outputs.size(); ++i)
    if (md.outputs[i].name == name) return static_cast<int>(i);
  return -1;
}

std::vector<double> Values(const Tensor& t) {
  std::vector<double> v;
  int64_t n = t.element_count();
  for (int64_t i = 0; i < n; ++i) {
    if (t.dtype() == DataType::kInt64) v.push_back(static_cast<double>(t.data<int64_t>()[i]));
    else v.push_back(t.data<float>()[i]);
  }
  return v;
}

// Within 1e-6 relative (absolute for values below 1).
void ExpectClose(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_LE(std::abs(got[i] - want[i]), 1e-6 * std::max(1.0, std::abs(want[i])))
        << what << "[" << i << "]: got " << got[i] << ", want " << want[i];
  }
}

struct Case {
  const char* dir;
  const char* file;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.dir << "/" << c.file; }

class XgboostModelTest : public ::testing::TestWithParam<Case> {};

TEST_P(XgboostModelTest, MetadataMatchesObjective) {
  Expected x = LoadExpected(GetParam().dir);
  auto b = LoadBackend(GetParam().dir, GetParam().file);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const ModelMetadata& md = (*b)->metadata();
  EXPECT_EQ(md.platform, "xgboost");
  ASSERT_EQ(md.inputs.size(), 1u);
  EXPECT_EQ(md.inputs[0].name, "input-0");
  EXPECT_EQ(md.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.inputs[0].shape, (Shape{-1, x.num_features}));
  EXPECT_EQ((*b)->default_outputs(), std::vector<int>{0});
  EXPECT_EQ((*b)->v1_output(), 0);
  EXPECT_EQ((*b)->thread_safe(), std::string(GetParam().dir) != "xgb_linear");

  ASSERT_GE(md.outputs.size(), 2u);
  EXPECT_EQ(md.outputs[0].name, "output-0");
  const bool multi = x.objective.rfind("multi:", 0) == 0;
  const int64_t k = x.num_class;
  // output-0 is what KServe's xgbserver answers: Booster.predict's array, whose numpy dtype its V2 encoder
  // maps to a datatype (FP32 for every objective, the class ids of multi:softmax included).
  EXPECT_EQ(DataTypeName(md.outputs[0].dtype), x.predict_datatype);
  if (x.objective == "multi:softmax") {
    EXPECT_EQ(md.outputs[0].shape, (Shape{-1}));
  } else if (x.objective == "multi:softprob") {
    EXPECT_EQ(md.outputs[0].dtype, DataType::kFp32);
    EXPECT_EQ(md.outputs[0].shape, (Shape{-1, k}));
  } else {
    EXPECT_EQ(md.outputs[0].dtype, DataType::kFp32);
    EXPECT_EQ(md.outputs[0].shape, (Shape{-1}));
  }
  int p = OutputIndex(md, "probabilities");
  if (multi) {
    ASSERT_GE(p, 0);
    EXPECT_EQ(md.outputs[p].shape, (Shape{-1, k}));
  } else if (x.objective == "binary:logistic") {
    ASSERT_GE(p, 0);
    EXPECT_EQ(md.outputs[p].shape, (Shape{-1, 2}));
  } else {
    EXPECT_EQ(p, -1);
  }
  int m = OutputIndex(md, "margin");
  ASSERT_GE(m, 0);
  EXPECT_EQ(md.outputs[m].dtype, DataType::kFp32);
  EXPECT_EQ(md.outputs[m].shape, multi ? (Shape{-1, k}) : (Shape{-1}));
}

TEST_P(XgboostModelTest, MatchesPythonPredictions) {
  Expected x = LoadExpected(GetParam().dir);
  auto b = LoadBackend(GetParam().dir, GetParam().file);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Backend& backend = **b;
  const ModelMetadata& md = backend.metadata();
  std::vector<Tensor> in;
  in.push_back(InputTensor(x.instances, x.rows, x.num_features));

  // All outputs at once, then each one alone (every combination takes its own code path).
  std::vector<int> all;
  for (size_t i = 0; i < md.outputs.size(); ++i) all.push_back(static_cast<int>(i));
  std::vector<std::vector<int>> requests = {all};
  for (int i : all) requests.push_back({i});
  std::reverse(all.begin(), all.end());
  requests.push_back(all);

  for (const auto& req : requests) {
    std::vector<Tensor> out;
    Status st = backend.Execute(in, req, &out);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(out.size(), req.size());
    for (size_t j = 0; j < req.size(); ++j) {
      const TensorSpec& spec = md.outputs[req[j]];
      const Tensor& t = out[j];
      EXPECT_EQ(t.dtype(), spec.dtype) << spec.name;
      ASSERT_EQ(t.shape().size(), spec.shape.size()) << spec.name;
      EXPECT_EQ(t.shape()[0], x.rows) << spec.name;
      ASSERT_TRUE(t.Validate(spec.name).ok()) << spec.name;
      if (spec.name == "output-0") ExpectClose(Values(t), x.predict, "output-0");
      if (spec.name == "margin") ExpectClose(Values(t), x.margin, "margin");
      if (spec.name == "probabilities") ExpectClose(Values(t), x.probabilities, "probabilities");
    }
  }
}

TEST_P(XgboostModelTest, EmptyBatch) {
  auto b = LoadBackend(GetParam().dir, GetParam().file);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const ModelMetadata& md = (*b)->metadata();
  std::vector<Tensor> in;
  in.push_back(InputTensor({}, 0, md.inputs[0].shape[1]));
  std::vector<int> all;
  for (size_t i = 0; i < md.outputs.size(); ++i) all.push_back(static_cast<int>(i));
  std::vector<Tensor> out;
  ASSERT_TRUE((*b)->Execute(in, all, &out).ok());
  ASSERT_EQ(out.size(), all.size());
  for (const Tensor& t : out) {
    EXPECT_EQ(t.shape()[0], 0);
    EXPECT_EQ(t.byte_size(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, XgboostModelTest,
                         ::testing::Values(Case{"xgb_iris_softmax", "model.bst"},
                                           Case{"xgb_iris_softprob", "model.json"}, Case{"xgb_iris_ubj", "model.ubj"},
                                           Case{"xgb_regressor", "model.json"}, Case{"xgb_binary", "model.json"},
                                           Case{"xgb_linear", "model.json"}, Case{"xgb_reg_logistic", "model.json"},
                                           Case{"xgb_logitraw", "model.ubj"}, Case{"xgb_poisson", "model.json"},
                                           Case{"xgb_rank", "model.json"}),
                         [](const auto& info) { return std::string(info.param.dir); });

TEST(XgboostBackend, KserveIrisExample) {
  auto b = LoadBackend("xgb_iris_softmax", "model.bst");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::vector<Tensor> in;
  in.push_back(InputTensor({6.8f, 2.8f, 4.8f, 1.4f, 6.0f, 3.4f, 4.5f, 1.6f}, 2, 4));
  std::vector<Tensor> out;
  std::vector<int> req = {0};
  ASSERT_TRUE((*b)->Execute(in, req, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Values(out[0]), (std::vector<double>{1, 1}));
}

// Without model_file the backend finds the file itself; this also checks that every generated model
// directory holds exactly one model file, as `--model_dir` needs.
TEST(XgboostBackend, FindsTheFileInModelDir) {
  for (const char* dir : {"xgb_iris_softmax", "xgb_iris_softprob", "xgb_iris_ubj", "xgb_regressor", "xgb_binary",
                          "xgb_linear", "repo/iris", "repo/iris_json", "repo/regressor"}) {
    auto b = LoadBackend(dir, "");
    EXPECT_TRUE(b.ok()) << dir << ": " << b.status().ToString();
  }
}

TEST(XgboostBackend, ThreadSettingsGiveTheSameAnswers) {
  Expected x = LoadExpected("xgb_iris_softprob");
  for (int threads : {0, 1, 2}) {
    auto b = LoadBackend("xgb_iris_softprob", "model.json", threads);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    std::vector<Tensor> in;
    in.push_back(InputTensor(x.instances, x.rows, x.num_features));
    std::vector<Tensor> out;
    std::vector<int> req = {0};
    ASSERT_TRUE((*b)->Execute(in, req, &out).ok());
    ExpectClose(Values(out[0]), x.predict, "output-0 with nthread " + std::to_string(threads));
  }
}

// Several threads share one backend; each runs batches of a different size (so that a shared result
// buffer would show up as wrong sizes or values) and must get exactly the serial answers.
TEST(XgboostBackend, ConcurrentExecuteOnOneBackend) {
  for (const char* dir : {"xgb_iris_softmax", "xgb_binary"}) {
    Expected x = LoadExpected(dir);
    auto b = LoadBackend(dir, dir == std::string("xgb_binary") ? "model.json" : "model.bst");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    Backend& backend = **b;
    ASSERT_TRUE(backend.thread_safe());
    std::vector<int> all;
    for (size_t i = 0; i < backend.metadata().outputs.size(); ++i) all.push_back(static_cast<int>(i));

    // Serial reference for every batch size 1..rows (the first `rows` instances).
    std::vector<std::vector<std::string>> reference(static_cast<size_t>(x.rows) + 1);
    for (int64_t r = 1; r <= x.rows; ++r) {
      std::vector<float> rows(x.instances.begin(), x.instances.begin() + r * x.num_features);
      std::vector<Tensor> in;
      in.push_back(InputTensor(rows, r, x.num_features));
      std::vector<Tensor> out;
      ASSERT_TRUE(backend.Execute(in, all, &out).ok());
      for (const Tensor& t : out) reference[r].emplace_back(t.bytes());
    }

    constexpr int kThreads = 4;
    constexpr int kIters = 500;
    std::vector<int> mismatches(kThreads, 0);
    std::vector<std::thread> threads;
    for (int id = 0; id < kThreads; ++id) {
      threads.emplace_back([&, id] {
        for (int it = 0; it < kIters; ++it) {
          int64_t r = 1 + (id + it) % x.rows;
          std::vector<float> rows(x.instances.begin(), x.instances.begin() + r * x.num_features);
          std::vector<Tensor> in;
          in.push_back(InputTensor(rows, r, x.num_features));
          std::vector<Tensor> out;
          if (!backend.Execute(in, all, &out).ok() || out.size() != all.size()) {
            ++mismatches[id];
            continue;
          }
          for (size_t j = 0; j < out.size(); ++j)
            if (out[j].bytes() != reference[r][j]) ++mismatches[id];
        }
      });
    }
    for (auto& t : threads) t.join();
    for (int id = 0; id < kThreads; ++id) EXPECT_EQ(mismatches[id], 0) << dir << " thread " << id;
  }
}

TEST(XgboostBackend, LoadErrorsNameTheFile) {
  for (const char* dir : {"errors/corrupt", "repo/broken"}) {
    auto b = LoadBackend(dir, "model.json");
    ASSERT_FALSE(b.ok()) << dir;
    EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument) << b.status().ToString();
    EXPECT_NE(b.status().message().find(ModelPath(std::string(dir) + "/model.json")), std::string::npos)
        << b.status().ToString();
    EXPECT_EQ(b.status().message().find("Stack trace"), std::string::npos) << b.status().ToString();
  }
  auto bst = LoadBackend("errors/corrupt_bst", "model.bst");
  ASSERT_FALSE(bst.ok());
  EXPECT_NE(bst.status().message().find("corrupt_bst/model.bst"), std::string::npos) << bst.status().ToString();

  auto missing = LoadBackend("xgb_iris_softmax", "no_such_model.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("no_such_model.json"), std::string::npos);

  auto empty = LoadBackend("errors/empty", "");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("errors/empty"), std::string::npos) << empty.status().ToString();

  auto two = LoadBackend("errors/two_files", "");
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("model.bst"), std::string::npos) << two.status().ToString();
  EXPECT_NE(two.status().message().find("model.json"), std::string::npos) << two.status().ToString();
}

// ---- the model layer on top of this backend ----------------------------------------------------

std::unique_ptr<Model> LoadIrisModel() {
  auto b = LoadBackend("xgb_iris_softmax", "model.bst");
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  if (!b.ok()) return nullptr;
  return std::make_unique<Model>("iris", "1", std::move(b).value());
}

InferRequest IrisRequest(const std::vector<float>& values, Shape shape) {
  InferRequest req;
  req.model_name = "iris";
  Tensor t("input-0", DataType::kFp32, std::move(shape));
  std::memcpy(t.Allocate(values.size() * sizeof(float)), values.data(), values.size() * sizeof(float));
  req.inputs.push_back(std::move(t));
  return req;
}

TEST(XgboostModel, WarmUpAndDefaultOutput) {
  auto model = LoadIrisModel();
  ASSERT_TRUE(model);
  ASSERT_TRUE(model->WarmUp().ok());
  InferRequest req = IrisRequest({6.8f, 2.8f, 4.8f, 1.4f, 6.0f, 3.4f, 4.5f, 1.6f}, {2, 4});
  InferResponse resp;
  Status st = model->Infer(req, &resp);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(resp.outputs.size(), 1u);
  EXPECT_EQ(resp.outputs[0].name(), "output-0");
  EXPECT_EQ(resp.outputs[0].shape(), (Shape{2}));
  EXPECT_EQ(Values(resp.outputs[0]), (std::vector<double>{1, 1}));
}

TEST(XgboostModel, WrongShapeIsInvalidArgument) {
  auto model = LoadIrisModel();
  ASSERT_TRUE(model);
  InferRequest req = IrisRequest({6.8f, 2.8f, 4.8f}, {1, 3});
  InferResponse resp;
  Status st = model->Infer(req, &resp);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("shape"), std::string::npos) << st.ToString();
}

TEST(XgboostModel, Fp64InputIsConverted) {
  auto model = LoadIrisModel();
  ASSERT_TRUE(model);
  InferRequest req;
  Tensor t("input-0", DataType::kFp64, {2, 4});
  const double v[] = {6.8, 2.8, 4.8, 1.4, 5.1, 3.5, 1.4, 0.2};
  std::memcpy(t.Allocate(sizeof(v)), v, sizeof(v));
  req.inputs.push_back(std::move(t));
  req.outputs.push_back({"output-0", {}});
  req.outputs.push_back({"probabilities", {}});
  InferResponse resp;
  Status st = model->Infer(req, &resp);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(resp.outputs.size(), 2u);
  EXPECT_EQ(Values(resp.outputs[0]), (std::vector<double>{1, 0}));
  EXPECT_EQ(resp.outputs[1].name(), "probabilities");
  EXPECT_EQ(resp.outputs[1].shape(), (Shape{2, 3}));
}

TEST(XgboostModel, UnknownOutputIsInvalidArgument) {
  auto model = LoadIrisModel();
  ASSERT_TRUE(model);
  InferRequest req = IrisRequest({6.8f, 2.8f, 4.8f, 1.4f}, {1, 4});
  req.outputs.push_back({"predict_proba", {}});
  InferResponse resp;
  Status st = model->Infer(req, &resp);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("predict_proba"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace inferd
