#include "tf/tensor_proto.h"

#include <algorithm>
#include <complex>
#include <cstring>
#include <span>
#include <string>

#include "tf/tensor.pb.h"
#include "tf/tensor_bundle.h"

namespace inferd::tf {

namespace pb = ::inferd::tfproto;

namespace {

constexpr int kMaxRank = 254;  // TensorFlow's own limit on dimensions

Status Charge(uint64_t* budget, uint64_t bytes) {
  if (bytes > *budget) return InvalidArgument("tensors filled by repeating values exceed the limit of expanded bytes");
  *budget -= bytes;
  return Status::Ok();
}

// Fills the first `count` elements from get(i) and repeats the last one (TensorFlow's rule); count <= n.
template <typename T, typename Get>
StatusOr<Tensor> Filled(DType dt, Shape shape, int64_t count, Get get) {
  ASSIGN_OR_RETURN(Tensor t, Tensor::Make(dt, std::move(shape)));
  T* d = t.data<T>();
  const int64_t n = t.num_elements();
  for (int64_t i = 0; i < count; ++i) d[i] = static_cast<T>(get(i));
  if (count > 0) std::fill(d + count, d + n, d[count - 1]);
  return t;
}

// tensor_content: the raw little-endian elements; for DT_STRING, n varint32 lengths then the bytes.
StatusOr<Tensor> FromContent(DType dt, Shape shape, int64_t n, std::string_view content) {
  const std::string what = std::string(DTypeName(dt)) + " " + ShapeString(shape) + ": tensor_content of " +
                           std::to_string(content.size()) + " bytes";
  if (dt != DType::kString) {
    if (content.size() != static_cast<uint64_t>(n) * DTypeSize(dt)) return InvalidArgument(what + " does not match");
    ASSIGN_OR_RETURN(Tensor t, Tensor::Make(dt, std::move(shape)));
    if (dt == DType::kBool) {  // one byte each; any non-zero byte is true (a bool holding 2 would be UB to read)
      bool* d = t.data<bool>();
      for (size_t i = 0; i < content.size(); ++i) d[i] = content[i] != 0;
      return t;
    }
    std::memcpy(t.raw(), content.data(), content.size());
    return t;
  }
  if (static_cast<uint64_t>(n) > content.size()) return InvalidArgument(what + " cannot hold its strings");
  std::vector<uint64_t> lengths(static_cast<size_t>(n));
  for (auto& len : lengths) {
    if (!GetVarint64(&content, &len)) return InvalidArgument(what + ": bad string length");
  }
  ASSIGN_OR_RETURN(Tensor t, Tensor::Make(dt, std::move(shape)));
  for (size_t i = 0; i < lengths.size(); ++i) {
    if (lengths[i] > content.size()) return InvalidArgument(what + ": string runs past the end");
    t.strings()[i].assign(content.data(), lengths[i]);
    content.remove_prefix(lengths[i]);
  }
  if (!content.empty()) return InvalidArgument(what + ": bytes left after the last string");
  return t;
}

StatusOr<Tensor> FromStrings(Shape shape, int64_t n, const pb::TensorProto& p, uint64_t* budget) {
  const int64_t count = p.string_val_size();
  if (count > n) return InvalidArgument(std::to_string(count) + " values for " + std::to_string(n) + " elements");
  if (count < n) {
    uint64_t last = count > 0 ? p.string_val(static_cast<int>(count - 1)).size() : 0;
    RETURN_IF_ERROR(Charge(budget, static_cast<uint64_t>(n) * sizeof(std::string) + static_cast<uint64_t>(n - count) * last));
  }
  ASSIGN_OR_RETURN(Tensor t, Tensor::Make(DType::kString, std::move(shape)));
  auto& s = t.strings();
  for (int64_t i = 0; i < n; ++i) {
    if (count > 0) s[static_cast<size_t>(i)] = p.string_val(static_cast<int>(std::min(i, count - 1)));
  }
  return t;
}

StatusOr<Tensor> FromValues(DType dt, Shape shape, int64_t n, const pb::TensorProto& p, uint64_t* budget) {
  const bool complex = dt == DType::kComplex64 || dt == DType::kComplex128;
  int64_t count = 0;
  switch (dt) {
    case DType::kFloat: count = p.float_val_size(); break;
    case DType::kDouble: count = p.double_val_size(); break;
    case DType::kInt64: count = p.int64_val_size(); break;
    case DType::kBool: count = p.bool_val_size(); break;
    case DType::kHalf: case DType::kBfloat16: count = p.half_val_size(); break;
    case DType::kUint32: count = p.uint32_val_size(); break;
    case DType::kUint64: count = p.uint64_val_size(); break;
    case DType::kComplex64: count = p.scomplex_val_size(); break;
    case DType::kComplex128: count = p.dcomplex_val_size(); break;
    default: count = p.int_val_size(); break;  // the 8-, 16- and 32-bit integer and quantized types
  }
  if (complex) {
    if (count % 2 != 0) return InvalidArgument("complex values come in (real, imaginary) pairs");
    count /= 2;
  }
  if (count > n) return InvalidArgument(std::to_string(count) + " values for " + std::to_string(n) + " elements");
  if (count < n) RETURN_IF_ERROR(Charge(budget, static_cast<uint64_t>(n) * DTypeSize(dt)));
  switch (dt) {
    case DType::kFloat: return Filled<float>(dt, std::move(shape), count, [&](int i) { return p.float_val(i); });
    case DType::kDouble: return Filled<double>(dt, std::move(shape), count, [&](int i) { return p.double_val(i); });
    case DType::kInt64: return Filled<int64_t>(dt, std::move(shape), count, [&](int i) { return p.int64_val(i); });
    case DType::kBool: return Filled<bool>(dt, std::move(shape), count, [&](int i) { return p.bool_val(i); });
    case DType::kHalf: case DType::kBfloat16:
      return Filled<uint16_t>(dt, std::move(shape), count, [&](int i) { return p.half_val(i); });
    case DType::kUint32: return Filled<uint32_t>(dt, std::move(shape), count, [&](int i) { return p.uint32_val(i); });
    case DType::kUint64: return Filled<uint64_t>(dt, std::move(shape), count, [&](int i) { return p.uint64_val(i); });
    case DType::kComplex64:
      return Filled<std::complex<float>>(dt, std::move(shape), count, [&](int i) {
        return std::complex<float>(p.scomplex_val(2 * i), p.scomplex_val(2 * i + 1));
      });
    case DType::kComplex128:
      return Filled<std::complex<double>>(dt, std::move(shape), count, [&](int i) {
        return std::complex<double>(p.dcomplex_val(2 * i), p.dcomplex_val(2 * i + 1));
      });
    case DType::kInt32: case DType::kQint32:
      return Filled<int32_t>(dt, std::move(shape), count, [&](int i) { return p.int_val(i); });
    case DType::kInt16: case DType::kQint16:
      return Filled<int16_t>(dt, std::move(shape), count, [&](int i) { return p.int_val(i); });
    case DType::kUint16: case DType::kQuint16:
      return Filled<uint16_t>(dt, std::move(shape), count, [&](int i) { return p.int_val(i); });
    case DType::kInt8: case DType::kQint8:
      return Filled<int8_t>(dt, std::move(shape), count, [&](int i) { return p.int_val(i); });
    case DType::kUint8: case DType::kQuint8:
      return Filled<uint8_t>(dt, std::move(shape), count, [&](int i) { return p.int_val(i); });
    default:
      return InvalidArgument(std::string(DTypeName(dt)) + " tensors are not supported");
  }
}

}  // namespace

StatusOr<DType> DTypeFromProtoChecked(int32_t v) {
  if (v == 0) return DType::kInvalid;
  DType t = DTypeFromProto(v);
  if (t == DType::kInvalid) return InvalidArgument("unknown DataType " + std::to_string(v));
  return t;
}

StatusOr<Shape> ShapeFromProto(const pb::TensorShapeProto& s, bool allow_unknown) {
  if (s.dim_size() > kMaxRank) return InvalidArgument("shape of rank " + std::to_string(s.dim_size()));
  Shape out;
  out.reserve(static_cast<size_t>(s.dim_size()));
  for (const auto& d : s.dim()) {
    if (d.size() < (allow_unknown ? -1 : 0)) return InvalidArgument("bad dimension " + std::to_string(d.size()));
    out.push_back(d.size());
  }
  return out;
}

StatusOr<Tensor> TensorFromProto(const pb::TensorProto& p, uint64_t* budget) {
  ASSIGN_OR_RETURN(DType dt, DTypeFromProtoChecked(p.dtype()));
  if (dt == DType::kInvalid) return InvalidArgument("tensor without a dtype");
  if (dt == DType::kVariant || dt == DType::kResource) {
    return InvalidArgument(std::string(DTypeName(dt)) + " tensors are not supported");
  }
  if (p.tensor_shape().unknown_rank()) return InvalidArgument("tensor of unknown rank");
  ASSIGN_OR_RETURN(Shape shape, ShapeFromProto(p.tensor_shape(), /*allow_unknown=*/false));
  ASSIGN_OR_RETURN(int64_t n, NumElements(shape));
  if (!p.tensor_content().empty()) return FromContent(dt, std::move(shape), n, p.tensor_content());
  if (dt == DType::kString) return FromStrings(std::move(shape), n, p, budget);
  return FromValues(dt, std::move(shape), n, p, budget);
}

namespace {

// Appends `n` elements of `src` to the repeated field `*dst` (converted to its element type).
template <typename Field, typename T>
void AppendAll(Field* dst, const T* src, int64_t n) {
  dst->Reserve(static_cast<int>(n));
  for (int64_t i = 0; i < n; ++i) dst->Add(static_cast<typename Field::value_type>(src[i]));
}

}  // namespace

Status TensorToProto(const Tensor& t, pb::TensorProto* out) {
  out->Clear();
  out->set_dtype(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) out->mutable_tensor_shape()->add_dim()->set_size(d);
  const int64_t n = t.num_elements();
  switch (t.dtype()) {
    case DType::kFloat: AppendAll(out->mutable_float_val(), t.data<float>(), n); break;
    case DType::kDouble: AppendAll(out->mutable_double_val(), t.data<double>(), n); break;
    case DType::kInt64: AppendAll(out->mutable_int64_val(), t.data<int64_t>(), n); break;
    case DType::kBool: AppendAll(out->mutable_bool_val(), t.data<bool>(), n); break;
    case DType::kHalf: case DType::kBfloat16: AppendAll(out->mutable_half_val(), t.data<uint16_t>(), n); break;
    case DType::kUint32: AppendAll(out->mutable_uint32_val(), t.data<uint32_t>(), n); break;
    case DType::kUint64: AppendAll(out->mutable_uint64_val(), t.data<uint64_t>(), n); break;
    case DType::kInt32: case DType::kQint32: AppendAll(out->mutable_int_val(), t.data<int32_t>(), n); break;
    case DType::kInt16: case DType::kQint16: AppendAll(out->mutable_int_val(), t.data<int16_t>(), n); break;
    case DType::kUint16: case DType::kQuint16: AppendAll(out->mutable_int_val(), t.data<uint16_t>(), n); break;
    case DType::kInt8: case DType::kQint8: AppendAll(out->mutable_int_val(), t.data<int8_t>(), n); break;
    case DType::kUint8: case DType::kQuint8: AppendAll(out->mutable_int_val(), t.data<uint8_t>(), n); break;
    case DType::kComplex64: {
      auto* f = out->mutable_scomplex_val();
      for (const auto& c : std::span(t.data<std::complex<float>>(), static_cast<size_t>(n))) {
        f->Add(c.real());
        f->Add(c.imag());
      }
      break;
    }
    case DType::kComplex128: {
      auto* f = out->mutable_dcomplex_val();
      for (const auto& c : std::span(t.data<std::complex<double>>(), static_cast<size_t>(n))) {
        f->Add(c.real());
        f->Add(c.imag());
      }
      break;
    }
    case DType::kString:
      for (const std::string& s : t.strings()) out->add_string_val(s);
      break;
    default:
      return Unimplemented(std::string(DTypeName(t.dtype())) + " tensors have no TensorProto value field");
  }
  return Status::Ok();
}

}  // namespace inferd::tf
