// tf/kernels_state.cc: the state group of kernels (tf/kernel.h): resource and reference variables, RestoreV2,
// the gradient-descent update, and the random initializers. All are registered stateful (never folded) but
// VarHandleOp: its output is only the variable's name, so the executor folds it once at compile time and a run
// does not make a handle per variable (ReadVariableOp, stateful, still reads the value on every run).
//
// Variables live in the run's VariableStore (RunContext::variables), keyed by name:
// - Resource variables: VarHandleOp outputs a DT_RESOURCE scalar whose strings()[0] is the key (attr
//   shared_name, or the node's name when that is empty); ReadVariableOp / Assign*VariableOp / VarIsInitializedOp
//   / ResourceApplyGradientDescent take that handle as input 0.
// - TF1 reference variables: VariableV2 / Variable output the variable's current value (key: shared_name or the
//   node's name). The IR has no refs, so the executor (tf/executor.cc) rewrites Assign / AssignAdd / AssignSub /
//   IsVariableInitialized whose input 0 comes from a VariableV2: it drops that input and names the variable in
//   the reserved attr `_inferd_var`, which these kernels read.
// Read-modify-write updates (AssignAdd...) are not atomic: a graph that assigns makes its Executable stateful()
// and its runs are serialized by the caller.
#include <cmath>
#include <cstdint>
#include <numbers>

#include "tf/checkpoint.h"
#include "tf/kernel.h"

namespace inferd::tf {
namespace {

constexpr std::string_view kRefVarAttr = "_inferd_var";

StatusOr<VariableStore*> Store(const KernelContext& ctx) {
  if (ctx.variables == nullptr) return KernelError(ctx, "needs a variable store, and the run has none");
  return ctx.variables;
}

// Prefixes a store error (NotFound "variable 'v' is not initialized") with the op and node.
Status WithNode(const KernelContext& ctx, const Status& s) {
  return Status(s.code(), ctx.node.op + " '" + ctx.node.name + "': " + s.message());
}

StatusOr<std::string> HandleName(const KernelContext& ctx, const Tensor& t) {
  if (t.dtype() != DType::kResource || t.num_elements() != 1) {
    return KernelError(ctx, "input 0 is not a resource handle (got " + std::string(DTypeName(t.dtype())) + " " +
                                ShapeString(t.shape()) + ")");
  }
  return t.strings()[0];
}

std::string SharedNameOr(const NodeDef& n) {
  const AttrValue* a = FindAttr(n, "shared_name");
  return a != nullptr && a->kind == AttrValue::Kind::kS && !a->s.empty() ? a->s : n.name;
}

StatusOr<std::string> RefVarName(const KernelContext& ctx) {
  const AttrValue* a = FindAttr(ctx.node, kRefVarAttr);
  if (a == nullptr || a->kind != AttrValue::Kind::kS) {
    return KernelError(ctx, "input 0 must come straight from a VariableV2 node (the executor has no other refs)");
  }
  return a->s;
}

// The declared `dtype` attr (when present) must match the value's.
Status CheckDtypeAttr(const KernelContext& ctx, const char* attr, DType actual, std::string_view var) {
  const AttrValue* a = FindAttr(ctx.node, attr);
  if (a == nullptr || a->kind != AttrValue::Kind::kType || a->type == actual) return Status::Ok();
  return KernelError(ctx, "variable '" + std::string(var) + "' holds " + std::string(DTypeName(actual)) +
                              ", the op expects " + std::string(DTypeName(a->type)));
}

template <typename T>
void Combine(const Tensor& a, const Tensor& b, double scale, Tensor& out) {
  const T* x = a.data<T>();
  const T* y = b.data<T>();
  T* o = out.data<T>();
  const T s = static_cast<T>(scale);
  for (int64_t i = 0; i < a.num_elements(); ++i) o[i] = x[i] + s * y[i];
}

// a + scale * b, elementwise, same dtype and shape (float, double, int32, int64).
StatusOr<Tensor> AddScaled(const KernelContext& ctx, const Tensor& a, const Tensor& b, double scale) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) {
    return KernelError(ctx, "value " + std::string(DTypeName(b.dtype())) + " " + ShapeString(b.shape()) +
                                " does not match the variable's " + std::string(DTypeName(a.dtype())) + " " +
                                ShapeString(a.shape()));
  }
  ASSIGN_OR_RETURN(Tensor out, Tensor::Make(a.dtype(), a.shape()));
  switch (a.dtype()) {
    case DType::kFloat:
      Combine<float>(a, b, scale, out);
      break;
    case DType::kDouble:
      Combine<double>(a, b, scale, out);
      break;
    case DType::kInt32:
      Combine<int32_t>(a, b, scale, out);
      break;
    case DType::kInt64:
      Combine<int64_t>(a, b, scale, out);
      break;
    default:
      return KernelError(ctx, "does not support " + std::string(DTypeName(a.dtype())));
  }
  return out;
}

// ---- resource variables ----

Status VarHandleOp(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 0));
  ASSIGN_OR_RETURN(Tensor t, Tensor::Make(DType::kResource, {}));
  t.strings()[0] = SharedNameOr(ctx.node);
  ctx.outputs.push_back(std::move(t));
  return Status::Ok();
}

Status ReadVariableOp(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  ASSIGN_OR_RETURN(VariableStore * store, Store(ctx));
  ASSIGN_OR_RETURN(std::string name, HandleName(ctx, ctx.inputs[0]));
  auto v = store->Read(name);
  if (!v.ok()) return WithNode(ctx, v.status());
  RETURN_IF_ERROR(CheckDtypeAttr(ctx, "dtype", v->dtype(), name));
  ctx.outputs.push_back(std::move(*v));
  return Status::Ok();
}

Status AssignVariableOp(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  ASSIGN_OR_RETURN(VariableStore * store, Store(ctx));
  ASSIGN_OR_RETURN(std::string name, HandleName(ctx, ctx.inputs[0]));
  RETURN_IF_ERROR(CheckDtypeAttr(ctx, "dtype", ctx.inputs[1].dtype(), name));
  store->Assign(name, ctx.inputs[1]);  // shares the buffer: values are immutable
  return Status::Ok();
}

Status UpdateVariableOp(KernelContext& ctx, double sign) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  ASSIGN_OR_RETURN(VariableStore * store, Store(ctx));
  ASSIGN_OR_RETURN(std::string name, HandleName(ctx, ctx.inputs[0]));
  auto v = store->Read(name);
  if (!v.ok()) return WithNode(ctx, v.status());
  ASSIGN_OR_RETURN(Tensor sum, AddScaled(ctx, *v, ctx.inputs[1], sign));
  store->Assign(name, std::move(sum));
  return Status::Ok();
}

Status AssignAddVariableOp(KernelContext& ctx) { return UpdateVariableOp(ctx, 1.0); }
Status AssignSubVariableOp(KernelContext& ctx) { return UpdateVariableOp(ctx, -1.0); }

Status VarIsInitializedOp(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  ASSIGN_OR_RETURN(VariableStore * store, Store(ctx));
  ASSIGN_OR_RETURN(std::string name, HandleName(ctx, ctx.inputs[0]));
  ctx.outputs.push_back(Tensor::Scalar<bool>(DType::kBool, store->Contains(name)));
  return Status::Ok();
}

Status ResourceApplyGradientDescent(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  ASSIGN_OR_RETURN(VariableStore * store, Store(ctx));
  ASSIGN_OR_RETURN(std::string name, HandleName(ctx, ctx.inputs[0]));
  auto v = store->Read(name);
  if (!v.ok()) return WithNode(ctx, v.status());
  const Tensor& alpha = ctx.inputs[1];
  if (alpha.num_elements() != 1 || alpha.dtype() != v->dtype()) {
    return KernelError(ctx, "alpha must be a scalar of the variable's type " + std::string(DTypeName(v->dtype())));
  }
  double a = 0;
  if (alpha.dtype() == DType::kFloat) {
    a = alpha.data<float>()[0];
  } else if (alpha.dtype() == DType::kDouble) {
    a = alpha.data<double>()[0];
  } else {
    return KernelError(ctx, "supports DT_FLOAT and DT_DOUBLE variables only");
  }
  ASSIGN_OR_RETURN(Tensor next, AddScaled(ctx, *v, ctx.inputs[2], -a));
  store->Assign(name, std::move(next));
  return Status::Ok();
}

// ---- TF1 reference variables ----

Status VariableV2(KernelContext& ctx) {
  ASSIGN_OR_RETURN(VariableStore * store, Store(ctx));
  const std::string name = SharedNameOr(ctx.node);
  auto v = store->Read(name);
  if (!v.ok()) return WithNode(ctx, v.status());
  RETURN_IF_ERROR(CheckDtypeAttr(ctx, "dtype", v->dtype(), name));
  ctx.outputs.push_back(std::move(*v));
  return Status::Ok();
}

Status Assign(KernelContext& ctx) {
  ASSIGN_OR_RETURN(std::string name, RefVarName(ctx));
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));  // the ref input was removed by the executor
  ASSIGN_OR_RETURN(VariableStore * store, Store(ctx));
  ASSIGN_OR_RETURN(bool validate, AttrBoolOr(ctx.node, "validate_shape", true));
  const Tensor& value = ctx.inputs[0];
  if (validate) {
    auto old = store->Read(name);
    if (old.ok() && old->shape() != value.shape()) {
      return KernelError(ctx, "value shape " + ShapeString(value.shape()) + " differs from variable '" + name +
                                  "' shape " + ShapeString(old->shape()) + " (validate_shape)");
    }
  }
  store->Assign(name, value);
  ctx.outputs.push_back(value);
  return Status::Ok();
}

Status UpdateRef(KernelContext& ctx, double sign) {
  ASSIGN_OR_RETURN(std::string name, RefVarName(ctx));
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  ASSIGN_OR_RETURN(VariableStore * store, Store(ctx));
  auto v = store->Read(name);
  if (!v.ok()) return WithNode(ctx, v.status());
  ASSIGN_OR_RETURN(Tensor next, AddScaled(ctx, *v, ctx.inputs[0], sign));
  store->Assign(name, next);
  ctx.outputs.push_back(std::move(next));
  return Status::Ok();
}

Status AssignAdd(KernelContext& ctx) { return UpdateRef(ctx, 1.0); }
Status AssignSub(KernelContext& ctx) { return UpdateRef(ctx, -1.0); }

Status IsVariableInitialized(KernelContext& ctx) {
  ASSIGN_OR_RETURN(std::string name, RefVarName(ctx));
  RETURN_IF_ERROR(ExpectInputs(ctx, 0));
  ASSIGN_OR_RETURN(VariableStore * store, Store(ctx));
  ctx.outputs.push_back(Tensor::Scalar<bool>(DType::kBool, store->Contains(name)));
  return Status::Ok();
}

// ---- checkpoints ----

Status RestoreV2(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  if (ctx.checkpoint == nullptr) return KernelError(ctx, "the model has no variables checkpoint to restore from");
  const Tensor& names = ctx.inputs[1];
  const Tensor& slices = ctx.inputs[2];
  if (names.dtype() != DType::kString || slices.dtype() != DType::kString || names.rank() != 1 ||
      slices.shape() != names.shape()) {
    return KernelError(ctx, "tensor_names and shape_and_slices must be string vectors of one length");
  }
  const AttrValue* dt = FindAttr(ctx.node, "dtypes");
  const size_t n = names.strings().size();
  if (dt == nullptr || dt->kind != AttrValue::Kind::kList || !dt->list || dt->list->type.size() != n) {
    return KernelError(ctx, "attr 'dtypes' must list one type per tensor name (" + std::to_string(n) + ")");
  }
  for (size_t i = 0; i < n; ++i) {
    const std::string& key = names.strings()[i];
    if (!slices.strings()[i].empty()) {
      return KernelError(ctx, "'" + key + "': restoring a slice ('" + slices.strings()[i] + "') is not supported");
    }
    auto t = ctx.checkpoint->Read(key);
    if (!t.ok()) return WithNode(ctx, t.status());
    if (t->dtype() != dt->list->type[i]) {
      return KernelError(ctx, "'" + key + "' is " + std::string(DTypeName(t->dtype())) + " in the checkpoint, " +
                                  std::string(DTypeName(dt->list->type[i])) + " expected");
    }
    ctx.outputs.push_back(std::move(*t));
  }
  return Status::Ok();
}

Status NotForServing(KernelContext& ctx) {
  return Unimplemented(ctx.node.op + " '" + ctx.node.name +
                       "': writing checkpoints is not supported (serving graphs never need it)");
}

// ---- random initializers (deterministic per seed/seed2: they usually only initialize variables) ----

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

enum class Dist { kUniform, kNormal, kTruncatedNormal };

double Draw(uint64_t& state, Dist d) {
  auto unit = [&] { return static_cast<double>(SplitMix(state) >> 11) * 0x1.0p-53; };  // [0, 1)
  if (d == Dist::kUniform) return unit();
  for (;;) {
    double u1 = unit(), u2 = unit();
    double z = std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * std::numbers::pi * u2);
    if (d == Dist::kNormal || std::abs(z) <= 2.0) return z;
  }
}

Status Random(KernelContext& ctx, Dist dist) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& s = ctx.inputs[0];
  if (s.rank() != 1 || (s.dtype() != DType::kInt32 && s.dtype() != DType::kInt64)) {
    return KernelError(ctx, "shape must be an int32 or int64 vector");
  }
  Shape shape;
  for (int64_t i = 0; i < s.num_elements(); ++i) {
    shape.push_back(s.dtype() == DType::kInt32 ? s.data<int32_t>()[i] : s.data<int64_t>()[i]);
  }
  ASSIGN_OR_RETURN(DType dtype, AttrType(ctx.node, "dtype"));
  if (dtype != DType::kFloat && dtype != DType::kDouble) return KernelError(ctx, "supports DT_FLOAT and DT_DOUBLE");
  ASSIGN_OR_RETURN(int64_t seed, AttrIntOr(ctx.node, "seed", 0));
  ASSIGN_OR_RETURN(int64_t seed2, AttrIntOr(ctx.node, "seed2", 0));
  auto made = Tensor::Make(dtype, std::move(shape));
  if (!made.ok()) return KernelError(ctx, made.status().message());
  Tensor out = std::move(*made);
  uint64_t state = static_cast<uint64_t>(seed) * 0x100000001b3ULL ^ static_cast<uint64_t>(seed2);
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    double v = Draw(state, dist);
    if (dtype == DType::kFloat) {
      float f = static_cast<float>(v);
      if (dist == Dist::kUniform && f >= 1.0f) f = 0x1.fffffep-1f;  // rounding must not reach 1
      out.data<float>()[i] = f;
    } else {
      out.data<double>()[i] = v;
    }
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status RandomUniform(KernelContext& ctx) { return Random(ctx, Dist::kUniform); }
Status RandomStandardNormal(KernelContext& ctx) { return Random(ctx, Dist::kNormal); }
Status TruncatedNormal(KernelContext& ctx) { return Random(ctx, Dist::kTruncatedNormal); }

}  // namespace

void RegisterStateKernels(KernelRegistry& r) {
  auto add = [&](const char* op, KernelFn fn) { r.Register(op, KernelDef{fn, /*stateful=*/true}); };
  r.Register("VarHandleOp", KernelDef{VarHandleOp, /*stateful=*/false});
  add("ReadVariableOp", ReadVariableOp);
  add("AssignVariableOp", AssignVariableOp);
  add("AssignAddVariableOp", AssignAddVariableOp);
  add("AssignSubVariableOp", AssignSubVariableOp);
  add("VarIsInitializedOp", VarIsInitializedOp);
  add("ResourceApplyGradientDescent", ResourceApplyGradientDescent);
  add("VariableV2", VariableV2);
  add("Variable", VariableV2);
  add("Assign", Assign);
  add("AssignAdd", AssignAdd);
  add("AssignSub", AssignSub);
  add("IsVariableInitialized", IsVariableInitialized);
  add("RestoreV2", RestoreV2);
  add("SaveV2", NotForServing);
  add("MergeV2Checkpoints", NotForServing);
  add("RandomUniform", RandomUniform);
  add("RandomStandardNormal", RandomStandardNormal);
  add("TruncatedNormal", TruncatedNormal);
}

}  // namespace inferd::tf
