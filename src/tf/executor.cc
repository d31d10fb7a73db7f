// tf/executor.cc: Compile (resolve, inline, prune, sort, check, fold, plan) and the flat-plan Executable.
//
// The plan is a flat array of kernel steps in one topological order; each step reads its inputs from a run's
// vector<Tensor> of slots (or from the Executable's folded constants) by index and writes its outputs into
// slots. A slot is moved out by its last reader, so a value is released as soon as nothing needs it. Ops the
// executor handles itself leave no step: Const and folded nodes become constants, pass-throughs (the nodes
// that replace inlined calls, an unfed PlaceholderWithDefault) alias their inputs, NoOps only order.
//
// Graphs with TF1 control flow (Switch/Merge/Enter/Exit/NextIteration/LoopCond) do not get this plan: Compile
// hands them, pruned and checked, to the dataflow executor of control_flow.cc (frames, iterations, dead values;
// see executor_internal.h). This file only routes them there (CompileDataflow).
#include "tf/executor.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "core/clock.h"
#include "core/mutex.h"
#include "tf/executor_internal.h"

namespace inferd::tf {

Status CheckDeadline(const RunContext& ctx, const NodeDef& node) {
  if (ctx.deadline_ns == 0 || NowNs() <= ctx.deadline_ns) return Status::Ok();
  return DeadlineExceeded("the run's deadline passed before " + node.op + " '" + node.name + "' (timeout)");
}

namespace {

using internal::FunctionLibrary;
using internal::WorkGraph;

// The attr through which the executor tells a ref-variable kernel (Assign, AssignAdd, AssignSub,
// IsVariableInitialized) which variable its input 0 was; that input is then removed (the IR has no refs).
constexpr std::string_view kRefVarAttr = "_inferd_var";

bool IsControlFlowOp(std::string_view op) {
  static const std::unordered_set<std::string_view> kOps = {
      "Switch",      "RefSwitch",      "Merge",        "RefMerge",       "Enter",
      "RefEnter",    "Exit",           "RefExit",      "NextIteration",  "RefNextIteration",
      "LoopCond",    "ControlTrigger", "While",        "StatelessWhile", "If",
      "StatelessIf", "Case",           "StatelessCase"};
  return kOps.count(op) != 0;
}

bool IsTensorListOp(std::string_view op) { return op.starts_with("TensorList") || op.starts_with("TensorArray"); }

// Ops that write variables: an Executable containing one is stateful() (Run must be serialized). Reading
// variables, RestoreV2 and random ops are stateful in the registry's sense (never folded) but safe to run
// concurrently.
bool IsAssigningOp(std::string_view op) {
  return op == "Assign" || op == "AssignAdd" || op == "AssignSub" || op == "AssignVariableOp" ||
         op == "AssignAddVariableOp" || op == "AssignSubVariableOp" || op.starts_with("ResourceApply") ||
         op.starts_with("ResourceSparseApply") || op.starts_with("ResourceScatter") || op.starts_with("Apply") ||
         op.starts_with("SparseApply") || (op.starts_with("Scatter") && op != "ScatterNd") || op == "DestroyResourceOp";
}

// Output indices beyond this are refused (a hostile "node:2147483647" must not size per-node tables).
constexpr int kMaxOutputIndex = 1 << 20;

bool IsPlaceholder(std::string_view op) { return op == "Placeholder" || op == "PlaceholderV2"; }

// The executor's own ops (no kernel needed).
bool IsExecutorOp(std::string_view op) {
  return IsPlaceholder(op) || op == "PlaceholderWithDefault" || op == "Const" || op == "NoOp" ||
         op == internal::kPassOp || op == internal::kControlOp;
}

struct TensorId {
  int node = -1;
  int index = 0;
};

uint64_t Key(int node, int index) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(node)) << 32) | static_cast<uint32_t>(index);
}

// An input edge of a node: data (index >= 0) or control (-1). `feed` >= 0 when the data tensor is fed;
// `live` is false for edges cut by a feed (TensorFlow's rewrite: a fed tensor's producer is not run, and a fed
// Placeholder's control edges are dropped).
struct Edge {
  int node = -1;
  int index = 0;
  int feed = -1;
  bool live = true;
};

// A value at run time: >= 0 a slot of the run, < 0 the constant ~v.
using Src = int32_t;

}  // namespace

namespace internal {
Status CheckFeed(const TensorInfo& info, const Tensor& t, bool check_shape) {
  if (!t.valid()) return InvalidArgument("feed '" + info.tensor_name + "': no tensor given");
  if (info.dtype != DType::kInvalid && t.dtype() != info.dtype) {
    return InvalidArgument("feed '" + info.tensor_name + "': expected " + std::string(DTypeName(info.dtype)) +
                           ", got " + std::string(DTypeName(t.dtype())));
  }
  if (!check_shape || info.shape.unknown_rank) return Status::Ok();
  bool ok = static_cast<size_t>(t.rank()) == info.shape.dims.size();
  for (size_t i = 0; ok && i < info.shape.dims.size(); ++i) {
    ok = info.shape.dims[i] < 0 || info.shape.dims[i] == t.shape()[i];
  }
  if (ok) return Status::Ok();
  return InvalidArgument("feed '" + info.tensor_name + "': shape " + ShapeString(t.shape()) +
                         " does not match the declared shape " + ShapeString(info.shape.dims) + " (-1: any)");
}
}  // namespace internal

namespace {
using internal::CheckFeed;

// The compiled plan (see the file comment).
class PlanExecutable final : public Executable {
 public:
  struct In {
    Src src = 0;
    bool move = false;  // the last reader of this slot: take the value out of the slot
  };
  struct Step {
    KernelFn fn = nullptr;
    uint32_t node = 0;  // into nodes_
    uint32_t in_begin = 0, in_end = 0;
    uint32_t out_begin = 0, out_end = 0;  // slots for outputs 0..n-1 (-1: not read by anyone)
  };

  Status Run(std::span<const Tensor> feeds, std::vector<Tensor>* fetches, RunContext& ctx) const override;
  bool stateful() const override { return stateful_; }
  std::span<const TensorInfo> feed_info() const override { return feed_info_; }

  std::vector<NodeDef> nodes_;
  std::vector<Step> steps_;
  std::vector<In> ins_;
  std::vector<int32_t> outs_;
  std::vector<Tensor> constants_;
  std::vector<Src> fetch_src_;
  std::vector<TensorInfo> feed_info_;  // feed i is slot i
  size_t num_slots_ = 0;
  bool stateful_ = false;
  bool check_feed_shapes_ = true;

 private:
  // One run's storage, kept between runs so that a run allocates no vectors and copies no constants: `in`
  // holds every step's inputs side by side (ins_'s order), constants placed once when the frame is made;
  // slot values are moved or copied in before their step and dropped after it.
  struct Frame {
    std::vector<Tensor> slots;
    std::vector<Tensor> in;
    std::vector<Tensor> out;
  };
  static constexpr size_t kMaxIdleFrames = 8;  // frames kept for reuse; more concurrent runs make their own
  std::unique_ptr<Frame> TakeFrame() const;
  void ReturnFrame(std::unique_ptr<Frame> frame) const;
  Status RunSteps(Frame& f, RunContext& ctx) const;

  mutable Mutex frames_mu_;
  mutable std::vector<std::unique_ptr<Frame>> idle_frames_ GUARDED_BY(frames_mu_);
};

std::unique_ptr<PlanExecutable::Frame> PlanExecutable::TakeFrame() const {
  {
    MutexLock lock(frames_mu_);
    if (!idle_frames_.empty()) {
      std::unique_ptr<Frame> f = std::move(idle_frames_.back());
      idle_frames_.pop_back();
      return f;
    }
  }
  auto f = std::make_unique<Frame>();
  f->slots.resize(num_slots_);
  f->in.resize(ins_.size());
  for (size_t k = 0; k < ins_.size(); ++k) {
    if (ins_[k].src < 0) f->in[k] = constants_[static_cast<size_t>(~ins_[k].src)];
  }
  return f;
}

// Drops the run's values (a frame holds no request data between runs) and keeps the frame for the next run.
void PlanExecutable::ReturnFrame(std::unique_ptr<Frame> f) const {
  for (Tensor& t : f->slots) t = Tensor();
  for (size_t k = 0; k < ins_.size(); ++k) {
    if (ins_[k].src >= 0) f->in[k] = Tensor();
  }
  f->out.clear();
  MutexLock lock(frames_mu_);
  if (idle_frames_.size() < kMaxIdleFrames) idle_frames_.push_back(std::move(f));
}

Status PlanExecutable::RunSteps(Frame& f, RunContext& ctx) const {
  for (const Step& step : steps_) {
    if (ctx.deadline_ns != 0) RETURN_IF_ERROR(CheckDeadline(ctx, nodes_[step.node]));
    for (uint32_t k = step.in_begin; k < step.in_end; ++k) {
      const In& i = ins_[k];
      if (i.src < 0) continue;  // a constant, already in place
      Tensor& slot = f.slots[static_cast<size_t>(i.src)];
      f.in[k] = i.move ? std::move(slot) : slot;
    }
    f.out.clear();
    const NodeDef& node = nodes_[step.node];
    KernelContext kc{node, std::span<const Tensor>(f.in.data() + step.in_begin, step.in_end - step.in_begin), f.out,
                     ctx.variables, ctx.checkpoint};
    RETURN_IF_ERROR(step.fn(kc));
    for (uint32_t k = step.in_begin; k < step.in_end; ++k) {
      if (ins_[k].src >= 0) f.in[k] = Tensor();  // release an intermediate as soon as its last reader ran
    }
    if (f.out.size() < step.out_end - step.out_begin) {
      return Internal(node.op + " '" + node.name + "' produced " + std::to_string(f.out.size()) + " outputs, " +
                      std::to_string(step.out_end - step.out_begin) + " are used");
    }
    for (uint32_t k = step.out_begin; k < step.out_end; ++k) {
      int32_t slot = outs_[k];
      if (slot < 0) continue;
      Tensor& t = f.out[k - step.out_begin];
      if (!t.valid()) return Internal(node.op + " '" + node.name + "' produced an invalid tensor");
      f.slots[static_cast<size_t>(slot)] = std::move(t);
    }
  }
  return Status::Ok();
}

Status PlanExecutable::Run(std::span<const Tensor> feeds, std::vector<Tensor>* fetches, RunContext& ctx) const {
  if (feeds.size() != feed_info_.size()) {
    return InvalidArgument("expected " + std::to_string(feed_info_.size()) + " feeds, got " +
                           std::to_string(feeds.size()));
  }
  for (size_t i = 0; i < feeds.size(); ++i) RETURN_IF_ERROR(CheckFeed(feed_info_[i], feeds[i], check_feed_shapes_));
  std::unique_ptr<Frame> f = TakeFrame();
  for (size_t i = 0; i < feeds.size(); ++i) f->slots[i] = feeds[i];
  Status st = RunSteps(*f, ctx);
  if (st.ok()) {
    fetches->clear();
    fetches->reserve(fetch_src_.size());
    for (size_t j = 0; j < fetch_src_.size(); ++j) {
      const Src s = fetch_src_[j];
      if (s < 0) {
        fetches->push_back(constants_[static_cast<size_t>(~s)]);
        continue;
      }
      // Moved out unless fetched again later (the same tensor named twice).
      Tensor& slot = f->slots[static_cast<size_t>(s)];
      const bool again = std::find(fetch_src_.begin() + static_cast<std::ptrdiff_t>(j) + 1, fetch_src_.end(), s) !=
                         fetch_src_.end();
      fetches->push_back(again ? slot : std::move(slot));
    }
  }
  ReturnFrame(std::move(f));
  return st;
}

// ---- compile-time helpers ----

// The element count named by a 1-D int32/int64 shape tensor, saturated at 2^62; -1 when it is no such tensor.
int64_t ShapeProduct(const Tensor& t) {
  if (t.rank() != 1 || (t.dtype() != DType::kInt32 && t.dtype() != DType::kInt64)) return -1;
  int64_t n = 1;
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    int64_t d = t.dtype() == DType::kInt32 ? t.data<int32_t>()[i] : t.data<int64_t>()[i];
    if (d < 0) return -1;
    n = (d != 0 && n > (int64_t{1} << 62) / d) ? (int64_t{1} << 62) : n * d;
  }
  return n;
}

int64_t ElementBytes(DType t) { return t == DType::kString ? 1 : static_cast<int64_t>(DTypeSize(t)); }

// Bytes a folded op that expands its input will allocate, known before it runs (-1: not estimated). The
// kernels bound each tensor at kMaxElements, which is still 16 GiB of int64: this keeps folding under
// CompileOptions::max_constant_bytes before anything is allocated.
int64_t EstimateExpansionBytes(std::string_view op, std::span<const Tensor> in) {
  auto sat_mul = [](int64_t a, int64_t b) {
    return (b != 0 && a > (int64_t{1} << 62) / b) ? (int64_t{1} << 62) : a * b;
  };
  if (op == "Fill" && in.size() == 2) {
    int64_t n = ShapeProduct(in[0]);
    return n < 0 ? -1 : sat_mul(n, ElementBytes(in[1].dtype()));
  }
  if (op == "BroadcastTo" && in.size() == 2) {
    int64_t n = ShapeProduct(in[1]);
    return n < 0 ? -1 : sat_mul(n, ElementBytes(in[0].dtype()));
  }
  if (op == "Tile" && in.size() == 2) {
    int64_t n = ShapeProduct(in[1]);
    return n < 0 ? -1 : sat_mul(sat_mul(n, in[0].num_elements()), ElementBytes(in[0].dtype()));
  }
  if (op == "Range" && in.size() == 3 && in[0].num_elements() == 1 && in[1].num_elements() == 1 &&
      in[2].num_elements() == 1 && in[0].dtype() == in[1].dtype() && in[0].dtype() == in[2].dtype()) {
    double start = 0, limit = 0, delta = 0;
    switch (in[0].dtype()) {
      case DType::kInt32:
        start = in[0].data<int32_t>()[0], limit = in[1].data<int32_t>()[0], delta = in[2].data<int32_t>()[0];
        break;
      case DType::kInt64:
        start = static_cast<double>(in[0].data<int64_t>()[0]), limit = static_cast<double>(in[1].data<int64_t>()[0]),
        delta = static_cast<double>(in[2].data<int64_t>()[0]);
        break;
      case DType::kFloat:
        start = in[0].data<float>()[0], limit = in[1].data<float>()[0], delta = in[2].data<float>()[0];
        break;
      default:
        return -1;
    }
    if (delta == 0 || !(std::abs(limit - start) / std::abs(delta) < 4e18)) return -1;  // the kernel refuses
    double n = std::ceil(std::abs(limit - start) / std::abs(delta));
    return sat_mul(static_cast<int64_t>(n), ElementBytes(in[0].dtype()));
  }
  return -1;
}

int64_t TensorBytes(const Tensor& t) {
  if (t.dtype() != DType::kString && t.dtype() != DType::kResource) return static_cast<int64_t>(t.byte_size());
  int64_t n = 0;
  for (const auto& s : t.strings()) n += static_cast<int64_t>(s.size() + sizeof(std::string));
  return n;
}

TensorInfo FeedInfo(const NodeDef& node, int index) {
  TensorInfo info;
  info.tensor_name = node.name + ":" + std::to_string(index);
  if (index != 0 || (!IsPlaceholder(node.op) && node.op != "PlaceholderWithDefault")) return info;
  if (const AttrValue* a = FindAttr(node, "dtype"); a && a->kind == AttrValue::Kind::kType) info.dtype = a->type;
  if (const AttrValue* a = FindAttr(node, "shape"); a && a->kind == AttrValue::Kind::kShape) info.shape = a->shape;
  return info;
}

}  // namespace

namespace {

// One compilation: the passes run in order on a private copy of the graph.
class Compiler {
 public:
  Compiler(const GraphDef& graph, const CompileOptions& opt, const KernelRegistry& reg)
      : graph_(graph), opt_(opt), reg_(reg) {}

  StatusOr<std::unique_ptr<Executable>> Compile(const std::vector<std::string>& feeds,
                                                const std::vector<std::string>& fetches,
                                                const std::vector<std::string>& targets) {
    RETURN_IF_ERROR(Load());
    RETURN_IF_ERROR(ResolveNames(feeds, fetches, targets));
    RETURN_IF_ERROR(InlineCalls());
    if (RewriteRefAssigns()) RETURN_IF_ERROR(Prune());
    if (std::any_of(needed_list_.begin(), needed_list_.end(),
                    [&](int v) { return internal::IsDataflowOp(node(v).op); })) {
      return CompileDataflow();  // TF1 loops and conds: control_flow.cc
    }
    if (Status sorted = Sort(); !sorted.ok()) {
      // TF1 while loops are cycles: name the control-flow ops rather than the cycle they make.
      order_ = needed_list_;
      Status ops = CheckOps();
      return ops.code() == StatusCode::kUnimplemented ? ops : sorted;
    }
    RETURN_IF_ERROR(CheckOps());
    auto exe = std::make_unique<PlanExecutable>();
    RETURN_IF_ERROR(Plan(*exe));
    Finish(*exe);
    return std::unique_ptr<Executable>(std::move(exe));
  }

 private:
  Status Load();
  StatusOr<TensorId> ResolveTensor(const std::string& s, std::string_view what) const;
  Status ResolveNames(const std::vector<std::string>& feeds, const std::vector<std::string>& fetches,
                      const std::vector<std::string>& targets);
  Status ComputeEdges(int n);
  Status Prune();
  Status InlineCalls();
  bool RewriteRefAssigns();
  Status Sort();
  Status CycleError(const std::vector<char>& sorted) const;
  Status CheckOps() const;
  Status Plan(PlanExecutable& exe);
  StatusOr<std::unique_ptr<Executable>> CompileDataflow();
  StatusOr<Src> InputSrc(int n, const Edge& e) const;
  Status Fold(int n, const KernelDef& def, const std::vector<Src>& srcs);
  void AddStep(PlanExecutable& exe, int n, const KernelDef& def, const std::vector<Src>& srcs);
  void Finish(PlanExecutable& exe);

  const NodeDef& node(int n) const { return g_.nodes[static_cast<size_t>(n)]; }

  const GraphDef& graph_;
  const CompileOptions& opt_;
  const KernelRegistry& reg_;
  WorkGraph g_;
  FunctionLibrary lib_;
  std::vector<TensorId> feeds_, fetches_;
  std::vector<int> targets_;
  std::unordered_map<uint64_t, int> fed_;  // Key(node, index) -> feed position
  std::vector<std::vector<Edge>> edges_;   // of needed nodes
  std::vector<char> needed_;
  std::vector<int> needed_list_;
  std::vector<int> order_;  // needed nodes, topologically sorted
  // Plan state.
  std::vector<std::vector<Src>> out_src_;  // per node: where output k lives
  std::vector<std::vector<char>> used_;    // per node: output k is read by a needed node or fetched
  std::vector<char> is_const_;
  std::vector<Tensor> pool_;  // constants while compiling (Src ~i)
  int64_t folded_bytes_ = 0;
  int32_t next_slot_ = 0;
};

Status Compiler::Load() {
  if (static_cast<int64_t>(graph_.nodes.size()) > opt_.max_nodes) {
    return InvalidArgument("the graph has " + std::to_string(graph_.nodes.size()) + " nodes, more than " +
                           std::to_string(opt_.max_nodes) + " (CompileOptions::max_nodes)");
  }
  g_.nodes.reserve(graph_.nodes.size());
  g_.index.reserve(graph_.nodes.size());
  for (const NodeDef& n : graph_.nodes) RETURN_IF_ERROR(g_.Add(n));
  for (const FunctionDef& f : graph_.functions) lib_.emplace(f.name, &f);
  return Status::Ok();
}

StatusOr<TensorId> Compiler::ResolveTensor(const std::string& s, std::string_view what) const {
  InputRef r = ParseInput(s);
  if (r.index < 0 || !r.output_arg.empty()) {
    return InvalidArgument(std::string(what) + " '" + s + "' is not a tensor name (\"node\" or \"node:index\")");
  }
  if (r.index > kMaxOutputIndex) return InvalidArgument(std::string(what) + " '" + s + "': output index over 2^20");
  int n = g_.Find(r.node);
  if (n < 0) return NotFound(std::string(what) + " '" + s + "': no node '" + r.node + "' in the graph");
  return TensorId{n, r.index};
}

Status Compiler::ResolveNames(const std::vector<std::string>& feeds, const std::vector<std::string>& fetches,
                              const std::vector<std::string>& targets) {
  for (const auto& s : feeds) {
    ASSIGN_OR_RETURN(TensorId t, ResolveTensor(s, "feed"));
    if (!fed_.emplace(Key(t.node, t.index), static_cast<int>(feeds_.size())).second) {
      return InvalidArgument("feed '" + s + "' is given twice");
    }
    feeds_.push_back(t);
  }
  for (const auto& s : fetches) {
    ASSIGN_OR_RETURN(TensorId t, ResolveTensor(s, "fetch"));
    fetches_.push_back(t);
  }
  for (const auto& s : targets) {
    std::string name = !s.empty() && s[0] == '^' ? s.substr(1) : s;
    InputRef r = ParseInput(name);
    int n = g_.Find(r.node);
    if (n < 0) return NotFound("target '" + s + "': no node '" + r.node + "' in the graph");
    targets_.push_back(n);
  }
  return Status::Ok();
}

Status Compiler::ComputeEdges(int n) {
  std::vector<Edge>& out = edges_[static_cast<size_t>(n)];
  out.clear();
  const NodeDef& nd = node(n);
  for (const std::string& s : nd.inputs) {
    InputRef r = ParseInput(s);
    int p = r.output_arg.empty() ? g_.Find(r.node) : -1;
    if (p < 0) return InvalidArgument(nd.op + " '" + nd.name + "': input '" + s + "' names no node of the graph");
    if (r.index > kMaxOutputIndex) {
      return InvalidArgument(nd.op + " '" + nd.name + "': input '" + s + "' has an output index over 2^20");
    }
    Edge e{p, r.index, -1, true};
    if (r.index >= 0) {
      auto it = fed_.find(Key(p, r.index));
      if (it != fed_.end()) e.feed = it->second, e.live = false;
    } else if ((IsPlaceholder(node(p).op) || node(p).op == "PlaceholderWithDefault") && fed_.count(Key(p, 0))) {
      e.live = false;  // a fed Placeholder's control edges go with it
    }
    out.push_back(e);
  }
  return Status::Ok();
}

Status Compiler::Prune() {
  const size_t n = g_.nodes.size();
  needed_.assign(n, 0);
  edges_.resize(n);
  needed_list_.clear();
  std::vector<int> stack;
  for (const TensorId& t : fetches_) {
    if (!fed_.count(Key(t.node, t.index))) stack.push_back(t.node);
  }
  for (int t : targets_) {
    if (!(IsPlaceholder(node(t).op) && fed_.count(Key(t, 0)))) stack.push_back(t);
  }
  while (!stack.empty()) {
    int v = stack.back();
    stack.pop_back();
    if (needed_[static_cast<size_t>(v)]) continue;
    needed_[static_cast<size_t>(v)] = 1;
    needed_list_.push_back(v);
    RETURN_IF_ERROR(ComputeEdges(v));
    for (const Edge& e : edges_[static_cast<size_t>(v)]) {
      if (e.live && !needed_[static_cast<size_t>(e.node)]) stack.push_back(e.node);
    }
  }
  std::sort(needed_list_.begin(), needed_list_.end());
  return Status::Ok();
}

Status Compiler::InlineCalls() {
  for (int depth = 0;; ++depth) {
    RETURN_IF_ERROR(Prune());
    ASSIGN_OR_RETURN(bool lowered, internal::LowerFunctionalControlFlow(g_, needed_list_));  // control_flow.cc
    if (lowered) RETURN_IF_ERROR(Prune());
    std::vector<std::pair<int, const FunctionDef*>> calls;
    for (int n : needed_list_) {
      ASSIGN_OR_RETURN(const FunctionDef* f, internal::CalledFunction(node(n), lib_));
      if (f != nullptr) calls.emplace_back(n, f);
    }
    if (calls.empty()) return Status::Ok();
    if (depth >= opt_.max_function_depth) {
      const NodeDef& c = node(calls[0].first);
      return InvalidArgument("function calls nest deeper than " + std::to_string(opt_.max_function_depth) +
                             " (CompileOptions::max_function_depth; recursion?): " + c.op + " '" + c.name +
                             "' calls '" + calls[0].second->name + "'");
    }
    for (const auto& [n, f] : calls) RETURN_IF_ERROR(internal::InlineCall(g_, n, *f, lib_, opt_.max_nodes));
  }
}

// TF1 ref variables: Assign(VariableV2, value) writes the variable the ref names. The IR has no refs, so the
// variable's name goes into the assigning node as kRefVarAttr and its ref input is dropped (the kernel must not
// read an uninitialized variable it is about to initialize). Returns whether anything changed.
bool Compiler::RewriteRefAssigns() {
  bool changed = false;
  for (int n : needed_list_) {
    NodeDef& nd = g_.nodes[static_cast<size_t>(n)];
    if (nd.op != "Assign" && nd.op != "AssignAdd" && nd.op != "AssignSub" && nd.op != "IsVariableInitialized") {
      continue;
    }
    const auto& edges = edges_[static_cast<size_t>(n)];
    auto first = std::find_if(edges.begin(), edges.end(), [](const Edge& e) { return e.index >= 0; });
    if (first == edges.end() || !first->live) continue;
    const NodeDef& var = node(first->node);
    if (var.op != "VariableV2" && var.op != "Variable") continue;
    const AttrValue* shared = FindAttr(var, "shared_name");
    AttrValue name;
    name.kind = AttrValue::Kind::kS;
    name.s = shared != nullptr && shared->kind == AttrValue::Kind::kS && !shared->s.empty() ? shared->s : var.name;
    nd.attrs[std::string(kRefVarAttr)] = std::move(name);
    auto in =
        std::find_if(nd.inputs.begin(), nd.inputs.end(), [](const std::string& s) { return s.empty() || s[0] != '^'; });
    nd.inputs.erase(in);
    changed = true;
  }
  return changed;
}

Status Compiler::Sort() {
  const size_t n = g_.nodes.size();
  std::vector<int> indeg(n, 0);
  std::vector<std::vector<int>> consumers(n);
  for (int v : needed_list_) {
    for (const Edge& e : edges_[static_cast<size_t>(v)]) {
      if (!e.live) continue;
      ++indeg[static_cast<size_t>(v)];
      consumers[static_cast<size_t>(e.node)].push_back(v);
    }
  }
  std::deque<int> ready;
  for (int v : needed_list_) {
    if (indeg[static_cast<size_t>(v)] == 0) ready.push_back(v);
  }
  order_.clear();
  std::vector<char> sorted(n, 0);
  while (!ready.empty()) {
    int v = ready.front();
    ready.pop_front();
    order_.push_back(v);
    sorted[static_cast<size_t>(v)] = 1;
    for (int c : consumers[static_cast<size_t>(v)]) {
      if (--indeg[static_cast<size_t>(c)] == 0) ready.push_back(c);
    }
  }
  if (order_.size() != needed_list_.size()) return CycleError(sorted);
  return Status::Ok();
}

// Walks back from an unsorted node through unsorted producers until a node repeats: that node is on a cycle.
Status Compiler::CycleError(const std::vector<char>& sorted) const {
  int v = -1;
  for (int c : needed_list_) {
    if (!sorted[static_cast<size_t>(c)]) {
      v = c;
      break;
    }
  }
  std::vector<char> seen(g_.nodes.size(), 0);
  while (v >= 0 && !seen[static_cast<size_t>(v)]) {
    seen[static_cast<size_t>(v)] = 1;
    int next = -1;
    for (const Edge& e : edges_[static_cast<size_t>(v)]) {
      if (e.live && !sorted[static_cast<size_t>(e.node)]) {
        next = e.node;
        break;
      }
    }
    if (next < 0) break;
    v = next;
  }
  return InvalidArgument("the graph has a cycle through node '" + node(v).name + "' (" + node(v).op + ")");
}

Status Compiler::CheckOps() const {
  std::string unsupported;
  std::unordered_set<std::string_view> listed;
  bool control_flow = false;
  const NodeDef* unfed = nullptr;
  for (int v : order_) {
    const NodeDef& nd = node(v);
    if (IsPlaceholder(nd.op)) {
      if (unfed == nullptr) unfed = &nd;
      continue;
    }
    if (IsExecutorOp(nd.op) || internal::IsDataflowOp(nd.op)) continue;  // dataflow: control_flow.cc
    bool cf = IsControlFlowOp(nd.op);
    if (const KernelDef* k = cf ? nullptr : reg_.Find(nd.op)) {
      if (k->check != nullptr) RETURN_IF_ERROR(k->check(nd));
      continue;
    }
    control_flow = control_flow || cf || IsTensorListOp(nd.op);
    if (!listed.insert(nd.op).second) continue;
    unsupported += (unsupported.empty() ? "" : ", ") + nd.op + " (node '" + nd.name + "')";
  }
  if (!unsupported.empty()) {
    return Unimplemented("ops not supported: " + unsupported +
                         (control_flow ? "; control flow through Case (functional) and the TensorList/TensorArray ops "
                                         "listed are not supported yet"
                                       : ""));
  }
  if (unfed != nullptr) {
    return InvalidArgument(unfed->op + " '" + unfed->name + "' is needed by the fetches or targets but not fed");
  }
  return Status::Ok();
}

// The needed graph, checked, as the dataflow executor's input (indices into the needed nodes).
StatusOr<std::unique_ptr<Executable>> Compiler::CompileDataflow() {
  order_ = needed_list_;
  RETURN_IF_ERROR(CheckOps());
  internal::FlowGraph fg;
  std::vector<int> local(g_.nodes.size(), -1);
  for (int v : needed_list_) {
    local[static_cast<size_t>(v)] = static_cast<int>(fg.nodes.size());
    fg.nodes.push_back(node(v));
  }
  for (int v : needed_list_) {
    auto& ins = fg.inputs.emplace_back();
    for (const Edge& e : edges_[static_cast<size_t>(v)]) {
      if (e.feed >= 0) ins.push_back({-1, e.index, e.feed});
      if (e.live) ins.push_back({local[static_cast<size_t>(e.node)], e.index, -1});
    }
  }
  for (const TensorId& t : fetches_) {
    auto it = fed_.find(Key(t.node, t.index));
    if (it != fed_.end()) {
      fg.fetches.push_back({-1, t.index, it->second});
    } else {
      fg.fetches.push_back({local[static_cast<size_t>(t.node)], t.index, -1});
    }
  }
  for (const TensorId& t : feeds_) fg.feed_info.push_back(FeedInfo(node(t.node), t.index));
  fg.check_feed_shapes = opt_.check_feed_shapes;
  fg.stateful = std::any_of(fg.nodes.begin(), fg.nodes.end(), [](const NodeDef& nd) { return IsAssigningOp(nd.op); });
  return internal::CompileDataflow(std::move(fg), reg_, opt_);
}

StatusOr<Src> Compiler::InputSrc(int n, const Edge& e) const {
  if (e.feed >= 0) return e.feed;
  const auto& outs = out_src_[static_cast<size_t>(e.node)];
  if (static_cast<size_t>(e.index) >= outs.size()) {
    return InvalidArgument(node(n).op + " '" + node(n).name + "' reads output " + std::to_string(e.index) + " of '" +
                           node(e.node).name + "' (" + node(e.node).op + "), which has " + std::to_string(outs.size()));
  }
  return outs[static_cast<size_t>(e.index)];
}

Status Compiler::Fold(int n, const KernelDef& def, const std::vector<Src>& srcs) {
  const NodeDef& nd = node(n);
  std::vector<Tensor> in;
  in.reserve(srcs.size());
  for (Src s : srcs) in.push_back(pool_[static_cast<size_t>(~s)]);
  const int64_t room = opt_.max_constant_bytes - folded_bytes_;
  const int64_t estimate = EstimateExpansionBytes(nd.op, in);
  auto over = [&](int64_t bytes) {
    return InvalidArgument("constant folding " + nd.op + " '" + nd.name + "' needs " + std::to_string(bytes) +
                           " bytes, over the " + std::to_string(opt_.max_constant_bytes) +
                           " bytes that folding may compute (CompileOptions::max_constant_bytes)");
  };
  if (estimate > room) return over(estimate);
  std::vector<Tensor> out;
  KernelContext kc{nd, in, out, nullptr, nullptr};
  Status st = def.fn(kc);
  if (!st.ok()) return Status(st.code(), "constant folding: " + st.message());
  auto& dst = out_src_[static_cast<size_t>(n)];
  dst.clear();
  for (Tensor& t : out) {
    if (!t.valid()) return Internal(nd.op + " '" + nd.name + "' produced an invalid tensor");
    bool shared = std::any_of(in.begin(), in.end(), [&](const Tensor& i) { return t.SharesBufferWith(i); });
    if (!shared) folded_bytes_ += TensorBytes(t);
    if (folded_bytes_ > opt_.max_constant_bytes) return over(folded_bytes_);
    dst.push_back(~static_cast<Src>(pool_.size()));
    pool_.push_back(std::move(t));
  }
  is_const_[static_cast<size_t>(n)] = 1;
  return Status::Ok();
}

void Compiler::AddStep(PlanExecutable& exe, int n, const KernelDef& def, const std::vector<Src>& srcs) {
  PlanExecutable::Step step;
  step.fn = def.fn;
  step.node = static_cast<uint32_t>(exe.nodes_.size());
  exe.nodes_.push_back(node(n));
  step.in_begin = static_cast<uint32_t>(exe.ins_.size());
  for (Src s : srcs) exe.ins_.push_back({s, false});
  step.in_end = static_cast<uint32_t>(exe.ins_.size());
  step.out_begin = static_cast<uint32_t>(exe.outs_.size());
  auto& dst = out_src_[static_cast<size_t>(n)];
  const auto& used = used_[static_cast<size_t>(n)];
  dst.assign(used.size(), -1);
  for (size_t k = 0; k < used.size(); ++k) {
    int32_t slot = used[k] ? next_slot_++ : -1;
    exe.outs_.push_back(slot);
    dst[k] = slot;
  }
  step.out_end = static_cast<uint32_t>(exe.outs_.size());
  exe.steps_.push_back(step);
}

Status Compiler::Plan(PlanExecutable& exe) {
  const size_t n = g_.nodes.size();
  out_src_.assign(n, {});
  used_.assign(n, {});
  is_const_.assign(n, 0);
  auto mark = [&](int p, int k) {
    auto& u = used_[static_cast<size_t>(p)];
    if (u.size() <= static_cast<size_t>(k)) u.resize(static_cast<size_t>(k) + 1, 0);
    u[static_cast<size_t>(k)] = 1;
  };
  for (int v : order_) {
    for (const Edge& e : edges_[static_cast<size_t>(v)]) {
      if (e.live && e.index >= 0) mark(e.node, e.index);
    }
  }
  for (const TensorId& t : fetches_) {
    if (!fed_.count(Key(t.node, t.index))) mark(t.node, t.index);
  }
  next_slot_ = static_cast<int32_t>(feeds_.size());
  std::vector<Src> srcs;
  for (int v : order_) {
    const NodeDef& nd = node(v);
    srcs.clear();
    bool all_const = true;
    for (const Edge& e : edges_[static_cast<size_t>(v)]) {
      if (e.index < 0) {
        all_const = all_const && (!e.live || is_const_[static_cast<size_t>(e.node)]);
        continue;
      }
      ASSIGN_OR_RETURN(Src s, InputSrc(v, e));
      all_const = all_const && s < 0;
      srcs.push_back(s);
    }
    if (nd.op == "Const") {
      const AttrValue* a = FindAttr(nd, "value");
      if (a == nullptr || a->kind != AttrValue::Kind::kTensor || !a->tensor.valid()) {
        return InvalidArgument("Const '" + nd.name + "': attr 'value' is missing or not a tensor");
      }
      out_src_[static_cast<size_t>(v)] = {~static_cast<Src>(pool_.size())};
      pool_.push_back(a->tensor);
      is_const_[static_cast<size_t>(v)] = 1;
    } else if (nd.op == "PlaceholderWithDefault" || nd.op == internal::kPassOp) {
      out_src_[static_cast<size_t>(v)] = srcs;  // an alias: no step
      is_const_[static_cast<size_t>(v)] = all_const;
    } else if (nd.op == "NoOp" || nd.op == internal::kControlOp) {
      is_const_[static_cast<size_t>(v)] = all_const;  // orders only: the plan's order already does
    } else {
      const KernelDef* def = reg_.Find(nd.op);  // CheckOps made sure it exists
      if (opt_.fold_constants && !def->stateful && all_const) {
        RETURN_IF_ERROR(Fold(v, *def, srcs));
      } else {
        AddStep(exe, v, *def, srcs);
      }
    }
  }
  for (const TensorId& t : fetches_) {
    auto it = fed_.find(Key(t.node, t.index));
    const auto& outs = out_src_[static_cast<size_t>(t.node)];
    if (it == fed_.end() && static_cast<size_t>(t.index) >= outs.size()) {
      return InvalidArgument("fetch '" + node(t.node).name + ":" + std::to_string(t.index) + "': " + node(t.node).op +
                             " '" + node(t.node).name + "' has no output " + std::to_string(t.index));
    }
    Src s = it != fed_.end() ? it->second : outs[static_cast<size_t>(t.index)];
    exe.fetch_src_.push_back(s);
  }
  return Status::Ok();
}

// Keeps only the constants the plan reads, marks each slot's last reader, drops outputs nobody reads, and
// fills the feed metadata and the stateful flag.
void Compiler::Finish(PlanExecutable& exe) {
  std::unordered_map<Src, Src> remap;
  auto keep = [&](Src& s) {
    if (s >= 0) return;
    auto [it, inserted] = remap.emplace(s, ~static_cast<Src>(exe.constants_.size()));
    if (inserted) exe.constants_.push_back(std::move(pool_[static_cast<size_t>(~s)]));
    s = it->second;
  };
  for (auto& in : exe.ins_) keep(in.src);
  for (auto& s : exe.fetch_src_) keep(s);
  pool_.clear();
  exe.num_slots_ = static_cast<size_t>(next_slot_);
  std::vector<char> read(exe.num_slots_, 0);
  for (Src s : exe.fetch_src_) {
    if (s >= 0) read[static_cast<size_t>(s)] = 2;  // fetched: never moved out
  }
  for (auto step = exe.steps_.rbegin(); step != exe.steps_.rend(); ++step) {
    for (uint32_t k = step->in_end; k-- > step->in_begin;) {
      auto& in = exe.ins_[k];
      if (in.src < 0) continue;
      char& r = read[static_cast<size_t>(in.src)];
      if (r == 0) in.move = true;
      if (r == 0) r = 1;
    }
  }
  for (auto& slot : exe.outs_) {
    if (slot >= 0 && !read[static_cast<size_t>(slot)]) slot = -1;
  }
  for (const TensorId& t : feeds_) exe.feed_info_.push_back(FeedInfo(node(t.node), t.index));
  exe.check_feed_shapes_ = opt_.check_feed_shapes;
  exe.stateful_ =
      std::any_of(exe.nodes_.begin(), exe.nodes_.end(), [](const NodeDef& nd) { return IsAssigningOp(nd.op); });
}

}  // namespace

StatusOr<std::unique_ptr<Executable>> Compile(const GraphDef& graph, std::vector<std::string> feeds,
                                              std::vector<std::string> fetches, std::vector<std::string> targets,
                                              const CompileOptions& options, const KernelRegistry& registry) {
  Compiler c(graph, options, registry);
  return c.Compile(feeds, fetches, targets);
}

StatusOr<std::unique_ptr<Executable>> Compile(const GraphDef& graph, std::vector<std::string> feeds,
                                              std::vector<std::string> fetches, std::vector<std::string> targets,
                                              const CompileOptions& options) {
  return Compile(graph, std::move(feeds), std::move(fetches), std::move(targets), options, Kernels());
}

}  // namespace inferd::tf
