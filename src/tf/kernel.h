// tf/kernel.h: how the graph executor runs one op, and the registry of ops it can run.
//
// Contract:
// - A kernel is a plain function of its node (attrs), its input values and, for stateful ops, the run's variable
//   store and checkpoint. It appends exactly one Tensor per output of the node to ctx.outputs (empty on entry),
//   never writes into an input's buffer, and reports bad attrs, dtypes or shapes as a Status naming the node
//   (InvalidArgument): inputs come from model files and requests, so a kernel never trusts them.
// - Kernels run on whatever thread calls Executable::Run, possibly several at once: no mutable globals.
// - KernelDef::stateful marks kernels with effects or nondeterminism (variables, RestoreV2, random): the
//   executor never constant-folds them, and a graph whose pruned body assigns variables is run serially.
// - Ops that the executor implements itself (Placeholder, function calls, control flow) are not kernels.
// - The registry is built once, on first use, by calling every Register*Kernels function below; each lives in
//   its own file (kernels_<group>.cc), so groups can be developed apart.
#pragma once

#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/mutex.h"
#include "core/status.h"
#include "tf/graph_def.h"
#include "tf/tensor.h"

namespace inferd::tf {

class CheckpointReader;

// The values of a model's variables (resource and reference variables alike), keyed by the variable's
// shared_name (VarHandleOp) or node name (VariableV2). Thread-safe.
class VariableStore {
 public:
  // NotFound("variable 'v' is not initialized") when never assigned.
  StatusOr<Tensor> Read(std::string_view name) const;
  // Replaces the value (the old Tensor's buffer is left to whoever still shares it).
  void Assign(std::string_view name, Tensor value);
  bool Contains(std::string_view name) const;
  size_t size() const;

 private:
  mutable Mutex mu_;
  std::map<std::string, Tensor, std::less<>> values_ GUARDED_BY(mu_);
};

struct KernelContext {
  const NodeDef& node;
  std::span<const Tensor> inputs;  // data inputs, in NodeDef order
  std::vector<Tensor>& outputs;    // the kernel appends one per output
  VariableStore* variables = nullptr;        // null while constant folding
  const CheckpointReader* checkpoint = nullptr;  // the model's variables bundle, for RestoreV2; may be null
};

using KernelFn = Status (*)(KernelContext&);

// Checks a node's attrs when its graph is compiled (a model's default signature at load), so that an attr value
// the kernel does not implement fails the load naming the node, not the first request. Unimplemented when the
// value is valid TensorFlow that this kernel does not support, InvalidArgument when it is not valid at all.
using KernelAttrCheck = Status (*)(const NodeDef&);

struct KernelDef {
  KernelFn fn = nullptr;
  bool stateful = false;
  KernelAttrCheck check = nullptr;  // optional
};

class KernelRegistry {
 public:
  // A second registration of one op replaces the first (tests may override).
  void Register(std::string op, KernelDef def) { kernels_[std::move(op)] = def; }
  const KernelDef* Find(std::string_view op) const {
    auto it = kernels_.find(op);
    return it == kernels_.end() ? nullptr : &it->second;
  }
  std::vector<std::string> Ops() const {
    std::vector<std::string> v;
    for (const auto& [k, _] : kernels_) v.push_back(k);
    return v;
  }

 private:
  std::map<std::string, KernelDef, std::less<>> kernels_;
};

// Every kernel below, registered once (thread-safe first use).
const KernelRegistry& Kernels();

// One function per kernels_<group>.cc:
void RegisterArrayKernels(KernelRegistry& r);  // shapes, slicing, gather, concat, cast, fill... (kernels_array.cc)
void RegisterMathKernels(KernelRegistry& r);   // elementwise, reductions, MatMul, BatchMatMul (kernels_math.cc)
void RegisterNnKernels(KernelRegistry& r);     // conv, pooling, normalisation, activations, resize (kernels_nn.cc)
void RegisterStateKernels(KernelRegistry& r);  // variables, RestoreV2, random (kernels_state.cc)
void RegisterListKernels(KernelRegistry& r);   // TensorList*, TensorArray*V3 (kernels_list.cc)
void RegisterImageKernels(KernelRegistry& r);  // DecodeJpeg, DecodePng, DecodeImage (kernels_image.cc)
void RegisterExampleKernels(KernelRegistry& r);  // ParseExample, ParseExampleV2 (kernels_example.cc)

// Helpers for kernels: InvalidArgument("<op> '<node>': <what>").
Status KernelError(const KernelContext& ctx, std::string_view what);
// Checks the input count and returns KernelError otherwise.
Status ExpectInputs(const KernelContext& ctx, size_t n);

}  // namespace inferd::tf
