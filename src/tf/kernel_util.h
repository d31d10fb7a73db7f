// tf/kernel_util.h: small helpers shared by the kernels (tf/kernel.h): dtype dispatch, reading shape/axis
// inputs, axis normalisation and output allocation, each returning KernelError naming the node.
//
// Contract:
// - Visit*(dtype, f) call f with a value-initialised element of the C++ type of `dtype` (a tag: use
//   decltype) and return its Status; for a dtype outside the visitor's set they return KernelError naming the
//   dtype. Dispatch happens once per kernel call, never per element.
// - VisitStorage dispatches on element *storage* (size) only, for kernels that move elements without
//   interpreting them (Concat, Gather, Transpose...): any fixed-size dtype and DT_STRING/DT_RESOURCE
//   (std::string) are covered.
// - Stateless, header-only, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tf/kernel.h"

namespace inferd::tf {

// Storage types for VisitStorage: elements are moved as opaque bytes of this size.
struct Bytes16 {
  uint64_t lo, hi;
};

template <typename T>
const T* Elems(const Tensor& t) {
  if constexpr (std::is_same_v<T, std::string>) {
    return t.strings().data();
  } else {
    return t.data<T>();
  }
}
template <typename T>
T* MutElems(Tensor& t) {
  if constexpr (std::is_same_v<T, std::string>) {
    return t.strings().data();
  } else {
    return t.data<T>();
  }
}

inline Status UnsupportedType(const KernelContext& ctx, DType t) {
  return KernelError(ctx, "unsupported dtype " + std::string(DTypeName(t)));
}

// Any element: by storage size (strings as std::string).
template <typename F>
Status VisitStorage(const KernelContext& ctx, DType t, F&& f) {
  if (t == DType::kString || t == DType::kResource) return f(std::string{});
  switch (DTypeSize(t)) {
    case 1: return f(uint8_t{});
    case 2: return f(uint16_t{});
    case 4: return f(uint32_t{});
    case 8: return f(uint64_t{});
    case 16: return f(Bytes16{});
    default: return UnsupportedType(ctx, t);
  }
}

// Numbers that arithmetic is defined for: float, double, int32, int64.
template <typename F>
Status VisitArith(const KernelContext& ctx, DType t, F&& f) {
  switch (t) {
    case DType::kFloat: return f(float{});
    case DType::kDouble: return f(double{});
    case DType::kInt32: return f(int32_t{});
    case DType::kInt64: return f(int64_t{});
    default: return UnsupportedType(ctx, t);
  }
}

// VisitArith plus uint8, int8, int16, uint16 (comparisons, Cast, ArgMax, Where...).
template <typename F>
Status VisitNumeric(const KernelContext& ctx, DType t, F&& f) {
  switch (t) {
    case DType::kUint8: return f(uint8_t{});
    case DType::kInt8: return f(int8_t{});
    case DType::kInt16: return f(int16_t{});
    case DType::kUint16: return f(uint16_t{});
    default: return VisitArith(ctx, t, f);
  }
}

// VisitNumeric plus bool.
template <typename F>
Status VisitNumericOrBool(const KernelContext& ctx, DType t, F&& f) {
  if (t == DType::kBool) return f(bool{});
  return VisitNumeric(ctx, t, f);
}

// Floating point only.
template <typename F>
Status VisitReal(const KernelContext& ctx, DType t, F&& f) {
  switch (t) {
    case DType::kFloat: return f(float{});
    case DType::kDouble: return f(double{});
    default: return UnsupportedType(ctx, t);
  }
}

// The DType of a C++ element type (the numeric types the visitors above produce).
template <typename T>
constexpr DType DTypeOf() {
  if constexpr (std::is_same_v<T, float>) return DType::kFloat;
  else if constexpr (std::is_same_v<T, double>) return DType::kDouble;
  else if constexpr (std::is_same_v<T, int32_t>) return DType::kInt32;
  else if constexpr (std::is_same_v<T, int64_t>) return DType::kInt64;
  else if constexpr (std::is_same_v<T, uint8_t>) return DType::kUint8;
  else if constexpr (std::is_same_v<T, int8_t>) return DType::kInt8;
  else if constexpr (std::is_same_v<T, int16_t>) return DType::kInt16;
  else if constexpr (std::is_same_v<T, uint16_t>) return DType::kUint16;
  else if constexpr (std::is_same_v<T, bool>) return DType::kBool;
  else if constexpr (std::is_same_v<T, std::string>) return DType::kString;
  else return DType::kInvalid;
}

template <typename T>
constexpr bool kIsStorage = std::is_same_v<T, std::string> || std::is_same_v<T, Bytes16>;

// A new output tensor, with the node named in the error (too many elements, negative dimension).
inline StatusOr<Tensor> MakeOutput(const KernelContext& ctx, DType t, Shape shape) {
  auto r = Tensor::Make(t, std::move(shape));
  if (!r.ok()) return KernelError(ctx, r.status().message());
  return r;
}
// The same through Tensor::Uninitialized: only for outputs the kernel writes in full.
inline StatusOr<Tensor> MakeUninitializedOutput(const KernelContext& ctx, DType t, Shape shape) {
  auto r = Tensor::Uninitialized(t, std::move(shape));
  if (!r.ok()) return KernelError(ctx, r.status().message());
  return r;
}

inline bool IsIndexType(DType t) { return t == DType::kInt32 || t == DType::kInt64; }

// The values of an int32/int64 tensor of rank <= 1 (shapes, axes, multiples, begin/end...).
inline StatusOr<std::vector<int64_t>> IntList(const KernelContext& ctx, const Tensor& t, std::string_view what) {
  if (!IsIndexType(t.dtype())) {
    return KernelError(ctx, std::string(what) + " must be int32 or int64, got " + std::string(DTypeName(t.dtype())));
  }
  if (t.rank() > 1) return KernelError(ctx, std::string(what) + " must be a vector, got shape " + ShapeString(t.shape()));
  std::vector<int64_t> v(static_cast<size_t>(t.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = t.dtype() == DType::kInt32 ? t.data<int32_t>()[i] : t.data<int64_t>()[i];
  }
  return v;
}

// One int32/int64 value (a scalar or a one-element vector).
inline StatusOr<int64_t> IntScalar(const KernelContext& ctx, const Tensor& t, std::string_view what) {
  auto v = IntList(ctx, t, what);
  if (!v.ok()) return v.status();
  if (v->size() != 1) return KernelError(ctx, std::string(what) + " must be a scalar, got shape " + ShapeString(t.shape()));
  return (*v)[0];
}

// An axis in [-rank, rank) as a value in [0, rank).
inline StatusOr<int> NormalizeAxis(const KernelContext& ctx, int64_t axis, int rank, std::string_view what = "axis") {
  if (axis < -static_cast<int64_t>(rank) || axis >= rank) {
    return KernelError(ctx, std::string(what) + " " + std::to_string(axis) + " is out of range for rank " +
                                std::to_string(rank));
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// Row-major strides (in elements) of a shape.
inline std::vector<int64_t> RowMajorStrides(const Shape& s) {
  std::vector<int64_t> st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

// Product of dims [from, to).
inline int64_t DimProduct(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to && i < s.size(); ++i) p *= s[i];
  return p;
}

}  // namespace inferd::tf
