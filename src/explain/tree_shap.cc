#include "explain/tree_shap.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <utility>

namespace inferd::explain {

using forest::Node;

// The recursion of Algorithm 2 for one tree. Each level copies its parent's unique path (depth + 1
// elements) into the storage right after it and extends that copy, so the parent's stays intact for the
// sibling call; a tree of depth D needs 1 + (D + 1)(D + 2) / 2 elements.
struct TreeShap::Walk {
  const forest::Forest& forest;
  const std::vector<double>& mean;
  const double* row;
  double* phi;          // this tree's group's F + 1 values
  double scale;         // this tree's weight in its group's margin
  int condition;        // 0, +1, -1
  int32_t condition_feature;

  // 1 / n for the small integers the recursion divides by (depths up to kMaxDepth + 2): the loops below
  // multiply instead of dividing, which is most of their cost (measured in bench/treeshap_bench).
  static const double* Inverse() {
    static const auto table = [] {
      std::array<double, kMaxDepth + 4> t{};
      for (size_t i = 1; i < t.size(); ++i) t[i] = 1.0 / static_cast<double>(i);
      return t;
    }();
    return table.data();
  }

  static void Extend(PathElement* path, int depth, double zero_fraction, double one_fraction, int32_t feature) {
    path[depth] = {feature, zero_fraction, one_fraction, depth == 0 ? 1.0 : 0.0};
    const double inv = Inverse()[depth + 1];
    for (int i = depth - 1; i >= 0; --i) {
      path[i + 1].pweight += one_fraction * path[i].pweight * (i + 1) * inv;
      path[i].pweight = zero_fraction * path[i].pweight * (depth - i) * inv;
    }
  }

  static void Unwind(PathElement* path, int depth, int index) {
    const double one = path[index].one_fraction, zero = path[index].zero_fraction;
    const double* r = Inverse();
    double next_one = path[depth].pweight;
    if (one != 0) {
      const double scale = (depth + 1) / one, zero_scale = zero * r[depth + 1];
      for (int i = depth - 1; i >= 0; --i) {
        const double tmp = path[i].pweight;
        path[i].pweight = next_one * scale * r[i + 1];
        next_one = tmp - path[i].pweight * zero_scale * (depth - i);
      }
    } else {
      const double scale = (depth + 1) / zero;
      for (int i = depth - 1; i >= 0; --i) path[i].pweight = path[i].pweight * scale * r[depth - i];
    }
    for (int i = index; i < depth; ++i) {
      path[i].feature = path[i + 1].feature;
      path[i].zero_fraction = path[i + 1].zero_fraction;
      path[i].one_fraction = path[i + 1].one_fraction;
    }
  }

  // The total permutation weight of the path if element `index` were unwound from it.
  static double UnwoundSum(const PathElement* path, int depth, int index) {
    const double one = path[index].one_fraction, zero = path[index].zero_fraction;
    const double* r = Inverse();
    double next_one = path[depth].pweight, total = 0;
    if (one != 0) {
      const double scale = (depth + 1) / one, zero_scale = zero * r[depth + 1];
      for (int i = depth - 1; i >= 0; --i) {
        const double tmp = next_one * scale * r[i + 1];
        total += tmp;
        next_one = path[i].pweight - tmp * zero_scale * (depth - i);
      }
    } else if (zero != 0) {
      const double scale = (depth + 1) / zero;
      for (int i = depth - 1; i >= 0; --i) total += path[i].pweight * scale * r[depth - i];
    }
    return total;
  }

  void Recurse(int32_t node, PathElement* parent_path, int depth, double parent_zero, double parent_one,
               int32_t parent_feature, double condition_fraction) const {
    if (condition_fraction == 0) return;
    PathElement* path = parent_path + depth + 1;  // this level's copy (see the storage layout above)
    std::copy(parent_path, parent_path + depth + 1, path);
    if (condition == 0 || condition_feature != parent_feature) {
      Extend(path, depth, parent_zero, parent_one, parent_feature);
    }
    const Node& n = forest.nodes()[static_cast<size_t>(node)];
    if (n.is_leaf()) {
      const double v = n.value * scale * condition_fraction;
      for (int i = 1; i <= depth; ++i) {
        const double w = UnwoundSum(path, depth, i);
        phi[path[i].feature] += w * (path[i].one_fraction - path[i].zero_fraction) * v;
      }
      return;
    }
    const int32_t hot = forest.Child(n, row[n.feature]);
    const int32_t cold = hot == n.left ? n.right : n.left;
    const double w = forest.cover(node);
    const double hot_zero = w > 0 ? forest.cover(hot) / w : 0.5;
    const double cold_zero = w > 0 ? forest.cover(cold) / w : 0.5;
    double incoming_zero = 1, incoming_one = 1;
    // A feature already on the path is undone first, so that it is counted once.
    int index = 0;
    for (; index <= depth; ++index) {
      if (path[index].feature == n.feature) break;
    }
    if (index != depth + 1) {
      incoming_zero = path[index].zero_fraction;
      incoming_one = path[index].one_fraction;
      Unwind(path, depth, index);
      --depth;
    }
    double hot_fraction = condition_fraction, cold_fraction = condition_fraction;
    if (condition > 0 && n.feature == condition_feature) {
      cold_fraction = 0;
      --depth;
    } else if (condition < 0 && n.feature == condition_feature) {
      hot_fraction *= hot_zero;
      cold_fraction *= cold_zero;
      --depth;
    }
    Recurse(hot, path, depth + 1, hot_zero * incoming_zero, incoming_one, n.feature, hot_fraction);
    Recurse(cold, path, depth + 1, cold_zero * incoming_zero, 0, n.feature, cold_fraction);
  }
};

StatusOr<TreeShap> TreeShap::Create(const forest::Forest& forest) {
  TreeShap t(forest);
  const auto nodes = forest.nodes();
  t.mean_.assign(nodes.size(), 0.0);
  std::vector<int32_t> height(nodes.size(), 0);  // splits on the longest path down from each node
  std::vector<bool> used(static_cast<size_t>(forest.num_features()), false);
  // One sweep: trees are stored in pre-order, children after their parent, so a reverse sweep sees children
  // first (no recursion, whatever depth a model file holds).
  for (size_t k = nodes.size(); k-- > 0;) {
    const double c = forest.cover(static_cast<int32_t>(k));
    if (!(c >= 0) || !std::isfinite(c)) {
      return Unimplemented("the model has no training cover for its tree nodes (node " + std::to_string(k) +
                           "), which TreeSHAP needs; use \"method\": \"kernel\"");
    }
    const Node& n = nodes[k];
    if (n.is_leaf()) {
      t.mean_[k] = n.value;
      continue;
    }
    const auto l = static_cast<size_t>(n.left), r = static_cast<size_t>(n.right);
    const double cl = forest.cover(n.left), cr = forest.cover(n.right);
    t.mean_[k] = c > 0 ? (t.mean_[l] * cl + t.mean_[r] * cr) / c : 0.5 * (t.mean_[l] + t.mean_[r]);
    height[k] = 1 + std::max(height[l], height[r]);
    used[static_cast<size_t>(n.feature)] = true;
  }
  const int32_t trees = forest.num_trees(), groups = forest.num_groups();
  std::vector<int32_t> per_group(static_cast<size_t>(groups), 0);
  for (int32_t i = 0; i < trees; ++i) ++per_group[static_cast<size_t>(forest.tree_group(i))];
  t.expected_.assign(forest.base_score().begin(), forest.base_score().end());
  t.expected_.resize(static_cast<size_t>(groups), 0.0);
  for (int32_t i = 0; i < trees; ++i) {
    const auto g = static_cast<size_t>(forest.tree_group(i));
    const auto root = static_cast<size_t>(forest.tree_root(i));
    if (height[root] > kMaxDepth) {
      return Unimplemented("tree " + std::to_string(i) + " is deeper than " + std::to_string(kMaxDepth) +
                           " splits, too deep for TreeSHAP; use \"method\": \"kernel\"");
    }
    t.max_depth_ = std::max(t.max_depth_, height[root]);
    const double s = forest.aggregation() == forest::Aggregation::kAverage ? 1.0 / per_group[g] : 1.0;
    t.scale_.push_back(s);
    t.expected_[g] += s * t.mean_[root];
  }
  for (size_t f = 0; f < used.size(); ++f) {
    if (used[f]) t.used_.push_back(static_cast<int32_t>(f));
  }
  return t;
}

void TreeShap::Pass(const double* row, double* phi, int condition, int32_t condition_feature,
                    std::vector<PathElement>* path) const {
  const size_t width = static_cast<size_t>(num_features()) + 1;
  const size_t levels = static_cast<size_t>(max_depth_) + 2;
  path->resize(levels * (levels + 1) / 2);
  for (int32_t i = 0; i < forest_->num_trees(); ++i) {
    Walk w{*forest_, mean_, row, phi + static_cast<size_t>(forest_->tree_group(i)) * width,
           scale_[static_cast<size_t>(i)], condition, condition_feature};
    w.Recurse(forest_->tree_root(i), path->data(), 0, 1, 1, -1, 1);
  }
  if (condition == 0) {
    for (int32_t g = 0; g < num_groups(); ++g) phi[static_cast<size_t>(g) * width + width - 1] += expected_[static_cast<size_t>(g)];
  }
}

void TreeShap::Contributions(const double* row, double* phi) const {
  const size_t width = static_cast<size_t>(num_features()) + 1;
  std::fill(phi, phi + width * static_cast<size_t>(num_groups()), 0.0);
  std::vector<PathElement> path;
  Pass(row, phi, 0, -1, &path);
}

void TreeShap::Interactions(const double* row, double* out) const {
  const size_t width = static_cast<size_t>(num_features()) + 1;
  const size_t groups = static_cast<size_t>(num_groups());
  std::vector<double> diag(width * groups, 0.0), on(width * groups), off(width * groups);
  std::vector<PathElement> path;
  Pass(row, diag.data(), 0, -1, &path);
  std::fill(out, out + groups * width * width, 0.0);
  for (size_t g = 0; g < groups; ++g) {
    for (size_t i = 0; i < width; ++i) out[(g * width + i) * width + i] = diag[g * width + i];
  }
  // A feature no split tests interacts with nothing: its on and off passes would be equal.
  for (int32_t f : used_) {
    std::fill(on.begin(), on.end(), 0.0);
    std::fill(off.begin(), off.end(), 0.0);
    Pass(row, on.data(), 1, f, &path);
    Pass(row, off.data(), -1, f, &path);
    const auto i = static_cast<size_t>(f);
    for (size_t g = 0; g < groups; ++g) {
      double* r = out + (g * width + i) * width;
      for (size_t j = 0; j < width; ++j) {
        if (j == i) continue;
        r[j] = (on[g * width + j] - off[g * width + j]) / 2.0;
        r[i] -= r[j];
      }
    }
  }
}

}  // namespace inferd::explain
