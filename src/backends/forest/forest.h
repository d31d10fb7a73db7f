// backends/forest/forest.h: the one tree-ensemble engine behind the XGBoost, LightGBM and scikit-learn
// runtimes.
//
// Contract:
// - Building: a framework parser describes each tree as a TreeSpec (nodes whose children are indices
//   into the same spec, plus the tree's category bitsets) and hands it to a ForestBuilder with
//   AddTree; Build() returns the Forest. The builder validates everything a model file could get
//   wrong: child indices in range, every node reached exactly once from the root (no cycles, no
//   shared or orphaned nodes), features < num_features, category sets present, groups < num_groups,
//   finite thresholds. Errors are Status values naming the tree and node ("tree 3 node 7: ..."); nothing
//   throws and nothing is trusted, so parsers may pass file contents through unchecked.
// - Ownership: a Forest owns all its memory (plain vectors) and keeps no pointer into the builder, the
//   specs or the model file. Callers own input and output buffers; Evaluate functions write only
//   `out` and keep nothing after returning.
// - Thread safety: a Forest is immutable after Build, so every const member (Margins, LeafIndices, the
//   structure accessors) may be called from any number of threads at once without locking. A
//   ForestBuilder is a plain single-threaded value.
// - Layout: all trees' nodes live in one vector, each tree in depth-first pre-order (a split's left
//   child follows it directly), children are absolute indices into that vector. A node is 24 bytes.
//   The fast path keeps its own breadth-first copy (see FastNode).
//   Evaluation walks blocks of rows tree by tree, so one tree stays in cache while it serves the block.
// - Semantics (per node, so one engine fits each framework):
//   * Numerical split, CompareMode per forest: kLessEqual (LightGBM, scikit-learn: double `x <= t`) or
//     kLess (XGBoost: float `float(x) < float(t)`); true goes left.
//   * Missing values, MissingRule per node: kNanIsMissing (XGBoost; LightGBM missing_type NaN): NaN takes
//     the default direction. kZeroIsMissing (LightGBM missing_type Zero): NaN counts as 0.0 and any
//     |x| <= 1e-35 takes the default direction. kNone (LightGBM missing_type None): NaN counts as 0.0
//     and is compared like any value.
//   * Categorical split: NaN takes the default direction; otherwise the category is x truncated toward
//     zero; a negative, too large or absent category is "no match"; a match goes left when the node's
//     match_left is set (LightGBM), right otherwise (XGBoost's convention), no match the other way.
//   * A row's margin for group g is base_score[g] + (sum of its trees' leaf values), or with
//     Aggregation::kAverage base_score[g] + that sum / (number of trees of group g) (LightGBM's
//     boosting=rf, scikit-learn forests). Accumulation::kDouble adds in double in tree order;
//     kFloat adds in float in tree order (XGBoost's CPU predictor), starting from float(base_score).
//   * LeafIndices reports the leaf id the parser gave each leaf (the framework's own numbering:
//     LightGBM's leaf index, XGBoost's node id), so pred_leaf answers and explainers agree with the
//     framework.
// - Output transforms (sigmoid, softmax, exp, ...) are not part of a Forest: see transforms.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <vector>

#include "core/status.h"

namespace inferd::forest {

enum class CompareMode : uint8_t { kLessEqual, kLess };
enum class MissingRule : uint8_t { kNanIsMissing, kZeroIsMissing, kNone };
enum class Aggregation : uint8_t { kSum, kAverage };
enum class Accumulation : uint8_t { kDouble, kFloat };

// One node of a tree as a parser describes it. Use the factory functions.
struct NodeSpec {
  bool is_leaf = false;
  // Leaf
  double leaf_value = 0;
  int32_t leaf_id = 0;  // reported by LeafIndices
  // Split
  int32_t feature = 0;
  double threshold = 0;            // numerical splits
  bool categorical = false;
  int32_t category_set = -1;       // categorical: index into TreeSpec::category_sets
  bool match_left = true;          // categorical: where matching categories go
  bool default_left = false;       // where missing values go
  MissingRule missing = MissingRule::kNanIsMissing;
  int32_t left = -1, right = -1;   // indices into TreeSpec::nodes
  // Optional: training cover (hessian sum or row count) for explainers; NaN when unknown.
  double cover = std::numeric_limits<double>::quiet_NaN();

  static NodeSpec Leaf(double value, int32_t leaf_id) {
    NodeSpec n;
    n.is_leaf = true;
    n.leaf_value = value;
    n.leaf_id = leaf_id;
    return n;
  }
  static NodeSpec Numerical(int32_t feature, double threshold, int32_t left, int32_t right, bool default_left,
                            MissingRule missing) {
    NodeSpec n;
    n.feature = feature;
    n.threshold = threshold;
    n.left = left;
    n.right = right;
    n.default_left = default_left;
    n.missing = missing;
    return n;
  }
  static NodeSpec Categorical(int32_t feature, int32_t category_set, int32_t left, int32_t right, bool match_left,
                              bool default_left) {
    NodeSpec n;
    n.feature = feature;
    n.categorical = true;
    n.category_set = category_set;
    n.left = left;
    n.right = right;
    n.match_left = match_left;
    n.default_left = default_left;
    return n;
  }
};

struct TreeSpec {
  int32_t group = 0;  // output group (class) the tree adds to
  int32_t root = 0;   // index into nodes
  std::vector<NodeSpec> nodes;
  // Category bitsets: category c matches set s when bit (c % 32) of category_sets[s][c / 32] is set.
  std::vector<std::vector<uint32_t>> category_sets;
};

// A flattened node. Split: value = threshold, feature >= 0, left/right = absolute node indices.
// Leaf: value = leaf value, feature = -1, left = the parser's leaf id.
struct Node {
  static constexpr uint32_t kCategorical = 1u << 0;
  static constexpr uint32_t kDefaultLeft = 1u << 1;
  static constexpr uint32_t kMatchLeft = 1u << 2;
  static constexpr uint32_t kMissingShift = 3;  // bits 3-4: MissingRule
  static constexpr uint32_t kSetShift = 8;      // bits 8-31: category set index (categorical splits)

  double value;
  int32_t feature;
  int32_t left;
  int32_t right;
  uint32_t info;

  bool is_leaf() const { return feature < 0; }
  bool categorical() const { return (info & kCategorical) != 0; }
  bool default_left() const { return (info & kDefaultLeft) != 0; }
  bool match_left() const { return (info & kMatchLeft) != 0; }
  MissingRule missing() const { return static_cast<MissingRule>((info >> kMissingShift) & 3u); }
  uint32_t category_set() const { return info >> kSetShift; }
  int32_t leaf_id() const { return left; }
};
static_assert(sizeof(Node) == 24);

class Forest {
 public:
  Forest() = default;

  int32_t num_features() const { return num_features_; }
  int32_t num_groups() const { return num_groups_; }
  int32_t num_trees() const { return static_cast<int32_t>(roots_.size()); }
  CompareMode compare() const { return compare_; }
  Aggregation aggregation() const { return aggregation_; }
  Accumulation accumulation() const { return accumulation_; }
  std::span<const double> base_score() const { return base_; }

  // Margins of `n` rows of num_features() values each (row-major): out[n * num_groups()].
  void Margins(const float* x, size_t n, double* out) const;
  void Margins(const double* x, size_t n, double* out) const;
  // The leaf id (NodeSpec::leaf_id) each row reaches in each tree: out[n * num_trees()], tree order.
  void LeafIndices(const float* x, size_t n, int32_t* out) const;
  void LeafIndices(const double* x, size_t n, int32_t* out) const;

  // Structure, for explainers (TreeSHAP) and tests.
  std::span<const Node> nodes() const { return nodes_; }
  int32_t tree_root(int32_t tree) const { return roots_[static_cast<size_t>(tree)]; }
  int32_t tree_group(int32_t tree) const { return groups_[static_cast<size_t>(tree)]; }
  double cover(int32_t node) const { return covers_[static_cast<size_t>(node)]; }  // NaN when unknown
  // Whether `category` matches the category set of a categorical node.
  bool CategoryMatches(const Node& node, int64_t category) const;
  // The child (absolute node index) a split node sends value `v` to: the decision Margins makes. For rows
  // given as float32, pass the float widened to double.
  int32_t Child(const Node& node, double v) const;

  // Whether Margins uses the branch-free fast path (see FastNode); on by default when the forest
  // qualifies. Tests and benchmarks turn it off to compare with the general walk.
  bool fast_path() const { return use_fast_; }
  void set_fast_path(bool on) { use_fast_ = on && fast_ok_; }

 private:
  friend class ForestBuilder;
  // The fast path: forests whose splits are all numerical with NaN-is-missing (XGBoost, scikit-learn,
  // most LightGBM models) are also stored as 12- or 16-byte nodes (FastNode), each tree in the same index
  // range as in nodes_ but laid out breadth first, so that a split's children are adjacent: a split sends
  // x to `left` when `x <= threshold` (float thresholds are pre-rounded so that this single compare
  // reproduces the forest's CompareMode on float inputs) or NaN goes to its default side, else to
  // left + 1; a leaf has threshold +inf and points to itself. A step computes the child (left + !go_left)
  // with no data-dependent branch. Several rows (or, for a few rows, several trees) are walked in
  // lockstep so that their walks overlap in the CPU. Measured in bench/tree_engine_bench (docs/benchmarks.md,
  // "Tree engine batch path").
  template <typename F>
  struct FastNode {
    F threshold;
    uint32_t feature_dl;  // feature, and bit 31 set when missing values go left
    int32_t left;         // the right child is left + 1
  };
  template <typename Acc, typename T, typename F>
  void FastMargins(const std::vector<FastNode<F>>& fast, const T* x, size_t n, double* out) const;
  template <bool kNan, typename Acc, typename T, typename F>
  void FastTreeRows(const F* fb, size_t tree, const T* x, size_t begin, size_t end, Acc* acc) const;
  template <typename Acc>
  const Acc* LeafValues() const {
    if constexpr (std::is_same_v<Acc, float>) return fast_values_f_.data();
    else return fast_values_.data();
  }
  template <bool kNan, typename Acc, typename T, typename F>
  void FastRowTrees(const F* fb, const T* row, double* out) const;
  void BuildFastPath();

  template <CompareMode C>
  int32_t Next(const Node& n, double v) const;
  template <typename T, CompareMode C>
  int32_t Leaf(int32_t root, const T* row) const;
  template <typename T>
  void MarginsImpl(const T* x, size_t n, double* out) const;
  template <typename T>
  void LeafIndicesImpl(const T* x, size_t n, int32_t* out) const;

  int32_t num_features_ = 0;
  int32_t num_groups_ = 1;
  CompareMode compare_ = CompareMode::kLessEqual;
  Aggregation aggregation_ = Aggregation::kSum;
  Accumulation accumulation_ = Accumulation::kDouble;
  std::vector<double> base_;            // [num_groups]
  std::vector<double> group_divisor_;   // [num_groups]: trees of the group for kAverage, else 1
  std::vector<Node> nodes_;
  std::vector<double> covers_;          // parallel to nodes_
  std::vector<int32_t> roots_;          // [num_trees]
  std::vector<int32_t> groups_;         // [num_trees]
  std::vector<uint32_t> cat_words_;     // all category bitsets, concatenated
  std::vector<uint32_t> cat_offset_;    // [num_sets + 1]: set s is cat_words_[offset[s], offset[s+1])
  bool fast_ok_ = false;
  bool use_fast_ = false;
  std::vector<FastNode<float>> fast_f_;   // for float inputs
  std::vector<FastNode<double>> fast_d_;  // for double inputs (kLessEqual forests only)
  std::vector<double> fast_values_;       // parallel to fast_f_: leaf values (0 at splits)
  std::vector<float> fast_values_f_;      // the same rounded to float, for float sums
  std::vector<int32_t> depths_;           // [num_trees]: longest root-to-leaf path (splits)
};

class ForestBuilder {
 public:
  ForestBuilder(int32_t num_features, int32_t num_groups);

  void set_compare(CompareMode c) { forest_.compare_ = c; }
  void set_aggregation(Aggregation a) { forest_.aggregation_ = a; }
  void set_accumulation(Accumulation a) { forest_.accumulation_ = a; }
  // Per-group base score (size num_groups); default zeros.
  Status set_base_score(std::vector<double> base);

  // Validates and flattens one tree (trees are numbered in the order added).
  Status AddTree(const TreeSpec& tree);
  int32_t num_trees() const { return forest_.num_trees(); }

  // The finished forest; the builder is left empty. An error if the constructor's arguments were
  // invalid. A forest may have no trees (every margin is then the base score); a group without trees
  // under Aggregation::kAverage gets its base score.
  StatusOr<Forest> Build();

 private:
  Forest forest_;
  Status init_;
};

}  // namespace inferd::forest
