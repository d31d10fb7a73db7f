// The scikit-learn runtime against scikit-learn itself: every model written by
// scripts/gen_sklearn_test_models.py (into INFERD_TEST_MODELS/sklearn) is loaded through the factory
// and answers its test rows as the estimator's own predict / predict_proba did in Debian's Python.
#include "backends/sklearn/sklearn_backend.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "model/format.h"
#include "model/model.h"
#include "util/test_util.h"

namespace inferd {
namespace {

namespace fs = std::filesystem;

std::string SklearnDir() { return testing::ModelsDir() + "/sklearn"; }

struct Expected {
  std::vector<double> rows;  // flattened instances
  int64_t n = 0, f = 0;
  std::vector<double> predict;
  std::vector<std::string> predict_labels;  // string class labels
  std::vector<double> proba;
  std::string type;
  // What KServe's sklearnserver answers in V2 for scikit-learn's arrays (gen_sklearn_test_models.py).
  std::string predict_datatype, proba_datatype;
};

Expected ReadExpected(const std::string& dir) {
  Expected e;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.load(dir + ".expected.json");
  e.type = std::string(doc["type"].get_string().value());
  e.predict_datatype = std::string(doc["predict_datatype"].get_string().value());
  std::string_view pd;
  if (doc["predict_proba_datatype"].get_string().get(pd) == simdjson::SUCCESS) e.proba_datatype = std::string(pd);
  for (simdjson::dom::element row : doc["instances"].get_array()) {
    int64_t f = 0;
    for (simdjson::dom::element v : row.get_array()) {
      e.rows.push_back(v.get_double().value());
      ++f;
    }
    e.f = f;
    ++e.n;
  }
  for (simdjson::dom::element v : doc["predict"].get_array()) {
    if (v.is_string()) e.predict_labels.emplace_back(v.get_string().value());
    else e.predict.push_back(v.is_int64() ? static_cast<double>(v.get_int64().value()) : v.get_double().value());
  }
  simdjson::dom::array proba;
  if (doc["predict_proba"].get_array().get(proba) == simdjson::SUCCESS) {
    for (simdjson::dom::element row : proba)
      for (simdjson::dom::element v : row.get_array()) e.proba.push_back(v.get_double().value());
  }
  return e;
}

std::vector<std::string> ModelDirs() {
  std::vector<std::string> dirs;
  for (const auto& entry : fs::directory_iterator(SklearnDir())) {
    if (entry.is_directory()) dirs.push_back(entry.path().string());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& dir, bool force_python = false) {
  ASSIGN_OR_RETURN(DetectedModel d, DetectModel(dir, ""));
  if (d.format != "sklearn") return InvalidArgument("detected " + d.format);
  LoadOptions o;
  o.model_name = fs::path(dir).filename().string();
  o.model_dir = dir;
  o.model_file = d.file;
  o.force_python = force_python;
  ASSIGN_OR_RETURN(std::unique_ptr<Backend> b, NewSklearnBackendFactory()->Load(o));
  return std::make_unique<Model>(o.model_name, "1", std::move(b));
}

Tensor RowsTensor(const Expected& e) {
  Tensor t("input-0", DataType::kFp64, {e.n, e.f});
  std::memcpy(t.Allocate(e.rows.size() * sizeof(double)), e.rows.data(), e.rows.size() * sizeof(double));
  return t;
}

std::vector<double> AsDoubles(const Tensor& t) {
  std::vector<double> v;
  int64_t n = t.element_count();
  for (int64_t i = 0; i < n; ++i) {
    switch (t.dtype()) {
      case DataType::kFp64: v.push_back(t.data<double>()[i]); break;
      case DataType::kInt64: v.push_back(static_cast<double>(t.data<int64_t>()[i])); break;
      case DataType::kInt32: v.push_back(t.data<int32_t>()[i]); break;
      case DataType::kFp32: v.push_back(t.data<float>()[i]); break;
      default: ADD_FAILURE() << "unexpected dtype " << DataTypeName(t.dtype()); return v;
    }
  }
  return v;
}

void ExpectClose(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-9 * std::max(1.0, std::fabs(want[i]))) << what << " element " << i;
  }
}

TEST(SklearnBackend, EveryTestModelAnswersLikeScikitLearn) {
  auto dirs = ModelDirs();
  ASSERT_GE(dirs.size(), 10u) << "scripts/gen_sklearn_test_models.py wrote too few models";
  // Every model answers like scikit-learn twice: compiled natively (all but the two estimators that have
  // no native form) and forced onto the Python path.
  for (const auto& dir : dirs) for (bool force_python : {false, true}) {
    SCOPED_TRACE(dir + (force_python ? " (forced Python)" : ""));
    Expected e = ReadExpected(dir);
    auto m = LoadModel(dir, force_python);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    const ModelMetadata& md = (*m)->metadata();
    EXPECT_EQ(md.platform, "sklearn");
    bool has_native_form = dir.find("knn") == std::string::npos && !dir.ends_with("sklearn-iris-onehot");
    EXPECT_EQ(md.execution, has_native_form && !force_python ? "native" : "python");
    ASSERT_EQ(md.inputs.size(), 1u);
    EXPECT_EQ(md.inputs[0].shape, (Shape{-1, e.f}));

    InferRequest req;
    req.inputs.push_back(RowsTensor(e));
    if (!e.proba.empty()) req.outputs = {{"output-0", {}}, {"probabilities", {}}};
    InferResponse resp;
    Status st = (*m)->Infer(req, &resp);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(resp.outputs.size(), e.proba.empty() ? 1u : 2u);
    const Tensor& out = resp.outputs[0];
    EXPECT_EQ(out.shape(), (Shape{e.n}));
    // V2 datatypes agree with KServe's sklearnserver (numpy's dtype of scikit-learn's own answer).
    EXPECT_EQ(DataTypeName(md.outputs[0].dtype), e.predict_datatype);
    EXPECT_EQ(DataTypeName(out.dtype()), e.predict_datatype);
    if (!e.proba.empty()) {
      EXPECT_EQ(DataTypeName(md.outputs[1].dtype), e.proba_datatype);
    }
    if (!e.predict_labels.empty()) {
      ASSERT_EQ(out.dtype(), DataType::kBytes);
      std::vector<std::string> got;
      ForEachBytesElement(out.bytes(), [&](std::string_view s) { got.emplace_back(s); });
      EXPECT_EQ(got, e.predict_labels);
    } else {
      ExpectClose(AsDoubles(out), e.predict, "predict");
    }
    if (!e.proba.empty()) {
      EXPECT_EQ(resp.outputs[1].dtype(), DataType::kFp64);
      ExpectClose(AsDoubles(resp.outputs[1]), e.proba, "predict_proba");
    }
  }
}

// Rows on each tree model's own split thresholds (exactly, in float32, a float32 step either side, 0, -0,
// +-3e38, NaN where the model takes it; gen_sklearn_test_models.py) against scikit-learn's own answers to
// them, through the native engine: the float32 cast scikit-learn's trees compare in and `x <= t` are both
// visible on these rows.
TEST(SklearnBackend, TreeModelsAgreeWithScikitLearnOnTheirThresholds) {
  size_t models = 0;
  for (const auto& dir : ModelDirs()) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.load(dir + ".expected.json");
    simdjson::dom::array rows;
    if (doc["threshold_instances"].get_array().get(rows) != simdjson::SUCCESS) continue;
    SCOPED_TRACE(dir);
    ++models;
    std::vector<double> x;
    int64_t n = 0;
    for (simdjson::dom::element row : rows) {
      for (simdjson::dom::element v : row.get_array()) {
        x.push_back(v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get_double().value());
      }
      ++n;
    }
    std::vector<double> want, proba;
    std::vector<std::string> labels;
    for (simdjson::dom::element v : doc["threshold_predict"].get_array()) {
      if (v.is_string()) labels.emplace_back(v.get_string().value());
      else want.push_back(v.is_int64() ? static_cast<double>(v.get_int64().value()) : v.get_double().value());
    }
    simdjson::dom::array pa;
    if (doc["threshold_proba"].get_array().get(pa) == simdjson::SUCCESS) {
      for (simdjson::dom::element r : pa)
        for (simdjson::dom::element v : r.get_array()) proba.push_back(v.get_double().value());
    }
    auto m = LoadModel(dir);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ASSERT_EQ((*m)->metadata().execution, "native");  // the engine, not scikit-learn, must be answering
    Expected e;
    e.rows = x;
    e.n = n;
    e.f = static_cast<int64_t>(x.size()) / n;
    InferRequest req;
    req.inputs.push_back(RowsTensor(e));
    if (!proba.empty()) req.outputs = {{"output-0", {}}, {"probabilities", {}}};
    InferResponse resp;
    Status st = (*m)->Infer(req, &resp);
    ASSERT_TRUE(st.ok()) << st.ToString();
    if (!labels.empty()) {
      std::vector<std::string> got;
      ForEachBytesElement(resp.outputs[0].bytes(), [&](std::string_view s) { got.emplace_back(s); });
      EXPECT_EQ(got, labels);
    } else {
      ExpectClose(AsDoubles(resp.outputs[0]), want, "predict on thresholds");
    }
    if (!proba.empty()) ExpectClose(AsDoubles(resp.outputs[1]), proba, "predict_proba on thresholds");
  }
  EXPECT_GE(models, 10u) << "tree test models with threshold rows";
}

TEST(SklearnBackend, ClassifierLabelsKeepTheirWidthAndRegressorsAreFp64) {
  auto narrow = LoadModel(SklearnDir() + "/sklearn-iris-int32labels");
  ASSERT_TRUE(narrow.ok()) << narrow.status().ToString();
  EXPECT_EQ((*narrow)->metadata().outputs[0].dtype, DataType::kInt32);
  auto clf = LoadModel(SklearnDir() + "/sklearn-iris-logreg");
  ASSERT_TRUE(clf.ok()) << clf.status().ToString();
  EXPECT_EQ((*clf)->metadata().outputs[0].dtype, DataType::kInt64);
  EXPECT_EQ((*clf)->metadata().outputs[1].name, "probabilities");
  EXPECT_EQ((*clf)->metadata().outputs[1].shape, (Shape{-1, 3}));
  auto reg = LoadModel(SklearnDir() + "/sklearn-diabetes-ridge");
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  EXPECT_EQ((*reg)->metadata().outputs.size(), 1u);
  EXPECT_EQ((*reg)->metadata().outputs[0].dtype, DataType::kFp64);
}

TEST(SklearnBackend, ConcurrentCallersGetTheirOwnAnswers) {
  std::string dir = SklearnDir() + "/sklearn-iris-rf";
  Expected e = ReadExpected(dir);
  auto m = LoadModel(dir);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        int64_t row = (t * 50 + i) % e.n;
        Tensor x("input-0", DataType::kFp64, {1, e.f});
        std::memcpy(x.Allocate(static_cast<size_t>(e.f) * 8), e.rows.data() + row * e.f, static_cast<size_t>(e.f) * 8);
        InferRequest req;
        req.inputs.push_back(std::move(x));
        InferResponse resp;
        if (!(*m)->Infer(req, &resp).ok() || resp.outputs[0].data<int64_t>()[0] != static_cast<int64_t>(e.predict[static_cast<size_t>(row)])) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(SklearnBackend, BadFilesAreClearLoadErrors) {
  fs::path dir = fs::temp_directory_path() / ("inferd-sklearn-bad-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream(dir / "model.joblib") << "this is not a pickle";
  }
  auto m = LoadModel(dir.string());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("model.joblib"), std::string::npos) << m.status().message();
  // A pickle of something that is not an estimator.
  fs::remove(dir / "model.joblib");
  {
    // pickle protocol 2 of the Python list [1, 2]: \x80\x02 ] ( K\x01 K\x02 e .
    std::ofstream(dir / "model.pkl", std::ios::binary) << std::string("\x80\x02]q\x00(K\x01K\x02e.", 13);
  }
  m = LoadModel(dir.string());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("no predict"), std::string::npos) << m.status().message();
  fs::remove_all(dir);
}

TEST(SklearnBackend, WrongFeatureCountIsABadRequest) {
  auto m = LoadModel(SklearnDir() + "/sklearn-iris-logreg");
  ASSERT_TRUE(m.ok());
  InferRequest req;
  Tensor x("input-0", DataType::kFp64, {1, 3});
  x.Allocate(24);
  req.inputs.push_back(std::move(x));
  InferResponse resp;
  Status st = (*m)->Infer(req, &resp);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
}

}  // namespace
}  // namespace inferd

namespace inferd {
namespace {

Status InferOneRow(Model& m, std::vector<double> row, InferResponse* resp) {
  InferRequest req;
  Tensor x("input-0", DataType::kFp64, {1, static_cast<int64_t>(row.size())});
  std::memcpy(x.Allocate(row.size() * 8), row.data(), row.size() * 8);
  req.inputs.push_back(std::move(x));
  return m.Infer(req, resp);
}

// NaN reaches a native model the way it reaches scikit-learn: refused by a linear model (a request
// error naming the input), imputed by a pipeline that starts with SimpleImputer, routed by a
// HistGradientBoosting model.
TEST(SklearnNative, MissingValuesAreHandledLikeScikitLearn) {
  const double nan = std::nan("");
  auto logreg = LoadModel(SklearnDir() + "/sklearn-iris-logreg");
  ASSERT_TRUE(logreg.ok());
  ASSERT_EQ((*logreg)->metadata().execution, "native");
  InferResponse resp;
  Status st = InferOneRow(**logreg, {5.0, nan, 1.0, 0.2}, &resp);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("input-0"), std::string::npos) << st.message();

  for (const char* name : {"sklearn-iris-pipeline", "sklearn-iris-hgbc"}) {
    SCOPED_TRACE(name);
    auto native = LoadModel(SklearnDir() + "/" + name);
    auto python = LoadModel(SklearnDir() + "/" + name, /*force_python=*/true);
    ASSERT_TRUE(native.ok() && python.ok());
    ASSERT_EQ((*native)->metadata().execution, "native");
    InferResponse a, b;
    ASSERT_TRUE(InferOneRow(**native, {5.0, nan, 1.0, 0.2}, &a).ok());
    ASSERT_TRUE(InferOneRow(**python, {5.0, nan, 1.0, 0.2}, &b).ok());
    EXPECT_EQ(a.outputs[0].data<int64_t>()[0], b.outputs[0].data<int64_t>()[0]);
  }
}

}  // namespace
}  // namespace inferd
