// tf/tensor.h: the value type of inferd's TensorFlow graph executor (SavedModels and TF.js graph models).
//
// Contract:
// - DType uses TensorFlow's own DataType numbers (types.proto), so a GraphDef's `type` attrs and a
//   BundleEntryProto's dtype convert with a range check only. Reference types (DT_FLOAT_REF = 101...) are
//   folded onto their base type by BaseType().
// - A Tensor is a dtype, a shape and a shared, 64-byte-aligned buffer (or, for DT_STRING, a shared vector of
//   byte strings). Copying a Tensor shares the buffer: kernels treat their inputs as immutable and always write
//   into tensors they allocated themselves. Only the executor's variable store replaces a variable's value,
//   and it does so by swapping in a new Tensor, never by writing into a buffer another Tensor may share.
// - Buffers of 64 KiB and more come from a process-wide cache of freed buffers (size classes, at most 256 MiB
//   held, thread-safe; tensor.cc): a graph run allocates the same intermediates on every call, and fresh
//   large allocations cost a page fault per 4 KiB.
// - Make() checks the element count (at most kMaxElements, no negative dimension, no overflow) and returns an
//   error rather than allocating an absurd buffer: shapes come from model files and requests.
// - DT_RESOURCE tensors carry a resource name in strings()[0] (the variable store's key).
// - A scalar DT_VARIANT or DT_RESOURCE tensor may instead carry an Object (MakeObject): a TensorList value
//   (immutable once made) or a TensorArray (mutable, private to the run that created it). The kernels that
//   make an object are the only ones that interpret it (tf/kernels_list.cc).
// - Not thread-safe for writes; concurrent reads of one Tensor are fine.
#pragma once

#include <complex>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace inferd::tf {

enum class DType : int32_t {
  kInvalid = 0,
  kFloat = 1,
  kDouble = 2,
  kInt32 = 3,
  kUint8 = 4,
  kInt16 = 5,
  kInt8 = 6,
  kString = 7,
  kComplex64 = 8,
  kInt64 = 9,
  kBool = 10,
  kQint8 = 11,
  kQuint8 = 12,
  kQint32 = 13,
  kBfloat16 = 14,
  kQint16 = 15,
  kQuint16 = 16,
  kUint16 = 17,
  kComplex128 = 18,
  kHalf = 19,
  kResource = 20,
  kVariant = 21,
  kUint32 = 22,
  kUint64 = 23,
};

// From TensorFlow's number (reference types 101.. folded to their base); kInvalid when unknown.
DType DTypeFromProto(int64_t v);
// "DT_FLOAT"..., as TensorFlow spells them (attr values in TF.js JSON, error messages).
std::string_view DTypeName(DType t);
DType DTypeFromName(std::string_view name);
// Bytes per element; 0 for kString, kResource, kVariant and kInvalid.
size_t DTypeSize(DType t);

// One dimension may be -1 (unknown) in a declared shape; a Tensor's shape never has one.
using Shape = std::vector<int64_t>;
std::string ShapeString(std::span<const int64_t> s);  // "[2,3]"

constexpr int64_t kMaxElements = int64_t{1} << 31;

class Tensor {
 public:
  Tensor() = default;

  // A zero-filled tensor (empty strings for kString). Fails on an unknown or sizeless dtype (other than
  // kString/kResource), a negative dimension, or more than kMaxElements elements.
  static StatusOr<Tensor> Make(DType dtype, Shape shape);
  // The same checks, but the elements of a fixed-size dtype are left unset: for kernels that write every
  // element of their output before anything reads it (kString/kResource are still empty strings).
  static StatusOr<Tensor> Uninitialized(DType dtype, Shape shape);
  // A scalar.
  template <typename T>
  static Tensor Scalar(DType dtype, T v) {
    Tensor t = *Make(dtype, {});
    *t.data<T>() = v;
    return t;
  }

  // The base of values carried by DT_VARIANT / DT_RESOURCE scalars (see the contract).
  struct Object {
    virtual ~Object() = default;
  };
  // A scalar of `dtype` (kVariant or kResource) holding `obj`.
  static Tensor MakeObject(DType dtype, std::shared_ptr<Object> obj);
  // The carried object, or null.
  const std::shared_ptr<Object>& object() const { return object_; }

  bool valid() const { return dtype_ != DType::kInvalid; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t num_elements() const { return num_elements_; }
  size_t byte_size() const { return static_cast<size_t>(num_elements_) * DTypeSize(dtype_); }

  // Typed access; the caller has checked dtype(). Valid for fixed-size dtypes.
  template <typename T>
  T* data() { return reinterpret_cast<T*>(buffer_.get()); }
  template <typename T>
  const T* data() const { return reinterpret_cast<const T*>(buffer_.get()); }
  char* raw() { return buffer_.get(); }
  const char* raw() const { return buffer_.get(); }

  // kString and kResource: one entry per element.
  std::vector<std::string>& strings() { return *strings_; }
  const std::vector<std::string>& strings() const { return *strings_; }

  // The same buffer seen with another shape of the same element count (Reshape, Squeeze, ExpandDims...).
  StatusOr<Tensor> Reshaped(Shape shape) const;
  // True when both tensors share one buffer.
  bool SharesBufferWith(const Tensor& o) const;

 private:
  static StatusOr<Tensor> Allocate(DType dtype, Shape shape, bool zero);

  DType dtype_ = DType::kInvalid;
  Shape shape_;
  int64_t num_elements_ = 0;
  std::shared_ptr<char[]> buffer_;                    // 64-byte aligned; null for kString/kResource
  std::shared_ptr<std::vector<std::string>> strings_;  // kString/kResource only
  std::shared_ptr<Object> object_;                     // MakeObject only
};

// Element count of a fully known shape, with the same checks as Tensor::Make.
StatusOr<int64_t> NumElements(std::span<const int64_t> shape);

}  // namespace inferd::tf
