// The array kernels (src/tf/kernels_array.cc), called directly. Expected values were computed by hand or with
// numpy (StridedSlice: numpy slicing, with begin/end/strides/masks built as TensorFlow's _slice_helper builds
// them from the same Python slice), and are carried here as literals.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "tf/tf_kernel_testing.h"

namespace inferd::tf {
namespace {

using namespace inferd::tf::testing;  // NOLINT

Tensor Iota64(Shape s) {
  auto n = NumElements(s);
  std::vector<int64_t> v(static_cast<size_t>(*n));
  std::iota(v.begin(), v.end(), 0);
  return I64(std::move(s), v);
}
Tensor IotaF(Shape s) {
  auto n = NumElements(s);
  std::vector<float> v(static_cast<size_t>(*n));
  std::iota(v.begin(), v.end(), 0.0f);
  return F32(std::move(s), v);
}

TEST(TfArrayKernels, IdentitiesShareTheInput) {
  Tensor x = IotaF({2, 2});
  for (const char* op : {"Identity", "StopGradient", "Snapshot"}) {
    auto r = RunOp(op, {x});
    ASSERT_TRUE(r.status.ok()) << op;
    ASSERT_EQ(r.out.size(), 1u);
    EXPECT_TRUE(r[0].SharesBufferWith(x));
  }
  auto n = RunOp("IdentityN", {x, I32Scalar(3)});
  ASSERT_TRUE(n.status.ok());
  ASSERT_EQ(n.out.size(), 2u);
  EXPECT_EQ(Values<int32_t>(n[1]), std::vector<int32_t>{3});
  EXPECT_FALSE(RunOp("Identity", {x, x}).status.ok());
}

TEST(TfArrayKernels, ShapeSizeRankShapeN) {
  Tensor x = IotaF({2, 3, 4});
  auto s = RunOp("Shape", {x});
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s[0].dtype(), DType::kInt32);
  EXPECT_EQ(Values<int32_t>(s[0]), (std::vector<int32_t>{2, 3, 4}));
  auto s64 = RunOp("Shape", {x}, {{"out_type", AType(DType::kInt64)}});
  ASSERT_TRUE(s64.status.ok());
  EXPECT_EQ(Values<int64_t>(s64[0]), (std::vector<int64_t>{2, 3, 4}));
  auto sz = RunOp("Size", {x});
  ASSERT_TRUE(sz.status.ok());
  EXPECT_EQ(sz[0].rank(), 0);
  EXPECT_EQ(Values<int32_t>(sz[0]), std::vector<int32_t>{24});
  auto rk = RunOp("Rank", {x});
  ASSERT_TRUE(rk.status.ok());
  EXPECT_EQ(Values<int32_t>(rk[0]), std::vector<int32_t>{3});
  auto sn = RunOp("ShapeN", {x, F32({}, {1})});
  ASSERT_TRUE(sn.status.ok());
  ASSERT_EQ(sn.out.size(), 2u);
  EXPECT_EQ(sn[1].shape(), Shape{0});
  EXPECT_FALSE(RunOp("Shape", {x}, {{"out_type", AType(DType::kFloat)}}).status.ok());
}

TEST(TfArrayKernels, ReshapeInfersOneDimAndRefusesMismatches) {
  Tensor x = IotaF({2, 3});
  auto r = RunOp("Reshape", {x, I32s({3, -1})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r[0].shape(), (Shape{3, 2}));
  EXPECT_TRUE(r[0].SharesBufferWith(x));
  auto r64 = RunOp("Reshape", {x, I64s({6})});
  ASSERT_TRUE(r64.status.ok());
  EXPECT_EQ(r64[0].shape(), (Shape{6}));
  auto scalar = RunOp("Reshape", {F32({1}, {5}), I32({0}, {})});
  ASSERT_TRUE(scalar.status.ok());
  EXPECT_EQ(scalar[0].rank(), 0);
  EXPECT_FALSE(RunOp("Reshape", {x, I32s({4, 2})}).status.ok());
  EXPECT_FALSE(RunOp("Reshape", {x, I32s({-1, -1})}).status.ok());
  EXPECT_FALSE(RunOp("Reshape", {x, I32s({-2, -3})}).status.ok());
  EXPECT_FALSE(RunOp("Reshape", {x, I32s({4, -1})}).status.ok());
  EXPECT_FALSE(RunOp("Reshape", {x, I32s({0, -1})}).status.ok());
  EXPECT_FALSE(RunOp("Reshape", {x, I64s({int64_t{1} << 40, int64_t{1} << 40})}).status.ok());
  EXPECT_FALSE(RunOp("Reshape", {x, F32({1}, {6})}).status.ok());
}

TEST(TfArrayKernels, SqueezeAndExpandDims) {
  Tensor x = IotaF({1, 2, 1, 3});
  auto all = RunOp("Squeeze", {x});
  ASSERT_TRUE(all.status.ok());
  EXPECT_EQ(all[0].shape(), (Shape{2, 3}));
  auto some = RunOp("Squeeze", {x}, {{"squeeze_dims", AInts({-2})}});
  ASSERT_TRUE(some.status.ok());
  EXPECT_EQ(some[0].shape(), (Shape{1, 2, 3}));
  auto ax = RunOp("Squeeze", {x}, {{"axis", AInts({0})}});
  ASSERT_TRUE(ax.status.ok());
  EXPECT_EQ(ax[0].shape(), (Shape{2, 1, 3}));
  EXPECT_FALSE(RunOp("Squeeze", {x}, {{"squeeze_dims", AInts({1})}}).status.ok());
  EXPECT_FALSE(RunOp("Squeeze", {x}, {{"squeeze_dims", AInts({4})}}).status.ok());

  Tensor y = IotaF({2, 3});
  struct Case {
    int32_t dim;
    Shape want;
  };
  for (const Case& c : {Case{0, {1, 2, 3}}, Case{2, {2, 3, 1}}, Case{-1, {2, 3, 1}}, Case{-3, {1, 2, 3}}}) {
    auto r = RunOp("ExpandDims", {y, I32Scalar(c.dim)});
    ASSERT_TRUE(r.status.ok()) << c.dim;
    EXPECT_EQ(r[0].shape(), c.want) << c.dim;
  }
  EXPECT_FALSE(RunOp("ExpandDims", {y, I32Scalar(3)}).status.ok());
  EXPECT_FALSE(RunOp("ExpandDims", {y, I32Scalar(-4)}).status.ok());
}

TEST(TfArrayKernels, TransposeAndReverse) {
  auto t = RunOp("Transpose", {Iota64({2, 3, 4}), I32s({2, 0, 1})});
  ASSERT_TRUE(t.status.ok());
  EXPECT_EQ(t[0].shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(Values<int64_t>(t[0]), (std::vector<int64_t>{0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21,
                                                          2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23}));
  auto t2 = RunOp("Transpose", {IotaF({2, 3}), I64s({1, 0})});
  ASSERT_TRUE(t2.status.ok());
  EXPECT_EQ(Values<float>(t2[0]), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  auto ts = RunOp("Transpose", {Str({2}, {"a", "b"}), I32s({0})});
  ASSERT_TRUE(ts.status.ok());
  EXPECT_EQ(ts[0].strings()[1], "b");
  EXPECT_FALSE(RunOp("Transpose", {IotaF({2, 3}), I32s({0, 0})}).status.ok());
  EXPECT_FALSE(RunOp("Transpose", {IotaF({2, 3}), I32s({0})}).status.ok());
  EXPECT_FALSE(RunOp("Transpose", {IotaF({2, 3}), I32s({0, 5})}).status.ok());

  auto rv = RunOp("ReverseV2", {Iota64({2, 3, 4}), I32s({0, -1})});
  ASSERT_TRUE(rv.status.ok());
  EXPECT_EQ(Values<int64_t>(rv[0]), (std::vector<int64_t>{15, 14, 13, 12, 19, 18, 17, 16, 23, 22, 21, 20,
                                                           3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8}));
  auto rv1 = RunOp("Reverse", {IotaF({2, 3}), Bool({2}, {false, true})});
  ASSERT_TRUE(rv1.status.ok());
  EXPECT_EQ(Values<float>(rv1[0]), (std::vector<float>{2, 1, 0, 5, 4, 3}));
  EXPECT_FALSE(RunOp("ReverseV2", {IotaF({2, 3}), I32s({2})}).status.ok());
}

TEST(TfArrayKernels, TransposeOfALargerTensorMatchesIndexing) {
  Tensor x = Iota64({3, 17, 33});
  auto t = RunOp("Transpose", {x, I32s({1, 2, 0})});
  ASSERT_TRUE(t.status.ok());
  ASSERT_EQ(t[0].shape(), (Shape{17, 33, 3}));
  const int64_t* o = t[0].data<int64_t>();
  for (int64_t i = 0; i < 17; ++i) {
    for (int64_t j = 0; j < 33; ++j) {
      for (int64_t k = 0; k < 3; ++k) ASSERT_EQ(o[(i * 33 + j) * 3 + k], (k * 17 + i) * 33 + j);
    }
  }
}

TEST(TfArrayKernels, ConcatPackUnpack) {
  Tensor a = F32({2, 2}, {1, 2, 3, 4});
  Tensor b = F32({2, 1}, {5, 6});
  auto c = RunOp("ConcatV2", {a, b, I32Scalar(1)});
  ASSERT_TRUE(c.status.ok());
  EXPECT_EQ(c[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(c[0]), (std::vector<float>{1, 2, 5, 3, 4, 6}));
  auto cn = RunOp("ConcatV2", {a, b, I64({}, {-1})});
  ASSERT_TRUE(cn.status.ok());
  EXPECT_EQ(Values<float>(cn[0]), (std::vector<float>{1, 2, 5, 3, 4, 6}));
  auto c0 = RunOp("Concat", {I32Scalar(0), a, F32({1, 2}, {7, 8})});
  ASSERT_TRUE(c0.status.ok());
  EXPECT_EQ(Values<float>(c0[0]), (std::vector<float>{1, 2, 3, 4, 7, 8}));
  auto cs = RunOp("ConcatV2", {Str({1}, {"x"}), Str({2}, {"y", "z"}), I32Scalar(0)});
  ASSERT_TRUE(cs.status.ok());
  EXPECT_EQ(cs[0].strings(), (std::vector<std::string>{"x", "y", "z"}));
  auto ce = RunOp("ConcatV2", {F32({0, 2}, {}), a, I32Scalar(0)});
  ASSERT_TRUE(ce.status.ok());
  EXPECT_EQ(ce[0].shape(), (Shape{2, 2}));
  EXPECT_FALSE(RunOp("ConcatV2", {a, b, I32Scalar(0)}).status.ok());
  EXPECT_FALSE(RunOp("ConcatV2", {a, b, I32Scalar(2)}).status.ok());
  EXPECT_FALSE(RunOp("ConcatV2", {a, I32({2, 1}, {1, 2}), I32Scalar(1)}).status.ok());

  Tensor p = F32({2}, {1, 2}), q = F32({2}, {3, 4});
  auto p0 = RunOp("Pack", {p, q});
  ASSERT_TRUE(p0.status.ok());
  EXPECT_EQ(p0[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(p0[0]), (std::vector<float>{1, 2, 3, 4}));
  auto p1 = RunOp("Pack", {p, q}, {{"axis", AInt(1)}});
  ASSERT_TRUE(p1.status.ok());
  EXPECT_EQ(Values<float>(p1[0]), (std::vector<float>{1, 3, 2, 4}));
  auto ps = RunOp("Pack", {I32Scalar(7), I32Scalar(8)});  // TF1 graphs pack scalars into shapes
  ASSERT_TRUE(ps.status.ok());
  EXPECT_EQ(Values<int32_t>(ps[0]), (std::vector<int32_t>{7, 8}));
  EXPECT_FALSE(RunOp("Pack", {p, F32({3}, {1, 2, 3})}).status.ok());
  EXPECT_FALSE(RunOp("Pack", {p, q}, {{"axis", AInt(2)}}).status.ok());

  auto u = RunOp("Unpack", {IotaF({2, 3})}, {{"num", AInt(3)}, {"axis", AInt(1)}});
  ASSERT_TRUE(u.status.ok());
  ASSERT_EQ(u.out.size(), 3u);
  EXPECT_EQ(u[2].shape(), (Shape{2}));
  EXPECT_EQ(Values<float>(u[2]), (std::vector<float>{2, 5}));
  EXPECT_FALSE(RunOp("Unpack", {IotaF({2, 3})}, {{"num", AInt(2)}, {"axis", AInt(1)}}).status.ok());
}

TEST(TfArrayKernels, SplitAndSplitV) {
  auto s = RunOp("Split", {I32Scalar(1), IotaF({2, 4})}, {{"num_split", AInt(2)}});
  ASSERT_TRUE(s.status.ok());
  ASSERT_EQ(s.out.size(), 2u);
  EXPECT_EQ(Values<float>(s[0]), (std::vector<float>{0, 1, 4, 5}));
  EXPECT_EQ(Values<float>(s[1]), (std::vector<float>{2, 3, 6, 7}));
  EXPECT_FALSE(RunOp("Split", {I32Scalar(1), IotaF({2, 4})}, {{"num_split", AInt(3)}}).status.ok());
  EXPECT_FALSE(RunOp("Split", {I32Scalar(1), IotaF({2, 4})}, {{"num_split", AInt(0)}}).status.ok());

  auto v = RunOp("SplitV", {IotaF({2, 4}), I32s({1, -1}), I32Scalar(-1)}, {{"num_split", AInt(2)}});
  ASSERT_TRUE(v.status.ok());
  EXPECT_EQ(v[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<float>(v[1]), (std::vector<float>{1, 2, 3, 5, 6, 7}));
  EXPECT_FALSE(RunOp("SplitV", {IotaF({2, 4}), I32s({3, 3}), I32Scalar(1)}, {{"num_split", AInt(2)}}).status.ok());
  EXPECT_FALSE(RunOp("SplitV", {IotaF({2, 4}), I32s({5, -1}), I32Scalar(1)}, {{"num_split", AInt(2)}}).status.ok());
}

TEST(TfArrayKernels, Slice) {
  auto s = RunOp("Slice", {IotaF({2, 3}), I32s({0, 1}), I32s({2, -1})});
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(s[0]), (std::vector<float>{1, 2, 4, 5}));
  auto e = RunOp("Slice", {IotaF({2, 3}), I64s({1, 3}), I64s({1, 0})});
  ASSERT_TRUE(e.status.ok());
  EXPECT_EQ(e[0].num_elements(), 0);
  EXPECT_FALSE(RunOp("Slice", {IotaF({2, 3}), I32s({1, 1}), I32s({2, 1})}).status.ok());
  EXPECT_FALSE(RunOp("Slice", {IotaF({2, 3}), I32s({-1, 0}), I32s({1, 1})}).status.ok());
  EXPECT_FALSE(RunOp("Slice", {IotaF({2, 3}), I32s({0}), I32s({1})}).status.ok());
}

struct StridedCase {
  const char* python;
  Shape in;
  std::vector<int64_t> begin, end, strides;
  int64_t begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask;
  Shape out_shape;
  std::vector<int64_t> out;
};

// Generated with numpy from the Python slice in the first column.
const StridedCase kStridedCases[] = {
    {"x[0]", {2,3,4}, {0}, {1}, {1}, 0, 0, 0, 0, 1, {3,4}, {0,1,2,3,4,5,6,7,8,9,10,11}},
    {"x[-1]", {2,3,4}, {-1}, {0}, {1}, 0, 0, 0, 0, 1, {3,4}, {12,13,14,15,16,17,18,19,20,21,22,23}},
    {"x[1:]", {2,3,4}, {1}, {0}, {1}, 0, 1, 0, 0, 0, {1,3,4}, {12,13,14,15,16,17,18,19,20,21,22,23}},
    {"x[:,1]", {2,3,4}, {0,1}, {0,2}, {1,1}, 1, 1, 0, 0, 2, {2,4}, {4,5,6,7,16,17,18,19}},
    {"x[...,1]", {2,3,4}, {0,1}, {0,2}, {1,1}, 0, 0, 1, 0, 2, {2,3}, {1,5,9,13,17,21}},
    {"x[::-1]", {2,3,4}, {0}, {0}, {-1}, 1, 1, 0, 0, 0, {2,3,4}, {12,13,14,15,16,17,18,19,20,21,22,23,0,1,2,3,4,5,6,7,8,9,10,11}},
    {"x[:,::-2]", {2,3,4}, {0,0}, {0,0}, {1,-2}, 3, 3, 0, 0, 0, {2,2,4}, {8,9,10,11,0,1,2,3,20,21,22,23,12,13,14,15}},
    {"x[1:0:-1]", {2,3,4}, {1}, {0}, {-1}, 0, 0, 0, 0, 0, {1,3,4}, {12,13,14,15,16,17,18,19,20,21,22,23}},
    {"x[None]", {2,3,4}, {0}, {0}, {1}, 0, 0, 0, 1, 0, {1,2,3,4}, {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23}},
    {"x[:,None,1:]", {2,3,4}, {0,0,1}, {0,0,0}, {1,1,1}, 1, 5, 0, 2, 0, {2,1,2,4}, {4,5,6,7,8,9,10,11,16,17,18,19,20,21,22,23}},
    {"x[...,None]", {2,3,4}, {0,0}, {0,0}, {1,1}, 0, 0, 1, 2, 0, {2,3,4,1}, {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23}},
    {"x[0,...,::-1]", {2,3,4}, {0,0,0}, {1,0,0}, {1,1,-1}, 4, 4, 2, 0, 1, {3,4}, {3,2,1,0,7,6,5,4,11,10,9,8}},
    {"x[-100:100]", {2,3,4}, {-100}, {100}, {1}, 0, 0, 0, 0, 0, {2,3,4}, {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23}},
    {"x[:,::5]", {2,3,4}, {0,0}, {0,0}, {1,5}, 3, 3, 0, 0, 0, {2,1,4}, {0,1,2,3,12,13,14,15}},
    {"x[:,3:1]", {2,3,4}, {0,3}, {0,1}, {1,1}, 1, 1, 0, 0, 0, {2,0,4}, {}},
    {"x[:,-1:-4:-1]", {2,3,4}, {0,-1}, {0,-4}, {1,-1}, 1, 1, 0, 0, 0, {2,3,4}, {8,9,10,11,4,5,6,7,0,1,2,3,20,21,22,23,16,17,18,19,12,13,14,15}},
    {"x[1,2,3]", {2,3,4}, {1,2,3}, {2,3,4}, {1,1,1}, 0, 0, 0, 0, 7, {}, {23}},
    {"x[...,0,:]", {2,3,4}, {0,0,0}, {0,1,0}, {1,1,1}, 4, 4, 1, 0, 2, {2,4}, {0,1,2,3,12,13,14,15}},
    {"x[None,...,None,0]", {2,3,4}, {0,0,0,0}, {0,0,0,1}, {1,1,1,1}, 0, 0, 2, 5, 8, {1,2,3,1}, {0,4,8,12,16,20}},
    {"x[:,:,-2:]", {2,3,4}, {0,0,-2}, {0,0,0}, {1,1,1}, 3, 7, 0, 0, 0, {2,3,2}, {2,3,6,7,10,11,14,15,18,19,22,23}},
    {"x[1,None,:,None,::3]", {2,3,4}, {1,0,0,0,0}, {2,0,0,0,0}, {1,1,1,1,3}, 20, 20, 0, 10, 1, {1,3,1,2}, {12,15,16,19,20,23}},
    {"x[...,::-3]", {2,3,4}, {0,0}, {0,0}, {1,-3}, 2, 2, 1, 0, 0, {2,3,2}, {3,0,7,4,11,8,15,12,19,16,23,20}},
    {"x[:,1:2,...]", {2,3,4}, {0,1,0}, {0,2,0}, {1,1,1}, 1, 1, 4, 0, 0, {2,1,4}, {4,5,6,7,16,17,18,19}},
    {"y[::-1]", {7}, {0}, {0}, {-1}, 1, 1, 0, 0, 0, {7}, {6,5,4,3,2,1,0}},
    {"y[5:1:-2]", {7}, {5}, {1}, {-2}, 0, 0, 0, 0, 0, {2}, {5,3}},
    {"y[-2:]", {7}, {-2}, {0}, {1}, 0, 1, 0, 0, 0, {2}, {5,6}},
    {"y[:-2]", {7}, {0}, {-2}, {1}, 1, 0, 0, 0, 0, {5}, {0,1,2,3,4}},
    {"y[10:]", {7}, {10}, {0}, {1}, 0, 1, 0, 0, 0, {0}, {}},
    {"y[::10**18]", {7}, {0}, {0}, {1000000000000000000}, 1, 1, 0, 0, 0, {1}, {0}},
    {"y[::-10**18]", {7}, {0}, {0}, {-1000000000000000000}, 1, 1, 0, 0, 0, {1}, {6}},
    {"y[-(2**63-1):2**63-1]", {7}, {-9223372036854775807}, {9223372036854775807}, {1}, 0, 0, 0, 0, 0, {7}, {0,1,2,3,4,5,6}},
    {"y[6:-8:-1]", {7}, {6}, {-8}, {-1}, 0, 0, 0, 0, 0, {7}, {6,5,4,3,2,1,0}},
    {"y[3]", {7}, {3}, {4}, {1}, 0, 0, 0, 0, 1, {}, {3}},
    {"y[-7]", {7}, {-7}, {-6}, {1}, 0, 0, 0, 0, 1, {}, {0}},
    {"s[...]", {}, {0}, {0}, {1}, 0, 0, 1, 0, 0, {}, {0}},
    {"s[None]", {}, {0}, {0}, {1}, 0, 0, 0, 1, 0, {1}, {0}},
};

AttrMap SliceAttrs(int64_t b, int64_t e, int64_t el, int64_t na, int64_t sh) {
  return {{"begin_mask", AInt(b)}, {"end_mask", AInt(e)}, {"ellipsis_mask", AInt(el)},
          {"new_axis_mask", AInt(na)}, {"shrink_axis_mask", AInt(sh)}};
}

TEST(TfArrayKernels, StridedSliceMatchesNumpy) {
  for (const StridedCase& c : kStridedCases) {
    auto r = RunOp("StridedSlice", {Iota64(c.in), I64s(c.begin), I64s(c.end), I64s(c.strides)},
                   SliceAttrs(c.begin_mask, c.end_mask, c.ellipsis_mask, c.new_axis_mask, c.shrink_axis_mask));
    ASSERT_TRUE(r.status.ok()) << c.python << ": " << r.status.message();
    EXPECT_EQ(r[0].shape(), c.out_shape) << c.python;
    EXPECT_EQ(Values<int64_t>(r[0]), c.out) << c.python;
  }
}

// A TF1 graph reading x[0] of a [N,1] input: int32 begin/end/strides, masks absent except shrink_axis_mask.
TEST(TfArrayKernels, StridedSliceShrinkAsInTf1Graphs) {
  auto r = RunOp("StridedSlice", {F32({3, 1}, {1.5f, 2.5f, 3.5f}), I32s({0}), I32s({1}), I32s({1})},
                 {{"shrink_axis_mask", AInt(1)}, {"Index", AType(DType::kInt32)}, {"T", AType(DType::kFloat)}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r[0].shape(), (Shape{1}));
  EXPECT_EQ(Values<float>(r[0]), std::vector<float>{1.5f});
  // Shape(x)[0], the usual way a graph reads its batch size.
  auto b = RunOp("StridedSlice", {I32s({7, 3}), I32s({0}), I32s({1}), I32s({1})}, {{"shrink_axis_mask", AInt(1)}});
  ASSERT_TRUE(b.status.ok());
  EXPECT_EQ(b[0].rank(), 0);
  EXPECT_EQ(Values<int32_t>(b[0]), std::vector<int32_t>{7});
}

TEST(TfArrayKernels, StridedSliceRefusesBadSpecs) {
  Tensor x = Iota64({2, 3});
  auto run = [&](std::vector<int64_t> b, std::vector<int64_t> e, std::vector<int64_t> s, AttrMap a = {}) {
    return RunOp("StridedSlice", {x, I64s(b), I64s(e), I64s(s)}, std::move(a)).status.ok();
  };
  EXPECT_FALSE(run({0}, {1}, {0}));                                         // zero stride
  EXPECT_FALSE(run({2}, {3}, {1}, {{"shrink_axis_mask", AInt(1)}}));        // index out of range
  EXPECT_FALSE(run({-3}, {-2}, {1}, {{"shrink_axis_mask", AInt(1)}}));
  EXPECT_FALSE(run({0}, {1}, {-1}, {{"shrink_axis_mask", AInt(1)}}));       // index with a negative stride
  EXPECT_FALSE(run({0, 0, 0}, {1, 1, 1}, {1, 1, 1}));                       // more dims than the input
  EXPECT_FALSE(run({0, 0}, {1, 1}, {1}));                                   // length mismatch
  EXPECT_FALSE(run({0, 0}, {1, 1}, {1, 1}, {{"ellipsis_mask", AInt(3)}}));  // two ellipses
  EXPECT_FALSE(run({0}, {1}, {1}, {{"begin_mask", AInt(-1)}}));
  EXPECT_FALSE(run({std::numeric_limits<int64_t>::min()}, {0}, {1}, {{"shrink_axis_mask", AInt(1)}}));
  // Huge strides and bounds clamp instead of overflowing.
  EXPECT_TRUE(run({std::numeric_limits<int64_t>::min()}, {std::numeric_limits<int64_t>::max()},
                  {std::numeric_limits<int64_t>::max()}));
  EXPECT_TRUE(run({std::numeric_limits<int64_t>::max()}, {std::numeric_limits<int64_t>::min()},
                  {std::numeric_limits<int64_t>::min()}));
}

TEST(TfArrayKernels, GatherFamily) {
  Tensor x = Iota64({2, 3, 4});
  auto g = RunOp("GatherV2", {x, I32s({2, 0, 2}), I32Scalar(1)});
  ASSERT_TRUE(g.status.ok());
  EXPECT_EQ(g[0].shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(Values<int64_t>(g[0]), (std::vector<int64_t>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11,
                                                          20, 21, 22, 23, 12, 13, 14, 15, 20, 21, 22, 23}));
  auto g2 = RunOp("GatherV2", {F32({3}, {10, 20, 30}), I64({2, 2}, {2, 1, 0, 2}), I32Scalar(0)});
  ASSERT_TRUE(g2.status.ok());
  EXPECT_EQ(g2[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(g2[0]), (std::vector<float>{30, 20, 10, 30}));
  auto gs = RunOp("GatherV2", {F32({3}, {10, 20, 30}), I32Scalar(1), I32Scalar(-1)});
  ASSERT_TRUE(gs.status.ok());
  EXPECT_EQ(gs[0].rank(), 0);
  auto g1 = RunOp("Gather", {Str({2}, {"a", "b"}), I32s({1, 1, 0})});
  ASSERT_TRUE(g1.status.ok());
  EXPECT_EQ(g1[0].strings(), (std::vector<std::string>{"b", "b", "a"}));
  EXPECT_FALSE(RunOp("GatherV2", {x, I32s({3}), I32Scalar(1)}).status.ok());
  EXPECT_FALSE(RunOp("GatherV2", {x, I32s({-1}), I32Scalar(1)}).status.ok());
  EXPECT_FALSE(RunOp("GatherV2", {x, I32s({0}), I32Scalar(3)}).status.ok());
  EXPECT_FALSE(RunOp("GatherV2", {x, F32({1}, {0}), I32Scalar(0)}).status.ok());
  EXPECT_FALSE(RunOp("GatherV2", {x, I32s({0}), I32Scalar(0)}, {{"batch_dims", AInt(1)}}).status.ok());

  auto nd = RunOp("GatherNd", {x, I32({2, 2}, {1, 2, 0, 1})});
  ASSERT_TRUE(nd.status.ok());
  EXPECT_EQ(nd[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(Values<int64_t>(nd[0]), (std::vector<int64_t>{20, 21, 22, 23, 4, 5, 6, 7}));
  auto nd3 = RunOp("GatherNd", {x, I64({1, 3}, {1, 0, 3})});
  ASSERT_TRUE(nd3.status.ok());
  EXPECT_EQ(Values<int64_t>(nd3[0]), std::vector<int64_t>{15});
  EXPECT_FALSE(RunOp("GatherNd", {x, I32({1, 2}, {2, 0})}).status.ok());
  EXPECT_FALSE(RunOp("GatherNd", {x, I32({1, 4}, {0, 0, 0, 0})}).status.ok());
}

TEST(TfArrayKernels, CastFollowsTensorFlow) {
  auto f2i = RunOp("Cast", {F32({5}, {-1.7f, 2.9f, 0.5f, -0.5f, 3.0f})}, {{"DstT", AType(DType::kInt32)}});
  ASSERT_TRUE(f2i.status.ok());
  EXPECT_EQ(Values<int32_t>(f2i[0]), (std::vector<int32_t>{-1, 2, 0, 0, 3}));
  auto f2b = RunOp("Cast", {F32({3}, {0.0f, -2.0f, 0.1f})}, {{"DstT", AType(DType::kBool)}, {"Truncate", ABool(false)}});
  ASSERT_TRUE(f2b.status.ok());
  EXPECT_EQ(BoolValues(f2b[0]), (std::vector<bool>{false, true, true}));
  auto b2f = RunOp("Cast", {Bool({2}, {true, false})}, {{"DstT", AType(DType::kFloat)}});
  ASSERT_TRUE(b2f.status.ok());
  EXPECT_EQ(Values<float>(b2f[0]), (std::vector<float>{1, 0}));
  auto u2i = RunOp("Cast", {U8({3}, {3, 200, 255})}, {{"DstT", AType(DType::kInt32)}});  // tfjs uint8_multiply
  ASSERT_TRUE(u2i.status.ok());
  EXPECT_EQ(Values<int32_t>(u2i[0]), (std::vector<int32_t>{3, 200, 255}));
  auto i2u = RunOp("Cast", {I32({2}, {257, -1})}, {{"DstT", AType(DType::kUint8)}});
  ASSERT_TRUE(i2u.status.ok());
  EXPECT_EQ(Values<uint8_t>(i2u[0]), (std::vector<uint8_t>{1, 255}));
  auto l2i = RunOp("Cast", {I64({1}, {(int64_t{1} << 32) + 5})}, {{"DstT", AType(DType::kInt32)}});
  ASSERT_TRUE(l2i.status.ok());
  EXPECT_EQ(Values<int32_t>(l2i[0]), std::vector<int32_t>{5});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto bad = RunOp("Cast", {F32({3}, {nan, 1e20f, -1e20f})}, {{"DstT", AType(DType::kInt32)}});
  ASSERT_TRUE(bad.status.ok());
  EXPECT_EQ(Values<int32_t>(bad[0]), std::vector<int32_t>(3, std::numeric_limits<int32_t>::min()));
  auto d2f = RunOp("Cast", {F64({2}, {1e300, 0.25})}, {{"DstT", AType(DType::kFloat)}});
  ASSERT_TRUE(d2f.status.ok());
  EXPECT_TRUE(std::isinf(Values<float>(d2f[0])[0]));
  EXPECT_EQ(Values<float>(d2f[0])[1], 0.25f);
  auto i2f = RunOp("Cast", {I64({1}, {-3})}, {{"DstT", AType(DType::kDouble)}});
  ASSERT_TRUE(i2f.status.ok());
  EXPECT_EQ(Values<double>(i2f[0]), std::vector<double>{-3.0});
  EXPECT_FALSE(RunOp("Cast", {F32({1}, {1})}).status.ok());
  EXPECT_FALSE(RunOp("Cast", {Str({1}, {"1"})}, {{"DstT", AType(DType::kInt32)}}).status.ok());
  EXPECT_FALSE(RunOp("Cast", {F32({1}, {1})}, {{"DstT", AType(DType::kComplex64)}}).status.ok());
}

TEST(TfArrayKernels, FillZerosOnesRange) {
  auto f = RunOp("Fill", {I32s({2, 2}), F32({}, {1.5f})});
  ASSERT_TRUE(f.status.ok());
  EXPECT_EQ(Values<float>(f[0]), std::vector<float>(4, 1.5f));
  auto fs = RunOp("Fill", {I64s({2}), Str({}, {"ab"})});
  ASSERT_TRUE(fs.status.ok());
  EXPECT_EQ(fs[0].strings(), (std::vector<std::string>{"ab", "ab"}));
  EXPECT_FALSE(RunOp("Fill", {I32s({2, -1}), F32({}, {1})}).status.ok());
  EXPECT_FALSE(RunOp("Fill", {I64s({1 << 20, 1 << 20, 4}), F32({}, {1})}).status.ok());
  EXPECT_FALSE(RunOp("Fill", {I32s({2}), F32({2}, {1, 2})}).status.ok());

  auto z = RunOp("ZerosLike", {I32({2}, {5, 6})});
  ASSERT_TRUE(z.status.ok());
  EXPECT_EQ(Values<int32_t>(z[0]), (std::vector<int32_t>{0, 0}));
  auto o = RunOp("OnesLike", {Bool({2}, {false, false})});
  ASSERT_TRUE(o.status.ok());
  EXPECT_EQ(BoolValues(o[0]), (std::vector<bool>{true, true}));
  auto of = RunOp("OnesLike", {F32({1}, {7})});
  ASSERT_TRUE(of.status.ok());
  EXPECT_EQ(Values<float>(of[0]), std::vector<float>{1});

  auto r = RunOp("Range", {I32Scalar(3), I32Scalar(10), I32Scalar(3)});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(Values<int32_t>(r[0]), (std::vector<int32_t>{3, 6, 9}));
  auto rn = RunOp("Range", {I64({}, {5}), I64({}, {-1}), I64({}, {-2})});
  ASSERT_TRUE(rn.status.ok());
  EXPECT_EQ(Values<int64_t>(rn[0]), (std::vector<int64_t>{5, 3, 1}));
  auto rf = RunOp("Range", {F32({}, {0}), F32({}, {1}), F32({}, {0.25f})});
  ASSERT_TRUE(rf.status.ok());
  EXPECT_EQ(Values<float>(rf[0]), (std::vector<float>{0, 0.25f, 0.5f, 0.75f}));
  auto re = RunOp("Range", {I32Scalar(4), I32Scalar(4), I32Scalar(1)});
  ASSERT_TRUE(re.status.ok());
  EXPECT_EQ(re[0].num_elements(), 0);
  EXPECT_FALSE(RunOp("Range", {I32Scalar(0), I32Scalar(5), I32Scalar(0)}).status.ok());
  EXPECT_FALSE(RunOp("Range", {I32Scalar(5), I32Scalar(0), I32Scalar(1)}).status.ok());
  EXPECT_FALSE(RunOp("Range", {I64({}, {std::numeric_limits<int64_t>::min()}), I64({}, {std::numeric_limits<int64_t>::max()}),
                               I64({}, {1})}).status.ok());
  EXPECT_FALSE(RunOp("Range", {F32({}, {0}), F32({}, {1e30f}), F32({}, {1})}).status.ok());
  EXPECT_FALSE(RunOp("Range", {F32({}, {0}), F32({}, {std::numeric_limits<float>::infinity()}), F32({}, {1})}).status.ok());
  EXPECT_FALSE(RunOp("Range", {I32Scalar(0), I64({}, {5}), I32Scalar(1)}).status.ok());
}

TEST(TfArrayKernels, PadMirrorPadTile) {
  Tensor y = IotaF({2, 3});
  auto p = RunOp("PadV2", {y, I32({2, 2}, {1, 0, 0, 2}), F32({}, {9})});
  ASSERT_TRUE(p.status.ok());
  EXPECT_EQ(p[0].shape(), (Shape{3, 5}));
  EXPECT_EQ(Values<float>(p[0]), (std::vector<float>{9, 9, 9, 9, 9, 0, 1, 2, 9, 9, 3, 4, 5, 9, 9}));
  auto p0 = RunOp("Pad", {y, I64({2, 2}, {0, 0, 1, 1})});
  ASSERT_TRUE(p0.status.ok());
  EXPECT_EQ(Values<float>(p0[0]), (std::vector<float>{0, 0, 1, 2, 0, 0, 3, 4, 5, 0}));
  EXPECT_FALSE(RunOp("Pad", {y, I32({2, 2}, {0, -1, 0, 0})}).status.ok());
  EXPECT_FALSE(RunOp("Pad", {y, I32({1, 2}, {0, 0})}).status.ok());
  EXPECT_FALSE(RunOp("PadV2", {y, I32({2, 2}, {0, 0, 0, 0}), I32Scalar(1)}).status.ok());

  auto rf = RunOp("MirrorPad", {Iota64({2, 3}), I32({2, 2}, {1, 1, 2, 1})}, {{"mode", AStr("REFLECT")}});
  ASSERT_TRUE(rf.status.ok());
  EXPECT_EQ(rf[0].shape(), (Shape{4, 6}));
  EXPECT_EQ(Values<int64_t>(rf[0]), (std::vector<int64_t>{5, 4, 3, 4, 5, 4, 2, 1, 0, 1, 2, 1,
                                                           5, 4, 3, 4, 5, 4, 2, 1, 0, 1, 2, 1}));
  auto sy = RunOp("MirrorPad", {Iota64({2, 3}), I32({2, 2}, {1, 0, 3, 2})}, {{"mode", AStr("SYMMETRIC")}});
  ASSERT_TRUE(sy.status.ok());
  EXPECT_EQ(Values<int64_t>(sy[0]), (std::vector<int64_t>{2, 1, 0, 0, 1, 2, 2, 1, 2, 1, 0, 0, 1, 2, 2, 1,
                                                           5, 4, 3, 3, 4, 5, 5, 4}));
  EXPECT_FALSE(RunOp("MirrorPad", {Iota64({2, 3}), I32({2, 2}, {0, 0, 3, 0})}, {{"mode", AStr("REFLECT")}}).status.ok());

  auto t = RunOp("Tile", {Iota64({2, 3}), I32s({2, 2})});
  ASSERT_TRUE(t.status.ok());
  EXPECT_EQ(t[0].shape(), (Shape{4, 6}));
  EXPECT_EQ(Values<int64_t>(t[0]), (std::vector<int64_t>{0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5,
                                                          0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}));
  auto t0 = RunOp("Tile", {IotaF({2}), I32s({0})});
  ASSERT_TRUE(t0.status.ok());
  EXPECT_EQ(t0[0].num_elements(), 0);
  EXPECT_FALSE(RunOp("Tile", {IotaF({2, 3}), I64s({1 << 20, 1 << 20})}).status.ok());
  EXPECT_FALSE(RunOp("Tile", {IotaF({2}), I64s({std::numeric_limits<int64_t>::max()})}).status.ok());
  EXPECT_FALSE(RunOp("Tile", {IotaF({2}), I32s({-1})}).status.ok());
  EXPECT_FALSE(RunOp("Tile", {IotaF({2}), I32s({1, 1})}).status.ok());
}

TEST(TfArrayKernels, BroadcastToWhereSelect) {
  auto b = RunOp("BroadcastTo", {F32({3, 1}, {1, 2, 3}), I32s({2, 3, 2})});
  ASSERT_TRUE(b.status.ok());
  EXPECT_EQ(Values<float>(b[0]), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  EXPECT_FALSE(RunOp("BroadcastTo", {F32({3}, {1, 2, 3}), I32s({2, 2})}).status.ok());
  EXPECT_FALSE(RunOp("BroadcastTo", {F32({3}, {1, 2, 3}), I32s({-3})}).status.ok());

  auto w = RunOp("Where", {Bool({2, 2}, {true, false, false, true})});
  ASSERT_TRUE(w.status.ok());
  EXPECT_EQ(w[0].dtype(), DType::kInt64);
  EXPECT_EQ(w[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<int64_t>(w[0]), (std::vector<int64_t>{0, 0, 1, 1}));
  auto wf = RunOp("Where", {F32({4}, {0, 2, 0, -1})});
  ASSERT_TRUE(wf.status.ok());
  EXPECT_EQ(wf[0].shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<int64_t>(wf[0]), (std::vector<int64_t>{1, 3}));

  // TF1 Select with a vector condition over the first dimension.
  auto s = RunOp("Select", {Bool({2}, {true, false}), F32({2, 2}, {1, 2, 3, 4}), F32({2, 2}, {5, 6, 7, 8})});
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(Values<float>(s[0]), (std::vector<float>{1, 2, 7, 8}));
  auto se = RunOp("Select", {Bool({2, 2}, {true, false, false, true}), I32({2, 2}, {1, 2, 3, 4}), I32({2, 2}, {5, 6, 7, 8})});
  ASSERT_TRUE(se.status.ok());
  EXPECT_EQ(Values<int32_t>(se[0]), (std::vector<int32_t>{1, 6, 7, 4}));
  EXPECT_FALSE(RunOp("Select", {Bool({3}, {true, false, true}), F32({2, 2}, {1, 2, 3, 4}), F32({2, 2}, {5, 6, 7, 8})}).status.ok());
  auto s2 = RunOp("SelectV2", {Bool({1, 2}, {true, false}), F32({2, 1}, {1, 2}), F32({}, {0})});
  ASSERT_TRUE(s2.status.ok());
  EXPECT_EQ(s2[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(s2[0]), (std::vector<float>{1, 0, 2, 0}));
  EXPECT_FALSE(RunOp("SelectV2", {F32({1}, {1}), F32({1}, {1}), F32({1}, {0})}).status.ok());
  EXPECT_FALSE(RunOp("SelectV2", {Bool({3}, {true, true, true}), F32({2}, {1, 2}), F32({}, {0})}).status.ok());
}

TEST(TfArrayKernels, OneHot) {
  auto o = RunOp("OneHot", {I32s({0, 2, -1}), I32Scalar(3), F32({}, {1}), F32({}, {0})});
  ASSERT_TRUE(o.status.ok());
  EXPECT_EQ(o[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(Values<float>(o[0]), (std::vector<float>{1, 0, 0, 0, 0, 1, 0, 0, 0}));
  auto o0 = RunOp("OneHot", {I64s({1, 0}), I32Scalar(2), I32Scalar(5), I32Scalar(-1)}, {{"axis", AInt(0)}});
  ASSERT_TRUE(o0.status.ok());
  EXPECT_EQ(Values<int32_t>(o0[0]), (std::vector<int32_t>{-1, 5, 5, -1}));
  EXPECT_FALSE(RunOp("OneHot", {I32s({0}), I32Scalar(-1), F32({}, {1}), F32({}, {0})}).status.ok());
  EXPECT_FALSE(RunOp("OneHot", {I32s({0}), I32Scalar(3), F32({}, {1}), I32Scalar(0)}).status.ok());
}

TEST(TfArrayKernels, BroadcastArgsAndGradientArgs) {
  auto a = RunOp("BroadcastArgs", {I32s({2, 3, 1}), I32s({3, 4})});
  ASSERT_TRUE(a.status.ok());
  EXPECT_EQ(Values<int32_t>(a[0]), (std::vector<int32_t>{2, 3, 4}));
  EXPECT_FALSE(RunOp("BroadcastArgs", {I32s({2}), I32s({3})}).status.ok());
  auto g = RunOp("BroadcastGradientArgs", {I32s({2, 3, 1}), I32s({3, 4})});
  ASSERT_TRUE(g.status.ok());
  ASSERT_EQ(g.out.size(), 2u);
  EXPECT_EQ(Values<int32_t>(g[0]), std::vector<int32_t>{2});
  EXPECT_EQ(Values<int32_t>(g[1]), std::vector<int32_t>{0});
  // The regression model's case: a scalar against a vector reduces the scalar over all dims.
  auto gs = RunOp("BroadcastGradientArgs", {I64s({}), I64s({5})});
  ASSERT_TRUE(gs.status.ok());
  EXPECT_EQ(Values<int64_t>(gs[0]), std::vector<int64_t>{0});
  EXPECT_EQ(gs[1].num_elements(), 0);
  // Equal shapes: nothing to reduce, even along dims of size 1.
  auto g1 = RunOp("BroadcastGradientArgs", {I32s({2, 1}), I32s({2, 1})});
  ASSERT_TRUE(g1.status.ok());
  EXPECT_EQ(g1[0].num_elements(), 0);
  EXPECT_EQ(g1[1].num_elements(), 0);
  // Unequal shapes: a dim of 1 in every operand is reduced in all of them.
  auto g2 = RunOp("BroadcastGradientArgs", {I32s({1, 2}), I32s({1})});
  ASSERT_TRUE(g2.status.ok());
  EXPECT_EQ(Values<int32_t>(g2[0]), std::vector<int32_t>{0});
  EXPECT_EQ(Values<int32_t>(g2[1]), (std::vector<int32_t>{0, 1}));
  EXPECT_FALSE(RunOp("BroadcastGradientArgs", {I32s({2}), I32s({3})}).status.ok());
}

TEST(TfArrayKernels, RegistryHasTheArrayOps) {
  KernelRegistry r;
  RegisterArrayKernels(r);
  for (const char* op : {"Identity", "IdentityN", "StopGradient", "Snapshot", "Reshape", "Squeeze", "ExpandDims",
                         "Transpose", "ConcatV2", "Concat", "Pack", "Unpack", "Slice", "StridedSlice", "GatherV2",
                         "Gather", "GatherNd", "Cast", "Shape", "Size", "Rank", "Fill", "ZerosLike", "OnesLike", "Pad",
                         "PadV2", "MirrorPad", "Tile", "Range", "BroadcastTo", "Where", "Select", "SelectV2", "Split",
                         "SplitV", "OneHot", "Reverse", "ReverseV2", "BroadcastArgs", "BroadcastGradientArgs",
                         "ShapeN"}) {
    const KernelDef* k = r.Find(op);
    ASSERT_NE(k, nullptr) << op;
    EXPECT_FALSE(k->stateful) << op;
  }
}

}  // namespace
}  // namespace inferd::tf
