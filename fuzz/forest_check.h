// fuzz/forest_check.h: evaluates a Forest a model parser built on rows that reach every kind of branch
// (zeros, NaN, infinities, huge values, each split threshold itself), through both walks (fast path and
// general), as doubles and floats, margins and leaf indices. The engine must not read outside its nodes
// whatever the model file said; the two walks must agree.
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include "backends/forest/forest.h"
#include "fuzz_check.h"

namespace inferd::fuzz {

inline void EvaluateForest(forest::Forest& f) {
  const size_t nf = static_cast<size_t>(f.num_features());
  if (nf == 0 || nf > 4096) return;
  std::vector<double> values = {0.0, -0.0, 1.0, -1.0, 0.5, 1e-36, 3.0, 1e30, -1e30,
                                std::numeric_limits<double>::quiet_NaN(),
                                std::numeric_limits<double>::infinity(),
                                -std::numeric_limits<double>::infinity()};
  for (const forest::Node& n : f.nodes()) {
    if (!n.is_leaf() && values.size() < 64) values.push_back(n.value);
  }
  std::vector<double> rows;
  for (double v : values) rows.insert(rows.end(), nf, v);
  // Rows that mix values across features.
  for (size_t r = 0; r < values.size(); ++r) {
    for (size_t j = 0; j < nf; ++j) rows.push_back(values[(r + j) % values.size()]);
  }
  const size_t n = rows.size() / nf;
  std::vector<float> rows_f(rows.begin(), rows.end());
  const size_t groups = static_cast<size_t>(f.num_groups());
  std::vector<double> fast(n * groups), slow(n * groups), from_float(n * groups);
  f.Margins(rows.data(), n, fast.data());
  bool had_fast = f.fast_path();
  f.set_fast_path(false);
  f.Margins(rows.data(), n, slow.data());
  f.Margins(rows_f.data(), n, from_float.data());
  f.set_fast_path(had_fast);
  for (size_t i = 0; i < fast.size(); ++i) {
    bool same = fast[i] == slow[i] || (std::isnan(fast[i]) && std::isnan(slow[i]));
    FUZZ_CHECK(same, "fast and general walks disagree: " + std::to_string(fast[i]) + " vs " +
                         std::to_string(slow[i]) + " (row " + std::to_string(i / groups) + ")");
  }
  std::vector<int32_t> leaves(n * static_cast<size_t>(f.num_trees()));
  f.LeafIndices(rows.data(), n, leaves.data());
  f.LeafIndices(rows_f.data(), n, leaves.data());
}

}  // namespace inferd::fuzz
