// KernelSHAP (explain/kernel_shap.h): on linear models it equals the exact linear SHAP values
// w_i (x_i - mean of the background's x_i), enumerated or sampled; on a small non-linear model with every
// coalition enumerated it equals the Shapley values of the interventional value function computed by
// brute force; it is deterministic for a seed; its bounds name the request field.
#include "explain/kernel_shap.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace inferd::explain {
namespace {

std::vector<double> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d(0, 2);
  std::vector<double> v(n);
  for (double& e : v) e = d(rng);
  return v;
}

// Two outputs: w.x + 1 and -2 w.x.
BatchModel Linear(const std::vector<double>& w, int* calls = nullptr) {
  return [w, calls](const double* rows, size_t n, std::vector<double>* out) {
    if (calls) ++*calls;
    for (size_t r = 0; r < n; ++r) {
      double s = 0;
      for (size_t i = 0; i < w.size(); ++i) s += w[i] * rows[r * w.size() + i];
      out->push_back(s + 1);
      out->push_back(-2 * s);
    }
    return Status::Ok();
  };
}

void ExpectLinearShap(size_t m, int64_t nsamples, double tolerance) {
  const std::vector<double> w = Random(m, 1), x = Random(m, 2), bg = Random(m * 20, 3);
  auto res = KernelShap(Linear(w), x.data(), m, bg.data(), 20, {nsamples, 42});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  ASSERT_EQ(res->outputs, 2u);
  for (size_t i = 0; i < m; ++i) {
    double mean = 0;
    for (size_t r = 0; r < 20; ++r) mean += bg[r * m + i] / 20;
    const double exact = w[i] * (x[i] - mean);
    EXPECT_NEAR(res->phi[i], exact, tolerance) << "feature " << i;
    EXPECT_NEAR(res->phi[m + i], -2 * exact, 2 * tolerance) << "feature " << i << ", output 1";
  }
  for (size_t k = 0; k < 2; ++k) {
    double sum = res->expected[k];
    for (size_t i = 0; i < m; ++i) sum += res->phi[k * m + i];
    EXPECT_NEAR(sum, res->fx[k], 1e-9) << "expected + sum(phi) = f(x)";
  }
}

TEST(KernelShap, LinearModelEnumerated) { ExpectLinearShap(6, 0, 1e-9); }
TEST(KernelShap, LinearModelSampled) { ExpectLinearShap(40, 300, 1e-6); }

TEST(KernelShap, EnumeratedEqualsBruteForceShapleyOnANonLinearModel) {
  const size_t m = 4, nb = 5;
  BatchModel f = [](const double* rows, size_t n, std::vector<double>* out) {
    for (size_t r = 0; r < n; ++r) {
      const double* x = rows + r * 4;
      out->push_back(x[0] * x[1] + std::sin(x[2]) * x[3] + (x[3] > 0 ? 1 : 0));
    }
    return Status::Ok();
  };
  const std::vector<double> x = Random(m, 5), bg = Random(m * nb, 6);
  auto value = [&](uint32_t s) {
    double v = 0;
    for (size_t b = 0; b < nb; ++b) {
      double row[4];
      for (size_t i = 0; i < m; ++i) row[i] = (s >> i) & 1 ? x[i] : bg[b * m + i];
      std::vector<double> o;
      (void)f(row, 1, &o);
      v += o[0] / nb;
    }
    return v;
  };
  auto res = KernelShap(f, x.data(), m, bg.data(), nb, {});
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->coalitions, 14);
  const double fact[] = {1, 1, 2, 6, 24};
  for (size_t i = 0; i < m; ++i) {
    double phi = 0;
    for (uint32_t s = 0; s < 16; ++s) {
      if (s & (1u << i)) continue;
      const int k = __builtin_popcount(s);
      phi += fact[k] * fact[m - k - 1] / fact[m] * (value(s | (1u << i)) - value(s));
    }
    EXPECT_NEAR(res->phi[i], phi, 1e-9) << "feature " << i;
  }
}

TEST(KernelShap, SameSeedSameAnswerOtherSeedOtherSample) {
  const size_t m = 30;
  BatchModel f = [](const double* rows, size_t n, std::vector<double>* out) {
    for (size_t r = 0; r < n; ++r) out->push_back(rows[r * 30] * rows[r * 30 + 1] + std::tanh(rows[r * 30 + 2]));
    return Status::Ok();
  };
  const std::vector<double> x = Random(m, 7), bg = Random(m * 4, 8);
  auto a = KernelShap(f, x.data(), m, bg.data(), 4, {100, 1});
  auto b = KernelShap(f, x.data(), m, bg.data(), 4, {100, 1});
  auto c = KernelShap(f, x.data(), m, bg.data(), 4, {100, 2});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->phi, b->phi);
  EXPECT_NE(a->phi, c->phi);
}

TEST(KernelShap, BoundsNameTheField) {
  const std::vector<double> w = Random(30, 1), x = Random(30, 2), bg = Random(30 * 500, 3);
  int calls = 0;
  auto r = KernelShap(Linear(w, &calls), x.data(), 30, bg.data(), 500, {kMaxNsamples + 1, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nsamples"), std::string::npos) << r.status().message();
  r = KernelShap(Linear(w, &calls), x.data(), 30, bg.data(), 500, {50000, 0});  // 50000 x 500 evaluations
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("nsamples"), std::string::npos) << r.status().message();
  EXPECT_EQ(calls, 0) << "refused before the model ran";
  r = KernelShap(Linear(w), x.data(), 30, bg.data(), 0, {});
  EXPECT_NE(r.status().message().find("background"), std::string::npos);
  std::vector<double> wide(kMaxFeatures + 1, 1.0);
  r = KernelShap(Linear(wide), wide.data(), wide.size(), wide.data(), 1, {});
  EXPECT_NE(r.status().message().find("instances"), std::string::npos);
}

TEST(KernelShap, AModelFailureIsReturned) {
  BatchModel f = [](const double*, size_t, std::vector<double>*) { return Internal("boom"); };
  const std::vector<double> x = Random(3, 1), bg = Random(3, 2);
  auto r = KernelShap(f, x.data(), 3, bg.data(), 1, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "boom");
}

}  // namespace
}  // namespace inferd::explain
