// tf/control_flow.cc: the dataflow executor for graphs with TF1 control flow (see executor_internal.h).
//
// Why a second executor rather than a structured While built at compile time: TF1 loops and conds are
// arbitrary Switch/Merge/Enter/Exit/NextIteration subgraphs (nested loops, conds inside bodies, loop
// invariants entering through constant Enters), and TensorFlow defines them by the executor's frame semantics,
// not by a structure. Running those semantics directly covers every shape the converters write; graphs without
// these ops keep the flat plan (executor.cc), so their speed is unchanged.
//
// Values travel as tokens tagged with a frame instance and an iteration (Tag). A node fires for a tag once
// its inputs for that tag have arrived (Merge: once one live data input has arrived, or all expected ones
// dead). A dead input makes an ordinary node dead without running it. Enter moves a value into a child frame
// instance (created per parent tag and frame name), Exit back to the parent, NextIteration to the next
// iteration; a constant Enter's value is delivered to every iteration of its instance, present and future.
// Dead NextIteration tokens stop (the loop ended); dead Exit tokens are held and only propagated, when the
// work queue drains, for an Exit that never produced a live value for that parent tag (a loop that never ran).
#include <algorithm>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "tf/executor_internal.h"

namespace inferd::tf::internal {

bool IsDataflowOp(std::string_view op) {
  return op == "Switch" || op == "Merge" || op == "Enter" || op == "Exit" || op == "NextIteration" ||
         op == "LoopCond";
}

namespace {

// Node executions one run may do before it fails: bounds nested loops (each bounded by max_loop_iterations).
constexpr int64_t kMaxSteps = int64_t{1} << 28;

enum class Kind : uint8_t { kKernel, kConst, kPass, kNoOp, kSwitch, kMerge, kEnter, kExit, kNext };

struct Consumer {
  int32_t node;
  int32_t slot;  // data input position
};

struct FlowNode {
  Kind kind = Kind::kKernel;
  KernelFn fn = nullptr;
  int32_t num_data = 0;
  int32_t num_ctrl = 0;
  std::vector<std::vector<Consumer>> out;  // per output port
  std::vector<int32_t> ctrl_out;           // consumers through control edges
  std::vector<std::pair<int32_t, size_t>> fetches;  // (port, fetch position)
  int32_t frame = -1;                      // Enter: interned frame_name
  bool constant = false;                   // Enter: is_constant
  std::vector<char> from_next;             // Merge: data slot i is fed by a NextIteration
  int32_t loop_expected[2] = {0, 0};       // Merge in a loop: data inputs expected at iteration 0 / later
  bool loop_merge = false;
  Tensor value;                            // Const
};

class FlowExecutable final : public Executable {
 public:
  Status Run(std::span<const Tensor> feeds, std::vector<Tensor>* fetches, RunContext& ctx) const override;
  bool stateful() const override { return stateful_; }
  std::span<const TensorInfo> feed_info() const override { return feed_info_; }

  std::vector<NodeDef> defs_;
  std::vector<FlowNode> nodes_;
  std::vector<std::string> frames_;                   // interned frame names
  std::vector<std::vector<Consumer>> feed_out_;       // per feed
  std::vector<int32_t> sources_;                      // nodes with no inputs: fire at the root
  std::vector<FlowGraph::Input> fetch_;
  std::vector<TensorInfo> feed_info_;
  int64_t max_iterations_ = 0;
  bool check_feed_shapes_ = true;
  bool stateful_ = false;
};

// One run's state.
class FlowRun {
 public:
  FlowRun(const FlowExecutable& exe, RunContext& ctx) : exe_(exe), ctx_(ctx), results_(exe.fetch_.size()) {}
  Status Run(std::span<const Tensor> feeds, std::vector<Tensor>* fetches);

 private:
  struct Tag {
    int32_t instance = -1;  // frame instance (-1: the root)
    int64_t iter = 0;
    int32_t depth = 0;
  };
  struct Instance {
    int32_t parent_tag = 0;
    int32_t frame = 0;
    int32_t enter = 0;  // a node that entered it (errors)
    std::vector<int32_t> iter_tags;
    std::vector<std::pair<int32_t, Tensor>> constants;  // (constant Enter, value; invalid = dead)
  };
  struct Pending {
    std::vector<Tensor> in;
    int32_t data = 0, ctrl = 0, dead_data = 0, live_slot = -1;
    bool any_dead = false, fired = false;
  };
  struct Ready {
    int32_t node;
    int32_t tag;
    std::vector<Tensor> in;
    bool dead;
    int32_t merge_slot;
  };

  StatusOr<int32_t> EnterTag(int32_t node, int32_t tag);
  StatusOr<int32_t> NextTag(int32_t node, int32_t tag);
  Status Deliver(int32_t node, int32_t slot, int32_t tag, const Tensor* v);
  Status Fire(Ready& r);
  Status Send(int32_t node, int32_t tag, std::span<Tensor> out, int32_t dead_port_or_all);
  Status SendConstant(int32_t enter, const Tensor& v, int32_t tag);
  Status DrainDeadExits(bool* progressed);

  const FlowExecutable& exe_;
  RunContext& ctx_;
  std::vector<Tag> tags_{Tag{}};
  std::vector<Instance> instances_;
  std::unordered_map<uint64_t, int32_t> instance_of_;  // (parent tag, frame) -> instance
  std::unordered_map<uint64_t, Pending> pending_;      // (node, tag)
  std::deque<Ready> ready_;
  std::vector<std::pair<int32_t, int32_t>> dead_exits_;  // (Exit node, parent tag)
  std::unordered_set<uint64_t> live_exits_;              // (Exit node, parent tag)
  std::vector<Tensor> results_;
  std::vector<char> dead_results_ = std::vector<char>(exe_.fetch_.size(), 0);
  int64_t steps_ = 0;
  const Tensor live_ = Tensor::Scalar<bool>(DType::kBool, true);  // what a live control edge carries
};

uint64_t Key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

StatusOr<int32_t> FlowRun::EnterTag(int32_t node, int32_t tag) {
  const FlowNode& n = exe_.nodes_[static_cast<size_t>(node)];
  auto [it, inserted] = instance_of_.emplace(Key(tag, n.frame), static_cast<int32_t>(instances_.size()));
  if (!inserted) return instances_[static_cast<size_t>(it->second)].iter_tags[0];
  const Tag parent = tags_[static_cast<size_t>(tag)];
  if (parent.depth + 1 > kMaxFrameDepth) {
    const NodeDef& d = exe_.defs_[static_cast<size_t>(node)];
    return InvalidArgument("Enter '" + d.name + "': loop frames nest deeper than " + std::to_string(kMaxFrameDepth));
  }
  Instance inst;
  inst.parent_tag = tag;
  inst.frame = n.frame;
  inst.enter = node;
  inst.iter_tags.push_back(static_cast<int32_t>(tags_.size()));
  tags_.push_back(Tag{it->second, 0, parent.depth + 1});
  instances_.push_back(std::move(inst));
  return instances_.back().iter_tags[0];
}

StatusOr<int32_t> FlowRun::NextTag(int32_t node, int32_t tag) {
  const Tag t = tags_[static_cast<size_t>(tag)];
  const NodeDef& d = exe_.defs_[static_cast<size_t>(node)];
  if (t.instance < 0) return InvalidArgument("NextIteration '" + d.name + "' is not inside a while loop frame");
  Instance& inst = instances_[static_cast<size_t>(t.instance)];
  if (static_cast<size_t>(t.iter + 1) < inst.iter_tags.size()) return inst.iter_tags[static_cast<size_t>(t.iter + 1)];
  if (t.iter + 1 > exe_.max_iterations_) {
    return InvalidArgument("while loop '" + exe_.frames_[static_cast<size_t>(inst.frame)] + "' (NextIteration '" +
                           d.name + "') ran more than " + std::to_string(exe_.max_iterations_) +
                           " iterations (CompileOptions::max_loop_iterations)");
  }
  const int32_t next = static_cast<int32_t>(tags_.size());
  tags_.push_back(Tag{t.instance, t.iter + 1, t.depth});
  inst.iter_tags.push_back(next);
  // Loop invariants are seen by every iteration.
  for (const auto& [enter, v] : inst.constants) RETURN_IF_ERROR(SendConstant(enter, v, next));
  return next;
}

Status FlowRun::SendConstant(int32_t enter, const Tensor& v, int32_t tag) {
  const FlowNode& n = exe_.nodes_[static_cast<size_t>(enter)];
  for (const auto& port : n.out) {
    for (const Consumer& c : port) RETURN_IF_ERROR(Deliver(c.node, c.slot, tag, v.valid() ? &v : nullptr));
  }
  for (int32_t c : n.ctrl_out) RETURN_IF_ERROR(Deliver(c, -1, tag, v.valid() ? &live_ : nullptr));
  return Status::Ok();
}

// A value (null: dead) for data slot `slot` (-1: a control input) of `node` at `tag`.
Status FlowRun::Deliver(int32_t node, int32_t slot, int32_t tag, const Tensor* v) {
  const FlowNode& n = exe_.nodes_[static_cast<size_t>(node)];
  if (n.kind != Kind::kMerge && n.num_data + n.num_ctrl == 1) {  // the common case: no bookkeeping
    Ready r{node, tag, {}, v == nullptr, -1};
    if (slot >= 0 && v != nullptr) r.in.push_back(*v);
    ready_.push_back(std::move(r));
    return Status::Ok();
  }
  const uint64_t key = Key(node, tag);
  Pending& p = pending_[key];
  if (p.in.empty() && n.num_data > 0) p.in.resize(static_cast<size_t>(n.num_data));
  if (slot >= 0) {
    ++p.data;
    if (v == nullptr) {
      ++p.dead_data;
    } else {
      p.in[static_cast<size_t>(slot)] = *v;
      if (p.live_slot < 0) p.live_slot = slot;
    }
  } else {
    ++p.ctrl;
  }
  if (v == nullptr) p.any_dead = true;
  if (n.kind != Kind::kMerge) {
    if (p.data + p.ctrl < n.num_data + n.num_ctrl) return Status::Ok();
    ready_.push_back(Ready{node, tag, std::move(p.in), p.any_dead, -1});
    pending_.erase(key);
    return Status::Ok();
  }
  const int32_t expected =
      n.loop_merge ? n.loop_expected[tags_[static_cast<size_t>(tag)].iter == 0 ? 0 : 1] : n.num_data;
  if (!p.fired && p.ctrl == n.num_ctrl) {
    if (p.live_slot >= 0) {
      p.fired = true;
      std::vector<Tensor> in{p.in[static_cast<size_t>(p.live_slot)]};
      ready_.push_back(Ready{node, tag, std::move(in), false, p.live_slot});
    } else if (p.dead_data >= expected) {
      p.fired = true;
      ready_.push_back(Ready{node, tag, {}, true, -1});
    }
  }
  if (p.fired && p.data >= expected && p.ctrl == n.num_ctrl) pending_.erase(key);
  return Status::Ok();
}

// Sends `out` to the consumers at `tag`. dead_port_or_all: -2 all outputs dead; -1 none dead; k >= 0 port k
// dead (a Switch's untaken side).
Status FlowRun::Send(int32_t node, int32_t tag, std::span<Tensor> out, int32_t dead_port_or_all) {
  const FlowNode& n = exe_.nodes_[static_cast<size_t>(node)];
  const bool all_dead = dead_port_or_all == -2;
  if (!all_dead && out.size() < n.out.size()) {
    const NodeDef& d = exe_.defs_[static_cast<size_t>(node)];
    return Internal(d.op + " '" + d.name + "' produced " + std::to_string(out.size()) + " outputs, " +
                    std::to_string(n.out.size()) + " are used");
  }
  for (size_t k = 0; k < n.out.size(); ++k) {
    const bool dead = all_dead || static_cast<int32_t>(k) == dead_port_or_all;
    if (!dead && !out[k].valid()) {
      const NodeDef& d = exe_.defs_[static_cast<size_t>(node)];
      return Internal(d.op + " '" + d.name + "' produced an invalid tensor");
    }
    for (const Consumer& c : n.out[k]) RETURN_IF_ERROR(Deliver(c.node, c.slot, tag, dead ? nullptr : &out[k]));
  }
  for (int32_t c : n.ctrl_out) RETURN_IF_ERROR(Deliver(c, -1, tag, all_dead ? nullptr : &live_));
  if (tag == 0) {
    for (const auto& [port, pos] : n.fetches) {
      const bool dead = all_dead || port == dead_port_or_all;
      if (!dead && static_cast<size_t>(port) >= out.size()) {
        const NodeDef& d = exe_.defs_[static_cast<size_t>(node)];
        return InvalidArgument("fetch '" + d.name + ":" + std::to_string(port) + "': " + d.op + " '" + d.name +
                               "' produced " + std::to_string(out.size()) + " outputs");
      }
      dead_results_[pos] = dead;
      if (!dead) results_[pos] = out[static_cast<size_t>(port)];
    }
  }
  return Status::Ok();
}

Status FlowRun::Fire(Ready& r) {
  const FlowNode& n = exe_.nodes_[static_cast<size_t>(r.node)];
  const NodeDef& d = exe_.defs_[static_cast<size_t>(r.node)];
  if (++steps_ > kMaxSteps) {
    return InvalidArgument("the run executed more than 2^28 nodes (nested loops?); stopped at " + d.op + " '" +
                           d.name + "'");
  }
  if (ctx_.deadline_ns != 0) RETURN_IF_ERROR(CheckDeadline(ctx_, d));
  std::vector<Tensor> out;
  int32_t tag = r.tag;
  int32_t dead = r.dead ? -2 : -1;
  switch (n.kind) {
    case Kind::kEnter: {
      ASSIGN_OR_RETURN(tag, EnterTag(r.node, r.tag));
      Tensor v = r.dead || r.in.empty() ? Tensor() : r.in[0];
      if (!n.constant) break;
      const int32_t inst_index = tags_[static_cast<size_t>(tag)].instance;
      instances_[static_cast<size_t>(inst_index)].constants.emplace_back(r.node, v);
      for (int32_t t : instances_[static_cast<size_t>(inst_index)].iter_tags) {
        RETURN_IF_ERROR(SendConstant(r.node, v, t));
      }
      return Status::Ok();
    }
    case Kind::kExit: {
      const Tag t = tags_[static_cast<size_t>(r.tag)];
      if (t.instance < 0) return InvalidArgument("Exit '" + d.name + "' is not inside a while loop frame");
      tag = instances_[static_cast<size_t>(t.instance)].parent_tag;
      if (r.dead) {
        dead_exits_.emplace_back(r.node, tag);
        return Status::Ok();
      }
      live_exits_.insert(Key(r.node, tag));
      break;
    }
    case Kind::kNext: {
      if (r.dead) return Status::Ok();  // the loop ended: deadness stops here
      ASSIGN_OR_RETURN(tag, NextTag(r.node, r.tag));
      break;
    }
    default:
      break;
  }
  if (r.dead) return Send(r.node, tag, out, -2);
  switch (n.kind) {
    case Kind::kKernel: {
      KernelContext kc{d, r.in, out, ctx_.variables, ctx_.checkpoint};
      RETURN_IF_ERROR(n.fn(kc));
      break;
    }
    case Kind::kConst:
      out.push_back(n.value);
      break;
    case Kind::kNoOp:
      out.emplace_back();
      break;
    case Kind::kSwitch: {
      const Tensor& pred = r.in.size() == 2 ? r.in[1] : Tensor();
      if (pred.dtype() != DType::kBool || pred.num_elements() != 1) {
        return InvalidArgument("Switch '" + d.name + "': needs data and a bool scalar predicate");
      }
      const bool taken = pred.data<bool>()[0];
      out = {r.in[0], r.in[0]};
      dead = taken ? 0 : 1;
      break;
    }
    case Kind::kMerge:
      out = {r.in[0], Tensor::Scalar<int32_t>(DType::kInt32, r.merge_slot)};
      break;
    default:  // kPass, kEnter, kExit, kNext: the data inputs, unchanged
      out = std::move(r.in);
      if (out.empty()) out.emplace_back();
      break;
  }
  return Send(r.node, tag, out, dead);
}

// Called when no work is left: a loop instance that never produced a live value for an Exit makes it dead.
Status FlowRun::DrainDeadExits(bool* progressed) {
  *progressed = false;
  std::vector<std::pair<int32_t, int32_t>> exits;
  exits.swap(dead_exits_);
  std::sort(exits.begin(), exits.end());
  exits.erase(std::unique(exits.begin(), exits.end()), exits.end());
  std::vector<Tensor> none;
  for (const auto& [node, tag] : exits) {
    if (!live_exits_.insert(Key(node, tag)).second) continue;
    RETURN_IF_ERROR(Send(node, tag, none, -2));
    *progressed = true;
  }
  return Status::Ok();
}

Status FlowRun::Run(std::span<const Tensor> feeds, std::vector<Tensor>* fetches) {
  for (int32_t s : exe_.sources_) ready_.push_back(Ready{s, 0, {}, false, -1});
  for (size_t f = 0; f < feeds.size(); ++f) {
    for (const Consumer& c : exe_.feed_out_[f]) RETURN_IF_ERROR(Deliver(c.node, c.slot, 0, &feeds[f]));
  }
  for (bool progressed = true; progressed;) {
    while (!ready_.empty()) {
      Ready r = std::move(ready_.front());
      ready_.pop_front();
      RETURN_IF_ERROR(Fire(r));
    }
    RETURN_IF_ERROR(DrainDeadExits(&progressed));
  }
  fetches->clear();
  for (size_t i = 0; i < exe_.fetch_.size(); ++i) {
    const FlowGraph::Input& f = exe_.fetch_[i];
    if (f.feed >= 0) {
      fetches->push_back(feeds[static_cast<size_t>(f.feed)]);
      continue;
    }
    if (!results_[i].valid()) {
      const NodeDef& d = exe_.defs_[static_cast<size_t>(f.node)];
      return InvalidArgument("fetch '" + d.name + ":" + std::to_string(f.index) + "' was not computed" +
                             (dead_results_[i] ? " (it is dead: an untaken branch of a Switch)" : ""));
    }
    fetches->push_back(std::move(results_[i]));
  }
  return Status::Ok();
}

Status FlowExecutable::Run(std::span<const Tensor> feeds, std::vector<Tensor>* fetches, RunContext& ctx) const {
  if (feeds.size() != feed_info_.size()) {
    return InvalidArgument("expected " + std::to_string(feed_info_.size()) + " feeds, got " +
                           std::to_string(feeds.size()));
  }
  for (size_t i = 0; i < feeds.size(); ++i) RETURN_IF_ERROR(CheckFeed(feed_info_[i], feeds[i], check_feed_shapes_));
  FlowRun run(*this, ctx);
  return run.Run(feeds, fetches);
}

Kind KindOf(std::string_view op) {
  if (op == "Const") return Kind::kConst;
  if (op == "Switch") return Kind::kSwitch;
  if (op == "Merge") return Kind::kMerge;
  if (op == "Enter") return Kind::kEnter;
  if (op == "Exit") return Kind::kExit;
  if (op == "NextIteration") return Kind::kNext;
  if (op == "NoOp" || op == kControlOp) return Kind::kNoOp;
  if (op == "LoopCond" || op == "PlaceholderWithDefault" || op == kPassOp) return Kind::kPass;
  return Kind::kKernel;
}

// The node's kind, kernel, Const value, Enter frame; errors name the node.
Status InitNode(const NodeDef& d, const KernelRegistry& reg, FlowExecutable& exe, FlowNode& n,
                std::unordered_map<std::string, int32_t>& frame_ids) {
  n.kind = KindOf(d.op);
  if (n.kind == Kind::kKernel) {
    const KernelDef* def = reg.Find(d.op);
    if (def == nullptr) return Unimplemented("ops not supported: " + d.op + " (node '" + d.name + "')");
    n.fn = def->fn;
  } else if (n.kind == Kind::kConst) {
    const AttrValue* a = FindAttr(d, "value");
    if (a == nullptr || a->kind != AttrValue::Kind::kTensor || !a->tensor.valid()) {
      return InvalidArgument("Const '" + d.name + "': attr 'value' is missing or not a tensor");
    }
    n.value = a->tensor;
  } else if (n.kind == Kind::kEnter) {
    ASSIGN_OR_RETURN(std::string frame, AttrString(d, "frame_name"));
    ASSIGN_OR_RETURN(n.constant, AttrBoolOr(d, "is_constant", false));
    auto [it, inserted] = frame_ids.emplace(frame, static_cast<int32_t>(exe.frames_.size()));
    if (inserted) exe.frames_.push_back(frame);
    n.frame = it->second;
  }
  return Status::Ok();
}

// Consumers, Merge loop inputs, fetches; the arity of the executor's own ops.
Status Link(const FlowGraph& g, FlowExecutable& exe) {
  for (size_t v = 0; v < g.nodes.size(); ++v) {
    FlowNode& n = exe.nodes_[v];
    for (const FlowGraph::Input& in : g.inputs[v]) {
      if (in.index < 0) {
        exe.nodes_[static_cast<size_t>(in.node)].ctrl_out.push_back(static_cast<int32_t>(v));
        ++n.num_ctrl;
        continue;
      }
      Consumer c{static_cast<int32_t>(v), n.num_data++};
      if (in.feed >= 0) {
        exe.feed_out_[static_cast<size_t>(in.feed)].push_back(c);
        n.from_next.push_back(0);
        continue;
      }
      auto& out = exe.nodes_[static_cast<size_t>(in.node)].out;
      if (out.size() <= static_cast<size_t>(in.index)) out.resize(static_cast<size_t>(in.index) + 1);
      out[static_cast<size_t>(in.index)].push_back(c);
      n.from_next.push_back(exe.nodes_[static_cast<size_t>(in.node)].kind == Kind::kNext);
    }
    if (n.num_data + n.num_ctrl == 0) exe.sources_.push_back(static_cast<int32_t>(v));
    const NodeDef& d = g.nodes[v];
    const bool bad = (n.kind == Kind::kSwitch && n.num_data != 2) || (n.kind == Kind::kMerge && n.num_data < 1) ||
                     ((n.kind == Kind::kEnter || n.kind == Kind::kExit || n.kind == Kind::kNext) && n.num_data != 1);
    if (bad) return InvalidArgument(d.op + " '" + d.name + "' has " + std::to_string(n.num_data) + " data inputs");
    if (n.kind == Kind::kMerge) {
      int32_t next = static_cast<int32_t>(std::count(n.from_next.begin(), n.from_next.end(), 1));
      n.loop_merge = next > 0;
      n.loop_expected[0] = n.num_data - next;
      n.loop_expected[1] = next;
    }
  }
  // Ports a node's consumers read must exist in what it produces; the executor's own ops have fixed arity.
  for (size_t v = 0; v < g.nodes.size(); ++v) {
    const FlowNode& n = exe.nodes_[v];
    size_t max_ports = n.kind == Kind::kSwitch || n.kind == Kind::kMerge ? 2
                       : n.kind == Kind::kPass                         ? static_cast<size_t>(n.num_data)
                       : n.kind == Kind::kKernel                       ? SIZE_MAX
                                                                       : 1;
    if (n.kind == Kind::kNoOp) max_ports = 0;
    if (n.out.size() > max_ports) {
      const NodeDef& d = g.nodes[v];
      return InvalidArgument("a node reads output " + std::to_string(n.out.size() - 1) + " of " + d.op + " '" +
                             d.name + "', which has " + std::to_string(max_ports));
    }
  }
  for (size_t i = 0; i < g.fetches.size(); ++i) {
    const FlowGraph::Input& f = g.fetches[i];
    if (f.feed >= 0) continue;
    exe.nodes_[static_cast<size_t>(f.node)].fetches.emplace_back(f.index, i);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<Executable>> CompileDataflow(FlowGraph g, const KernelRegistry& reg,
                                                      const CompileOptions& opt) {
  auto exe = std::make_unique<FlowExecutable>();
  exe->nodes_.resize(g.nodes.size());
  exe->feed_out_.resize(g.feed_info.size());
  std::unordered_map<std::string, int32_t> frame_ids;
  for (size_t v = 0; v < g.nodes.size(); ++v) {
    RETURN_IF_ERROR(InitNode(g.nodes[v], reg, *exe, exe->nodes_[v], frame_ids));
  }
  RETURN_IF_ERROR(Link(g, *exe));
  // A fetched output past a fixed-arity node's outputs (kernels are checked when they run).
  for (const FlowGraph::Input& f : g.fetches) {
    if (f.feed >= 0) continue;
    const FlowNode& n = exe->nodes_[static_cast<size_t>(f.node)];
    const bool fixed = n.kind != Kind::kKernel;
    const int32_t ports = n.kind == Kind::kSwitch || n.kind == Kind::kMerge ? 2
                          : n.kind == Kind::kPass                         ? n.num_data
                          : n.kind == Kind::kNoOp                         ? 0
                                                                          : 1;
    if (fixed && f.index >= ports) {
      const NodeDef& d = g.nodes[static_cast<size_t>(f.node)];
      return InvalidArgument("fetch '" + d.name + ":" + std::to_string(f.index) + "': " + d.op + " '" + d.name +
                             "' has no output " + std::to_string(f.index));
    }
  }
  exe->defs_ = std::move(g.nodes);
  exe->fetch_ = std::move(g.fetches);
  exe->feed_info_ = std::move(g.feed_info);
  exe->max_iterations_ = opt.max_loop_iterations;
  exe->check_feed_shapes_ = g.check_feed_shapes;
  exe->stateful_ = g.stateful;
  return std::unique_ptr<Executable>(std::move(exe));
}

}  // namespace inferd::tf::internal

// ---- lowering functional While / If (see executor_internal.h) ----

namespace inferd::tf::internal {
namespace {

NodeDef MakeNode(std::string name, std::string op, std::vector<std::string> inputs) {
  NodeDef n;
  n.name = std::move(name);
  n.op = std::move(op);
  n.inputs = std::move(inputs);
  return n;
}

AttrValue StringAttr(std::string s) {
  AttrValue a;
  a.kind = AttrValue::Kind::kS;
  a.s = std::move(s);
  return a;
}

// PartitionedCall of the function in attr `attr` of `fn` (its FuncAttr copied).
StatusOr<NodeDef> CallNode(const NodeDef& fn, std::string_view attr, std::string name, std::vector<std::string> in) {
  const AttrValue* a = FindAttr(fn, attr);
  if (a == nullptr || a->kind != AttrValue::Kind::kFunc || !a->func) {
    return InvalidArgument(fn.op + " '" + fn.name + "': attr '" + std::string(attr) + "' is missing or not a function");
  }
  NodeDef call = MakeNode(std::move(name), "PartitionedCall", std::move(in));
  AttrValue f;
  f.kind = AttrValue::Kind::kFunc;
  f.func = a->func;
  call.attrs["f"] = std::move(f);
  return call;
}

void SplitInputs(const NodeDef& n, std::vector<std::string>* data, std::vector<std::string>* ctrl) {
  for (const auto& s : n.inputs) (!s.empty() && s[0] == '^' ? ctrl : data)->push_back(s);
}

std::string Out(const std::string& node, size_t k) { return k == 0 ? node : node + ":" + std::to_string(k); }

StatusOr<std::vector<NodeDef>> LowerWhile(const NodeDef& w, NodeDef* pass) {
  std::vector<std::string> data, ctrl;
  SplitInputs(w, &data, &ctrl);
  if (data.empty()) return InvalidArgument(w.op + " '" + w.name + "' has no loop variables");
  const std::string p = w.name + "/_lowered/";
  std::vector<NodeDef> out;
  std::vector<std::string> merges, idents;
  for (size_t i = 0; i < data.size(); ++i) {
    const std::string k = std::to_string(i);
    NodeDef enter = MakeNode(p + "enter_" + k, "Enter", {data[i]});
    enter.inputs.insert(enter.inputs.end(), ctrl.begin(), ctrl.end());
    enter.attrs["frame_name"] = StringAttr(w.name);
    out.push_back(std::move(enter));
    out.push_back(MakeNode(p + "merge_" + k, "Merge", {p + "enter_" + k, p + "next_" + k}));
    merges.push_back(p + "merge_" + k);
  }
  std::vector<std::string> cond_in = merges;
  cond_in.push_back("^" + merges[0]);  // the cond's constants join the frame
  ASSIGN_OR_RETURN(NodeDef cond, CallNode(w, "cond", p + "cond", cond_in));
  out.push_back(std::move(cond));
  out.push_back(MakeNode(p + "loop_cond", "LoopCond", {p + "cond"}));
  for (size_t i = 0; i < data.size(); ++i) {
    const std::string k = std::to_string(i);
    out.push_back(MakeNode(p + "switch_" + k, "Switch", {merges[i], p + "loop_cond"}));
    out.push_back(MakeNode(p + "exit_" + k, "Exit", {p + "switch_" + k}));
    out.push_back(MakeNode(p + "ident_" + k, "Identity", {p + "switch_" + k + ":1"}));
    idents.push_back(p + "ident_" + k);
    pass->inputs.push_back(p + "exit_" + k);
  }
  std::vector<std::string> body_in = idents;
  body_in.push_back("^" + idents[0]);
  ASSIGN_OR_RETURN(NodeDef body, CallNode(w, "body", p + "body", body_in));
  out.push_back(std::move(body));
  for (size_t i = 0; i < data.size(); ++i) {
    out.push_back(MakeNode(p + "next_" + std::to_string(i), "NextIteration", {Out(p + "body", i)}));
  }
  return out;
}

StatusOr<std::vector<NodeDef>> LowerIf(const NodeDef& n, NodeDef* pass) {
  std::vector<std::string> data, ctrl;
  SplitInputs(n, &data, &ctrl);
  if (data.empty()) return InvalidArgument(n.op + " '" + n.name + "' has no predicate input");
  const AttrValue* tout = FindAttr(n, "Tout");
  if (tout == nullptr || tout->kind != AttrValue::Kind::kList || !tout->list) {
    return InvalidArgument(n.op + " '" + n.name + "': attr 'Tout' is missing or not a list");
  }
  const std::string p = n.name + "/_lowered/";
  std::vector<NodeDef> out;
  NodeDef pred_sw = MakeNode(p + "pred_switch", "Switch", {data[0], data[0]});
  pred_sw.inputs.insert(pred_sw.inputs.end(), ctrl.begin(), ctrl.end());
  out.push_back(std::move(pred_sw));
  out.push_back(MakeNode(p + "pivot_f", "Identity", {p + "pred_switch"}));
  out.push_back(MakeNode(p + "pivot_t", "Identity", {p + "pred_switch:1"}));
  std::vector<std::string> then_in, else_in;
  for (size_t i = 1; i < data.size(); ++i) {
    const std::string sw = p + "switch_" + std::to_string(i);
    out.push_back(MakeNode(sw, "Switch", {data[i], data[0]}));
    else_in.push_back(sw);
    then_in.push_back(sw + ":1");
  }
  then_in.push_back("^" + p + "pivot_t");
  else_in.push_back("^" + p + "pivot_f");
  ASSIGN_OR_RETURN(NodeDef then_call, CallNode(n, "then_branch", p + "then", then_in));
  ASSIGN_OR_RETURN(NodeDef else_call, CallNode(n, "else_branch", p + "else", else_in));
  out.push_back(std::move(then_call));
  out.push_back(std::move(else_call));
  for (size_t k = 0; k < tout->list->type.size(); ++k) {
    const std::string m = p + "merge_" + std::to_string(k);
    out.push_back(MakeNode(m, "Merge", {Out(p + "else", k), Out(p + "then", k)}));
    pass->inputs.push_back(m);
  }
  if (tout->list->type.empty()) pass->inputs.push_back("^" + p + "then"), pass->inputs.push_back("^" + p + "else");
  return out;
}

}  // namespace

StatusOr<bool> LowerFunctionalControlFlow(WorkGraph& g, const std::vector<int>& nodes) {
  bool changed = false;
  for (int v : nodes) {
    const NodeDef& n = g.nodes[static_cast<size_t>(v)];
    const bool is_while = n.op == "While" || n.op == "StatelessWhile";
    const bool is_if = n.op == "If" || n.op == "StatelessIf";
    if (!is_while && !is_if) continue;
    NodeDef pass = MakeNode(n.name, std::string(kPassOp), {});
    pass.device = n.device;
    ASSIGN_OR_RETURN(std::vector<NodeDef> lowered, is_while ? LowerWhile(n, &pass) : LowerIf(n, &pass));
    for (NodeDef& l : lowered) RETURN_IF_ERROR(g.Add(std::move(l)));
    g.nodes[static_cast<size_t>(v)] = std::move(pass);
    changed = true;
  }
  return changed;
}

}  // namespace inferd::tf::internal
