#include "backends/xgboost/xgboost_trees.h"

#ifndef SIMDJSON_THREADS_ENABLED
#error "inferd_backend_xgboost must link simdjson::simdjson (it defines SIMDJSON_THREADS_ENABLED)"
#endif
#include <simdjson.h>

#include <string>

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

Status ReadArray(element tree, const char* key, size_t n, std::vector<double>* out, const std::string& where) {
  array a;
  if (tree[key].get(a)) return InvalidArgument(where + ": no array '" + key + "'");
  if (n != SIZE_MAX && a.size() != n) return InvalidArgument(where + ": array '" + key + "' has the wrong length");
  out->clear();
  out->reserve(a.size());
  for (element e : a) {
    double v;
    if (!ReadNumber(e, &v)) return InvalidArgument(where + ": array '" + key + "' holds a non-number");
    out->push_back(v);
  }
  return Status::Ok();
}

bool IsIndex(double v, size_t n) { return v >= 0 && v < static_cast<double>(n) && v == static_cast<double>(static_cast<int64_t>(v)); }

}  // namespace

StatusOr<std::vector<forest::TreeSpec>> XgboostTreeSpecs(std::string_view json, int64_t groups) {
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
  std::vector<int32_t> group_of;
  for (element g : tree_info) {
    int64_t v;
    if (g.get(v) || v < 0 || v >= groups) return InvalidArgument("model JSON: bad tree_info entry");
    group_of.push_back(static_cast<int32_t>(v));
  }
  std::vector<forest::TreeSpec> out;
  out.reserve(trees.size());
  std::vector<double> left, right, feature, cond, defl, split_type, cats, cat_nodes, cat_segments, cat_sizes, hess;
  size_t t = 0;
  for (element tree : trees) {
    const std::string where = "tree " + std::to_string(t);
    array lc;
    if (tree["left_children"].get(lc)) return InvalidArgument(where + ": no left_children");
    size_t n = lc.size();
    if (n == 0) return InvalidArgument(where + ": empty");
    int64_t size_leaf = 1;
    if (!tree.at_pointer("/tree_param/size_leaf_vector").get(size_leaf) && size_leaf > 1) {
      return Unimplemented("multi-target trees are not evaluated natively");
    }
    RETURN_IF_ERROR(ReadArray(tree, "left_children", n, &left, where));
    RETURN_IF_ERROR(ReadArray(tree, "right_children", n, &right, where));
    RETURN_IF_ERROR(ReadArray(tree, "split_indices", n, &feature, where));
    RETURN_IF_ERROR(ReadArray(tree, "split_conditions", n, &cond, where));
    RETURN_IF_ERROR(ReadArray(tree, "default_left", n, &defl, where));
    bool has_types = ReadArray(tree, "split_type", n, &split_type, where).ok();
    // Training cover (hessian sums), for explainers (TreeSHAP); optional.
    bool has_cover = ReadArray(tree, "sum_hessian", n, &hess, where).ok();
    forest::TreeSpec spec;
    spec.group = group_of[t];
    spec.root = 0;
    spec.nodes.resize(n);
    // Categorical splits: node categories_nodes[k] sends categories[segments[k] .. + sizes[k]] right.
    std::vector<int32_t> set_of_node(n, -1);
    if (has_types) {
      bool any_cat = false;
      for (double s : split_type) any_cat = any_cat || s != 0;
      if (any_cat) {
        RETURN_IF_ERROR(ReadArray(tree, "categories", SIZE_MAX, &cats, where));
        RETURN_IF_ERROR(ReadArray(tree, "categories_nodes", SIZE_MAX, &cat_nodes, where));
        RETURN_IF_ERROR(ReadArray(tree, "categories_segments", cat_nodes.size(), &cat_segments, where));
        RETURN_IF_ERROR(ReadArray(tree, "categories_sizes", cat_nodes.size(), &cat_sizes, where));
        for (size_t k = 0; k < cat_nodes.size(); ++k) {
          if (!IsIndex(cat_nodes[k], n) || cat_segments[k] < 0 || cat_sizes[k] < 0 ||
              cat_segments[k] + cat_sizes[k] > static_cast<double>(cats.size())) {
            return InvalidArgument(where + ": categories entry " + std::to_string(k) + " is malformed");
          }
          std::vector<uint32_t> bits;
          for (size_t i = static_cast<size_t>(cat_segments[k]); i < static_cast<size_t>(cat_segments[k] + cat_sizes[k]); ++i) {
            double c = cats[i];
            if (c < 0 || c >= (1 << 24) || c != static_cast<double>(static_cast<int64_t>(c))) {
              return InvalidArgument(where + ": category " + std::to_string(c) + " is not a small non-negative integer");
            }
            size_t word = static_cast<size_t>(c) / 32;
            if (bits.size() <= word) bits.resize(word + 1, 0);
            bits[word] |= 1u << (static_cast<uint32_t>(c) % 32);
          }
          set_of_node[static_cast<size_t>(cat_nodes[k])] = static_cast<int32_t>(spec.category_sets.size());
          spec.category_sets.push_back(std::move(bits));
        }
      }
    }
    for (size_t i = 0; i < n; ++i) {
      const int32_t id = static_cast<int32_t>(i);
      if (left[i] < 0) {
        spec.nodes[i] = forest::NodeSpec::Leaf(cond[i], id);
        if (has_cover) spec.nodes[i].cover = hess[i];
        continue;
      }
      if (!IsIndex(left[i], n) || !IsIndex(right[i], n) || feature[i] < 0 || feature[i] > INT32_MAX) {
        return InvalidArgument(where + " node " + std::to_string(i) + " is malformed");
      }
      const auto l = static_cast<int32_t>(left[i]), r = static_cast<int32_t>(right[i]);
      const auto f = static_cast<int32_t>(feature[i]);
      if (has_types && split_type[i] != 0) {
        if (set_of_node[i] < 0) return InvalidArgument(where + " node " + std::to_string(i) + ": no categories");
        spec.nodes[i] = forest::NodeSpec::Categorical(f, set_of_node[i], l, r, /*match_left=*/false, defl[i] != 0);
      } else {
        spec.nodes[i] = forest::NodeSpec::Numerical(f, cond[i], l, r, defl[i] != 0, forest::MissingRule::kNanIsMissing);
      }
      if (has_cover) spec.nodes[i].cover = hess[i];
    }
    out.push_back(std::move(spec));
    ++t;
  }
  return out;
}

StatusOr<forest::Forest> XgboostForest(const std::vector<forest::TreeSpec>& trees, int64_t num_features,
                                       int64_t groups, double base_margin) {
  if (num_features <= 0 || num_features > INT32_MAX || groups <= 0 || groups > INT32_MAX) {
    return InvalidArgument("bad feature or group count");
  }
  forest::ForestBuilder b(static_cast<int32_t>(num_features), static_cast<int32_t>(groups));
  b.set_compare(forest::CompareMode::kLess);
  b.set_accumulation(forest::Accumulation::kFloat);
  b.set_aggregation(forest::Aggregation::kSum);
  RETURN_IF_ERROR(b.set_base_score(std::vector<double>(static_cast<size_t>(groups), base_margin)));
  for (const auto& t : trees) RETURN_IF_ERROR(b.AddTree(t));  // validates indices, features, reachability
  return b.Build();
}

}  // namespace inferd
