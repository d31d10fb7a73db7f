// tf/kernels_array.cc: the array group of kernels (tf/kernel.h): identities, shapes, reshaping, slicing,
// gathering, concatenation, padding, tiling, casting, selection.
//
// Kernels that only move elements dispatch on element size (VisitStorage), so they work for every fixed-size
// dtype and for strings; every copy is one AffineCopy (tf/broadcast.h) over a computed view. Index inputs
// (Gather, GatherNd, OneHot depth, shapes) are validated before any element moves: out-of-range indices and
// shapes beyond 2^31 elements are errors naming the node, never reads outside a buffer.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "tf/broadcast.h"
#include "tf/kernel.h"
#include "tf/kernel_util.h"

namespace inferd::tf {
namespace {

// Copies a view of `in` into a view of `out` (see AffineCopy), for any element type.
Status CopyView(const KernelContext& ctx, const Tensor& in, int64_t ib, std::vector<int64_t> is, Tensor& out,
                int64_t ob, std::vector<int64_t> os, std::vector<int64_t> dims) {
  return VisitStorage(ctx, in.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    AffineCopy<T>(Elems<T>(in), ib, std::move(is), MutElems<T>(out), ob, std::move(os), std::move(dims));
    return Status::Ok();
  });
}

Status Emit(KernelContext& ctx, StatusOr<Tensor> t) {
  if (!t.ok()) return KernelError(ctx, t.status().message());
  ctx.outputs.push_back(std::move(*t));
  return Status::Ok();
}

// An int vector attr that may be absent (empty).
StatusOr<std::vector<int64_t>> AttrIntsOr(const NodeDef& n, std::string_view name) {
  if (FindAttr(n, name) == nullptr) return std::vector<int64_t>{};
  return AttrInts(n, name);
}

// A shape given as an input tensor: every dim >= 0.
StatusOr<Shape> ShapeInput(const KernelContext& ctx, const Tensor& t, std::string_view what) {
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, IntList(ctx, t, what));
  for (int64_t d : dims) {
    if (d < 0) return KernelError(ctx, std::string(what) + " " + ShapeString(dims) + " has a negative dimension");
  }
  return dims;
}

// ---------------------------------------------------------------------------------------------------------------
// Identities and shapes.

Status IdentityKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  ctx.outputs.push_back(ctx.inputs[0]);
  return Status::Ok();
}

Status IdentityNKernel(KernelContext& ctx) {
  for (const Tensor& t : ctx.inputs) ctx.outputs.push_back(t);
  return Status::Ok();
}

Status EnsureShapeKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const AttrValue* a = FindAttr(ctx.node, "shape");
  const Tensor& x = ctx.inputs[0];
  if (a != nullptr && a->kind == AttrValue::Kind::kShape && !a->shape.unknown_rank) {
    bool ok = a->shape.dims.size() == x.shape().size();
    for (size_t i = 0; ok && i < x.shape().size(); ++i) ok = a->shape.dims[i] < 0 || a->shape.dims[i] == x.shape()[i];
    if (!ok) return KernelError(ctx, "shape " + ShapeString(x.shape()) + " is not " + ShapeString(a->shape.dims));
  }
  ctx.outputs.push_back(x);
  return Status::Ok();
}

template <typename V>
Status EmitInts(KernelContext& ctx, DType t, const V& values, bool scalar) {
  Shape s;
  if (!scalar) s.push_back(static_cast<int64_t>(values.size()));
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, t, s));
  for (size_t i = 0; i < values.size(); ++i) {
    if (t == DType::kInt32) {
      if (values[i] > std::numeric_limits<int32_t>::max()) return KernelError(ctx, "value does not fit out_type int32");
      out.data<int32_t>()[i] = static_cast<int32_t>(values[i]);
    } else {
      out.data<int64_t>()[i] = values[i];
    }
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

StatusOr<DType> OutType(const KernelContext& ctx, std::string_view attr, DType dflt) {
  if (FindAttr(ctx.node, attr) == nullptr) return dflt;
  ASSIGN_OR_RETURN(DType t, AttrType(ctx.node, attr));
  if (!IsIndexType(t)) return KernelError(ctx, std::string(attr) + " must be int32 or int64");
  return t;
}

Status ShapeKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  ASSIGN_OR_RETURN(DType t, OutType(ctx, "out_type", DType::kInt32));
  return EmitInts(ctx, t, ctx.inputs[0].shape(), false);
}

Status ShapeNKernel(KernelContext& ctx) {
  ASSIGN_OR_RETURN(DType t, OutType(ctx, "out_type", DType::kInt32));
  for (const Tensor& x : ctx.inputs) RETURN_IF_ERROR(EmitInts(ctx, t, x.shape(), false));
  return Status::Ok();
}

Status SizeKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  ASSIGN_OR_RETURN(DType t, OutType(ctx, "out_type", DType::kInt32));
  return EmitInts(ctx, t, std::vector<int64_t>{ctx.inputs[0].num_elements()}, true);
}

Status RankKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  return EmitInts(ctx, DType::kInt32, std::vector<int64_t>{ctx.inputs[0].rank()}, true);
}

// ---------------------------------------------------------------------------------------------------------------
// Reshape, Squeeze, ExpandDims: the same buffer under another shape.

Status ReshapeKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> dims, IntList(ctx, ctx.inputs[1], "shape"));
  int unknown = -1;
  int64_t known = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == -1 && unknown < 0) {
      unknown = static_cast<int>(i);
    } else if (dims[i] < 0) {
      return KernelError(ctx, "shape " + ShapeString(dims) + " has a negative dimension or more than one -1");
    } else {
      if (dims[i] != 0 && known > kMaxElements / dims[i]) return KernelError(ctx, "shape " + ShapeString(dims) + " is too large");
      known *= dims[i];
    }
  }
  if (unknown >= 0) {
    if (known == 0 || x.num_elements() % known != 0) {
      return KernelError(ctx, "cannot reshape " + ShapeString(x.shape()) + " to " + ShapeString(dims));
    }
    dims[static_cast<size_t>(unknown)] = x.num_elements() / known;
  } else if (known != x.num_elements()) {
    return KernelError(ctx, "cannot reshape " + ShapeString(x.shape()) + " (" + std::to_string(x.num_elements()) +
                                " elements) to " + ShapeString(dims));
  }
  return Emit(ctx, x.Reshaped(dims));
}

Status SqueezeKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, AttrIntsOr(ctx.node, "squeeze_dims"));
  if (axes.empty()) {
    ASSIGN_OR_RETURN(axes, AttrIntsOr(ctx.node, "axis"));
  }
  std::vector<bool> drop(x.shape().size(), false);
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int ax, NormalizeAxis(ctx, a, x.rank(), "squeeze dim"));
    if (x.dim(ax) != 1) {
      return KernelError(ctx, "cannot squeeze dim " + std::to_string(a) + " of " + ShapeString(x.shape()));
    }
    drop[static_cast<size_t>(ax)] = true;
  }
  Shape s;
  for (size_t i = 0; i < x.shape().size(); ++i) {
    const bool d = axes.empty() ? x.shape()[i] == 1 : drop[i];
    if (!d) s.push_back(x.shape()[i]);
  }
  return Emit(ctx, x.Reshaped(s));
}

Status ExpandDimsKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(int64_t a, IntScalar(ctx, ctx.inputs[1], "dim"));
  ASSIGN_OR_RETURN(int ax, NormalizeAxis(ctx, a, x.rank() + 1, "dim"));
  Shape s = x.shape();
  s.insert(s.begin() + ax, 1);
  return Emit(ctx, x.Reshaped(s));
}

// ---------------------------------------------------------------------------------------------------------------
// Transpose, Reverse, Slice, StridedSlice: affine views.

Status TransposeKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> perm, IntList(ctx, ctx.inputs[1], "perm"));
  if (perm.size() != x.shape().size()) {
    return KernelError(ctx, "perm " + ShapeString(perm) + " does not match rank of " + ShapeString(x.shape()));
  }
  std::vector<bool> seen(perm.size(), false);
  const std::vector<int64_t> st = RowMajorStrides(x.shape());
  Shape os(perm.size());
  std::vector<int64_t> is(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    ASSIGN_OR_RETURN(int p, NormalizeAxis(ctx, perm[i], x.rank(), "perm entry"));
    if (seen[static_cast<size_t>(p)]) return KernelError(ctx, "perm " + ShapeString(perm) + " is not a permutation");
    seen[static_cast<size_t>(p)] = true;
    os[i] = x.dim(p);
    is[i] = st[static_cast<size_t>(p)];
  }
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), os));
  RETURN_IF_ERROR(CopyView(ctx, x, 0, is, out, 0, RowMajorStrides(os), os));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status ReverseDims(KernelContext& ctx, const Tensor& x, const std::vector<bool>& rev) {
  std::vector<int64_t> st = RowMajorStrides(x.shape());
  int64_t base = 0;
  for (size_t d = 0; d < rev.size(); ++d) {
    if (rev[d] && x.shape()[d] > 0) {
      base += (x.shape()[d] - 1) * st[d];
      st[d] = -st[d];
    }
  }
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), x.shape()));
  RETURN_IF_ERROR(CopyView(ctx, x, base, st, out, 0, RowMajorStrides(x.shape()), x.shape()));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status ReverseV2Kernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> axes, IntList(ctx, ctx.inputs[1], "axis"));
  std::vector<bool> rev(x.shape().size(), false);
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int ax, NormalizeAxis(ctx, a, x.rank()));
    if (rev[static_cast<size_t>(ax)]) return KernelError(ctx, "axis " + std::to_string(a) + " is given twice");
    rev[static_cast<size_t>(ax)] = true;
  }
  return ReverseDims(ctx, x, rev);
}

Status ReverseKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  const Tensor& dims = ctx.inputs[1];
  if (dims.dtype() != DType::kBool || dims.rank() != 1 || dims.dim(0) != x.rank()) {
    return KernelError(ctx, "dims must be a bool vector of length rank " + std::to_string(x.rank()));
  }
  std::vector<bool> rev(dims.data<bool>(), dims.data<bool>() + dims.dim(0));
  return ReverseDims(ctx, x, rev);
}

Status SliceKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> begin, IntList(ctx, ctx.inputs[1], "begin"));
  ASSIGN_OR_RETURN(std::vector<int64_t> size, IntList(ctx, ctx.inputs[2], "size"));
  if (begin.size() != x.shape().size() || size.size() != begin.size()) {
    return KernelError(ctx, "begin and size must have one entry per dim of " + ShapeString(x.shape()));
  }
  const std::vector<int64_t> st = RowMajorStrides(x.shape());
  int64_t base = 0;
  for (size_t d = 0; d < begin.size(); ++d) {
    const int64_t dim = x.shape()[d];
    if (size[d] == -1 && begin[d] >= 0 && begin[d] <= dim) size[d] = dim - begin[d];
    if (begin[d] < 0 || size[d] < 0 || begin[d] > dim || size[d] > dim - begin[d]) {
      return KernelError(ctx, "slice begin " + ShapeString(begin) + " size " + ShapeString(size) +
                                  " is out of bounds for " + ShapeString(x.shape()));
    }
    base += begin[d] * st[d];
  }
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), size));
  if (out.num_elements() > 0) RETURN_IF_ERROR(CopyView(ctx, x, base, st, out, 0, RowMajorStrides(size), size));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// StridedSlice's sparse spec (begin/end/strides + masks) resolved against a shape, as TensorFlow's
// ValidateStridedSliceOp does.
struct StridedView {
  std::vector<int64_t> begin, step, dims;  // per input dim: first index, stride, element count
  Shape final_shape;                       // dims with shrunk axes dropped and new axes inserted
};

struct SliceMasks {
  int64_t begin = 0, end = 0, ellipsis = 0, new_axis = 0, shrink = 0;
};

// One dense dim of a strided slice: its first index and element count (1 for an index, shrink_axis_mask).
struct DimSlice {
  int64_t begin = 0, count = 0;
};

StatusOr<DimSlice> ResolveSliceDim(const KernelContext& ctx, const Shape& shape, size_t full, size_t i, int64_t sb,
                                   int64_t se, int64_t stride, const SliceMasks& m) {
  const int64_t dim = shape[full];
  if (stride == 0) return KernelError(ctx, "stride of dim " + std::to_string(i) + " is 0");
  if ((m.shrink >> i) & 1) {
    if (stride < 0) return KernelError(ctx, "only stride 1 is allowed on an index (shrink_axis_mask)");
    const int64_t b = sb < 0 ? dim + sb : sb;
    if (b < 0 || b >= dim) {
      return KernelError(ctx, "slice index " + std::to_string(sb) + " of dim " + std::to_string(i) +
                                  " is out of bounds for " + ShapeString(shape));
    }
    return DimSlice{b, 1};
  }
  // Canonical bounds: masked ends take the extreme of the walking direction; others wrap once and clamp.
  const int64_t lo = stride > 0 ? 0 : -1, hi = stride > 0 ? dim : dim - 1;
  auto canon = [&](int64_t x, bool masked, bool is_end) {
    if (masked) return (stride > 0) == is_end ? hi : lo;
    const int64_t fwd = x < 0 ? dim + x : x;
    return std::clamp(fwd, lo, hi);
  };
  const int64_t b = canon(sb, (m.begin >> i) & 1, false);
  const int64_t len = canon(se, (m.end >> i) & 1, true) - b;  // both in [-1, dim]: no overflow
  DimSlice d{b, 0};
  if (len != 0 && (len < 0) == (stride < 0)) d.count = len / stride + (len % stride != 0 ? 1 : 0);
  return d;
}

StatusOr<StridedView> ResolveStridedSlice(const KernelContext& ctx, const Shape& shape,
                                          const std::vector<int64_t>& sb, const std::vector<int64_t>& se,
                                          const std::vector<int64_t>& ss, const SliceMasks& m) {
  const size_t n = sb.size();
  if (se.size() != n || ss.size() != n) return KernelError(ctx, "begin, end and strides must have equal lengths");
  if (n > 62) return KernelError(ctx, "slice spec has more than 62 entries");
  if (m.begin < 0 || m.end < 0 || m.ellipsis < 0 || m.new_axis < 0 || m.shrink < 0) {
    return KernelError(ctx, "slice masks must be non-negative");
  }
  if (m.ellipsis != 0 && (m.ellipsis & (m.ellipsis - 1)) != 0) return KernelError(ctx, "multiple ellipses in slice spec");
  const bool has_ellipsis = m.ellipsis != 0 && (m.ellipsis >> n) == 0;
  const size_t sparse_n = has_ellipsis ? n : n + 1;  // an implicit ellipsis after the last entry
  const int64_t ellipsis = has_ellipsis ? m.ellipsis : int64_t{1} << n;
  size_t new_after_ellipsis = 0;
  for (size_t i = 0; i < sparse_n; ++i) {
    if ((ellipsis >> i) & 1) {
      for (size_t j = i + 1; j < n; ++j) new_after_ellipsis += ((m.new_axis >> j) & 1) && !((ellipsis >> j) & 1);
      break;
    }
  }
  const size_t rank = shape.size();
  StridedView v;
  v.begin.assign(rank, 0);
  v.step.assign(rank, 1);
  v.dims.assign(rank, 0);
  // Per output position: the dense dim it comes from, or -1 for a new axis (shrunk dims are skipped).
  std::vector<int64_t> gather;
  size_t full = 0;
  for (size_t i = 0; i < sparse_n; ++i) {
    if ((ellipsis >> i) & 1) {
      const int64_t next = std::min<int64_t>(static_cast<int64_t>(rank) - static_cast<int64_t>(sparse_n - i) + 1 +
                                                 static_cast<int64_t>(new_after_ellipsis),
                                             static_cast<int64_t>(rank));
      for (; static_cast<int64_t>(full) < next; ++full) {
        v.dims[full] = shape[full];
        gather.push_back(static_cast<int64_t>(full));
      }
      continue;
    }
    if ((m.new_axis >> i) & 1) {
      gather.push_back(-1);
      continue;
    }
    if (full >= rank) return KernelError(ctx, "slice spec has more dims than the input " + ShapeString(shape));
    ASSIGN_OR_RETURN(DimSlice d, ResolveSliceDim(ctx, shape, full, i, sb[i], se[i], ss[i], m));
    v.begin[full] = d.begin;
    v.step[full] = ss[i];
    v.dims[full] = d.count;
    if (!((m.shrink >> i) & 1)) gather.push_back(static_cast<int64_t>(full));
    ++full;
  }
  for (; full < rank; ++full) {  // unreachable with the implicit ellipsis, kept for safety
    v.dims[full] = shape[full];
    gather.push_back(static_cast<int64_t>(full));
  }
  for (int64_t g : gather) v.final_shape.push_back(g < 0 ? 1 : v.dims[static_cast<size_t>(g)]);
  return v;
}

Status StridedSliceKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 4));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> b, IntList(ctx, ctx.inputs[1], "begin"));
  ASSIGN_OR_RETURN(std::vector<int64_t> e, IntList(ctx, ctx.inputs[2], "end"));
  ASSIGN_OR_RETURN(std::vector<int64_t> s, IntList(ctx, ctx.inputs[3], "strides"));
  SliceMasks m;
  ASSIGN_OR_RETURN(m.begin, AttrIntOr(ctx.node, "begin_mask", 0));
  ASSIGN_OR_RETURN(m.end, AttrIntOr(ctx.node, "end_mask", 0));
  ASSIGN_OR_RETURN(m.ellipsis, AttrIntOr(ctx.node, "ellipsis_mask", 0));
  ASSIGN_OR_RETURN(m.new_axis, AttrIntOr(ctx.node, "new_axis_mask", 0));
  ASSIGN_OR_RETURN(m.shrink, AttrIntOr(ctx.node, "shrink_axis_mask", 0));
  ASSIGN_OR_RETURN(StridedView v, ResolveStridedSlice(ctx, x.shape(), b, e, s, m));
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), v.final_shape));
  if (out.num_elements() > 0) {
    const std::vector<int64_t> st = RowMajorStrides(x.shape());
    int64_t base = 0;
    std::vector<int64_t> is(st.size());
    for (size_t d = 0; d < st.size(); ++d) {
      base += v.begin[d] * st[d];
      // A dim with one element never steps (its stride may be huge); otherwise |step| < dim, no overflow.
      is[d] = v.dims[d] <= 1 ? 0 : v.step[d] * st[d];
    }
    RETURN_IF_ERROR(CopyView(ctx, x, base, is, out, 0, RowMajorStrides(v.dims), v.dims));
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------------------------
// Concat, Pack, Unpack, Split, SplitV.

Status ConcatImpl(KernelContext& ctx, std::span<const Tensor> values, const Tensor& axis_t) {
  if (values.empty()) return KernelError(ctx, "needs at least one value");
  ASSIGN_OR_RETURN(int64_t a, IntScalar(ctx, axis_t, "axis"));
  const Tensor& first = values[0];
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, a, first.rank()));
  Shape os = first.shape();
  os[static_cast<size_t>(axis)] = 0;
  for (const Tensor& t : values) {
    bool ok = t.dtype() == first.dtype() && t.rank() == first.rank();
    for (int d = 0; ok && d < t.rank(); ++d) ok = d == axis || t.dim(d) == first.dim(d);
    if (!ok) {
      return KernelError(ctx, "cannot concatenate " + ShapeString(first.shape()) + " and " + ShapeString(t.shape()) +
                                  " along axis " + std::to_string(axis));
    }
    os[static_cast<size_t>(axis)] += t.dim(axis);
  }
  ASSIGN_OR_RETURN(Tensor out, MakeUninitializedOutput(ctx, first.dtype(), os));  // the pieces cover it
  const int64_t outer = DimProduct(os, 0, static_cast<size_t>(axis));
  const int64_t inner = DimProduct(os, static_cast<size_t>(axis) + 1, os.size());
  const int64_t row = os[static_cast<size_t>(axis)] * inner;
  int64_t offset = 0;
  for (const Tensor& t : values) {
    const int64_t w = t.dim(axis) * inner;
    if (w > 0 && outer > 0) RETURN_IF_ERROR(CopyView(ctx, t, 0, {w, 1}, out, offset, {row, 1}, {outer, w}));
    offset += w;
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status ConcatV2Kernel(KernelContext& ctx) {
  if (ctx.inputs.size() < 2) return KernelError(ctx, "expects values and an axis");
  return ConcatImpl(ctx, ctx.inputs.first(ctx.inputs.size() - 1), ctx.inputs.back());
}

Status ConcatKernel(KernelContext& ctx) {
  if (ctx.inputs.size() < 2) return KernelError(ctx, "expects an axis and values");
  return ConcatImpl(ctx, ctx.inputs.subspan(1), ctx.inputs[0]);
}

Status PackKernel(KernelContext& ctx) {
  if (ctx.inputs.empty()) return KernelError(ctx, "needs at least one value");
  const Tensor& first = ctx.inputs[0];
  ASSIGN_OR_RETURN(int64_t a, AttrIntOr(ctx.node, "axis", 0));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, a, first.rank() + 1));
  for (const Tensor& t : ctx.inputs) {
    if (t.dtype() != first.dtype() || t.shape() != first.shape()) {
      return KernelError(ctx, "values must share dtype and shape; got " + ShapeString(first.shape()) + " and " +
                                  ShapeString(t.shape()));
    }
  }
  const auto n = static_cast<int64_t>(ctx.inputs.size());
  Shape os = first.shape();
  os.insert(os.begin() + axis, n);
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, first.dtype(), os));
  const int64_t outer = DimProduct(first.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = DimProduct(first.shape(), static_cast<size_t>(axis), first.shape().size());
  for (int64_t i = 0; i < n && out.num_elements() > 0; ++i) {
    RETURN_IF_ERROR(CopyView(ctx, ctx.inputs[static_cast<size_t>(i)], 0, {inner, 1}, out, i * inner,
                             {n * inner, 1}, {outer, inner}));
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// Splits x along axis into pieces of the given sizes (which sum to the dim).
Status SplitImpl(KernelContext& ctx, const Tensor& x, int axis, const std::vector<int64_t>& sizes) {
  const int64_t outer = DimProduct(x.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = DimProduct(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  const int64_t row = x.dim(axis) * inner;
  int64_t offset = 0;
  for (int64_t sz : sizes) {
    Shape os = x.shape();
    os[static_cast<size_t>(axis)] = sz;
    ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), os));
    const int64_t w = sz * inner;
    if (out.num_elements() > 0) RETURN_IF_ERROR(CopyView(ctx, x, offset, {row, 1}, out, 0, {w, 1}, {outer, w}));
    offset += w;
    ctx.outputs.push_back(std::move(out));
  }
  return Status::Ok();
}

Status SplitKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[1];
  ASSIGN_OR_RETURN(int64_t a, IntScalar(ctx, ctx.inputs[0], "axis"));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, a, x.rank()));
  ASSIGN_OR_RETURN(int64_t num, AttrInt(ctx.node, "num_split"));
  if (num <= 0 || x.dim(axis) % num != 0) {
    return KernelError(ctx, "cannot split dim " + std::to_string(x.dim(axis)) + " into " + std::to_string(num) +
                                " equal parts");
  }
  return SplitImpl(ctx, x, axis, std::vector<int64_t>(static_cast<size_t>(num), x.dim(axis) / num));
}

Status SplitVKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> sizes, IntList(ctx, ctx.inputs[1], "size_splits"));
  ASSIGN_OR_RETURN(int64_t a, IntScalar(ctx, ctx.inputs[2], "axis"));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, a, x.rank()));
  ASSIGN_OR_RETURN(int64_t num, AttrIntOr(ctx.node, "num_split", static_cast<int64_t>(sizes.size())));
  if (num != static_cast<int64_t>(sizes.size()) || sizes.empty()) {
    return KernelError(ctx, "size_splits must have num_split entries");
  }
  int64_t unknown = -1, total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1 && unknown < 0) {
      unknown = static_cast<int64_t>(i);
    } else if (sizes[i] < 0 || sizes[i] > x.dim(axis)) {
      return KernelError(ctx, "bad size_splits " + ShapeString(sizes) + " for dim " + std::to_string(x.dim(axis)));
    } else {
      total += sizes[i];
    }
  }
  if (unknown >= 0 ? total > x.dim(axis) : total != x.dim(axis)) {
    return KernelError(ctx, "size_splits " + ShapeString(sizes) + " do not sum to dim " + std::to_string(x.dim(axis)));
  }
  if (unknown >= 0) sizes[static_cast<size_t>(unknown)] = x.dim(axis) - total;
  return SplitImpl(ctx, x, axis, sizes);
}

Status UnpackKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(int64_t a, AttrIntOr(ctx.node, "axis", 0));
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, a, x.rank()));
  ASSIGN_OR_RETURN(int64_t num, AttrIntOr(ctx.node, "num", x.dim(axis)));
  if (num != x.dim(axis)) return KernelError(ctx, "num " + std::to_string(num) + " does not match " + ShapeString(x.shape()));
  const size_t before = ctx.outputs.size();
  RETURN_IF_ERROR(SplitImpl(ctx, x, axis, std::vector<int64_t>(static_cast<size_t>(num), 1)));
  for (size_t i = before; i < ctx.outputs.size(); ++i) {
    Shape s = ctx.outputs[i].shape();
    s.erase(s.begin() + axis);
    ASSIGN_OR_RETURN(ctx.outputs[i], ctx.outputs[i].Reshaped(s));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------------------------
// Gather, GatherV2, GatherNd.

// The indices as int64, each checked against [0, limit).
StatusOr<std::vector<int64_t>> CheckedIndices(const KernelContext& ctx, const Tensor& t, int64_t limit) {
  if (!IsIndexType(t.dtype())) return KernelError(ctx, "indices must be int32 or int64");
  std::vector<int64_t> v(static_cast<size_t>(t.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = t.dtype() == DType::kInt32 ? t.data<int32_t>()[i] : t.data<int64_t>()[i];
    if (v[i] < 0 || v[i] >= limit) {
      return KernelError(ctx, "index " + std::to_string(v[i]) + " is out of range [0, " + std::to_string(limit) + ")");
    }
  }
  return v;
}

Status GatherImpl(KernelContext& ctx, const Tensor& params, const Tensor& indices, int64_t a) {
  ASSIGN_OR_RETURN(int64_t batch_dims, AttrIntOr(ctx.node, "batch_dims", 0));
  if (batch_dims != 0) return KernelError(ctx, "batch_dims != 0 is not supported");
  if (params.rank() == 0) return KernelError(ctx, "params must have rank >= 1");
  ASSIGN_OR_RETURN(int axis, NormalizeAxis(ctx, a, params.rank()));
  const int64_t n = params.dim(axis);
  ASSIGN_OR_RETURN(std::vector<int64_t> idx, CheckedIndices(ctx, indices, n));
  Shape os(params.shape().begin(), params.shape().begin() + axis);
  os.insert(os.end(), indices.shape().begin(), indices.shape().end());
  os.insert(os.end(), params.shape().begin() + axis + 1, params.shape().end());
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, params.dtype(), os));
  const int64_t outer = DimProduct(params.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = DimProduct(params.shape(), static_cast<size_t>(axis) + 1, params.shape().size());
  const auto ni = static_cast<int64_t>(idx.size());
  RETURN_IF_ERROR(VisitStorage(ctx, params.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* p = Elems<T>(params);
    T* o = MutElems<T>(out);
    for (int64_t k = 0; k < outer; ++k) {
      for (int64_t i = 0; i < ni; ++i) {
        const T* src = p + (k * n + idx[static_cast<size_t>(i)]) * inner;
        std::copy(src, src + inner, o + (k * ni + i) * inner);
      }
    }
    return Status::Ok();
  }));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status GatherV2Kernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  ASSIGN_OR_RETURN(int64_t a, IntScalar(ctx, ctx.inputs[2], "axis"));
  return GatherImpl(ctx, ctx.inputs[0], ctx.inputs[1], a);
}

Status GatherKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  return GatherImpl(ctx, ctx.inputs[0], ctx.inputs[1], 0);
}

Status GatherNdKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& params = ctx.inputs[0];
  const Tensor& indices = ctx.inputs[1];
  if (!IsIndexType(indices.dtype())) return KernelError(ctx, "indices must be int32 or int64");
  if (indices.rank() < 1) return KernelError(ctx, "indices must have rank >= 1");
  const int64_t k = indices.dim(indices.rank() - 1);
  if (k > params.rank()) {
    return KernelError(ctx, "index depth " + std::to_string(k) + " exceeds rank of " + ShapeString(params.shape()));
  }
  Shape os(indices.shape().begin(), indices.shape().end() - 1);
  os.insert(os.end(), params.shape().begin() + k, params.shape().end());
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, params.dtype(), os));
  const int64_t slice = DimProduct(params.shape(), static_cast<size_t>(k), params.shape().size());
  const int64_t tuples = DimProduct(indices.shape(), 0, indices.shape().size() - 1);
  const std::vector<int64_t> st = RowMajorStrides(params.shape());
  std::vector<int64_t> offsets(static_cast<size_t>(tuples), 0);
  for (int64_t t = 0; t < tuples && k > 0; ++t) {
    for (int64_t j = 0; j < k; ++j) {
      const int64_t flat = t * k + j;
      const int64_t v = indices.dtype() == DType::kInt32 ? indices.data<int32_t>()[flat] : indices.data<int64_t>()[flat];
      if (v < 0 || v >= params.dim(static_cast<int>(j))) {
        return KernelError(ctx, "index " + std::to_string(v) + " of dim " + std::to_string(j) + " is out of range for " +
                                    ShapeString(params.shape()));
      }
      offsets[static_cast<size_t>(t)] += v * st[static_cast<size_t>(j)];
    }
  }
  if (out.num_elements() > 0) {
    RETURN_IF_ERROR(VisitStorage(ctx, params.dtype(), [&](auto tag) -> Status {
      using T = decltype(tag);
      const T* p = Elems<T>(params);
      T* o = MutElems<T>(out);
      for (int64_t t = 0; t < tuples; ++t) {
        std::copy(p + offsets[static_cast<size_t>(t)], p + offsets[static_cast<size_t>(t)] + slice, o + t * slice);
      }
      return Status::Ok();
    }));
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------------------------
// Cast.

// float -> integer as x86 does it (truncation toward zero; NaN and out-of-range give the lowest value of the
// 32- or 64-bit intermediate), without C++'s UB.
template <typename D, typename S>
D CastValue(S v) {
  if constexpr (std::is_same_v<D, bool>) {
    return v != S{0};
  } else if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) {
    using I = std::conditional_t<sizeof(D) == 8, int64_t, int32_t>;
    constexpr double kLimit = static_cast<double>(std::numeric_limits<I>::max()) + 1.0;  // 2^31 or 2^63
    const double d = static_cast<double>(v);
    const I i = (std::isnan(d) || d >= kLimit || d < -kLimit) ? std::numeric_limits<I>::min() : static_cast<I>(d);
    return static_cast<D>(i);
  } else if constexpr (std::is_same_v<D, float> && std::is_same_v<S, double>) {
    if (v > std::numeric_limits<float>::max()) return std::numeric_limits<float>::infinity();
    if (v < -std::numeric_limits<float>::max()) return -std::numeric_limits<float>::infinity();
    return static_cast<float>(v);
  } else {
    return static_cast<D>(v);
  }
}

Status CastKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(DType dst, AttrType(ctx.node, "DstT"));
  if (dst == x.dtype()) {
    ctx.outputs.push_back(x);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, dst, x.shape()));
  RETURN_IF_ERROR(VisitNumericOrBool(ctx, x.dtype(), [&](auto stag) -> Status {
    using S = decltype(stag);
    return VisitNumericOrBool(ctx, dst, [&](auto dtag) -> Status {
      using D = decltype(dtag);
      const S* __restrict__ p = x.data<S>();
      D* __restrict__ o = out.data<D>();
      ForBlocked(x.num_elements(), [&](int64_t i) { o[i] = CastValue<D, S>(p[i]); });
      return Status::Ok();
    });
  }));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------------------------
// Fill, ZerosLike, OnesLike, Range, Where, OneHot.

Status FillTensor(const KernelContext& ctx, Tensor& out, const Tensor& value) {
  return VisitStorage(ctx, out.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    T* o = MutElems<T>(out);
    std::fill(o, o + out.num_elements(), Elems<T>(value)[0]);
    return Status::Ok();
  });
}

Status FillKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  ASSIGN_OR_RETURN(Shape dims, ShapeInput(ctx, ctx.inputs[0], "dims"));
  const Tensor& value = ctx.inputs[1];
  if (value.num_elements() != 1 || value.rank() != 0) return KernelError(ctx, "value must be a scalar");
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, value.dtype(), dims));
  RETURN_IF_ERROR(FillTensor(ctx, out, value));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status ZerosLikeKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  return Emit(ctx, MakeOutput(ctx, ctx.inputs[0].dtype(), ctx.inputs[0].shape()));
}

Status OnesLikeKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), x.shape()));
  RETURN_IF_ERROR(VisitNumericOrBool(ctx, x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    std::fill(out.data<T>(), out.data<T>() + out.num_elements(), T{1});
    return Status::Ok();
  }));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status RangeKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  const Tensor& s = ctx.inputs[0];
  for (const Tensor& t : ctx.inputs) {
    if (t.dtype() != s.dtype() || t.num_elements() != 1) return KernelError(ctx, "start, limit, delta must be scalars of one dtype");
  }
  return VisitArith(ctx, s.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T start = s.data<T>()[0], limit = ctx.inputs[1].data<T>()[0], delta = ctx.inputs[2].data<T>()[0];
    if (delta == T{0}) return KernelError(ctx, "delta must not be 0");
    if ((delta > T{0} && start > limit) || (delta < T{0} && start < limit)) {
      return KernelError(ctx, "start, limit and delta do not make a range");
    }
    int64_t size = 0;
    if constexpr (std::is_integral_v<T>) {
      const __int128 span = static_cast<__int128>(limit) - start;
      const __int128 d = delta < 0 ? -static_cast<__int128>(delta) : delta;
      const __int128 n = ((span < 0 ? -span : span) + d - 1) / d;
      if (n > kMaxElements) return KernelError(ctx, "range has more than 2^31 elements");
      size = static_cast<int64_t>(n);
    } else {
      const T n = std::ceil(std::abs((limit - start) / delta));  // in T, as TensorFlow computes it
      if (!std::isfinite(n) || static_cast<double>(n) > static_cast<double>(kMaxElements)) {
        return KernelError(ctx, "range has more than 2^31 elements");
      }
      size = static_cast<int64_t>(n);
    }
    ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, s.dtype(), {size}));
    T* o = out.data<T>();
    if constexpr (std::is_integral_v<T>) {
      for (int64_t i = 0; i < size; ++i) o[i] = static_cast<T>(start + static_cast<__int128>(i) * delta);
    } else {
      T v = start;
      for (int64_t i = 0; i < size; ++i, v += delta) o[i] = v;
    }
    ctx.outputs.push_back(std::move(out));
    return Status::Ok();
  });
}

Status WhereKernel(KernelContext& ctx) {
  if (ctx.inputs.size() == 3) return KernelError(ctx, "the three-input form is Select/SelectV2");
  RETURN_IF_ERROR(ExpectInputs(ctx, 1));
  const Tensor& x = ctx.inputs[0];
  return VisitNumericOrBool(ctx, x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* p = x.data<T>();
    int64_t count = 0;
    for (int64_t i = 0; i < x.num_elements(); ++i) count += p[i] != T{0};
    const auto rank = static_cast<int64_t>(x.rank());
    ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, DType::kInt64, {count, rank}));
    int64_t* o = out.data<int64_t>();
    const std::vector<int64_t> st = RowMajorStrides(x.shape());
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      if (p[i] == T{0}) continue;
      int64_t rem = i;
      for (size_t d = 0; d < st.size(); ++d) {
        *o++ = rem / st[d];
        rem %= st[d];
      }
    }
    ctx.outputs.push_back(std::move(out));
    return Status::Ok();
  });
}

Status OneHotKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 4));
  const Tensor& idx = ctx.inputs[0];
  ASSIGN_OR_RETURN(int64_t depth, IntScalar(ctx, ctx.inputs[1], "depth"));
  const Tensor& on = ctx.inputs[2];
  const Tensor& off = ctx.inputs[3];
  if (depth < 0) return KernelError(ctx, "depth must be >= 0");
  if (on.dtype() != off.dtype() || on.num_elements() != 1 || off.num_elements() != 1) {
    return KernelError(ctx, "on_value and off_value must be scalars of one dtype");
  }
  ASSIGN_OR_RETURN(int64_t a, AttrIntOr(ctx.node, "axis", -1));
  if (a < -1 || a > idx.rank()) return KernelError(ctx, "axis " + std::to_string(a) + " is out of range");
  const int axis = a == -1 ? idx.rank() : static_cast<int>(a);
  if (idx.dtype() != DType::kInt32 && idx.dtype() != DType::kInt64 && idx.dtype() != DType::kUint8) {
    return UnsupportedType(ctx, idx.dtype());
  }
  Shape os = idx.shape();
  os.insert(os.begin() + axis, depth);
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, on.dtype(), os));
  const int64_t outer = DimProduct(idx.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = DimProduct(idx.shape(), static_cast<size_t>(axis), idx.shape().size());
  RETURN_IF_ERROR(FillTensor(ctx, out, off));
  RETURN_IF_ERROR(VisitStorage(ctx, on.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    T* o = MutElems<T>(out);
    for (int64_t k = 0; k < outer; ++k) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t flat = k * inner + i;
        const int64_t v = idx.dtype() == DType::kInt32   ? idx.data<int32_t>()[flat]
                          : idx.dtype() == DType::kInt64 ? idx.data<int64_t>()[flat]
                                                         : idx.data<uint8_t>()[flat];
        if (v >= 0 && v < depth) o[(k * depth + v) * inner + i] = Elems<T>(on)[0];
      }
    }
    return Status::Ok();
  }));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------------------------
// Pad, PadV2, MirrorPad, Tile, BroadcastTo.

StatusOr<std::vector<int64_t>> Paddings(const KernelContext& ctx, const Tensor& x, const Tensor& p) {
  if (p.rank() != 2 || p.dim(0) != x.rank() || p.dim(1) != 2) {
    return KernelError(ctx, "paddings must have shape [" + std::to_string(x.rank()) + ",2], got " + ShapeString(p.shape()));
  }
  ASSIGN_OR_RETURN(Tensor pv, p.Reshaped({p.num_elements()}));
  ASSIGN_OR_RETURN(std::vector<int64_t> flat, IntList(ctx, pv, "paddings"));
  for (int64_t v : flat) {
    if (v < 0 || v > kMaxElements) return KernelError(ctx, "paddings must be >= 0, got " + std::to_string(v));
  }
  return flat;
}

Status PadImpl(KernelContext& ctx, const Tensor* constant) {
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, Paddings(ctx, x, ctx.inputs[1]));
  Shape os = x.shape();
  for (size_t d = 0; d < os.size(); ++d) os[d] += pads[2 * d] + pads[2 * d + 1];
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), os));
  if (constant != nullptr) {
    if (constant->dtype() != x.dtype() || constant->num_elements() != 1) {
      return KernelError(ctx, "constant_values must be a scalar of the input's dtype");
    }
    RETURN_IF_ERROR(FillTensor(ctx, out, *constant));
  }
  const std::vector<int64_t> ost = RowMajorStrides(os);
  int64_t base = 0;
  for (size_t d = 0; d < os.size(); ++d) base += pads[2 * d] * ost[d];
  if (x.num_elements() > 0) RETURN_IF_ERROR(CopyView(ctx, x, 0, RowMajorStrides(x.shape()), out, base, ost, x.shape()));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status PadKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  return PadImpl(ctx, nullptr);
}

Status PadV2Kernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  return PadImpl(ctx, &ctx.inputs[2]);
}

// MirrorPad: REFLECT (edge not repeated, pad < dim) or SYMMETRIC (edge repeated, pad <= dim). Each output
// dim maps to an input index; the copy walks those maps.
Status MirrorPadKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(std::string mode, AttrString(ctx.node, "mode"));
  if (mode != "REFLECT" && mode != "SYMMETRIC") return KernelError(ctx, "mode must be REFLECT or SYMMETRIC");
  const int64_t sym = mode == "SYMMETRIC" ? 1 : 0;
  ASSIGN_OR_RETURN(std::vector<int64_t> pads, Paddings(ctx, x, ctx.inputs[1]));
  Shape os = x.shape();
  const std::vector<int64_t> st = RowMajorStrides(x.shape());
  std::vector<std::vector<int64_t>> maps(os.size());
  for (size_t d = 0; d < os.size(); ++d) {
    const int64_t n = x.shape()[d], lo = pads[2 * d], hi = pads[2 * d + 1];
    if (lo > n - 1 + sym || hi > n - 1 + sym) {
      return KernelError(ctx, "paddings too large for " + mode + " on dim of size " + std::to_string(n));
    }
    os[d] = n + lo + hi;
    for (int64_t j = 0; j < os[d]; ++j) {
      int64_t i = j - lo;
      if (i < 0) i = -i - sym;
      if (i >= n) i = 2 * n - i - 2 + sym;
      maps[d].push_back(i * st[d]);
    }
  }
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), os));
  RETURN_IF_ERROR(VisitStorage(ctx, x.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* p = Elems<T>(x);
    T* o = MutElems<T>(out);
    std::vector<int64_t> idx(os.size(), 0);
    for (int64_t k = 0; k < out.num_elements(); ++k) {
      int64_t off = 0;
      for (size_t d = 0; d < os.size(); ++d) off += maps[d][static_cast<size_t>(idx[d])];
      o[k] = p[off];
      for (size_t d = os.size(); d-- > 0;) {
        if (++idx[d] < os[d]) break;
        idx[d] = 0;
      }
    }
    return Status::Ok();
  }));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status TileKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(std::vector<int64_t> mult, IntList(ctx, ctx.inputs[1], "multiples"));
  if (mult.size() != x.shape().size()) return KernelError(ctx, "multiples must have one entry per dim");
  Shape os(mult.size());
  for (size_t d = 0; d < mult.size(); ++d) {
    if (mult[d] < 0) return KernelError(ctx, "multiples must be >= 0");
    if (x.shape()[d] != 0 && mult[d] > kMaxElements / x.shape()[d]) return KernelError(ctx, "tiled shape is too large");
    os[d] = x.shape()[d] * mult[d];
  }
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), os));
  // Output dim d = (repeat, element): 2r dims; the input does not move along the repeat dims.
  const std::vector<int64_t> ist = RowMajorStrides(x.shape()), ost = RowMajorStrides(os);
  std::vector<int64_t> dims, is, ostep;
  for (size_t d = 0; d < os.size(); ++d) {
    dims.insert(dims.end(), {mult[d], x.shape()[d]});
    is.insert(is.end(), {0, ist[d]});
    ostep.insert(ostep.end(), {x.shape()[d] * ost[d], ost[d]});
  }
  if (out.num_elements() > 0) RETURN_IF_ERROR(CopyView(ctx, x, 0, is, out, 0, ostep, dims));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// Input strides for broadcasting `in` to `out` (0 on broadcast dims; `in` right-aligned).
std::vector<int64_t> BroadcastSteps(const Shape& in, const Shape& out) {
  const std::vector<int64_t> st = RowMajorStrides(in);
  std::vector<int64_t> steps(out.size(), 0);
  const size_t pad = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) steps[pad + i] = in[i] == 1 ? 0 : st[i];
  return steps;
}

Status BroadcastToKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const Tensor& x = ctx.inputs[0];
  ASSIGN_OR_RETURN(Shape os, ShapeInput(ctx, ctx.inputs[1], "shape"));
  if (!BroadcastsTo(x.shape(), os)) {
    return KernelError(ctx, "cannot broadcast " + ShapeString(x.shape()) + " to " + ShapeString(os));
  }
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, x.dtype(), os));
  if (out.num_elements() > 0) {
    RETURN_IF_ERROR(CopyView(ctx, x, 0, BroadcastSteps(x.shape(), os), out, 0, RowMajorStrides(os), os));
  }
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------------------------
// Select (TF1: cond same shape, scalar, or a vector over the first dim) and SelectV2 (broadcasting).

Status SelectImpl(KernelContext& ctx, const Tensor& cond) {
  const Tensor& t = ctx.inputs[1];
  const Tensor& e = ctx.inputs[2];
  if (cond.dtype() != DType::kBool) return KernelError(ctx, "condition must be bool");
  if (t.dtype() != e.dtype()) return KernelError(ctx, "then and else dtypes differ");
  auto te = BroadcastShape(t.shape(), e.shape());
  if (!te.ok()) return KernelError(ctx, te.status().message());
  auto os = BroadcastShape(cond.shape(), *te);
  if (!os.ok()) return KernelError(ctx, os.status().message());
  ASSIGN_OR_RETURN(Tensor out, MakeOutput(ctx, t.dtype(), *os));
  const Shape* shapes[] = {&cond.shape(), &t.shape(), &e.shape()};
  const BroadcastPlan plan = PlanBroadcast(shapes, *os);
  RETURN_IF_ERROR(VisitStorage(ctx, t.dtype(), [&](auto tag) -> Status {
    using T = decltype(tag);
    const bool* pc = cond.data<bool>();
    const T* pt = Elems<T>(t);
    const T* pe = Elems<T>(e);
    T* o = MutElems<T>(out);
    const size_t r = plan.dims.size();
    const int64_t sc = r ? plan.strides[0][r - 1] : 0, st = r ? plan.strides[1][r - 1] : 0;
    const int64_t se = r ? plan.strides[2][r - 1] : 0;
    int64_t k = 0;
    ForEachRun<3>(plan, [&](const std::array<int64_t, 3>& off, int64_t n) {
      for (int64_t i = 0; i < n; ++i, ++k) o[k] = pc[off[0] + i * sc] ? pt[off[1] + i * st] : pe[off[2] + i * se];
    });
    return Status::Ok();
  }));
  ctx.outputs.push_back(std::move(out));
  return Status::Ok();
}

Status SelectV2Kernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  return SelectImpl(ctx, ctx.inputs[0]);
}

Status SelectKernel(KernelContext& ctx) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 3));
  const Tensor& c = ctx.inputs[0];
  const Tensor& t = ctx.inputs[1];
  if (t.shape() != ctx.inputs[2].shape()) return KernelError(ctx, "then and else shapes differ");
  if (c.shape() == t.shape() || c.rank() == 0) return SelectImpl(ctx, c);
  if (c.rank() == 1 && t.rank() > 1 && c.dim(0) == t.dim(0)) {
    Shape s(static_cast<size_t>(t.rank()), 1);
    s[0] = c.dim(0);
    ASSIGN_OR_RETURN(Tensor c2, c.Reshaped(s));
    return SelectImpl(ctx, c2);
  }
  return KernelError(ctx, "condition " + ShapeString(c.shape()) + " does not fit " + ShapeString(t.shape()));
}

// ---------------------------------------------------------------------------------------------------------------
// BroadcastArgs, BroadcastGradientArgs.

Status BroadcastArgsImpl(KernelContext& ctx, bool gradient) {
  RETURN_IF_ERROR(ExpectInputs(ctx, 2));
  const DType t = ctx.inputs[0].dtype();
  if (ctx.inputs[1].dtype() != t) return KernelError(ctx, "shape dtypes differ");
  ASSIGN_OR_RETURN(Shape s0, ShapeInput(ctx, ctx.inputs[0], "s0"));
  ASSIGN_OR_RETURN(Shape s1, ShapeInput(ctx, ctx.inputs[1], "s1"));
  auto out = BroadcastShape(s0, s1);
  if (!out.ok()) return KernelError(ctx, out.status().message());
  if (!gradient) return EmitInts(ctx, t, *out, false);
  // The dims each operand was broadcast along (where its right-aligned dim is 1 or absent); equal shapes
  // reduce nothing (TensorFlow's BCast fast path leaves both lists empty).
  for (const Shape* s : {&s0, &s1}) {
    std::vector<int64_t> r;
    if (s0 == s1) {
      RETURN_IF_ERROR(EmitInts(ctx, t, r, false));
      continue;
    }
    const size_t pad = out->size() - s->size();
    for (size_t i = 0; i < out->size(); ++i) {
      if (i < pad || (*s)[i - pad] == 1) r.push_back(static_cast<int64_t>(i));
    }
    RETURN_IF_ERROR(EmitInts(ctx, t, r, false));
  }
  return Status::Ok();
}

Status BroadcastArgsKernel(KernelContext& ctx) { return BroadcastArgsImpl(ctx, false); }
Status BroadcastGradientArgsKernel(KernelContext& ctx) { return BroadcastArgsImpl(ctx, true); }

}  // namespace

void RegisterArrayKernels(KernelRegistry& r) {
  auto reg = [&r](const char* op, KernelFn fn) { r.Register(op, KernelDef{fn, false}); };
  reg("Identity", &IdentityKernel);
  reg("StopGradient", &IdentityKernel);
  reg("PreventGradient", &IdentityKernel);
  reg("Snapshot", &IdentityKernel);
  reg("IdentityN", &IdentityNKernel);
  reg("EnsureShape", &EnsureShapeKernel);
  reg("Shape", &ShapeKernel);
  reg("ShapeN", &ShapeNKernel);
  reg("Size", &SizeKernel);
  reg("Rank", &RankKernel);
  reg("Reshape", &ReshapeKernel);
  reg("Squeeze", &SqueezeKernel);
  reg("ExpandDims", &ExpandDimsKernel);
  reg("Transpose", &TransposeKernel);
  reg("ConjugateTranspose", &TransposeKernel);
  reg("Reverse", &ReverseKernel);
  reg("ReverseV2", &ReverseV2Kernel);
  reg("Slice", &SliceKernel);
  reg("StridedSlice", &StridedSliceKernel);
  reg("ConcatV2", &ConcatV2Kernel);
  reg("Concat", &ConcatKernel);
  reg("Pack", &PackKernel);
  reg("Unpack", &UnpackKernel);
  reg("Split", &SplitKernel);
  reg("SplitV", &SplitVKernel);
  reg("GatherV2", &GatherV2Kernel);
  reg("Gather", &GatherKernel);
  reg("GatherNd", &GatherNdKernel);
  reg("Cast", &CastKernel);
  reg("Fill", &FillKernel);
  reg("ZerosLike", &ZerosLikeKernel);
  reg("OnesLike", &OnesLikeKernel);
  reg("Range", &RangeKernel);
  reg("Where", &WhereKernel);
  reg("OneHot", &OneHotKernel);
  reg("Pad", &PadKernel);
  reg("PadV2", &PadV2Kernel);
  reg("MirrorPad", &MirrorPadKernel);
  reg("Tile", &TileKernel);
  reg("BroadcastTo", &BroadcastToKernel);
  reg("Select", &SelectKernel);
  reg("SelectV2", &SelectV2Kernel);
  reg("BroadcastArgs", &BroadcastArgsKernel);
  reg("BroadcastGradientArgs", &BroadcastGradientArgsKernel);
}

}  // namespace inferd::tf
