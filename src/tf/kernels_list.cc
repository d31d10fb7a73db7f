// tf/kernels_list.cc: TF2 TensorList ops and TF1 TensorArray (V3) ops, the sequences that while loops
// (tf.map_fn, tf.while_loop with accumulators) read from and write to.
//
// A TensorList is a DT_VARIANT scalar carrying a ListValue (Tensor::MakeObject): immutable once made, so
// TensorListSetItem returns a new list (the items' buffers are shared, not copied). A TensorArray handle is a
// DT_RESOURCE scalar carrying an ArrayValue, which TensorArrayWriteV3/ScatterV3 change in place: it is made by
// TensorArrayV3 in each run (the op is stateful, never folded), so no two runs share one; the `flow` tensors
// only order the ops, as in TensorFlow. Sizes are bounded (kMaxItems) and every index checked.
#include <algorithm>
#include <cstring>

#include "tf/kernel_util.h"

namespace inferd::tf {
namespace {

constexpr int64_t kMaxItems = int64_t{1} << 20;

struct ListValue final : Tensor::Object {
  DType dtype = DType::kInvalid;
  PartialShape element_shape;
  std::vector<Tensor> items;  // invalid: not set yet
};

struct ArrayValue final : Tensor::Object {
  DType dtype = DType::kInvalid;
  PartialShape element_shape;
  bool dynamic_size = false;
  std::vector<Tensor> items;
};

// An element_shape input: -1 (scalar) is an unknown rank, otherwise a vector with -1 for unknown dims.
StatusOr<PartialShape> ShapeInput(const KernelContext& ctx, const Tensor& t) {
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, IntList(ctx, t, "element_shape"));
  PartialShape s;
  if (t.rank() == 0) {
    if (dims[0] != -1) return KernelError(ctx, "a scalar element_shape must be -1 (unknown rank)");
    return s;
  }
  for (int64_t d : dims) {
    if (d < -1) return KernelError(ctx, "element_shape has a dimension below -1");
  }
  s.unknown_rank = false;
  s.dims = std::move(dims);
  return s;
}

bool FullyDefined(const PartialShape& s) {
  return !s.unknown_rank && std::none_of(s.dims.begin(), s.dims.end(), [](int64_t d) { return d < 0; });
}

// The known dims of both, or an error when they disagree.
StatusOr<PartialShape> Merge(const KernelContext& ctx, const PartialShape& a, const PartialShape& b) {
  if (a.unknown_rank) return b;
  if (b.unknown_rank) return a;
  if (a.dims.size() != b.dims.size()) {
    return KernelError(ctx, "element shapes " + ShapeString(a.dims) + " and " + ShapeString(b.dims) + " differ");
  }
  PartialShape m = a;
  for (size_t i = 0; i < m.dims.size(); ++i) {
    if (m.dims[i] < 0) m.dims[i] = b.dims[i];
    if (b.dims[i] >= 0 && m.dims[i] != b.dims[i]) {
      return KernelError(ctx, "element shapes " + ShapeString(a.dims) + " and " + ShapeString(b.dims) + " differ");
    }
  }
  return m;
}

Status CheckItem(const KernelContext& ctx, DType dtype, const PartialShape& shape, const Tensor& item) {
  if (item.dtype() != dtype) {
    return KernelError(ctx, "item is " + std::string(DTypeName(item.dtype())) + ", the list holds " +
                                std::string(DTypeName(dtype)));
  }
  if (DTypeSize(dtype) == 0) return KernelError(ctx, "unsupported element dtype " + std::string(DTypeName(dtype)));
  PartialShape is;
  is.unknown_rank = false;
  is.dims = item.shape();
  return Merge(ctx, shape, is).status();
}

StatusOr<const ListValue*> List(const KernelContext& ctx, const Tensor& t) {
  const auto* l = t.dtype() == DType::kVariant ? dynamic_cast<const ListValue*>(t.object().get()) : nullptr;
  if (l == nullptr) return KernelError(ctx, "input 0 is not a TensorList");
  return l;
}

StatusOr<ArrayValue*> Array(const KernelContext& ctx, const Tensor& t) {
  auto* a = t.dtype() == DType::kResource ? dynamic_cast<ArrayValue*>(t.object().get()) : nullptr;
  if (a == nullptr) return KernelError(ctx, "input 0 is not a TensorArray handle");
  return a;
}

StatusOr<int64_t> Index(const KernelContext& ctx, const Tensor& t, size_t size) {
  ASSIGN_OR_RETURN(int64_t i, IntScalar(ctx, t, "index"));
  if (i < 0 || static_cast<size_t>(i) >= size) {
    return KernelError(ctx, "index " + std::to_string(i) + " is out of range for " + std::to_string(size) + " items");
  }
  return i;
}

// Item i of a sequence, or zeros of the element shape when never written (TensorFlow's rule for lists).
StatusOr<Tensor> ItemOrZeros(const KernelContext& ctx, const std::vector<Tensor>& items, size_t i, DType dtype,
                             const PartialShape& shape) {
  if (items[i].valid()) return items[i];
  if (!FullyDefined(shape)) {
    return KernelError(ctx, "item " + std::to_string(i) + " was never set and the element shape is not fully known");
  }
  return MakeOutput(ctx, dtype, shape.dims);
}

// Row i of t (first dimension), copied.
StatusOr<Tensor> Row(const KernelContext& ctx, const Tensor& t, int64_t i) {
  Shape s(t.shape().begin() + 1, t.shape().end());
  ASSIGN_OR_RETURN(Tensor r, MakeOutput(ctx, t.dtype(), s));
  if (r.byte_size() > 0) std::memcpy(r.raw(), t.raw() + static_cast<size_t>(i) * r.byte_size(), r.byte_size());
  return r;
}

// items[idx[0]], items[idx[1]]... stacked on a new first dimension.
StatusOr<Tensor> Stack(const KernelContext& ctx, const std::vector<Tensor>& items, const std::vector<int64_t>& idx,
                       DType dtype, PartialShape shape) {
  for (int64_t i : idx) {
    if (i < 0 || static_cast<size_t>(i) >= items.size()) {
      return KernelError(ctx, "index " + std::to_string(i) + " is out of range for " + std::to_string(items.size()) +
                                  " items");
    }
    if (!items[static_cast<size_t>(i)].valid()) continue;
    PartialShape is;
    is.unknown_rank = false;
    is.dims = items[static_cast<size_t>(i)].shape();
    ASSIGN_OR_RETURN(shape, Merge(ctx, shape, is));
  }
  if (!FullyDefined(shape)) return KernelError(ctx, "the element shape is not known (no item set)");
  Shape out_shape{static_cast<int64_t>(idx.size())};
  out_shape.insert(out_shape.end(), shape.dims.begin(), shape.dims.end());
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, dtype, out_shape));
  const size_t row = idx.empty() ? 0 : out.byte_size() / idx.size();
  for (size_t k = 0; k < idx.size(); ++k) {
    const Tensor& it = items[static_cast<size_t>(idx[k])];
    if (it.valid() && row > 0) std::memcpy(out.raw() + k * row, it.raw(), row);  // else zeros
  }
  return out;
}

std::vector<int64_t> Iota(size_t n) {
  std::vector<int64_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<int64_t>(i);
  return v;
}

StatusOr<int64_t> Count(const KernelContext& ctx, const Tensor& t, std::string_view what) {
  ASSIGN_OR_RETURN(int64_t n, IntScalar(ctx, t, what));
  if (n < 0 || n > kMaxItems) {
    return KernelError(ctx, std::string(what) + " " + std::to_string(n) + " is outside [0, 2^20]");
  }
  return n;
}

// ---- TensorList ----

// TensorListReserve(element_shape, num_elements) -> list of num_elements unset items.
Status TensorListReserve(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  auto l = std::make_shared<ListValue>();
  ASSIGN_OR_RETURN(l->dtype, AttrType(ctx.node, "element_dtype"));
  ASSIGN_OR_RETURN(l->element_shape, ShapeInput(ctx, ctx.inputs[0]));
  ASSIGN_OR_RETURN(int64_t n, Count(ctx, ctx.inputs[1], "num_elements"));
  l->items.resize(static_cast<size_t>(n));
  ctx.outputs.push_back(Tensor::MakeObject(DType::kVariant, std::move(l)));
  return Status::Ok();
}

// TensorListFromTensor(tensor, element_shape) -> the rows of tensor.
Status TensorListFromTensor(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& t = ctx.inputs[0];
  if (t.rank() < 1 || DTypeSize(t.dtype()) == 0) return KernelError(ctx, "tensor must have rank >= 1 and fixed size");
  if (t.dim(0) > kMaxItems) return KernelError(ctx, "more than 2^20 items");
  auto l = std::make_shared<ListValue>();
  l->dtype = t.dtype();
  ASSIGN_OR_RETURN(PartialShape declared, ShapeInput(ctx, ctx.inputs[1]));
  PartialShape row;
  row.unknown_rank = false;
  row.dims.assign(t.shape().begin() + 1, t.shape().end());
  ASSIGN_OR_RETURN(l->element_shape, Merge(ctx, declared, row));
  for (int64_t i = 0; i < t.dim(0); ++i) {
    ASSIGN_OR_RETURN(Tensor r, Row(ctx, t, i));
    l->items.push_back(std::move(r));
  }
  ctx.outputs.push_back(Tensor::MakeObject(DType::kVariant, std::move(l)));
  return Status::Ok();
}

// TensorListGetItem(list, index, element_shape) -> item.
Status TensorListGetItem(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  ASSIGN_OR_RETURN(const ListValue* l, List(ctx, ctx.inputs[0]));
  ASSIGN_OR_RETURN(DType dtype, AttrType(ctx.node, "element_dtype"));
  if (dtype != l->dtype) return KernelError(ctx, "element_dtype differs from the list's");
  ASSIGN_OR_RETURN(int64_t i, Index(ctx, ctx.inputs[1], l->items.size()));
  ASSIGN_OR_RETURN(PartialShape want, ShapeInput(ctx, ctx.inputs[2]));
  ASSIGN_OR_RETURN(PartialShape shape, Merge(ctx, l->element_shape, want));
  ASSIGN_OR_RETURN(Tensor item, ItemOrZeros(ctx, l->items, static_cast<size_t>(i), dtype, shape));
  ctx.outputs.push_back(std::move(item));
  return Status::Ok();
}

// TensorListSetItem(list, index, item) -> a new list with item at index.
Status TensorListSetItem(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  ASSIGN_OR_RETURN(const ListValue* l, List(ctx, ctx.inputs[0]));
  ASSIGN_OR_RETURN(int64_t i, Index(ctx, ctx.inputs[1], l->items.size()));
  RETURN_IF_ERROR(CheckItem(ctx, l->dtype, l->element_shape, ctx.inputs[2]));
  auto copy = std::make_shared<ListValue>(*l);
  copy->items[static_cast<size_t>(i)] = ctx.inputs[2];
  ctx.outputs.push_back(Tensor::MakeObject(DType::kVariant, std::move(copy)));
  return Status::Ok();
}

// TensorListStack(list, element_shape) -> [n, ...element]; attr num_elements (-1: any) must match.
Status TensorListStack(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  ASSIGN_OR_RETURN(const ListValue* l, List(ctx, ctx.inputs[0]));
  ASSIGN_OR_RETURN(DType dtype, AttrType(ctx.node, "element_dtype"));
  if (dtype != l->dtype) return KernelError(ctx, "element_dtype differs from the list's");
  ASSIGN_OR_RETURN(int64_t n, AttrIntOr(ctx.node, "num_elements", -1));
  if (n != -1 && static_cast<size_t>(n) != l->items.size()) {
    return KernelError(ctx, "the list has " + std::to_string(l->items.size()) + " items, num_elements is " +
                                std::to_string(n));
  }
  ASSIGN_OR_RETURN(PartialShape want, ShapeInput(ctx, ctx.inputs[1]));
  ASSIGN_OR_RETURN(PartialShape shape, Merge(ctx, l->element_shape, want));
  ASSIGN_OR_RETURN(Tensor out, Stack(ctx, l->items, Iota(l->items.size()), dtype, shape));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status TensorListLength(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  ASSIGN_OR_RETURN(const ListValue* l, List(ctx, ctx.inputs[0]));
  ctx.outputs.push_back(Tensor::Scalar<int32_t>(DType::kInt32, static_cast<int32_t>(l->items.size())));
  return Status::Ok();
}

// ---- TensorArray (V3) ----

// TensorArrayV3(size) -> handle, flow.
Status TensorArrayV3(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  auto a = std::make_shared<ArrayValue>();
  ASSIGN_OR_RETURN(a->dtype, AttrType(ctx.node, "dtype"));
  if (DTypeSize(a->dtype) == 0) return KernelError(ctx, "unsupported dtype " + std::string(DTypeName(a->dtype)));
  ASSIGN_OR_RETURN(a->dynamic_size, AttrBoolOr(ctx.node, "dynamic_size", false));
  if (const AttrValue* s = FindAttr(ctx.node, "element_shape"); s != nullptr && s->kind == AttrValue::Kind::kShape) {
    a->element_shape = s->shape;
  }
  ASSIGN_OR_RETURN(int64_t n, Count(ctx, ctx.inputs[0], "size"));
  a->items.resize(static_cast<size_t>(n));
  ctx.outputs.push_back(Tensor::MakeObject(DType::kResource, std::move(a)));
  ctx.outputs.push_back(Tensor::Scalar<float>(DType::kFloat, 0.0f));
  return Status::Ok();
}

// Writes item at index i, growing a dynamic_size array.
Status Write(const KernelContext& ctx, ArrayValue& a, int64_t i, Tensor item) {
  if (i < 0 || i >= kMaxItems) return KernelError(ctx, "index " + std::to_string(i) + " is out of range");
  if (static_cast<size_t>(i) >= a.items.size()) {
    if (!a.dynamic_size) {
      return KernelError(ctx, "index " + std::to_string(i) + " is out of range for " +
                                  std::to_string(a.items.size()) + " items");
    }
    a.items.resize(static_cast<size_t>(i) + 1);
  }
  RETURN_IF_ERROR(CheckItem(ctx, a.dtype, a.element_shape, item));
  a.items[static_cast<size_t>(i)] = std::move(item);
  return Status::Ok();
}

// TensorArrayWriteV3(handle, index, value, flow_in) -> flow_out.
Status TensorArrayWriteV3(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 4));
  ASSIGN_OR_RETURN(ArrayValue* a, Array(ctx, ctx.inputs[0]));
  ASSIGN_OR_RETURN(int64_t i, IntScalar(ctx, ctx.inputs[1], "index"));
  RETURN_IF_ERROR(Write(ctx, *a, i, ctx.inputs[2]));
  ctx.outputs.push_back(ctx.inputs[3]);
  return Status::Ok();
}

// TensorArrayScatterV3(handle, indices, value, flow_in) -> flow_out: row k of value to indices[k].
Status TensorArrayScatterV3(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 4));
  ASSIGN_OR_RETURN(ArrayValue* a, Array(ctx, ctx.inputs[0]));
  ASSIGN_OR_RETURN(std::vector<int64_t> idx, IntList(ctx, ctx.inputs[1], "indices"));
  const Tensor& v = ctx.inputs[2];
  if (v.rank() < 1 || v.dim(0) != static_cast<int64_t>(idx.size())) {
    return KernelError(ctx, "value's first dimension must equal the number of indices");
  }
  for (size_t k = 0; k < idx.size(); ++k) {
    ASSIGN_OR_RETURN(Tensor r, Row(ctx, v, static_cast<int64_t>(k)));
    RETURN_IF_ERROR(Write(ctx, *a, idx[k], std::move(r)));
  }
  ctx.outputs.push_back(ctx.inputs[3]);
  return Status::Ok();
}

// TensorArrayReadV3(handle, index, flow_in) -> item.
Status TensorArrayReadV3(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  ASSIGN_OR_RETURN(ArrayValue* a, Array(ctx, ctx.inputs[0]));
  ASSIGN_OR_RETURN(int64_t i, Index(ctx, ctx.inputs[1], a->items.size()));
  ASSIGN_OR_RETURN(Tensor item, ItemOrZeros(ctx, a->items, static_cast<size_t>(i), a->dtype, a->element_shape));
  ctx.outputs.push_back(std::move(item));
  return Status::Ok();
}

// TensorArrayGatherV3(handle, indices, flow_in) -> items stacked; attr element_shape.
Status TensorArrayGatherV3(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  ASSIGN_OR_RETURN(ArrayValue* a, Array(ctx, ctx.inputs[0]));
  ASSIGN_OR_RETURN(std::vector<int64_t> idx, IntList(ctx, ctx.inputs[1], "indices"));
  PartialShape shape = a->element_shape;
  if (const AttrValue* s = FindAttr(ctx.node, "element_shape"); s != nullptr && s->kind == AttrValue::Kind::kShape) {
    ASSIGN_OR_RETURN(shape, Merge(ctx, shape, s->shape));
  }
  ASSIGN_OR_RETURN(Tensor out, Stack(ctx, a->items, idx, a->dtype, shape));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// TensorArraySizeV3(handle, flow_in) -> int32 size.
Status TensorArraySizeV3(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  ASSIGN_OR_RETURN(ArrayValue* a, Array(ctx, ctx.inputs[0]));
  ctx.outputs.push_back(Tensor::Scalar<int32_t>(DType::kInt32, static_cast<int32_t>(a->items.size())));
  return Status::Ok();
}

}  // namespace

void RegisterListKernels(KernelRegistry& r) {
  auto pure = [&r](const char* op, KernelFn fn) { r.Register(op, KernelDef{fn, false}); };
  pure("TensorListReserve", &TensorListReserve);
  pure("TensorListFromTensor", &TensorListFromTensor);
  pure("TensorListGetItem", &TensorListGetItem);
  pure("TensorListSetItem", &TensorListSetItem);
  pure("TensorListStack", &TensorListStack);
  pure("TensorListLength", &TensorListLength);
  // A TensorArray is made per run and written in place: never folded.
  auto stateful = [&r](const char* op, KernelFn fn) { r.Register(op, KernelDef{fn, true}); };
  stateful("TensorArrayV3", &TensorArrayV3);
  stateful("TensorArrayWriteV3", &TensorArrayWriteV3);
  stateful("TensorArrayScatterV3", &TensorArrayScatterV3);
  stateful("TensorArrayReadV3", &TensorArrayReadV3);
  stateful("TensorArrayGatherV3", &TensorArrayGatherV3);
  stateful("TensorArraySizeV3", &TensorArraySizeV3);
}

}  // namespace inferd::tf
