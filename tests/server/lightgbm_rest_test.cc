// End to end: a real `inferd model-server` serving a LightGBM random forest stored as model.bst (so the
// format is detected from the content), answering V1 predict and V2 infer like KServe's lgbserver.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "util/test_util.h"

namespace inferd::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::vector<double>> ReadRows(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing test file " << path;
  std::vector<std::vector<double>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::vector<double> r;
    double v;
    while (ls >> v) r.push_back(v);
    rows.push_back(r);
  }
  return rows;
}

std::string RowsJson(const std::vector<std::vector<double>>& rows) {
  std::ostringstream s;
  s.precision(17);
  s << "[";
  for (size_t i = 0; i < rows.size(); ++i) {
    s << (i ? "," : "") << "[";
    for (size_t j = 0; j < rows[i].size(); ++j) s << (j ? "," : "") << rows[i][j];
    s << "]";
  }
  s << "]";
  return s.str();
}

void ExpectClose(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_LE(std::fabs(got[i] - want[i]), 1e-6 * std::fabs(want[i]) + 1e-12)
        << what << " row " << i << ": got " << got[i] << ", LightGBM " << want[i];
  }
}

class lightgbmServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / ("inferd_lgb_rest_" + std::to_string(::getpid())));
    fs::create_directories(*dir_);
    const std::string model = std::string(INFERD_SOURCE_DIR) + "/tests/data/lightgbm/lg_rf_iris.model";
    std::error_code ec;
    fs::copy_file(model, *dir_ / "model.bst", fs::copy_options::overwrite_existing, ec);
    if (ec) {
      error_ = "cannot copy " + model + ": " + ec.message();
      return;
    }
    server_ = ServerProcess::StartReady({"--model_name", "lgb-iris", "--model_dir", dir_->string()}, &error_).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    std::error_code ec;
    if (dir_) fs::remove_all(*dir_, ec);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << error_;  // fails, never skips (util/test_util.h)
    rows_ = ReadRows(std::string(INFERD_SOURCE_DIR) + "/tests/data/lightgbm/lg_rf_iris_test.tsv");
    for (const auto& r : ReadRows(std::string(INFERD_SOURCE_DIR) + "/tests/data/lightgbm/lg_rf_iris_true_predictions.txt")) {
      want_.push_back(r.at(0));
    }
    ASSERT_EQ(rows_.size(), 30u);
    ASSERT_EQ(want_.size(), 30u);
  }
  static int port() { return server_->http_port(); }

  static ServerProcess* server_;
  static std::string error_;
  static fs::path* dir_;
  std::vector<std::vector<double>> rows_;
  std::vector<double> want_;
};
ServerProcess* lightgbmServer::server_ = nullptr;
std::string lightgbmServer::error_;
fs::path* lightgbmServer::dir_ = nullptr;

TEST_F(lightgbmServer, V1PredictGivesProbabilities) {
  auto r = HttpPost(port(), "/v1/models/lgb-iris:predict", R"({"instances":)" + RowsJson(rows_) + "}");
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
  simdjson::dom::array preds;
  ASSERT_EQ(doc["predictions"].get(preds), simdjson::SUCCESS) << r.body;
  std::vector<double> got;
  for (simdjson::dom::element e : preds) got.push_back(e.get_double().value());
  ExpectClose(got, want_, "V1 predictions");
}

TEST_F(lightgbmServer, V2InferAndMetadata) {
  auto md = HttpGet(port(), "/v2/models/lgb-iris");
  ASSERT_EQ(md.status, 200) << md.body;
  EXPECT_NE(md.body.find(R"("platform":"lightgbm")"), std::string::npos) << md.body;
  EXPECT_NE(md.body.find(R"({"name":"input-0","datatype":"FP32","shape":[-1,4]})"), std::string::npos) << md.body;
  EXPECT_NE(md.body.find(R"({"name":"predict","datatype":"FP64","shape":[-1]})"), std::string::npos) << md.body;

  const std::string input = R"({"name":"input-0","shape":[30,4],"datatype":"FP32","data":)" + RowsJson(rows_) + "}";
  // Without outputs: only "predict".
  auto r = HttpPost(port(), "/v2/models/lgb-iris/infer", R"({"id":"a","inputs":[)" + input + "]}");
  ASSERT_EQ(r.status, 200) << r.body;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
  simdjson::dom::array outputs;
  ASSERT_EQ(doc["outputs"].get(outputs), simdjson::SUCCESS);
  ASSERT_EQ(outputs.size(), 1u) << r.body;
  EXPECT_EQ(std::string_view(outputs.at(0)["name"]), "predict");
  EXPECT_EQ(std::string_view(outputs.at(0)["datatype"]), "FP64");
  std::vector<double> got;
  for (simdjson::dom::element e : outputs.at(0)["data"].get_array()) got.push_back(e.get_double().value());
  ExpectClose(got, want_, "V2 predict");

  // raw (identical for a LightGBM 2.x random forest) and leaf on request.
  r = HttpPost(port(), "/v2/models/lgb-iris/infer",
               R"({"inputs":[)" + input + R"(],"outputs":[{"name":"leaf"},{"name":"raw"}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(parser.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
  ASSERT_EQ(doc["outputs"].get(outputs), simdjson::SUCCESS);
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(std::string_view(outputs.at(0)["name"]), "leaf");
  EXPECT_EQ(std::string_view(outputs.at(0)["datatype"]), "INT32");
  simdjson::dom::array shape = outputs.at(0)["shape"].get_array();
  EXPECT_EQ(int64_t(shape.at(0)), 30);
  EXPECT_EQ(int64_t(shape.at(1)), 30);
  for (simdjson::dom::element e : outputs.at(0)["data"].get_array()) {
    int64_t leaf = e.get_int64().value();
    EXPECT_TRUE(leaf >= 0 && leaf < 4) << leaf;  // the iris trees have at most 3 leaves
  }
  got.clear();
  for (simdjson::dom::element e : outputs.at(1)["data"].get_array()) got.push_back(e.get_double().value());
  ExpectClose(got, want_, "V2 raw");

  // A wrong width is a 400 naming the input.
  r = HttpPost(port(), "/v2/models/lgb-iris/infer",
               R"({"inputs":[{"name":"input-0","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]})");
  EXPECT_EQ(r.status, 400) << r.body;
}

}  // namespace
}  // namespace inferd::testing
