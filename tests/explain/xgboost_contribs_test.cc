// TreeSHAP on XGBoost models, loaded through the real XGBoost backend (its native forest with the trees'
// sum_hessian as covers), against libxgboost's own pred_contribs and pred_interactions
// (XGBoosterPredictFromDMatrix type 2 and 4) on the same rows: equal to 1e-5. Models are trained here with
// libxgboost's C API (regression, binary, multi-class), on data with missing values.
#include <gtest/gtest.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <filesystem>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "backends/xgboost/xgboost_backend.h"
#include "explain/tree_shap.h"

namespace inferd::explain {
namespace {

constexpr int kFeatures = 6;

struct Data {
  std::vector<float> x, y;
  int rows = 0;
};

Data MakeData(int rows, int classes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0, 1);
  Data d;
  d.rows = rows;
  for (int r = 0; r < rows; ++r) {
    float v[kFeatures];
    for (float& e : v) e = n(rng);
    const float s = v[0] + 0.5f * v[1] * v[2] - v[3] + 0.3f * n(rng);
    for (int f = 0; f < kFeatures; ++f) d.x.push_back(rng() % 10 == 0 ? NAN : v[f]);
    if (classes == 0) d.y.push_back(s);
    else if (classes == 2) d.y.push_back(s > 0 ? 1.f : 0.f);
    else d.y.push_back(s < -0.7f ? 0.f : (s < 0.7f ? 1.f : 2.f));
  }
  return d;
}

// Trains `rounds` rounds and saves the model as JSON into a fresh directory; returns the file.
std::string Train(const Data& d, const std::string& objective, int classes, int rounds, const std::string& name) {
  DMatrixHandle m = nullptr;
  BoosterHandle h = nullptr;
  EXPECT_EQ(XGDMatrixCreateFromMat(d.x.data(), static_cast<bst_ulong>(d.rows), kFeatures, NAN, &m), 0);
  EXPECT_EQ(XGDMatrixSetFloatInfo(m, "label", d.y.data(), static_cast<bst_ulong>(d.rows)), 0);
  EXPECT_EQ(XGBoosterCreate(&m, 1, &h), 0);
  XGBoosterSetParam(h, "objective", objective.c_str());
  XGBoosterSetParam(h, "max_depth", "4");
  XGBoosterSetParam(h, "eta", "0.3");
  XGBoosterSetParam(h, "nthread", "1");
  XGBoosterSetParam(h, "seed", "7");
  if (classes > 2) XGBoosterSetParam(h, "num_class", std::to_string(classes).c_str());
  for (int i = 0; i < rounds; ++i) EXPECT_EQ(XGBoosterUpdateOneIter(h, i, m), 0) << XGBGetLastError();
  const auto dir = std::filesystem::temp_directory_path() / ("inferd-shap-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "model.json").string();
  EXPECT_EQ(XGBoosterSaveModel(h, file.c_str()), 0);
  XGBoosterFree(h);
  XGDMatrixFree(m);
  return file;
}

// libxgboost's pred_contribs (type 2) or pred_interactions (type 4) for the rows.
std::vector<float> Libxgboost(const std::string& file, const Data& d, int type) {
  BoosterHandle h = nullptr;
  DMatrixHandle m = nullptr;
  std::vector<float> out;
  EXPECT_EQ(XGBoosterCreate(nullptr, 0, &h), 0);
  EXPECT_EQ(XGBoosterLoadModel(h, file.c_str()), 0);
  EXPECT_EQ(XGDMatrixCreateFromMat(d.x.data(), static_cast<bst_ulong>(d.rows), kFeatures, NAN, &m), 0);
  const std::string config = R"({"type":)" + std::to_string(type) +
                             R"(,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDMatrix(h, m, config.c_str(), &shape, &dim, &result) != 0) {
    ADD_FAILURE() << XGBGetLastError();
  } else {
    size_t count = 1;
    for (bst_ulong i = 0; i < dim; ++i) count *= static_cast<size_t>(shape[i]);
    out.assign(result, result + count);
  }
  XGDMatrixFree(m);
  XGBoosterFree(h);
  return out;
}

struct Case {
  const char* name;
  const char* objective;
  int classes;  // 0 regression
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class XgboostContribs : public testing::TestWithParam<Case> {};

TEST_P(XgboostContribs, EqualLibxgboostPredContribsAndInteractions) {
  const Case c = GetParam();
  const Data train = MakeData(400, c.classes, 11), test = MakeData(40, c.classes, 12);
  const std::string file = Train(train, c.objective, c.classes, 20, c.name);
  LoadOptions o;
  o.model_name = c.name;
  o.model_dir = std::filesystem::path(file).parent_path().string();
  o.model_file = file;
  auto backend = NewXgboostBackendFactory()->Load(o);
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  const TreeEnsembleView view = (*backend)->tree_ensemble();
  ASSERT_NE(view.forest, nullptr) << "the XGBoost backend evaluates gbtree models natively";
  auto ts = TreeShap::Create(*view.forest);
  ASSERT_TRUE(ts.ok()) << ts.status().ToString();

  const size_t groups = static_cast<size_t>(ts->num_groups()), w = kFeatures + 1;
  EXPECT_EQ(groups, static_cast<size_t>(c.classes > 2 ? c.classes : 1));
  const std::vector<float> contribs = Libxgboost(file, test, 2), inter = Libxgboost(file, test, 4);
  ASSERT_EQ(contribs.size(), static_cast<size_t>(test.rows) * groups * w);
  ASSERT_EQ(inter.size(), static_cast<size_t>(test.rows) * groups * w * w);
  std::vector<double> row(kFeatures), phi(groups * w), ours(groups * w * w);
  double worst = 0, worst_inter = 0;
  for (int r = 0; r < test.rows; ++r) {
    for (int f = 0; f < kFeatures; ++f) row[static_cast<size_t>(f)] = test.x[static_cast<size_t>(r * kFeatures + f)];
    ts->Contributions(row.data(), phi.data());
    ts->Interactions(row.data(), ours.data());
    for (size_t i = 0; i < groups * w; ++i) {
      const double ref = contribs[static_cast<size_t>(r) * groups * w + i];
      EXPECT_NEAR(phi[i], ref, 1e-5 * std::max(1.0, std::fabs(ref))) << "row " << r << " value " << i;
      worst = std::max(worst, std::fabs(phi[i] - ref));
    }
    for (size_t i = 0; i < groups * w * w; ++i) {
      const double ref = inter[static_cast<size_t>(r) * groups * w * w + i];
      EXPECT_NEAR(ours[i], ref, 1e-5 * std::max(1.0, std::fabs(ref))) << "row " << r << " interaction " << i;
      worst_inter = std::max(worst_inter, std::fabs(ours[i] - ref));
    }
  }
  std::printf("%s: largest difference from libxgboost: contributions %.3g, interactions %.3g\n", c.name, worst,
              worst_inter);
  std::filesystem::remove_all(std::filesystem::path(file).parent_path());
}

INSTANTIATE_TEST_SUITE_P(Objectives, XgboostContribs,
                         testing::Values(Case{"regression", "reg:squarederror", 0},
                                         Case{"binary", "binary:logistic", 2},
                                         Case{"multiclass", "multi:softprob", 3}),
                         [](const testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace inferd::explain
