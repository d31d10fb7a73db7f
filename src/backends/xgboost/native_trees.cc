#include "backends/xgboost/native_trees.h"

#include <simdjson.h>

#include <cmath>

namespace inferd {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;

// XGBoost writes numbers as JSON numbers, and some flags (default_left) as numbers or booleans.
bool ReadNumber(element e, double* v) {
  switch (e.type()) {
    case simdjson::dom::element_type::INT64: *v = static_cast<double>(e.get_int64().value_unsafe()); return true;
    case simdjson::dom::element_type::UINT64: *v = static_cast<double>(e.get_uint64().value_unsafe()); return true;
    case simdjson::dom::element_type::DOUBLE: *v = e.get_double().value_unsafe(); return true;
    case simdjson::dom::element_type::BOOL: *v = e.get_bool().value_unsafe() ? 1 : 0; return true;
    default: return false;
  }
}

Status ReadArray(element tree, const char* key, size_t n, std::vector<double>* out) {
  array a;
  if (tree[key].get(a)) return InvalidArgument(std::string("tree has no array '") + key + "'");
  if (a.size() != n) return InvalidArgument(std::string("tree array '") + key + "' has the wrong length");
  out->clear();
  out->reserve(n);
  for (element e : a) {
    double v;
    if (!ReadNumber(e, &v)) return InvalidArgument(std::string("tree array '") + key + "' holds a non-number");
    out->push_back(v);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<NativeTrees> NativeTrees::FromModelJson(std::string_view json, int64_t num_features, int64_t groups) {
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(json.data(), json.size(), true).get(doc)) return InvalidArgument("model JSON does not parse");
  std::string_view name;
  if (doc.at_pointer("/learner/gradient_booster/name").get(name) || name != "gbtree") {
    return Unimplemented("only gbtree boosters are evaluated natively");
  }
  array trees, tree_info;
  if (doc.at_pointer("/learner/gradient_booster/model/trees").get(trees) ||
      doc.at_pointer("/learner/gradient_booster/model/tree_info").get(tree_info)) {
    return InvalidArgument("model JSON has no trees");
  }
  if (trees.size() != tree_info.size()) return InvalidArgument("model JSON: trees and tree_info differ in length");
  NativeTrees t;
  t.num_features_ = num_features;
  t.groups_ = groups;
  t.base_.assign(static_cast<size_t>(groups), 0.0f);
  for (element g : tree_info) {
    int64_t v;
    if (g.get(v) || v < 0 || v >= groups) return InvalidArgument("model JSON: bad tree_info entry");
    t.groups_of_tree_.push_back(static_cast<int32_t>(v));
  }
  std::vector<double> left, right, feature, cond, defl, split_type;
  for (element tree : trees) {
    array lc;
    if (tree["left_children"].get(lc)) return InvalidArgument("tree has no left_children");
    size_t n = lc.size();
    if (n == 0) return InvalidArgument("empty tree");
    RETURN_IF_ERROR(ReadArray(tree, "left_children", n, &left));
    RETURN_IF_ERROR(ReadArray(tree, "right_children", n, &right));
    RETURN_IF_ERROR(ReadArray(tree, "split_indices", n, &feature));
    RETURN_IF_ERROR(ReadArray(tree, "split_conditions", n, &cond));
    RETURN_IF_ERROR(ReadArray(tree, "default_left", n, &defl));
    if (ReadArray(tree, "split_type", n, &split_type).ok()) {
      for (double s : split_type)
        if (s != 0) return Unimplemented("categorical splits are not evaluated natively");
    }
    int32_t base = static_cast<int32_t>(t.nodes_.size());
    t.roots_.push_back(base);
    for (size_t i = 0; i < n; ++i) {
      bool leaf = left[i] < 0;
      if (!leaf) {
        if (left[i] >= static_cast<double>(n) || right[i] < 0 || right[i] >= static_cast<double>(n) ||
            left[i] <= static_cast<double>(i) || right[i] <= static_cast<double>(i) || feature[i] < 0 ||
            feature[i] >= static_cast<double>(num_features)) {
          return InvalidArgument("tree node " + std::to_string(i) + " is malformed");
        }
      }
      t.nodes_.push_back(Node{leaf ? -1 : base + static_cast<int32_t>(left[i]),
                              leaf ? -1 : base + static_cast<int32_t>(right[i]),
                              leaf ? 0u : static_cast<uint32_t>(feature[i]), static_cast<float>(cond[i]),
                              defl[i] != 0});
    }
  }
  return t;
}

void NativeTrees::Margins(const float* x, int64_t n, float* out) const {
  const Node* nodes = nodes_.data();
  for (int64_t r = 0; r < n; ++r) {
    const float* row = x + r * num_features_;
    float* o = out + r * groups_;
    // Like XGBoost: start from the base margin and add leaves in tree order, in float.
    for (int64_t g = 0; g < groups_; ++g) o[g] = base_[static_cast<size_t>(g)];
    for (size_t t = 0; t < roots_.size(); ++t) {
      const Node* node = nodes + roots_[t];
      while (node->left >= 0) {
        float v = row[node->feature];
        int32_t next = std::isnan(v) ? (node->default_left ? node->left : node->right)
                                     : (v < node->value ? node->left : node->right);
        node = nodes + next;
      }
      o[groups_of_tree_[t]] += node->value;
    }
  }
}

}  // namespace inferd
