#include "tensor/tensor.h"

#include <cmath>
#include <limits>

namespace inferd {

bool GetBoolParameter(const Parameters& p, std::string_view key, bool fallback) {
  auto it = p.find(key);
  if (it == p.end()) return fallback;
  if (const bool* b = std::get_if<bool>(&it->second)) return *b;
  return fallback;
}

int64_t Tensor::element_count() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

Status Tensor::Validate(std::string_view field) const {
  ASSIGN_OR_RETURN(int64_t n, ElementCount(shape_, std::string(field) + ".shape"));
  if (dtype_ == DataType::kBytes) {
    int64_t count = 0;
    if (!ForEachBytesElement(bytes(), [&](std::string_view) { ++count; })) {
      return InvalidArgument(std::string(field) +
                             ": BYTES contents are truncated (each element needs a 4-byte length prefix "
                             "followed by that many bytes)");
    }
    if (count != n) {
      return InvalidArgument(std::string(field) + ": shape " + ShapeToString(shape_) + " needs " +
                             std::to_string(n) + " BYTES elements but " + std::to_string(count) +
                             " were given");
    }
    return Status::Ok();
  }
  size_t want = static_cast<size_t>(n) * DataTypeSize(dtype_);
  if (byte_size() != want) {
    return InvalidArgument(std::string(field) + ": shape " + ShapeToString(shape_) + " with datatype " +
                           std::string(DataTypeName(dtype_)) + " needs " + std::to_string(want) +
                           " bytes but " + std::to_string(byte_size()) + " were given");
  }
  return Status::Ok();
}

float HalfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      mant &= 0x3ff;
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0));
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (absx < 0x38800000u) {                                             // subnormal or zero
    float a;
    std::memcpy(&a, &absx, 4);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(a * 16777216.0f)));
  }
  uint32_t mant_odd = (absx >> 13) & 1u;
  absx += 0xc8000fffu + mant_odd;  // rebias exponent and round to nearest even
  return static_cast<uint16_t>(sign | (absx >> 13));
}

float Bf16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t FloatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

namespace {

template <typename T>
double LoadAsDouble(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return static_cast<double>(v);
}

double LoadElement(DataType t, const char* p) {
  switch (t) {
    case DataType::kBool: return *p ? 1.0 : 0.0;
    case DataType::kUint8: return LoadAsDouble<uint8_t>(p);
    case DataType::kUint16: return LoadAsDouble<uint16_t>(p);
    case DataType::kUint32: return LoadAsDouble<uint32_t>(p);
    case DataType::kUint64: return LoadAsDouble<uint64_t>(p);
    case DataType::kInt8: return LoadAsDouble<int8_t>(p);
    case DataType::kInt16: return LoadAsDouble<int16_t>(p);
    case DataType::kInt32: return LoadAsDouble<int32_t>(p);
    case DataType::kInt64: return LoadAsDouble<int64_t>(p);
    case DataType::kFp32: return LoadAsDouble<float>(p);
    case DataType::kFp64: return LoadAsDouble<double>(p);
    case DataType::kFp16: { uint16_t h; std::memcpy(&h, p, 2); return HalfToFloat(h); }
    case DataType::kBf16: { uint16_t h; std::memcpy(&h, p, 2); return Bf16ToFloat(h); }
    default: return 0;
  }
}

template <typename T>
void StoreAs(double v, char* p) {
  T x = static_cast<T>(v);
  std::memcpy(p, &x, sizeof(T));
}

// Float-to-int conversion of a value outside the target range is undefined in C++; clamp first.
template <typename T>
void StoreIntClamped(double v, char* p) {
  if (std::isnan(v)) v = 0;
  double lo = static_cast<double>(std::numeric_limits<T>::min());
  double hi = static_cast<double>(std::numeric_limits<T>::max());
  if (v < lo) v = lo;
  if (v >= hi) { T x = std::numeric_limits<T>::max(); std::memcpy(p, &x, sizeof(T)); return; }
  StoreAs<T>(v, p);
}

void StoreElement(DataType t, double v, char* p) {
  switch (t) {
    case DataType::kBool: *p = v != 0 ? 1 : 0; break;
    case DataType::kUint8: StoreIntClamped<uint8_t>(v, p); break;
    case DataType::kUint16: StoreIntClamped<uint16_t>(v, p); break;
    case DataType::kUint32: StoreIntClamped<uint32_t>(v, p); break;
    case DataType::kUint64: StoreIntClamped<uint64_t>(v, p); break;
    case DataType::kInt8: StoreIntClamped<int8_t>(v, p); break;
    case DataType::kInt16: StoreIntClamped<int16_t>(v, p); break;
    case DataType::kInt32: StoreIntClamped<int32_t>(v, p); break;
    case DataType::kInt64: StoreIntClamped<int64_t>(v, p); break;
    case DataType::kFp32: StoreAs<float>(v, p); break;
    case DataType::kFp64: StoreAs<double>(v, p); break;
    case DataType::kFp16: { uint16_t h = FloatToHalf(static_cast<float>(v)); std::memcpy(p, &h, 2); break; }
    case DataType::kBf16: { uint16_t h = FloatToBf16(static_cast<float>(v)); std::memcpy(p, &h, 2); break; }
    default: break;
  }
}

}  // namespace

StatusOr<Tensor> ConvertTensor(const Tensor& in, DataType to) {
  bool from_ok = IsNumeric(in.dtype()) || in.dtype() == DataType::kBool;
  bool to_ok = IsNumeric(to) || to == DataType::kBool;
  if (!from_ok || !to_ok) {
    return InvalidArgument("cannot convert datatype " + std::string(DataTypeName(in.dtype())) + " to " +
                           std::string(DataTypeName(to)));
  }
  Tensor out(in.name(), to, in.shape());
  int64_t n = in.element_count();
  size_t in_size = DataTypeSize(in.dtype()), out_size = DataTypeSize(to);
  char* dst = out.Allocate(static_cast<size_t>(n) * out_size);
  const char* src = in.raw();
  if (in.dtype() == DataType::kFp64 && to == DataType::kFp32) {  // the common JSON -> model case
    for (int64_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, src + i * 8, 8);
      float f = static_cast<float>(d);
      std::memcpy(dst + i * 4, &f, 4);
    }
    return out;
  }
  for (int64_t i = 0; i < n; ++i) StoreElement(to, LoadElement(in.dtype(), src + i * in_size), dst + i * out_size);
  return out;
}

}  // namespace inferd
