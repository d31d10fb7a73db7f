// Tests of the XGBoost backend against the predictions XGBoost's Python package made for the same
// models (NAME.expected.json beside each model directory, written by scripts/gen_test_models.py),
// plus load errors, concurrency and the model layer's request validation on top of this backend.
#include "util/json_flatten.h"
#include "backends/xgboost/xgboost_backend.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "backends/xgboost/xgboost_trees.h"
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
  EXPECT_EQ((*b)->metadata().v1_output, 0);
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

// libxgboost's own margins for `rows` (n x f, float32): the reference the native engine must reproduce.
std::vector<float> LibxgboostMargins(const std::string& path, const std::vector<float>& rows, int64_t n, int64_t f) {
  BoosterHandle h = nullptr;
  DMatrixHandle proxy = nullptr;
  std::vector<float> out;
  if (XGBoosterCreate(nullptr, 0, &h) != 0 || XGBoosterLoadModel(h, path.c_str()) != 0 ||
      XGProxyDMatrixCreate(&proxy) != 0) {
    ADD_FAILURE() << "libxgboost cannot load " << path << ": " << XGBGetLastError();
  } else {
    std::string array = R"({"data":[)" + std::to_string(reinterpret_cast<uintptr_t>(rows.data())) +
                        R"(,true],"shape":[)" + std::to_string(n) + "," + std::to_string(f) +
                        R"(],"typestr":"<f4","version":3})";
    const char* config = R"({"type":1,"training":false,"iteration_begin":0,"iteration_end":0,)"
                         R"("strict_shape":false,"cache_id":0,"missing":NaN})";
    const bst_ulong* shape = nullptr;
    bst_ulong dim = 0;
    const float* result = nullptr;
    if (XGBoosterPredictFromDense(h, array.c_str(), config, proxy, &shape, &dim, &result) != 0) {
      ADD_FAILURE() << "libxgboost prediction failed: " << XGBGetLastError();
    } else {
      size_t count = 1;
      for (bst_ulong i = 0; i < dim; ++i) count *= static_cast<size_t>(shape[i]);
      out.assign(result, result + count);
    }
  }
  if (proxy) XGDMatrixFree(proxy);
  if (h) XGBoosterFree(h);
  return out;
}

// libxgboost's pred_leaf for `rows`: the node id of the leaf each row reaches in each tree.
std::vector<float> LibxgboostLeaves(const std::string& path, const std::vector<float>& rows, int64_t n, int64_t f) {
  BoosterHandle h = nullptr;
  DMatrixHandle m = nullptr;
  std::vector<float> out;
  std::string array = R"({"data":[)" + std::to_string(reinterpret_cast<uintptr_t>(rows.data())) +
                      R"(,true],"shape":[)" + std::to_string(n) + "," + std::to_string(f) +
                      R"(],"typestr":"<f4","version":3})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  if (XGBoosterCreate(nullptr, 0, &h) != 0 || XGBoosterLoadModel(h, path.c_str()) != 0 ||
      XGDMatrixCreateFromDense(array.c_str(), R"({"missing":NaN,"nthread":1})", &m) != 0 ||
      XGBoosterPredictFromDMatrix(h, m,
                                  R"({"type":6,"training":false,"iteration_begin":0,"iteration_end":0,)"
                                  R"("strict_shape":false})",
                                  &shape, &dim, &result) != 0) {
    ADD_FAILURE() << "libxgboost pred_leaf failed: " << XGBGetLastError();
  } else {
    size_t count = 1;
    for (bst_ulong i = 0; i < dim; ++i) count *= static_cast<size_t>(shape[i]);
    out.assign(result, result + count);
  }
  if (m) XGDMatrixFree(m);
  if (h) XGBoosterFree(h);
  return out;
}

// The model's trees as XGBoost writes them in JSON (whatever the file's format).
std::string ModelJson(const std::string& path) {
  BoosterHandle h = nullptr;
  std::string json;
  bst_ulong len = 0;
  const char* buf = nullptr;
  if (XGBoosterCreate(nullptr, 0, &h) == 0 && XGBoosterLoadModel(h, path.c_str()) == 0 &&
      XGBoosterSaveModelToBuffer(h, R"({"format":"json"})", &len, &buf) == 0) {
    json.assign(buf, len);
  }
  if (h) XGBoosterFree(h);
  return json;
}

// Rows that land exactly on the model's own split thresholds and a float step either side of them, on
// NaN (missing), +-infinity, 0 and -0, one feature at a time over the model's test rows, plus rows wholly
// made of each special value. XGBoost goes left when float(x) < float(threshold): a row at the threshold
// goes right, the one just below left; a `<` turned into `<=` anywhere in the native path changes leaves.
std::vector<float> ThresholdRows(const std::vector<forest::TreeSpec>& trees, const Expected& x, size_t* on_threshold) {
  const int64_t f = x.num_features;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> rows;
  const int64_t bases = std::min<int64_t>(x.rows, 3);
  auto add = [&](int64_t base, int64_t feature, float v) {
    rows.insert(rows.end(), x.instances.begin() + base * f, x.instances.begin() + (base + 1) * f);
    rows[rows.size() - static_cast<size_t>(f - feature)] = v;
  };
  *on_threshold = 0;
  for (const auto& tree : trees) {
    for (const auto& node : tree.nodes) {
      if (node.is_leaf || node.categorical) continue;
      const float t = static_cast<float>(node.threshold);
      for (int64_t b = 0; b < bases; ++b) {
        add(b, node.feature, t);
        add(b, node.feature, std::nextafter(t, -inf));
        add(b, node.feature, std::nextafter(t, inf));
        ++*on_threshold;
      }
    }
  }
  for (int64_t j = 0; j < f; ++j) {
    for (float v : {nan, inf, -inf, 0.0f, -0.0f, std::numeric_limits<float>::max(), -std::numeric_limits<float>::max()}) {
      for (int64_t b = 0; b < bases; ++b) add(b, j, v);
    }
  }
  for (float v : {nan, inf, -inf, -0.0f}) rows.insert(rows.end(), static_cast<size_t>(f), v);
  return rows;
}

class XgboostTreeModelTest : public ::testing::TestWithParam<Case> {};

TEST_P(XgboostTreeModelTest, ThresholdRowsMatchLibxgboost) {
  Expected x = LoadExpected(GetParam().dir);
  const std::string path = ModelPath(std::string(GetParam().dir) + "/" + GetParam().file);
  const int64_t groups = x.objective.rfind("multi:", 0) == 0 ? x.num_class : 1;
  auto trees = XgboostTreeSpecs(ModelJson(path), groups);
  ASSERT_TRUE(trees.ok()) << trees.status().ToString();
  size_t on_threshold = 0;
  std::vector<float> rows = ThresholdRows(*trees, x, &on_threshold);
  const int64_t n = static_cast<int64_t>(rows.size()) / x.num_features;
  ASSERT_GT(on_threshold, 10u) << "the model has too few numerical splits to probe";
  std::vector<float> want = LibxgboostMargins(path, rows, n, x.num_features);
  ASSERT_EQ(want.size(), static_cast<size_t>(n * groups));

  auto b = LoadBackend(GetParam().dir, GetParam().file);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  // The native engine must be the one answering (a disagreement at load would fall back to libxgboost).
  ASSERT_EQ((*b)->metadata().execution, "native");
  int margin = OutputIndex((*b)->metadata(), "margin");
  ASSERT_GE(margin, 0);
  // All rows at once (the engine's blocks of rows) and each row alone (its few-rows path).
  const std::vector<int> req = {margin};
  std::vector<Tensor> in, out;
  in.push_back(InputTensor(rows, n, x.num_features));
  ASSERT_TRUE((*b)->Execute(in, req, &out).ok());
  std::vector<double> got;
  got = Values(out[0]);
  size_t mismatches = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!(std::fabs(got[i] - want[i]) <= 1e-6 * std::max(1.0f, std::fabs(want[i])))) {
      if (++mismatches <= 5) ADD_FAILURE() << "row " << i / groups << " group " << i % groups << ": native " << got[i] << ", libxgboost " << want[i];
    }
  }
  EXPECT_EQ(mismatches, 0u) << "of " << want.size() << " margins (" << n << " rows)";
  // The engine's general walk (LeafIndices; categorical and other forests take it for margins too) against
  // libxgboost's pred_leaf: the same leaf in every tree for every row.
  // (A DMatrix refuses infinities, "Input data contains `inf`": those rows are left out here.)
  auto forest = XgboostForest(*trees, x.num_features, groups, 0.0);
  ASSERT_TRUE(forest.ok()) << forest.status().ToString();
  std::vector<float> finite;
  for (int64_t r = 0; r < n; ++r) {
    auto row = rows.begin() + r * x.num_features;
    if (std::none_of(row, row + x.num_features, [](float v) { return std::isinf(v); })) {
      finite.insert(finite.end(), row, row + x.num_features);
    }
  }
  const int64_t nf = static_cast<int64_t>(finite.size()) / x.num_features;
  std::vector<float> want_leaves = LibxgboostLeaves(path, finite, nf, x.num_features);
  ASSERT_EQ(want_leaves.size(), static_cast<size_t>(nf) * trees->size());
  std::vector<int32_t> leaves(want_leaves.size());
  forest->LeafIndices(finite.data(), static_cast<size_t>(nf), leaves.data());
  size_t leaf_mismatches = 0;
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (static_cast<float>(leaves[i]) != want_leaves[i] && ++leaf_mismatches <= 5) {
      ADD_FAILURE() << "row " << i / trees->size() << " tree " << i % trees->size() << ": leaf " << leaves[i]
                    << ", libxgboost " << want_leaves[i];
    }
  }
  EXPECT_EQ(leaf_mismatches, 0u) << "of " << leaves.size() << " leaves";
  for (int64_t r = 0; r < n; r += 7) {
    std::vector<float> one(rows.begin() + r * x.num_features, rows.begin() + (r + 1) * x.num_features);
    in.clear();
    out.clear();
    in.push_back(InputTensor(one, 1, x.num_features));
    ASSERT_TRUE((*b)->Execute(in, req, &out).ok());
    for (int64_t g = 0; g < groups; ++g) {
      EXPECT_NEAR(Values(out[0])[static_cast<size_t>(g)], want[static_cast<size_t>(r * groups + g)],
                  1e-6 * std::max(1.0f, std::fabs(want[static_cast<size_t>(r * groups + g)])))
          << "row " << r << " alone";
    }
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
// Every gbtree model (xgb_linear, gblinear, has no trees).
INSTANTIATE_TEST_SUITE_P(Models, XgboostTreeModelTest,
                         ::testing::Values(Case{"xgb_iris_softmax", "model.bst"},
                                           Case{"xgb_iris_softprob", "model.json"}, Case{"xgb_iris_ubj", "model.ubj"},
                                           Case{"xgb_regressor", "model.json"}, Case{"xgb_binary", "model.json"},
                                           Case{"xgb_reg_logistic", "model.json"}, Case{"xgb_logitraw", "model.ubj"},
                                           Case{"xgb_poisson", "model.json"}, Case{"xgb_rank", "model.json"}),
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
