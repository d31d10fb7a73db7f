#include "protocol/json_tensor.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/base64.h"
#include "core/json_depth.h"

namespace inferd {

using simdjson::dom::element;
using simdjson::dom::element_type;

simdjson::dom::parser& ThreadLocalParser() {
  // Bounded to kMaxJsonDepth once per thread (simdjson checks depth in its stage 2 anyway: no cost per parse).
  thread_local simdjson::dom::parser parser = [] {
    simdjson::dom::parser p;
    (void)LimitJsonDepth(p);  // fails only without memory; simdjson's own 1024 (iterative, safe) would remain
    return p;
  }();
  return parser;
}

Status ParseJson(std::string_view json, element* out, const char* what) {
  auto& parser = ThreadLocalParser();
  auto err = parser.parse(json.data(), json.size(), true).get(*out);
  if (err == simdjson::DEPTH_ERROR) return JsonTooDeep(what);
  if (err) return InvalidArgument(std::string(what) + ": malformed JSON (" + simdjson::error_message(err) + ")");
  return Status::Ok();
}

namespace {

constexpr int kMaxDepth = 32;

std::string TypeName(element_type t) {
  switch (t) {
    case element_type::ARRAY: return "array";
    case element_type::OBJECT: return "object";
    case element_type::INT64: case element_type::UINT64: case element_type::DOUBLE: return "number";
    case element_type::STRING: return "string";
    case element_type::BOOL: return "bool";
    case element_type::NULL_VALUE: return "null";
  }
  return "value";
}

template <typename T>
void Put(std::string* buf, T v) {
  buf->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <typename T>
bool PutInt(std::string* buf, element e) {
  // Integers keep their exact value; doubles are truncated toward zero like numpy's astype.
  switch (e.type()) {
    case element_type::INT64: {
      int64_t v = e.get_int64().value_unsafe();
      if constexpr (std::is_signed_v<T>) {
        if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return false;
      } else {
        if (v < 0 || static_cast<uint64_t>(v) > std::numeric_limits<T>::max()) return false;
      }
      Put<T>(buf, static_cast<T>(v));
      return true;
    }
    case element_type::UINT64: {
      uint64_t v = e.get_uint64().value_unsafe();
      if (v > static_cast<uint64_t>(std::numeric_limits<T>::max())) return false;
      Put<T>(buf, static_cast<T>(v));
      return true;
    }
    case element_type::DOUBLE: {
      double d = e.get_double().value_unsafe();
      if (!std::isfinite(d) || d < static_cast<double>(std::numeric_limits<T>::min()) ||
          d >= static_cast<double>(std::numeric_limits<T>::max()) + 1.0) {
        return false;
      }
      Put<T>(buf, static_cast<T>(d));
      return true;
    }
    default:
      return false;
  }
}

double AsDouble(element e) {
  switch (e.type()) {
    case element_type::INT64: return static_cast<double>(e.get_int64().value_unsafe());
    case element_type::UINT64: return static_cast<double>(e.get_uint64().value_unsafe());
    default: return e.get_double().value_unsafe();
  }
}

bool IsNumber(element_type t) {
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

struct Filler {
  DataType dtype;
  int64_t max_elements;
  bool allow_b64;
  std::string* buf;
  int64_t count = 0;
  const std::string& field;

  Status Leaf(element e) {
    if (++count > max_elements) {
      return InvalidArgument(field + ": has more elements than its shape allows (" + std::to_string(max_elements) + ")");
    }
    element_type t = e.type();
    bool ok = true;
    switch (dtype) {
      case DataType::kBool:
        if (t == element_type::BOOL) buf->push_back(e.get_bool().value_unsafe() ? 1 : 0);
        else if (t == element_type::INT64 && (e.get_int64().value_unsafe() == 0 || e.get_int64().value_unsafe() == 1))
          buf->push_back(static_cast<char>(e.get_int64().value_unsafe()));
        else ok = false;
        break;
      case DataType::kUint8: ok = PutInt<uint8_t>(buf, e); break;
      case DataType::kUint16: ok = PutInt<uint16_t>(buf, e); break;
      case DataType::kUint32: ok = PutInt<uint32_t>(buf, e); break;
      case DataType::kUint64: ok = PutInt<uint64_t>(buf, e); break;
      case DataType::kInt8: ok = PutInt<int8_t>(buf, e); break;
      case DataType::kInt16: ok = PutInt<int16_t>(buf, e); break;
      case DataType::kInt32: ok = PutInt<int32_t>(buf, e); break;
      case DataType::kInt64: ok = PutInt<int64_t>(buf, e); break;
      case DataType::kFp32:
        if (IsNumber(t)) Put<float>(buf, static_cast<float>(AsDouble(e)));
        else ok = false;
        break;
      case DataType::kFp64:
        if (IsNumber(t)) Put<double>(buf, AsDouble(e));
        else ok = false;
        break;
      case DataType::kFp16:
        if (IsNumber(t)) Put<uint16_t>(buf, FloatToHalf(static_cast<float>(AsDouble(e))));
        else ok = false;
        break;
      case DataType::kBf16:
        if (IsNumber(t)) Put<uint16_t>(buf, FloatToBf16(static_cast<float>(AsDouble(e))));
        else ok = false;
        break;
      case DataType::kBytes:
        if (t == element_type::STRING) {
          AppendBytesElement(buf, e.get_string().value_unsafe());
        } else if (allow_b64 && t == element_type::OBJECT) {
          std::string_view b64;
          if (e["b64"].get(b64)) return InvalidArgument(field + ": an object element must be {\"b64\": \"...\"}");
          std::string decoded;
          auto bytes = Base64Decode(b64);
          if (!bytes.ok()) return InvalidArgument(field + ".b64: invalid base64 (" + bytes.status().message() + ")");
          decoded = std::move(*bytes);
          AppendBytesElement(buf, decoded);
        } else {
          ok = false;
        }
        break;
      default:
        ok = false;
    }
    if (!ok) {
      std::string what = IsNumber(t) && IsInteger(dtype) ? "number out of range for" : TypeName(t) + " is not a valid";
      return InvalidArgument(field + ": element " + std::to_string(count - 1) + ": " + what + " " +
                             std::string(DataTypeName(dtype)) + " value");
    }
    return Status::Ok();
  }

  Status Walk(element e, int depth) {
    if (depth > kMaxDepth) return InvalidArgument(field + ": nested deeper than " + std::to_string(kMaxDepth));
    if (e.type() == element_type::ARRAY) {
      simdjson::dom::array e_array = e.get_array().value_unsafe();
      for (element child : e_array) RETURN_IF_ERROR(Walk(child, depth + 1));
      return Status::Ok();
    }
    return Leaf(e);
  }
};

}  // namespace

Status FillTensorFromJson(element data, int64_t max_elements, bool allow_b64, Tensor* t, int64_t* count,
                          const std::string& field) {
  std::string buf;
  size_t sz = DataTypeSize(t->dtype());
  if (sz > 0) buf.reserve(static_cast<size_t>(std::min<int64_t>(max_elements, 1 << 16)) * sz);
  Filler f{t->dtype(), max_elements, allow_b64, &buf, 0, field};
  RETURN_IF_ERROR(f.Walk(data, 0));
  *count = f.count;
  t->SetOwned(std::move(buf));
  return Status::Ok();
}

namespace {
Status CheckRectangular(element e, const Shape& shape, size_t dim, const std::string& field) {
  if (dim == shape.size()) {
    if (e.type() == element_type::ARRAY) return InvalidArgument(field + ": ragged nested list (too deep at dimension " + std::to_string(dim) + ")");
    return Status::Ok();
  }
  if (e.type() != element_type::ARRAY) {
    return InvalidArgument(field + ": ragged nested list (expected a list at dimension " + std::to_string(dim) + ")");
  }
  auto arr = e.get_array().value_unsafe();
  if (static_cast<int64_t>(arr.size()) != shape[dim]) {
    return InvalidArgument(field + ": ragged nested list (dimension " + std::to_string(dim) + " has lengths " +
                           std::to_string(shape[dim]) + " and " + std::to_string(arr.size()) + ")");
  }
  for (element c : arr) RETURN_IF_ERROR(CheckRectangular(c, shape, dim + 1, field));
  return Status::Ok();
}
}  // namespace

namespace {
// Which kinds of leaves a nested JSON value holds (a plain recursive struct: this runs per V1 request).
struct LeafKinds {
  bool any_float = false, any_int = false, any_bool = false, any_bytes = false;
  void Scan(element x) {
    switch (x.type()) {
      case element_type::ARRAY: {
        simdjson::dom::array x_array = x.get_array().value_unsafe();
        for (element c : x_array) Scan(c);
        break;
      }
      case element_type::DOUBLE: any_float = true; break;
      case element_type::INT64: case element_type::UINT64: any_int = true; break;
      case element_type::BOOL: any_bool = true; break;
      case element_type::STRING: case element_type::OBJECT: any_bytes = true; break;
      default: any_bytes = any_float = true;  // null: invalid for every type; reported while filling
    }
  }
};
}  // namespace

Status InferJsonShapeAndType(element data, Shape* shape, DataType* dtype, const std::string& field) {
  shape->clear();
  element e = data;
  while (e.type() == element_type::ARRAY) {
    auto arr = e.get_array().value_unsafe();
    shape->push_back(static_cast<int64_t>(arr.size()));
    if (shape->size() > static_cast<size_t>(kMaxDepth)) return InvalidArgument(field + ": nested too deep");
    if (arr.size() == 0) break;
    e = *arr.begin();
  }
  RETURN_IF_ERROR(CheckRectangular(data, *shape, 0, field));
  // Datatype from the leaves: scan them all (cheap next to filling) so [1, 2.5] becomes FP64.
  LeafKinds kinds;
  kinds.Scan(data);
  bool any_float = kinds.any_float, any_int = kinds.any_int, any_bool = kinds.any_bool,
       any_bytes = kinds.any_bytes;
  if (any_bytes) *dtype = DataType::kBytes;
  else if (any_float) *dtype = DataType::kFp64;
  else if (any_int) *dtype = DataType::kInt64;
  else if (any_bool) *dtype = DataType::kBool;
  else *dtype = DataType::kFp64;  // empty list
  return Status::Ok();
}

Status ParseParameters(element obj, Parameters* out, const std::string& field) {
  if (obj.type() != element_type::OBJECT) return InvalidArgument(field + ": must be an object");
  simdjson::dom::object obj_object = obj.get_object().value_unsafe();
  for (auto [key, value] : obj_object) {
    std::string k(key);
    switch (value.type()) {
      case element_type::BOOL: (*out)[k] = value.get_bool().value_unsafe(); break;
      case element_type::INT64: (*out)[k] = value.get_int64().value_unsafe(); break;
      case element_type::UINT64: (*out)[k] = static_cast<double>(value.get_uint64().value_unsafe()); break;
      case element_type::DOUBLE: (*out)[k] = value.get_double().value_unsafe(); break;
      case element_type::STRING: (*out)[k] = std::string(value.get_string().value_unsafe()); break;
      default:
        return InvalidArgument(field + "." + k + ": parameter values must be bool, number or string");
    }
  }
  return Status::Ok();
}

}  // namespace inferd
