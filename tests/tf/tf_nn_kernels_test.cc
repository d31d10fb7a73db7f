// The nn group of TensorFlow kernels (src/tf/kernels_nn.cc and nn_*.cc), called directly through a local
// KernelRegistry. Convolutions, pooling and resize are compared against naive nested-loop references written
// here (independent of the optimised code) on random shapes, plus hand-computed literal cases and hostile
// attrs/shapes that must fail with an error naming the node.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tf/graph_def.h"
#include "tf/kernel.h"
#include "tf/tensor.h"

namespace inferd::tf {
namespace {

// ---- helpers ----

AttrValue Ints(std::vector<int64_t> v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kList;
  a.list = std::make_shared<AttrList>();
  a.list->i = std::move(v);
  return a;
}
AttrValue Strs(std::vector<std::string> v) {
  AttrValue a;
  a.kind = AttrValue::Kind::kList;
  a.list = std::make_shared<AttrList>();
  a.list->s = std::move(v);
  return a;
}
AttrValue Str(std::string s) {
  AttrValue a;
  a.kind = AttrValue::Kind::kS;
  a.s = std::move(s);
  return a;
}
AttrValue Int(int64_t i) {
  AttrValue a;
  a.kind = AttrValue::Kind::kI;
  a.i = i;
  return a;
}
AttrValue Float(float f) {
  AttrValue a;
  a.kind = AttrValue::Kind::kF;
  a.f = f;
  return a;
}
AttrValue Bool(bool b) {
  AttrValue a;
  a.kind = AttrValue::Kind::kB;
  a.b = b;
  return a;
}

NodeDef Node(std::string op, AttrMap attrs = {}) {
  NodeDef n;
  n.name = "node_" + op;
  n.op = std::move(op);
  n.attrs = std::move(attrs);
  return n;
}

const KernelRegistry& Registry() {
  static const KernelRegistry* r = [] {
    auto* reg = new KernelRegistry();
    RegisterNnKernels(*reg);
    return reg;
  }();
  return *r;
}

struct Result {
  Status status;
  std::vector<Tensor> outputs;
};

Result RunOp(const NodeDef& n, std::vector<Tensor> inputs) {
  Result r;
  const KernelDef* k = Registry().Find(n.op);
  if (k == nullptr) {
    r.status = NotFound("no kernel " + n.op);
    return r;
  }
  KernelContext ctx{n, inputs, r.outputs};
  r.status = k->fn(ctx);
  return r;
}

Tensor F(Shape shape, std::vector<float> v) {
  Tensor t = *Tensor::Make(DType::kFloat, std::move(shape));
  EXPECT_EQ(static_cast<size_t>(t.num_elements()), v.size());
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}
Tensor I32(Shape shape, std::vector<int32_t> v) {
  Tensor t = *Tensor::Make(DType::kInt32, std::move(shape));
  std::copy(v.begin(), v.end(), t.data<int32_t>());
  return t;
}
Tensor Random(Shape shape, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = *Tensor::Make(DType::kFloat, std::move(shape));
  std::uniform_real_distribution<float> d(lo, hi);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = d(rng);
  return t;
}
std::vector<float> Values(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.num_elements()}; }

void ExpectNear(const Tensor& got, const Shape& shape, const std::vector<float>& want, float tol = 1e-4f) {
  ASSERT_EQ(got.shape(), shape);
  ASSERT_EQ(static_cast<size_t>(got.num_elements()), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(got.data<float>()[i], want[i], tol * (1.0f + std::fabs(want[i]))) << "at flat index " << i;
  }
}

void ExpectError(const Result& r, std::string_view fragment = "") {
  EXPECT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument) << r.status.ToString();
  EXPECT_NE(r.status.message().find("node_"), std::string::npos) << r.status.message();
  if (!fragment.empty()) {
    EXPECT_NE(r.status.message().find(fragment), std::string::npos) << r.status.message();
  }
}

// ---- naive references ----

struct Geo {
  int64_t n, h, w, c, kh, kw, sh, sw, dh, dw;
  std::string padding;  // SAME, VALID, or EXPLICIT with pads
  std::vector<int64_t> pads = {};  // top, bottom, left, right for EXPLICIT
  int64_t oh = 0, ow = 0, pt = 0, pl = 0;
};

// TensorFlow's output size and leading padding, written out again here.
void Resolve(Geo& g) {
  auto dim = [&](int64_t in, int64_t k, int64_t s, int64_t d, int64_t pa, int64_t pb, int64_t& out, int64_t& pad) {
    const int64_t eff = (k - 1) * d + 1;
    if (g.padding == "SAME") {
      out = (in + s - 1) / s;
      pad = std::max<int64_t>((out - 1) * s + eff - in, 0) / 2;
    } else if (g.padding == "VALID") {
      out = (in - eff + s) / s;
      pad = 0;
    } else {
      out = (in + pa + pb - eff + s) / s;
      pad = pa;
    }
  };
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  if (g.padding == "EXPLICIT") pt = g.pads[0], pb = g.pads[1], pl = g.pads[2], pr = g.pads[3];
  dim(g.h, g.kh, g.sh, g.dh, pt, pb, g.oh, g.pt);
  dim(g.w, g.kw, g.sw, g.dw, pl, pr, g.ow, g.pl);
}

AttrMap ConvAttrs(const Geo& g) {
  AttrMap a{{"strides", Ints({1, g.sh, g.sw, 1})},
            {"dilations", Ints({1, g.dh, g.dw, 1})},
            {"padding", Str(g.padding)},
            {"data_format", Str("NHWC")}};
  if (g.padding == "EXPLICIT") a["explicit_paddings"] = Ints({0, 0, g.pads[0], g.pads[1], g.pads[2], g.pads[3], 0, 0});
  return a;
}

// mult < 0: a regular conv with filter [kh,kw,c,o]; else depthwise with filter [kh,kw,c,mult].
std::vector<float> RefConv(const Geo& g, const Tensor& x, const Tensor& f, int64_t o, bool depthwise) {
  const int64_t oc = depthwise ? g.c * f.dim(3) : o;
  std::vector<float> y(static_cast<size_t>(g.n * g.oh * g.ow * oc), 0.0f);
  const float* xp = x.data<float>();
  const float* fp = f.data<float>();
  for (int64_t b = 0; b < g.n; ++b)
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox)
        for (int64_t co = 0; co < oc; ++co) {
          double acc = 0;
          for (int64_t ky = 0; ky < g.kh; ++ky)
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t iy = oy * g.sh - g.pt + ky * g.dh, ix = ox * g.sw - g.pl + kx * g.dw;
              if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
              if (depthwise) {
                const int64_t m = f.dim(3), ci = co / m, mi = co % m;
                acc += xp[((b * g.h + iy) * g.w + ix) * g.c + ci] * fp[((ky * g.kw + kx) * g.c + ci) * m + mi];
              } else {
                for (int64_t ci = 0; ci < g.c; ++ci)
                  acc += xp[((b * g.h + iy) * g.w + ix) * g.c + ci] * fp[((ky * g.kw + kx) * g.c + ci) * o + co];
              }
            }
          y[static_cast<size_t>(((b * g.oh + oy) * g.ow + ox) * oc + co)] = static_cast<float>(acc);
        }
  return y;
}

std::vector<Geo> ConvShapes() {
  return {
      {1, 5, 5, 3, 3, 3, 1, 1, 1, 1, "SAME"},
      {2, 7, 6, 3, 3, 3, 2, 2, 1, 1, "SAME"},
      {1, 8, 9, 2, 3, 2, 2, 1, 1, 1, "VALID"},
      {2, 9, 9, 4, 3, 3, 1, 1, 2, 2, "SAME"},
      {1, 10, 7, 3, 3, 3, 1, 1, 2, 2, "VALID"},
      {1, 6, 6, 8, 1, 1, 1, 1, 1, 1, "SAME"},
      {2, 5, 4, 3, 1, 1, 1, 1, 1, 1, "VALID"},  // the direct sgemm path over a batch
      {2, 7, 7, 4, 1, 1, 2, 2, 1, 1, "VALID"},
      {2, 4, 4, 3, 5, 5, 1, 1, 1, 1, "SAME"},
      {1, 7, 8, 2, 4, 4, 3, 3, 1, 1, "SAME"},
      {1, 5, 6, 2, 3, 3, 2, 2, 1, 1, "EXPLICIT", {1, 2, 0, 1}},
      {1, 11, 13, 11, 3, 3, 2, 2, 1, 1, "SAME"},
      {1, 40, 40, 16, 3, 3, 1, 1, 1, 1, "SAME"},  // several im2col chunks
  };
}

// ---- Conv2D ----

TEST(TfNnConv, Conv2DMatchesNaiveReference) {
  std::mt19937 rng(1);
  for (Geo g : ConvShapes()) {
    Resolve(g);
    const int64_t o = 5;
    Tensor x = Random({g.n, g.h, g.w, g.c}, rng);
    Tensor f = Random({g.kh, g.kw, g.c, o}, rng);
    auto r = RunOp(Node("Conv2D", ConvAttrs(g)), {x, f});
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    ASSERT_EQ(r.outputs.size(), 1u);
    SCOPED_TRACE(ShapeString(x.shape()) + " " + g.padding);
    ExpectNear(r.outputs[0], {g.n, g.oh, g.ow, o}, RefConv(g, x, f, o, false));
  }
}

TEST(TfNnConv, Conv2DSameLiteral4x4) {
  std::vector<float> in(16);
  for (int i = 0; i < 16; ++i) in[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  Tensor x = F({1, 4, 4, 1}, in);
  Tensor f = F({3, 3, 1, 1}, std::vector<float>(9, 1.0f));
  auto r = RunOp(Node("Conv2D", {{"strides", Ints({1, 1, 1, 1})}, {"padding", Str("SAME")}}), {x, f});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectNear(r.outputs[0], {1, 4, 4, 1}, {14, 24, 30, 22, 33, 54, 63, 45, 57, 90, 99, 69, 46, 72, 78, 54}, 0);
  // Stride 2: pad_total 1 goes after (pad_before = 1 / 2 = 0), as TensorFlow does.
  auto r2 = RunOp(Node("Conv2D", {{"strides", Ints({1, 2, 2, 1})}, {"padding", Str("SAME")}}), {x, f});
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  ExpectNear(r2.outputs[0], {1, 2, 2, 1}, {54, 45, 72, 54}, 0);
}

TEST(TfNnConv, ValidKernelLargerThanInput) {
  Tensor f = F({5, 5, 1, 1}, std::vector<float>(25, 1.0f));
  // (3 - 5 + 1) / 1 < 0: TensorFlow's "output size would be negative".
  ExpectError(RunOp(Node("Conv2D", {{"strides", Ints({1, 1, 1, 1})}, {"padding", Str("VALID")}}),
                    {F({1, 3, 3, 1}, std::vector<float>(9, 1.0f)), f}),
              "negative");
  // (4 - 5 + 2) / 2 = 0: an empty output.
  auto r = RunOp(Node("Conv2D", {{"strides", Ints({1, 2, 2, 1})}, {"padding", Str("VALID")}}),
                 {F({1, 4, 4, 1}, std::vector<float>(16, 1.0f)), f});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.outputs[0].shape(), (Shape{1, 0, 0, 1}));
}

TEST(TfNnConv, HostileAttrsAndShapesAreErrors) {
  std::mt19937 rng(2);
  Tensor x = Random({1, 6, 6, 3}, rng);
  Tensor f = Random({3, 3, 3, 4}, rng);
  auto conv = [&](AttrMap a, Tensor xx, Tensor ff) { return RunOp(Node("Conv2D", std::move(a)), {xx, ff}); };
  const AttrValue same = Str("SAME");
  ExpectError(conv({{"strides", Ints({1, 0, 1, 1})}, {"padding", same}}, x, f), "strides");
  ExpectError(conv({{"strides", Ints({1, -2, 1, 1})}, {"padding", same}}, x, f), "strides");
  ExpectError(conv({{"strides", Ints({2, 1, 1, 1})}, {"padding", same}}, x, f), "strides");
  ExpectError(conv({{"strides", Ints({1, 1, 1})}, {"padding", same}}, x, f), "strides");
  ExpectError(conv({{"strides", Ints({1, int64_t{1} << 40, 1, 1})}, {"padding", same}}, x, f), "strides");
  ExpectError(conv({{"padding", same}}, x, f), "strides");
  ExpectError(conv({{"strides", Ints({1, 1, 1, 1})}, {"padding", Str("FULL")}}, x, f), "padding");
  ExpectError(conv({{"strides", Ints({1, 1, 1, 1})}, {"padding", same}, {"dilations", Ints({1, int64_t{1} << 40, 1, 1})}},
                   x, f),
              "dilations");
  ExpectError(conv({{"strides", Ints({1, 1, 1, 1})}, {"padding", same}, {"data_format", Str("NCHW")}}, x, f),
              "data_format");
  ExpectError(conv({{"strides", Ints({1, 1, 1, 1})}, {"padding", same}}, x, Random({3, 3, 2, 4}, rng)), "channels");
  ExpectError(conv({{"strides", Ints({1, 1, 1, 1})}, {"padding", same}}, x, Random({3, 3, 4}, rng)), "rank");
  ExpectError(conv({{"strides", Ints({1, 1, 1, 1})}, {"padding", same}}, *Tensor::Make(DType::kInt32, {1, 6, 6, 3}), f),
              "DT_FLOAT");
  ExpectError(conv({{"strides", Ints({1, 1, 1, 1})}, {"padding", Str("EXPLICIT")},
                    {"explicit_paddings", Ints({0, 0, -1, 1, 1, 1, 0, 0})}},
                   x, f),
              "explicit_paddings");
  ExpectError(RunOp(Node("Conv2D", {{"strides", Ints({1, 1, 1, 1})}, {"padding", same}}), {x}));
  // A filter whose element count overflows cannot even be made, so it never reaches a kernel.
  EXPECT_FALSE(Tensor::Make(DType::kFloat, {int64_t{1} << 20, int64_t{1} << 20, 1 << 20, 4}).ok());
  // A huge dilation that still fits: every tap but the centre falls outside, no overflow.
  Geo g{1, 6, 6, 3, 3, 3, 1, 1, int64_t{1} << 24, int64_t{1} << 24, "SAME"};
  Resolve(g);
  auto r = conv(ConvAttrs(g), x, f);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectNear(r.outputs[0], {1, 6, 6, 4}, RefConv(g, x, f, 4, false));
}

TEST(TfNnConv, ConcurrentCallsAgree) {
  // Kernels run on many server threads at once: same inputs, same answers, no shared scratch.
  std::mt19937 rng(14);
  Geo g{1, 20, 20, 8, 3, 3, 1, 1, 1, 1, "SAME"};
  Resolve(g);
  Tensor x = Random({1, 20, 20, 8}, rng), f = Random({3, 3, 8, 8}, rng);
  const auto want = RefConv(g, x, f, 8, false);
  std::vector<int> bad(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < bad.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        for (const char* op : {"Conv2D", "DepthwiseConv2dNative"}) {
          auto r = RunOp(Node(op, ConvAttrs(g)), {x, op[0] == 'C' ? f : Tensor(*f.Reshaped({3, 3, 8, 8}))});
          if (!r.status.ok()) ++bad[t];
          if (op[0] == 'C' && r.status.ok()) {
            for (size_t k = 0; k < want.size(); ++k) {
              if (std::fabs(r.outputs[0].data<float>()[k] - want[k]) > 1e-4f * (1 + std::fabs(want[k]))) ++bad[t];
            }
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int b : bad) EXPECT_EQ(b, 0);
}

// ---- depthwise ----

TEST(TfNnConv, DepthwiseMatchesNaiveReference) {
  std::mt19937 rng(3);
  for (int64_t mult : {1, 2}) {
    for (Geo g : ConvShapes()) {
      Resolve(g);
      Tensor x = Random({g.n, g.h, g.w, g.c}, rng);
      Tensor f = Random({g.kh, g.kw, g.c, mult}, rng);
      auto r = RunOp(Node("DepthwiseConv2dNative", ConvAttrs(g)), {x, f});
      ASSERT_TRUE(r.status.ok()) << r.status.ToString();
      SCOPED_TRACE(ShapeString(x.shape()) + " " + g.padding + " mult " + std::to_string(mult));
      ExpectNear(r.outputs[0], {g.n, g.oh, g.ow, g.c * mult}, RefConv(g, x, f, 0, true));
    }
  }
}

// ---- fused conv / depthwise / matmul ----

std::vector<float> Activate(std::vector<float> y, int64_t c, const std::vector<float>& bias, const std::string& act,
                            const std::vector<float>& alpha = {}) {
  for (size_t i = 0; i < y.size(); ++i) {
    const size_t ch = i % static_cast<size_t>(c);
    float v = y[i] + bias[ch];
    if (act == "Relu") v = std::max(v, 0.0f);
    if (act == "Relu6") v = std::min(std::max(v, 0.0f), 6.0f);
    if (act == "Elu") v = v < 0 ? std::exp(v) - 1.0f : v;
    if (act == "LeakyRelu") v = v < 0 ? 0.3f * v : v;
    if (act == "Prelu") v = v < 0 ? alpha[ch] * v : v;
    if (act == "Tanh") v = std::tanh(v);
    if (act == "Sigmoid") v = 1.0f / (1.0f + std::exp(-v));
    y[i] = v;
  }
  return y;
}

TEST(TfNnConv, FusedConvAndDepthwiseApplyBiasAndActivation) {
  std::mt19937 rng(4);
  Geo g{2, 7, 6, 3, 3, 3, 2, 2, 1, 1, "SAME"};
  Resolve(g);
  const int64_t o = 6;
  Tensor x = Random({g.n, g.h, g.w, g.c}, rng, -3, 3);
  Tensor f = Random({g.kh, g.kw, g.c, o}, rng);
  Tensor fd = Random({g.kh, g.kw, g.c, 2}, rng);
  Tensor bias = Random({o}, rng);
  Tensor alpha = Random({o}, rng, 0, 0.5f);
  for (std::string act : {"", "Relu", "Relu6", "Elu", "LeakyRelu", "Prelu", "Tanh", "Sigmoid"}) {
    SCOPED_TRACE(act);
    AttrMap a = ConvAttrs(g);
    std::vector<std::string> ops{"BiasAdd"};
    std::vector<Tensor> args{bias};
    if (!act.empty()) ops.push_back(act);
    if (act == "Prelu") args.push_back(alpha);
    if (act == "LeakyRelu") a["leakyrelu_alpha"] = Float(0.3f);
    a["fused_ops"] = Strs(ops);
    a["num_args"] = Int(static_cast<int64_t>(args.size()));
    std::vector<Tensor> in{x, f};
    in.insert(in.end(), args.begin(), args.end());
    auto r = RunOp(Node("_FusedConv2D", a), in);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    ExpectNear(r.outputs[0], {g.n, g.oh, g.ow, o},
               Activate(RefConv(g, x, f, o, false), o, Values(bias), act, Values(alpha)));
    in[1] = fd;  // depthwise: 3 channels x 2 = 6 outputs, same bias/alpha length
    for (const char* op : {"FusedDepthwiseConv2dNative", "_FusedDepthwiseConv2dNative"}) {
      auto rd = RunOp(Node(op, a), in);
      ASSERT_TRUE(rd.status.ok()) << rd.status.ToString();
      ExpectNear(rd.outputs[0], {g.n, g.oh, g.ow, o},
                 Activate(RefConv(g, x, fd, 0, true), o, Values(bias), act, Values(alpha)));
    }
  }
}

TEST(TfNnConv, FusedDepthwiseMultiplierOneBlockedPath) {
  // 19 channels: one block of 16 summed in registers from the bias, then a 3-channel tail.
  std::mt19937 rng(12);
  for (std::string act : {"", "Relu6", "Prelu"}) {
    Geo g{2, 9, 8, 19, 3, 3, 2, 1, 1, 1, "SAME"};
    Resolve(g);
    Tensor x = Random({g.n, g.h, g.w, g.c}, rng, -4, 4);
    Tensor f = Random({3, 3, g.c, 1}, rng);
    Tensor bias = Random({g.c}, rng), alpha = Random({g.c}, rng, 0, 0.5f);
    AttrMap a = ConvAttrs(g);
    std::vector<std::string> ops{"BiasAdd"};
    std::vector<Tensor> in{x, f, bias};
    if (!act.empty()) ops.push_back(act);
    if (act == "Prelu") in.push_back(alpha);
    a["fused_ops"] = Strs(ops);
    a["num_args"] = Int(static_cast<int64_t>(in.size()) - 2);
    auto r = RunOp(Node("FusedDepthwiseConv2dNative", a), in);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    ExpectNear(r.outputs[0], {g.n, g.oh, g.ow, g.c},
               Activate(RefConv(g, x, f, 0, true), g.c, Values(bias), act, Values(alpha)));
  }
}

TEST(TfNnConv, FusedConvPreluAlphaPerElement) {
  // Keras PReLU without shared axes: alpha [H,W,C], the same for every image of the batch.
  std::mt19937 rng(13);
  for (int64_t k : {1, 3}) {
    Geo g{2, 4, 5, 3, k, k, 1, 1, 1, 1, "SAME"};
    Resolve(g);
    const int64_t o = 4;
    Tensor x = Random({g.n, g.h, g.w, g.c}, rng), f = Random({k, k, g.c, o}, rng), bias = Random({o}, rng);
    Tensor alpha = Random({g.oh, g.ow, o}, rng, 0, 0.5f);
    AttrMap a = ConvAttrs(g);
    a["fused_ops"] = Strs({"BiasAdd", "Prelu"});
    a["num_args"] = Int(2);
    auto r = RunOp(Node("_FusedConv2D", a), {x, f, bias, alpha});
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    auto y = RefConv(g, x, f, o, false);
    const int64_t per_image = g.oh * g.ow * o;
    for (size_t i = 0; i < y.size(); ++i) {
      const float v = y[i] + bias.data<float>()[i % o];
      y[i] = v > 0 ? v : alpha.data<float>()[static_cast<int64_t>(i) % per_image] * v;
    }
    ExpectNear(r.outputs[0], {g.n, g.oh, g.ow, o}, y);
  }
}

TEST(TfNnConv, FusedConvWithBatchNorm) {
  std::mt19937 rng(5);
  Geo g{1, 6, 5, 2, 3, 3, 1, 1, 1, 1, "VALID"};
  Resolve(g);
  Tensor x = Random({1, 6, 5, 2}, rng);
  Tensor f = Random({3, 3, 2, 3}, rng);
  Tensor scale = F({3}, {1.5f, -0.5f, 2.0f}), offset = F({3}, {0.1f, 0.2f, 0.3f});
  Tensor mean = F({3}, {0.5f, -1.0f, 0.0f}), var = F({3}, {0.25f, 4.0f, 1.0f});
  AttrMap a = ConvAttrs(g);
  a["fused_ops"] = Strs({"FusedBatchNorm", "Relu"});
  a["num_args"] = Int(4);
  a["epsilon"] = Float(0.001f);
  auto r = RunOp(Node("_FusedConv2D", a), {x, f, scale, offset, mean, var});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  auto y = RefConv(g, x, f, 3, false);
  for (size_t i = 0; i < y.size(); ++i) {
    const size_t c = i % 3;
    const float v = (y[i] - mean.data<float>()[c]) / std::sqrt(var.data<float>()[c] + 0.001f) * scale.data<float>()[c] +
                    offset.data<float>()[c];
    y[i] = std::max(v, 0.0f);
  }
  ExpectNear(r.outputs[0], {1, g.oh, g.ow, 3}, y);
}

TEST(TfNnConv, FusedOpsHostile) {
  std::mt19937 rng(6);
  Tensor x = Random({1, 5, 5, 2}, rng), f = Random({3, 3, 2, 3}, rng), b = Random({3}, rng);
  auto run = [&](std::vector<std::string> ops, int64_t num_args, std::vector<Tensor> args) {
    AttrMap a{{"strides", Ints({1, 1, 1, 1})}, {"padding", Str("SAME")}, {"fused_ops", Strs(std::move(ops))},
              {"num_args", Int(num_args)}};
    std::vector<Tensor> in{x, f};
    in.insert(in.end(), args.begin(), args.end());
    return RunOp(Node("_FusedConv2D", a), in);
  };
  ExpectError(run({"BiasAdd"}, 1, {Random({4}, rng)}), "bias");
  ExpectError(run({"BiasAdd"}, 2, {b}), "args");
  ExpectError(run({"BiasAdd", "Gelu"}, 1, {b}), "fused_ops");
  ExpectError(run({"Relu"}, 0, {}), "fused_ops");
  ExpectError(run({"BiasAdd", "Prelu"}, 1, {b}), "fused_ops");
  ExpectError(run({"BiasAdd", "Prelu"}, 2, {b, Random({5}, rng)}), "alpha");
  ExpectError(run({"FusedBatchNorm"}, 4, {b, b, b}), "args");
}

TEST(TfNnConv, FusedMatMul) {
  std::mt19937 rng(7);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const int64_t m = 5, k = 7, n = 3;
      Tensor a = Random(ta ? Shape{k, m} : Shape{m, k}, rng);
      Tensor b = Random(tb ? Shape{n, k} : Shape{k, n}, rng);
      Tensor bias = Random({n}, rng);
      std::vector<float> want(static_cast<size_t>(m * n));
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double acc = 0;
          for (int64_t p = 0; p < k; ++p)
            acc += a.data<float>()[ta ? p * m + i : i * k + p] * b.data<float>()[tb ? j * k + p : p * n + j];
          want[static_cast<size_t>(i * n + j)] = static_cast<float>(acc);
        }
      for (std::string act : {"Relu", "Tanh", "Sigmoid"}) {
        auto r = RunOp(Node("_FusedMatMul", {{"transpose_a", Bool(ta)}, {"transpose_b", Bool(tb)},
                                             {"fused_ops", Strs({"BiasAdd", act})}, {"num_args", Int(1)}}),
                       {a, b, bias});
        ASSERT_TRUE(r.status.ok()) << r.status.ToString();
        ExpectNear(r.outputs[0], {m, n}, Activate(want, n, Values(bias), act));
      }
    }
  }
  ExpectError(RunOp(Node("_FusedMatMul", {{"fused_ops", Strs({"BiasAdd"})}, {"num_args", Int(1)}}),
                    {Random({2, 3}, rng), Random({4, 2}, rng), Random({2}, rng)}),
              "multiply");
}

// ---- Conv2DBackpropInput ----

TEST(TfNnConv, Conv2DBackpropInputMatchesNaiveReference) {
  std::mt19937 rng(8);
  const std::vector<Geo> shapes = {
      {1, 8, 8, 3, 3, 3, 2, 2, 1, 1, "SAME"},  // 2x upsampling, as in a segmentation decoder
      {2, 7, 7, 2, 3, 3, 2, 2, 1, 1, "SAME"},
      {1, 9, 8, 2, 3, 3, 2, 2, 1, 1, "VALID"},
      {1, 6, 6, 4, 2, 2, 2, 2, 1, 1, "VALID"},
      {1, 5, 7, 3, 3, 3, 1, 1, 1, 1, "SAME"},
  };
  for (Geo g : shapes) {
    Resolve(g);
    const int64_t o = 4;
    Tensor f = Random({g.kh, g.kw, g.c, o}, rng);
    Tensor dy = Random({g.n, g.oh, g.ow, o}, rng);
    Tensor sizes = I32({4}, {static_cast<int32_t>(g.n), static_cast<int32_t>(g.h), static_cast<int32_t>(g.w),
                             static_cast<int32_t>(g.c)});
    auto r = RunOp(Node("Conv2DBackpropInput", ConvAttrs(g)), {sizes, f, dy});
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    std::vector<float> want(static_cast<size_t>(g.n * g.h * g.w * g.c), 0.0f);
    for (int64_t b = 0; b < g.n; ++b)
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox)
          for (int64_t ky = 0; ky < g.kh; ++ky)
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t iy = oy * g.sh - g.pt + ky, ix = ox * g.sw - g.pl + kx;
              if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
              for (int64_t ci = 0; ci < g.c; ++ci)
                for (int64_t co = 0; co < o; ++co)
                  want[static_cast<size_t>(((b * g.h + iy) * g.w + ix) * g.c + ci)] +=
                      dy.data<float>()[((b * g.oh + oy) * g.ow + ox) * o + co] *
                      f.data<float>()[((ky * g.kw + kx) * g.c + ci) * o + co];
            }
    ExpectNear(r.outputs[0], {g.n, g.h, g.w, g.c}, want);
  }
  Tensor f = Random({3, 3, 2, 4}, rng), dy = Random({1, 4, 4, 4}, rng);
  AttrMap a{{"strides", Ints({1, 2, 2, 1})}, {"padding", Str("SAME")}};
  ExpectError(RunOp(Node("Conv2DBackpropInput", a), {I32({4}, {1, 1 << 30, 1 << 30, 2}), f, dy}));
  ExpectError(RunOp(Node("Conv2DBackpropInput", a), {I32({4}, {1, -8, 8, 2}), f, dy}));
  ExpectError(RunOp(Node("Conv2DBackpropInput", a), {I32({4}, {1, 12, 8, 2}), f, dy}), "forward output");
  ExpectError(RunOp(Node("Conv2DBackpropInput", a), {I32({4}, {1, 8, 8, 3}), f, dy}), "disagree");
  ExpectError(RunOp(Node("Conv2DBackpropInput", a), {I32({3}, {1, 8, 8}), f, dy}), "4 entries");
}

// ---- pooling ----

std::vector<float> RefPool(const Geo& g, const Tensor& x, bool max) {
  std::vector<float> y;
  for (int64_t b = 0; b < g.n; ++b)
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox)
        for (int64_t c = 0; c < g.c; ++c) {
          float m = -std::numeric_limits<float>::infinity();
          double s = 0;
          int count = 0;
          for (int64_t ky = 0; ky < g.kh; ++ky)
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              const int64_t iy = oy * g.sh - g.pt + ky, ix = ox * g.sw - g.pl + kx;
              if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
              const float v = x.data<float>()[((b * g.h + iy) * g.w + ix) * g.c + c];
              m = std::max(m, v);
              s += v;
              ++count;
            }
          y.push_back(max ? m : static_cast<float>(s / count));
        }
  return y;
}

TEST(TfNnPool, MaxAndAvgPoolMatchNaiveReference) {
  std::mt19937 rng(9);
  const std::vector<Geo> shapes = {
      {1, 5, 5, 3, 3, 3, 1, 1, 1, 1, "SAME"},  {2, 7, 6, 4, 3, 3, 2, 2, 1, 1, "SAME"},
      {1, 8, 9, 2, 2, 2, 2, 2, 1, 1, "VALID"}, {2, 9, 9, 11, 3, 2, 2, 1, 1, 1, "VALID"},
      {1, 6, 7, 17, 3, 3, 2, 2, 1, 1, "SAME"}, {1, 7, 7, 5, 7, 7, 1, 1, 1, 1, "VALID"},
      {1, 4, 4, 2, 5, 5, 3, 3, 1, 1, "SAME"},
  };
  for (Geo g : shapes) {
    Resolve(g);
    Tensor x = Random({g.n, g.h, g.w, g.c}, rng);
    AttrMap a{{"ksize", Ints({1, g.kh, g.kw, 1})}, {"strides", Ints({1, g.sh, g.sw, 1})}, {"padding", Str(g.padding)}};
    SCOPED_TRACE(ShapeString(x.shape()) + " " + g.padding);
    auto rm = RunOp(Node("MaxPool", a), {x});
    ASSERT_TRUE(rm.status.ok()) << rm.status.ToString();
    ExpectNear(rm.outputs[0], {g.n, g.oh, g.ow, g.c}, RefPool(g, x, true), 0);
    auto ra = RunOp(Node("AvgPool", a), {x});
    ASSERT_TRUE(ra.status.ok()) << ra.status.ToString();
    ExpectNear(ra.outputs[0], {g.n, g.oh, g.ow, g.c}, RefPool(g, x, false), 1e-6f);
    auto rv = RunOp(Node("MaxPoolV2", {{"padding", Str(g.padding)}}),
                    {x, I32({4}, {1, static_cast<int32_t>(g.kh), static_cast<int32_t>(g.kw), 1}),
                     I32({4}, {1, static_cast<int32_t>(g.sh), static_cast<int32_t>(g.sw), 1})});
    ASSERT_TRUE(rv.status.ok()) << rv.status.ToString();
    ExpectNear(rv.outputs[0], {g.n, g.oh, g.ow, g.c}, RefPool(g, x, true), 0);
  }
}

TEST(TfNnPool, AvgPoolSameCountsOnlyInBoundsLiteral) {
  // 3x3 window, stride 1, SAME on a 2x2 input: every window holds the 4 elements -> their mean.
  auto r = RunOp(Node("AvgPool", {{"ksize", Ints({1, 3, 3, 1})}, {"strides", Ints({1, 1, 1, 1})}, {"padding", Str("SAME")}}),
                 {F({1, 2, 2, 1}, {1, 2, 3, 6})});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectNear(r.outputs[0], {1, 2, 2, 1}, {3, 3, 3, 3}, 0);
  // 2x2 window, stride 2, SAME on 3x3: the last row/column windows hold 2 and 1 elements.
  auto r2 = RunOp(Node("AvgPool", {{"ksize", Ints({1, 2, 2, 1})}, {"strides", Ints({1, 2, 2, 1})}, {"padding", Str("SAME")}}),
                  {F({1, 3, 3, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9})});
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  ExpectNear(r2.outputs[0], {1, 2, 2, 1}, {3, 4.5f, 7.5f, 9}, 0);
}

TEST(TfNnPool, HostileAttrs) {
  Tensor x = F({1, 3, 3, 1}, std::vector<float>(9, 1.0f));
  auto pool = [&](AttrMap a) { return RunOp(Node("MaxPool", std::move(a)), {x}); };
  ExpectError(pool({{"ksize", Ints({1, 5, 5, 1})}, {"strides", Ints({1, 1, 1, 1})}, {"padding", Str("VALID")}}),
              "negative");
  ExpectError(pool({{"ksize", Ints({1, int64_t{1} << 62, 3, 1})}, {"strides", Ints({1, 1, 1, 1})}, {"padding", Str("SAME")}}),
              "ksize");
  ExpectError(pool({{"ksize", Ints({1, 0, 3, 1})}, {"strides", Ints({1, 1, 1, 1})}, {"padding", Str("SAME")}}), "ksize");
  ExpectError(pool({{"ksize", Ints({2, 2, 2, 1})}, {"strides", Ints({1, 1, 1, 1})}, {"padding", Str("SAME")}}), "ksize");
  ExpectError(pool({{"ksize", Ints({1, 2, 2, 1})}, {"strides", Ints({1, 0, 1, 1})}, {"padding", Str("SAME")}}), "strides");
  ExpectError(pool({{"ksize", Ints({1, 2, 2, 1})}, {"strides", Ints({1, 1, 1, 1})}}), "padding");
  ExpectError(RunOp(Node("AvgPool", {{"ksize", Ints({1, 2, 2, 1})}, {"strides", Ints({1, 1, 1, 1})},
                                     {"padding", Str("EXPLICIT")}}),
                    {x}),
              "padding");
  ExpectError(pool({{"ksize", Ints({1, 2, 2, 1})}, {"strides", Ints({1, 1, 1, 1})}, {"padding", Str("EXPLICIT")},
                    {"explicit_paddings", Ints({0, 0, 0, 5, 0, 0, 0, 0})}}),
              "smaller than the window");
  auto ex = pool({{"ksize", Ints({1, 2, 2, 1})}, {"strides", Ints({1, 2, 2, 1})}, {"padding", Str("EXPLICIT")},
                  {"explicit_paddings", Ints({0, 0, 1, 0, 1, 0, 0, 0})}});
  ASSERT_TRUE(ex.status.ok()) << ex.status.ToString();
  EXPECT_EQ(ex.outputs[0].shape(), (Shape{1, 2, 2, 1}));
  ExpectError(RunOp(Node("MaxPoolV2", {{"padding", Str("SAME")}}),
                    {x, I32({4}, {1, 2147483647, 2, 1}), I32({4}, {1, 1, 1, 1})}),
              "ksize");
  ExpectError(RunOp(Node("MaxPoolV2", {{"padding", Str("SAME")}}), {x, I32({2}, {2, 2}), I32({4}, {1, 1, 1, 1})}),
              "ksize");
}

// ---- resize ----

TEST(TfNnResize, BilinearLiteral2x2To4x4) {
  Tensor x = F({1, 2, 2, 1}, {1, 2, 3, 4});
  Tensor size = I32({2}, {4, 4});
  auto run = [&](bool align, bool half) {
    return RunOp(Node("ResizeBilinear", {{"align_corners", Bool(align)}, {"half_pixel_centers", Bool(half)}}), {x, size});
  };
  // half_pixel_centers: source = (i + 0.5) * 0.5 - 0.5 = -0.25, 0.25, 0.75, 1.25 (clamped at the edges).
  auto r = run(false, true);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectNear(r.outputs[0], {1, 4, 4, 1},
             {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4}, 0);
  // legacy: source = i * 0.5 = 0, 0.5, 1, 1.5 (upper clamped to 1).
  auto r2 = run(false, false);
  ASSERT_TRUE(r2.status.ok()) << r2.status.ToString();
  ExpectNear(r2.outputs[0], {1, 4, 4, 1}, {1, 1.5f, 2, 2, 2, 2.5f, 3, 3, 3, 3.5f, 4, 4, 3, 3.5f, 4, 4}, 0);
  // align_corners: scale (2 - 1) / (4 - 1), corners map onto corners.
  auto r3 = run(true, false);
  ASSERT_TRUE(r3.status.ok()) << r3.status.ToString();
  const float t = 1.0f / 3.0f;
  ExpectNear(r3.outputs[0], {1, 4, 4, 1},
             {1, 1 + t, 2 - t, 2, 1 + 2 * t, 1 + 3 * t, 2 + t, 2 + 2 * t, 3 - 2 * t, 3 - t, 4 - 3 * t, 4 - 2 * t, 3,
              3 + t, 4 - t, 4},
             1e-6f);
  ExpectError(run(true, true), "half_pixel_centers");
}

TEST(TfNnResize, BilinearTakesUint8AndInt32Images) {
  Tensor u8 = *Tensor::Make(DType::kUint8, {1, 2, 2, 1});
  Tensor i32 = I32({1, 2, 2, 1}, {1, 2, 3, 4});
  for (int i = 0; i < 4; ++i) u8.data<uint8_t>()[i] = static_cast<uint8_t>(i + 1);
  for (const Tensor& x : {u8, i32}) {
    auto r = RunOp(Node("ResizeBilinear", {{"half_pixel_centers", Bool(true)}}), {x, I32({2}, {4, 4})});
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.outputs[0].dtype(), DType::kFloat);
    ExpectNear(r.outputs[0], {1, 4, 4, 1},
               {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4}, 0);
  }
  ExpectError(RunOp(Node("ResizeNearestNeighbor"), {i32, I32({2}, {4, 4})}), "DT_FLOAT");
}

TEST(TfNnResize, NearestLiteral) {
  Tensor x = F({1, 1, 4, 1}, {10, 20, 30, 40});
  auto run = [&](bool align, bool half, int out_w) {
    return RunOp(Node("ResizeNearestNeighbor", {{"align_corners", Bool(align)}, {"half_pixel_centers", Bool(half)}}),
                 {x, I32({2}, {1, out_w})});
  };
  // Down 4 -> 3 (scale 4/3): half-pixel (i + 0.5) * s = 0.67, 2, 3.33 -> 0, 2, 3; legacy i * s -> 0, 1, 2;
  // align_corners: scale 3/2, round(0, 1.5, 3) -> 0, 2, 3.
  auto r = run(false, true, 3);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectNear(r.outputs[0], {1, 1, 3, 1}, {10, 30, 40}, 0);
  auto r2 = run(false, false, 3);
  ASSERT_TRUE(r2.status.ok());
  ExpectNear(r2.outputs[0], {1, 1, 3, 1}, {10, 20, 30}, 0);
  auto r3 = run(true, false, 3);
  ASSERT_TRUE(r3.status.ok());
  ExpectNear(r3.outputs[0], {1, 1, 3, 1}, {10, 30, 40}, 0);
  // Up 4 -> 8 half-pixel: (i + 0.5) / 2 -> 0,0,1,1,2,2,3,3.
  auto r4 = run(false, true, 8);
  ASSERT_TRUE(r4.status.ok());
  ExpectNear(r4.outputs[0], {1, 1, 8, 1}, {10, 10, 20, 20, 30, 30, 40, 40}, 0);
}

// TensorFlow's resize arithmetic, written per output element.
std::vector<float> RefBilinear(const Tensor& x, int64_t oh, int64_t ow, bool align, bool half) {
  const int64_t n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
  auto scale = [&](int64_t in, int64_t out) {
    return align && out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1)
                            : static_cast<float>(in) / static_cast<float>(out);
  };
  const float sh = scale(h, oh), sw = scale(w, ow);
  auto at = [&](int64_t b, int64_t y, int64_t xx, int64_t k) { return x.data<float>()[((b * h + y) * w + xx) * c + k]; };
  std::vector<float> out;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xx = 0; xx < ow; ++xx)
        for (int64_t k = 0; k < c; ++k) {
          const float fy = half ? (static_cast<float>(y) + 0.5f) * sh - 0.5f : static_cast<float>(y) * sh;
          const float fx = half ? (static_cast<float>(xx) + 0.5f) * sw - 0.5f : static_cast<float>(xx) * sw;
          const int64_t y0 = std::max<int64_t>(static_cast<int64_t>(std::floor(fy)), 0);
          const int64_t y1 = std::min<int64_t>(static_cast<int64_t>(std::ceil(fy)), h - 1);
          const int64_t x0 = std::max<int64_t>(static_cast<int64_t>(std::floor(fx)), 0);
          const int64_t x1 = std::min<int64_t>(static_cast<int64_t>(std::ceil(fx)), w - 1);
          const float ly = fy - std::floor(fy), lx = fx - std::floor(fx);
          const float top = at(b, y0, x0, k) + (at(b, y0, x1, k) - at(b, y0, x0, k)) * lx;
          const float bot = at(b, y1, x0, k) + (at(b, y1, x1, k) - at(b, y1, x0, k)) * lx;
          out.push_back(top + (bot - top) * ly);
        }
  return out;
}

TEST(TfNnResize, BilinearMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(10);
  struct Case {
    Shape in;
    int oh, ow;
  };
  for (const Case& c : {Case{{2, 5, 7, 3}, 9, 4}, Case{{1, 16, 9, 2}, 5, 20}, Case{{1, 1, 1, 4}, 3, 3},
                        Case{{2, 6, 6, 1}, 6, 6}, Case{{1, 9, 11, 3}, 18, 22}}) {
    Tensor x = Random(c.in, rng);
    for (int mode = 0; mode < 3; ++mode) {
      const bool align = mode == 1, half = mode == 2;
      auto r = RunOp(Node("ResizeBilinear", {{"align_corners", Bool(align)}, {"half_pixel_centers", Bool(half)}}),
                     {x, I32({2}, {c.oh, c.ow})});
      ASSERT_TRUE(r.status.ok()) << r.status.ToString();
      ExpectNear(r.outputs[0], {c.in[0], c.oh, c.ow, c.in[3]}, RefBilinear(x, c.oh, c.ow, align, half), 0);
    }
  }
}

TEST(TfNnResize, HostileSizes) {
  Tensor x = F({1, 2, 2, 1}, {1, 2, 3, 4});
  for (const char* op : {"ResizeBilinear", "ResizeNearestNeighbor"}) {
    ExpectError(RunOp(Node(op), {x, I32({2}, {0, 4})}), "positive");
    ExpectError(RunOp(Node(op), {x, I32({2}, {-3, 4})}), "positive");
    ExpectError(RunOp(Node(op), {x, I32({2}, {1 << 30, 1 << 30})}));
    ExpectError(RunOp(Node(op), {x, I32({3}, {1, 2, 3})}), "size");
    ExpectError(RunOp(Node(op), {F({2, 2}, {1, 2, 3, 4}), I32({2}, {2, 2})}), "rank");
    ExpectError(RunOp(Node(op), {*Tensor::Make(DType::kFloat, {1, 0, 2, 1}), I32({2}, {2, 2})}), "empty");
  }
}

// ---- batch norm, activations, softmax ----

TEST(TfNnBatchNorm, InferenceFormAndOutputs) {
  std::mt19937 rng(11);
  Tensor x = Random({2, 3, 2, 4}, rng);
  Tensor scale = F({4}, {1, 2, 0.5f, -1}), offset = F({4}, {0, 1, -1, 0.5f});
  Tensor mean = F({4}, {0.1f, -0.2f, 0.3f, 0}), var = F({4}, {1, 0.5f, 2, 0.1f});
  for (const char* op : {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}) {
    auto r = RunOp(Node(op, {{"epsilon", Float(0.001f)}, {"is_training", Bool(false)}}), {x, scale, offset, mean, var});
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    ASSERT_EQ(r.outputs.size(), std::string(op) == "FusedBatchNormV3" ? 6u : 5u);
    std::vector<float> want;
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      const size_t c = static_cast<size_t>(i % 4);
      want.push_back((x.data<float>()[i] - Values(mean)[c]) / std::sqrt(Values(var)[c] + 0.001f) * Values(scale)[c] +
                     Values(offset)[c]);
    }
    ExpectNear(r.outputs[0], x.shape(), want, 1e-5f);
    EXPECT_EQ(Values(r.outputs[1]), Values(mean));
    EXPECT_EQ(Values(r.outputs[2]), Values(var));
    if (r.outputs.size() == 6) {
      EXPECT_EQ(r.outputs[5].num_elements(), 0);
    }
  }
  ExpectError(RunOp(Node("FusedBatchNormV3", {{"is_training", Bool(false)}}), {x, F({3}, {1, 1, 1}), offset, mean, var}),
              "scale");
  ExpectError(RunOp(Node("FusedBatchNormV3", {{"is_training", Bool(false)}, {"data_format", Str("NCHW")}}),
                    {x, scale, offset, mean, var}),
              "data_format");
}

TEST(TfNnBatchNorm, TrainingModeUsesBatchMoments) {
  Tensor x = F({1, 2, 2, 1}, {1, 2, 3, 6});  // mean 3, biased var 3.5, corrected 14/3
  Tensor one = F({1}, {1}), zero = F({1}, {0}), empty = *Tensor::Make(DType::kFloat, {0});
  auto r = RunOp(Node("FusedBatchNormV3", {{"epsilon", Float(0)}}), {x, one, zero, empty, empty});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  const float sd = std::sqrt(3.5f);
  ExpectNear(r.outputs[0], {1, 2, 2, 1}, {-2 / sd, -1 / sd, 0, 3 / sd}, 1e-5f);
  ExpectNear(r.outputs[1], {1}, {3}, 1e-6f);
  ExpectNear(r.outputs[2], {1}, {14.0f / 3.0f}, 1e-6f);
}

TEST(TfNnActivation, ElementwiseValues) {
  Tensor x = F({6}, {-3, -1, -0.5f, 0, 2, 7});
  auto run = [&](const char* op, AttrMap a = {}) {
    auto r = RunOp(Node(op, std::move(a)), {x});
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
    return r.outputs.empty() ? Tensor() : r.outputs[0];
  };
  ExpectNear(run("Relu"), {6}, {0, 0, 0, 0, 2, 7}, 0);
  ExpectNear(run("Relu6"), {6}, {0, 0, 0, 0, 2, 6}, 0);
  ExpectNear(run("LeakyRelu", {{"alpha", Float(0.1f)}}), {6}, {-0.3f, -0.1f, -0.05f, 0, 2, 7}, 1e-6f);
  ExpectNear(run("LeakyRelu"), {6}, {-0.6f, -0.2f, -0.1f, 0, 2, 7}, 1e-6f);
  ExpectNear(run("Elu"), {6}, {std::expm1(-3.0f), std::expm1(-1.0f), std::expm1(-0.5f), 0, 2, 7}, 1e-6f);
  const float a = 1.6732632f, s = 1.0507010f;
  ExpectNear(run("Selu"), {6}, {s * a * std::expm1(-3.0f), s * a * std::expm1(-1.0f), s * a * std::expm1(-0.5f), 0, 2 * s, 7 * s},
             1e-5f);
  ExpectNear(run("Softsign"), {6}, {-0.75f, -0.5f, -1.0f / 3, 0, 2.0f / 3, 7.0f / 8}, 1e-6f);
  std::vector<float> sp;
  for (float v : Values(x)) sp.push_back(std::log1p(std::exp(v)));
  ExpectNear(run("Softplus"), {6}, sp, 1e-5f);
  auto big = RunOp(Node("Softplus"), {F({3}, {100, -100, 20})});
  ASSERT_TRUE(big.status.ok());
  ExpectNear(big.outputs[0], {3}, {100, std::exp(-100.0f), 20}, 1e-6f);
  ExpectError(RunOp(Node("Relu"), {*Tensor::Make(DType::kInt64, {2})}), "DT_FLOAT");
  ExpectError(RunOp(Node("Relu"), {x, x}), "inputs");
}

TEST(TfNnActivation, PreluBroadcastsAlpha) {
  Tensor x = F({1, 2, 2, 3}, {-1, 2, -3, 4, -5, 6, -7, 8, -9, 10, -11, 12});
  auto r = RunOp(Node("Prelu"), {x, F({3}, {0.1f, 0.2f, 0.3f})});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectNear(r.outputs[0], {1, 2, 2, 3}, {-0.1f, 2, -0.9f, 4, -1.0f, 6, -0.7f, 8, -2.7f, 10, -2.2f, 12}, 1e-6f);
  auto r2 = RunOp(Node("Prelu"), {x, F({1, 1, 3}, {0.1f, 0.2f, 0.3f})});
  ASSERT_TRUE(r2.status.ok());
  EXPECT_EQ(Values(r2.outputs[0]), Values(r.outputs[0]));
  // Per-row alpha [2,1,1]: rows y=0 get 0.5, y=1 get 0.25.
  auto r3 = RunOp(Node("Prelu"), {x, F({2, 1, 1}, {0.5f, 0.25f})});
  ASSERT_TRUE(r3.status.ok());
  ExpectNear(r3.outputs[0], {1, 2, 2, 3}, {-0.5f, 2, -1.5f, 4, -2.5f, 6, -1.75f, 8, -2.25f, 10, -2.75f, 12}, 1e-6f);
  ExpectError(RunOp(Node("Prelu"), {x, F({4}, {1, 1, 1, 1})}), "broadcast");
  ExpectError(RunOp(Node("Prelu"), {x, F({1, 1, 1, 1, 3}, {1, 1, 1})}), "broadcast");
}

TEST(TfNnActivation, SoftmaxAndLogSoftmaxAreStable) {
  Tensor x = F({2, 3}, {1000, 1001, 1002, -1, 0, 1});
  auto r = RunOp(Node("Softmax"), {x});
  ASSERT_TRUE(r.status.ok());
  const float e1 = std::exp(-1.0f), e2 = std::exp(-2.0f), z = 1 + e1 + e2;
  ExpectNear(r.outputs[0], {2, 3}, {e2 / z, e1 / z, 1 / z, e2 / z, e1 / z, 1 / z}, 1e-6f);
  auto l = RunOp(Node("LogSoftmax"), {x});
  ASSERT_TRUE(l.status.ok());
  const float lz = std::log(z);
  ExpectNear(l.outputs[0], {2, 3}, {-2 - lz, -1 - lz, -lz, -2 - lz, -1 - lz, -lz}, 1e-5f);
  ExpectError(RunOp(Node("Softmax"), {F({}, {1})}), "rank");
  auto e = RunOp(Node("Softmax"), {*Tensor::Make(DType::kFloat, {3, 0})});
  ASSERT_TRUE(e.status.ok());
  EXPECT_EQ(e.outputs[0].shape(), (Shape{3, 0}));
}

TEST(TfNnMisc, LrnDepthToSpaceSpaceToDepth) {
  Tensor x = F({1, 1, 1, 3}, {1, 2, 3});
  auto r = RunOp(Node("LRN", {{"depth_radius", Int(1)}, {"bias", Float(1)}, {"alpha", Float(1)}, {"beta", Float(1)}}), {x});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ExpectNear(r.outputs[0], {1, 1, 1, 3}, {1.0f / 6, 2.0f / 15, 3.0f / 14}, 1e-6f);
  // DepthToSpace block 2: [1,1,2,4] -> [1,2,4,1]; pixel (0,w) channels (dy*2+dx) land at (dy, 2w+dx).
  Tensor d = F({1, 1, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  auto ds = RunOp(Node("DepthToSpace", {{"block_size", Int(2)}}), {d});
  ASSERT_TRUE(ds.status.ok()) << ds.status.ToString();
  ExpectNear(ds.outputs[0], {1, 2, 4, 1}, {1, 2, 5, 6, 3, 4, 7, 8}, 0);
  auto sd = RunOp(Node("SpaceToDepth", {{"block_size", Int(2)}}), {ds.outputs[0]});
  ASSERT_TRUE(sd.status.ok()) << sd.status.ToString();
  ExpectNear(sd.outputs[0], {1, 1, 2, 4}, Values(d), 0);
  ExpectError(RunOp(Node("DepthToSpace", {{"block_size", Int(3)}}), {d}), "divisible");
  ExpectError(RunOp(Node("SpaceToDepth", {{"block_size", Int(1)}}), {d}), "block_size");
  ExpectError(RunOp(Node("SpaceToDepth", {{"block_size", Int(int64_t{1} << 40)}}), {d}), "block_size");
}

// ---- non-max suppression ----

Tensor ClusterBoxes() {
  return F({6, 4}, {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, -0.1f, 1, 0.9f, 0, 10, 1, 11, 0, 10.1f, 1, 11.1f, 0, 100, 1, 101});
}
Tensor ClusterScores() { return F({6}, {0.9f, 0.75f, 0.6f, 0.95f, 0.5f, 0.3f}); }
std::vector<int32_t> Ints32(const Tensor& t) { return {t.data<int32_t>(), t.data<int32_t>() + t.num_elements()}; }

TEST(TfNnNms, SelectsFromThreeClusters) {
  auto max = Tensor::Scalar<int32_t>(DType::kInt32, 3);
  auto iou = Tensor::Scalar<float>(DType::kFloat, 0.5f);
  auto r = RunOp(Node("NonMaxSuppressionV3"), {ClusterBoxes(), ClusterScores(), max, iou,
                                              Tensor::Scalar<float>(DType::kFloat, 0.0f)});
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Ints32(r.outputs[0]), (std::vector<int32_t>{3, 0, 5}));
  auto r2 = RunOp(Node("NonMaxSuppressionV2"), {ClusterBoxes(), ClusterScores(), max, iou});
  ASSERT_TRUE(r2.status.ok());
  EXPECT_EQ(Ints32(r2.outputs[0]), (std::vector<int32_t>{3, 0, 5}));
  // score_threshold 0.4 leaves two, padded to 3 with valid_outputs 2.
  auto r4 = RunOp(Node("NonMaxSuppressionV4", {{"pad_to_max_output_size", Bool(true)}}),
                  {ClusterBoxes(), ClusterScores(), max, iou, Tensor::Scalar<float>(DType::kFloat, 0.4f)});
  ASSERT_TRUE(r4.status.ok()) << r4.status.ToString();
  ASSERT_EQ(r4.outputs.size(), 2u);
  EXPECT_EQ(Ints32(r4.outputs[0]), (std::vector<int32_t>{3, 0, 0}));
  EXPECT_EQ(r4.outputs[1].data<int32_t>()[0], 2);
}

TEST(TfNnNms, V5HardAndSoft) {
  auto thr = Tensor::Scalar<float>(DType::kFloat, 0.0f);
  auto hard = RunOp(Node("NonMaxSuppressionV5"), {ClusterBoxes(), ClusterScores(), Tensor::Scalar<int32_t>(DType::kInt32, 6),
                                                  Tensor::Scalar<float>(DType::kFloat, 0.5f), thr, thr});
  ASSERT_TRUE(hard.status.ok()) << hard.status.ToString();
  ASSERT_EQ(hard.outputs.size(), 3u);
  EXPECT_EQ(Ints32(hard.outputs[0]), (std::vector<int32_t>{3, 0, 5}));
  ExpectNear(hard.outputs[1], {3}, {0.95f, 0.9f, 0.3f}, 0);
  EXPECT_EQ(hard.outputs[2].data<int32_t>()[0], 3);
  // Soft-NMS (sigma 0.5, iou_threshold 1): TensorFlow's own test expects this order and these decayed scores.
  auto soft = RunOp(Node("NonMaxSuppressionV5"),
                    {ClusterBoxes(), ClusterScores(), Tensor::Scalar<int32_t>(DType::kInt32, 6),
                     Tensor::Scalar<float>(DType::kFloat, 1.0f), thr, Tensor::Scalar<float>(DType::kFloat, 0.5f)});
  ASSERT_TRUE(soft.status.ok()) << soft.status.ToString();
  EXPECT_EQ(Ints32(soft.outputs[0]), (std::vector<int32_t>{3, 0, 1, 5, 4, 2}));
  ExpectNear(soft.outputs[1], {6}, {0.95f, 0.9f, 0.384f, 0.3f, 0.256f, 0.197f}, 2e-3f);
}

TEST(TfNnNms, Hostile) {
  auto thr = Tensor::Scalar<float>(DType::kFloat, 0.0f);
  auto iou = Tensor::Scalar<float>(DType::kFloat, 0.5f);
  ExpectError(RunOp(Node("NonMaxSuppressionV3"), {ClusterBoxes(), ClusterScores(), Tensor::Scalar<int32_t>(DType::kInt32, -1),
                                                 iou, thr}),
              "max_output_size");
  ExpectError(RunOp(Node("NonMaxSuppressionV3"),
                    {ClusterBoxes(), F({5}, {1, 1, 1, 1, 1}), Tensor::Scalar<int32_t>(DType::kInt32, 3), iou, thr}),
              "boxes");
  ExpectError(RunOp(Node("NonMaxSuppressionV3"), {ClusterBoxes(), ClusterScores(), Tensor::Scalar<int32_t>(DType::kInt32, 3),
                                                 Tensor::Scalar<float>(DType::kFloat, 1.5f), thr}),
              "iou_threshold");
  ExpectError(RunOp(Node("NonMaxSuppressionV5"), {ClusterBoxes(), ClusterScores(), Tensor::Scalar<int32_t>(DType::kInt32, 3),
                                                 iou, thr, Tensor::Scalar<float>(DType::kFloat, -1.0f)}),
              "soft_nms_sigma");
  ExpectError(RunOp(Node("NonMaxSuppressionV3"), {ClusterBoxes(), ClusterScores()}), "inputs");
}

}  // namespace
}  // namespace inferd::tf
