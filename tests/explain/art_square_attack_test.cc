// The SquareAttack (explain/art_square_attack.h) against in-test black boxes: a linear classifier it must fool,
// a classifier it cannot fool, KServe's one-hot votes; the eps ball, the iteration and query bounds, the seed,
// the deadline and bad input.
#include "explain/art_square_attack.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace inferd::explain {
namespace {

// scores_k = w_k . x + b_k, with weights drawn from a fixed seed; counts its calls.
struct Linear {
  size_t features;
  int classes;
  std::vector<float> w, b;
  int calls = 0;
  Linear(size_t f, int k, uint64_t seed) : features(f), classes(k), w(f * k), b(k, 0.0f) {
    std::mt19937_64 g(seed);
    for (float& v : w) v = static_cast<float>(static_cast<double>(g() % 2001) / 1000.0 - 1.0);
  }
  std::vector<float> Scores(std::span<const float> x, size_t n) const {
    std::vector<float> s(n * classes);
    for (size_t i = 0; i < n; ++i) {
      for (int k = 0; k < classes; ++k) {
        double acc = b[k];
        for (size_t f = 0; f < features; ++f) acc += static_cast<double>(w[k * features + f]) * x[i * features + f];
        s[i * classes + k] = static_cast<float>(acc);
      }
    }
    return s;
  }
  BlackBoxClassifier Classifier() {
    return [this](std::span<const float> x, size_t n) -> StatusOr<std::vector<float>> {
      ++calls;
      return Scores(x, n);
    };
  }
  // KServe's classifier: the predicted class as a one-hot row.
  BlackBoxClassifier OneHot() {
    return [this](std::span<const float> x, size_t n) -> StatusOr<std::vector<float>> {
      ++calls;
      std::vector<float> s = Scores(x, n), out(s.size(), 0.0f);
      for (size_t i = 0; i < n; ++i) {
        auto row = s.begin() + i * classes;
        out[i * classes + (std::max_element(row, row + classes) - row)] = 1.0f;
      }
      return out;
    };
  }
  int Predict(std::span<const float> x) const {
    auto s = Scores(x, 1);
    return static_cast<int>(std::max_element(s.begin(), s.end()) - s.begin());
  }
};

ImageBatch Image(size_t h, size_t w, size_t c, uint64_t seed, size_t n = 1) {
  ImageBatch x{n, h, w, c, std::vector<double>(n * h * w * c)};
  std::mt19937_64 g(seed);
  for (double& v : x.values) v = static_cast<double>(g() % 1001) / 1000.0 - 0.5;
  return x;
}

std::vector<float> AsFloat(const ImageBatch& x) { return std::vector<float>(x.values.begin(), x.values.end()); }

SquareAttackOptions Options(int max_iter, int nb_classes) {
  SquareAttackOptions o;
  o.max_iter = max_iter;
  o.nb_classes = nb_classes;
  o.eps = 0.05;  // small enough that the stripes alone do not flip the linear model below
  return o;
}

void ExpectWithinEps(const ImageBatch& x, const std::vector<float>& adv, double eps) {
  ASSERT_EQ(adv.size(), x.values.size());
  for (size_t f = 0; f < adv.size(); ++f) {
    ASSERT_LE(std::abs(static_cast<double>(adv[f]) - x.values[f]), eps + 1e-6) << "value " << f;
  }
}

TEST(SquareAttack, FoolsALinearClassifierWithinEpsAndBounds) {
  Linear model(8 * 8 * 1, 3, 7);
  ImageBatch x = Image(8, 8, 1, 11);
  const int label = model.Predict(AsFloat(x));
  SquareAttackOptions o = Options(500, 3);
  auto r = RunSquareAttack(x, std::vector<int>{label}, o, model.Classifier());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->prediction, std::vector<int>{label});
  ASSERT_NE(r->adversarial_prediction[0], label);
  EXPECT_EQ(model.Predict(r->adversarial), r->adversarial_prediction[0]);  // the claim holds for the black box
  ExpectWithinEps(x, r->adversarial, o.eps);
  EXPECT_GT(r->iterations, 0);  // not the stripes alone
  EXPECT_LT(r->iterations, o.max_iter);
  EXPECT_EQ(r->queries, model.calls);
  EXPECT_EQ(r->queries, 2 + r->iterations);  // the first prediction, the stripes, one per iteration
}

TEST(SquareAttack, OneHotVotesAsKServeSendsThemAreEnough) {
  // Votes carry no margin: only a candidate that flips the class is kept. An image near the boundary.
  Linear model(8 * 8 * 1, 3, 7);
  ImageBatch x = Image(8, 8, 1, 11);
  for (double& v : x.values) v *= 0.1;
  const int label = model.Predict(AsFloat(x));
  SquareAttackOptions o = Options(1000, 3);
  o.eps = 0.3;  // ART's default, which KServe keeps
  auto r = RunSquareAttack(x, std::vector<int>{label}, o, model.OneHot());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_NE(r->adversarial_prediction[0], label);
  EXPECT_EQ(model.Predict(r->adversarial), r->adversarial_prediction[0]);
  ExpectWithinEps(x, r->adversarial, o.eps);
}

TEST(SquareAttack, SameSeedSameResultOtherSeedOtherPath) {
  Linear model(8 * 8 * 1, 3, 7);
  ImageBatch x = Image(8, 8, 1, 11);
  const int label = model.Predict(AsFloat(x));
  SquareAttackOptions o = Options(500, 3);
  auto a = RunSquareAttack(x, std::vector<int>{label}, o, model.Classifier());
  auto b = RunSquareAttack(x, std::vector<int>{label}, o, model.Classifier());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_GT(a->iterations, 3);  // a path long enough to tell seeds apart
  EXPECT_EQ(a->adversarial, b->adversarial);
  EXPECT_EQ(a->iterations, b->iterations);
  o.seed = 12345;
  auto c = RunSquareAttack(x, std::vector<int>{label}, o, model.Classifier());
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->adversarial, c->adversarial);
}

TEST(SquareAttack, ARobustClassifierRunsEveryIterationAndNoMore) {
  // Always the label, whatever the input: the attack cannot succeed and must stop at max_iter per restart.
  int calls = 0;
  BlackBoxClassifier stubborn = [&](std::span<const float>, size_t n) -> StatusOr<std::vector<float>> {
    ++calls;
    std::vector<float> s(n * 3, 0.0f);
    for (size_t i = 0; i < n; ++i) s[i * 3 + 1] = 1.0f;
    return s;
  };
  ImageBatch x = Image(5, 7, 2, 1);
  SquareAttackOptions o = Options(40, 3);
  o.nb_restarts = 3;
  auto r = RunSquareAttack(x, std::vector<int>{1}, o, stubborn);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->adversarial_prediction, std::vector<int>{1});
  EXPECT_EQ(r->iterations, 3 * 40);
  EXPECT_EQ(r->queries, 1 + 3 * (1 + 40));
  EXPECT_EQ(calls, r->queries);
  ExpectWithinEps(x, r->adversarial, o.eps);
}

TEST(SquareAttack, AnImageAlreadyMisclassifiedIsLeftAlone) {
  Linear model(4 * 4 * 1, 3, 9);
  ImageBatch x = Image(4, 4, 1, 2);
  const int predicted = model.Predict(AsFloat(x));
  const int other = (predicted + 1) % 3;
  auto r = RunSquareAttack(x, std::vector<int>{other}, Options(100, 3), model.Classifier());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->queries, 1);
  EXPECT_EQ(r->adversarial, AsFloat(x));
  EXPECT_EQ(r->adversarial_prediction[0], predicted);
}

TEST(SquareAttack, SeveralImagesInOneBatchEachWithinEps) {
  Linear model(8 * 8 * 1, 3, 7);
  ImageBatch x = Image(8, 8, 1, 21, 4);
  std::vector<int> labels;
  for (size_t i = 0; i < 4; ++i) labels.push_back(model.Predict(std::span<const float>(AsFloat(x)).subspan(i * 64, 64)));
  auto r = RunSquareAttack(x, labels, Options(500, 3), model.Classifier());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->prediction, labels);
  ExpectWithinEps(x, r->adversarial, 0.05);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(model.Predict(std::span<const float>(r->adversarial).subspan(i * 64, 64)), r->adversarial_prediction[i]);
  }
}

TEST(SquareAttack, ClipValuesBoundEveryCandidate) {
  Linear model(8 * 8 * 1, 3, 7);
  ImageBatch x = Image(8, 8, 1, 11);
  SquareAttackOptions o = Options(200, 3);
  o.eps = 0.3;
  o.clip_min = -0.5;
  o.clip_max = 0.5;
  auto r = RunSquareAttack(x, std::vector<int>{model.Predict(AsFloat(x))}, o, model.Classifier());
  ASSERT_TRUE(r.ok());
  for (float v : r->adversarial) {
    EXPECT_GE(v, -0.5f);
    EXPECT_LE(v, 0.5f);
  }
}

TEST(SquareAttack, StopsAtTheDeadlineWithDeadlineExceeded) {
  int64_t now = 0;
  int calls = 0;
  BlackBoxClassifier stubborn = [&](std::span<const float>, size_t) -> StatusOr<std::vector<float>> {
    ++calls;
    now += 10;  // each call takes 10 "ns"
    return std::vector<float>{0.0f, 1.0f};
  };
  SquareAttackOptions o = Options(1000, 2);
  o.now_ns = [&] { return now; };
  o.deadline_ns = 55;
  auto r = RunSquareAttack(Image(3, 3, 1, 1), std::vector<int>{1}, o, stubborn);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("ran out of time"), std::string::npos) << r.status().message();
  EXPECT_EQ(calls, 6);  // calls at t = 0, 10, ..., 50; the seventh would start at 60
}

TEST(SquareAttack, ClassifierFailuresStopTheAttack) {
  ImageBatch x = Image(3, 3, 1, 1);
  BlackBoxClassifier down = [](std::span<const float>, size_t) -> StatusOr<std::vector<float>> {
    return Unavailable("predictor down");
  };
  auto r = RunSquareAttack(x, std::vector<int>{0}, Options(10, 2), down);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  BlackBoxClassifier short_answer = [](std::span<const float>, size_t) -> StatusOr<std::vector<float>> {
    return std::vector<float>{1.0f};
  };
  r = RunSquareAttack(x, std::vector<int>{0}, Options(10, 2), short_answer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("answered 1 scores"), std::string::npos) << r.status().message();
  BlackBoxClassifier nan = [](std::span<const float>, size_t) -> StatusOr<std::vector<float>> {
    return std::vector<float>{NAN, 1.0f};
  };
  EXPECT_EQ(RunSquareAttack(x, std::vector<int>{0}, Options(10, 2), nan).status().code(), StatusCode::kInternal);
}

TEST(SquareAttack, BadInputIsInvalidArgumentNamingTheField) {
  Linear model(9, 2, 1);
  auto run = [&](const ImageBatch& x, std::vector<int> labels, SquareAttackOptions o) {
    return RunSquareAttack(x, labels, o, model.Classifier()).status();
  };
  auto expect = [](const Status& st, const std::string& field) {
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_EQ(st.message().rfind(field, 0), 0u) << st.message();
  };
  ImageBatch x = Image(3, 3, 1, 1);
  ImageBatch short_values = x;
  short_values.values.pop_back();
  expect(run(short_values, {0}, Options(5, 2)), "images");
  ImageBatch none = x;
  none.n = 0;
  expect(run(none, {}, Options(5, 2)), "images");
  ImageBatch zero_width = x;
  zero_width.width = 0;
  expect(run(zero_width, {0}, Options(5, 2)), "images");
  ImageBatch inf = x;
  inf.values[0] = INFINITY;
  expect(run(inf, {0}, Options(5, 2)), "images");
  expect(run(x, {0, 1}, Options(5, 2)), "labels");
  expect(run(x, {2}, Options(5, 2)), "labels[0]");
  expect(run(x, {-1}, Options(5, 2)), "labels[0]");
  SquareAttackOptions o = Options(-1, 2);
  expect(run(x, {0}, o), "max_iter");
  o = Options(kMaxSquareAttackIter + 1, 2);
  expect(run(x, {0}, o), "max_iter");
  o = Options(5, 2);
  o.eps = 0;
  expect(run(x, {0}, o), "eps");
  o = Options(5, 2);
  o.p_init = 1.5;
  expect(run(x, {0}, o), "p_init");
  o = Options(5, 2);
  o.nb_restarts = 0;
  expect(run(x, {0}, o), "nb_restarts");
  o = Options(5, 1);
  expect(run(x, {0}, o), "nb_classes");
  EXPECT_EQ(model.calls, 0);  // nothing reached the classifier
}

TEST(SquareAttack, TheSquareShrinksOnArtsSchedule) {
  EXPECT_DOUBLE_EQ(SquareFraction(0.8, 0, 1000), 0.8);
  EXPECT_DOUBLE_EQ(SquareFraction(0.8, 1, 1000), 0.8);  // 0.001 is not past 0.001 (bisect_left)
  EXPECT_DOUBLE_EQ(SquareFraction(0.8, 2, 1000), 0.4);
  EXPECT_DOUBLE_EQ(SquareFraction(0.8, 6, 1000), 0.2);
  EXPECT_DOUBLE_EQ(SquareFraction(0.8, 21, 1000), 0.1);
  EXPECT_DOUBLE_EQ(SquareFraction(0.8, 500, 1000), 0.8 / 128);  // past 0.001 ... 0.4: seven halvings
  EXPECT_DOUBLE_EQ(SquareFraction(0.8, 999, 1000), 0.8 / 512);
  EXPECT_DOUBLE_EQ(SquareFraction(0.5, 0, 0), 0.5);
}

TEST(SquareAttack, TinyImagesNeverDrawOutsideTheImage) {
  // 1x1 and 2x5 images: the square is clamped to the image and its position to 0 where ART's draw range is empty.
  Linear model(1, 2, 4);
  ImageBatch x = Image(1, 1, 1, 3);
  auto r = RunSquareAttack(x, std::vector<int>{model.Predict(AsFloat(x))}, Options(20, 2), model.Classifier());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWithinEps(x, r->adversarial, 0.05);
  Linear wide(10, 2, 4);
  ImageBatch y = Image(2, 5, 1, 3);
  r = RunSquareAttack(y, std::vector<int>{wide.Predict(AsFloat(y))}, Options(20, 2), wide.Classifier());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWithinEps(y, r->adversarial, 0.05);
}

}  // namespace
}  // namespace inferd::explain
