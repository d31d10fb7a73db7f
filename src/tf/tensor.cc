#include "tf/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace inferd::tf {
namespace {

struct DTypeRow {
  DType t;
  std::string_view name;
  size_t size;
};

constexpr DTypeRow kRows[] = {
    {DType::kFloat, "DT_FLOAT", 4},       {DType::kDouble, "DT_DOUBLE", 8},   {DType::kInt32, "DT_INT32", 4},
    {DType::kUint8, "DT_UINT8", 1},       {DType::kInt16, "DT_INT16", 2},     {DType::kInt8, "DT_INT8", 1},
    {DType::kString, "DT_STRING", 0},     {DType::kComplex64, "DT_COMPLEX64", 8},
    {DType::kInt64, "DT_INT64", 8},       {DType::kBool, "DT_BOOL", 1},       {DType::kQint8, "DT_QINT8", 1},
    {DType::kQuint8, "DT_QUINT8", 1},     {DType::kQint32, "DT_QINT32", 4},   {DType::kBfloat16, "DT_BFLOAT16", 2},
    {DType::kQint16, "DT_QINT16", 2},     {DType::kQuint16, "DT_QUINT16", 2}, {DType::kUint16, "DT_UINT16", 2},
    {DType::kComplex128, "DT_COMPLEX128", 16}, {DType::kHalf, "DT_HALF", 2},  {DType::kResource, "DT_RESOURCE", 0},
    {DType::kVariant, "DT_VARIANT", 0},   {DType::kUint32, "DT_UINT32", 4},   {DType::kUint64, "DT_UINT64", 8},
};

const DTypeRow* Row(DType t) {
  for (const auto& r : kRows) {
    if (r.t == t) return &r;
  }
  return nullptr;
}

std::shared_ptr<char[]> AlignedZeroed(size_t n) {
  // 64-byte alignment for SIMD kernels; at least one byte so a scalar of size 0 still has an address.
  size_t rounded = ((n == 0 ? 1 : n) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p == nullptr) return nullptr;
  std::memset(p, 0, rounded);
  return std::shared_ptr<char[]>(static_cast<char*>(p), [](char* q) { std::free(q); });
}

}  // namespace

DType DTypeFromProto(int64_t v) {
  if (v > 100) v -= 100;  // reference types (DT_FLOAT_REF = 101...)
  if (v <= 0 || v > 23) return DType::kInvalid;
  return static_cast<DType>(v);
}

std::string_view DTypeName(DType t) {
  const DTypeRow* r = Row(t);
  return r ? r->name : std::string_view("DT_INVALID");
}

DType DTypeFromName(std::string_view name) {
  for (const auto& r : kRows) {
    if (r.name == name) return r.t;
  }
  return DType::kInvalid;
}

size_t DTypeSize(DType t) {
  const DTypeRow* r = Row(t);
  return r ? r->size : 0;
}

std::string ShapeString(std::span<const int64_t> s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(s[i]);
  }
  return out + "]";
}

StatusOr<int64_t> NumElements(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return InvalidArgument("shape " + ShapeString(shape) + " has a negative or unknown dimension");
    if (d != 0 && n > kMaxElements / d) {
      return InvalidArgument("shape " + ShapeString(shape) + " has more than 2^31 elements");
    }
    n *= d;
  }
  return n;
}

StatusOr<Tensor> Tensor::Make(DType dtype, Shape shape) {
  auto n = NumElements(shape);
  if (!n.ok()) return n.status();
  Tensor t;
  if (dtype == DType::kString || dtype == DType::kResource) {
    t.strings_ = std::make_shared<std::vector<std::string>>(static_cast<size_t>(*n));
  } else {
    size_t size = DTypeSize(dtype);
    if (size == 0) return InvalidArgument("cannot make a tensor of type " + std::string(DTypeName(dtype)));
    t.buffer_ = AlignedZeroed(static_cast<size_t>(*n) * size);
    if (!t.buffer_) return InvalidArgument("out of memory for a tensor of shape " + ShapeString(shape));
  }
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.num_elements_ = *n;
  return t;
}

Tensor Tensor::MakeObject(DType dtype, std::shared_ptr<Object> obj) {
  Tensor t;
  t.dtype_ = dtype;
  t.num_elements_ = 1;
  // A resource also answers strings()[0] (an empty name) for code that reads resource names.
  t.strings_ = std::make_shared<std::vector<std::string>>(1);
  t.object_ = std::move(obj);
  return t;
}

StatusOr<Tensor> Tensor::Reshaped(Shape shape) const {
  auto n = NumElements(shape);
  if (!n.ok()) return n.status();
  if (*n != num_elements_) {
    return InvalidArgument("cannot reshape " + ShapeString(shape_) + " (" + std::to_string(num_elements_) +
                           " elements) to " + ShapeString(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

bool Tensor::SharesBufferWith(const Tensor& o) const {
  if (buffer_) return buffer_ == o.buffer_;
  if (object_) return object_ == o.object_;
  return strings_ && strings_ == o.strings_;
}

}  // namespace inferd::tf
