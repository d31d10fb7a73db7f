// KServe's ART explainer body in and out (explain/art_explainer.h) over an in-test V1 predictor: KServe's request
// file, the response's shape and key order, the predictor's answer forms (class indices, score rows, garbage),
// the predictor failing, and bad bodies (400 naming the field).
#include "explain/art_explainer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace inferd::explain {
namespace {

using nlohmann::ordered_json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A V1 predictor over 784 features: class 3 scores the dot product with `templ`, the other classes a constant,
// so the KServe test image is a 3 and pushing pixels against the template turns it into something else.
struct FakePredictor {
  std::vector<double> templ;
  bool probabilities = false;  // answer score rows instead of class indices
  int calls = 0;
  V1PredictFn Fn() {
    return [this](const std::string& body, const HeaderList*) -> StatusOr<std::string> {
      ++calls;
      auto req = nlohmann::json::parse(body);
      nlohmann::json preds = nlohmann::json::array();
      for (const auto& row : req.at("instances")) {
        double s3 = 0;
        for (size_t f = 0; f < row.size(); ++f) s3 += row[f].get<double>() * templ[f % templ.size()];
        std::vector<double> scores(10, 0.0);
        scores[3] = s3;
        scores[5] = threshold;
        if (probabilities) {
          preds.push_back(scores);
        } else {
          preds.push_back(s3 > threshold ? 3 : 5);
        }
      }
      return nlohmann::json{{"predictions", preds}}.dump();
    };
  }
  double threshold = 0;
};

struct Fixture : ::testing::Test {
  std::string request = ReadFile(std::string(INFERD_SOURCE_DIR) + "/tests/data/kserve/mnist_input_bw.json");
  FakePredictor predictor;
  ArtExplainerOptions options;

  void SetUp() override {
    ASSERT_FALSE(request.empty());
    auto img = nlohmann::json::parse(request)["instances"][0][0];
    for (const auto& row : img) {
      for (const auto& px : row) predictor.templ.push_back(px[0].get<double>() + 0.5);  // ink = weight
    }
    ASSERT_EQ(predictor.templ.size(), 784u);
    double s3 = 0;
    for (double t : predictor.templ) s3 += (t - 0.5) * t;
    predictor.threshold = s3 - 8;  // the image scores 3, by a margin the eps-ball can undo
    options.attack.max_iter = 1000;
  }

  StatusOr<PassThroughAnswer> Explain(const std::string& body) {
    return NewArtExplainer(options, predictor.Fn())(PassThroughCall{body, "application/json", "", nullptr});
  }
};

TEST_F(Fixture, KServesRequestGetsKServesAnswer) {
  auto out = Explain(request);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto j = ordered_json::parse(out->body);
  ASSERT_EQ(j.size(), 1u);
  const auto& e = j.at("explanations");
  std::vector<std::string> keys;
  for (const auto& [k, v] : e.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"adversarial_example", "L2 error", "adversarial_prediction", "prediction"}));
  EXPECT_EQ(e["prediction"], 3);
  EXPECT_NE(e["adversarial_prediction"], 3);  // as KServe's e2e asserts
  EXPECT_TRUE(e["L2 error"].is_number_float());
  EXPECT_GT(e["L2 error"].get<double>(), 0.0);
  const auto& adv = e["adversarial_example"];
  ASSERT_EQ(adv.size(), 1u);
  ASSERT_EQ(adv[0].size(), 28u);
  ASSERT_EQ(adv[0][0].size(), 28u);
  ASSERT_EQ(adv[0][0][0].size(), 1u);
  // Within ART's eps (0.3) of the image, and the L2 error is the distance.
  auto img = nlohmann::json::parse(request)["instances"][0][0];
  double sum = 0;
  for (size_t h = 0; h < 28; ++h) {
    for (size_t w = 0; w < 28; ++w) {
      const double d = adv[0][h][w][0].get<double>() - img[h][w][0].get<double>();
      EXPECT_LE(std::abs(d), 0.3 + 1e-6);
      sum += d * d;
    }
  }
  EXPECT_NEAR(e["L2 error"].get<double>(), std::sqrt(sum), 1e-9);
  // The same request again: the same answer, byte for byte (seeded).
  auto again = Explain(request);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->body, out->body);
}

TEST_F(Fixture, ScoreRowsFromThePredictorAreUsedAsScores) {
  predictor.probabilities = true;
  auto out = Explain(request);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto e = ordered_json::parse(out->body)["explanations"];
  EXPECT_EQ(e["prediction"], 3);
  EXPECT_EQ(e["adversarial_prediction"], 5);
}

TEST_F(Fixture, SeveralImagesAnswerOneValuePerImage) {
  auto j = nlohmann::json::parse(request);
  j["instances"][0].push_back(j["instances"][0][0]);
  j["instances"][1] = {3, 3};
  auto out = Explain(j.dump());
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto e = ordered_json::parse(out->body)["explanations"];
  EXPECT_EQ(e["adversarial_example"].size(), 2u);
  EXPECT_EQ(e["prediction"], nlohmann::json({3, 3}));
  EXPECT_EQ(e["L2 error"].size(), 2u);
  EXPECT_EQ(e["adversarial_prediction"].size(), 2u);
}

TEST_F(Fixture, LabelForms) {
  auto j = nlohmann::json::parse(request);
  for (nlohmann::json label : {nlohmann::json(3), nlohmann::json({3}), nlohmann::json({{3}}), nlohmann::json({3.0}),
                               nlohmann::json({{0, 0, 0, 1, 0, 0, 0, 0, 0, 0}})}) {
    j["instances"][1] = label;
    auto out = Explain(j.dump());
    ASSERT_TRUE(out.ok()) << label.dump() << ": " << out.status().ToString();
  }
}

TEST_F(Fixture, BadBodiesAre400NamingTheField) {
  auto image = nlohmann::json::parse(request)["instances"][0];
  struct Case {
    std::string body, field;
  };
  std::vector<Case> cases = {
      {"not json", "request body"},
      {"[1,2]", "instances"},
      {R"({"inputs": []})", "instances"},
      {R"({"instances": 3})", "instances"},
      {nlohmann::json{{"instances", {image}}}.dump(), "instances"},
      {nlohmann::json{{"instances", {image, {3}, 7}}}.dump(), "instances"},
      {nlohmann::json{{"instances", {image[0], {3}}}}.dump(), "instances[0]"},  // [28,28,1]: no batch dimension
      {R"({"instances": [[[[["a"]]]], [3]]})", "instances[0]"},
      {R"({"instances": [[[[[[1]]]]], [3]]})", "instances[0]"},  // rank 5
      {R"({"instances": [[[[[1], [2]], [[3]]]], [3]]})", "instances[0]"},  // ragged
      {R"({"instances": [[], [3]]})", "instances[0]"},
      {R"({"instances": [[[[[]]]], [3]]})", "instances[0]"},  // C = 0
      {R"({"instances": [[[[[true]]]], [3]]})", "instances[0]"},
      {nlohmann::json{{"instances", {image, {10}}}}.dump(), "instances[1]"},
      {nlohmann::json{{"instances", {image, {-1}}}}.dump(), "instances[1]"},
      {nlohmann::json{{"instances", {image, {2.5}}}}.dump(), "instances[1]"},
      {nlohmann::json{{"instances", {image, {3, 3}}}}.dump(), "instances[1]"},
      {nlohmann::json{{"instances", {image, "3"}}}.dump(), "instances[1]"},
      {nlohmann::json{{"instances", {image, {{1, 2}}}}}.dump(), "instances[1]"},
  };
  for (const auto& c : cases) {
    auto out = Explain(c.body);
    ASSERT_FALSE(out.ok()) << c.body.substr(0, 80);
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument) << out.status().ToString();
    EXPECT_EQ(out.status().message().rfind(c.field, 0), 0u) << out.status().message();
  }
  EXPECT_EQ(predictor.calls, 0);
}

TEST_F(Fixture, PredictorFailuresNameTheExplainerAndTheReason) {
  V1PredictFn down = [](const std::string&, const HeaderList*) -> StatusOr<std::string> {
    return Unavailable("the predictor http://127.0.0.1:1/v1/models/m:predict cannot be reached: Connection refused");
  };
  auto out = NewArtExplainer(options, down)(PassThroughCall{request, "", "", nullptr});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(out.status().message().find("ART explainer (SquareAttack)"), std::string::npos) << out.status().message();
  EXPECT_NE(out.status().message().find("Connection refused"), std::string::npos);

  V1PredictFn refuses = [](const std::string&, const HeaderList*) -> StatusOr<std::string> { return InvalidArgument("bad shape"); };
  out = NewArtExplainer(options, refuses)(PassThroughCall{request, "", "", nullptr});
  EXPECT_EQ(out.status().code(), StatusCode::kInternal) << "the predictor's 400 is not the client's fault";

  for (std::string answer : {R"({"predictions": ["3"]})", R"({"predictions": [11]})", R"({"predictions": [[1, 2]]})",
                             R"({"predictions": []})", R"({"outputs": []})", "<html>", R"({"predictions": [[)"}) {
    V1PredictFn garbage = [answer](const std::string&, const HeaderList*) -> StatusOr<std::string> { return answer; };
    out = NewArtExplainer(options, garbage)(PassThroughCall{request, "", "", nullptr});
    ASSERT_FALSE(out.ok()) << answer;
    EXPECT_EQ(out.status().code(), StatusCode::kInternal) << answer;
    EXPECT_NE(out.status().message().find("predictor"), std::string::npos) << out.status().message();
  }
}

TEST_F(Fixture, TheTimeoutAnswers504) {
  options.timeout_ms = 1;
  V1PredictFn slow = [this](const std::string& body, const HeaderList* headers) -> StatusOr<std::string> {
    struct timespec ts{0, 3'000'000};
    nanosleep(&ts, nullptr);
    predictor.threshold = -1e9;  // never fooled
    return predictor.Fn()(body, headers);
  };
  auto out = NewArtExplainer(options, slow)(PassThroughCall{request, "", "", nullptr});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kDeadlineExceeded) << out.status().ToString();
}

TEST(ArtExplainer, PredictIsForwardedToThePredictor) {
  std::string seen;
  const HeaderList* seen_headers = nullptr;
  V1PredictFn echo = [&](const std::string& body, const HeaderList* headers) -> StatusOr<std::string> {
    seen = body;
    seen_headers = headers;
    return std::string(R"({"predictions": [3]})");
  };
  HeaderList headers = {{"x-request-id", "r1"}};
  auto out = NewPredictorForward(echo)(PassThroughCall{R"({"instances": [[1]]})", "", "r1", &headers});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->body, R"({"predictions": [3]})");
  EXPECT_EQ(seen, R"({"instances": [[1]]})");
  EXPECT_EQ(seen_headers, &headers);  // the request's headers go along (the client forwards KServe's three)
}

TEST(ArtExplainer, AdversaryTypeIsSquareAttackInAnyCase) {
  EXPECT_TRUE(CheckAdversaryType("SquareAttack").ok());
  EXPECT_TRUE(CheckAdversaryType("squareattack").ok());
  Status st = CheckAdversaryType("FastGradientMethod");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("FastGradientMethod"), std::string::npos);
}

}  // namespace
}  // namespace inferd::explain
