// tf/executor.h: compiles a GraphDef for one set of feeds and fetches and runs it on the CPU.
//
// Contract:
// - Compile prunes the graph to what `fetches` and `targets` need (data and control edges), inlines the
//   functions called through PartitionedCall / StatefulPartitionedCall (recursively, bounded depth), checks
//   that every remaining op is either handled by the executor (Placeholder, PlaceholderWithDefault, NoOp,
//   function calls) or has a kernel in tf/kernel.h's registry (the registry holds no op signatures: each
//   kernel checks its own inputs when it runs), and fails otherwise naming every unsupported op with one
//   node each ("ops not supported: Foo (node 'a/b'), ..."; Unimplemented). A graph with TF1 control flow
//   (Switch/Merge/Enter/Exit/NextIteration/LoopCond: the loops and conds TF1 and the TF.js converter write)
//   runs on a dataflow executor with frames and dead values (executor_internal.h), without constant folding;
//   functional While/StatelessWhile/If/StatelessIf are lowered to those ops first (as TensorFlow's lowering
//   passes do), Case is refused as unsupported. Any other cycle fails compilation. Nodes whose inputs
//   are all constant and whose kernel is not stateful are evaluated once here (constant folding); buffers
//   are planned once (values are released after their last consumer).
// - Feeds, fetches and targets are tensor names as TensorFlow writes them: "x:0", "x" (= "x:0"),
//   "StatefulPartitionedCall:1"; targets are node names. A fed tensor cuts the graph there (its producers
//   are not run), as in TensorFlow.
// - Run takes one Tensor per feed (dtype checked against the Placeholder's dtype; shape checked against its
//   declared shape where known, unless CompileOptions::check_feed_shapes is off) and returns one Tensor per
//   fetch. It never throws; a kernel error is returned as is. An Executable is immutable after Compile: Run
//   may be called from many threads at once unless stateful() (the body assigns variables), in which case
//   the caller serializes.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "tf/graph_def.h"
#include "tf/kernel.h"
#include "tf/tensor.h"

namespace inferd::tf {

class CheckpointReader;

struct CompileOptions {
  int max_function_depth = 32;   // nested function calls
  int64_t max_nodes = 1 << 20;   // after inlining
  bool fold_constants = true;
  // Bytes that constant folding may compute (outputs of folded kernels, not the Const values themselves);
  // a graph that folds to more fails to compile instead of exhausting memory.
  int64_t max_constant_bytes = int64_t{2} << 30;
  // Run refuses a feed whose shape disagrees with the Placeholder's declared shape. TensorFlow's C++ session
  // (what TF Serving runs) does not check fed shapes, and exports exist that rely on it (scalar Placeholders
  // fed vectors): tf/model.h turns this off to serve them as TensorFlow does; kernels still check the shapes
  // they compute with.
  bool check_feed_shapes = true;
  // Iterations one instance of a TF1 while loop may run before Run fails naming the loop (hostile graphs).
  int64_t max_loop_iterations = 1 << 20;
};

struct RunContext {
  VariableStore* variables = nullptr;
  const CheckpointReader* checkpoint = nullptr;
  // NowNs() (core/clock.h) past which the run stops before its next kernel with DeadlineExceeded naming the node
  // (TensorFlow's RunOptions.timeout_in_ms; a kernel already running finishes first). 0: no deadline.
  int64_t deadline_ns = 0;
};

// DeadlineExceeded naming `node` when `ctx` has a deadline that has passed.
Status CheckDeadline(const RunContext& ctx, const NodeDef& node);

class Executable {
 public:
  virtual ~Executable() = default;
  virtual Status Run(std::span<const Tensor> feeds, std::vector<Tensor>* fetches, RunContext& ctx) const = 0;
  virtual bool stateful() const = 0;
  // For metadata and errors: the fed Placeholders' dtypes and declared shapes, in feed order.
  virtual std::span<const TensorInfo> feed_info() const = 0;
};

StatusOr<std::unique_ptr<Executable>> Compile(const GraphDef& graph, std::vector<std::string> feeds,
                                              std::vector<std::string> fetches, std::vector<std::string> targets,
                                              const CompileOptions& options = {});
// The same with another kernel registry than Kernels() (tests, restricted op sets).
StatusOr<std::unique_ptr<Executable>> Compile(const GraphDef& graph, std::vector<std::string> feeds,
                                              std::vector<std::string> fetches, std::vector<std::string> targets,
                                              const CompileOptions& options, const KernelRegistry& registry);

}  // namespace inferd::tf
