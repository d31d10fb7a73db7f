#include "tensor/tensor.h"

#include <gtest/gtest.h>

#include <cmath>

namespace inferd {
namespace {

TEST(DataType, NamesRoundTrip) {
  for (auto n : {"BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32",
                 "FP64", "BYTES", "BF16"}) {
    EXPECT_EQ(DataTypeName(DataTypeFromName(n)), n);
  }
  EXPECT_EQ(DataTypeFromName("fp32"), DataType::kInvalid);
  EXPECT_EQ(DataTypeSize(DataType::kBytes), 0u);
}

TEST(Shape, ElementCountGuardsOverflowAndNegatives) {
  EXPECT_EQ(*ElementCount({2, 3}, "s"), 6);
  EXPECT_EQ(*ElementCount({}, "s"), 1);
  EXPECT_EQ(*ElementCount({0, 5}, "s"), 0);
  EXPECT_FALSE(ElementCount({-1, 2}, "s").ok());
  EXPECT_FALSE(ElementCount({1LL << 40, 1LL << 40}, "s").ok());
  EXPECT_FALSE(ElementCount({kMaxElements + 1}, "s").ok());
  EXPECT_TRUE(ShapeMatches({-1, 4}, {7, 4}));
  EXPECT_FALSE(ShapeMatches({-1, 4}, {7, 3}));
  EXPECT_FALSE(ShapeMatches({-1, 4}, {4}));
}

TEST(Tensor, ValidateChecksSizes) {
  Tensor t("x", DataType::kFp32, {2});
  t.Allocate(8);
  EXPECT_TRUE(t.Validate("x").ok());
  t.Allocate(7);
  EXPECT_NE(t.Validate("x").message().find("needs 8 bytes but 7"), std::string::npos);
  Tensor b("b", DataType::kBytes, {2});
  std::string s;
  AppendBytesElement(&s, "hi");
  b.SetOwned(s);
  EXPECT_NE(b.Validate("b").message().find("needs 2 BYTES elements but 1"), std::string::npos);
  s.pop_back();
  b.SetOwned(s);
  EXPECT_NE(b.Validate("b").message().find("truncated"), std::string::npos);
}

TEST(Tensor, HalfAndBfloat16) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f, 5.9604645e-08f}) {
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  }
  EXPECT_TRUE(std::isinf(HalfToFloat(FloatToHalf(1e6f))));
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(NAN))));
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(Bf16ToFloat(FloatToBf16(1.5f)), 1.5f);
  EXPECT_EQ(FloatToBf16(1.0f), 0x3f80);
}

TEST(Tensor, ConvertNumeric) {
  Tensor t("x", DataType::kFp64, {3});
  double* d = reinterpret_cast<double*>(t.Allocate(24));
  d[0] = 1.5; d[1] = -2; d[2] = 1e10;
  auto f = ConvertTensor(t, DataType::kFp32);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->data<float>()[0], 1.5f);
  auto i = ConvertTensor(t, DataType::kInt8);
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->data<int8_t>()[0], 1);
  EXPECT_EQ(i->data<int8_t>()[2], 127);  // clamped, not undefined
  Tensor b("b", DataType::kBytes, {0});
  EXPECT_FALSE(ConvertTensor(b, DataType::kFp32).ok());
}

}  // namespace
}  // namespace inferd
