// tensor/tensor.h: a named, typed, shaped tensor whose bytes are either owned or a view.
//
// Contract:
// - Contents are row-major, little-endian. Fixed-size types hold element_count * DataTypeSize bytes.
//   BYTES tensors hold the binary-extension serialization: for each element a little-endian uint32
//   length followed by that many bytes. This one representation serves JSON, the binary extension and
//   gRPC, so binary request bodies and raw gRPC contents are used without copying.
// - A view (SetView) does not own its bytes: the owner of the request buffer must outlive the tensor.
//   Tensors are values; they are not synchronized (one thread at a time, like std::string).
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "tensor/datatype.h"

namespace inferd {

// A V2 parameter value: JSON bool, integer, floating point or string (gRPC InferParameter oneof).
using ParameterValue = std::variant<bool, int64_t, double, std::string>;
using Parameters = std::map<std::string, ParameterValue, std::less<>>;

// Returns the parameter as bool when present and boolean; `fallback` otherwise.
bool GetBoolParameter(const Parameters& p, std::string_view key, bool fallback);

class Tensor {
 public:
  Tensor() = default;
  Tensor(std::string name, DataType dtype, Shape shape)
      : name_(std::move(name)), dtype_(dtype), shape_(std::move(shape)) {}

  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  DataType dtype() const { return dtype_; }
  void set_dtype(DataType t) { dtype_ = t; }
  const Shape& shape() const { return shape_; }
  Shape& mutable_shape() { return shape_; }
  void set_shape(Shape s) { shape_ = std::move(s); }
  Parameters& parameters() { return parameters_; }
  const Parameters& parameters() const { return parameters_; }

  // Number of elements implied by the shape (shape must have been validated).
  int64_t element_count() const;

  // The raw contents (see the contract above).
  std::string_view bytes() const { return is_view_ ? view_ : std::string_view(owned_); }
  const char* raw() const { return bytes().data(); }
  size_t byte_size() const { return bytes().size(); }

  // Point at bytes owned elsewhere.
  void SetView(std::string_view v) {
    is_view_ = true;
    view_ = v;
    owned_.clear();
  }
  // Take ownership of `b`.
  void SetOwned(std::string b) {
    is_view_ = false;
    owned_ = std::move(b);
    view_ = {};
  }
  // Owned, writable storage of `n` bytes (zeroed when growing).
  char* Allocate(size_t n) {
    SetOwned(std::string(n, '\0'));
    return owned_.data();
  }
  // Copies a view into owned storage (also fixes alignment for typed access).
  void MakeOwned() {
    if (is_view_) SetOwned(std::string(view_));
  }
  bool aligned_for_type() const {
    size_t a = DataTypeSize(dtype_);
    return a <= 1 || reinterpret_cast<uintptr_t>(raw()) % a == 0;
  }

  // Typed pointer for fixed-size types; the caller checks dtype and alignment (MakeOwned fixes it).
  template <typename T>
  const T* data() const { return reinterpret_cast<const T*>(raw()); }
  template <typename T>
  T* mutable_data() {
    MakeOwned();
    return reinterpret_cast<T*>(owned_.data());
  }

  // Checks that the byte size agrees with shape and dtype (for BYTES: that the length-prefixed elements
  // exactly fill the buffer and their number equals the shape's). `field` names the tensor in errors.
  Status Validate(std::string_view field) const;

 private:
  std::string name_;
  DataType dtype_ = DataType::kInvalid;
  Shape shape_;
  Parameters parameters_;
  bool is_view_ = false;
  std::string owned_;
  std::string_view view_;
};

// Iterates the elements of a BYTES tensor's serialization. Returns false when malformed.
template <typename F>
bool ForEachBytesElement(std::string_view buf, F&& f) {
  size_t pos = 0;
  while (pos < buf.size()) {
    if (buf.size() - pos < 4) return false;
    uint32_t len;
    std::memcpy(&len, buf.data() + pos, 4);
    pos += 4;
    if (buf.size() - pos < len) return false;
    f(buf.substr(pos, len));
    pos += len;
  }
  return true;
}

// Appends one BYTES element in the serialized form.
inline void AppendBytesElement(std::string* out, std::string_view v) {
  uint32_t len = static_cast<uint32_t>(v.size());
  out->append(reinterpret_cast<const char*>(&len), 4);
  out->append(v);
}

// Converts a numeric tensor to another numeric datatype (FP16/BF16 included). Values are converted as
// static_cast does (floats to ints truncate). Returns InvalidArgument for non-numeric types.
StatusOr<Tensor> ConvertTensor(const Tensor& in, DataType to);

// IEEE half / bfloat16 helpers (round to nearest even).
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
float Bf16ToFloat(uint16_t b);
uint16_t FloatToBf16(float f);

}  // namespace inferd
