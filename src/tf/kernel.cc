#include "tf/kernel.h"

namespace inferd::tf {

StatusOr<Tensor> VariableStore::Read(std::string_view name) const {
  MutexLock lock(mu_);
  auto it = values_.find(name);
  if (it == values_.end()) return NotFound("variable '" + std::string(name) + "' is not initialized");
  return it->second;
}

void VariableStore::Assign(std::string_view name, Tensor value) {
  MutexLock lock(mu_);
  auto it = values_.find(name);
  if (it == values_.end()) {
    values_.emplace(std::string(name), std::move(value));
  } else {
    it->second = std::move(value);
  }
}

bool VariableStore::Contains(std::string_view name) const {
  MutexLock lock(mu_);
  return values_.find(name) != values_.end();
}

size_t VariableStore::size() const {
  MutexLock lock(mu_);
  return values_.size();
}

const KernelRegistry& Kernels() {
  static const KernelRegistry* registry = [] {
    auto* r = new KernelRegistry();
    RegisterArrayKernels(*r);
    RegisterMathKernels(*r);
    RegisterNnKernels(*r);
    RegisterStateKernels(*r);
    RegisterListKernels(*r);
    RegisterImageKernels(*r);
    RegisterExampleKernels(*r);
    return r;
  }();
  return *registry;
}

Status KernelError(const KernelContext& ctx, std::string_view what) {
  return InvalidArgument(ctx.node.op + " '" + ctx.node.name + "': " + std::string(what));
}

Status ExpectInputs(const KernelContext& ctx, size_t n) {
  if (ctx.inputs.size() == n) return Status::Ok();
  return KernelError(ctx, "expects " + std::to_string(n) + " inputs, got " + std::to_string(ctx.inputs.size()));
}

}  // namespace inferd::tf
