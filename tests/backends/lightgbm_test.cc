// LightGBM runtime: the text-format parser and the backend against real LightGBM model files and
// LightGBM's own predictions (tests/data/lightgbm, see its README for where each file comes from). A missing
// file fails the test instead of skipping it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backends/lightgbm/lightgbm_backend.h"
#include "backends/lightgbm/lightgbm_model.h"
#include "model/format.h"

namespace inferd {
namespace {

namespace fs = std::filesystem;
using lightgbm::LightgbmModel;
using lightgbm::ParseLightgbmModel;
using Matrix = std::vector<std::vector<double>>;

std::string Data(const std::string& name) { return std::string(INFERD_SOURCE_DIR) + "/tests/data/lightgbm/" + name; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing test file " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Whitespace-separated numbers, one row per line; '#' lines are comments.
Matrix ReadMatrix(const std::string& path) {
  Matrix m;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::vector<double> row;
    std::string w;
    while (ls >> w) row.push_back(std::strtod(w.c_str(), nullptr));
    m.push_back(row);
  }
  EXPECT_FALSE(m.empty()) << path;
  return m;
}

std::vector<double> Flatten(const Matrix& m, size_t width) {
  std::vector<double> v;
  for (const auto& r : m) {
    EXPECT_EQ(r.size(), width);
    v.insert(v.end(), r.begin(), r.end());
  }
  return v;
}

LightgbmModel Load(const std::string& name) {
  auto m = lightgbm::LoadLightgbmModel(Data(name));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) return LightgbmModel{};
  return std::move(m).value();
}

// Largest |got - want| / |want| (want != 0); fails when any value is off by more than 1e-6 relative
// (1e-12 absolute for values at or near 0).
double CheckClose(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  EXPECT_EQ(got.size(), want.size()) << what;
  double worst = 0;
  int bad = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    double err = std::fabs(got[i] - want[i]);
    if (want[i] != 0) worst = std::max(worst, err / std::fabs(want[i]));
    if (!(err <= 1e-6 * std::fabs(want[i]) + 1e-12)) {
      if (++bad <= 5) ADD_FAILURE() << what << " value " << i << ": got " << got[i] << ", LightGBM " << want[i];
    }
  }
  EXPECT_EQ(bad, 0) << what;
  std::printf("[ measure  ] %s: %zu values, max relative error %.3g\n", what.c_str(), want.size(), worst);
  return worst;
}

// The model's Booster.predict values for `rows` (double input): margins then the transform.
std::vector<double> Predict(const LightgbmModel& m, const std::vector<double>& rows, bool raw = false) {
  const size_t n = rows.size() / static_cast<size_t>(m.num_features);
  const size_t w = static_cast<size_t>(m.num_tree_per_iteration);
  std::vector<double> out(n * w);
  m.forest.Margins(rows.data(), n, out.data());
  if (!raw) forest::ApplyTransform(m.transform, out.data(), n, w);
  return out;
}

LoadOptions DirOptions(const std::string& dir) {
  LoadOptions o;
  o.model_name = "m";
  o.model_dir = dir;
  return o;
}

std::unique_ptr<Backend> LoadBackend(const std::string& file) {
  LoadOptions o;
  o.model_name = "m";
  o.model_file = file;
  auto b = NewLightgbmBackendFactory()->Load(o);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? std::move(b).value() : nullptr;
}

// Runs the backend on `rows` (converted to FP32 as the model layer does) and returns the FP64 outputs.
std::vector<Tensor> Execute(Backend* b, const std::vector<double>& rows, int64_t features, std::vector<int> requested) {
  std::vector<float> f(rows.begin(), rows.end());
  Tensor x("input-0", DataType::kFp32, {static_cast<int64_t>(rows.size()) / features, features});
  x.SetOwned(std::string(reinterpret_cast<const char*>(f.data()), f.size() * sizeof(float)));
  std::vector<Tensor> in;
  in.push_back(std::move(x));
  std::vector<Tensor> out;
  Status st = b->Execute(in, requested, &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

std::vector<double> Doubles(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DataType::kFp64);
  const double* d = t.data<double>();
  return std::vector<double>(d, d + t.byte_size() / sizeof(double));
}

TEST(lightgbm, DartBreastCancerProbabilities) {
  LightgbmModel m = Load("lg_dart_breast_cancer.model");
  EXPECT_EQ(m.version, "v2");
  EXPECT_EQ(m.objective, "binary sigmoid:1");
  EXPECT_EQ(m.transform.kind, forest::TransformKind::kSigmoid);
  EXPECT_EQ(m.num_features, 30);
  EXPECT_EQ(m.forest.num_trees(), 10);
  std::vector<double> x = Flatten(ReadMatrix(Data("breast_cancer_test.tsv")), 30);
  std::vector<double> want = Flatten(ReadMatrix(Data("lg_dart_breast_cancer_true_predictions.txt")), 1);
  ASSERT_EQ(want.size(), 57u);
  CheckClose(Predict(m, x), want, "lg_dart_breast_cancer (double input)");

  auto b = LoadBackend(Data("lg_dart_breast_cancer.model"));
  ASSERT_NE(b, nullptr);
  auto out = Execute(b.get(), x, 30, {0});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), (Shape{57}));
  CheckClose(Doubles(out[0]), want, "lg_dart_breast_cancer (backend, FP32 input)");
}

TEST(lightgbm, KddCup99MulticlassCategoricalRawScores) {
  LightgbmModel m = Load("lg_kddcup99.model");
  EXPECT_EQ(m.num_tree_per_iteration, 13);
  EXPECT_EQ(m.transform.kind, forest::TransformKind::kSoftmax);
  EXPECT_EQ(m.num_features, 41);
  EXPECT_EQ(m.forest.num_trees(), 130);
  std::vector<double> x = Flatten(ReadMatrix(Data("kddcup99_test.tsv")), 41);
  std::vector<double> want = Flatten(ReadMatrix(Data("lg_kddcup99_true_predictions.txt")), 13);
  ASSERT_EQ(want.size(), 504u * 13);
  CheckClose(Predict(m, x, /*raw=*/true), want, "lg_kddcup99 raw (double input)");

  auto b = LoadBackend(Data("lg_kddcup99.model"));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->metadata().outputs[0].shape, (Shape{-1, 13}));
  auto out = Execute(b.get(), x, 41, {1, 0});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name(), "raw");
  EXPECT_EQ(out[0].shape(), (Shape{504, 13}));
  CheckClose(Doubles(out[0]), want, "lg_kddcup99 raw (backend, FP32 input)");
  // predict is the softmax of the raw scores.
  std::vector<double> probs = want;
  forest::ApplyTransform({forest::TransformKind::kSoftmax}, probs.data(), 504, 13);
  CheckClose(Doubles(out[1]), probs, "lg_kddcup99 softmax (backend, FP32 input)");
  // The other order: predict computed first must not leave its transform in raw.
  auto swapped = Execute(b.get(), x, 41, {0, 1});
  ASSERT_EQ(swapped.size(), 2u);
  CheckClose(Doubles(swapped[0]), probs, "lg_kddcup99 softmax (predict requested first)");
  CheckClose(Doubles(swapped[1]), want, "lg_kddcup99 raw (requested after predict)");
}

TEST(lightgbm, RandomForestIrisAveraging) {
  LightgbmModel m = Load("lg_rf_iris.model");
  EXPECT_TRUE(m.average_output);
  EXPECT_EQ(m.forest.aggregation(), forest::Aggregation::kAverage);
  // LightGBM 2.x rf: leaf values are probabilities and the average is the prediction.
  EXPECT_TRUE(m.legacy_rf_output);
  EXPECT_EQ(m.transform.kind, forest::TransformKind::kIdentity);
  std::vector<double> x = Flatten(ReadMatrix(Data("lg_rf_iris_test.tsv")), 4);
  std::vector<double> want = Flatten(ReadMatrix(Data("lg_rf_iris_true_predictions.txt")), 1);
  ASSERT_EQ(x.size(), 30u * 4);
  ASSERT_EQ(want.size(), 30u);
  CheckClose(Predict(m, x), want, "lg_rf_iris (double input)");
  auto b = LoadBackend(Data("lg_rf_iris.model"));
  ASSERT_NE(b, nullptr);
  CheckClose(Doubles(Execute(b.get(), x, 4, {0})[0]), want, "lg_rf_iris (backend, FP32 input)");
}

TEST(lightgbm, BreastCancerLeafIndicesExact) {
  LightgbmModel m = Load("lg_breast_cancer.txt");
  EXPECT_EQ(m.version, "v3");
  const int32_t trees = m.forest.num_trees();
  EXPECT_EQ(trees, 39);
  std::vector<double> x = Flatten(ReadMatrix(Data("lg_breast_cancer_data.txt")), 30);
  Matrix want = ReadMatrix(Data("lg_breast_cancer_data_pred_leaves.txt"));
  ASSERT_EQ(want.size(), 57u);
  std::vector<int32_t> got(want.size() * static_cast<size_t>(trees));
  m.forest.LeafIndices(x.data(), want.size(), got.data());
  int mismatches = 0;
  for (size_t r = 0; r < want.size(); ++r) {
    ASSERT_EQ(want[r].size(), static_cast<size_t>(trees));
    for (int32_t t = 0; t < trees; ++t) {
      if (got[r * static_cast<size_t>(trees) + static_cast<size_t>(t)] != static_cast<int32_t>(want[r][static_cast<size_t>(t)])) {
        if (++mismatches <= 5) ADD_FAILURE() << "row " << r << " tree " << t;
      }
    }
  }
  EXPECT_EQ(mismatches, 0);

  // The backend's "leaf" output (FP32 input) gives the same indices.
  auto b = LoadBackend(Data("lg_breast_cancer.txt"));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->metadata().outputs[2].name, "leaf");
  EXPECT_EQ(b->metadata().outputs[2].shape, (Shape{-1, 39}));
  auto out = Execute(b.get(), x, 30, {2});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].dtype(), DataType::kInt32);
  EXPECT_EQ(out[0].shape(), (Shape{57, 39}));
  const int32_t* leaves = out[0].data<int32_t>();
  EXPECT_TRUE(std::equal(got.begin(), got.end(), leaves));

  // Margins are the sums of the leaves' values.
  std::vector<double> margins = Predict(m, x, true);
  for (size_t r = 0; r < want.size(); ++r) {
    double sum = 0;
    for (int32_t t = 0; t < trees; ++t) {
      int32_t root = m.forest.tree_root(t);
      // Find the leaf node with this id in tree t (pre-order: the tree's nodes are contiguous).
      int32_t end = t + 1 < trees ? m.forest.tree_root(t + 1) : static_cast<int32_t>(m.forest.nodes().size());
      for (int32_t i = root; i < end; ++i) {
        const auto& node = m.forest.nodes()[static_cast<size_t>(i)];
        if (node.is_leaf() && node.leaf_id() == got[r * static_cast<size_t>(trees) + static_cast<size_t>(t)]) sum += node.value;
      }
    }
    EXPECT_NEAR(margins[r], sum, 1e-12 * std::max(1.0, std::fabs(sum)));
  }
}

TEST(lightgbm, BackendMetadataAndDefaults) {
  auto b = LoadBackend(Data("lg_dart_breast_cancer.model"));
  ASSERT_NE(b, nullptr);
  const ModelMetadata& md = b->metadata();
  EXPECT_EQ(md.platform, "lightgbm");
  ASSERT_EQ(md.inputs.size(), 1u);
  EXPECT_EQ(md.inputs[0].name, "input-0");
  EXPECT_EQ(md.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.inputs[0].shape, (Shape{-1, 30}));
  ASSERT_EQ(md.outputs.size(), 3u);
  EXPECT_EQ(md.outputs[0].name, "predict");
  EXPECT_EQ(md.outputs[0].dtype, DataType::kFp64);
  EXPECT_EQ(md.outputs[0].shape, (Shape{-1}));
  EXPECT_EQ(md.outputs[1].name, "raw");
  EXPECT_EQ(md.outputs[2].dtype, DataType::kInt32);
  EXPECT_EQ(md.outputs[2].shape, (Shape{-1, 10}));
  EXPECT_EQ(b->default_outputs(), std::vector<int>{0});
  EXPECT_EQ(b->metadata().v1_output, 0);
  EXPECT_TRUE(b->thread_safe());

  // Zero rows, and NaN (missing) values.
  auto out = Execute(b.get(), {}, 30, {0, 1, 2});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].shape(), (Shape{0}));
  EXPECT_EQ(out[2].shape(), (Shape{0, 10}));
  std::vector<double> nan_row(30, std::nan(""));
  auto p = Doubles(Execute(b.get(), nan_row, 30, {0})[0]);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(p[0] > 0 && p[0] < 1);

  // A wrong shape is refused.
  Tensor x("input-0", DataType::kFp32, {1, 29});
  x.Allocate(29 * sizeof(float));
  std::vector<Tensor> in;
  in.push_back(std::move(x));
  std::vector<Tensor> o;
  int req[] = {0};
  EXPECT_EQ(b->Execute(in, req, &o).code(), StatusCode::kInvalidArgument);
}

TEST(lightgbm, BackendConcurrentExecute) {
  auto b = LoadBackend(Data("lg_kddcup99.model"));
  ASSERT_NE(b, nullptr);
  std::vector<double> x = Flatten(ReadMatrix(Data("kddcup99_test.tsv")), 41);
  std::vector<double> want = Doubles(Execute(b.get(), x, 41, {0})[0]);
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        if (Doubles(Execute(b.get(), x, 41, {0})[0]) != want) ++bad[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int v : bad) EXPECT_EQ(v, 0);
}

// ---- parser robustness ---------------------------------------------------------------------------

const char kSmall[] =
    "tree\n"
    "version=v3\n"
    "num_class=1\n"
    "num_tree_per_iteration=1\n"
    "label_index=0\n"
    "max_feature_idx=1\n"
    "objective=regression\n"
    "feature_names=a b\n"
    "feature_infos=[0:1] [0:1]\n"
    "tree_sizes=1 1\n"
    "\n"
    "Tree=0\n"
    "num_leaves=3\n"
    "num_cat=1\n"
    "split_feature=0 1\n"
    "split_gain=1 1\n"
    "threshold=0.5 0\n"
    "decision_type=10 1\n"
    "left_child=1 -1\n"
    "right_child=-3 -2\n"
    "leaf_value=1 2 3\n"
    "leaf_count=1 1 1\n"
    "internal_value=0 0\n"
    "internal_count=3 2\n"
    "cat_boundaries=0 1\n"
    "cat_threshold=6\n"
    "shrinkage=1\n"
    "\n"
    "\n"
    "Tree=1\n"
    "num_leaves=1\n"
    "num_cat=0\n"
    "split_feature=\n"
    "split_gain=\n"
    "threshold=\n"
    "decision_type=\n"
    "left_child=\n"
    "right_child=\n"
    "leaf_value=0.25\n"
    "leaf_count=0\n"
    "internal_value=\n"
    "internal_count=\n"
    "shrinkage=1\n"
    "\n"
    "\n"
    "end of trees\n"
    "\n"
    "feature_importances:\n"
    "a=1\n";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

double Eval(const LightgbmModel& m, double a, double b) {
  double x[2] = {a, b}, out = 0;
  m.forest.Margins(x, 1, &out);
  return out;
}

TEST(lightgbm, ParserSmallModelSemantics) {
  auto m = ParseLightgbmModel(kSmall);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->feature_names, (std::vector<std::string>{"a", "b"}));
  // Node 0: a <= 0.5 (decision_type 10: default_left, missing NaN) -> node 1; else leaf 2 (3).
  // Node 1: categorical on b, categories {1, 2} (bitset 6) -> leaf 0 (1), else leaf 1 (2). Tree 1: 0.25.
  EXPECT_EQ(Eval(*m, 0.0, 1), 1.25);
  EXPECT_EQ(Eval(*m, 0.0, 2.9), 1.25);
  EXPECT_EQ(Eval(*m, 0.0, 3), 2.25);
  EXPECT_EQ(Eval(*m, 0.0, std::nan("")), 2.25);  // NaN category goes right
  EXPECT_EQ(Eval(*m, 0.0, -1), 2.25);
  EXPECT_EQ(Eval(*m, std::nan(""), 1), 1.25);    // NaN numerical: default left
  EXPECT_EQ(Eval(*m, 0.7, 1), 3.25);
  double x[2] = {0.7, 1};
  int32_t leaves[2];
  m->forest.LeafIndices(x, 1, leaves);
  EXPECT_EQ(leaves[0], 2);
  EXPECT_EQ(leaves[1], 0);
  EXPECT_EQ(m->forest.cover(m->forest.tree_root(0)), 3);  // internal_count kept for explainers

  // Missing type None (decision_type 0): NaN counts as 0 -> left; Zero (4) with default right: 0 -> right.
  auto none = ParseLightgbmModel(Replace(kSmall, "decision_type=10 1", "decision_type=0 1"));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(Eval(*none, std::nan(""), 1), 1.25);
  auto zero = ParseLightgbmModel(Replace(kSmall, "decision_type=10 1", "decision_type=4 1"));
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(Eval(*zero, 0.0, 1), 3.25);
  EXPECT_EQ(Eval(*zero, std::nan(""), 1), 3.25);
  EXPECT_EQ(Eval(*zero, 0.1, 1), 1.25);

  // Objectives pick transforms.
  auto obj = [&](const std::string& o) {
    auto r = ParseLightgbmModel(Replace(kSmall, "objective=regression", "objective=" + o));
    EXPECT_TRUE(r.ok()) << o << ": " << r.status().ToString();
    return r.ok() ? r->transform : forest::OutputTransform{};
  };
  EXPECT_EQ(obj("binary sigmoid:2").kind, forest::TransformKind::kSigmoid);
  EXPECT_EQ(obj("binary sigmoid:2").scale, 2.0);
  EXPECT_EQ(obj("poisson").kind, forest::TransformKind::kExp);
  EXPECT_EQ(obj("gamma").kind, forest::TransformKind::kExp);
  EXPECT_EQ(obj("tweedie").kind, forest::TransformKind::kExp);
  EXPECT_EQ(obj("regression sqrt").kind, forest::TransformKind::kSignedSquare);
  EXPECT_EQ(obj("huber").kind, forest::TransformKind::kIdentity);
  EXPECT_EQ(obj("cross_entropy").kind, forest::TransformKind::kSigmoid);
  EXPECT_EQ(obj("cross_entropy_lambda").kind, forest::TransformKind::kSoftplus);
  EXPECT_EQ(obj("lambdarank").kind, forest::TransformKind::kIdentity);
  auto no_objective = ParseLightgbmModel(Replace(kSmall, "objective=regression\n", ""));
  ASSERT_TRUE(no_objective.ok());
  EXPECT_EQ(no_objective->transform.kind, forest::TransformKind::kIdentity);

  // v4 and rf averaging (v3+: the transform applies after averaging).
  auto v4 = ParseLightgbmModel(Replace(Replace(kSmall, "version=v3", "version=v4"), "objective=regression",
                                       "objective=binary sigmoid:1\naverage_output"));
  ASSERT_TRUE(v4.ok()) << v4.status().ToString();
  EXPECT_FALSE(v4->legacy_rf_output);
  EXPECT_EQ(v4->transform.kind, forest::TransformKind::kSigmoid);
  EXPECT_EQ(Eval(*v4, 0.7, 1), (3 + 0.25) / 2);
}

TEST(lightgbm, ParserErrorsNameTheProblem) {
  auto error = [](const std::string& text) {
    auto m = ParseLightgbmModel(text);
    EXPECT_FALSE(m.ok());
    return m.ok() ? std::string() : m.status().message();
  };
  auto has = [&](const std::string& text, const std::string& needle) {
    std::string e = error(text);
    EXPECT_NE(e.find(needle), std::string::npos) << "message: " << e << "\nexpected: " << needle;
  };
  std::string s = kSmall;
  has("", "not a LightGBM text model");
  has("{\"learner\":{}}", "not a LightGBM text model");
  has(s.substr(0, s.find("end of trees")), "truncated model: no 'end of trees' line after 2 trees");
  has(s.substr(0, s.find("Tree=1")), "truncated");
  has(s.substr(0, s.find("leaf_value=1 2 3")), "tree 0: no 'leaf_value' field");
  has(Replace(s, "version=v3", "version=v9"), "'v9' is not a supported format version");
  has(Replace(s, "version=v3\n", ""), "header: no 'version' field");
  has(Replace(s, "num_class=1", "num_class=x"), "field 'num_class' (line 3): 'x' is not an integer");
  has(Replace(s, "max_feature_idx=1", "max_feature_idx=-2"), "max_feature_idx");
  has(Replace(s, "objective=regression", "objective=frobnicate"), "unknown objective 'frobnicate'");
  has(Replace(s, "objective=regression", "objective=binary sigmoid:abc"), "sigmoid 'abc' is not a positive number");
  has(Replace(s, "objective=regression", "objective=multiclass num_class:3"), "num_tree_per_iteration is 1");
  has(Replace(s, "feature_names=a b", "feature_names=a"), "feature_names");
  has(Replace(s, "left_child=1 -1", "left_child=7 -1"), "tree 0: field 'left_child' (line 19): value 0 (7) is not a split index");
  has(Replace(s, "right_child=-3 -2", "right_child=-9 -2"), "names leaf 8 of 3");
  has(Replace(s, "left_child=1 -1", "left_child=0 -1"), "reached twice");
  has(Replace(s, "left_child=1 -1", "left_child=1 -3"), "reached twice");
  has(Replace(s, "split_feature=0 1", "split_feature=0 5"), "tree 0 node 1: split feature 5 is not in [0, 2)");
  has(Replace(s, "split_feature=0 1", "split_feature=0 -1"), "is negative");
  has(Replace(s, "threshold=0.5 0", "threshold=0.5 3"), "not a category set index");
  has(Replace(s, "threshold=0.5 0", "threshold=abc 0"), "field 'threshold' (line 17): value 0 'abc' is not a number");
  has(Replace(s, "threshold=0.5 0", "threshold=nan 0"), "is NaN");
  has(Replace(s, "threshold=0.5 0", "threshold=0.5"), "field 'threshold' (line 17): has 1 values, expected 2");
  has(Replace(s, "decision_type=10 1", "decision_type=12 1"), "missing type 3");
  has(Replace(s, "decision_type=10 1", "decision_type=64 1"), "unknown bits");
  has(Replace(s, "num_leaves=3", "num_leaves=0"), "num_leaves");
  has(Replace(s, "num_leaves=3", "num_leaves=99999999999999999999"), "not an integer");
  has(Replace(s, "cat_boundaries=0 1", "cat_boundaries=0 2"), "cat_boundaries ends at 2");
  has(Replace(s, "cat_boundaries=0 1", "cat_boundaries=1 1"), "does not start with 0");
  has(Replace(s, "cat_threshold=6\n", ""), "no 'cat_threshold' field");
  has(Replace(s, "leaf_value=1 2 3", "leaf_value=1 inf 3"), "not finite");
  has(Replace(s, "Tree=1", "Tree=5"), "'Tree=5' where 'Tree=1' was expected");
  has(Replace(s, "shrinkage=1\n\n\nTree=1", "shrinkage=1\ngarbage\n\nTree=1"), "'garbage' is not a key=value line");
  has(Replace(s, "tree_sizes=1 1", "tree_sizes=1"), "tree_sizes");
  has(Replace(s, "num_leaves=3", "num_leaves=3\nis_linear=1"), "linear trees");
  EXPECT_EQ(ParseLightgbmModel(Replace(s, "num_leaves=3", "num_leaves=3\nis_linear=1")).status().code(),
            StatusCode::kUnimplemented);
  auto file = lightgbm::LoadLightgbmModel("/nonexistent/model.txt");
  EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
}

// Every prefix and many random corruptions of real model files parse or fail cleanly.
TEST(lightgbm, ParserTruncationAndCorruptionNeverCrash) {
  for (const char* name : {"lg_rf_iris.model", "lg_kddcup99.model"}) {
    const std::string text = ReadFile(Data(name));
    ASSERT_FALSE(text.empty());
    ASSERT_TRUE(ParseLightgbmModel(text).ok());
    size_t failures = 0, cuts = 0;
    const size_t end_of_trees = text.find("end of trees");
    for (size_t cut = 0; cut < end_of_trees; cut += (end_of_trees / 300) + 1) {
      ++cuts;
      auto m = ParseLightgbmModel(std::string_view(text).substr(0, cut));
      if (!m.ok()) ++failures;
    }
    EXPECT_EQ(failures, cuts) << name << ": a model cut before 'end of trees' must not load";
    std::mt19937 rng(7);
    const std::string junk = "-0123456789 .=e\nTreNa";
    for (int i = 0; i < 300; ++i) {
      std::string t = text.substr(0, end_of_trees + 12);
      for (int k = 0; k < 3; ++k) t[rng() % t.size()] = junk[rng() % junk.size()];
      auto m = ParseLightgbmModel(t);
      if (m.ok() && m->forest.num_trees() > 0) {
        // Whatever was accepted evaluates without crashing.
        std::vector<double> row(static_cast<size_t>(m->num_features), 0.5);
        std::vector<double> out(static_cast<size_t>(m->num_tree_per_iteration));
        m->forest.Margins(row.data(), 1, out.data());
      }
    }
  }
}

// ---- format detection ----------------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("inferd_lgb_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Put(const std::string& name, const std::string& content) const {
    std::ofstream(path_ / name, std::ios::binary) << content;
    return (path_ / name).string();
  }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
  static inline int counter_ = 0;
};

TEST(lightgbm, FormatDetectedFromContent) {
  const std::string lgb = ReadFile(Data("lg_rf_iris.model"));
  {
    TempDir d;
    d.Put("model.bst", lgb);
    auto m = DetectModel(d.str(), "");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->format, "lightgbm");
    auto b = NewLightgbmBackendFactory()->Load(DirOptions(d.str()));
    EXPECT_TRUE(b.ok()) << b.status().ToString();
  }
  {
    TempDir d;
    d.Put("model.txt", lgb);
    d.Put("README.txt", "not a model\n");
    auto m = DetectModel(d.str(), "");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->format, "lightgbm");
    EXPECT_EQ(fs::path(m->file).filename(), "model.txt");
  }
  {
    TempDir d;  // XGBoost's binary .bst and .json stay XGBoost
    d.Put("model.bst", std::string("\x00\x00\x00\x3f binary", 11));
    EXPECT_EQ(DetectModel(d.str(), "")->format, "xgboost");
    EXPECT_EQ(DetectModel(d.str(), "lightgbm")->format, "lightgbm");  // explicit format wins for .bst
    // ... and then the parser says what is wrong.
    auto b = NewLightgbmBackendFactory()->Load(DirOptions(d.str()));
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.status().message().find("not a LightGBM text model"), std::string::npos) << b.status().message();
  }
  {
    TempDir d;
    d.Put("model.json", "{}");
    EXPECT_EQ(DetectModel(d.str(), "")->format, "xgboost");
    d.Put("notes.txt", "hello");
    EXPECT_EQ(DetectModel(d.str(), "")->format, "xgboost");
  }
  {
    TempDir d;
    d.Put("model.bst", lgb);
    d.Put("other.txt", lgb);
    auto m = DetectModel(d.str(), "");
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.status().message().find("more than one model file"), std::string::npos);
  }
}

// ---- split thresholds ----------------------------------------------------------------------------------
// LightGBM's decision rule as its model format documents it (decision_type: bit 0 categorical, bit 1 default
// left, bits 2-3 missing type None/Zero/NaN; tree.h NumericalDecision): NaN counts as 0 unless the missing
// type is NaN; a missing value (NaN for NaN, |x| <= 1e-35f for Zero) takes the default side; otherwise
// x <= threshold (in double) goes left. Categorical: a non-negative integer category in the node's bitset goes
// left. This reference walks the model text itself, independently of inferd's parser and engine.
struct RefTree {
  std::vector<int> feature, decision, left, right;
  std::vector<double> threshold, leaf;
  std::vector<int> cat_boundaries;
  std::vector<uint32_t> cat_threshold;
};

struct RefModel {
  int groups = 1;
  bool average = false;
  std::vector<RefTree> trees;
};

template <typename T>
std::vector<T> Numbers(const std::string& line) {
  std::vector<T> v;
  std::istringstream in(line.substr(line.find('=') + 1));
  std::string w;
  while (in >> w) v.push_back(static_cast<T>(std::strtod(w.c_str(), nullptr)));
  return v;
}

RefModel ParseReference(const std::string& text) {
  RefModel m;
  std::istringstream in(text);
  std::string line;
  RefTree* t = nullptr;
  while (std::getline(in, line)) {
    if (line.rfind("num_tree_per_iteration=", 0) == 0) m.groups = std::stoi(line.substr(23));
    if (line == "average_output") m.average = true;
    if (line.rfind("Tree=", 0) == 0) t = &m.trees.emplace_back();
    if (line == "end of trees") break;
    if (!t) continue;
    std::string key = line.substr(0, line.find('='));
    if (key == "split_feature") t->feature = Numbers<int>(line);
    if (key == "decision_type") t->decision = Numbers<int>(line);
    if (key == "left_child") t->left = Numbers<int>(line);
    if (key == "right_child") t->right = Numbers<int>(line);
    if (key == "threshold") t->threshold = Numbers<double>(line);
    if (key == "leaf_value") t->leaf = Numbers<double>(line);
    if (key == "cat_boundaries") t->cat_boundaries = Numbers<int>(line);
    if (key == "cat_threshold") t->cat_threshold = Numbers<uint32_t>(line);
  }
  return m;
}

double ReferenceLeaf(const RefTree& t, const double* row) {
  if (t.feature.empty()) return t.leaf.at(0);
  int node = 0;
  for (;;) {
    double v = row[t.feature.at(static_cast<size_t>(node))];
    const int dt = t.decision.at(static_cast<size_t>(node));
    int next;
    if (dt & 1) {
      int cat = std::isnan(v) ? -1 : static_cast<int>(v);
      next = t.right[static_cast<size_t>(node)];
      const int set = static_cast<int>(t.threshold[static_cast<size_t>(node)]);
      const int begin = t.cat_boundaries.at(static_cast<size_t>(set)), end = t.cat_boundaries.at(static_cast<size_t>(set) + 1);
      if (cat >= 0 && cat / 32 < end - begin &&
          ((t.cat_threshold.at(static_cast<size_t>(begin + cat / 32)) >> (cat % 32)) & 1u)) {
        next = t.left[static_cast<size_t>(node)];
      }
    } else {
      const int missing = (dt >> 2) & 3;  // 0 None, 1 Zero, 2 NaN
      if (std::isnan(v) && missing != 2) v = 0.0;
      const double zero = static_cast<double>(1e-35f);  // LightGBM's kZeroThreshold
      if ((missing == 1 && v >= -zero && v <= zero) || (missing == 2 && std::isnan(v))) {
        next = (dt & 2) ? t.left[static_cast<size_t>(node)] : t.right[static_cast<size_t>(node)];
      } else {
        next = v <= t.threshold[static_cast<size_t>(node)] ? t.left[static_cast<size_t>(node)]
                                                            : t.right[static_cast<size_t>(node)];
      }
    }
    if (next < 0) return t.leaf.at(static_cast<size_t>(~next));
    node = next;
  }
}

// Raw scores (Booster.predict(raw_score=True); averaged for boosting=rf) of double rows.
std::vector<double> ReferenceRaw(const RefModel& m, const std::vector<double>& rows, int64_t features) {
  const size_t n = rows.size() / static_cast<size_t>(features), g = static_cast<size_t>(m.groups);
  std::vector<double> out(n * g, 0.0);
  for (size_t r = 0; r < n; ++r) {
    for (size_t i = 0; i < m.trees.size(); ++i) out[r * g + i % g] += ReferenceLeaf(m.trees[i], &rows[r * features]);
  }
  if (m.average) {
    for (double& v : out) v /= static_cast<double>(m.trees.size() / g);
  }
  return out;
}

// Rows on the model's own thresholds, one feature at a time over a few of its test rows: exactly the
// threshold and the neighbouring values (double neighbours for `as_float` false; for float input, the
// largest float not above the threshold and its float neighbours), and on NaN, +-infinity, 0, -0 and
// LightGBM's zero band (+-1e-35f and just outside it). Features of categorical splits are left as they are.
std::vector<double> ThresholdRows(const RefModel& m, const std::vector<double>& base, int64_t f, bool as_float,
                                  size_t* exact_float_thresholds) {
  std::set<int> categorical;
  for (const auto& t : m.trees)
    for (size_t i = 0; i < t.decision.size(); ++i)
      if (t.decision[i] & 1) categorical.insert(t.feature[i]);
  const size_t bases = std::min<size_t>(base.size() / static_cast<size_t>(f), 3);
  std::vector<double> rows;
  auto add = [&](size_t b, int feature, double v) {
    rows.insert(rows.end(), base.begin() + static_cast<long>(b * f), base.begin() + static_cast<long>((b + 1) * f));
    rows[rows.size() - static_cast<size_t>(f - feature)] = v;
  };
  const double inf = std::numeric_limits<double>::infinity();
  *exact_float_thresholds = 0;
  for (const auto& t : m.trees) {
    for (size_t i = 0; i < t.decision.size(); ++i) {
      if (t.decision[i] & 1) continue;
      const double th = t.threshold[i];
      std::vector<double> vals;
      if (as_float) {
        float lo = static_cast<float>(th);
        if (static_cast<double>(lo) > th) lo = std::nextafter(lo, -std::numeric_limits<float>::infinity());
        if (static_cast<double>(lo) == th) ++*exact_float_thresholds;
        vals = {lo, std::nextafter(lo, -std::numeric_limits<float>::infinity()),
                std::nextafter(lo, std::numeric_limits<float>::infinity())};
      } else {
        vals = {th, std::nextafter(th, -inf), std::nextafter(th, inf)};
      }
      for (size_t b = 0; b < bases; ++b)
        for (double v : vals) add(b, t.feature[i], v);
    }
  }
  const double zero = static_cast<double>(1e-35f);
  for (int j = 0; j < f; ++j) {
    if (categorical.count(j)) continue;
    for (double v : {std::numeric_limits<double>::quiet_NaN(), inf, -inf, 0.0, -0.0, zero, -zero,
                     static_cast<double>(std::nextafter(1e-35f, 1.0f)), -static_cast<double>(std::nextafter(1e-35f, 1.0f))}) {
      for (size_t b = 0; b < bases; ++b) add(b, j, v);
    }
  }
  return rows;
}

struct ThresholdCase {
  const char* model;
  const char* rows;
  int64_t features;
};

class lightgbm_thresholds : public ::testing::TestWithParam<ThresholdCase> {};

TEST_P(lightgbm_thresholds, RowsOnSplitThresholdsFollowLightGBMsRule) {
  const ThresholdCase& c = GetParam();
  const RefModel ref = ParseReference(ReadFile(Data(c.model)));
  ASSERT_FALSE(ref.trees.empty());
  std::vector<double> base = Flatten(ReadMatrix(Data(c.rows)), static_cast<size_t>(c.features));
  LightgbmModel m = Load(c.model);
  ASSERT_EQ(m.num_features, c.features);
  // The engine in double (exact thresholds): the Forest itself.
  size_t exact = 0;
  std::vector<double> rows = ThresholdRows(ref, base, c.features, /*as_float=*/false, &exact);
  CheckClose(Predict(m, rows, /*raw=*/true), ReferenceRaw(ref, rows, c.features), std::string(c.model) + " double rows");
  // The backend (FP32 input, as served): every row is a float, so the float neighbours of each threshold.
  rows = ThresholdRows(ref, base, c.features, /*as_float=*/true, &exact);
  std::printf("[ measure  ] %s: %zu rows, %zu thresholds exactly representable as floats\n", c.model,
              rows.size() / static_cast<size_t>(c.features), exact);
  auto b = LoadBackend(Data(c.model));
  ASSERT_NE(b, nullptr);
  auto out = Execute(b.get(), rows, c.features, {1});  // raw
  ASSERT_EQ(out.size(), 1u);
  CheckClose(Doubles(out[0]), ReferenceRaw(ref, rows, c.features), std::string(c.model) + " float rows");
}

INSTANTIATE_TEST_SUITE_P(Models, lightgbm_thresholds,
                         ::testing::Values(ThresholdCase{"lg_dart_breast_cancer.model", "breast_cancer_test.tsv", 30},
                                           ThresholdCase{"lg_kddcup99.model", "kddcup99_test.tsv", 41},
                                           ThresholdCase{"lg_rf_iris.model", "lg_rf_iris_test.tsv", 4},
                                           ThresholdCase{"lg_breast_cancer.txt", "lg_breast_cancer_data.txt", 30}),
                         [](const auto& info) {
                           std::string n = info.param.model;
                           return n.substr(0, n.find('.'));
                         });

}  // namespace
}  // namespace inferd
