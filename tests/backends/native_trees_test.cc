#include "backends/xgboost/native_trees.h"

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

TEST(NativeTrees, FollowsSplitsMissingValuesAndGroups) {
  auto t = NativeTrees::FromModelJson(kModel, 2, 2);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  t->set_base_margin({0.5f, 0.25f});
  const float nan = std::nanf("");
  float x[] = {0.0f, 5.0f,    // left, then group 1 right
               0.5f, 1.0f,    // 0.5 is not < 0.5: right, then 1 < 2: left
               nan, 3.0f,     // missing x0 goes right, 3 >= 2: right
               1.0f, nan};    // right; missing x1 in tree 0 node 2 goes right; tree 1 goes left
  float out[8];
  t->Margins(x, 4, out);
  EXPECT_FLOAT_EQ(out[0], 1.5f);
  EXPECT_FLOAT_EQ(out[1], 4.25f);
  EXPECT_FLOAT_EQ(out[2], 2.5f);
  EXPECT_FLOAT_EQ(out[3], 4.25f);
  EXPECT_FLOAT_EQ(out[4], 3.5f);
  EXPECT_FLOAT_EQ(out[5], 4.25f);
  EXPECT_FLOAT_EQ(out[6], 3.5f);
  EXPECT_FLOAT_EQ(out[7], -0.75f);
}

TEST(NativeTrees, RejectsWhatItCannotEvaluate) {
  EXPECT_EQ(NativeTrees::FromModelJson(R"({"learner":{"gradient_booster":{"name":"dart"}}})", 2, 1).status().code(),
            StatusCode::kUnimplemented);
  EXPECT_FALSE(NativeTrees::FromModelJson("not json", 2, 1).ok());
  std::string categorical = kModel;
  categorical.replace(categorical.find(R"("default_left":[1,0,0])"), 22, R"("default_left":[1,0,0],"split_type":[1,0,0])");
  EXPECT_EQ(NativeTrees::FromModelJson(categorical, 2, 2).status().code(), StatusCode::kUnimplemented);
  // A split on a feature the model does not have, or a child pointing backwards, is malformed.
  EXPECT_FALSE(NativeTrees::FromModelJson(kModel, 1, 2).ok());
  EXPECT_FALSE(NativeTrees::FromModelJson(kModel, 2, 1).ok());  // tree_info names group 1 of 1
}

}  // namespace
}  // namespace inferd
