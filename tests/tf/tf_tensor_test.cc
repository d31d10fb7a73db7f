#include "tf/tensor.h"

#include <gtest/gtest.h>

#include "tf/graph_def.h"
#include "tf/kernel.h"

namespace inferd::tf {
namespace {

TEST(TfTensor, MakeZeroFilledAndAligned) {
  auto t = Tensor::Make(DType::kFloat, {2, 3});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->num_elements(), 6);
  EXPECT_EQ(t->byte_size(), 24u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->raw()) % 64, 0u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t->data<float>()[i], 0.0f);
}

// Large buffers are reused from tensor.cc's cache: Make must still zero one that an earlier tensor wrote, and
// a reused buffer must not be shared with a live tensor.
TEST(TfTensor, CachedBuffersAreZeroedByMakeAndNeverShared) {
  const Shape shape = {1 << 16};  // 256 KiB: cached
  const char* first = nullptr;
  {
    auto dirty = Tensor::Uninitialized(DType::kFloat, shape);
    ASSERT_TRUE(dirty.ok());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(dirty->raw()) % 64, 0u);
    for (int64_t i = 0; i < dirty->num_elements(); ++i) dirty->data<float>()[i] = 7.0f;
    first = dirty->raw();
  }
  auto again = Tensor::Make(DType::kFloat, shape);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->raw(), first);  // the freed buffer came back from the cache...
  for (int64_t i = 0; i < again->num_elements(); ++i) ASSERT_EQ(again->data<float>()[i], 0.0f) << i;  // ...zeroed
  auto other = Tensor::Uninitialized(DType::kFloat, shape);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->raw(), again->raw());
  EXPECT_FALSE(Tensor::Uninitialized(DType::kFloat, {-1}).ok());
  auto strings = Tensor::Uninitialized(DType::kString, {2});
  ASSERT_TRUE(strings.ok());
  EXPECT_EQ(strings->strings(), std::vector<std::string>(2));
}

TEST(TfTensor, RefusesHostileShapesAndTypes) {
  EXPECT_FALSE(Tensor::Make(DType::kFloat, {-1, 3}).ok());
  EXPECT_FALSE(Tensor::Make(DType::kFloat, {int64_t{1} << 40, int64_t{1} << 40}).ok());
  EXPECT_FALSE(Tensor::Make(DType::kVariant, {1}).ok());
  EXPECT_FALSE(Tensor::Make(DType::kInvalid, {1}).ok());
  EXPECT_TRUE(Tensor::Make(DType::kFloat, {0, 5}).ok());
}

TEST(TfTensor, StringsAndReshapeShareStorage) {
  auto s = Tensor::Make(DType::kString, {2});
  ASSERT_TRUE(s.ok());
  s->strings()[1] = "b";
  auto t = Tensor::Make(DType::kInt32, {2, 3});
  ASSERT_TRUE(t.ok());
  t->data<int32_t>()[5] = 7;
  auto r = t->Reshaped({6});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->SharesBufferWith(*t));
  EXPECT_EQ(r->data<int32_t>()[5], 7);
  EXPECT_FALSE(t->Reshaped({4}).ok());
}

TEST(TfTensor, DTypeNumbersAreTensorFlows) {
  EXPECT_EQ(DTypeFromProto(1), DType::kFloat);
  EXPECT_EQ(DTypeFromProto(101), DType::kFloat);  // DT_FLOAT_REF
  EXPECT_EQ(DTypeFromProto(20), DType::kResource);
  EXPECT_EQ(DTypeFromProto(99), DType::kInvalid);
  EXPECT_EQ(DTypeFromName("DT_INT64"), DType::kInt64);
  EXPECT_EQ(DTypeSize(DType::kHalf), 2u);
}

TEST(TfGraphDef, ParsesInputNames) {
  auto a = ParseInput("x");
  EXPECT_EQ(a.node, "x");
  EXPECT_EQ(a.index, 0);
  auto b = ParseInput("StatefulPartitionedCall:1");
  EXPECT_EQ(b.node, "StatefulPartitionedCall");
  EXPECT_EQ(b.index, 1);
  auto c = ParseInput("^init");
  EXPECT_EQ(c.node, "init");
  EXPECT_EQ(c.index, -1);
  auto d = ParseInput("MatMul:product:0");
  EXPECT_EQ(d.node, "MatMul");
  EXPECT_EQ(d.output_arg, "product");
  EXPECT_EQ(d.index, 0);
}

TEST(TfGraphDef, AttrHelpersNameNodeAndAttr) {
  NodeDef n;
  n.name = "conv";
  n.op = "Conv2D";
  AttrValue v;
  v.kind = AttrValue::Kind::kS;
  v.s = "SAME";
  n.attrs["padding"] = v;
  EXPECT_EQ(*AttrString(n, "padding"), "SAME");
  auto bad = AttrInt(n, "padding");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("conv"), std::string::npos);
  EXPECT_EQ(*AttrIntOr(n, "missing", 4), 4);
}

TEST(TfVariableStore, AssignReplacesWithoutTouchingSharers) {
  VariableStore vs;
  EXPECT_FALSE(vs.Read("v").ok());
  auto a = Tensor::Scalar<float>(DType::kFloat, 1.0f);
  vs.Assign("v", a);
  Tensor held = *vs.Read("v");
  vs.Assign("v", Tensor::Scalar<float>(DType::kFloat, 2.0f));
  EXPECT_EQ(*held.data<float>(), 1.0f);
  EXPECT_EQ(*vs.Read("v")->data<float>(), 2.0f);
}

}  // namespace
}  // namespace inferd::tf
