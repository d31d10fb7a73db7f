#include "backends/lightgbm/lightgbm_model.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <type_traits>
#include <utility>

namespace inferd::lightgbm {

namespace {

using forest::MissingRule;
using forest::NodeSpec;
using forest::TransformKind;
using forest::TreeSpec;

constexpr size_t kMaxLeaves = size_t{1} << 24;  // far above LightGBM's num_leaves limit (131072)

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitWords(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 40;
  // Appended piece by piece: GCC 12's -O3 reports a false -Wrestrict on `"'" + std::string(...)` (a Release
  // build with -Werror stopped here).
  std::string out = "'";
  out.append(s.substr(0, kMax));
  out.append(s.size() > kMax ? "...'" : "'");
  return out;
}

bool ParseDouble(std::string_view s, double* v) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  if (ec == std::errc::result_out_of_range) {
    // Subnormal or huge literals: from_chars reports the range error; strtod gives the rounded value.
    *v = std::strtod(std::string(s).c_str(), nullptr);
    return p == s.data() + s.size();
  }
  return ec == std::errc() && p == s.data() + s.size();
}

template <typename Int>
bool ParseInt(std::string_view s, Int* v) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

// The key=value lines of one section (the header, or one tree).
class Fields {
 public:
  explicit Fields(std::string where) : where_(std::move(where)) {}

  void Set(std::string_view key, std::string_view value, size_t line) { kv_[std::string(key)] = {value, line}; }
  bool Has(std::string_view key) const { return kv_.find(std::string(key)) != kv_.end(); }
  std::string_view Raw(std::string_view key) const {
    auto it = kv_.find(std::string(key));
    return it == kv_.end() ? std::string_view() : it->second.first;
  }

  Status Missing(std::string_view key) const {
    return InvalidArgument(where_ + ": no '" + std::string(key) + "' field");
  }
  Status Bad(std::string_view key, const std::string& what) const {
    auto it = kv_.find(std::string(key));
    std::string line = it == kv_.end() ? "" : " (line " + std::to_string(it->second.second) + ")";
    return InvalidArgument(where_ + ": field '" + std::string(key) + "'" + line + ": " + what);
  }

  template <typename Int>
  Status GetInt(std::string_view key, Int* v) const {
    if (!Has(key)) return Missing(key);
    std::string_view raw = Trim(Raw(key));
    if (!ParseInt(raw, v)) return Bad(key, Quote(raw) + " is not an integer");
    return Status::Ok();
  }

  // A space-separated list of exactly `n` values (an absent field is an error unless n == 0).
  template <typename T>
  Status GetList(std::string_view key, size_t n, std::vector<T>* out) const {
    out->clear();
    if (!Has(key)) {
      if (n == 0) return Status::Ok();
      return Missing(key);
    }
    std::vector<std::string_view> words = SplitWords(Raw(key));
    if (words.size() != n) {
      return Bad(key, "has " + std::to_string(words.size()) + " values, expected " + std::to_string(n));
    }
    out->reserve(n);
    for (size_t i = 0; i < n; ++i) {
      T v{};
      bool ok;
      if constexpr (std::is_floating_point_v<T>) ok = ParseDouble(words[i], &v);
      else ok = ParseInt(words[i], &v);
      if (!ok) {
        return Bad(key, "value " + std::to_string(i) + " " + Quote(words[i]) + " is not " +
                            (std::is_floating_point_v<T> ? "a number" : "an integer in range"));
      }
      out->push_back(v);
    }
    return Status::Ok();
  }

  const std::string& where() const { return where_; }

 private:
  std::string where_;
  std::map<std::string, std::pair<std::string_view, size_t>, std::less<>> kv_;
};

struct ObjectiveInfo {
  std::string name;
  forest::OutputTransform transform;
  int32_t num_class = 0;  // from "num_class:K", 0 when absent
};

StatusOr<ObjectiveInfo> ParseObjective(std::string_view line) {
  std::vector<std::string_view> words = SplitWords(line);
  ObjectiveInfo o;
  if (words.empty()) return o;  // no objective (custom): raw scores
  o.name = std::string(words[0]);
  bool sqrt = false;
  double sigmoid = 1.0;
  for (size_t i = 1; i < words.size(); ++i) {
    std::string_view w = words[i];
    if (w == "sqrt") {
      sqrt = true;
      continue;
    }
    size_t colon = w.find(':');
    if (colon == std::string_view::npos) continue;  // unknown flag: not needed for prediction
    std::string_view key = w.substr(0, colon), value = w.substr(colon + 1);
    if (key == "sigmoid") {
      if (!ParseDouble(value, &sigmoid) || !(sigmoid > 0) || !std::isfinite(sigmoid)) {
        return InvalidArgument("objective " + Quote(line) + ": sigmoid " + Quote(value) + " is not a positive number");
      }
    } else if (key == "num_class") {
      if (!ParseInt(value, &o.num_class) || o.num_class < 1) {
        return InvalidArgument("objective " + Quote(line) + ": num_class " + Quote(value) + " is not a positive integer");
      }
    }
  }
  const std::string& n = o.name;
  if (n == "regression" || n == "regression_l2" || n == "regression_l1" || n == "huber" || n == "fair" ||
      n == "quantile" || n == "mape") {
    o.transform.kind = sqrt ? TransformKind::kSignedSquare : TransformKind::kIdentity;
  } else if (n == "binary") {
    o.transform = {TransformKind::kSigmoid, sigmoid};
  } else if (n == "multiclass" || n == "softmax") {
    o.transform.kind = TransformKind::kSoftmax;
    if (o.num_class == 0) return InvalidArgument("objective " + Quote(line) + ": no num_class");
  } else if (n == "multiclassova" || n == "multiclass_ova" || n == "ova" || n == "ovr") {
    o.transform = {TransformKind::kSigmoid, sigmoid};
    if (o.num_class == 0) return InvalidArgument("objective " + Quote(line) + ": no num_class");
  } else if (n == "cross_entropy" || n == "xentropy") {
    o.transform = {TransformKind::kSigmoid, 1.0};
  } else if (n == "cross_entropy_lambda" || n == "xentlambda") {
    o.transform.kind = TransformKind::kSoftplus;
  } else if (n == "poisson" || n == "gamma" || n == "tweedie") {
    o.transform.kind = TransformKind::kExp;
  } else if (n == "lambdarank" || n == "rank_xendcg" || n == "custom" || n == "none") {
    o.transform.kind = TransformKind::kIdentity;
  } else {
    return InvalidArgument("unknown objective " + Quote(line) +
                           " (known: regression, regression_l1, huber, fair, quantile, mape, binary, multiclass, "
                           "multiclassova, cross_entropy, cross_entropy_lambda, poisson, gamma, tweedie, lambdarank, "
                           "rank_xendcg, custom)");
  }
  return o;
}

// One "Tree=N" block -> TreeSpec.
Status ParseTree(const Fields& f, int32_t num_tree_per_iteration, int32_t index, TreeSpec* tree) {
  tree->nodes.clear();
  tree->category_sets.clear();
  tree->group = index % num_tree_per_iteration;
  int64_t num_leaves = 0;
  RETURN_IF_ERROR(f.GetInt("num_leaves", &num_leaves));
  if (num_leaves < 1 || static_cast<size_t>(num_leaves) > kMaxLeaves) {
    return f.Bad("num_leaves", std::to_string(num_leaves) + " is not in [1, " + std::to_string(kMaxLeaves) + "]");
  }
  if (f.Has("is_linear")) {
    int is_linear = 0;
    RETURN_IF_ERROR(f.GetInt("is_linear", &is_linear));
    if (is_linear != 0) return Unimplemented(f.where() + ": linear trees (linear_tree=true) are not supported");
  }
  const size_t leaves = static_cast<size_t>(num_leaves);
  const size_t splits = leaves - 1;
  std::vector<double> leaf_value, threshold, leaf_count, internal_count;
  RETURN_IF_ERROR(f.GetList("leaf_value", leaves, &leaf_value));
  const bool counts = f.Has("leaf_count") && f.Has("internal_count") &&
                      f.GetList("leaf_count", leaves, &leaf_count).ok() &&
                      f.GetList("internal_count", splits, &internal_count).ok();
  tree->root = 0;
  if (leaves == 1) {
    tree->nodes.push_back(NodeSpec::Leaf(leaf_value[0], 0));
    if (counts) tree->nodes.back().cover = leaf_count[0];
    return Status::Ok();
  }

  int64_t num_cat = 0;
  if (f.Has("num_cat")) RETURN_IF_ERROR(f.GetInt("num_cat", &num_cat));
  if (num_cat < 0 || static_cast<size_t>(num_cat) > splits) {
    return f.Bad("num_cat", std::to_string(num_cat) + " is not in [0, " + std::to_string(splits) + "]");
  }
  std::vector<int32_t> split_feature, left_child, right_child;
  std::vector<int32_t> decision_type;
  RETURN_IF_ERROR(f.GetList("split_feature", splits, &split_feature));
  RETURN_IF_ERROR(f.GetList("threshold", splits, &threshold));
  RETURN_IF_ERROR(f.GetList("decision_type", splits, &decision_type));
  RETURN_IF_ERROR(f.GetList("left_child", splits, &left_child));
  RETURN_IF_ERROR(f.GetList("right_child", splits, &right_child));

  std::vector<uint32_t> cat_boundaries, cat_threshold;
  if (num_cat > 0) {
    RETURN_IF_ERROR(f.GetList("cat_boundaries", static_cast<size_t>(num_cat) + 1, &cat_boundaries));
    if (cat_boundaries[0] != 0) return f.Bad("cat_boundaries", "does not start with 0");
    for (size_t i = 1; i < cat_boundaries.size(); ++i) {
      if (cat_boundaries[i] < cat_boundaries[i - 1]) return f.Bad("cat_boundaries", "decreases at value " + std::to_string(i));
    }
    if (!f.Has("cat_threshold")) return f.Missing("cat_threshold");
    RETURN_IF_ERROR(f.GetList("cat_threshold", SplitWords(f.Raw("cat_threshold")).size(), &cat_threshold));
    if (cat_threshold.size() != cat_boundaries.back()) {
      return f.Bad("cat_threshold", "has " + std::to_string(cat_threshold.size()) + " values, cat_boundaries ends at " +
                                        std::to_string(cat_boundaries.back()));
    }
    for (int64_t c = 0; c < num_cat; ++c) {
      tree->category_sets.emplace_back(cat_threshold.begin() + cat_boundaries[static_cast<size_t>(c)],
                                       cat_threshold.begin() + cat_boundaries[static_cast<size_t>(c) + 1]);
    }
  }

  // Spec indices: split i -> i, leaf j -> splits + j.
  auto child = [&](const char* field, int32_t v, size_t i, int32_t* out) -> Status {
    if (v >= 0) {
      if (static_cast<size_t>(v) >= splits) {
        return f.Bad(field, "value " + std::to_string(i) + " (" + std::to_string(v) + ") is not a split index < " +
                                std::to_string(splits));
      }
      *out = v;
    } else {
      const int64_t leaf = ~static_cast<int64_t>(v);
      if (leaf >= num_leaves) {
        return f.Bad(field, "value " + std::to_string(i) + " (" + std::to_string(v) + ") names leaf " +
                                std::to_string(leaf) + " of " + std::to_string(num_leaves));
      }
      *out = static_cast<int32_t>(splits + static_cast<size_t>(leaf));
    }
    return Status::Ok();
  };
  tree->nodes.resize(splits + leaves);
  for (size_t i = 0; i < splits; ++i) {
    const int32_t dt = decision_type[i];
    if (dt < 0 || dt > 15) return f.Bad("decision_type", "value " + std::to_string(i) + " (" + std::to_string(dt) + ") has unknown bits");
    const bool categorical = (dt & 1) != 0;
    const bool default_left = (dt & 2) != 0;
    const int missing_type = (dt >> 2) & 3;
    if (missing_type == 3) return f.Bad("decision_type", "value " + std::to_string(i) + " (" + std::to_string(dt) + ") has missing type 3");
    int32_t l = 0, r = 0;
    RETURN_IF_ERROR(child("left_child", left_child[i], i, &l));
    RETURN_IF_ERROR(child("right_child", right_child[i], i, &r));
    if (split_feature[i] < 0) {
      return f.Bad("split_feature", "value " + std::to_string(i) + " (" + std::to_string(split_feature[i]) + ") is negative");
    }
    NodeSpec& n = tree->nodes[i];
    if (categorical) {
      const double t = threshold[i];
      if (!(t >= 0) || t >= static_cast<double>(num_cat) || t != std::floor(t)) {
        return f.Bad("threshold", "value " + std::to_string(i) + " of a categorical split is not a category set index < num_cat " +
                                      std::to_string(num_cat));
      }
      // LightGBM sends NaN, negative and unlisted categories right whatever default_left says.
      n = NodeSpec::Categorical(split_feature[i], static_cast<int32_t>(t), l, r, /*match_left=*/true,
                                /*default_left=*/false);
    } else {
      if (std::isnan(threshold[i])) return f.Bad("threshold", "value " + std::to_string(i) + " is NaN");
      const MissingRule rule = missing_type == 0   ? MissingRule::kNone
                               : missing_type == 1 ? MissingRule::kZeroIsMissing
                                                   : MissingRule::kNanIsMissing;
      n = NodeSpec::Numerical(split_feature[i], threshold[i], l, r, default_left, rule);
    }
    if (counts) n.cover = internal_count[i];
  }
  for (size_t j = 0; j < leaves; ++j) {
    tree->nodes[splits + j] = NodeSpec::Leaf(leaf_value[j], static_cast<int32_t>(j));
    if (counts) tree->nodes[splits + j].cover = leaf_count[j];
  }
  return Status::Ok();
}

// Whether every leaf of `trees` lies in the output range of `kind` (see the header: LightGBM 2.x rf).
bool LeavesInOutputRange(const std::vector<TreeSpec>& trees, TransformKind kind) {
  double lo = 0, hi = 1;
  if (kind == TransformKind::kExp || kind == TransformKind::kSoftplus) hi = std::numeric_limits<double>::infinity();
  else if (kind != TransformKind::kSigmoid && kind != TransformKind::kSoftmax) return false;
  for (const TreeSpec& t : trees) {
    for (const NodeSpec& n : t.nodes) {
      if (n.is_leaf && !(n.leaf_value >= lo && n.leaf_value <= hi)) return false;
    }
  }
  return true;
}

}  // namespace

StatusOr<LightgbmModel> ParseLightgbmModel(std::string_view text) {
  // Lines, with their 1-based numbers.
  std::vector<std::pair<std::string_view, size_t>> lines;
  {
    size_t pos = 0, number = 1;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      lines.emplace_back(Trim(text.substr(pos, nl - pos)), number++);
      pos = nl + 1;
    }
  }
  size_t li = 0;
  while (li < lines.size() && lines[li].first.empty()) ++li;
  if (li == lines.size() || lines[li].first != "tree") {
    return InvalidArgument("not a LightGBM text model: the first line is not 'tree'");
  }
  ++li;

  // Header: key=value lines (and bare flags such as average_output) up to the first tree.
  Fields header("header");
  for (; li < lines.size(); ++li) {
    std::string_view l = lines[li].first;
    if (l.starts_with("Tree=") || l == "end of trees") break;
    if (l.empty()) continue;
    size_t eq = l.find('=');
    if (eq == std::string_view::npos) header.Set(l, "", lines[li].second);
    else header.Set(Trim(l.substr(0, eq)), Trim(l.substr(eq + 1)), lines[li].second);
  }

  LightgbmModel m;
  if (!header.Has("version")) return header.Missing("version");
  m.version = std::string(header.Raw("version"));
  if (m.version != "v2" && m.version != "v3" && m.version != "v4") {
    return header.Bad("version", Quote(m.version) + " is not a supported format version (v2, v3, v4)");
  }
  RETURN_IF_ERROR(header.GetInt("num_class", &m.num_class));
  if (m.num_class < 1 || m.num_class > (1 << 20)) return header.Bad("num_class", std::to_string(m.num_class) + " is out of range");
  m.num_tree_per_iteration = m.num_class;
  if (header.Has("num_tree_per_iteration")) RETURN_IF_ERROR(header.GetInt("num_tree_per_iteration", &m.num_tree_per_iteration));
  if (m.num_tree_per_iteration < 1 || m.num_tree_per_iteration > (1 << 20)) {
    return header.Bad("num_tree_per_iteration", std::to_string(m.num_tree_per_iteration) + " is out of range");
  }
  int64_t max_feature_idx = 0;
  RETURN_IF_ERROR(header.GetInt("max_feature_idx", &max_feature_idx));
  if (max_feature_idx < 0 || max_feature_idx >= (int64_t{1} << 24)) {
    return header.Bad("max_feature_idx", std::to_string(max_feature_idx) + " is out of range");
  }
  m.num_features = static_cast<int32_t>(max_feature_idx + 1);
  m.average_output = header.Has("average_output");
  if (header.Has("feature_names")) {
    for (std::string_view w : SplitWords(header.Raw("feature_names"))) m.feature_names.emplace_back(w);
    if (m.feature_names.size() != static_cast<size_t>(m.num_features)) {
      return header.Bad("feature_names", "has " + std::to_string(m.feature_names.size()) + " names for " +
                                             std::to_string(m.num_features) + " features");
    }
  }
  m.objective = std::string(header.Raw("objective"));
  auto objective = ParseObjective(m.objective);
  if (!objective.ok()) return header.Bad("objective", objective.status().message());
  m.objective_name = objective->name;
  m.transform = objective->transform;
  if (objective->num_class != 0 && objective->num_class != m.num_tree_per_iteration) {
    return header.Bad("objective", "num_class:" + std::to_string(objective->num_class) + " but num_tree_per_iteration is " +
                                       std::to_string(m.num_tree_per_iteration));
  }
  const bool raw_objective = m.objective_name.empty() || m.objective_name == "custom" || m.objective_name == "none";
  if (objective->num_class == 0 && !raw_objective && m.num_tree_per_iteration != 1) {
    return header.Bad("objective", Quote(m.objective) + " with num_tree_per_iteration " +
                                       std::to_string(m.num_tree_per_iteration) + " (expected 1)");
  }

  // Trees.
  std::vector<TreeSpec> trees;
  bool ended = false;
  while (li < lines.size()) {
    std::string_view l = lines[li].first;
    if (l.empty()) {
      ++li;
      continue;
    }
    if (l == "end of trees") {
      ended = true;
      break;
    }
    if (!l.starts_with("Tree=")) {
      return InvalidArgument("line " + std::to_string(lines[li].second) + ": expected 'Tree=" +
                             std::to_string(trees.size()) + "' or 'end of trees', got " + Quote(l));
    }
    int64_t index = -1;
    if (!ParseInt(l.substr(5), &index) || index != static_cast<int64_t>(trees.size())) {
      return InvalidArgument("line " + std::to_string(lines[li].second) + ": " + Quote(l) + " where 'Tree=" +
                             std::to_string(trees.size()) + "' was expected");
    }
    if (trees.size() >= (size_t{1} << 22)) return InvalidArgument("too many trees");
    Fields f("tree " + std::to_string(index));
    for (++li; li < lines.size(); ++li) {
      std::string_view t = lines[li].first;
      if (t.empty() || t.starts_with("Tree=") || t == "end of trees") break;
      size_t eq = t.find('=');
      if (eq == std::string_view::npos) {
        return InvalidArgument(f.where() + ": line " + std::to_string(lines[li].second) + ": " + Quote(t) +
                               " is not a key=value line");
      }
      f.Set(Trim(t.substr(0, eq)), Trim(t.substr(eq + 1)), lines[li].second);
    }
    TreeSpec spec;
    RETURN_IF_ERROR(ParseTree(f, m.num_tree_per_iteration, static_cast<int32_t>(trees.size()), &spec));
    trees.push_back(std::move(spec));
  }
  if (!ended) {
    return InvalidArgument("truncated model: no 'end of trees' line after " + std::to_string(trees.size()) + " trees");
  }
  if (trees.empty()) return InvalidArgument("the model has no trees");
  if (trees.size() % static_cast<size_t>(m.num_tree_per_iteration) != 0) {
    return InvalidArgument(std::to_string(trees.size()) + " trees is not a multiple of num_tree_per_iteration " +
                           std::to_string(m.num_tree_per_iteration));
  }
  if (header.Has("tree_sizes") && SplitWords(header.Raw("tree_sizes")).size() != trees.size()) {
    return header.Bad("tree_sizes", "lists " + std::to_string(SplitWords(header.Raw("tree_sizes")).size()) +
                                        " trees, the file has " + std::to_string(trees.size()));
  }

  if (m.average_output && m.version == "v2" && LeavesInOutputRange(trees, m.transform.kind)) {
    m.legacy_rf_output = true;
    m.transform = {};
  }

  forest::ForestBuilder b(m.num_features, m.num_tree_per_iteration);
  b.set_compare(forest::CompareMode::kLessEqual);
  b.set_aggregation(m.average_output ? forest::Aggregation::kAverage : forest::Aggregation::kSum);
  b.set_accumulation(forest::Accumulation::kDouble);
  for (const TreeSpec& t : trees) RETURN_IF_ERROR(b.AddTree(t));
  ASSIGN_OR_RETURN(m.forest, b.Build());
  return m;
}

StatusOr<LightgbmModel> LoadLightgbmModel(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("model file '" + path + "': cannot be opened");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Internal("model file '" + path + "': read error");
  auto m = ParseLightgbmModel(ss.str());
  if (!m.ok()) return m.status().WithPrefix("model file '" + path + "'");
  return m;
}

}  // namespace inferd::lightgbm
