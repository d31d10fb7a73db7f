// tf/inline_functions.cc: function inlining for the graph executor (see tf/executor_internal.h).
#include <algorithm>
#include <unordered_set>

#include "tf/executor_internal.h"

namespace inferd::tf::internal {
namespace {

bool IsPartitionedCall(std::string_view op) { return op == "PartitionedCall" || op == "StatefulPartitionedCall"; }

// Output-arg names, in order, of ops with several output args, each one tensor (op_def.proto's layout).
const std::vector<std::string_view>* MultiOutputArgs(std::string_view op) {
  static const auto* table = new std::unordered_map<std::string_view, std::vector<std::string_view>>{
      {"Switch", {"output_false", "output_true"}},
      {"RefSwitch", {"output_false", "output_true"}},
      {"Merge", {"output", "value_index"}},
      {"RefMerge", {"output", "value_index"}},
      {"Unique", {"y", "idx"}},
      {"UniqueV2", {"y", "idx"}},
      {"UniqueWithCounts", {"y", "idx", "count"}},
      {"UniqueWithCountsV2", {"y", "idx", "count"}},
      {"TopK", {"values", "indices"}},
      {"TopKV2", {"values", "indices"}},
      {"FusedBatchNorm", {"y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"}},
      {"FusedBatchNormV2", {"y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"}},
      {"FusedBatchNormV3",
       {"y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"}},
      {"BroadcastGradientArgs", {"r0", "r1"}},
      {"NonMaxSuppressionV4", {"selected_indices", "valid_outputs"}},
      {"NonMaxSuppressionV5", {"selected_indices", "selected_scores", "valid_outputs"}},
      {"CombinedNonMaxSuppression", {"nmsed_boxes", "nmsed_scores", "nmsed_classes", "valid_detections"}},
      {"MaxPoolWithArgmax", {"output", "argmax"}},
      {"ListDiff", {"out", "idx"}},
      {"Qr", {"q", "r"}},
      {"Svd", {"s", "u", "v"}},
      {"SelfAdjointEigV2", {"e", "v"}},
  };
  auto it = table->find(op);
  return it == table->end() ? nullptr : &it->second;
}

// Ops whose output args are lists sized by attrs: each arg's name and length for this node (ParseExample's
// sparse_indices/values/shapes x Nsparse then dense_values x Ndense; V2 adds the ragged pairs), or empty.
std::vector<std::pair<std::string_view, int64_t>> ListOutputArgs(const NodeDef& n) {
  auto list_len = [&](std::string_view attr) -> int64_t {
    const AttrValue* a = FindAttr(n, attr);
    return a != nullptr && a->kind == AttrValue::Kind::kList && a->list ? static_cast<int64_t>(a->list->type.size()) : 0;
  };
  auto int_attr = [&](std::string_view attr) -> int64_t {
    const AttrValue* a = FindAttr(n, attr);
    return a != nullptr && a->kind == AttrValue::Kind::kI ? a->i : 0;
  };
  if (n.op == "ParseExample") {
    const int64_t s = int_attr("Nsparse"), d = int_attr("Ndense");
    return {{"sparse_indices", s}, {"sparse_values", s}, {"sparse_shapes", s}, {"dense_values", d}};
  }
  if (n.op == "ParseExampleV2") {
    const int64_t s = int_attr("num_sparse"), d = list_len("Tdense"), r = list_len("ragged_value_types");
    return {{"sparse_indices", s}, {"sparse_values", s},   {"sparse_shapes", s},
            {"dense_values", d},   {"ragged_values", r},   {"ragged_row_splits", r}};
  }
  return {};
}

Status CallError(const NodeDef& call, const FunctionDef& f, std::string_view what) {
  return InvalidArgument(call.op + " '" + call.name + "' calling '" + f.name + "': " + std::string(what));
}

// The attrs that fill the body's attr placeholders ("$T"): the FuncAttr's for PartitionedCall, the node's own
// for a TF1-style call.
const AttrMap& PlaceholderSource(const NodeDef& call) {
  if (IsPartitionedCall(call.op)) {
    const AttrValue* a = FindAttr(call, "f");
    if (a != nullptr && a->func) return a->func->attrs;
  }
  return call.attrs;
}

// The name (under the prefix) of the node that carries the call's control inputs: not a body node's name.
std::string InputControlName(const FunctionDef& f) {
  std::unordered_set<std::string_view> names;
  for (const auto& n : f.nodes) names.insert(n.name);
  std::string name = "_input_control";
  while (names.count(name)) name += "_";
  return name;
}

// The first prefix "<call>/", "<call>/_1/", ... under which no body node's new name is taken.
std::string UniquePrefix(const WorkGraph& g, const NodeDef& call, const FunctionDef& f) {
  const std::string control = InputControlName(f);
  for (size_t k = 0;; ++k) {
    std::string prefix = call.name + (k == 0 ? "/" : "/_" + std::to_string(k) + "/");
    bool taken = g.Find(prefix + control) >= 0;
    for (size_t i = 0; !taken && i < f.nodes.size(); ++i) taken = g.Find(prefix + f.nodes[i].name) >= 0;
    if (!taken) return prefix;  // terminates: each k that is taken needs an existing node
  }
}

// Translates body inputs and return values into graph inputs.
class BodyRenamer {
 public:
  BodyRenamer(const NodeDef& call, const FunctionDef& f, const FunctionLibrary& lib, std::string prefix)
      : call_(call), f_(f), lib_(lib), prefix_(std::move(prefix)) {
    for (const auto& s : call.inputs) {
      if (!s.empty() && s[0] != '^') data_in_.push_back(s);
    }
    for (size_t k = 0; k < f.input_args.size(); ++k) args_.emplace(f.input_args[k].name, k);
    for (const auto& n : f.nodes) body_.emplace(n.name, &n);
  }

  size_t data_inputs() const { return data_in_.size(); }
  const std::string& prefix() const { return prefix_; }
  bool IsBodyNode(std::string_view name) const { return body_.count(std::string(name)) != 0; }

  // One input of a body node (or a ret value): `internal` is set when it refers to another body node.
  StatusOr<std::string> Translate(const std::string& s, bool* internal) const {
    InputRef r = ParseInput(s);
    auto body = body_.find(r.node);
    if (body != body_.end()) {
      *internal = true;
      if (r.index < 0) return "^" + prefix_ + r.node;
      ASSIGN_OR_RETURN(int idx, FlatOutputIndex(*body->second, r, lib_));
      return prefix_ + r.node + ":" + std::to_string(idx);
    }
    auto arg = args_.find(r.node);
    if (arg == args_.end() || !r.output_arg.empty() || r.index > 0) {
      return CallError(call_, f_, "input '" + s + "' names no node or argument of the function");
    }
    const std::string& outer = data_in_[arg->second];
    if (r.index < 0) return "^" + ParseInput(outer).node;  // a control edge on an argument: on its producer
    return outer;
  }

 private:
  const NodeDef& call_;
  const FunctionDef& f_;
  const FunctionLibrary& lib_;
  std::string prefix_;
  std::vector<std::string> data_in_;
  std::unordered_map<std::string, size_t> args_;
  std::unordered_map<std::string, const NodeDef*> body_;
};

Status SubstitutePlaceholders(const NodeDef& call, const FunctionDef& f, const AttrMap& source, NodeDef& n) {
  for (auto& [name, value] : n.attrs) {
    if (value.kind != AttrValue::Kind::kPlaceholder) continue;
    auto it = source.find(value.s);
    if (it == source.end()) {
      return CallError(call, f, "attr '" + value.s + "' (for node '" + n.name + "') has no value");
    }
    value = it->second;
  }
  return Status::Ok();
}

// The renamed body; a control-only node first when the call has control inputs (every body root waits for it,
// as in TensorFlow's inliner; Const roots too: inside a loop frame or a cond branch a Const must take its frame
// and deadness from the call, and for the flat plan the edge only orders).
Status RenameBody(const NodeDef& call, const FunctionDef& f, const BodyRenamer& rn, std::vector<NodeDef>* out) {
  std::vector<std::string> ctrl_in;
  for (const auto& s : call.inputs) {
    if (!s.empty() && s[0] == '^') ctrl_in.push_back(s);
  }
  std::string input_control;
  if (!ctrl_in.empty()) {
    input_control = rn.prefix() + InputControlName(f);
    NodeDef c;
    c.name = input_control;
    c.op = std::string(kControlOp);
    c.inputs = std::move(ctrl_in);
    out->push_back(std::move(c));
  }
  const AttrMap& source = PlaceholderSource(call);
  for (const NodeDef& b : f.nodes) {
    NodeDef n = b;
    n.name = rn.prefix() + b.name;
    bool internal = false;
    for (auto& s : n.inputs) {
      bool in = false;
      ASSIGN_OR_RETURN(s, rn.Translate(s, &in));
      internal = internal || in;
    }
    if (!internal && !input_control.empty()) n.inputs.push_back("^" + input_control);
    RETURN_IF_ERROR(SubstitutePlaceholders(call, f, source, n));
    out->push_back(std::move(n));
  }
  return Status::Ok();
}

// The pass-through node that replaces the call: the return values in output_arg order, then the control_rets.
StatusOr<NodeDef> ReturnNode(const NodeDef& call, const FunctionDef& f, const BodyRenamer& rn) {
  NodeDef pass;
  pass.name = call.name;
  pass.op = std::string(kPassOp);
  pass.device = call.device;
  for (const ArgDef& arg : f.output_args) {
    auto it = f.ret.find(arg.name);
    if (it == f.ret.end()) return CallError(call, f, "output '" + arg.name + "' has no return value");
    bool internal = false;
    ASSIGN_OR_RETURN(std::string in, rn.Translate(it->second, &internal));
    if (!in.empty() && in[0] == '^') return CallError(call, f, "return value '" + it->second + "' is a control edge");
    pass.inputs.push_back(std::move(in));
  }
  for (const auto& [_, node] : f.control_ret) {
    if (!rn.IsBodyNode(node)) return CallError(call, f, "control return '" + node + "' names no node");
    pass.inputs.push_back("^" + rn.prefix() + node);
  }
  return pass;
}

}  // namespace

Status WorkGraph::Add(NodeDef n) {
  auto [it, inserted] = index.emplace(n.name, static_cast<int>(nodes.size()));
  if (!inserted) return InvalidArgument("two nodes are named '" + n.name + "'");
  nodes.push_back(std::move(n));
  return Status::Ok();
}

StatusOr<const FunctionDef*> CalledFunction(const NodeDef& n, const FunctionLibrary& lib) {
  if (IsPartitionedCall(n.op)) {
    const AttrValue* a = FindAttr(n, "f");
    if (a == nullptr || a->kind != AttrValue::Kind::kFunc || !a->func) {
      return InvalidArgument(n.op + " '" + n.name + "': attr 'f' is missing or not a function");
    }
    auto it = lib.find(a->func->name);
    if (it == lib.end()) {
      return NotFound(n.op + " '" + n.name + "': function '" + a->func->name + "' is not in the graph's library");
    }
    return it->second;
  }
  auto it = lib.find(n.op);
  return it == lib.end() ? nullptr : it->second;
}

StatusOr<int> FlatOutputIndex(const NodeDef& producer, const InputRef& ref, const FunctionLibrary& lib) {
  if (ref.index > (1 << 20)) {
    return InvalidArgument("input '" + producer.name + ":" + ref.output_arg + ":" + std::to_string(ref.index) +
                           "' has an output index over 2^20");
  }
  if (ref.output_arg.empty() || IsPartitionedCall(producer.op)) return ref.index;
  auto fn = lib.find(producer.op);
  if (fn != lib.end()) {
    const auto& outs = fn->second->output_args;
    for (size_t k = 0; k < outs.size(); ++k) {
      if (outs[k].name == ref.output_arg && ref.index == 0) return static_cast<int>(k);
    }
    return InvalidArgument("node '" + producer.name + "' (function '" + producer.op + "') has no output '" +
                           ref.output_arg + ":" + std::to_string(ref.index) + "'");
  }
  if (auto lists = ListOutputArgs(producer); !lists.empty()) {
    int64_t first = 0;
    for (const auto& [name, len] : lists) {
      if (name == ref.output_arg && ref.index < len) return static_cast<int>(first + ref.index);
      first += std::max<int64_t>(len, 0);
      if (first > (1 << 20)) break;
    }
    return InvalidArgument("node '" + producer.name + "' (" + producer.op + ") has no output '" + ref.output_arg +
                           ":" + std::to_string(ref.index) + "'");
  }
  if (const auto* args = MultiOutputArgs(producer.op)) {
    for (size_t k = 0; k < args->size(); ++k) {
      if ((*args)[k] == ref.output_arg) return static_cast<int>(k) + ref.index;
    }
    return InvalidArgument("node '" + producer.name + "' (" + producer.op + ") has no output arg '" + ref.output_arg +
                           "'");
  }
  return ref.index;
}

Status InlineCall(WorkGraph& g, int call_pos, const FunctionDef& f, const FunctionLibrary& lib, int64_t max_nodes) {
  const NodeDef call = g.nodes[static_cast<size_t>(call_pos)];  // a copy: the slot is overwritten below
  if (static_cast<int64_t>(g.nodes.size() + f.nodes.size() + 1) > max_nodes) {
    return CallError(call, f,
                     "the graph would have more than " + std::to_string(max_nodes) +
                         " nodes after inlining (CompileOptions::max_nodes)");
  }
  BodyRenamer rn(call, f, lib, UniquePrefix(g, call, f));
  if (rn.data_inputs() != f.input_args.size()) {
    return CallError(call, f,
                     "has " + std::to_string(rn.data_inputs()) + " inputs, the function takes " +
                         std::to_string(f.input_args.size()));
  }
  std::vector<NodeDef> body;
  body.reserve(f.nodes.size() + 1);
  RETURN_IF_ERROR(RenameBody(call, f, rn, &body));
  ASSIGN_OR_RETURN(NodeDef pass, ReturnNode(call, f, rn));
  for (auto& n : body) {
    Status s = g.Add(std::move(n));
    if (!s.ok()) return CallError(call, f, s.message());
  }
  g.nodes[static_cast<size_t>(call_pos)] = std::move(pass);
  return Status::Ok();
}

}  // namespace inferd::tf::internal
