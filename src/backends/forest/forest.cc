#include "backends/forest/forest.h"

#include <algorithm>
#include <cmath>
#include <limits>
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

// The child of split `n` that value `v` (a row value widened to double) goes to.
template <CompareMode C>
inline int32_t Forest::Next(const Node& n, double v) const {
  const int32_t missing_child = (n.info & Node::kDefaultLeft) ? n.left : n.right;
  if (!(n.info & Node::kCategorical)) [[likely]] {
    const MissingRule rule = n.missing();
    if (std::isnan(v)) {
      if (rule == MissingRule::kNanIsMissing) return missing_child;
      v = 0.0;
    }
    if (rule == MissingRule::kZeroIsMissing && v >= -kZeroThreshold && v <= kZeroThreshold) return missing_child;
    bool go_left;
    if constexpr (C == CompareMode::kLessEqual) {
      go_left = v <= n.value;
    } else {
      go_left = static_cast<float>(v) < static_cast<float>(n.value);
    }
    return go_left ? n.left : n.right;
  }
  if (std::isnan(v)) return missing_child;
  // Truncation toward zero, as a C++ cast to int does (-0.5 is category 0).
  bool match = v > -1.0 && v < 2147483648.0 && CategoryMatches(n, static_cast<int64_t>(v));
  bool go_left = match == ((n.info & Node::kMatchLeft) != 0);
  return go_left ? n.left : n.right;
}

int32_t Forest::Child(const Node& node, double v) const {
  return compare_ == CompareMode::kLess ? Next<CompareMode::kLess>(node, v) : Next<CompareMode::kLessEqual>(node, v);
}

// Walks one tree from node `i` to a leaf; returns the leaf's node index.
template <typename T, CompareMode C>
inline int32_t Forest::Leaf(int32_t i, const T* row) const {
  const Node* nodes = nodes_.data();
  for (;;) {
    const Node& n = nodes[i];
    if (n.feature < 0) return i;
    i = Next<C>(n, static_cast<double>(row[n.feature]));
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

namespace {

// Rows (or trees, for a few rows) walked in lockstep on the fast path.
constexpr size_t kLanes = 16;
// Trees at most this deep are walked for their full depth in lockstep, with no test for "all lanes at a
// leaf" (a leaf points to itself, so extra steps are harmless); deeper ones stop when no lane moved.
constexpr int32_t kFixedDepth = 16;

// One step down a fast tree: the child index is computed, not selected, so the compiler emits no
// data-dependent branch (GCC -O2 turned `cond ? left : right` into an unpredictable jump: measured as
// the batch path's main cost, 3x slower than libxgboost at 1000 rows). kNan: the rows may hold NaN.
template <bool kNan, typename T, typename F>
inline int32_t Step(const F* fast_base, int32_t i, const T* row) {
  const F& nd = fast_base[i];
  const T v = row[nd.feature_dl & 0x7fffffffu];
  uint32_t left = static_cast<uint32_t>(v <= nd.threshold);
  if constexpr (kNan) left |= static_cast<uint32_t>(v != v) & (nd.feature_dl >> 31);
  return nd.left + static_cast<int32_t>(left ^ 1u);
}

template <typename Acc>
inline void AddLeaf(double* o, double leaf) {
  if constexpr (std::is_same_v<Acc, float>) {
    *o = static_cast<double>(static_cast<float>(*o) + static_cast<float>(leaf));
  } else {
    *o += leaf;
  }
}

template <typename T>
inline bool AnyNan(const T* x, size_t count) {
  bool nan = false;
  for (size_t i = 0; i < count; ++i) nan |= x[i] != x[i];
  return nan;
}

}  // namespace

// Rows [begin, end) down fast tree `t`, kLanes rows in lockstep; each row's leaf value is added to its
// margin of the tree's group.
template <bool kNan, typename Acc, typename T, typename F>
void Forest::FastTreeRows(const F* fb, size_t t, const T* x, size_t begin, size_t end, Acc* acc) const {
  const size_t f_count = static_cast<size_t>(num_features_), g_count = static_cast<size_t>(num_groups_);
  const size_t g = static_cast<size_t>(groups_[t]);
  const int32_t root = roots_[t], depth = depths_[t];
  const Acc* values = LeafValues<Acc>();
  Acc* out = acc + g;  // row r's sum for the tree's group is out[(r - begin) * g_count]
  size_t r = begin;
  for (; r + kLanes <= end; r += kLanes) {
    int32_t idx[kLanes];
    for (size_t k = 0; k < kLanes; ++k) idx[k] = root;
    const T* rows = x + r * f_count;  // lane k's row is rows + k * f_count (an add per lane, not a load)
    if (depth <= kFixedDepth) {
      for (int32_t d = 0; d < depth; ++d) {
        const T* row = rows;
        for (size_t k = 0; k < kLanes; ++k, row += f_count) idx[k] = Step<kNan>(fb, idx[k], row);
      }
    } else {
      for (int32_t d = 0; d < depth; ++d) {
        int32_t moved = 0;
        const T* row = rows;
        for (size_t k = 0; k < kLanes; ++k, row += f_count) {
          const int32_t next = Step<kNan>(fb, idx[k], row);
          moved |= next ^ idx[k];
          idx[k] = next;
        }
        if (moved == 0) break;
      }
    }
    for (size_t k = 0; k < kLanes; ++k) out[(r - begin + k) * g_count] += values[idx[k]];
  }
  for (; r < end; ++r) {  // the rows left over, one at a time (full depth: no data-dependent exit)
    const T* row = x + r * f_count;
    int32_t i = root;
    for (int32_t d = 0; d < depth; ++d) {
      const int32_t next = Step<kNan>(fb, i, row);
      if (depth > kFixedDepth && next == i) break;
      i = next;
    }
    out[(r - begin) * g_count] += values[i];
  }
}

// One row down every tree: up to kLanes consecutive trees in lockstep, leaves added in tree order.
template <bool kNan, typename Acc, typename T, typename F>
void Forest::FastRowTrees(const F* fb, const T* row, double* o) const {
  const size_t trees = roots_.size();
  const double* values = fast_values_.data();
  for (size_t t0 = 0; t0 < trees; t0 += kLanes) {
    const size_t lanes = std::min(kLanes, trees - t0);
    int32_t idx[kLanes];
    int32_t depth = 0;
    for (size_t k = 0; k < lanes; ++k) {
      idx[k] = roots_[t0 + k];
      depth = std::max(depth, depths_[t0 + k]);
    }
    if (depth <= kFixedDepth) {
      for (int32_t d = 0; d < depth; ++d) {
        for (size_t k = 0; k < lanes; ++k) idx[k] = Step<kNan>(fb, idx[k], row);
      }
    } else {
      for (int32_t d = 0; d < depth; ++d) {
        int32_t moved = 0;  // a leaf points to itself: no lane moved means every lane is at a leaf
        for (size_t k = 0; k < lanes; ++k) {
          const int32_t next = Step<kNan>(fb, idx[k], row);
          moved |= next ^ idx[k];
          idx[k] = next;
        }
        if (moved == 0) break;
      }
    }
    for (size_t k = 0; k < lanes; ++k) AddLeaf<Acc>(o + groups_[t0 + k], values[idx[k]]);
  }
}

template <typename Acc, typename T, typename F>
void Forest::FastMargins(const std::vector<FastNode<F>>& fast, const T* x, size_t n, double* out) const {
  const size_t g_count = static_cast<size_t>(num_groups_);
  const size_t f_count = static_cast<size_t>(num_features_);
  const bool average = aggregation_ == Aggregation::kAverage;
  const size_t trees = roots_.size();
  const FastNode<F>* fb = fast.data();
  for (size_t r = 0; r < n; ++r) {
    double* o = out + r * g_count;
    for (size_t g = 0; g < g_count; ++g) {
      double start = average ? 0.0 : base_[g];
      o[g] = std::is_same_v<Acc, float> ? static_cast<double>(static_cast<float>(start)) : start;
    }
  }
  if (n < kLanes) {
    // Few rows: the lanes are trees.
    for (size_t r = 0; r < n; ++r) {
      const T* row = x + r * f_count;
      if (AnyNan(row, f_count)) FastRowTrees<true, Acc>(fb, row, out + r * g_count);
      else FastRowTrees<false, Acc>(fb, row, out + r * g_count);
    }
  } else {
    // Blocks of rows, tree by tree: a tree stays in cache for the block, the block's rows for all trees.
    // Blocks without NaN (the usual case) take the step without the missing-value test.
    // Sums in Acc: XGBoost's float sums stay in a float block (no double round trip per leaf).
    std::vector<Acc> block(std::is_same_v<Acc, double> ? 0 : std::min(n, kBlock) * g_count);  // at most half of `out`
    for (size_t begin = 0; begin < n; begin += kBlock) {
      const size_t end = std::min(n, begin + kBlock);
      const bool nan = AnyNan(x + begin * f_count, (end - begin) * f_count);
      Acc* acc;
      if constexpr (std::is_same_v<Acc, double>) {
        acc = out + begin * g_count;
      } else {
        acc = block.data();
        for (size_t i = 0; i < (end - begin) * g_count; ++i) acc[i] = static_cast<Acc>(out[begin * g_count + i]);
      }
      for (size_t t = 0; t < trees; ++t) {
        if (nan) FastTreeRows<true, Acc>(fb, t, x, begin, end, acc);
        else FastTreeRows<false, Acc>(fb, t, x, begin, end, acc);
      }
      if constexpr (!std::is_same_v<Acc, double>) {
        for (size_t i = 0; i < (end - begin) * g_count; ++i) out[begin * g_count + i] = static_cast<double>(acc[i]);
      }
    }
  }
  if (average) {
    for (size_t r = 0; r < n; ++r) {
      double* o = out + r * g_count;
      for (size_t g = 0; g < g_count; ++g) o[g] = base_[g] + o[g] / group_divisor_[g];
    }
  }
}

void Forest::BuildFastPath() {
  fast_ok_ = false;
  use_fast_ = false;
  fast_f_.clear();
  fast_d_.clear();
  fast_values_.clear();
  fast_values_f_.clear();
  depths_.clear();
  if (num_features_ <= 0) return;  // a leaf's step reads feature 0
  for (const Node& n : nodes_) {
    if (!n.is_leaf() && (n.categorical() || n.missing() != MissingRule::kNanIsMissing)) return;
  }
  const bool with_double = compare_ == CompareMode::kLessEqual;
  const float inf = std::numeric_limits<float>::infinity();
  fast_f_.resize(nodes_.size());
  if (with_double) fast_d_.resize(nodes_.size());
  fast_values_.assign(nodes_.size(), 0.0);
  // Each tree breadth first from its root: a split's two children are allocated together, so the right
  // child is left + 1 and a step computes the child instead of choosing between two indices.
  std::vector<std::pair<int32_t, int32_t>> queue;  // (node index, depth)
  for (int32_t root : roots_) {
    const int32_t root_slot = root;  // a tree keeps its nodes' range [root, root + size) and its root
    int32_t next_free = root_slot + 1, depth = 0;
    queue.assign(1, {root, 0});
    std::vector<int32_t> slot_of(1, root_slot);
    for (size_t q = 0; q < queue.size(); ++q) {
      const auto [i, d] = queue[q];
      const int32_t slot = slot_of[q];
      const Node& n = nodes_[static_cast<size_t>(i)];
      if (n.is_leaf()) {
        fast_f_[static_cast<size_t>(slot)] = {inf, 0x80000000u, slot};
        if (with_double) fast_d_[static_cast<size_t>(slot)] = {std::numeric_limits<double>::infinity(), 0x80000000u, slot};
        fast_values_[static_cast<size_t>(slot)] = n.value;
        depth = std::max(depth, d);
        continue;
      }
      const uint32_t fdl = static_cast<uint32_t>(n.feature) | (n.default_left() ? 0x80000000u : 0u);
      float thr;
      if (with_double) {
        // double(x) <= t for a float x  <=>  x <= the largest float not above t.
        thr = static_cast<float>(n.value);
        if (static_cast<double>(thr) > n.value) thr = std::nextafter(thr, -inf);
        fast_d_[static_cast<size_t>(slot)] = {n.value, fdl, next_free};
      } else {
        // float(x) < float(t)  <=>  x <= the float just below float(t); "never" when float(t) is -inf.
        const float t = static_cast<float>(n.value);
        thr = t == -inf ? std::numeric_limits<float>::quiet_NaN() : std::nextafter(t, -inf);
      }
      fast_f_[static_cast<size_t>(slot)] = {thr, fdl, next_free};
      queue.push_back({n.left, d + 1});
      slot_of.push_back(next_free);
      queue.push_back({n.right, d + 1});
      slot_of.push_back(next_free + 1);
      next_free += 2;
    }
    depths_.push_back(depth);
  }
  fast_values_f_.assign(fast_values_.begin(), fast_values_.end());
  fast_ok_ = true;
  use_fast_ = true;
}

void Forest::Margins(const float* x, size_t n, double* out) const {
  if (use_fast_) {
    if (accumulation_ == Accumulation::kFloat) return FastMargins<float>(fast_f_, x, n, out);
    return FastMargins<double>(fast_f_, x, n, out);
  }
  MarginsImpl(x, n, out);
}
void Forest::Margins(const double* x, size_t n, double* out) const {
  if (use_fast_ && !fast_d_.empty()) {
    if (accumulation_ == Accumulation::kFloat) return FastMargins<float>(fast_d_, x, n, out);
    return FastMargins<double>(fast_d_, x, n, out);
  }
  MarginsImpl(x, n, out);
}
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
  f.BuildFastPath();
  forest_ = Forest();
  forest_.num_features_ = f.num_features_;
  forest_.num_groups_ = f.num_groups_;
  forest_.base_.assign(static_cast<size_t>(f.num_groups_), 0.0);
  forest_.cat_offset_.push_back(0);
  return f;
}

}  // namespace inferd::forest
