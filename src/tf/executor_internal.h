// tf/executor_internal.h: the parts of the graph executor (tf/executor.h) that live in their own files:
// function inlining (inline_functions.cc) and the dataflow executor for graphs with TF1 control flow
// (control_flow.cc). Not part of the executor's public interface.
//
// Contract:
// - WorkGraph is the executor's mutable copy of a GraphDef while it compiles: nodes by position, and a name
//   index. Positions are stable: nodes are only appended or replaced in place, never removed.
// - InlineCall replaces one call node by the called function's body, renamed under a prefix unique in the
//   graph ("<call>/<body node>"). The call node itself becomes a pass-through node (op kPassOp) of the same
//   name whose N data inputs are the function's N return values and whose control inputs are the function's
//   control_ret nodes, so the call's consumers ("call:1", "^call") are left untouched and fetching any output
//   runs the whole body, as TensorFlow runs a function as a unit.
// - Single-threaded; plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "tf/executor.h"
#include "tf/graph_def.h"
#include "tf/kernel.h"

namespace inferd::tf::internal {

// Ops that only the executor emits and runs (never in a model file: TensorFlow reserves names with '_').
inline constexpr std::string_view kPassOp = "_InferdPass";     // N data inputs -> the same N outputs
inline constexpr std::string_view kControlOp = "_InferdNoOp";  // joins control inputs; no outputs

struct WorkGraph {
  std::vector<NodeDef> nodes;
  std::unordered_map<std::string, int> index;  // name -> position in nodes

  // AlreadyExists naming the node when its name is taken.
  Status Add(NodeDef n);
  int Find(std::string_view name) const {
    auto it = index.find(std::string(name));
    return it == index.end() ? -1 : it->second;
  }
};

using FunctionLibrary = std::unordered_map<std::string_view, const FunctionDef*>;

// The function a node calls: attr `f` of PartitionedCall / StatefulPartitionedCall, or its op when the op names
// a library function (TF1 style). Null when the node is no call; an error when `f` is missing or names no
// function in the library.
StatusOr<const FunctionDef*> CalledFunction(const NodeDef& n, const FunctionLibrary& lib);

// Inlines the call at position `call` (see the contract above). Fails naming the call when its input count
// differs from the function's, a body input or return value names nothing, an attr placeholder has no value,
// or the graph would exceed `max_nodes`.
Status InlineCall(WorkGraph& g, int call, const FunctionDef& f, const FunctionLibrary& lib, int64_t max_nodes);

// The flat output index that "node:out_arg:idx" denotes for a producer node (FunctionDef form), given its op's
// output-arg layout: one output arg or a list (most ops, function calls through PartitionedCall) -> idx; a
// library function called TF1-style -> the arg's position; a known multi-output-arg op (Unique, TopKV2,
// FusedBatchNormV3, ...) -> the arg's position + idx. Ops not in the table are taken to have one output arg.
StatusOr<int> FlatOutputIndex(const NodeDef& producer, const InputRef& ref, const FunctionLibrary& lib);

// ---- TF1 control flow (control_flow.cc) ----
//
// A pruned graph that contains Switch, Merge, Enter, Exit, NextIteration or LoopCond runs on a dataflow
// executor instead of the flat plan: values are tagged with their frame and iteration (TensorFlow's executor
// semantics: Switch makes its untaken output dead, dead values propagate through ordinary ops and stop at Merge,
// Enter/Exit/NextIteration move values into a loop frame, out of it, and to the next iteration; constant Enters
// are seen by every iteration). One run is sequential. Bounds: CompileOptions::max_loop_iterations per loop
// instance (error naming the loop's frame and NextIteration node), kMaxFrameDepth nested frames.

// The ops the dataflow executor runs itself.
bool IsDataflowOp(std::string_view op);

inline constexpr int kMaxFrameDepth = 64;

// What Compile hands the dataflow executor: the needed nodes (ops checked), their inputs as indices into
// `nodes`, and the fetches.
struct FlowGraph {
  struct Input {
    int node = -1;   // into nodes; -1 when the tensor is fed
    int index = 0;   // output index; -1: control input
    int feed = -1;   // >= 0: this data input is feed `feed`
  };
  std::vector<NodeDef> nodes;
  std::vector<std::vector<Input>> inputs;  // per node, in NodeDef order (cut control edges left out)
  std::vector<Input> fetches;              // node/index, or feed
  std::vector<TensorInfo> feed_info;
  bool check_feed_shapes = true;
  bool stateful = false;
};

StatusOr<std::unique_ptr<Executable>> CompileDataflow(FlowGraph g, const KernelRegistry& reg,
                                                      const CompileOptions& opt);

// Rewrites each functional While/StatelessWhile/If/StatelessIf among `nodes` into the TF1 ops above, calling
// its functions through PartitionedCall nodes (inlined afterwards), as TensorFlow's lowering passes do; the node
// becomes a pass-through of its outputs (kPassOp), so "while:1" keeps working. While: Enter (frame = the node's
// name), Merge, cond call (after a control edge from the first Merge), LoopCond, Switch, Exit, Identity, body call,
// NextIteration. If: Switch per input on the predicate, each branch called after its pivot, Merge per output.
// Returns whether anything changed; fails naming the node on missing attrs or a name clash.
StatusOr<bool> LowerFunctionalControlFlow(WorkGraph& g, const std::vector<int>& nodes);

// The feed check both executables run (dtype; declared shape when `check_shape`).
Status CheckFeed(const TensorInfo& info, const Tensor& t, bool check_shape);

}  // namespace inferd::tf::internal
