// ParseExample / ParseExampleV2 (tf/kernels_example.cc) on tf.Examples built by tf/example.h, TensorFlow's own
// serialized Example from half_plus_two's expected outputs, and malformed input; and tf/example.h's Input reader.
#include <gtest/gtest.h>

#include "tf/example.h"
#include "tf/example.pb.h"
#include "tf/executor.h"
#include "tf/tf_kernel_testing.h"

namespace inferd::tf {
namespace {

using testing::AInt;
using testing::AShapes;
using testing::ATypes;
using testing::F32;
using testing::I64;
using testing::RunOp;
using testing::Str;
using testing::Values;
using Kind = ExampleFeature::Kind;

ExampleFeature Floats(std::vector<float> v) { return {Kind::kFloat, {}, std::move(v), {}}; }
ExampleFeature Ints(std::vector<int64_t> v) { return {Kind::kInt64, {}, {}, std::move(v)}; }
ExampleFeature Bytes(std::vector<std::string> v) { return {Kind::kBytes, std::move(v), {}, {}}; }

Tensor Scalar(const std::string& s) { return Str({}, {s}); }

// ParseExample with dense keys x (float [2]), n (int64 []), s (string []) and sparse key tags (string).
testing::OpResult ParseV1(const std::vector<std::string>& serialized, Tensor x_default = F32({0}, {})) {
  const auto b = static_cast<int64_t>(serialized.size());
  return RunOp("ParseExample",
               {Str({b}, serialized), Str({0}, {}), Scalar("tags"), Scalar("x"), Scalar("n"), Scalar("s"),
                std::move(x_default), I64({}, {-1}), Str({}, {"none"})},
               {{"Nsparse", AInt(1)},
                {"Ndense", AInt(3)},
                {"sparse_types", ATypes({DType::kString})},
                {"Tdense", ATypes({DType::kFloat, DType::kInt64, DType::kString})},
                {"dense_shapes", AShapes({{2}, {}, {}})}});
}

TEST(TfExampleKernels, DenseAndSparseFeaturesWithDefaults) {
  const std::string a = SerializeExample({{"x", Floats({1.5f, 2})}, {"n", Ints({7})}, {"tags", Bytes({"p", "q"})}});
  const std::string b = SerializeExample({{"x", Floats({-1, 0.25f})}, {"s", Bytes({"hello"})}, {"tags", Bytes({"r"})}});
  auto r = ParseV1({a, b});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  ASSERT_EQ(r.out.size(), 6u);  // sparse indices, values, shape; dense x, n, s
  EXPECT_EQ(Values<int64_t>(r[0]), (std::vector<int64_t>{0, 0, 0, 1, 1, 0}));
  EXPECT_EQ(r[1].strings(), (std::vector<std::string>{"p", "q", "r"}));
  EXPECT_EQ(Values<int64_t>(r[2]), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(r[3].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(r[3]), (std::vector<float>{1.5f, 2, -1, 0.25f}));
  EXPECT_EQ(Values<int64_t>(r[4]), (std::vector<int64_t>{7, -1}));  // b has no n: the default
  EXPECT_EQ(r[5].strings(), (std::vector<std::string>{"none", "hello"}));
}

TEST(TfExampleKernels, MissingRequiredWrongTypeWrongCountAndGarbageAreErrors) {
  const std::string no_x = SerializeExample({{"n", Ints({1})}});
  auto missing = ParseV1({no_x});
  EXPECT_EQ(missing.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status.message().find("'x'"), std::string::npos) << missing.status.message();
  auto with_default = ParseV1({no_x}, F32({2}, {3, 4}));
  ASSERT_TRUE(with_default.status.ok()) << with_default.status.message();
  EXPECT_EQ(Values<float>(with_default[3]), (std::vector<float>{3, 4}));
  auto wrong_type = ParseV1({SerializeExample({{"x", Ints({1, 2})}})});
  EXPECT_NE(wrong_type.status.message().find("don't match"), std::string::npos) << wrong_type.status.message();
  auto wrong_count = ParseV1({SerializeExample({{"x", Floats({1, 2, 3})}})});
  EXPECT_NE(wrong_count.status.message().find("3 values"), std::string::npos) << wrong_count.status.message();
  auto garbage = ParseV1({std::string("\x0a\xff\xff\xff\xff\x0f", 6)});
  EXPECT_NE(garbage.status.message().find("could not parse example input 0"), std::string::npos) << garbage.status.message();
}

TEST(TfExampleKernels, TensorFlowsOwnSerializedExampleParses) {
  // half_plus_two's expected_outputs.json input {x: [1.0]}, serialized by TensorFlow.
  const std::string tf_bytes("\x0a\x0f\x0a\x0d\x0a\x01x\x12\x08\x12\x06\x0a\x04\x00\x00\x80\x3f", 17);
  auto f = ParseExampleProto(tf_bytes, 0);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->contains("x"));
  EXPECT_EQ(f->at("x").floats, (std::vector<float>{1.0f}));
  auto r = RunOp("ParseExampleV2", {Str({1}, {tf_bytes}), Str({0}, {}), Str({0}, {}), Str({1}, {"x"}), Str({0}, {}),
                                    F32({0}, {})},
                 {{"Tdense", ATypes({DType::kFloat})}, {"num_sparse", AInt(0)}, {"dense_shapes", AShapes({{1}})}});
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(r[0].shape(), (Shape{1, 1}));
  EXPECT_EQ(Values<float>(r[0]), (std::vector<float>{1.0f}));
}

TEST(TfExampleKernels, UnsupportedShapesAreRefusedByName) {
  auto varlen = RunOp("ParseExampleV2",
                      {Str({1}, {""}), Str({0}, {}), Str({0}, {}), Str({1}, {"v"}), Str({0}, {}), F32({0}, {})},
                      {{"Tdense", ATypes({DType::kFloat})}, {"dense_shapes", AShapes({{-1}})}});
  EXPECT_NE(varlen.status.message().find("variable-length dense feature 'v'"), std::string::npos) << varlen.status.message();
  auto ragged = RunOp("ParseExampleV2", {Str({1}, {""}), Str({0}, {}), Str({0}, {}), Str({0}, {}), Str({1}, {"r"})},
                      {{"ragged_value_types", ATypes({DType::kFloat})}});
  EXPECT_NE(ragged.status.message().find("ragged"), std::string::npos) << ragged.status.message();
}

// Inside a function body (a TF2 export), `p:dense_values:0` is the flat output after the 3 x num_sparse sparse
// outputs: the inliner sizes ParseExample's list outputs from its attrs.
TEST(TfExampleKernels, DenseOutputOfParseExampleV2InAFunctionBody) {
  FunctionDef f;
  f.name = "parse";
  const std::vector<std::string> args = {"ser", "names", "sk", "dk", "rk", "dflt"};
  for (const std::string& a : args) f.input_args.push_back(ArgDef{a, a == "dflt" ? DType::kFloat : DType::kString, "", "", ""});
  f.output_args = {ArgDef{"dense", DType::kFloat, "", "", ""}};
  f.nodes = {NodeDef{"p", "ParseExampleV2", args, "",
                     {{"Tdense", ATypes({DType::kFloat})},
                      {"num_sparse", AInt(1)},
                      {"sparse_types", ATypes({DType::kInt64})},
                      {"dense_shapes", AShapes({{2}})}}}};
  f.ret = {{"dense", "p:dense_values:0"}};
  GraphDef g;
  g.functions = {f};
  for (const std::string& a : args) {
    g.nodes.push_back(NodeDef{a, "Placeholder", {}, "", {{"dtype", testing::AType(a == "dflt" ? DType::kFloat : DType::kString)}}});
  }
  g.nodes.push_back(NodeDef{"call", "parse", args, "", {}});
  auto e = Compile(g, args, {"call:0"}, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  const std::string ex = SerializeExample({{"v", Floats({0.5f, 4})}, {"ids", Ints({3})}});
  std::vector<Tensor> out;
  RunContext ctx{nullptr, nullptr};
  const std::vector<Tensor> feeds = {Str({1}, {ex}), Str({0}, {}), Str({1}, {"ids"}), Str({1}, {"v"}), Str({0}, {}), F32({0}, {})};
  Status st = (*e)->Run(feeds, &out, ctx);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(Values<float>(out[0]), (std::vector<float>{0.5f, 4}));
}

// Attr values the kernels do not implement fail the compile (a model's load), naming the node.
TEST(TfExampleKernels, UnsupportedAttrsAreRefusedWhenTheGraphCompiles) {
  auto ph = [](const std::string& name) {
    return NodeDef{name, "Placeholder", {}, "", {{"dtype", testing::AType(DType::kString)}}};
  };
  GraphDef g;
  g.nodes = {ph("ser"), ph("names"), ph("sk"), ph("dk"), ph("rk"), ph("d"),
             NodeDef{"varlen", "ParseExampleV2", {"ser", "names", "sk", "dk", "rk", "d"}, "",
                     {{"Tdense", ATypes({DType::kString})}, {"dense_shapes", AShapes({{-1}})}}},
             NodeDef{"png16", "DecodePng", {"ser"}, "", {{"dtype", testing::AType(DType::kUint16)}}}};
  auto e = Compile(g, {"ser", "names", "sk", "dk", "rk", "d"}, {"varlen:0"}, {});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(e.status().message().find("ParseExampleV2 'varlen'"), std::string::npos) << e.status().message();
  e = Compile(g, {"ser"}, {"png16:0"}, {});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(e.status().message().find("DecodePng 'png16'"), std::string::npos) << e.status().message();
}

TEST(TfExampleKernels, ServingInputWithContext) {
  tfproto::ServingInput in;
  auto* list = in.mutable_example_list_with_context();
  tfproto::Example ctx;
  ASSERT_TRUE(ctx.ParseFromString(SerializeExample({{"x", Floats({9, 9})}, {"n", Ints({5})}})));
  *list->mutable_context() = ctx;
  ASSERT_TRUE(list->add_examples()->ParseFromString(SerializeExample({{"x", Floats({1, 2})}})));
  ASSERT_TRUE(list->add_examples()->ParseFromString(SerializeExample({})));
  auto serialized = SerializedExamplesFromInput(in.SerializeAsString());
  ASSERT_TRUE(serialized.ok()) << serialized.status().message();
  auto r = ParseV1(*serialized);
  ASSERT_TRUE(r.status.ok()) << r.status.message();
  EXPECT_EQ(Values<float>(r[3]), (std::vector<float>{1, 2, 9, 9}));  // the example's own x wins over the context's
  EXPECT_EQ(Values<int64_t>(r[4]), (std::vector<int64_t>{5, 5}));
  EXPECT_EQ(SerializedExamplesFromInput("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SerializedExamplesFromInput("\xff\xff").status().code(), StatusCode::kInvalidArgument);
}

// Both front ends' bound: a context is copied into every example, so the bytes are counted after copying.
TEST(TfExampleKernels, ExamplesPerRequestAreBounded) {
  std::vector<std::string> out;
  size_t total = 0;
  const std::string context(1 << 20, 'c');
  for (size_t i = 0; i < (kMaxExamplesBytes >> 20); ++i) {
    ASSERT_TRUE(AppendExampleWithContext(context, "", &out, &total).ok()) << i;
  }
  EXPECT_EQ(total, kMaxExamplesBytes);
  Status st = AppendExampleWithContext("", "e", &out, &total);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("MiB in one request"), std::string::npos) << st.message();
  EXPECT_EQ(out.size(), kMaxExamplesBytes >> 20);
  out.clear();
  total = 0;
  for (size_t i = 0; i < kMaxExamples; ++i) ASSERT_TRUE(AppendExampleWithContext("", "", &out, &total).ok());
  st = AppendExampleWithContext("", "", &out, &total);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("examples in one request"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace inferd::tf
