#include "backends/forest/forest.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <utility>

namespace inferd::forest {

namespace {

// LightGBM's kZeroThreshold: a float constant, compared in double.
constexpr double kZeroThreshold = static_cast<double>(1e-35f);

// Rows evaluated together, tree by tree: a tree's nodes stay in cache for the whole block while the
// block's rows (kBlock x num_features values) stay in cache for all trees.
constexpr size_t kBlock = 64;

std::string Where(int32_t tree, int32_t node) {
  return "tree " + std::to_string(tree) + " node " + std::to_string(node);
}

}  // namespace

bool Forest::CategoryMatches(const Node& node, int64_t category) const {
  if (category < 0) return false;
  const uint32_t set = node.category_set();
  const uint32_t begin = cat_offset_[set];
  const uint32_t words = cat_offset_[set + 1] - begin;
  const uint64_t word = static_cast<uint64_t>(category) / 32;
  if (word >= words) return false;
  return ((cat_words_[begin + word] >> (static_cast<uint64_t>(category) % 32)) & 1u) != 0;
}

// Walks one tree from node `i` to a leaf; returns the leaf's node index.
template <typename T, CompareMode C>
inline int32_t Forest::Leaf(int32_t i, const T* row) const {
  const Node* nodes = nodes_.data();
  for (;;) {
    const Node& n = nodes[i];
    if (n.feature < 0) return i;
    double v = static_cast<double>(row[n.feature]);
    const int32_t missing_child = (n.info & Node::kDefaultLeft) ? n.left : n.right;
    if (!(n.info & Node::kCategorical)) [[likely]] {
      const MissingRule rule = n.missing();
      if (std::isnan(v)) {
        if (rule == MissingRule::kNanIsMissing) {
          i = missing_child;
          continue;
        }
        v = 0.0;
      }
      if (rule == MissingRule::kZeroIsMissing && v >= -kZeroThreshold && v <= kZeroThreshold) {
        i = missing_child;
        continue;
      }
      bool go_left;
      if constexpr (C == CompareMode::kLessEqual) {
        go_left = v <= n.value;
      } else {
        go_left = static_cast<float>(v) < static_cast<float>(n.value);
      }
      i = go_left ? n.left : n.right;
    } else {
      if (std::isnan(v)) {
        i = missing_child;
        continue;
      }
      // Truncation toward zero, as a C++ cast to int does (-0.5 is category 0).
      bool match = v > -1.0 && v < 2147483648.0 && CategoryMatches(n, static_cast<int64_t>(v));
      bool go_left = match == ((n.info & Node::kMatchLeft) != 0);
      i = go_left ? n.left : n.right;
    }
  }
}

namespace {

template <typename Acc>
inline void Add(double* o, double leaf) {
  if constexpr (std::is_same_v<Acc, float>) {
    *o = static_cast<double>(static_cast<float>(*o) + static_cast<float>(leaf));
  } else {
    *o += leaf;
  }
}

}  // namespace

template <typename T>
void Forest::MarginsImpl(const T* x, size_t n, double* out) const {
  const size_t g_count = static_cast<size_t>(num_groups_);
  const size_t f_count = static_cast<size_t>(num_features_);
  const bool average = aggregation_ == Aggregation::kAverage;
  const bool float_acc = accumulation_ == Accumulation::kFloat;
  const size_t trees = roots_.size();
  const Node* nodes = nodes_.data();

  auto block = [&]<CompareMode C, typename Acc>(size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) {
      double* o = out + r * g_count;
      for (size_t g = 0; g < g_count; ++g) {
        double start = average ? 0.0 : base_[g];
        o[g] = float_acc ? static_cast<double>(static_cast<float>(start)) : start;
      }
    }
    for (size_t t = 0; t < trees; ++t) {
      const int32_t root = roots_[t];
      const size_t g = static_cast<size_t>(groups_[t]);
      for (size_t r = begin; r < end; ++r) {
        const int32_t leaf = Leaf<T, C>(root, x + r * f_count);
        Add<Acc>(out + r * g_count + g, nodes[leaf].value);
      }
    }
    if (average) {
      for (size_t r = begin; r < end; ++r) {
        double* o = out + r * g_count;
        for (size_t g = 0; g < g_count; ++g) o[g] = base_[g] + o[g] / group_divisor_[g];
      }
    }
  };

  for (size_t begin = 0; begin < n; begin += kBlock) {
    const size_t end = std::min(n, begin + kBlock);
    if (compare_ == CompareMode::kLessEqual) {
      if (float_acc) block.template operator()<CompareMode::kLessEqual, float>(begin, end);
      else block.template operator()<CompareMode::kLessEqual, double>(begin, end);
    } else {
      if (float_acc) block.template operator()<CompareMode::kLess, float>(begin, end);
      else block.template operator()<CompareMode::kLess, double>(begin, end);
    }
  }
}

template <typename T>
void Forest::LeafIndicesImpl(const T* x, size_t n, int32_t* out) const {
  const size_t f_count = static_cast<size_t>(num_features_);
  const size_t trees = roots_.size();
  const Node* nodes = nodes_.data();
  auto block = [&]<CompareMode C>(size_t begin, size_t end) {
    for (size_t t = 0; t < trees; ++t) {
      const int32_t root = roots_[t];
      for (size_t r = begin; r < end; ++r) {
        out[r * trees + t] = nodes[Leaf<T, C>(root, x + r * f_count)].leaf_id();
      }
    }
  };
  for (size_t begin = 0; begin < n; begin += kBlock) {
    const size_t end = std::min(n, begin + kBlock);
    if (compare_ == CompareMode::kLessEqual) block.template operator()<CompareMode::kLessEqual>(begin, end);
    else block.template operator()<CompareMode::kLess>(begin, end);
  }
}

void Forest::Margins(const float* x, size_t n, double* out) const { MarginsImpl(x, n, out); }
void Forest::Margins(const double* x, size_t n, double* out) const { MarginsImpl(x, n, out); }
void Forest::LeafIndices(const float* x, size_t n, int32_t* out) const { LeafIndicesImpl(x, n, out); }
void Forest::LeafIndices(const double* x, size_t n, int32_t* out) const { LeafIndicesImpl(x, n, out); }

// ---- builder -----------------------------------------------------------------------------------

ForestBuilder::ForestBuilder(int32_t num_features, int32_t num_groups) {
  if (num_features < 0) init_ = InvalidArgument("num_features " + std::to_string(num_features) + " < 0");
  if (num_groups < 1) init_ = InvalidArgument("num_groups " + std::to_string(num_groups) + " < 1");
  forest_.num_features_ = std::max(0, num_features);
  forest_.num_groups_ = std::max(1, num_groups);
  forest_.base_.assign(static_cast<size_t>(forest_.num_groups_), 0.0);
  forest_.cat_offset_.push_back(0);
}

Status ForestBuilder::set_base_score(std::vector<double> base) {
  if (base.size() != static_cast<size_t>(forest_.num_groups_)) {
    return InvalidArgument("base score has " + std::to_string(base.size()) + " values for " +
                           std::to_string(forest_.num_groups_) + " groups");
  }
  for (double b : base) {
    if (!std::isfinite(b)) return InvalidArgument("base score is not finite");
  }
  forest_.base_ = std::move(base);
  return Status::Ok();
}

Status ForestBuilder::AddTree(const TreeSpec& tree) {
  RETURN_IF_ERROR(init_);
  Forest& f = forest_;
  const int32_t t = f.num_trees();
  const std::string tree_name = "tree " + std::to_string(t);
  const size_t count = tree.nodes.size();
  if (count == 0) return InvalidArgument(tree_name + ": no nodes");
  if (count > static_cast<size_t>(INT32_MAX / 2) || f.nodes_.size() + count > static_cast<size_t>(INT32_MAX)) {
    return InvalidArgument(tree_name + ": too many nodes");
  }
  if (tree.group < 0 || tree.group >= f.num_groups_) {
    return InvalidArgument(tree_name + ": group " + std::to_string(tree.group) + " is not in [0, " +
                           std::to_string(f.num_groups_) + ")");
  }
  if (tree.root < 0 || static_cast<size_t>(tree.root) >= count) {
    return InvalidArgument(tree_name + ": root " + std::to_string(tree.root) + " is not a node index");
  }
  const size_t set_base = f.cat_offset_.size() - 1;
  if (set_base + tree.category_sets.size() >= (size_t{1} << 24)) return InvalidArgument(tree_name + ": too many category sets");

  // Validate every node first (the forest is only touched once the whole tree is known good).
  for (size_t i = 0; i < count; ++i) {
    const NodeSpec& s = tree.nodes[i];
    const int32_t id = static_cast<int32_t>(i);
    if (s.is_leaf) {
      if (!std::isfinite(s.leaf_value)) return InvalidArgument(Where(t, id) + ": leaf value is not finite");
      continue;
    }
    if (s.feature < 0 || s.feature >= f.num_features_) {
      return InvalidArgument(Where(t, id) + ": split feature " + std::to_string(s.feature) + " is not in [0, " +
                             std::to_string(f.num_features_) + ")");
    }
    for (int32_t child : {s.left, s.right}) {
      if (child < 0 || static_cast<size_t>(child) >= count) {
        return InvalidArgument(Where(t, id) + ": child " + std::to_string(child) + " is not a node index");
      }
    }
    if (s.categorical) {
      if (s.category_set < 0 || static_cast<size_t>(s.category_set) >= tree.category_sets.size()) {
        return InvalidArgument(Where(t, id) + ": category set " + std::to_string(s.category_set) + " does not exist");
      }
    } else if (std::isnan(s.threshold)) {
      return InvalidArgument(Where(t, id) + ": threshold is NaN");
    }
    if (s.missing != MissingRule::kNanIsMissing && s.missing != MissingRule::kZeroIsMissing &&
        s.missing != MissingRule::kNone) {
      return InvalidArgument(Where(t, id) + ": unknown missing rule");
    }
  }

  // Depth-first pre-order from the root; every node must be reached exactly once.
  std::vector<int32_t> new_index(count, -1);
  struct Pending {
    int32_t spec;
    int32_t parent;  // new index of the parent, -1 for the root
    bool left;
  };
  std::vector<Pending> stack = {{tree.root, -1, false}};
  std::vector<Node> out;
  std::vector<double> covers;
  out.reserve(count);
  covers.reserve(count);
  const int32_t offset = static_cast<int32_t>(f.nodes_.size());
  while (!stack.empty()) {
    Pending p = stack.back();
    stack.pop_back();
    if (new_index[static_cast<size_t>(p.spec)] >= 0) {
      return InvalidArgument(Where(t, p.spec) + ": reached twice (the children form a cycle or share a subtree)");
    }
    const int32_t me = offset + static_cast<int32_t>(out.size());
    new_index[static_cast<size_t>(p.spec)] = me;
    if (p.parent >= 0) {
      Node& parent = out[static_cast<size_t>(p.parent - offset)];
      (p.left ? parent.left : parent.right) = me;
    }
    const NodeSpec& s = tree.nodes[static_cast<size_t>(p.spec)];
    Node n{};
    if (s.is_leaf) {
      n.value = s.leaf_value;
      n.feature = -1;
      n.left = s.leaf_id;
      n.right = -1;
      n.info = 0;
    } else {
      n.value = s.categorical ? 0.0 : s.threshold;
      n.feature = s.feature;
      n.left = -1;
      n.right = -1;
      n.info = (s.categorical ? Node::kCategorical : 0u) | (s.default_left ? Node::kDefaultLeft : 0u) |
               (s.match_left ? Node::kMatchLeft : 0u) | (static_cast<uint32_t>(s.missing) << Node::kMissingShift);
      if (s.categorical) n.info |= static_cast<uint32_t>(set_base + static_cast<size_t>(s.category_set)) << Node::kSetShift;
      // Right first so that the left child is visited next and lands right after its parent.
      stack.push_back({s.right, me, false});
      stack.push_back({s.left, me, true});
    }
    out.push_back(n);
    covers.push_back(s.cover);
  }
  for (size_t i = 0; i < count; ++i) {
    if (new_index[i] < 0) return InvalidArgument(Where(t, static_cast<int32_t>(i)) + ": not reachable from the root");
  }

  for (const auto& set : tree.category_sets) {
    f.cat_words_.insert(f.cat_words_.end(), set.begin(), set.end());
    f.cat_offset_.push_back(static_cast<uint32_t>(f.cat_words_.size()));
  }
  f.nodes_.insert(f.nodes_.end(), out.begin(), out.end());
  f.covers_.insert(f.covers_.end(), covers.begin(), covers.end());
  f.roots_.push_back(offset);
  f.groups_.push_back(tree.group);
  return Status::Ok();
}

StatusOr<Forest> ForestBuilder::Build() {
  RETURN_IF_ERROR(init_);
  Forest f = std::move(forest_);
  f.group_divisor_.assign(static_cast<size_t>(f.num_groups_), 0.0);
  for (int32_t g : f.groups_) f.group_divisor_[static_cast<size_t>(g)] += 1.0;
  for (double& s : f.group_divisor_) {
    if (f.aggregation_ == Aggregation::kSum || s == 0) s = 1.0;
  }
  forest_ = Forest();
  forest_.num_features_ = f.num_features_;
  forest_.num_groups_ = f.num_groups_;
  forest_.base_.assign(static_cast<size_t>(f.num_groups_), 0.0);
  forest_.cat_offset_.push_back(0);
  return f;
}

}  // namespace inferd::forest
