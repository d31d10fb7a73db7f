// Unit tests of the shared tree engine (backends/forest) on hand-built forests.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "backends/forest/forest.h"
#include "backends/forest/transforms.h"

namespace inferd::forest {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One split on feature `f`, leaves 10 (left, id 0) and 20 (right, id 1).
TreeSpec Stump(const NodeSpec& split, int32_t group = 0) {
  TreeSpec t;
  t.group = group;
  t.nodes = {split, NodeSpec::Leaf(10, 0), NodeSpec::Leaf(20, 1)};
  t.nodes[0].left = 1;
  t.nodes[0].right = 2;
  return t;
}

Forest Build(std::vector<TreeSpec> trees, int32_t features = 1, int32_t groups = 1,
             CompareMode compare = CompareMode::kLessEqual, Aggregation agg = Aggregation::kSum) {
  ForestBuilder b(features, groups);
  b.set_compare(compare);
  b.set_aggregation(agg);
  for (const auto& t : trees) EXPECT_TRUE(b.AddTree(t).ok());
  auto f = b.Build();
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return std::move(f).value();
}

double One(const Forest& f, double x) {
  double out = 0;
  f.Margins(&x, 1, &out);
  return out;
}
double OneF(const Forest& f, float x) {
  double out = 0;
  f.Margins(&x, 1, &out);
  return out;
}

TEST(forest, NodeIs24Bytes) { EXPECT_EQ(sizeof(Node), 24u); }

TEST(forest, NumericalLessEqualInDouble) {
  Forest f = Build({Stump(NodeSpec::Numerical(0, 0.1, -1, -1, false, MissingRule::kNanIsMissing))});
  EXPECT_EQ(One(f, 0.05), 10);
  EXPECT_EQ(One(f, 0.1), 10);  // equal goes left
  EXPECT_EQ(One(f, 0.2), 20);
  // 0.1f widened to double is 0.100000001490116..., above the double threshold 0.1.
  EXPECT_EQ(OneF(f, 0.1f), 20);
  EXPECT_EQ(One(f, -std::numeric_limits<double>::infinity()), 10);
  EXPECT_EQ(One(f, std::numeric_limits<double>::infinity()), 20);
}

TEST(forest, NumericalLessInFloat) {
  Forest f = Build({Stump(NodeSpec::Numerical(0, 0.1, -1, -1, false, MissingRule::kNanIsMissing))}, 1, 1,
                   CompareMode::kLess);
  EXPECT_EQ(One(f, 0.05), 10);
  EXPECT_EQ(OneF(f, 0.1f), 20);  // equal goes right: float(0.1) < float(0.1) is false
  EXPECT_EQ(One(f, 0.1), 20);    // the double input is rounded to float first, as XGBoost does
  EXPECT_EQ(One(f, 0.09999999), 10);
  EXPECT_EQ(One(f, 0.0999999999), 20);  // rounds to 0.1f
}

TEST(forest, MissingRules) {
  // NaN is missing: default direction.
  Forest nan_left = Build({Stump(NodeSpec::Numerical(0, 0.5, -1, -1, true, MissingRule::kNanIsMissing))});
  Forest nan_right = Build({Stump(NodeSpec::Numerical(0, 0.5, -1, -1, false, MissingRule::kNanIsMissing))});
  EXPECT_EQ(One(nan_left, kNaN), 10);
  EXPECT_EQ(One(nan_right, kNaN), 20);
  EXPECT_EQ(OneF(nan_right, std::numeric_limits<float>::quiet_NaN()), 20);
  EXPECT_EQ(One(nan_left, 0.0), 10);  // zero is an ordinary value here
  EXPECT_EQ(One(nan_right, 0.0), 10);

  // LightGBM missing_type None: NaN counts as 0.0, default_left ignored.
  Forest none_pos = Build({Stump(NodeSpec::Numerical(0, 0.5, -1, -1, false, MissingRule::kNone))});
  Forest none_neg = Build({Stump(NodeSpec::Numerical(0, -0.5, -1, -1, true, MissingRule::kNone))});
  EXPECT_EQ(One(none_pos, kNaN), 10);
  EXPECT_EQ(One(none_neg, kNaN), 20);

  // LightGBM missing_type Zero: 0 (|x| <= 1e-35) and NaN take the default direction.
  Forest zero_right = Build({Stump(NodeSpec::Numerical(0, 0.5, -1, -1, false, MissingRule::kZeroIsMissing))});
  Forest zero_left = Build({Stump(NodeSpec::Numerical(0, -0.5, -1, -1, true, MissingRule::kZeroIsMissing))});
  EXPECT_EQ(One(zero_right, 0.0), 20);
  EXPECT_EQ(One(zero_right, -0.0), 20);
  EXPECT_EQ(One(zero_right, 1e-36), 20);
  EXPECT_EQ(One(zero_right, kNaN), 20);
  EXPECT_EQ(One(zero_right, 1e-30), 10);  // not zero: compared
  EXPECT_EQ(One(zero_left, 0.0), 10);
  EXPECT_EQ(One(zero_left, kNaN), 10);
  EXPECT_EQ(One(zero_left, 1.0), 20);
}

TEST(forest, CategoricalSplits) {
  // Categories {1, 3, 40} match.
  TreeSpec t = Stump(NodeSpec::Categorical(0, 0, -1, -1, /*match_left=*/true, /*default_left=*/false));
  t.category_sets = {{(1u << 1) | (1u << 3), 1u << 8}};
  Forest f = Build({t});
  EXPECT_EQ(One(f, 1), 10);
  EXPECT_EQ(One(f, 3), 10);
  EXPECT_EQ(One(f, 3.7), 10);  // truncated to 3
  EXPECT_EQ(One(f, 40), 10);
  EXPECT_EQ(One(f, 2), 20);
  EXPECT_EQ(One(f, 0), 20);
  EXPECT_EQ(One(f, -0.5), 20);  // category 0
  EXPECT_EQ(One(f, -1), 20);    // negative: no match
  EXPECT_EQ(One(f, 100), 20);   // beyond the bitset
  EXPECT_EQ(One(f, 1e20), 20);
  EXPECT_EQ(One(f, std::numeric_limits<double>::infinity()), 20);
  EXPECT_EQ(One(f, kNaN), 20);  // default right
  EXPECT_EQ(OneF(f, 40.0f), 10);

  // XGBoost's convention: matching categories go right, missing follows default_left.
  TreeSpec x = Stump(NodeSpec::Categorical(0, 0, -1, -1, /*match_left=*/false, /*default_left=*/true));
  x.category_sets = {{1u << 2}};
  Forest g = Build({x});
  EXPECT_EQ(One(g, 2), 20);
  EXPECT_EQ(One(g, 1), 10);
  EXPECT_EQ(One(g, -3), 10);
  EXPECT_EQ(One(g, kNaN), 10);

  // An empty set matches nothing.
  TreeSpec e = Stump(NodeSpec::Categorical(0, 0, -1, -1, true, false));
  e.category_sets = {{}};
  EXPECT_EQ(One(Build({e}), 0), 20);
}

TEST(forest, GroupsBaseScoreAndSum) {
  // Two groups, two trees each; features 0 and 1.
  std::vector<TreeSpec> trees;
  for (int g = 0; g < 2; ++g) {
    for (int k = 0; k < 2; ++k) {
      TreeSpec t = Stump(NodeSpec::Numerical(k, 0.0, -1, -1, false, MissingRule::kNanIsMissing), g);
      t.nodes[1].leaf_value = 1 + g * 10 + k;        // left
      t.nodes[2].leaf_value = -(1 + g * 10 + k);     // right
      trees.push_back(t);
    }
  }
  ForestBuilder b(2, 2);
  ASSERT_TRUE(b.set_base_score({0.5, -0.25}).ok());
  EXPECT_FALSE(b.set_base_score({1}).ok());
  for (auto& t : trees) ASSERT_TRUE(b.AddTree(t).ok());
  auto f = b.Build();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->num_trees(), 4);
  EXPECT_EQ(f->tree_group(2), 1);
  const double x[4] = {-1, -1, 1, -1};  // two rows
  double out[4];
  f->Margins(x, 2, out);
  EXPECT_DOUBLE_EQ(out[0], 0.5 + 1 + 2);
  EXPECT_DOUBLE_EQ(out[1], -0.25 + 11 + 12);
  EXPECT_DOUBLE_EQ(out[2], 0.5 - 1 + 2);
  EXPECT_DOUBLE_EQ(out[3], -0.25 - 11 + 12);
}

TEST(forest, Averaging) {
  std::vector<TreeSpec> trees;
  for (double v : {1.0, 2.0, 6.0}) {
    TreeSpec t;
    t.nodes = {NodeSpec::Leaf(v, 0)};  // single-leaf trees
    trees.push_back(t);
  }
  ForestBuilder b(1, 1);
  b.set_aggregation(Aggregation::kAverage);
  ASSERT_TRUE(b.set_base_score({0.5}).ok());
  for (auto& t : trees) ASSERT_TRUE(b.AddTree(t).ok());
  auto f = b.Build();
  ASSERT_TRUE(f.ok());
  EXPECT_DOUBLE_EQ(One(*f, 0), 0.5 + 3.0);

  // Per group: group 1 has one tree, group 0 two.
  TreeSpec a, c, d;
  a.nodes = {NodeSpec::Leaf(1, 0)};
  c.nodes = {NodeSpec::Leaf(4, 0)};
  d.group = 1;
  d.nodes = {NodeSpec::Leaf(7, 0)};
  Forest g = Build({a, c, d}, 1, 2, CompareMode::kLessEqual, Aggregation::kAverage);
  double x = 0, out[2];
  g.Margins(&x, 1, out);
  EXPECT_DOUBLE_EQ(out[0], 2.5);
  EXPECT_DOUBLE_EQ(out[1], 7);
}

TEST(forest, FloatAccumulation) {
  TreeSpec big, one;
  big.nodes = {NodeSpec::Leaf(1e8, 0)};
  one.nodes = {NodeSpec::Leaf(1, 0)};
  ForestBuilder b(1, 1);
  b.set_accumulation(Accumulation::kFloat);
  ASSERT_TRUE(b.AddTree(big).ok());
  ASSERT_TRUE(b.AddTree(one).ok());
  auto f = b.Build();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(One(*f, 0), 1e8);  // 1e8f + 1 rounds back to 1e8f
  Forest d = Build({big, one});
  EXPECT_EQ(One(d, 0), 1e8 + 1);
}

TEST(forest, LeafIndicesAndLayout) {
  // Depth-2 tree: root on feature 0, left child on feature 1; leaves carry framework ids 7, 3, 5.
  TreeSpec t;
  t.root = 2;
  t.nodes = {NodeSpec::Leaf(1, 7), NodeSpec::Leaf(2, 3),
             NodeSpec::Numerical(0, 0.0, /*left=*/3, /*right=*/4, false, MissingRule::kNanIsMissing),
             NodeSpec::Numerical(1, 0.0, 0, 1, false, MissingRule::kNanIsMissing), NodeSpec::Leaf(3, 5)};
  TreeSpec s;
  s.nodes = {NodeSpec::Leaf(0.5, 0)};
  Forest f = Build({t, s}, 2);
  // Pre-order: root, its left split, that split's leaves, then the root's right leaf.
  auto nodes = f.nodes();
  ASSERT_EQ(nodes.size(), 6u);
  EXPECT_EQ(f.tree_root(0), 0);
  EXPECT_EQ(nodes[0].feature, 0);
  EXPECT_EQ(nodes[0].left, 1);
  EXPECT_EQ(nodes[1].feature, 1);
  EXPECT_EQ(nodes[0].right, 4);
  EXPECT_TRUE(nodes[4].is_leaf());
  EXPECT_EQ(nodes[4].leaf_id(), 5);
  EXPECT_EQ(f.tree_root(1), 5);
  EXPECT_TRUE(std::isnan(f.cover(0)));

  const float x[6] = {-1, -1, -1, 1, 1, 0};
  int32_t leaves[6];
  f.LeafIndices(x, 3, leaves);
  EXPECT_EQ(leaves[0], 7);
  EXPECT_EQ(leaves[1], 0);
  EXPECT_EQ(leaves[2], 3);
  EXPECT_EQ(leaves[3], 0);
  EXPECT_EQ(leaves[4], 5);
  EXPECT_EQ(leaves[5], 0);
  double m[3];
  f.Margins(x, 3, m);
  EXPECT_DOUBLE_EQ(m[0], 1.5);
  EXPECT_DOUBLE_EQ(m[1], 2.5);
  EXPECT_DOUBLE_EQ(m[2], 3.5);
  f.Margins(x, 0, m);  // no rows: nothing written, no crash
}

TEST(forest, BuilderRejectsMalformedTrees) {
  auto error = [](TreeSpec t, int32_t features = 2) {
    ForestBuilder b(features, 2);
    Status st = b.AddTree(t);
    EXPECT_FALSE(st.ok());
    return st.message();
  };
  auto split = [](int32_t f, int32_t l, int32_t r) { return NodeSpec::Numerical(f, 0, l, r, false, MissingRule::kNone); };
  TreeSpec t;
  EXPECT_NE(error(t).find("no nodes"), std::string::npos);
  t.nodes = {split(0, 1, 5), NodeSpec::Leaf(1, 0), NodeSpec::Leaf(2, 1)};
  EXPECT_NE(error(t).find("tree 0 node 0: child 5"), std::string::npos);
  t.nodes = {split(0, 1, 0), NodeSpec::Leaf(1, 0)};
  EXPECT_NE(error(t).find("reached twice"), std::string::npos);  // cycle
  t.nodes = {split(0, 1, 1), NodeSpec::Leaf(1, 0)};
  EXPECT_NE(error(t).find("reached twice"), std::string::npos);  // shared child
  t.nodes = {split(0, 1, 2), NodeSpec::Leaf(1, 0), NodeSpec::Leaf(2, 1), NodeSpec::Leaf(3, 2)};
  EXPECT_NE(error(t).find("node 3: not reachable"), std::string::npos);
  t.nodes = {split(2, 1, 2), NodeSpec::Leaf(1, 0), NodeSpec::Leaf(2, 1)};
  EXPECT_NE(error(t).find("split feature 2"), std::string::npos);
  t.nodes = {split(-1, 1, 2), NodeSpec::Leaf(1, 0), NodeSpec::Leaf(2, 1)};
  EXPECT_NE(error(t).find("split feature -1"), std::string::npos);
  t.nodes = {NodeSpec::Numerical(0, kNaN, 1, 2, false, MissingRule::kNone), NodeSpec::Leaf(1, 0), NodeSpec::Leaf(2, 1)};
  EXPECT_NE(error(t).find("threshold is NaN"), std::string::npos);
  t.nodes = {NodeSpec::Categorical(0, 0, 1, 2, true, false), NodeSpec::Leaf(1, 0), NodeSpec::Leaf(2, 1)};
  EXPECT_NE(error(t).find("category set 0 does not exist"), std::string::npos);
  t.nodes = {NodeSpec::Leaf(std::numeric_limits<double>::infinity(), 0)};
  EXPECT_NE(error(t).find("not finite"), std::string::npos);
  t.nodes = {NodeSpec::Leaf(1, 0)};
  t.root = 1;
  EXPECT_NE(error(t).find("root 1"), std::string::npos);
  t.root = 0;
  t.group = 2;
  EXPECT_NE(error(t).find("group 2"), std::string::npos);

  ForestBuilder bad(-1, 0);
  EXPECT_FALSE(bad.Build().ok());
  // A failed AddTree leaves the builder usable and unchanged.
  ForestBuilder b(1, 1);
  TreeSpec broken;
  broken.nodes = {split(0, 1, 9)};
  EXPECT_FALSE(b.AddTree(broken).ok());
  TreeSpec fine;
  fine.nodes = {NodeSpec::Leaf(4, 0)};
  EXPECT_TRUE(b.AddTree(fine).ok());
  auto f = b.Build();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->num_trees(), 1);
  EXPECT_EQ(One(*f, 0), 4);
}

TEST(forest, FloatAndDoubleInputsAgree) {
  TreeSpec t = Stump(NodeSpec::Numerical(0, 0.5, -1, -1, false, MissingRule::kNone));
  Forest f = Build({t});
  for (float v : {-2.0f, 0.25f, 0.5f, 0.75f, 3.0f}) EXPECT_EQ(OneF(f, v), One(f, v)) << v;
}

// A random forest of full-depth trees over 8 features, two groups, with every kind of split.
Forest RandomForest(std::mt19937* rng, int trees, int depth) {
  std::uniform_real_distribution<double> u(-1, 1);
  ForestBuilder b(8, 2);
  for (int t = 0; t < trees; ++t) {
    TreeSpec spec;
    spec.group = t % 2;
    spec.category_sets = {{0x5555u, 0x1u}};
    const int splits = (1 << depth) - 1;
    for (int i = 0; i < splits; ++i) {
      int32_t l = 2 * i + 1, r = 2 * i + 2;
      int kind = static_cast<int>((*rng)() % 4);
      if (kind == 3) {
        spec.nodes.push_back(NodeSpec::Categorical(static_cast<int32_t>((*rng)() % 8), 0, l, r, true, (*rng)() % 2));
      } else {
        spec.nodes.push_back(NodeSpec::Numerical(static_cast<int32_t>((*rng)() % 8), u(*rng), l, r, (*rng)() % 2,
                                                 static_cast<MissingRule>(kind)));
      }
    }
    for (int j = 0; j <= splits; ++j) spec.nodes.push_back(NodeSpec::Leaf(u(*rng), j));
    EXPECT_TRUE(b.AddTree(spec).ok());
  }
  return std::move(b.Build()).value();
}

TEST(forest, ConcurrentEvaluationMatchesSerial) {
  std::mt19937 rng(42);
  Forest f = RandomForest(&rng, 100, 6);
  const size_t n = 500;
  std::vector<float> x(n * 8);
  std::uniform_real_distribution<float> u(-1.5f, 1.5f);
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = i % 13 == 0 ? std::numeric_limits<float>::quiet_NaN() : i % 11 == 0 ? 0.0f : u(rng);
    if (i % 8 == 3) x[i] = static_cast<float>(static_cast<int>(rng() % 40));  // categories too
  }
  std::vector<double> want(n * 2);
  std::vector<int32_t> want_leaves(n * 100);
  f.Margins(x.data(), n, want.data());
  f.LeafIndices(x.data(), n, want_leaves.data());
  // Row by row gives the same as the batch.
  for (size_t r = 0; r < n; r += 37) {
    double one[2];
    f.Margins(x.data() + r * 8, 1, one);
    EXPECT_EQ(one[0], want[r * 2]);
    EXPECT_EQ(one[1], want[r * 2 + 1]);
  }
  std::vector<std::thread> threads;
  std::vector<int> mismatches(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::vector<double> got(n * 2);
      std::vector<int32_t> leaves(n * 100);
      for (int iter = 0; iter < 20; ++iter) {
        // Different batch boundaries per thread.
        size_t start = static_cast<size_t>(t * 7 + iter) % n;
        f.Margins(x.data() + start * 8, n - start, got.data() + start * 2);
        f.Margins(x.data(), start, got.data());
        f.LeafIndices(x.data(), n, leaves.data());
        if (got != want || leaves != want_leaves) ++mismatches[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

// The branch-free fast path must give bit-identical margins to the general walk, for both compare
// modes, both input types, float and double accumulation, averaging, NaN inputs, values exactly on
// (float-rounded) thresholds, few rows (tree lanes) and many rows (row lanes plus a remainder), blocks
// of rows with and without NaN, and trees deeper than the fixed-depth lockstep walk (a 24-split chain).
TEST(forest, FastPathMatchesTheGeneralWalkExactly) {
  std::mt19937 gen(1234);
  std::uniform_real_distribution<double> unif(-4.0, 4.0);
  for (int trial = 0; trial < 24; ++trial) {
    const int32_t features = 1 + trial % 5, groups = 1 + trial % 3;
    const CompareMode mode = trial % 2 ? CompareMode::kLess : CompareMode::kLessEqual;
    ForestBuilder b(features, groups);
    b.set_compare(mode);
    b.set_accumulation(trial % 4 < 2 ? Accumulation::kFloat : Accumulation::kDouble);
    b.set_aggregation(trial % 3 == 0 ? Aggregation::kAverage : Aggregation::kSum);
    ASSERT_TRUE(b.set_base_score(std::vector<double>(static_cast<size_t>(groups), 0.25 * trial)).ok());
    std::vector<double> thresholds;
    for (int t = 0; t < 13; ++t) {
      // A random tree of up to 31 nodes, grown breadth-first.
      TreeSpec tree;
      tree.group = t % groups;
      tree.nodes.push_back(NodeSpec::Leaf(0, 0));
      std::vector<int32_t> open = {0};
      while (!open.empty() && tree.nodes.size() < 31) {
        int32_t i = open.front();
        open.erase(open.begin());
        if (gen() % 4 == 0 && i != 0) continue;  // stays a leaf
        double th = unif(gen);
        if (gen() % 3 == 0) th = static_cast<float>(th) + (gen() % 2 ? 1e-9 : -1e-9);  // near a float
        thresholds.push_back(th);
        auto l = static_cast<int32_t>(tree.nodes.size());
        tree.nodes.push_back(NodeSpec::Leaf(unif(gen), l));
        tree.nodes.push_back(NodeSpec::Leaf(unif(gen), l + 1));
        tree.nodes[static_cast<size_t>(i)] = NodeSpec::Numerical(static_cast<int32_t>(gen() % features), th, l, l + 1,
                                                                 gen() % 2 == 0, MissingRule::kNanIsMissing);
        open.push_back(l);
        open.push_back(l + 1);
      }
      ASSERT_TRUE(b.AddTree(tree).ok());
    }
    {
      // A chain: every split has a leaf on one side (alternating), 24 splits deep.
      TreeSpec chain;
      chain.group = trial % groups;
      const int32_t splits = 24;
      for (int32_t d = 0; d < splits; ++d) {
        double th = unif(gen);
        thresholds.push_back(th);
        const int32_t next = 2 * d + 2, leaf = 2 * d + 1;  // the chain goes on at `next`
        const bool leaf_left = d % 2 == 0;
        chain.nodes.push_back(NodeSpec::Numerical(static_cast<int32_t>(gen() % features), th, leaf_left ? leaf : next,
                                                  leaf_left ? next : leaf, gen() % 2 == 0, MissingRule::kNanIsMissing));
        chain.nodes.push_back(NodeSpec::Leaf(unif(gen), leaf));
      }
      chain.nodes.push_back(NodeSpec::Leaf(unif(gen), 2 * splits));
      ASSERT_TRUE(b.AddTree(chain).ok());
    }
    auto f = b.Build();
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    ASSERT_TRUE(f->fast_path());
    for (size_t rows : {size_t{1}, size_t{5}, size_t{16}, size_t{17}, size_t{70}, size_t{130}}) {
      std::vector<float> xf;
      // Every other pair of trials: NaN only in the rows from 64 on, so the first block of 64 rows has none.
      const size_t nan_from = (trial / 2) % 2 ? 64 * static_cast<size_t>(features) : 0;
      for (size_t i = 0; i < rows * static_cast<size_t>(features); ++i) {
        int k = static_cast<int>(gen() % 5);
        if (k == 0 && i < nan_from) k = 2;
        double v = k == 0 ? std::nan("") : k == 1 ? thresholds[gen() % thresholds.size()] : unif(gen);
        xf.push_back(static_cast<float>(v));
      }
      std::vector<double> xd(xf.begin(), xf.end());
      const size_t out_n = rows * static_cast<size_t>(groups);
      std::vector<double> fast_f(out_n), slow_f(out_n), fast_d(out_n), slow_d(out_n);
      f->Margins(xf.data(), rows, fast_f.data());
      f->Margins(xd.data(), rows, fast_d.data());
      f->set_fast_path(false);
      f->Margins(xf.data(), rows, slow_f.data());
      f->Margins(xd.data(), rows, slow_d.data());
      f->set_fast_path(true);
      for (size_t i = 0; i < out_n; ++i) {
        ASSERT_EQ(fast_f[i], slow_f[i]) << "trial " << trial << " rows " << rows << " value " << i;
        ASSERT_EQ(fast_d[i], slow_d[i]) << "trial " << trial << " rows " << rows << " value " << i;
      }
    }
  }
}

// Forests the fast path does not cover keep the general walk.
TEST(forest, FastPathOnlyForNumericalNanMissingForests) {
  ForestBuilder b(2, 1);
  TreeSpec tree;
  tree.nodes = {NodeSpec::Numerical(0, 0.5, 1, 2, false, MissingRule::kZeroIsMissing), NodeSpec::Leaf(1, 1),
                NodeSpec::Leaf(2, 2)};
  ASSERT_TRUE(b.AddTree(tree).ok());
  auto f = b.Build();
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->fast_path());
  f->set_fast_path(true);
  EXPECT_FALSE(f->fast_path());
}

TEST(forest, Transforms) {
  double v[4] = {0, 2, -1, 1};
  ApplyTransform({TransformKind::kSigmoid, 1.0}, v, 2, 2);
  EXPECT_DOUBLE_EQ(v[0], 0.5);
  EXPECT_DOUBLE_EQ(v[1], 1 / (1 + std::exp(-2.0)));
  double s[3] = {1, 2, 3};
  ApplyTransform({TransformKind::kSoftmax}, s, 1, 3);
  const double z = std::exp(-2.0) + std::exp(-1.0) + 1;
  EXPECT_DOUBLE_EQ(s[0], std::exp(-2.0) / z);
  EXPECT_DOUBLE_EQ(s[2], 1 / z);
  EXPECT_NEAR(s[0] + s[1] + s[2], 1.0, 1e-15);
  double big[2] = {1000, 1000};  // no overflow: shifted by the row max
  Softmax(big, 2);
  EXPECT_DOUBLE_EQ(big[0], 0.5);
  double e[1] = {1};
  ApplyTransform({TransformKind::kExp}, e, 1, 1);
  EXPECT_DOUBLE_EQ(e[0], std::exp(1.0));
  double sp[1] = {0};
  ApplyTransform({TransformKind::kSoftplus}, sp, 1, 1);
  EXPECT_DOUBLE_EQ(sp[0], std::log(2.0));
  double sq[2] = {-3, 2};
  ApplyTransform({TransformKind::kSignedSquare}, sq, 2, 1);
  EXPECT_DOUBLE_EQ(sq[0], -9);
  EXPECT_DOUBLE_EQ(sq[1], 4);
  double id[1] = {7};
  ApplyTransform({}, id, 1, 1);
  EXPECT_EQ(id[0], 7);
  EXPECT_DOUBLE_EQ(Sigmoid(1.0, 2.0), 1 / (1 + std::exp(-2.0)));
  EXPECT_EQ(TransformName(TransformKind::kSoftmax), "softmax");
}

}  // namespace
}  // namespace inferd::forest
