#include "backends/xgboost/xgboost_trees.h"

#include <gtest/gtest.h>

#include <cmath>

namespace inferd {
namespace {

// Two trees in two groups. Tree 0: x0 < 0.5 ? (leaf 1.0) : (x1 < 2 ? leaf 2.0 : leaf 3.0), missing x0
// goes right (default_left 0). Tree 1 (group 1): x1 < 0 ? leaf -1 : leaf 4, missing goes left.
const char* kModel = R"({"learner":{"gradient_booster":{"name":"gbtree","model":{
  "tree_info":[0,1],
  "trees":[
   {"left_children":[1,-1,3,-1,-1],"right_children":[2,-1,4,-1,-1],"split_indices":[0,0,1,0,0],
    "split_conditions":[0.5,1.0,2.0,2.0,3.0],"default_left":[0,0,0,0,0]},
   {"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[1,0,0],
    "split_conditions":[0.0,-1.0,4.0],"default_left":[1,0,0]}]}}}})";

StatusOr<forest::Forest> Build(std::string_view json, int64_t features, int64_t groups, double base = 0) {
  ASSIGN_OR_RETURN(auto specs, XgboostTreeSpecs(json, groups));
  return XgboostForest(specs, features, groups, base);
}

TEST(XgboostTrees, FollowsSplitsMissingValuesAndGroups) {
  auto t = Build(kModel, 2, 2, 0.5);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const float nan = std::nanf("");
  float x[] = {0.0f, 5.0f,    // left, then group 1 right
               0.5f, 1.0f,    // 0.5 is not < 0.5: right, then 1 < 2: left
               nan, 3.0f,     // missing x0 goes right, 3 >= 2: right
               1.0f, nan};    // right; missing x1 in tree 0 node 2 goes right; tree 1 goes left
  double out[8];
  t->Margins(x, 4, out);
  EXPECT_FLOAT_EQ(out[0], 1.5f);
  EXPECT_FLOAT_EQ(out[1], 4.5f);
  EXPECT_FLOAT_EQ(out[2], 2.5f);
  EXPECT_FLOAT_EQ(out[3], 4.5f);
  EXPECT_FLOAT_EQ(out[4], 3.5f);
  EXPECT_FLOAT_EQ(out[5], 4.5f);
  EXPECT_FLOAT_EQ(out[6], 3.5f);
  EXPECT_FLOAT_EQ(out[7], -0.5f);
  // pred_leaf: XGBoost's node ids.
  int32_t leaves[8];
  t->LeafIndices(x, 4, leaves);
  EXPECT_EQ(leaves[0], 1);
  EXPECT_EQ(leaves[1], 2);
  EXPECT_EQ(leaves[2], 3);
  EXPECT_EQ(leaves[7], 1);
}

// Categorical split (XGBoost >= 1.6 JSON): the categories listed for a node go right, others left,
// NaN the default way.
TEST(XgboostTrees, CategoricalSplitsSendListedCategoriesRight) {
  const char* model = R"({"learner":{"gradient_booster":{"name":"gbtree","model":{
    "tree_info":[0],
    "trees":[{"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[0,0,0],
      "split_conditions":[0,10.0,20.0],"default_left":[1,0,0],"split_type":[1,0,0],
      "categories":[2,5],"categories_nodes":[0],"categories_segments":[0],"categories_sizes":[2]}]}}}})";
  auto t = Build(model, 1, 1);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  float x[] = {2.0f, 5.0f, 3.0f, -1.0f, std::nanf(""), 40.0f};
  double out[6];
  t->Margins(x, 6, out);
  EXPECT_EQ(out[0], 20.0);
  EXPECT_EQ(out[1], 20.0);
  EXPECT_EQ(out[2], 10.0);
  EXPECT_EQ(out[3], 10.0);  // an invalid (negative) category matches nothing
  EXPECT_EQ(out[4], 10.0);  // missing: default_left
  EXPECT_EQ(out[5], 10.0);
}

TEST(XgboostTrees, RejectsWhatItCannotEvaluate) {
  EXPECT_EQ(XgboostTreeSpecs(R"({"learner":{"gradient_booster":{"name":"dart"}}})", 1).status().code(),
            StatusCode::kUnimplemented);
  EXPECT_FALSE(XgboostTreeSpecs("not json", 1).ok());
  // A split on a feature the model does not have, a group out of range, a child out of range.
  EXPECT_FALSE(Build(kModel, 1, 2).ok());
  EXPECT_FALSE(Build(kModel, 2, 1).ok());
  std::string bad = kModel;
  bad.replace(bad.find(R"("left_children":[1,-1,3,-1,-1])"), 30, R"("left_children":[1,-1,9,-1,-1])");
  EXPECT_FALSE(Build(bad, 2, 2).ok());
}

}  // namespace
}  // namespace inferd
