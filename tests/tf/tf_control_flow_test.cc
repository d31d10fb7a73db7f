// TF1 control flow in the graph executor (tf/control_flow.cc): while loops, conds, nesting, bounds, and the
// TensorList / TensorArray kernels (tf/kernels_list.cc) that loops accumulate into, on hand-built graphs run
// with the real kernel registry.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tf/executor.h"

namespace inferd::tf {
namespace {

AttrValue S(std::string s) {
  AttrValue a;
  a.kind = AttrValue::Kind::kS;
  a.s = std::move(s);
  return a;
}
AttrValue B(bool b) {
  AttrValue a;
  a.kind = AttrValue::Kind::kB;
  a.b = b;
  return a;
}
AttrValue Type(DType t) {
  AttrValue a;
  a.kind = AttrValue::Kind::kType;
  a.type = t;
  return a;
}
AttrValue I(int64_t i) {
  AttrValue a;
  a.kind = AttrValue::Kind::kI;
  a.i = i;
  return a;
}

NodeDef N(std::string name, std::string op, std::vector<std::string> inputs, AttrMap attrs = {}) {
  NodeDef n;
  n.name = std::move(name);
  n.op = std::move(op);
  n.inputs = std::move(inputs);
  n.attrs = std::move(attrs);
  return n;
}

Tensor F(float v) { return Tensor::Scalar<float>(DType::kFloat, v); }
Tensor I32(std::vector<int32_t> v, Shape shape) {
  Tensor t = *Tensor::Make(DType::kInt32, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) t.data<int32_t>()[i] = v[i];
  return t;
}

NodeDef Const(std::string name, Tensor v, std::vector<std::string> ctrl = {}) {
  AttrValue a;
  a.kind = AttrValue::Kind::kTensor;
  a.tensor = std::move(v);
  return N(std::move(name), "Const", std::move(ctrl), {{"value", a}});
}
NodeDef Ph(std::string name, DType t = DType::kFloat) {
  return N(std::move(name), "Placeholder", {}, {{"dtype", Type(t)}});
}
NodeDef Enter(std::string name, std::string in, std::string frame, bool constant = false) {
  return N(std::move(name), "Enter", {std::move(in)},
           {{"frame_name", S(std::move(frame))}, {"is_constant", B(constant)}});
}

// Appends `while i < limit: i += 1; acc *= 2` under prefix p (frame p), starting from tensors i0 and acc0 and
// with `limit` entering as a loop invariant (a constant Enter); outputs p/exit_i and p/exit_acc. The body's
// constants hang off the loop's pivot, as TensorFlow writes them.
void AddDoublingLoop(std::vector<NodeDef>& g, const std::string& p, const std::string& i0, const std::string& acc0,
                     const std::string& limit) {
  std::vector<NodeDef> nodes = {
      Enter(p + "/enter_i", i0, p),
      Enter(p + "/enter_acc", acc0, p),
      Enter(p + "/enter_limit", limit, p, true),
      N(p + "/merge_i", "Merge", {p + "/enter_i", p + "/next_i"}),
      N(p + "/merge_acc", "Merge", {p + "/enter_acc", p + "/next_acc"}),
      N(p + "/less", "Less", {p + "/merge_i", p + "/enter_limit"}),
      N(p + "/cond", "LoopCond", {p + "/less"}),
      N(p + "/switch_i", "Switch", {p + "/merge_i", p + "/cond"}),
      N(p + "/switch_acc", "Switch", {p + "/merge_acc", p + "/cond"}),
      N(p + "/pivot", "Identity", {p + "/switch_i:1"}),
      N(p + "/body_acc", "Identity", {p + "/switch_acc:1"}),
      Const(p + "/one", F(1), {"^" + p + "/pivot"}),
      Const(p + "/two", F(2), {"^" + p + "/pivot"}),
      N(p + "/add", "AddV2", {p + "/pivot", p + "/one"}),
      N(p + "/mul", "Mul", {p + "/body_acc", p + "/two"}),
      N(p + "/next_i", "NextIteration", {p + "/add"}),
      N(p + "/next_acc", "NextIteration", {p + "/mul"}),
      N(p + "/exit_i", "Exit", {p + "/switch_i"}),
      N(p + "/exit_acc", "Exit", {p + "/switch_acc"}),
  };
  g.insert(g.end(), nodes.begin(), nodes.end());
}

GraphDef DoublingLoop() {
  GraphDef g;
  g.nodes = {Ph("limit"), Const("i0", F(0)), Const("acc0", F(1))};
  AddDoublingLoop(g.nodes, "loop", "i0", "acc0", "limit");
  g.nodes.push_back(N("out", "Identity", {"loop/exit_acc"}));
  return g;
}

std::vector<Tensor> RunOk(const Executable& e, std::vector<Tensor> feeds) {
  RunContext ctx;
  std::vector<Tensor> out;
  Status st = e.Run(feeds, &out, ctx);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

Status RunStatus(const Executable& e, std::vector<Tensor> feeds) {
  RunContext ctx;
  std::vector<Tensor> out;
  return e.Run(feeds, &out, ctx);
}

TEST(TfControlFlow, WhileLoopRunsUntilItsConditionFails) {
  auto e = Compile(DoublingLoop(), {"limit"}, {"out", "loop/exit_i"}, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  for (float limit : {0.f, 1.f, 5.f, 10.f}) {
    auto out = RunOk(**e, {F(limit)});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].data<float>()[0], static_cast<float>(1 << static_cast<int>(limit))) << limit;
    EXPECT_EQ(out[1].data<float>()[0], limit);
  }
}

TEST(TfControlFlow, RunawayLoopFailsNamingTheLoop) {
  CompileOptions opt;
  opt.max_loop_iterations = 100;
  auto e = Compile(DoublingLoop(), {"limit"}, {"loop/exit_i"}, {}, opt);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_TRUE(RunStatus(*e.value(), {F(100)}).ok());
  Status st = RunStatus(*e.value(), {F(1e9f)});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("while loop 'loop'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("more than 100 iterations"), std::string::npos) << st.message();
}

// An outer loop of 3 iterations whose body runs the doubling loop from acc: 2^(3*limit) at the end.
TEST(TfControlFlow, NestedLoopsKeepTheirFramesApart) {
  GraphDef g;
  g.nodes = {Ph("limit"), Const("i0", F(0)), Const("acc0", F(1)), Const("three", F(3)),
             Enter("outer/enter_i", "i0", "outer"), Enter("outer/enter_acc", "acc0", "outer"),
             Enter("outer/enter_three", "three", "outer", true), Enter("outer/enter_limit", "limit", "outer", true),
             N("outer/merge_i", "Merge", {"outer/enter_i", "outer/next_i"}),
             N("outer/merge_acc", "Merge", {"outer/enter_acc", "outer/next_acc"}),
             N("outer/less", "Less", {"outer/merge_i", "outer/enter_three"}),
             N("outer/cond", "LoopCond", {"outer/less"}),
             N("outer/switch_i", "Switch", {"outer/merge_i", "outer/cond"}),
             N("outer/switch_acc", "Switch", {"outer/merge_acc", "outer/cond"}),
             N("outer/pivot", "Identity", {"outer/switch_i:1"}),
             N("outer/acc", "Identity", {"outer/switch_acc:1"}),
             Const("outer/zero", F(0), {"^outer/pivot"}),
             Const("outer/one", F(1), {"^outer/pivot"}),
             N("outer/add", "AddV2", {"outer/pivot", "outer/one"})};
  AddDoublingLoop(g.nodes, "inner", "outer/zero", "outer/acc", "outer/enter_limit");
  std::vector<NodeDef> tail = {N("outer/next_i", "NextIteration", {"outer/add"}),
                               N("outer/next_acc", "NextIteration", {"inner/exit_acc"}),
                               N("outer/exit_acc", "Exit", {"outer/switch_acc"}),
                               N("out", "Identity", {"outer/exit_acc"})};
  g.nodes.insert(g.nodes.end(), tail.begin(), tail.end());
  auto e = Compile(g, {"limit"}, {"out"}, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(RunOk(**e, {F(2)})[0].data<float>()[0], 64.f);  // 2^(3*2)
  EXPECT_EQ(RunOk(**e, {F(0)})[0].data<float>()[0], 1.f);
}

// tf.cond in TF1 form: Switch on the predicate, one branch per output, Merge. The untaken branch is dead: it
// does not run, and fetching it is an error saying so.
TEST(TfControlFlow, CondRunsOnlyTheTakenBranch) {
  GraphDef g;
  g.nodes = {Ph("x"), Ph("p", DType::kBool), N("sw", "Switch", {"x", "p"}),
             N("pivot", "Identity", {"sw:1"}), Const("ten", F(10), {"^pivot"}),  // dead when p is false
             N("then", "Mul", {"pivot", "ten"}), N("else", "Neg", {"sw:0"}), N("merge", "Merge", {"else", "then"})};
  auto e = Compile(g, {"x", "p"}, {"merge", "merge:1"}, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  auto t = RunOk(**e, {F(3), Tensor::Scalar<bool>(DType::kBool, true)});
  EXPECT_EQ(t[0].data<float>()[0], 30.f);
  EXPECT_EQ(t[1].data<int32_t>()[0], 1);
  auto f = RunOk(**e, {F(3), Tensor::Scalar<bool>(DType::kBool, false)});
  EXPECT_EQ(f[0].data<float>()[0], -3.f);
  EXPECT_EQ(f[1].data<int32_t>()[0], 0);

  auto dead = Compile(g, {"x", "p"}, {"then"}, {});
  ASSERT_TRUE(dead.ok()) << dead.status().ToString();
  Status st = RunStatus(*dead.value(), {F(3), Tensor::Scalar<bool>(DType::kBool, false)});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("dead"), std::string::npos) << st.message();
}

// A loop on an untaken branch never runs; its Exit is dead and the Merge after the cond takes the other side.
TEST(TfControlFlow, LoopOnAnUntakenBranchIsDead) {
  GraphDef g;
  g.nodes = {Ph("limit"), Ph("p", DType::kBool), Const("i0", F(0)), Const("acc0", F(1)),
             N("sw", "Switch", {"limit", "p"}), N("taken", "Identity", {"sw:1"})};
  AddDoublingLoop(g.nodes, "loop", "i0", "acc0", "taken");
  // i0 and acc0 enter from the root: make them depend on the taken side too, as tf.cond's branch would.
  g.nodes.push_back(N("neg", "Neg", {"sw:0"}));
  g.nodes.push_back(N("merge", "Merge", {"loop/exit_acc", "neg"}));
  auto e = Compile(g, {"limit", "p"}, {"merge"}, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(RunOk(**e, {F(3), Tensor::Scalar<bool>(DType::kBool, true)})[0].data<float>()[0], 8.f);
  EXPECT_EQ(RunOk(**e, {F(3), Tensor::Scalar<bool>(DType::kBool, false)})[0].data<float>()[0], -3.f);
}

// tf.map_fn's shape in TF2: TensorListFromTensor, a loop that reads item i and writes f(item) into a reserved
// list, TensorListStack after the loop.
TEST(TfControlFlow, TensorListsCarryALoopsResults) {
  GraphDef g;
  AttrMap f32 = {{"element_dtype", Type(DType::kFloat)}};
  g.nodes = {Ph("x"), Const("shape", I32({-1}, {})), Const("n", I32({3}, {})), Const("zero", I32({0}, {})),
             N("in_list", "TensorListFromTensor", {"x", "shape"}, f32),
             N("out_list", "TensorListReserve", {"shape", "n"}, f32),
             Enter("l/enter_i", "zero", "l"), Enter("l/enter_out", "out_list", "l"),
             Enter("l/enter_in", "in_list", "l", true), Enter("l/enter_n", "n", "l", true),
             N("l/merge_i", "Merge", {"l/enter_i", "l/next_i"}),
             N("l/merge_out", "Merge", {"l/enter_out", "l/next_out"}),
             N("l/less", "Less", {"l/merge_i", "l/enter_n"}), N("l/cond", "LoopCond", {"l/less"}),
             N("l/switch_i", "Switch", {"l/merge_i", "l/cond"}),
             N("l/switch_out", "Switch", {"l/merge_out", "l/cond"}),
             N("l/i", "Identity", {"l/switch_i:1"}),
             Const("l/shape", I32({-1}, {}), {"^l/i"}), Const("l/one", I32({1}, {}), {"^l/i"}),
             Const("l/ten", F(10), {"^l/i"}),
             N("l/get", "TensorListGetItem", {"l/enter_in", "l/i", "l/shape"}, f32),
             N("l/times", "Mul", {"l/get", "l/ten"}),
             N("l/set", "TensorListSetItem", {"l/switch_out:1", "l/i", "l/times"}, f32),
             N("l/add", "AddV2", {"l/i", "l/one"}), N("l/next_i", "NextIteration", {"l/add"}),
             N("l/next_out", "NextIteration", {"l/set"}), N("l/exit_out", "Exit", {"l/switch_out"}),
             N("stack", "TensorListStack", {"l/exit_out", "shape"}, {{"element_dtype", Type(DType::kFloat)},
                                                                     {"num_elements", I(3)}})};
  auto e = Compile(g, {"x"}, {"stack"}, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  Tensor x = *Tensor::Make(DType::kFloat, {3, 2});
  for (int i = 0; i < 6; ++i) x.data<float>()[i] = static_cast<float>(i);
  auto out = RunOk(**e, {x});
  ASSERT_EQ(ShapeString(out[0].shape()), "[3,2]");
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[0].data<float>()[i], 10.f * static_cast<float>(i));
  // x with 2 rows: item 2 is out of range for the input list.
  Status st = RunStatus(*e.value(), {*Tensor::Make(DType::kFloat, {2, 2})});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("TensorListGetItem 'l/get': index 2 is out of range"), std::string::npos) << st.message();
}

// TF1's TensorArray: scatter rows, read one, write at an index past the size (refused unless dynamic_size),
// gather.
TEST(TfControlFlow, TensorArrayWritesReadsAndGathers) {
  GraphDef g;
  AttrMap ta = {{"dtype", Type(DType::kFloat)}, {"dynamic_size", B(false)}};
  g.nodes = {Ph("x"), Ph("i", DType::kInt32), Const("size", I32({3}, {})), Const("idx", I32({0, 1, 2}, {3})),
             N("ta", "TensorArrayV3", {"size"}, ta),
             N("scatter", "TensorArrayScatterV3", {"ta", "idx", "x", "ta:1"}),
             N("read", "TensorArrayReadV3", {"ta", "i", "scatter"}, {{"dtype", Type(DType::kFloat)}}),
             N("write", "TensorArrayWriteV3", {"ta", "i", "read", "scatter"}),
             N("gather", "TensorArrayGatherV3", {"ta", "idx", "write"}, {{"dtype", Type(DType::kFloat)}}),
             N("size_out", "TensorArraySizeV3", {"ta", "write"})};
  auto e = Compile(g, {"x", "i"}, {"read", "gather", "size_out"}, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  Tensor x = *Tensor::Make(DType::kFloat, {3});
  for (int i = 0; i < 3; ++i) x.data<float>()[i] = static_cast<float>(i + 1);
  auto out = RunOk(**e, {x, I32({2}, {})});
  EXPECT_EQ(out[0].data<float>()[0], 3.f);
  EXPECT_EQ(ShapeString(out[1].shape()), "[3]");
  EXPECT_EQ(out[1].data<float>()[2], 3.f);
  EXPECT_EQ(out[2].data<int32_t>()[0], 3);
  Status st = RunStatus(*e.value(), {x, I32({5}, {})});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("index 5 is out of range"), std::string::npos) << st.message();
}

// Each run keeps its own frames and tokens: runs on several threads at once agree with the serial answer.
TEST(TfControlFlow, ConcurrentRunsOfALoopAgree) {
  auto e = Compile(DoublingLoop(), {"limit"}, {"out"}, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const int limit = (t + i) % 12;
        auto out = RunOk(**e, {F(static_cast<float>(limit))});
        EXPECT_EQ(out[0].data<float>()[0], static_cast<float>(1 << limit));
      }
    });
  }
  for (auto& th : threads) th.join();
}

// Frames nest at most kMaxFrameDepth (64) deep: a chain of Enters into new frames fails naming the Enter.
TEST(TfControlFlow, FramesNestAtMost64Deep) {
  GraphDef g;
  g.nodes = {Ph("x")};
  std::string prev = "x";
  for (int i = 0; i < 70; ++i) {
    g.nodes.push_back(Enter("e" + std::to_string(i), prev, "f" + std::to_string(i)));
    prev = "e" + std::to_string(i);
  }
  auto e = Compile(g, {"x"}, {prev}, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  Status st = RunStatus(**e, {F(1)});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("Enter 'e64': loop frames nest deeper than 64"), std::string::npos) << st.message();
}

// ---- functional While / If (TF2 graphs), lowered to the ops above ----

AttrValue Func(std::string name) {
  AttrValue a;
  a.kind = AttrValue::Kind::kFunc;
  a.func = std::make_shared<FuncAttr>();
  a.func->name = std::move(name);
  return a;
}
ArgDef Arg(std::string name) {
  ArgDef a;
  a.name = std::move(name);
  a.type = DType::kFloat;
  return a;
}

// while i < limit: i += 1; acc *= 2, as tf.function writes it: While(i, acc, limit) with cond and body
// functions whose constants have no inputs (they must still run inside the loop's frame).
GraphDef FunctionalDoubling(const std::string& op) {
  FunctionDef cond;
  cond.name = "cond";
  cond.input_args = {Arg("i"), Arg("acc"), Arg("limit")};
  cond.output_args = {Arg("ok")};
  cond.nodes = {N("less", "Less", {"i", "limit"})};
  cond.ret = {{"ok", "less:z:0"}};
  FunctionDef body;
  body.name = "body";
  body.input_args = {Arg("i"), Arg("acc"), Arg("limit")};
  body.output_args = {Arg("i1"), Arg("acc1"), Arg("limit1")};
  body.nodes = {Const("one", F(1)), Const("two", F(2)), N("add", "AddV2", {"i", "one:output:0"}),
                N("mul", "Mul", {"acc", "two:output:0"})};
  body.ret = {{"i1", "add:z:0"}, {"acc1", "mul:z:0"}, {"limit1", "limit"}};
  GraphDef g;
  g.functions = {cond, body};
  g.nodes = {Ph("limit"), Const("i0", F(0)), Const("acc0", F(1)),
             N("while", op, {"i0", "acc0", "limit"}, {{"cond", Func("cond")}, {"body", Func("body")}}),
             N("out", "Identity", {"while:1"})};
  return g;
}

TEST(TfControlFlow, FunctionalWhileIsLoweredAndRuns) {
  for (const std::string op : {"While", "StatelessWhile"}) {
    auto e = Compile(FunctionalDoubling(op), {"limit"}, {"out", "while:0"}, {});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    for (float limit : {0.f, 3.f, 7.f}) {
      auto out = RunOk(**e, {F(limit)});
      EXPECT_EQ(out[0].data<float>()[0], static_cast<float>(1 << static_cast<int>(limit))) << op << " " << limit;
      EXPECT_EQ(out[1].data<float>()[0], limit) << op;
    }
  }
}

TEST(TfControlFlow, FunctionalIfRunsOneBranch) {
  FunctionDef then_f;
  then_f.name = "then_f";
  then_f.input_args = {Arg("x")};
  then_f.output_args = {Arg("y")};
  then_f.nodes = {Const("ten", F(10)), N("mul", "Mul", {"x", "ten:output:0"})};
  then_f.ret = {{"y", "mul:z:0"}};
  FunctionDef else_f;
  else_f.name = "else_f";
  else_f.input_args = {Arg("x")};
  else_f.output_args = {Arg("y")};
  else_f.nodes = {Const("seven", F(7))};  // ignores x: only the pivot makes it dead when untaken
  else_f.ret = {{"y", "seven:output:0"}};
  AttrValue tout;
  tout.kind = AttrValue::Kind::kList;
  tout.list = std::make_shared<AttrList>();
  tout.list->type = {DType::kFloat};
  GraphDef g;
  g.functions = {then_f, else_f};
  g.nodes = {Ph("x"), Ph("p", DType::kBool),
             N("if", "StatelessIf", {"p", "x"},
               {{"then_branch", Func("then_f")}, {"else_branch", Func("else_f")}, {"Tout", tout}}),
             N("out", "Identity", {"if"})};
  auto e = Compile(g, {"x", "p"}, {"out"}, {});
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(RunOk(**e, {F(3), Tensor::Scalar<bool>(DType::kBool, true)})[0].data<float>()[0], 30.f);
  EXPECT_EQ(RunOk(**e, {F(3), Tensor::Scalar<bool>(DType::kBool, false)})[0].data<float>()[0], 7.f);
}

// Malformed control flow from a model file fails cleanly.
TEST(TfControlFlow, MalformedControlFlowIsAnError) {
  GraphDef g;
  g.nodes = {Ph("x"), N("exit", "Exit", {"x"}), N("next", "NextIteration", {"x"}), N("sw", "Switch", {"x"})};
  auto e1 = Compile(g, {"x"}, {"exit"}, {});
  ASSERT_TRUE(e1.ok()) << e1.status().ToString();
  Status st = RunStatus(*e1.value(), {F(1)});
  EXPECT_NE(st.message().find("not inside a while loop frame"), std::string::npos) << st.message();
  auto e2 = Compile(g, {"x"}, {"next"}, {});
  ASSERT_TRUE(e2.ok()) << e2.status().ToString();
  st = RunStatus(*e2.value(), {F(1)});
  EXPECT_NE(st.message().find("not inside a while loop frame"), std::string::npos) << st.message();
  auto e3 = Compile(g, {"x"}, {"sw"}, {});
  ASSERT_FALSE(e3.ok());
  EXPECT_NE(e3.status().message().find("Switch 'sw' has 1 data inputs"), std::string::npos) << e3.status().message();
  // A Switch whose predicate is not a bool scalar.
  GraphDef h;
  h.nodes = {Ph("x"), N("sw", "Switch", {"x", "x"})};
  auto e4 = Compile(h, {"x"}, {"sw:1"}, {});
  ASSERT_TRUE(e4.ok()) << e4.status().ToString();
  st = RunStatus(*e4.value(), {F(1)});
  EXPECT_NE(st.message().find("bool scalar predicate"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace inferd::tf
