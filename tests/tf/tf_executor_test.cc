// The graph executor (tf/executor.h) on hand-built graphs, with a local registry of tiny test kernels (the real
// array/math kernels are written elsewhere) plus the real state kernels (kernels_state.cc).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "tf/checkpoint.h"
#include "tf/executor.h"

namespace inferd::tf {
namespace {

std::atomic<int> g_add_calls{0};

Tensor Floats(std::vector<float> v, Shape shape = {}) {
  if (shape.empty() && v.size() != 1) shape = {static_cast<int64_t>(v.size())};
  Tensor t = *Tensor::Make(DType::kFloat, shape);
  for (size_t i = 0; i < v.size(); ++i) t.data<float>()[i] = v[i];
  return t;
}

Tensor Strings(std::vector<std::string> v) {
  Tensor t = *Tensor::Make(DType::kString, {static_cast<int64_t>(v.size())});
  t.strings() = std::move(v);
  return t;
}

std::vector<float> Values(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.num_elements());
}

// Elementwise float binary op; b may be a scalar.
template <typename F>
Status Binary(KernelContext& ctx, F f) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& a = ctx.inputs[0];
  const Tensor& b = ctx.inputs[1];
  if (a.dtype() != DType::kFloat || b.dtype() != DType::kFloat) return KernelError(ctx, "float only");
  if (b.num_elements() != 1 && b.shape() != a.shape()) return KernelError(ctx, "shape mismatch");
  ASSIGN_OR_RETURN(Tensor out, Tensor::Make(DType::kFloat, a.shape()));
  for (int64_t i = 0; i < a.num_elements(); ++i) {
    out.data<float>()[i] = f(a.data<float>()[i], b.data<float>()[b.num_elements() == 1 ? 0 : i]);
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status AddK(KernelContext& ctx) {
  ++g_add_calls;
  return Binary(ctx, [](float x, float y) { return x + y; });
}
Status MulK(KernelContext& ctx) {
  return Binary(ctx, [](float x, float y) { return x * y; });
}
Status IdentityK(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  ctx.outputs.push_back(ctx.inputs[0]);
  return Status::Ok();
}
Status FailK(KernelContext& ctx) { return KernelError(ctx, "always fails"); }
// Two outputs: the input and its negation.
Status SplitSignK(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  ctx.outputs.push_back(ctx.inputs[0]);
  ASSIGN_OR_RETURN(Tensor neg, Tensor::Make(DType::kFloat, ctx.inputs[0].shape()));
  for (int64_t i = 0; i < neg.num_elements(); ++i) neg.data<float>()[i] = -ctx.inputs[0].data<float>()[i];
  ctx.outputs.push_back(std::move(neg));
  return Status::Ok();
}
// Multiplies by attr k.
Status ScaleK(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  ASSIGN_OR_RETURN(float k, AttrFloat(ctx.node, "k"));
  ASSIGN_OR_RETURN(Tensor out, Tensor::Make(DType::kFloat, ctx.inputs[0].shape()));
  for (int64_t i = 0; i < out.num_elements(); ++i) out.data<float>()[i] = k * ctx.inputs[0].data<float>()[i];
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}
// Fill(dims int32, value float).
Status FillK(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  Shape s(ctx.inputs[0].data<int32_t>(), ctx.inputs[0].data<int32_t>() + ctx.inputs[0].num_elements());
  ASSIGN_OR_RETURN(Tensor out, Tensor::Make(DType::kFloat, s));
  for (int64_t i = 0; i < out.num_elements(); ++i) out.data<float>()[i] = ctx.inputs[1].data<float>()[0];
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

const KernelRegistry& TestKernels() {
  static const KernelRegistry* r = [] {
    auto* reg = new KernelRegistry();
    RegisterStateKernels(*reg);
    reg->Register("Add", {AddK, false});
    reg->Register("Mul", {MulK, false});
    reg->Register("Identity", {IdentityK, false});
    reg->Register("Fail", {FailK, false});
    reg->Register("SplitSign", {SplitSignK, false});
    reg->Register("Scale", {ScaleK, false});
    reg->Register("Fill", {FillK, false});
    reg->Register("TopKV2", {SplitSignK, false});  // outputs "values", "indices": stands in for the layout
    return reg;
  }();
  return *r;
}

// ---- graph building ----

NodeDef N(std::string name, std::string op, std::vector<std::string> inputs = {}, AttrMap attrs = {}) {
  NodeDef n;
  n.name = std::move(name);
  n.op = std::move(op);
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  return n;
}

AttrValue TypeA(DType t) {
  AttrValue a;
  a.kind = AttrValue::Kind::kType;
  a.type = t;
  return a;
}
AttrValue ShapeA(std::vector<int64_t> dims, bool unknown_rank = false) {
  AttrValue a;
  a.kind = AttrValue::Kind::kShape;
  a.shape.unknown_rank = unknown_rank;
  a.shape.dims = std::move(dims);
  return a;
}
AttrValue TensorA(Tensor t) {
  AttrValue a;
  a.kind = AttrValue::Kind::kTensor;
  a.tensor = std::move(t);
  return a;
}
AttrValue StrA(std::string s) {
  AttrValue a;
  a.kind = AttrValue::Kind::kS;
  a.s = std::move(s);
  return a;
}
AttrValue FloatA(float f) {
  AttrValue a;
  a.kind = AttrValue::Kind::kF;
  a.f = f;
  return a;
}
AttrValue FuncA(std::string name) {
  AttrValue a;
  a.kind = AttrValue::Kind::kFunc;
  a.func = std::make_shared<FuncAttr>();
  a.func->name = std::move(name);
  return a;
}
AttrValue PlaceholderA(std::string name) {
  AttrValue a;
  a.kind = AttrValue::Kind::kPlaceholder;
  a.s = std::move(name);
  return a;
}
AttrValue TypesA(std::vector<DType> ts) {
  AttrValue a;
  a.kind = AttrValue::Kind::kList;
  a.list = std::make_shared<AttrList>();
  a.list->type = std::move(ts);
  return a;
}

NodeDef Ph(std::string name, std::vector<int64_t> shape = {}, bool unknown_rank = true, DType t = DType::kFloat) {
  return N(std::move(name), "Placeholder", {},
           {{"dtype", TypeA(t)}, {"shape", ShapeA(std::move(shape), unknown_rank)}});
}
NodeDef C(std::string name, Tensor v) { return N(std::move(name), "Const", {}, {{"value", TensorA(std::move(v))}}); }
NodeDef Var(std::string name, std::string shared) {
  return N(std::move(name), "VarHandleOp", {},
           {{"shared_name", StrA(std::move(shared))}, {"dtype", TypeA(DType::kFloat)}});
}

ArgDef Arg(std::string name, DType t = DType::kFloat) {
  ArgDef a;
  a.name = std::move(name);
  a.type = t;
  return a;
}

StatusOr<std::unique_ptr<Executable>> Build(const GraphDef& g, std::vector<std::string> feeds,
                                            std::vector<std::string> fetches, std::vector<std::string> targets = {},
                                            CompileOptions opt = {}) {
  return Compile(g, std::move(feeds), std::move(fetches), std::move(targets), opt, TestKernels());
}

// Runs and returns the fetches (failing the test on error).
std::vector<Tensor> RunOk(const Executable& e, std::vector<Tensor> feeds, VariableStore* vars = nullptr,
                          const CheckpointReader* ckpt = nullptr) {
  RunContext ctx{vars, ckpt};
  std::vector<Tensor> out;
  Status s = e.Run(feeds, &out, ctx);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::string CompileError(const GraphDef& g, std::vector<std::string> feeds, std::vector<std::string> fetches,
                         std::vector<std::string> targets = {}, CompileOptions opt = {}) {
  auto e = Build(g, std::move(feeds), std::move(fetches), std::move(targets), opt);
  return e.ok() ? "compiled" : e.status().message();
}

// ---- pruning, names, cycles, unsupported ops ----

TEST(TfExecutor, PrunesToFetchesAndUnfedPlaceholderOutsideIsFine) {
  GraphDef g;
  g.nodes = {Ph("x"), Ph("unused"), N("a", "Add", {"x", "x:0"}), N("b", "Mul", {"unused", "unused"})};
  auto e = Build(g, {"x"}, {"a:0"});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  auto out = RunOk(**e, {Floats({1, 2})});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(Values(out[0]), (std::vector<float>{2, 4}));
  EXPECT_FALSE((*e)->stateful());
  // Fetching b needs the unfed placeholder: an error naming it.
  EXPECT_NE(CompileError(g, {"x"}, {"b"}).find("'unused'"), std::string::npos);
}

TEST(TfExecutor, FeedCutsTheGraphAndNamesResolve) {
  GraphDef g;
  g.nodes = {Ph("x"), N("a", "Add", {"x", "x"}), N("b", "Mul", {"a", "a"}), N("s", "SplitSign", {"b"})};
  int before = g_add_calls;
  auto e = Build(g, {"a:0"}, {"b", "s:1", "a"});  // x is neither fed nor needed
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  auto out = RunOk(**e, {Floats({3})});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(Values(out[0]), std::vector<float>{9});
  EXPECT_EQ(Values(out[1]), std::vector<float>{-9});
  EXPECT_EQ(Values(out[2]), std::vector<float>{3});  // a fetched fed tensor is the feed
  EXPECT_EQ(g_add_calls, before);                    // a's producer never ran
  EXPECT_NE(CompileError(g, {"x"}, {"nope:0"}).find("nope"), std::string::npos);
  // A kernel's output count is known when it runs: reading past it fails the run, naming the node.
  auto past = Build(g, {"x"}, {"s:2"});
  ASSERT_TRUE(past.ok());
  RunContext ctx;
  std::vector<Tensor> out2;
  Status s = (*past)->Run(std::vector<Tensor>{Floats({1})}, &out2, ctx);
  EXPECT_NE(s.message().find("SplitSign 's' produced 2 outputs, 3 are used"), std::string::npos) << s.ToString();
  // An executor-handled node's is known at compile time.
  GraphDef k;
  k.nodes = {C("k", Floats({1}))};
  EXPECT_NE(CompileError(k, {}, {"k:1"}).find("no output 1"), std::string::npos);
  EXPECT_NE(CompileError(g, {"x", "x:0"}, {"a"}).find("twice"), std::string::npos);
}

TEST(TfExecutor, CycleIsAnError) {
  GraphDef g;
  g.nodes = {Ph("x"), N("a", "Add", {"b", "x"}), N("b", "Add", {"a", "x"}), N("c", "Mul", {"b", "x"})};
  std::string err = CompileError(g, {"x"}, {"c"});
  EXPECT_NE(err.find("cycle"), std::string::npos) << err;
  // A control-edge cycle too.
  g.nodes = {Ph("x"), N("a", "Identity", {"x", "^b"}), N("b", "Identity", {"a"})};
  EXPECT_NE(CompileError(g, {"x"}, {"b"}).find("cycle"), std::string::npos);
}

TEST(TfExecutor, DeepChainNeedsNoRecursion) {
  GraphDef g;
  g.nodes.push_back(Ph("x"));
  constexpr int kDepth = 100000;
  for (int i = 0; i < kDepth; ++i) {
    g.nodes.push_back(N("n" + std::to_string(i), "Identity", {i == 0 ? "x" : "n" + std::to_string(i - 1)}));
  }
  auto e = Build(g, {"x"}, {"n" + std::to_string(kDepth - 1)});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(Values(RunOk(**e, {Floats({5})})[0]), std::vector<float>{5});
}

TEST(TfExecutor, UnsupportedOpsAreAllListedOnce) {
  GraphDef g;
  g.nodes = {Ph("x"),
             N("f1", "Foo", {"x"}),
             N("f2", "Foo", {"f1"}),
             N("b", "Bar", {"f2"}),
             N("sw", "Case", {"b"}),
             N("out", "Add", {"sw", "x"})};
  auto e = Build(g, {"x"}, {"out"});
  ASSERT_FALSE(e.ok());
  const std::string& m = e.status().message();
  EXPECT_EQ(e.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(m.find("ops not supported: Foo (node 'f1'), Bar (node 'b'), Case (node 'sw')"), std::string::npos) << m;
  EXPECT_EQ(m.find("f2"), std::string::npos) << m;
  EXPECT_NE(m.find("control flow"), std::string::npos) << m;
}

// ---- functions ----

// inner(a) = a * a; outer(x, y) = inner(x) + y with inner called through PartitionedCall (FunctionDef form).
GraphDef NestedFunctions() {
  FunctionDef inner;
  inner.name = "inner";
  inner.input_args = {Arg("a")};
  inner.output_args = {Arg("sq")};
  inner.nodes = {N("mul", "Mul", {"a", "a"})};
  inner.ret = {{"sq", "mul:z:0"}};
  FunctionDef outer;
  outer.name = "outer";
  outer.input_args = {Arg("x"), Arg("y")};
  outer.output_args = {Arg("sum"), Arg("square")};
  outer.nodes = {N("call", "PartitionedCall", {"x"}, {{"f", FuncA("inner")}}), N("add", "Add", {"call:output:0", "y"})};
  outer.ret = {{"sum", "add:z:0"}, {"square", "call:output:0"}};
  GraphDef g;
  g.functions = {inner, outer};
  g.nodes = {Ph("x"), Ph("y"),
             N("StatefulPartitionedCall", "StatefulPartitionedCall", {"x", "y"}, {{"f", FuncA("outer")}}),
             N("out", "Identity", {"StatefulPartitionedCall:1"})};
  return g;
}

TEST(TfExecutor, InlinesNestedFunctionCalls) {
  GraphDef g = NestedFunctions();
  auto e = Build(g, {"x", "y:0"}, {"StatefulPartitionedCall:0", "out"});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  auto out = RunOk(**e, {Floats({3}), Floats({1})});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(Values(out[0]), std::vector<float>{10});
  EXPECT_EQ(Values(out[1]), std::vector<float>{9});
  // TF1 style: a node whose op is the function's name; its outputs are named by the function's output args.
  g.nodes.push_back(N("tf1", "inner", {"x"}));
  g.nodes.push_back(N("tf1_out", "Identity", {"tf1:0"}));
  auto e2 = Build(g, {"x"}, {"tf1_out"});
  ASSERT_TRUE(e2.ok()) << e2.status().ToString();
  EXPECT_EQ(Values(RunOk(**e2, {Floats({4})})[0]), std::vector<float>{16});
}

TEST(TfExecutor, FunctionAttrPlaceholdersAndRenamesAvoidClashes) {
  FunctionDef f;
  f.name = "scale";
  f.input_args = {Arg("v")};
  f.output_args = {Arg("out")};
  f.nodes = {N("s", "Scale", {"v"}, {{"k", PlaceholderA("factor")}})};
  f.ret = {{"out", "s:y:0"}};
  GraphDef g;
  g.functions = {f};
  // "c/s" already exists in the graph: the inlined body must go elsewhere.
  g.nodes = {Ph("x"), N("c", "scale", {"x"}, {{"factor", FloatA(2.5f)}}), N("c/s", "Add", {"c", "x"})};
  auto e = Build(g, {"x"}, {"c/s"});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(Values(RunOk(**e, {Floats({2})})[0]), std::vector<float>{7});
  g.nodes[1].attrs.clear();
  EXPECT_NE(CompileError(g, {"x"}, {"c"}).find("factor"), std::string::npos);
}

TEST(TfExecutor, StatefulCallWithResourceArgumentAndControlInput) {
  // f(x, h) = x * read(h), called after an assign that the call depends on by a control edge only.
  FunctionDef f;
  f.name = "times_var";
  f.input_args = {Arg("x"), Arg("h", DType::kResource)};
  f.output_args = {Arg("y")};
  f.nodes = {N("read", "ReadVariableOp", {"h"}, {{"dtype", TypeA(DType::kFloat)}}),
             N("m", "Mul", {"x", "read:value:0"})};
  f.ret = {{"y", "m:z:0"}};
  GraphDef g;
  g.functions = {f};
  g.nodes = {Ph("x"), Var("v", "var"), C("three", Floats({3})), N("assign", "AssignVariableOp", {"v", "three"}),
             N("call", "StatefulPartitionedCall", {"x", "v", "^assign"}, {{"f", FuncA("times_var")}})};
  auto e = Build(g, {"x"}, {"call:0"});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_TRUE((*e)->stateful());
  VariableStore vars;
  EXPECT_EQ(Values(RunOk(**e, {Floats({2, 4})}, &vars)[0]), (std::vector<float>{6, 12}));
  EXPECT_TRUE(vars.Contains("var"));
}

TEST(TfExecutor, RecursionBeyondDepthAndNodeCapAreErrors) {
  FunctionDef f;
  f.name = "f";
  f.input_args = {Arg("x")};
  f.output_args = {Arg("y")};
  f.nodes = {N("again", "PartitionedCall", {"x"}, {{"f", FuncA("f")}})};
  f.ret = {{"y", "again:output:0"}};
  GraphDef g;
  g.functions = {f};
  g.nodes = {Ph("x"), N("call", "PartitionedCall", {"x"}, {{"f", FuncA("f")}})};
  CompileOptions opt;
  opt.max_function_depth = 8;
  std::string err = CompileError(g, {"x"}, {"call"}, {}, opt);
  EXPECT_NE(err.find("deeper than 8"), std::string::npos) << err;
  // Growth bounded by max_nodes.
  GraphDef big = NestedFunctions();
  opt = {};
  opt.max_nodes = 6;
  err = CompileError(big, {"x", "y"}, {"out"}, {}, opt);
  EXPECT_NE(err.find("max_nodes"), std::string::npos) << err;
  // A call to a missing function.
  g.nodes[1].attrs["f"] = FuncA("missing");
  EXPECT_NE(CompileError(g, {"x"}, {"call"}).find("missing"), std::string::npos);
}

TEST(TfExecutor, MultiOutputArgsAndBodyNamesInFunctions) {
  // ret "top:indices:0" is TopKV2's second output; a body node named like the executor's control node and a
  // call with a control input must not clash.
  FunctionDef f;
  f.name = "f";
  f.input_args = {Arg("x")};
  f.output_args = {Arg("a"), Arg("b")};
  f.nodes = {N("top", "TopKV2", {"x"}), N("_input_control", "Identity", {"top:values:0"})};
  f.ret = {{"a", "top:indices:0"}, {"b", "_input_control:output:0"}};
  GraphDef g;
  g.functions = {f};
  g.nodes = {Ph("x"), N("pre", "Identity", {"x"}), N("call", "PartitionedCall", {"x", "^pre"}, {{"f", FuncA("f")}})};
  auto e = Build(g, {"x"}, {"call:0", "call:1"});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  auto out = RunOk(**e, {Floats({2})});
  EXPECT_EQ(Values(out[0]), std::vector<float>{-2});
  EXPECT_EQ(Values(out[1]), std::vector<float>{2});
  f.ret["a"] = "top:nope:0";
  g.functions = {f};
  EXPECT_NE(CompileError(g, {"x"}, {"call:0"}).find("nope"), std::string::npos);
}

TEST(TfExecutor, HostileNamesAreErrors) {
  GraphDef g;
  g.nodes = {Ph("x"), N("a", "Identity", {"x:2147483647"}), N("a2", "Identity", {"x"}), N("a2", "Identity", {"x"})};
  EXPECT_NE(CompileError(g, {"x"}, {"a"}).find("two nodes are named 'a2'"), std::string::npos);
  g.nodes.pop_back();
  EXPECT_NE(CompileError(g, {"x"}, {"a"}).find("over 2^20"), std::string::npos);
  EXPECT_NE(CompileError(g, {"x"}, {"a2:99999999"}).find("over 2^20"), std::string::npos);
  EXPECT_NE(CompileError(g, {"x"}, {"^a2"}).find("not a tensor name"), std::string::npos);
  g.nodes[1] = N("a", "Identity", {"ghost"});
  EXPECT_NE(CompileError(g, {"x"}, {"a"}).find("'ghost'"), std::string::npos);
}

// ---- control dependencies, constant folding, slots ----

TEST(TfExecutor, ControlDependencyOrdersAssignBeforeRead) {
  GraphDef g;
  g.nodes = {Var("v", "v"),
             C("five", Floats({5})),
             N("assign", "AssignVariableOp", {"v", "five"}),
             N("read", "ReadVariableOp", {"v", "^assign"}),
             N("init", "NoOp", {"^assign"}),
             N("plain_read", "ReadVariableOp", {"v"})};
  VariableStore vars;
  auto read_only = Build(g, {}, {"plain_read"});
  ASSERT_TRUE(read_only.ok());
  EXPECT_FALSE((*read_only)->stateful());  // reads may run concurrently
  RunContext ctx{&vars, nullptr};
  std::vector<Tensor> out;
  Status s = (*read_only)->Run({}, &out, ctx);
  EXPECT_NE(s.message().find("'v' is not initialized"), std::string::npos) << s.ToString();
  auto init = Build(g, {}, {}, {"init"});
  ASSERT_TRUE(init.ok());
  EXPECT_TRUE((*init)->stateful());
  EXPECT_TRUE(RunOk(**init, {}, &vars).empty());
  EXPECT_EQ(Values(RunOk(**read_only, {}, &vars)[0]), std::vector<float>{5});
  VariableStore fresh;
  auto e = Build(g, {}, {"read"});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Values(RunOk(**e, {}, &fresh)[0]), std::vector<float>{5});
}

TEST(TfExecutor, FoldsConstantsOnceAndOnlyWhenAsked) {
  GraphDef g;
  g.nodes = {C("c1", Floats({2})), C("c2", Floats({3})), N("s", "Add", {"c1", "c2"}), Ph("x"),
             N("y", "Add", {"x", "s"})};
  int before = g_add_calls;
  auto e = Build(g, {"x"}, {"y", "s"});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(g_add_calls - before, 1);  // s, at compile time
  for (int i = 0; i < 3; ++i) {
    auto out = RunOk(**e, {Floats({1})});
    EXPECT_EQ(Values(out[0]), std::vector<float>{6});
    EXPECT_EQ(Values(out[1]), std::vector<float>{5});
  }
  EXPECT_EQ(g_add_calls - before, 4);  // y only, once per run
  CompileOptions no_fold;
  no_fold.fold_constants = false;
  auto e2 = Build(g, {"x"}, {"y"}, {}, no_fold);
  ASSERT_TRUE(e2.ok());
  before = g_add_calls;
  RunOk(**e2, {Floats({1})});
  EXPECT_EQ(g_add_calls - before, 2);
  // A folding error is a compile error naming the node.
  g.nodes.push_back(N("bad", "Fail", {"c1"}));
  EXPECT_NE(CompileError(g, {}, {"bad"}).find("'bad'"), std::string::npos);
}

TEST(TfExecutor, FoldingIsBoundedInBytes) {
  Tensor dims = *Tensor::Make(DType::kInt32, {2});
  dims.data<int32_t>()[0] = 1 << 16;
  dims.data<int32_t>()[1] = (1 << 15) - 1;  // 2^31 - 2^16 floats: 8 GiB, refused before allocating
  GraphDef g;
  g.nodes = {C("dims", dims), C("one", Floats({1})), N("fill", "Fill", {"dims", "one"})};
  std::string err = CompileError(g, {}, {"fill"});
  EXPECT_NE(err.find("max_constant_bytes"), std::string::npos) << err;
  // After the kernel runs too: a small fill over a tiny cap.
  dims.data<int32_t>()[0] = 10;
  dims.data<int32_t>()[1] = 10;
  g.nodes[0] = C("dims", dims);
  g.nodes.push_back(N("twice", "Add", {"fill", "fill"}));
  CompileOptions opt;
  opt.max_constant_bytes = 700;  // fill is 400 bytes, twice another 400
  err = CompileError(g, {}, {"twice"}, {}, opt);
  EXPECT_NE(err.find("'twice'"), std::string::npos) << err;
  opt.max_constant_bytes = 800;
  EXPECT_EQ(CompileError(g, {}, {"twice"}, {}, opt), "compiled");
}

TEST(TfExecutor, ValuesReadTwiceAndFetchedSurviveRelease) {
  // x feeds a, b and the fetch list; a is read by two steps and fetched: moving a slot out after its last reader
  // must never hand a later reader or a fetch an empty tensor.
  GraphDef g;
  g.nodes = {Ph("x"), N("a", "Add", {"x", "x"}), N("b", "Mul", {"a", "x"}), N("c", "Add", {"a", "b"}),
             N("d", "Mul", {"c", "c"})};
  auto e = Build(g, {"x"}, {"d", "a", "x"});
  ASSERT_TRUE(e.ok());
  auto out = RunOk(**e, {Floats({1, 2})});
  // a = 2x, b = 2x^2, c = 2x + 2x^2, d = c^2
  EXPECT_EQ(Values(out[0]), (std::vector<float>{16, 144}));
  EXPECT_EQ(Values(out[1]), (std::vector<float>{2, 4}));
  EXPECT_EQ(Values(out[2]), (std::vector<float>{1, 2}));
  // The feed is shared, never written: the caller's tensor is unchanged.
  Tensor x = Floats({1, 2});
  RunOk(**e, {x});
  EXPECT_EQ(Values(x), (std::vector<float>{1, 2}));
}

// ---- feeds ----

TEST(TfExecutor, FeedDtypeAndShapeAreChecked) {
  GraphDef g;
  g.nodes = {Ph("x", {-1, 2}, false),
             Ph("any"),
             N("a", "Add", {"x", "x"}),
             N("b", "Add", {"any", "any"}),
             N("pwd", "PlaceholderWithDefault", {"a"}, {{"dtype", TypeA(DType::kFloat)}, {"shape", ShapeA({-1, 2})}}),
             N("c", "Mul", {"pwd", "pwd"})};
  auto e = Build(g, {"x", "any"}, {"a", "b"});
  ASSERT_TRUE(e.ok());
  ASSERT_EQ((*e)->feed_info().size(), 2u);
  EXPECT_EQ((*e)->feed_info()[0].tensor_name, "x:0");
  EXPECT_EQ((*e)->feed_info()[0].dtype, DType::kFloat);
  EXPECT_EQ((*e)->feed_info()[0].shape.dims, (Shape{-1, 2}));
  RunContext ctx;
  std::vector<Tensor> out;
  Tensor ints = *Tensor::Make(DType::kInt32, {1, 2});
  Status s = (*e)->Run(std::vector<Tensor>{ints, Floats({1})}, &out, ctx);
  EXPECT_NE(s.message().find("'x:0'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("DT_FLOAT"), std::string::npos) << s.ToString();
  s = (*e)->Run(std::vector<Tensor>{Floats({1, 2, 3, 4, 5, 6}, {3, 2}), Floats({1, 2, 3}, {3})}, &out, ctx);
  EXPECT_TRUE(s.ok()) << s.ToString();  // any first dim; unknown rank takes anything
  s = (*e)->Run(std::vector<Tensor>{Floats({1, 2, 3}, {1, 3}), Floats({1})}, &out, ctx);
  EXPECT_NE(s.message().find("'x:0'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("[1,3]"), std::string::npos) << s.ToString();
  s = (*e)->Run(std::vector<Tensor>{Floats({1})}, &out, ctx);
  EXPECT_NE(s.message().find("expected 2 feeds"), std::string::npos) << s.ToString();
  // PlaceholderWithDefault: its input when not fed, the feed when fed.
  auto d = Build(g, {"x"}, {"c"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Values(RunOk(**d, {Floats({1, 2}, {1, 2})})[0]), (std::vector<float>{4, 16}));
  auto fed = Build(g, {"pwd"}, {"c"});
  ASSERT_TRUE(fed.ok());
  EXPECT_EQ(Values(RunOk(**fed, {Floats({3, 1}, {1, 2})})[0]), (std::vector<float>{9, 1}));
}

TEST(TfExecutor, ConcurrentRunsOfAStatelessGraph) {
  GraphDef g;
  g.nodes = {Ph("x"), C("k", Floats({0.5f})), N("a", "Add", {"x", "x"}), N("b", "Mul", {"a", "x"}),
             N("c", "Mul", {"b", "k"})};  // c = x^2
  auto e = Build(g, {"x"}, {"c", "a"});
  ASSERT_TRUE(e.ok());
  ASSERT_FALSE((*e)->stateful());
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        float v = static_cast<float>(t * 1000 + i);
        RunContext ctx;
        std::vector<Tensor> out;
        Status s = (*e)->Run(std::vector<Tensor>{Floats({v, -v})}, &out, ctx);
        if (!s.ok() || out.size() != 2 || out[0].data<float>()[0] != v * v || out[0].data<float>()[1] != v * v ||
            out[1].data<float>()[1] != -2 * v) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
}

// Runs reuse their frames (slots, inputs): a tensor fetched twice comes back twice, a run after a kernel error
// starts clean, and a constant input stays in place between runs.
TEST(TfExecutor, RepeatedRunsFetchTwiceAndRecoverFromErrors) {
  GraphDef g;
  g.nodes = {Ph("x"), Ph("y"), C("k", Floats({0.5f})), N("a", "Add", {"x", "x"}), N("c", "Mul", {"a", "k"}),
             N("d", "Mul", {"a", "y"})};  // c = x, d = 2xy
  auto e = Build(g, {"x", "y"}, {"c", "c:0", "a", "d"});
  ASSERT_TRUE(e.ok());
  for (int i = 0; i < 3; ++i) {
    std::vector<Tensor> out = RunOk(**e, {Floats({1, 2}), Floats({3, 4})});
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(Values(out[0]), (std::vector<float>{1, 2}));
    EXPECT_EQ(Values(out[1]), (std::vector<float>{1, 2}));
    EXPECT_EQ(Values(out[2]), (std::vector<float>{2, 4}));
    EXPECT_EQ(Values(out[3]), (std::vector<float>{6, 16}));
    // y of another shape: d's kernel fails after a and c ran; the next run must start clean.
    RunContext ctx;
    std::vector<Tensor> bad;
    Status s = (*e)->Run(std::vector<Tensor>{Floats({1, 2}), Floats({1, 2, 3})}, &bad, ctx);
    EXPECT_NE(s.message().find("shape mismatch"), std::string::npos) << s.ToString();
  }
}

// ---- variables and checkpoints ----

TEST(TfExecutor, RefVariablesWithAssign) {
  GraphDef g;
  g.nodes = {N("v", "VariableV2", {}, {{"dtype", TypeA(DType::kFloat)}, {"shape", ShapeA({})}}),
             C("seven", Floats({7})),
             N("assign", "Assign", {"v", "seven"}),
             N("inc", "AssignAdd", {"v", "seven"}),
             N("read", "Identity", {"v"}),
             N("is_init", "IsVariableInitialized", {"v"})};
  VariableStore vars;
  auto read = Build(g, {}, {"read"});
  auto check = Build(g, {}, {"is_init"});
  auto assign = Build(g, {}, {}, {"assign"});
  auto inc = Build(g, {}, {"inc"});
  ASSERT_TRUE(read.ok() && check.ok() && assign.ok() && inc.ok());
  EXPECT_FALSE((*read)->stateful());
  EXPECT_TRUE((*assign)->stateful());
  EXPECT_EQ(RunOk(**check, {}, &vars)[0].data<bool>()[0], false);
  RunContext ctx{&vars, nullptr};
  std::vector<Tensor> out;
  Status s = (*read)->Run({}, &out, ctx);
  EXPECT_NE(s.message().find("'v' is not initialized"), std::string::npos) << s.ToString();
  RunOk(**assign, {}, &vars);  // initializing does not read the uninitialized variable
  EXPECT_EQ(RunOk(**check, {}, &vars)[0].data<bool>()[0], true);
  EXPECT_EQ(Values(RunOk(**read, {}, &vars)[0]), std::vector<float>{7});
  EXPECT_EQ(Values(RunOk(**inc, {}, &vars)[0]), std::vector<float>{14});
  EXPECT_EQ(Values(RunOk(**read, {}, &vars)[0]), std::vector<float>{14});
  // Shared names key the store.
  g.nodes[0].attrs["shared_name"] = StrA("shared");
  auto assign2 = Build(g, {}, {}, {"assign"});
  ASSERT_TRUE(assign2.ok());
  RunOk(**assign2, {}, &vars);
  EXPECT_TRUE(vars.Contains("shared"));
}

TEST(TfExecutor, ResourceVariableUpdates) {
  GraphDef g;
  g.nodes = {Var("v", ""),  // empty shared_name: keyed by the node name
             C("init", Floats({1, 2})),
             C("delta", Floats({10, 20})),
             C("lr", Floats({0.5f})),
             N("assign", "AssignVariableOp", {"v", "init"}),
             N("add", "AssignAddVariableOp", {"v", "delta"}),
             N("sub", "AssignSubVariableOp", {"v", "init"}),
             N("sgd", "ResourceApplyGradientDescent", {"v", "lr", "delta"}),
             N("inited", "VarIsInitializedOp", {"v"}),
             N("read", "ReadVariableOp", {"v"}, {{"dtype", TypeA(DType::kFloat)}})};
  VariableStore vars;
  auto run = [&](std::vector<std::string> targets) {
    auto e = Build(g, {}, {}, std::move(targets));
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_TRUE((*e)->stateful());
    RunOk(**e, {}, &vars);
  };
  auto read = [&] {
    auto e = Build(g, {}, {"read", "inited"});
    return e.ok() ? Values(RunOk(**e, {}, &vars)[0]) : std::vector<float>{};
  };
  auto inited = Build(g, {}, {"inited"});
  ASSERT_TRUE(inited.ok());
  EXPECT_FALSE(RunOk(**inited, {}, &vars)[0].data<bool>()[0]);
  run({"assign"});
  EXPECT_TRUE(vars.Contains("v"));
  EXPECT_EQ(read(), (std::vector<float>{1, 2}));
  run({"add"});
  EXPECT_EQ(read(), (std::vector<float>{11, 22}));
  run({"sub"});
  EXPECT_EQ(read(), (std::vector<float>{10, 20}));
  run({"sgd"});  // v -= 0.5 * delta
  EXPECT_EQ(read(), (std::vector<float>{5, 10}));
  // A dtype the op does not declare is an error naming the variable.
  g.nodes.back().attrs["dtype"] = TypeA(DType::kInt32);
  auto bad = Build(g, {}, {"read"});
  ASSERT_TRUE(bad.ok());
  RunContext ctx{&vars, nullptr};
  std::vector<Tensor> out;
  Status s = (*bad)->Run({}, &out, ctx);
  EXPECT_NE(s.message().find("'v'"), std::string::npos) << s.ToString();
}

class FakeCheckpoint : public CheckpointReader {
 public:
  std::map<std::string, Tensor, std::less<>> values;
  StatusOr<Tensor> Read(std::string_view key) const override {
    auto it = values.find(key);
    if (it == values.end()) return NotFound("checkpoint has no key '" + std::string(key) + "'");
    return it->second;
  }
  std::vector<std::string> Keys() const override {
    std::vector<std::string> k;
    for (const auto& [name, _] : values) k.push_back(name);
    return k;
  }
};

// TF1's save/restore_all: RestoreV2 -> Assign to VariableV2s, grouped by a NoOp; the prefix is fed.
GraphDef Tf1Restore(std::vector<std::string> keys, std::vector<DType> dtypes) {
  GraphDef g;
  Tensor prefix = *Tensor::Make(DType::kString, {});
  prefix.strings()[0] = "model";
  g.nodes = {
      N("a", "VariableV2", {}, {{"dtype", TypeA(DType::kFloat)}}),
      N("b", "VariableV2", {}, {{"dtype", TypeA(DType::kFloat)}}),
      C("save/Const", prefix),
      C("save/names", Strings(keys)),
      C("save/slices", Strings(std::vector<std::string>(keys.size()))),
      N("save/RestoreV2", "RestoreV2", {"save/Const", "save/names", "save/slices"}, {{"dtypes", TypesA(dtypes)}}),
      N("save/Assign", "Assign", {"a", "save/RestoreV2"}),
      N("save/Assign_1", "Assign", {"b", "save/RestoreV2:1"}),
      N("save/restore_all", "NoOp", {"^save/Assign", "^save/Assign_1"}),
      N("sum", "Add", {"a", "b"})};
  return g;
}

TEST(TfExecutor, RestoreV2FromACheckpoint) {
  FakeCheckpoint ckpt;
  ckpt.values["ka"] = Floats({1.5f});
  ckpt.values["kb"] = Floats({2});
  GraphDef g = Tf1Restore({"ka", "kb"}, {DType::kFloat, DType::kFloat});
  auto restore = Build(g, {"save/Const:0"}, {}, {"save/restore_all"});
  ASSERT_TRUE(restore.ok()) << restore.status().ToString();
  EXPECT_TRUE((*restore)->stateful());
  Tensor prefix = *Tensor::Make(DType::kString, {});
  VariableStore vars;
  RunOk(**restore, {prefix}, &vars, &ckpt);
  EXPECT_EQ(vars.size(), 2u);
  auto sum = Build(g, {}, {"sum"});
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(Values(RunOk(**sum, {}, &vars)[0]), std::vector<float>{3.5f});

  auto fail = [&](const GraphDef& graph, const CheckpointReader* reader) {
    auto e = Build(graph, {}, {}, {"save/restore_all"});
    if (!e.ok()) return e.status().message();
    VariableStore v;
    RunContext ctx{&v, reader};
    std::vector<Tensor> out;
    return (*e)->Run({}, &out, ctx).message();
  };
  EXPECT_NE(fail(Tf1Restore({"ka", "missing"}, {DType::kFloat, DType::kFloat}), &ckpt).find("missing"),
            std::string::npos);
  EXPECT_NE(fail(Tf1Restore({"ka", "kb"}, {DType::kFloat, DType::kInt32}), &ckpt).find("DT_INT32"), std::string::npos);
  EXPECT_NE(fail(g, nullptr).find("checkpoint"), std::string::npos);
  GraphDef sliced = g;
  sliced.nodes[4] = C("save/slices", Strings({"", "0,1"}));
  EXPECT_NE(fail(sliced, &ckpt).find("slice"), std::string::npos);
}

// TF2's restore: StatefulPartitionedCall into __inference__traced_restore (RestoreV2 + AssignVariableOp on a
// resource argument, the assign reachable only through control_ret), the filename fed, the call a target.
TEST(TfExecutor, Tf2StyleRestoreThroughAFunction) {
  FunctionDef f;
  f.name = "__inference__traced_restore_42";
  f.input_args = {Arg("file_prefix", DType::kString), Arg("h", DType::kResource)};
  f.output_args = {Arg("identity_1", DType::kString)};
  f.nodes = {C("names", Strings({"v/.ATTRIBUTES/VARIABLE_VALUE"})),
             C("slices", Strings({""})),
             N("RestoreV2", "RestoreV2", {"file_prefix", "names:output:0", "slices:output:0"},
               {{"dtypes", TypesA({DType::kFloat})}}),
             N("Identity", "Identity", {"RestoreV2:tensors:0"}),
             N("AssignVariableOp", "AssignVariableOp", {"h", "Identity:output:0"}),
             N("NoOp", "NoOp", {"^AssignVariableOp"}),
             N("Identity_1", "Identity", {"file_prefix", "^NoOp"})};
  f.ret = {{"identity_1", "Identity_1:output:0"}};
  f.control_ret = {{"AssignVariableOp", "AssignVariableOp"}};
  GraphDef g;
  g.functions = {f};
  g.nodes = {Ph("saver_filename", {}, false, DType::kString), Var("v", "v"),
             N("StatefulPartitionedCall_2", "StatefulPartitionedCall", {"saver_filename", "v"}, {{"f", FuncA(f.name)}}),
             N("read", "ReadVariableOp", {"v"})};
  auto restore = Build(g, {"saver_filename:0"}, {}, {"StatefulPartitionedCall_2"});
  ASSERT_TRUE(restore.ok()) << restore.status().ToString();
  EXPECT_TRUE((*restore)->stateful());
  EXPECT_EQ((*restore)->feed_info()[0].dtype, DType::kString);
  FakeCheckpoint ckpt;
  ckpt.values["v/.ATTRIBUTES/VARIABLE_VALUE"] = Floats({0.5f, 2});
  VariableStore vars;
  Tensor path = *Tensor::Make(DType::kString, {});
  path.strings()[0] = "/models/x/variables/variables";
  RunOk(**restore, {path}, &vars, &ckpt);
  auto read = Build(g, {}, {"read"});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(Values(RunOk(**read, {}, &vars)[0]), (std::vector<float>{0.5f, 2}));
}

TEST(TfExecutor, RandomInitializersAreSeededAndInRange) {
  Tensor shape = *Tensor::Make(DType::kInt32, {1});
  shape.data<int32_t>()[0] = 1000;
  AttrValue seed;
  seed.kind = AttrValue::Kind::kI;
  seed.i = 7;
  GraphDef g;
  g.nodes = {C("shape", shape), N("u", "RandomUniform", {"shape"}, {{"dtype", TypeA(DType::kFloat)}, {"seed", seed}}),
             N("n", "RandomStandardNormal", {"shape"}, {{"dtype", TypeA(DType::kFloat)}, {"seed", seed}})};
  int before = g_add_calls;
  auto e = Build(g, {}, {"u", "n"});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(g_add_calls, before);
  auto a = RunOk(**e, {});
  auto b = RunOk(**e, {});
  EXPECT_EQ(Values(a[0]), Values(b[0]));  // deterministic
  double mean = 0;
  for (float v : Values(a[0])) {
    EXPECT_TRUE(v >= 0 && v < 1);
    mean += v / 1000.0;
  }
  EXPECT_NEAR(mean, 0.5, 0.05);
  double nmean = 0, nvar = 0;
  for (float v : Values(a[1])) nmean += v / 1000.0, nvar += v * v / 1000.0;
  EXPECT_NEAR(nmean, 0, 0.1);
  EXPECT_NEAR(nvar, 1, 0.15);
}

}  // namespace
}  // namespace inferd::tf
