#include "tf/tensor.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <vector>

#include "core/mutex.h"

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

// Freed buffers of kPoolMinBytes and more are kept for the next tensor of their size class instead of going
// back to malloc: glibc serves such sizes with fresh mmaps (or trims them off the heap top) each time, so a
// graph run would otherwise page-fault its way through every intermediate tensor (measured: a third of the
// executor's time on facemesh_detection_short at batch 32, bench/tf_vs_onnx_bench). Classes are sizes rounded
// up to an eighth of their power of two (at most 12.5% slack); at most kPoolMaxBytes are held in all, beyond
// which a freed buffer goes back to malloc.
constexpr size_t kPoolMinBytes = size_t{64} << 10;
constexpr size_t kPoolMaxBytes = size_t{256} << 20;

size_t RoundedSize(size_t n) {
  size_t r = ((n == 0 ? 1 : n) + 63) / 64 * 64;  // at least one byte, so a scalar of size 0 has an address
  if (r < kPoolMinBytes) return r;
  size_t step = (size_t{1} << (63 - __builtin_clzll(r))) / 8;
  return (r + step - 1) / step * step;
}

class BufferPool {
 public:
  char* Take(size_t size) {
    MutexLock lock(mu_);
    auto it = free_.find(size);
    if (it == free_.end() || it->second.empty()) return nullptr;
    char* p = it->second.back();
    it->second.pop_back();
    held_ -= size;
    return p;
  }
  // Keeps p; when that would pass kPoolMaxBytes, buffers of other classes (largest first) are freed to make
  // room, so the cache follows the sizes in use now (batch 1 after batch 32) instead of keeping old ones.
  void Give(char* p, size_t size) {
    std::vector<char*> evicted;
    {
      MutexLock lock(mu_);
      for (auto it = free_.rbegin(); held_ + size > kPoolMaxBytes && it != free_.rend(); ++it) {
        while (it->first != size && !it->second.empty() && held_ + size > kPoolMaxBytes) {
          evicted.push_back(it->second.back());
          it->second.pop_back();
          held_ -= it->first;
        }
      }
      if (held_ + size <= kPoolMaxBytes) {
        free_[size].push_back(p);
        held_ += size;
        p = nullptr;
      }
    }
    for (char* q : evicted) std::free(q);
    std::free(p);
  }

 private:
  Mutex mu_;
  std::map<size_t, std::vector<char*>> free_ GUARDED_BY(mu_);
  size_t held_ GUARDED_BY(mu_) = 0;
};

BufferPool& Pool() {
  static BufferPool* pool = new BufferPool();  // never destroyed: tensors may outlive static destructors
  return *pool;
}

// A 64-byte-aligned buffer of at least n bytes (SIMD kernels), zero-filled when `zero`.
std::shared_ptr<char[]> AlignedBuffer(size_t n, bool zero) {
  const size_t size = RoundedSize(n);
  char* p = size >= kPoolMinBytes ? Pool().Take(size) : nullptr;
  if (p == nullptr) p = static_cast<char*>(std::aligned_alloc(64, size));
  if (p == nullptr) return nullptr;
  if (zero) std::memset(p, 0, size);
  if (size < kPoolMinBytes) return std::shared_ptr<char[]>(p, [](char* q) { std::free(q); });
  return std::shared_ptr<char[]>(p, [size](char* q) { Pool().Give(q, size); });
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

StatusOr<Tensor> Tensor::Allocate(DType dtype, Shape shape, bool zero) {
  auto n = NumElements(shape);
  if (!n.ok()) return n.status();
  Tensor t;
  if (dtype == DType::kString || dtype == DType::kResource) {
    t.strings_ = std::make_shared<std::vector<std::string>>(static_cast<size_t>(*n));
  } else {
    size_t size = DTypeSize(dtype);
    if (size == 0) return InvalidArgument("cannot make a tensor of type " + std::string(DTypeName(dtype)));
    t.buffer_ = AlignedBuffer(static_cast<size_t>(*n) * size, zero);
    if (!t.buffer_) return InvalidArgument("out of memory for a tensor of shape " + ShapeString(shape));
  }
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.num_elements_ = *n;
  return t;
}

StatusOr<Tensor> Tensor::Make(DType dtype, Shape shape) { return Allocate(dtype, std::move(shape), true); }

StatusOr<Tensor> Tensor::Uninitialized(DType dtype, Shape shape) { return Allocate(dtype, std::move(shape), false); }

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
