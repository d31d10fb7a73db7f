// TreeSHAP (explain/tree_shap.h) against Shapley values and interaction indices computed by enumerating
// every coalition, on small random forests built directly on the forest engine (numerical splits with
// repeated features on a path, NaN and zero-as-missing rules, categorical splits, several groups,
// averaged forests), and the additivity contributions + bias = margin.
#include "explain/tree_shap.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <ostream>
#include <random>
#include <vector>

namespace inferd::explain {
namespace {

using forest::Forest;
using forest::ForestBuilder;
using forest::MissingRule;
using forest::NodeSpec;
using forest::TreeSpec;

// A random tree of depth <= `depth` over `features` features; every leaf gets a random positive cover and
// each split the sum of its children's, as training statistics would.
double Grow(std::mt19937& rng, TreeSpec* t, int depth, int features, bool categorical, int32_t* leaf_id) {
  std::uniform_real_distribution<double> u(0, 1);
  const auto at = static_cast<int32_t>(t->nodes.size());
  if (depth == 0 || u(rng) < 0.2) {
    t->nodes.push_back(NodeSpec::Leaf(std::round(u(rng) * 200 - 100) / 10, (*leaf_id)++));
    t->nodes.back().cover = 1 + std::floor(u(rng) * 20);
    return t->nodes.back().cover;
  }
  const auto f = static_cast<int32_t>(rng() % static_cast<unsigned>(features));
  t->nodes.emplace_back();
  NodeSpec n;
  if (categorical && u(rng) < 0.3) {
    t->category_sets.push_back({static_cast<uint32_t>(rng() & 0xF)});
    n = NodeSpec::Categorical(f, static_cast<int32_t>(t->category_sets.size() - 1), 0, 0, u(rng) < 0.5, u(rng) < 0.5);
  } else {
    const MissingRule rules[] = {MissingRule::kNanIsMissing, MissingRule::kZeroIsMissing, MissingRule::kNone};
    n = NodeSpec::Numerical(f, std::round(u(rng) * 40 - 20) / 10, 0, 0, u(rng) < 0.5,
                            categorical ? rules[rng() % 3] : MissingRule::kNanIsMissing);
  }
  n.left = static_cast<int32_t>(t->nodes.size());
  const double cl = Grow(rng, t, depth - 1, features, categorical, leaf_id);
  n.right = static_cast<int32_t>(t->nodes.size());
  const double cr = Grow(rng, t, depth - 1, features, categorical, leaf_id);
  n.cover = cl + cr;
  t->nodes[static_cast<size_t>(at)] = n;
  return n.cover;
}

Forest RandomForest(uint32_t seed, int trees, int depth, int features, int groups, bool categorical,
                    forest::Aggregation agg = forest::Aggregation::kSum) {
  std::mt19937 rng(seed);
  ForestBuilder b(features, groups);
  b.set_aggregation(agg);
  std::vector<double> base;
  for (int g = 0; g < groups; ++g) base.push_back(0.25 * (g + 1));
  EXPECT_TRUE(b.set_base_score(base).ok());
  for (int i = 0; i < trees; ++i) {
    TreeSpec t;
    t.group = i % groups;
    int32_t leaf = 0;
    Grow(rng, &t, depth, features, categorical, &leaf);
    EXPECT_TRUE(b.AddTree(t).ok());
  }
  auto f = b.Build();
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return std::move(f).value();
}

// The path-dependent value of coalition `s` (bit i: feature i known) for group g: known features follow
// the row, unknown ones average both children by cover.
double Value(const Forest& f, const double* row, uint32_t s, int32_t group) {
  std::vector<int32_t> per_group(static_cast<size_t>(f.num_groups()), 0);
  for (int32_t t = 0; t < f.num_trees(); ++t) ++per_group[static_cast<size_t>(f.tree_group(t))];
  std::function<double(int32_t)> walk = [&](int32_t i) -> double {
    const forest::Node& n = f.nodes()[static_cast<size_t>(i)];
    if (n.is_leaf()) return n.value;
    if (s & (1u << n.feature)) return walk(f.Child(n, row[n.feature]));
    return (f.cover(n.left) * walk(n.left) + f.cover(n.right) * walk(n.right)) / f.cover(i);
  };
  double v = f.base_score()[static_cast<size_t>(group)];
  for (int32_t t = 0; t < f.num_trees(); ++t) {
    if (f.tree_group(t) != group) continue;
    const double scale = f.aggregation() == forest::Aggregation::kAverage ? 1.0 / per_group[static_cast<size_t>(group)] : 1.0;
    v += scale * walk(f.tree_root(t));
  }
  return v;
}

double Factorial(int n) { return n <= 1 ? 1.0 : n * Factorial(n - 1); }

std::vector<double> BruteShapley(const Forest& f, const double* row, int32_t group) {
  const int m = f.num_features();
  std::vector<double> phi(static_cast<size_t>(m), 0.0);
  for (int i = 0; i < m; ++i) {
    for (uint32_t s = 0; s < (1u << m); ++s) {
      if (s & (1u << i)) continue;
      const int size = __builtin_popcount(s);
      const double w = Factorial(size) * Factorial(m - size - 1) / Factorial(m);
      phi[static_cast<size_t>(i)] += w * (Value(f, row, s | (1u << i), group) - Value(f, row, s, group));
    }
  }
  return phi;
}

// The Shapley interaction index of features i != j.
double BruteInteraction(const Forest& f, const double* row, int32_t group, int i, int j) {
  const int m = f.num_features();
  double total = 0;
  for (uint32_t s = 0; s < (1u << m); ++s) {
    if (s & ((1u << i) | (1u << j))) continue;
    const int size = __builtin_popcount(s);
    const double w = Factorial(size) * Factorial(m - size - 2) / (2 * Factorial(m - 1));
    total += w * (Value(f, row, s | (1u << i) | (1u << j), group) - Value(f, row, s | (1u << i), group) -
                  Value(f, row, s | (1u << j), group) + Value(f, row, s, group));
  }
  return total;
}

std::vector<double> RandomRow(std::mt19937& rng, int m) {
  std::vector<double> row;
  const double special[] = {std::nan(""), 0.0, 1e-40, 3.0, -0.5};
  for (int i = 0; i < m; ++i) {
    if (rng() % 5 == 0) row.push_back(special[rng() % 5]);
    else row.push_back(std::round(std::uniform_real_distribution<double>(-25, 25)(rng)) / 10);
  }
  return row;
}

struct Case {
  uint32_t seed;
  int trees, depth, features, groups;
  bool categorical;
  forest::Aggregation agg;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << "seed " << c.seed << ", " << c.trees << " trees of depth " << c.depth << ", " << c.features << " features, "
      << c.groups << " groups" << (c.categorical ? ", categorical" : "")
      << (c.agg == forest::Aggregation::kAverage ? ", averaged" : "");
}

class TreeShapBruteForce : public testing::TestWithParam<Case> {};

TEST_P(TreeShapBruteForce, EqualsEnumeratedShapleyValuesAndSumsToTheMargin) {
  const Case c = GetParam();
  const Forest f = RandomForest(c.seed, c.trees, c.depth, c.features, c.groups, c.categorical, c.agg);
  auto ts = TreeShap::Create(f);
  ASSERT_TRUE(ts.ok()) << ts.status().ToString();
  std::mt19937 rng(c.seed + 1);
  const size_t w = static_cast<size_t>(c.features) + 1, k = static_cast<size_t>(c.groups);
  std::vector<double> phi(k * w), inter(k * w * w), margin(k);
  for (int r = 0; r < 12; ++r) {
    const std::vector<double> row = RandomRow(rng, c.features);
    ts->Contributions(row.data(), phi.data());
    f.Margins(row.data(), 1, margin.data());
    ts->Interactions(row.data(), inter.data());
    for (size_t g = 0; g < k; ++g) {
      const auto brute = BruteShapley(f, row.data(), static_cast<int32_t>(g));
      double sum = phi[g * w + w - 1];
      EXPECT_NEAR(phi[g * w + w - 1], Value(f, row.data(), 0, static_cast<int32_t>(g)), 1e-9) << "bias";
      EXPECT_NEAR(ts->expected_value()[g], phi[g * w + w - 1], 1e-12);
      for (size_t i = 0; i + 1 < w; ++i) {
        EXPECT_NEAR(phi[g * w + i], brute[i], 1e-9) << "row " << r << " group " << g << " feature " << i;
        sum += phi[g * w + i];
      }
      EXPECT_NEAR(sum, margin[g], 1e-9) << "contributions + bias = margin";
      for (size_t i = 0; i < w; ++i) {
        double row_sum = 0;
        for (size_t j = 0; j < w; ++j) {
          const double v = inter[(g * w + i) * w + j];
          row_sum += v;
          EXPECT_NEAR(v, inter[(g * w + j) * w + i], 1e-9) << "symmetric";
          if (i != j && i + 1 < w && j + 1 < w) {
            EXPECT_NEAR(v, BruteInteraction(f, row.data(), static_cast<int32_t>(g), static_cast<int>(i),
                                            static_cast<int>(j)), 1e-9)
                << "interaction " << i << "," << j;
          }
        }
        EXPECT_NEAR(row_sum, phi[g * w + i], 1e-9) << "interactions sum to the contribution";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Forests, TreeShapBruteForce,
    testing::Values(Case{1, 1, 3, 3, 1, false, forest::Aggregation::kSum},
                    Case{2, 4, 4, 5, 1, false, forest::Aggregation::kSum},
                    Case{3, 6, 5, 4, 2, false, forest::Aggregation::kSum},   // depth > features: repeats
                    Case{4, 5, 4, 5, 1, true, forest::Aggregation::kSum},    // categorical, missing rules
                    Case{5, 6, 3, 4, 3, true, forest::Aggregation::kAverage},
                    Case{6, 3, 6, 6, 1, false, forest::Aggregation::kAverage}));

TEST(TreeShap, AForestWithoutCoversIsRefusedWithTheReason) {
  ForestBuilder b(2, 1);
  TreeSpec t;
  t.nodes = {NodeSpec::Numerical(0, 0.5, 1, 2, false, MissingRule::kNanIsMissing), NodeSpec::Leaf(1, 0),
             NodeSpec::Leaf(2, 1)};
  ASSERT_TRUE(b.AddTree(t).ok());
  auto f = b.Build();
  ASSERT_TRUE(f.ok());
  auto ts = TreeShap::Create(*f);
  ASSERT_FALSE(ts.ok());
  EXPECT_EQ(ts.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(ts.status().message().find("cover"), std::string::npos) << ts.status().message();
}

TEST(TreeShap, TooDeepATreeIsRefusedNotRecursedInto) {
  ForestBuilder b(1, 1);
  TreeSpec t;
  const int depth = TreeShap::kMaxDepth + 5;
  for (int d = 0; d < depth; ++d) {  // a chain: each split's right child is the next split
    t.nodes.push_back(NodeSpec::Numerical(0, d, 2 * d + 1, 2 * d + 2, false, MissingRule::kNanIsMissing));
    t.nodes.push_back(NodeSpec::Leaf(d, d));
  }
  t.nodes.push_back(NodeSpec::Leaf(-1, depth));
  for (auto& n : t.nodes) n.cover = 1;
  ASSERT_TRUE(b.AddTree(t).ok());
  auto f = b.Build();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto ts = TreeShap::Create(*f);
  ASSERT_FALSE(ts.ok());
  EXPECT_NE(ts.status().message().find("deeper"), std::string::npos) << ts.status().message();
}

}  // namespace
}  // namespace inferd::explain
