// The math kernels (src/tf/kernels_math.cc), called directly. Expected values were computed by hand or with
// numpy / Python's math module and are carried here as literals.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>

#include "tf/tf_kernel_testing.h"

namespace inferd::tf {
namespace {

using namespace inferd::tf::testing;  // NOLINT

constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();
const float kInf = std::numeric_limits<float>::infinity();

Tensor IotaF(Shape s, float scale = 1.0f, float offset = 0.0f) {
  auto n = NumElements(s);
  std::vector<float> v(static_cast<size_t>(*n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = (static_cast<float>(i) + offset) * scale;
  return F32(std::move(s), v);
}
Tensor IotaI(Shape s) {
  auto n = NumElements(s);
  std::vector<int32_t> v(static_cast<size_t>(*n));
  std::iota(v.begin(), v.end(), 0);
  return I32(std::move(s), v);
}

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want, float tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

TEST(TfMathKernels, BroadcastingShapes) {
  auto r = RunOp("AddV2", {IotaF({2, 1, 3}), IotaF({4, 1}, 10.0f)});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(r[0].shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(Values<float>(r[0]), (std::vector<float>{0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32,
                                                      3, 4, 5, 13, 14, 15, 23, 24, 25, 33, 34, 35}));
  auto s = RunOp("Sub", {F32({}, {10}), F32({3}, {1, 2, 3})});  // scalar - vector
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(Values<float>(s[0]), (std::vector<float>{9, 8, 7}));
  auto s2 = RunOp("Sub", {F32({3}, {1, 2, 3}), F32({1}, {1})});  // vector - one-element vector
  ASSERT_TRUE(s2.status.ok());
  EXPECT_EQ(s2[0].shape(), (Shape{3}));
  EXPECT_EQ(Values<float>(s2[0]), (std::vector<float>{0, 1, 2}));
  auto outer = RunOp("Mul", {F32({2, 1}, {1, 2}), F32({1, 3}, {1, 10, 100})});
  ASSERT_TRUE(outer.status.ok());
  EXPECT_EQ(Values<float>(outer[0]), (std::vector<float>{1, 10, 100, 2, 20, 200}));
  auto empty = RunOp("Add", {F32({0, 3}, {}), F32({3}, {1, 2, 3})});
  ASSERT_TRUE(empty.status.ok());
  EXPECT_EQ(empty[0].shape(), (Shape{0, 3}));
  auto ones = RunOp("Add", {F32({1, 1}, {1}), F32({1}, {2})});
  ASSERT_TRUE(ones.status.ok());
  EXPECT_EQ(ones[0].shape(), (Shape{1, 1}));
  EXPECT_EQ(Values<float>(ones[0]), std::vector<float>{3});
  // A middle broadcast dim: [2,3,2] * [2,1,2].
  auto mid = RunOp("Mul", {IotaF({2, 3, 2}), F32({2, 1, 2}, {1, -1, 2, -2})});
  ASSERT_TRUE(mid.status.ok());
  EXPECT_EQ(Values<float>(mid[0]), (std::vector<float>{0, -1, 2, -3, 4, -5, 12, -14, 16, -18, 20, -22}));
  EXPECT_FALSE(RunOp("Add", {F32({2, 3}, {1, 2, 3, 4, 5, 6}), F32({2}, {1, 2})}).status.ok());
  EXPECT_FALSE(RunOp("Add", {F32({1}, {1}), I32({1}, {1})}).status.ok());
  EXPECT_FALSE(RunOp("Add", {F32({1}, {1})}).status.ok());
}

TEST(TfMathKernels, LargeBroadcastAddMatchesScalarLoop) {
  // 32x1024 + 1024 takes the broadcast plan; every element checked.
  Tensor a = IotaF({32, 1024}, 0.5f);
  Tensor b = IotaF({1024}, -1.0f);
  auto r = RunOp("AddV2", {a, b});
  ASSERT_TRUE(r.status.ok());
  const float* o = r[0].data<float>();
  for (int i = 0; i < 32; ++i) {
    for (int j = 0; j < 1024; ++j) ASSERT_EQ(o[i * 1024 + j], (i * 1024 + j) * 0.5f - j) << i << "," << j;
  }
}

TEST(TfMathKernels, IntegerDivisionFollowsTensorFlow) {
  Tensor a = I32({5}, {7, -7, 7, -7, kI32Min});
  Tensor b = I32({5}, {2, 2, -2, -2, -1});
  auto fd = RunOp("FloorDiv", {a, b});
  ASSERT_TRUE(fd.status.ok());
  EXPECT_EQ(Values<int32_t>(fd[0]), (std::vector<int32_t>{3, -4, -4, 3, kI32Min}));
  auto fm = RunOp("FloorMod", {a, b});
  ASSERT_TRUE(fm.status.ok());
  EXPECT_EQ(Values<int32_t>(fm[0]), (std::vector<int32_t>{1, 1, -1, -1, 0}));
  auto d = RunOp("Div", {a, b});
  ASSERT_TRUE(d.status.ok());
  EXPECT_EQ(Values<int32_t>(d[0]), (std::vector<int32_t>{3, -3, -3, 3, kI32Min}));
  auto m = RunOp("Mod", {a, b});
  ASSERT_TRUE(m.status.ok());
  EXPECT_EQ(Values<int32_t>(m[0]), (std::vector<int32_t>{1, -1, 1, -1, 0}));
  auto fd64 = RunOp("FloorDiv", {I64({2}, {-1, 1}), I64({}, {3})});
  ASSERT_TRUE(fd64.status.ok());
  EXPECT_EQ(Values<int64_t>(fd64[0]), (std::vector<int64_t>{-1, 0}));
  EXPECT_FALSE(RunOp("FloorDiv", {a, I32({}, {0})}).status.ok());
  EXPECT_FALSE(RunOp("FloorMod", {a, I32({5}, {1, 1, 0, 1, 1})}).status.ok());
  EXPECT_FALSE(RunOp("Div", {I64({1}, {1}), I64({1}, {0})}).status.ok());
  EXPECT_FALSE(RunOp("RealDiv", {I32({1}, {1}), I32({1}, {1})}).status.ok());

  auto ffd = RunOp("FloorDiv", {F32({4}, {7, -7, 7, -7}), F32({4}, {2, 2, -2, -2})});
  ASSERT_TRUE(ffd.status.ok());
  EXPECT_EQ(Values<float>(ffd[0]), (std::vector<float>{3, -4, -4, 3}));
  auto ffm = RunOp("FloorMod", {F32({4}, {7.5f, -7.5f, 7.5f, -7.5f}), F32({4}, {2, 2, -2, -2})});
  ASSERT_TRUE(ffm.status.ok());
  EXPECT_EQ(Values<float>(ffm[0]), (std::vector<float>{1.5f, 0.5f, -0.5f, -1.5f}));
  auto rd = RunOp("RealDiv", {F32({3}, {1, -1, 0}), F32({}, {0})});
  ASSERT_TRUE(rd.status.ok());
  EXPECT_EQ(Values<float>(rd[0])[0], kInf);
  EXPECT_EQ(Values<float>(rd[0])[1], -kInf);
  EXPECT_TRUE(std::isnan(Values<float>(rd[0])[2]));
  auto dnn = RunOp("DivNoNan", {F32({2}, {1, 6}), F32({2}, {0, 3})});
  ASSERT_TRUE(dnn.status.ok());
  EXPECT_EQ(Values<float>(dnn[0]), (std::vector<float>{0, 2}));
}

TEST(TfMathKernels, IntegerArithmeticWraps) {
  auto add = RunOp("Add", {I32({2}, {kI32Max, 5}), I32({}, {1})});
  ASSERT_TRUE(add.status.ok());
  EXPECT_EQ(Values<int32_t>(add[0]), (std::vector<int32_t>{kI32Min, 6}));
  auto mul = RunOp("Mul", {I32({1}, {65536}), I32({1}, {65536})});
  ASSERT_TRUE(mul.status.ok());
  EXPECT_EQ(Values<int32_t>(mul[0]), std::vector<int32_t>{0});
  auto neg = RunOp("Neg", {I32({2}, {kI32Min, 3})});
  ASSERT_TRUE(neg.status.ok());
  EXPECT_EQ(Values<int32_t>(neg[0]), (std::vector<int32_t>{kI32Min, -3}));
  auto pw = RunOp("Pow", {I32({3}, {2, 3, -2}), I32({3}, {10, 0, 3})});
  ASSERT_TRUE(pw.status.ok());
  EXPECT_EQ(Values<int32_t>(pw[0]), (std::vector<int32_t>{1024, 1, -8}));
  EXPECT_FALSE(RunOp("Pow", {I32({1}, {2}), I32({1}, {-1})}).status.ok());
  auto pf = RunOp("Pow", {F32({2}, {2, 4}), F32({2}, {-1, 0.5f})});
  ASSERT_TRUE(pf.status.ok());
  EXPECT_EQ(Values<float>(pf[0]), (std::vector<float>{0.5f, 2}));
  auto sq = RunOp("SquaredDifference", {I64({2}, {1, -4}), I64({2}, {4, 1})});
  ASSERT_TRUE(sq.status.ok());
  EXPECT_EQ(Values<int64_t>(sq[0]), (std::vector<int64_t>{9, 25}));
}

TEST(TfMathKernels, MaximumMinimumAndStrings) {
  auto mx = RunOp("Maximum", {F32({3}, {1, 5, -2}), F32({}, {0})});
  ASSERT_TRUE(mx.status.ok());
  EXPECT_EQ(Values<float>(mx[0]), (std::vector<float>{1, 5, 0}));
  auto mn = RunOp("Minimum", {I32({3}, {1, 5, -2}), I32({3}, {2, 2, 2})});
  ASSERT_TRUE(mn.status.ok());
  EXPECT_EQ(Values<int32_t>(mn[0]), (std::vector<int32_t>{1, 2, -2}));
  auto nan = RunOp("Maximum", {F32({1}, {std::nanf("")}), F32({1}, {1})});
  ASSERT_TRUE(nan.status.ok());
  EXPECT_TRUE(std::isnan(Values<float>(nan[0])[0]));
  auto cat = RunOp("Add", {Str({2}, {"a", "b"}), Str({}, {"!"})});
  ASSERT_TRUE(cat.status.ok());
  EXPECT_EQ(cat[0].strings(), (std::vector<std::string>{"a!", "b!"}));
  EXPECT_FALSE(RunOp("Sub", {Str({1}, {"a"}), Str({1}, {"b"})}).status.ok());
  EXPECT_FALSE(RunOp("Mul", {Bool({1}, {true}), Bool({1}, {true})}).status.ok());
}

TEST(TfMathKernels, ComparisonsAndLogic) {
  Tensor a = F32({4}, {1, 2, 3, 4});
  Tensor b = F32({}, {2});
  struct Case {
    const char* op;
    std::vector<bool> want;
  };
  for (const Case& c : {Case{"Greater", {false, false, true, true}}, Case{"GreaterEqual", {false, true, true, true}},
                        Case{"Less", {true, false, false, false}}, Case{"LessEqual", {true, true, false, false}},
                        Case{"Equal", {false, true, false, false}}, Case{"NotEqual", {true, false, true, true}}}) {
    auto r = RunOp(c.op, {a, b});
    ASSERT_TRUE(r.status.ok()) << c.op;
    EXPECT_EQ(r[0].dtype(), DType::kBool);
    EXPECT_EQ(BoolValues(r[0]), c.want) << c.op;
  }
  auto ei = RunOp("Equal", {I64({2}, {3, 4}), I64({2}, {3, 5})});
  ASSERT_TRUE(ei.status.ok());
  EXPECT_EQ(BoolValues(ei[0]), (std::vector<bool>{true, false}));
  auto es = RunOp("Equal", {Str({2}, {"x", "y"}), Str({}, {"y"})});
  ASSERT_TRUE(es.status.ok());
  EXPECT_EQ(BoolValues(es[0]), (std::vector<bool>{false, true}));
  auto eb = RunOp("NotEqual", {Bool({2}, {true, false}), Bool({2}, {true, true})});
  ASSERT_TRUE(eb.status.ok());
  EXPECT_EQ(BoolValues(eb[0]), (std::vector<bool>{false, true}));
  Tensor p = Bool({2, 2}, {true, true, false, false});
  Tensor q = Bool({2}, {true, false});
  auto land = RunOp("LogicalAnd", {p, q});
  ASSERT_TRUE(land.status.ok());
  EXPECT_EQ(BoolValues(land[0]), (std::vector<bool>{true, false, false, false}));
  auto lor = RunOp("LogicalOr", {p, q});
  ASSERT_TRUE(lor.status.ok());
  EXPECT_EQ(BoolValues(lor[0]), (std::vector<bool>{true, true, true, false}));
  auto lnot = RunOp("LogicalNot", {q});
  ASSERT_TRUE(lnot.status.ok());
  EXPECT_EQ(BoolValues(lnot[0]), (std::vector<bool>{false, true}));
  EXPECT_FALSE(RunOp("LogicalAnd", {a, a}).status.ok());
  EXPECT_FALSE(RunOp("Greater", {Bool({1}, {true}), Bool({1}, {false})}).status.ok());
  EXPECT_FALSE(RunOp("LogicalNot", {a}).status.ok());
}

TEST(TfMathKernels, AddNAndBiasAdd) {
  auto n = RunOp("AddN", {F32({2}, {1, 2}), F32({2}, {10, 20}), F32({2}, {100, 200})});
  ASSERT_TRUE(n.status.ok());
  EXPECT_EQ(Values<float>(n[0]), (std::vector<float>{111, 222}));
  auto n1 = RunOp("AddN", {I32({1}, {5})});
  ASSERT_TRUE(n1.status.ok());
  EXPECT_EQ(Values<int32_t>(n1[0]), std::vector<int32_t>{5});
  EXPECT_FALSE(RunOp("AddN", {F32({2}, {1, 2}), F32({1}, {1})}).status.ok());
  EXPECT_FALSE(RunOp("AddN", {}).status.ok());

  Tensor v = IotaF({2, 2, 3});
  Tensor bias = F32({3}, {100, 200, 300});
  auto nhwc = RunOp("BiasAdd", {v, bias});
  ASSERT_TRUE(nhwc.status.ok());
  EXPECT_EQ(Values<float>(nhwc[0]), (std::vector<float>{100, 201, 302, 103, 204, 305, 106, 207, 308, 109, 210, 311}));
  auto v1 = RunOp("BiasAddV1", {v, bias});
  ASSERT_TRUE(v1.status.ok());
  EXPECT_EQ(Values<float>(v1[0]), Values<float>(nhwc[0]));
  auto nchw = RunOp("BiasAdd", {IotaF({1, 2, 1, 2}), F32({2}, {10, 20})}, {{"data_format", AStr("NCHW")}});
  ASSERT_TRUE(nchw.status.ok());
  EXPECT_EQ(Values<float>(nchw[0]), (std::vector<float>{10, 11, 22, 23}));
  EXPECT_FALSE(RunOp("BiasAdd", {v, F32({2}, {1, 2})}).status.ok());
  EXPECT_FALSE(RunOp("BiasAdd", {v, bias}, {{"data_format", AStr("NCHW")}}).status.ok());
  EXPECT_FALSE(RunOp("BiasAdd", {v, bias}, {{"data_format", AStr("HWCN")}}).status.ok());
  EXPECT_FALSE(RunOp("BiasAdd", {F32({3}, {1, 2, 3}), bias}).status.ok());
}

TEST(TfMathKernels, ClipByValueAndCumulative) {
  auto c = RunOp("ClipByValue", {F32({2, 2}, {-5, 0.5f, 3, 9}), F32({}, {0}), F32({}, {2})});
  ASSERT_TRUE(c.status.ok());
  EXPECT_EQ(Values<float>(c[0]), (std::vector<float>{0, 0.5f, 2, 2}));
  auto ce = RunOp("ClipByValue", {I32({3}, {1, 5, 9}), I32({3}, {2, 2, 2}), I32({}, {6})});
  ASSERT_TRUE(ce.status.ok());
  EXPECT_EQ(Values<int32_t>(ce[0]), (std::vector<int32_t>{2, 5, 6}));
  EXPECT_FALSE(RunOp("ClipByValue", {F32({2}, {1, 2}), F32({3}, {0, 0, 0}), F32({}, {1})}).status.ok());

  Tensor x = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto cs = RunOp("Cumsum", {x, I32Scalar(1)});
  ASSERT_TRUE(cs.status.ok());
  EXPECT_EQ(Values<float>(cs[0]), (std::vector<float>{1, 3, 6, 4, 9, 15}));
  auto cx = RunOp("Cumsum", {x, I32Scalar(0)}, {{"exclusive", ABool(true)}});
  ASSERT_TRUE(cx.status.ok());
  EXPECT_EQ(Values<float>(cx[0]), (std::vector<float>{0, 0, 0, 1, 2, 3}));
  auto cr = RunOp("Cumsum", {x, I32Scalar(-1)}, {{"reverse", ABool(true)}});
  ASSERT_TRUE(cr.status.ok());
  EXPECT_EQ(Values<float>(cr[0]), (std::vector<float>{6, 5, 3, 15, 11, 6}));
  auto cp = RunOp("Cumprod", {I64({4}, {1, 2, 3, 4}), I32Scalar(0)}, {{"exclusive", ABool(true)}, {"reverse", ABool(true)}});
  ASSERT_TRUE(cp.status.ok());
  EXPECT_EQ(Values<int64_t>(cp[0]), (std::vector<int64_t>{24, 12, 4, 1}));
  EXPECT_FALSE(RunOp("Cumsum", {x, I32Scalar(2)}).status.ok());
}

TEST(TfMathKernels, UnaryOps) {
  auto round = RunOp("Round", {F32({8}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f, 2.6f, -2.6f})});
  ASSERT_TRUE(round.status.ok());
  EXPECT_EQ(Values<float>(round[0]), (std::vector<float>{0, 2, 2, -0.0f, -2, 2, 3, -3}));
  auto ri = RunOp("Round", {I32({2}, {3, -4})});
  ASSERT_TRUE(ri.status.ok());
  EXPECT_EQ(Values<int32_t>(ri[0]), (std::vector<int32_t>{3, -4}));
  auto fl = RunOp("Floor", {F32({2}, {-1.5f, 1.5f})});
  ASSERT_TRUE(fl.status.ok());
  EXPECT_EQ(Values<float>(fl[0]), (std::vector<float>{-2, 1}));
  auto ce = RunOp("Ceil", {F32({2}, {-1.5f, 1.5f})});
  ASSERT_TRUE(ce.status.ok());
  EXPECT_EQ(Values<float>(ce[0]), (std::vector<float>{-1, 2}));
  auto sg = RunOp("Sign", {I32({3}, {-5, 0, 7})});
  ASSERT_TRUE(sg.status.ok());
  EXPECT_EQ(Values<int32_t>(sg[0]), (std::vector<int32_t>{-1, 0, 1}));
  auto ab = RunOp("Abs", {F32({2}, {-2.5f, 1})});
  ASSERT_TRUE(ab.status.ok());
  EXPECT_EQ(Values<float>(ab[0]), (std::vector<float>{2.5f, 1}));
  auto sq = RunOp("Square", {I64({1}, {-3})});
  ASSERT_TRUE(sq.status.ok());
  EXPECT_EQ(Values<int64_t>(sq[0]), std::vector<int64_t>{9});
  auto rs = RunOp("Rsqrt", {F32({2}, {4, 0.25f})});
  ASSERT_TRUE(rs.status.ok());
  ExpectNear(Values<float>(rs[0]), {0.5f, 2}, 1e-6f);
  auto rc = RunOp("Reciprocal", {F32({2}, {4, -0.5f})});
  ASSERT_TRUE(rc.status.ok());
  ExpectNear(Values<float>(rc[0]), {0.25f, -2}, 1e-6f);
  auto inv = RunOp("Inv", {F64({1}, {8})});
  ASSERT_TRUE(inv.status.ok());
  EXPECT_EQ(Values<double>(inv[0]), std::vector<double>{0.125});

  struct Case {
    const char* op;
    float x, want;
  };
  for (const Case& c : {Case{"Erf", 0.5f, 0.5204998778f}, Case{"Erf", -1.0f, -0.8427007929f},
                        Case{"Tanh", 0.5f, 0.4621171573f}, Case{"Sigmoid", 2.0f, 0.8807970780f},
                        Case{"Log1p", 0.5f, 0.4054651081f}, Case{"Exp", 1.0f, 2.7182818285f},
                        Case{"Log", 2.7182818285f, 1.0f}, Case{"Sqrt", 2.25f, 1.5f}, Case{"Sin", 0.5f, 0.4794255386f},
                        Case{"Cos", 0.5f, 0.8775825619f}, Case{"Neg", 2.0f, -2.0f}, Case{"Sigmoid", -100.0f, 0.0f},
                        Case{"Sigmoid", 100.0f, 1.0f}, Case{"Tanh", -30.0f, -1.0f}}) {
    auto r = RunOp(c.op, {F32({1}, {c.x})});
    ASSERT_TRUE(r.status.ok()) << c.op;
    EXPECT_NEAR(Values<float>(r[0])[0], c.want, 2e-6f) << c.op << "(" << c.x << ")";
  }
  EXPECT_FALSE(RunOp("Exp", {I32({1}, {1})}).status.ok());
  EXPECT_FALSE(RunOp("Floor", {I32({1}, {1})}).status.ok());
  EXPECT_FALSE(RunOp("Neg", {Bool({1}, {true})}).status.ok());
  EXPECT_FALSE(RunOp("Neg", {Str({1}, {"a"})}).status.ok());
}

TEST(TfMathKernels, VectorisedUnaryMatchesScalar) {
  // 1000 elements: Eigen's packet path plus its tail, checked against the C library.
  Tensor x = IotaF({1000}, 0.01f, -500.0f);  // -5 .. 5
  for (const char* op : {"Exp", "Tanh", "Sigmoid", "Sin", "Cos"}) {
    auto r = RunOp(op, {x});
    ASSERT_TRUE(r.status.ok()) << op;
    const float* in = x.data<float>();
    const float* o = r[0].data<float>();
    for (int i = 0; i < 1000; ++i) {
      const double v = in[i];
      const double want = std::string(op) == "Exp"    ? std::exp(v)
                          : std::string(op) == "Tanh" ? std::tanh(v)
                          : std::string(op) == "Sin"  ? std::sin(v)
                          : std::string(op) == "Cos"  ? std::cos(v)
                                                      : 1.0 / (1.0 + std::exp(-v));
      ASSERT_NEAR(o[i], want, 1e-6 + 1e-6 * std::abs(want)) << op << "(" << v << ")";
    }
  }
}

TEST(TfMathKernels, PredicateOps) {
  auto r = RunOp("IsNan", {F32({3}, {std::nanf(""), 1, kInf})});
  ASSERT_TRUE(r.status.ok());
  EXPECT_EQ(BoolValues(r[0]), (std::vector<bool>{true, false, false}));
  auto f = RunOp("IsFinite", {F32({3}, {std::nanf(""), 1, kInf})});
  ASSERT_TRUE(f.status.ok());
  EXPECT_EQ(BoolValues(f[0]), (std::vector<bool>{false, true, false}));
}

TEST(TfMathKernels, Reductions) {
  Tensor x = IotaI({2, 3, 4});
  auto s1 = RunOp("Sum", {x, I32Scalar(1)});
  ASSERT_TRUE(s1.status.ok());
  EXPECT_EQ(s1[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(Values<int32_t>(s1[0]), (std::vector<int32_t>{12, 15, 18, 21, 48, 51, 54, 57}));
  auto s02 = RunOp("Sum", {x, I64s({0, -1})}, {{"keep_dims", ABool(true)}});
  ASSERT_TRUE(s02.status.ok());
  EXPECT_EQ(s02[0].shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(Values<int32_t>(s02[0]), (std::vector<int32_t>{60, 92, 124}));
  auto mx = RunOp("Max", {x, I32Scalar(-1)});
  ASSERT_TRUE(mx.status.ok());
  EXPECT_EQ(Values<int32_t>(mx[0]), (std::vector<int32_t>{3, 7, 11, 15, 19, 23}));
  auto mn = RunOp("Min", {x, I32s({0, 1, 2})});
  ASSERT_TRUE(mn.status.ok());
  EXPECT_EQ(mn[0].rank(), 0);
  EXPECT_EQ(Values<int32_t>(mn[0]), std::vector<int32_t>{0});
  auto pr = RunOp("Prod", {I32({2, 2, 2}, {0, 1, 4, 5, 12, 13, 16, 17}), I32Scalar(0)});
  ASSERT_TRUE(pr.status.ok());
  EXPECT_EQ(Values<int32_t>(pr[0]), (std::vector<int32_t>{0, 13, 64, 85}));
  auto id = RunOp("Sum", {x, I32({0}, {})});  // empty axis list: the identity
  ASSERT_TRUE(id.status.ok());
  EXPECT_EQ(id[0].shape(), x.shape());
  EXPECT_EQ(Values<int32_t>(id[0]), Values<int32_t>(x));
  auto sc = RunOp("Sum", {F32({}, {4}), I32({0}, {})});
  ASSERT_TRUE(sc.status.ok());
  EXPECT_EQ(Values<float>(sc[0]), std::vector<float>{4});

  // Mean of integers truncates toward zero; of floats it divides.
  auto mi = RunOp("Mean", {I32({2, 3}, {1, 2, 2, -1, -2, -2}), I32Scalar(1)});
  ASSERT_TRUE(mi.status.ok());
  EXPECT_EQ(Values<int32_t>(mi[0]), (std::vector<int32_t>{1, -1}));
  auto mf = RunOp("Mean", {F32({2, 2}, {1, 2, 4, 8}), I32s({0, 1})});
  ASSERT_TRUE(mf.status.ok());
  EXPECT_EQ(Values<float>(mf[0]), std::vector<float>{3.75f});

  // Over an empty dimension: the reducer's identity.
  auto es = RunOp("Sum", {F32({0, 3}, {}), I32Scalar(0)});
  ASSERT_TRUE(es.status.ok());
  EXPECT_EQ(Values<float>(es[0]), (std::vector<float>{0, 0, 0}));
  auto em = RunOp("Max", {F32({0, 2}, {}), I32Scalar(0)});
  ASSERT_TRUE(em.status.ok());
  EXPECT_EQ(Values<float>(em[0]), (std::vector<float>{-kInf, -kInf}));

  // A long contiguous reduction (16 partial sums and a tail), and a long strided one.
  Tensor big = IotaF({3, 1001});
  auto bs = RunOp("Sum", {big, I32Scalar(1)});
  ASSERT_TRUE(bs.status.ok());
  EXPECT_EQ(Values<float>(bs[0]), (std::vector<float>{500500, 1502501, 2504502}));
  auto bc = RunOp("Sum", {big, I32Scalar(0)});
  ASSERT_TRUE(bc.status.ok());
  EXPECT_EQ(Values<float>(bc[0])[1000], 1000.0f + 2001 + 3002);

  auto all = RunOp("All", {Bool({2, 2}, {true, false, true, true}), I32Scalar(1)});
  ASSERT_TRUE(all.status.ok());
  EXPECT_EQ(BoolValues(all[0]), (std::vector<bool>{false, true}));
  auto any = RunOp("Any", {Bool({2, 2}, {true, false, false, false}), I32Scalar(0)});
  ASSERT_TRUE(any.status.ok());
  EXPECT_EQ(BoolValues(any[0]), (std::vector<bool>{true, false}));

  EXPECT_FALSE(RunOp("Sum", {x, I32Scalar(3)}).status.ok());
  EXPECT_FALSE(RunOp("Sum", {x, I32Scalar(-4)}).status.ok());
  EXPECT_FALSE(RunOp("Sum", {F32({}, {1}), I32Scalar(0)}).status.ok());
  EXPECT_FALSE(RunOp("Sum", {x, F32({}, {0})}).status.ok());
  EXPECT_FALSE(RunOp("All", {x, I32Scalar(0)}).status.ok());
  EXPECT_FALSE(RunOp("Sum", {Bool({1}, {true}), I32Scalar(0)}).status.ok());
}

TEST(TfMathKernels, ArgMaxArgMin) {
  auto am = RunOp("ArgMax", {F32({2, 4}, {1, 3, 3, 2, 5, 5, 0, 5}), I32Scalar(1)});
  ASSERT_TRUE(am.status.ok());
  EXPECT_EQ(am[0].dtype(), DType::kInt64);
  EXPECT_EQ(Values<int64_t>(am[0]), (std::vector<int64_t>{1, 0}));  // ties: the first
  auto am0 = RunOp("ArgMax", {I32({3, 2}, {1, 9, 7, 9, 7, 0}), I64({}, {0})}, {{"output_type", AType(DType::kInt32)}});
  ASSERT_TRUE(am0.status.ok());
  EXPECT_EQ(Values<int32_t>(am0[0]), (std::vector<int32_t>{1, 0}));
  auto an = RunOp("ArgMin", {F32({3}, {2, 1, 1}), I32Scalar(-1)});
  ASSERT_TRUE(an.status.ok());
  EXPECT_EQ(an[0].rank(), 0);
  EXPECT_EQ(Values<int64_t>(an[0]), std::vector<int64_t>{1});
  EXPECT_FALSE(RunOp("ArgMax", {F32({0, 2}, {}), I32Scalar(0)}).status.ok());
  EXPECT_FALSE(RunOp("ArgMax", {F32({2}, {1, 2}), I32Scalar(1)}).status.ok());
  EXPECT_FALSE(RunOp("ArgMax", {F32({2}, {1, 2}), I32Scalar(0)}, {{"output_type", AType(DType::kFloat)}}).status.ok());
}

TEST(TfMathKernels, TopK) {
  auto t = RunOp("TopKV2", {F32({2, 4}, {1, 3, 3, 2, 0, -1, 5, 5}), I32Scalar(3)}, {{"sorted", ABool(true)}});
  ASSERT_TRUE(t.status.ok());
  ASSERT_EQ(t.out.size(), 2u);
  EXPECT_EQ(t[0].shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(t[0]), (std::vector<float>{3, 3, 2, 5, 5, 0}));
  EXPECT_EQ(Values<int32_t>(t[1]), (std::vector<int32_t>{1, 2, 3, 2, 3, 0}));  // ties: lower index first
  auto n = RunOp("TopKV2", {F32({3}, {1, std::nanf(""), 2}), I32Scalar(2)});
  ASSERT_TRUE(n.status.ok());
  EXPECT_EQ(Values<int32_t>(n[1]), (std::vector<int32_t>{1, 2}));
  auto v1 = RunOp("TopK", {I32({3}, {4, 9, 1})}, {{"k", AInt(1)}});
  ASSERT_TRUE(v1.status.ok());
  EXPECT_EQ(Values<int32_t>(v1[0]), std::vector<int32_t>{9});
  auto k0 = RunOp("TopKV2", {F32({2}, {1, 2}), I32Scalar(0)});
  ASSERT_TRUE(k0.status.ok());
  EXPECT_EQ(k0[0].shape(), (Shape{0}));
  EXPECT_FALSE(RunOp("TopKV2", {F32({2}, {1, 2}), I32Scalar(3)}).status.ok());
  EXPECT_FALSE(RunOp("TopKV2", {F32({2}, {1, 2}), I32Scalar(-1)}).status.ok());
  EXPECT_FALSE(RunOp("TopKV2", {F32({}, {1}), I32Scalar(1)}).status.ok());
}

TEST(TfMathKernels, MatMul) {
  Tensor a = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = F32({3, 2}, {7, 8, 9, 10, 11, 12});
  auto m = RunOp("MatMul", {a, b});
  ASSERT_TRUE(m.status.ok());
  EXPECT_EQ(m[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(m[0]), (std::vector<float>{58, 64, 139, 154}));
  // (B^T)^T-style: MatMul(b, a, transpose_a, transpose_b) = b^T a^T = (a b)^T.
  auto t = RunOp("MatMul", {b, a}, {{"transpose_a", ABool(true)}, {"transpose_b", ABool(true)}});
  ASSERT_TRUE(t.status.ok());
  EXPECT_EQ(Values<float>(t[0]), (std::vector<float>{58, 139, 64, 154}));
  auto mi = RunOp("MatMul", {I32({2, 3}, {1, 2, 3, 4, 5, 6}), I32({2, 3}, {7, 9, 11, 8, 10, 12})},
                  {{"transpose_b", ABool(true)}});
  ASSERT_TRUE(mi.status.ok());
  EXPECT_EQ(Values<int32_t>(mi[0]), (std::vector<int32_t>{58, 64, 139, 154}));
  auto md = RunOp("MatMul", {F64({1, 2}, {0.5, 0.25}), F64({2, 1}, {2, 4})});
  ASSERT_TRUE(md.status.ok());
  EXPECT_EQ(Values<double>(md[0]), std::vector<double>{2});
  // One row or one column (the matrix-vector path), under every transpose combination.
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      Tensor row = F32({1, 3}, {1, 2, 3});  // [1,3] and its transpose [3,1] hold the same bytes
      Tensor rowa = ta ? F32({3, 1}, {1, 2, 3}) : row;
      Tensor bm = tb ? F32({2, 3}, {7, 9, 11, 8, 10, 12}) : b;
      auto r = RunOp("MatMul", {rowa, bm}, {{"transpose_a", ABool(ta)}, {"transpose_b", ABool(tb)}});
      ASSERT_TRUE(r.status.ok());
      EXPECT_EQ(Values<float>(r[0]), (std::vector<float>{58, 64})) << ta << tb;
      Tensor am = ta ? F32({3, 2}, {1, 4, 2, 5, 3, 6}) : a;
      Tensor col = tb ? F32({1, 3}, {7, 9, 11}) : F32({3, 1}, {7, 9, 11});
      auto c = RunOp("MatMul", {am, col}, {{"transpose_a", ABool(ta)}, {"transpose_b", ABool(tb)}});
      ASSERT_TRUE(c.status.ok());
      EXPECT_EQ(c[0].shape(), (Shape{2, 1}));
      EXPECT_EQ(Values<float>(c[0]), (std::vector<float>{58, 139})) << ta << tb;
    }
  }
  auto dcol = RunOp("MatMul", {F64({2, 2}, {1, 2, 3, 4}), F64({2, 1}, {1, 1})});
  ASSERT_TRUE(dcol.status.ok());
  EXPECT_EQ(Values<double>(dcol[0]), (std::vector<double>{3, 7}));
  auto k0 = RunOp("MatMul", {F32({2, 0}, {}), F32({0, 3}, {})});
  ASSERT_TRUE(k0.status.ok());
  EXPECT_EQ(Values<float>(k0[0]), std::vector<float>(6, 0.0f));
  EXPECT_FALSE(RunOp("MatMul", {a, a}).status.ok());
  EXPECT_FALSE(RunOp("MatMul", {a, F32({3}, {1, 2, 3})}).status.ok());
  EXPECT_FALSE(RunOp("MatMul", {a, I32({3, 1}, {1, 2, 3})}).status.ok());
  EXPECT_FALSE(RunOp("MatMul", {Bool({1, 1}, {true}), Bool({1, 1}, {true})}).status.ok());
}

TEST(TfMathKernels, FusedMatMul) {
  Tensor a = F32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = F32({3, 2}, {7, 8, 9, 10, 11, 12});  // a.b = [[58,64],[139,154]]
  Tensor bias = F32({2}, {-100, -60});
  auto fused = [](std::vector<std::string> ops, float alpha = 0.2f) {
    AttrValue v;
    v.kind = AttrValue::Kind::kList;
    v.list = std::make_shared<AttrList>();
    v.list->s = std::move(ops);
    AttrValue f;
    f.kind = AttrValue::Kind::kF;
    f.f = alpha;
    return AttrMap{{"fused_ops", v}, {"leakyrelu_alpha", f}};
  };
  auto r = RunOp("_FusedMatMul", {a, b, bias}, fused({"BiasAdd", "Relu"}));
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(Values<float>(r[0]), (std::vector<float>{0, 4, 39, 94}));
  auto l = RunOp("_FusedMatMul", {a, b, bias}, fused({"BiasAdd", "LeakyRelu"}, 0.5f));
  ASSERT_TRUE(l.status.ok());
  EXPECT_EQ(Values<float>(l[0]), (std::vector<float>{-21, 4, 39, 94}));
  auto r6 = RunOp("_FusedMatMul", {a, b, bias}, fused({"BiasAdd", "Relu6"}));
  ASSERT_TRUE(r6.status.ok());
  EXPECT_EQ(Values<float>(r6[0]), (std::vector<float>{0, 4, 6, 6}));
  auto sg = RunOp("_FusedMatMul", {F32({1, 1}, {1}), F32({1, 1}, {2}), F32({1}, {-2})}, fused({"BiasAdd", "Sigmoid"}));
  ASSERT_TRUE(sg.status.ok());
  EXPECT_NEAR(Values<float>(sg[0])[0], 0.5f, 1e-6f);
  EXPECT_FALSE(RunOp("_FusedMatMul", {a, b}, fused({"BiasAdd"})).status.ok());
  EXPECT_FALSE(RunOp("_FusedMatMul", {a, b, F32({3}, {1, 2, 3})}, fused({"BiasAdd"})).status.ok());
  EXPECT_FALSE(RunOp("_FusedMatMul", {a, b, bias}, fused({"BiasAdd", "Swish"})).status.ok());
}

TEST(TfMathKernels, BatchMatMulBroadcastsBatchDims) {
  Tensor x = IotaF({2, 1, 2, 3}, 0.25f);
  Tensor y = IotaF({3, 3, 2}, 0.5f, -5.0f);
  const std::vector<float> want = {-0.625f, -0.25f, -4.0f, -2.5f, 1.625f, 2.0f, 5.0f, 6.5f, 3.875f, 4.25f, 14.0f, 15.5f,
                                   -7.375f, -4.75f, -10.75f, -7.0f, 8.375f, 11.0f, 11.75f, 15.5f, 24.125f, 26.75f,
                                   34.25f, 38.0f};
  auto r = RunOp("BatchMatMulV2", {x, y});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r[0].shape(), (Shape{2, 3, 2, 2}));
  ExpectNear(Values<float>(r[0]), want, 1e-5f);
  // The same product with both operands stored transposed.
  auto xt = RunOp("Transpose", {x, I32s({0, 1, 3, 2})});
  auto yt = RunOp("Transpose", {y, I32s({0, 2, 1})});
  ASSERT_TRUE(xt.status.ok() && yt.status.ok());
  auto ra = RunOp("BatchMatMulV2", {xt[0], yt[0]}, {{"adj_x", ABool(true)}, {"adj_y", ABool(true)}});
  ASSERT_TRUE(ra.status.ok());
  ExpectNear(Values<float>(ra[0]), want, 1e-5f);
  // A shared rank-2 right operand (one GEMM over all rows).
  auto shared = RunOp("BatchMatMulV2", {IotaF({2, 2, 2}), F32({2, 1}, {1, 10})});
  ASSERT_TRUE(shared.status.ok());
  EXPECT_EQ(shared[0].shape(), (Shape{2, 2, 1}));
  EXPECT_EQ(Values<float>(shared[0]), (std::vector<float>{10, 32, 54, 76}));
  auto v1 = RunOp("BatchMatMul", {IotaF({2, 1, 2}), IotaF({2, 2, 1})});
  ASSERT_TRUE(v1.status.ok());
  EXPECT_EQ(Values<float>(v1[0]), (std::vector<float>{1, 13}));
  auto bi = RunOp("BatchMatMulV2", {IotaI({2, 1, 2}), IotaI({1, 2, 1})});
  ASSERT_TRUE(bi.status.ok());
  EXPECT_EQ(Values<int32_t>(bi[0]), (std::vector<int32_t>{1, 3}));
  EXPECT_FALSE(RunOp("BatchMatMul", {IotaF({2, 1, 2}), IotaF({1, 2, 1})}).status.ok());
  EXPECT_FALSE(RunOp("BatchMatMulV2", {IotaF({2, 1, 2}), IotaF({3, 2, 1})}).status.ok());
  EXPECT_FALSE(RunOp("BatchMatMulV2", {IotaF({2, 1, 2}), IotaF({2, 3, 1})}).status.ok());
  EXPECT_FALSE(RunOp("BatchMatMulV2", {IotaF({2}), IotaF({2, 1})}).status.ok());
}

struct EinsumCase {
  const char* equation;
  Shape x, y, out;
  std::vector<float> want;
};

// numpy.einsum on x = 0.5 * iota(x), y = 0.25 * (iota(y) - 5): Keras EinsumDense / MultiHeadAttention forms.
const EinsumCase kEinsumCases[] = {
    {"abc,cde->abde", {2,3,4}, {4,2,3}, {2,3,2,3}, {6.75f, 7.5f, 8.25f, 9.0f, 9.75f, 10.5f, 14.75f, 17.5f, 20.25f, 23.0f, 25.75f, 28.5f, 22.75f, 27.5f, 32.25f, 37.0f, 41.75f, 46.5f, 30.75f, 37.5f, 44.25f, 51.0f, 57.75f, 64.5f, 38.75f, 47.5f, 56.25f, 65.0f, 73.75f, 82.5f, 46.75f, 57.5f, 68.25f, 79.0f, 89.75f, 100.5f}},
    {"aecd,abcd->acbe", {2,3,2,2}, {2,2,2,2}, {2,2,2,3}, {-0.5f, -5.0f, -9.5f, 0.0f, -0.5f, -1.0f, -1.5f, -4.0f, -6.5f, 1.0f, 2.5f, 4.0f, 11.0f, 14.5f, 18.0f, 23.5f, 31.0f, 38.5f, 20.0f, 25.5f, 31.0f, 34.5f, 44.0f, 53.5f}},
    {"acbe,aecd->abcd", {2,2,3,3}, {2,3,2,2}, {2,3,2,2}, {0.625f, 1.0f, 4.75f, 8.5f, -0.5f, 1.0f, 5.875f, 10.75f, -1.625f, 1.0f, 7.0f, 13.0f, 79.375f, 86.5f, 137.5f, 148.0f, 91.75f, 100.0f, 152.125f, 163.75f, 104.125f, 113.5f, 166.75f, 179.5f}},
    {"abcd,cde->abe", {2,3,2,2}, {2,2,3}, {2,3,3}, {1.5f, 2.25f, 3.0f, 0.5f, 3.25f, 6.0f, -0.5f, 4.25f, 9.0f, -1.5f, 5.25f, 12.0f, -2.5f, 6.25f, 15.0f, -3.5f, 7.25f, 18.0f}},
    {"ij,jk->ki", {2,3}, {3,2}, {2,2}, {-0.625f, -4.0f, -0.25f, -2.5f}},
};

TEST(TfMathKernels, EinsumMatchesNumpy) {
  for (const EinsumCase& c : kEinsumCases) {
    auto r = RunOp("Einsum", {IotaF(c.x, 0.5f), IotaF(c.y, 0.25f, -5.0f)}, {{"equation", AStr(c.equation)}});
    ASSERT_TRUE(r.status.ok()) << c.equation << ": " << r.status.message();
    EXPECT_EQ(r[0].shape(), c.out) << c.equation;
    ExpectNear(Values<float>(r[0]), c.want, 1e-4f);
  }
  auto run = [](const char* eq, Shape x, Shape y) {
    return RunOp("Einsum", {IotaF(std::move(x)), IotaF(std::move(y))}, {{"equation", AStr(eq)}}).status.ok();
  };
  EXPECT_FALSE(run("ij,jk->ik", {2, 3}, {4, 2}));     // contracted sizes differ
  EXPECT_FALSE(run("ij,jk", {2, 3}, {3, 2}));         // implicit output
  EXPECT_FALSE(run("...j,jk->...k", {2, 3}, {3, 2}));  // ellipsis
  EXPECT_FALSE(run("ii,ij->j", {2, 2}, {2, 2}));      // diagonal
  EXPECT_FALSE(run("ij,jk->k", {2, 3}, {3, 2}));      // sum within one operand
  EXPECT_FALSE(run("ij,jk->iz", {2, 3}, {3, 2}));     // unknown output label
  EXPECT_FALSE(run("ijk,jk->ik", {2, 3}, {3, 2}));    // rank mismatch
}

TEST(TfMathKernels, RegistryHasTheMathOps) {
  KernelRegistry r;
  RegisterMathKernels(r);
  for (const char* op : {"Add", "AddV2", "AddN", "Sub", "Mul", "Div", "RealDiv", "FloorDiv", "FloorMod", "Maximum",
                         "Minimum", "Pow", "SquaredDifference", "Greater", "GreaterEqual", "Less", "LessEqual", "Equal",
                         "NotEqual", "LogicalAnd", "LogicalOr", "BiasAdd", "BiasAddV1", "Neg", "Abs", "Sqrt", "Rsqrt",
                         "Square", "Exp", "Log", "Log1p", "Sigmoid", "Tanh", "Erf", "Floor", "Ceil", "Round", "Sign",
                         "Reciprocal", "Inv", "LogicalNot", "Sin", "Cos", "Sum", "Mean", "Max", "Min", "Prod", "All",
                         "Any", "ArgMax", "ArgMin", "MatMul", "BatchMatMul", "BatchMatMulV2"}) {
    EXPECT_NE(r.Find(op), nullptr) << op;
  }
}

}  // namespace
}  // namespace inferd::tf
