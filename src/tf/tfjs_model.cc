#include "tf/tfjs_model.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <utility>

#include "core/base64.h"
#include "core/json_depth.h"

namespace inferd::tf {
namespace {

static_assert(std::endian::native == std::endian::little, "TF.js weights are little-endian; so is this loader");

using Json = nlohmann::ordered_json;

constexpr int kMaxRank = 254;  // TensorFlow's TensorShape limit

Status Bad(const std::string& what, std::string_view why) { return InvalidArgument(what + ": " + std::string(why)); }

// A proto3 JSON member: lowerCamelCase as TF.js writes it, or the proto field name (parsers accept both).
const Json* Member(const Json& obj, std::string_view camel, std::string_view snake = {}) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(camel);
  if (it == obj.end() && !snake.empty()) it = obj.find(snake);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

// ---- scalars in proto3 JSON ----

// int64: a JSON integer, an integral JSON number, or a decimal string ("1", "-1").
StatusOr<int64_t> JsonInt64(const Json& v, const std::string& what) {
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
      return Bad(what, "integer out of int64 range");
    }
    return v.get<int64_t>();
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (!(d >= -9.2e18 && d <= 9.2e18) || d != std::floor(d)) return Bad(what, "is not an integer");
    return static_cast<int64_t>(d);
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    int64_t out = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return Bad(what, "'" + s + "' is not an int64");
    return out;
  }
  return Bad(what, "is not an integer");
}

StatusOr<double> JsonDouble(const Json& v, const std::string& what) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    double out = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (!s.empty() && ec == std::errc() && p == s.data() + s.size()) return out;
  }
  return Bad(what, "is not a number");
}

StatusOr<bool> JsonBool(const Json& v, const std::string& what) {
  if (!v.is_boolean()) return Bad(what, "is not a boolean");
  return v.get<bool>();
}

StatusOr<std::string> JsonString(const Json& v, const std::string& what) {
  if (!v.is_string()) return Bad(what, "is not a string");
  return v.get<std::string>();
}

// proto3 `bytes`: base64, padded or not, standard or URL-safe alphabet (core/base64.h).
StatusOr<std::string> JsonBytes(const Json& v, const std::string& what) {
  if (!v.is_string()) return Bad(what, "is not a base64 string");
  auto out = Base64Decode(v.get_ref<const std::string&>());
  if (!out.ok()) return Bad(what, "is not valid base64");
  return out;
}

// "DT_FLOAT" (or its enum number; "_REF" types fold onto their base).
StatusOr<DType> JsonDType(const Json& v, const std::string& what) {
  DType t = DType::kInvalid;
  if (v.is_string()) {
    std::string_view s = v.get_ref<const std::string&>();
    if (s.ends_with("_REF")) s.remove_suffix(4);
    t = DTypeFromName(s);
  } else if (v.is_number_integer()) {
    t = DTypeFromProto(v.get<int64_t>());
  }
  if (t == DType::kInvalid) return Bad(what, "is not a known TensorFlow dtype: " + v.dump());
  return t;
}

// TensorShapeProto: {"dim":[{"size":"2"}], "unknownRank":true}; `{}` is a scalar, a dim `{}` has size 0.
StatusOr<PartialShape> JsonShape(const Json& v, const std::string& what) {
  if (!v.is_object()) return Bad(what, "shape is not an object");
  PartialShape out;
  out.unknown_rank = false;
  if (const Json* u = Member(v, "unknownRank", "unknown_rank")) {
    ASSIGN_OR_RETURN(out.unknown_rank, JsonBool(*u, what + " unknownRank"));
  }
  const Json* dims = Member(v, "dim");
  if (dims == nullptr) return out;
  if (!dims->is_array()) return Bad(what, "shape dim is not an array");
  if (dims->size() > size_t{kMaxRank}) return Bad(what, "shape has more than 254 dimensions");
  for (const Json& d : *dims) {
    if (!d.is_object()) return Bad(what, "shape dim is not an object");
    int64_t size = 0;
    if (const Json* s = Member(d, "size")) {
      ASSIGN_OR_RETURN(size, JsonInt64(*s, what + " dim size"));
    }
    if (size < -1) return Bad(what, "shape has a negative dimension " + std::to_string(size));
    out.dims.push_back(size);
  }
  if (out.unknown_rank) out.dims.clear();
  return out;
}

// A known shape: [2, 3] in a weights manifest.
StatusOr<Shape> JsonDims(const Json& v, const std::string& what) {
  if (!v.is_array()) return Bad(what, "shape is not an array");
  if (v.size() > size_t{kMaxRank}) return Bad(what, "shape has more than 254 dimensions");
  Shape out;
  for (const Json& d : v) {
    ASSIGN_OR_RETURN(int64_t n, JsonInt64(d, what + " shape"));
    out.push_back(n);
  }
  auto n = NumElements(out);
  if (!n.ok()) return Bad(what, n.status().message());
  return out;
}

// ---- inline tensors (TensorProto JSON) ----

template <typename T>
Status FillValues(const Json& vals, Tensor& t, const std::string& what,
                  const std::function<StatusOr<T>(const Json&)>& conv) {
  const int64_t n = t.num_elements();
  if (static_cast<int64_t>(vals.size()) > n) return Bad(what, "tensor has more values than its shape holds");
  T* out = t.data<T>();
  int64_t i = 0;
  for (const Json& v : vals) {
    ASSIGN_OR_RETURN(out[i], conv(v));
    ++i;
  }
  for (; i > 0 && i < n; ++i) out[i] = out[i - 1];  // proto: the last value repeats
  return Status::Ok();
}

template <typename T>
std::function<StatusOr<T>(const Json&)> IntConv(const std::string& what) {
  return [what](const Json& v) -> StatusOr<T> {
    ASSIGN_OR_RETURN(int64_t x, JsonInt64(v, what));
    if (std::cmp_less(x, std::numeric_limits<T>::min()) || std::cmp_greater(x, std::numeric_limits<T>::max())) {
      return Bad(what, "value out of range for its dtype");
    }
    return static_cast<T>(x);
  };
}

// The typed `*Val` field of a TensorProto for `t`'s dtype.
Status FillTypedValues(const Json& tp, Tensor& t, const std::string& what) {
  auto field = [&](std::string_view camel, std::string_view snake) -> const Json* {
    const Json* f = Member(tp, camel, snake);
    return f && f->is_array() && !f->empty() ? f : nullptr;
  };
  const Json* f = nullptr;
  switch (t.dtype()) {
    case DType::kFloat:
      if (!(f = field("floatVal", "float_val"))) return Status::Ok();
      return FillValues<float>(*f, t, what, [&](const Json& v) -> StatusOr<float> {
        ASSIGN_OR_RETURN(double d, JsonDouble(v, what));
        return static_cast<float>(d);
      });
    case DType::kDouble:
      if (!(f = field("doubleVal", "double_val"))) return Status::Ok();
      return FillValues<double>(*f, t, what, [&](const Json& v) { return JsonDouble(v, what); });
    case DType::kInt32:
    case DType::kQint32:
      if (!(f = field("intVal", "int_val"))) return Status::Ok();
      return FillValues<int32_t>(*f, t, what, IntConv<int32_t>(what));
    case DType::kInt16:
    case DType::kQint16:
      if (!(f = field("intVal", "int_val"))) return Status::Ok();
      return FillValues<int16_t>(*f, t, what, IntConv<int16_t>(what));
    case DType::kInt8:
    case DType::kQint8:
      if (!(f = field("intVal", "int_val"))) return Status::Ok();
      return FillValues<int8_t>(*f, t, what, IntConv<int8_t>(what));
    case DType::kUint8:
    case DType::kQuint8:
      if (!(f = field("intVal", "int_val"))) return Status::Ok();
      return FillValues<uint8_t>(*f, t, what, IntConv<uint8_t>(what));
    case DType::kUint16:
    case DType::kQuint16:
      if (!(f = field("intVal", "int_val"))) return Status::Ok();
      return FillValues<uint16_t>(*f, t, what, IntConv<uint16_t>(what));
    case DType::kHalf:
    case DType::kBfloat16:
      if (!(f = field("halfVal", "half_val"))) return Status::Ok();
      return FillValues<uint16_t>(*f, t, what, IntConv<uint16_t>(what));
    case DType::kInt64:
      if (!(f = field("int64Val", "int64_val"))) return Status::Ok();
      return FillValues<int64_t>(*f, t, what, [&](const Json& v) { return JsonInt64(v, what); });
    case DType::kUint32:
      if (!(f = field("uint32Val", "uint32_val"))) return Status::Ok();
      return FillValues<uint32_t>(*f, t, what, IntConv<uint32_t>(what));
    case DType::kBool:
      if (!(f = field("boolVal", "bool_val"))) return Status::Ok();
      return FillValues<bool>(*f, t, what, [&](const Json& v) { return JsonBool(v, what); });
    default:
      break;
  }
  const char* fields[] = {"floatVal", "doubleVal", "intVal", "int64Val", "uint64Val", "scomplexVal", "dcomplexVal",
                          "float_val", "uint64_val", "scomplex_val", "dcomplex_val", "variantVal", "resourceHandleVal"};
  for (const char* name : fields) {
    if (field(name, {})) return Unimplemented(what + ": inline values of " + std::string(DTypeName(t.dtype())));
  }
  return Status::Ok();
}

Status FillStrings(const Json& tp, Tensor& t, const std::string& what) {
  const Json* f = Member(tp, "stringVal", "string_val");
  if (f == nullptr) return Status::Ok();
  if (!f->is_array()) return Bad(what, "stringVal is not an array");
  auto& out = t.strings();
  if (f->size() > out.size()) return Bad(what, "tensor has more values than its shape holds");
  size_t i = 0;
  for (const Json& v : *f) {
    ASSIGN_OR_RETURN(out[i], JsonBytes(v, what + " stringVal"));
    ++i;
  }
  for (; i > 0 && i < out.size(); ++i) out[i] = out[i - 1];
  return Status::Ok();
}

// A TensorProto written in the JSON: dtype, a known shape, values from tensorContent or the typed fields
// (none: zeros, as TensorFlow reads it).
StatusOr<Tensor> JsonTensor(const Json& tp, const std::string& what) {
  if (!tp.is_object()) return Bad(what, "tensor is not an object");
  const Json* dt = Member(tp, "dtype");
  if (dt == nullptr) return Bad(what, "tensor has no dtype");
  ASSIGN_OR_RETURN(DType dtype, JsonDType(*dt, what + " tensor dtype"));
  PartialShape ps;
  ps.unknown_rank = false;
  if (const Json* s = Member(tp, "tensorShape", "tensor_shape")) {
    ASSIGN_OR_RETURN(ps, JsonShape(*s, what));
  }
  if (ps.unknown_rank) return Bad(what, "tensor has an unknown rank");
  auto n = NumElements(ps.dims);
  if (!n.ok()) return Bad(what, n.status().message());
  if (*n > kMaxTfjsInlineElements) return Bad(what, "inline tensor has more than 2^24 elements");
  auto t = Tensor::Make(dtype, ps.dims);
  if (!t.ok()) return Bad(what, t.status().message());
  if (const Json* c = Member(tp, "tensorContent", "tensor_content")) {
    ASSIGN_OR_RETURN(std::string bytes, JsonBytes(*c, what + " tensorContent"));
    if (dtype == DType::kString || DTypeSize(dtype) == 0 || bytes.size() != t->byte_size()) {
      return Bad(what, "tensorContent holds " + std::to_string(bytes.size()) + " bytes, the shape needs " +
                           std::to_string(t->byte_size()));
    }
    if (!bytes.empty()) std::memcpy(t->raw(), bytes.data(), bytes.size());
    if (dtype == DType::kBool) {
      for (int64_t i = 0; i < *n; ++i) t->raw()[i] = t->raw()[i] != 0;
    }
    return t;
  }
  if (dtype == DType::kString) {
    RETURN_IF_ERROR(FillStrings(tp, *t, what));
  } else {
    RETURN_IF_ERROR(FillTypedValues(tp, *t, what));
  }
  return t;
}

// ---- attrs ----

StatusOr<AttrValue> JsonAttr(const Json& v, const std::string& what);

StatusOr<AttrMap> JsonAttrMap(const Json& v, const std::string& what) {
  if (!v.is_object()) return Bad(what, "attr is not an object");
  AttrMap out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    ASSIGN_OR_RETURN(AttrValue a, JsonAttr(it.value(), what + " attr '" + it.key() + "'"));
    out[it.key()] = std::move(a);
  }
  return out;
}

StatusOr<FuncAttr> JsonFunc(const Json& v, const std::string& what) {
  if (!v.is_object()) return Bad(what, "func is not an object");
  FuncAttr f;
  if (const Json* n = Member(v, "name")) {
    ASSIGN_OR_RETURN(f.name, JsonString(*n, what + " func name"));
  }
  if (const Json* a = Member(v, "attr")) {
    ASSIGN_OR_RETURN(f.attrs, JsonAttrMap(*a, what));
  }
  return f;
}

template <typename T>
Status JsonArray(const Json& list, std::string_view key, std::vector<T>& out, const std::string& what,
                 const std::function<StatusOr<T>(const Json&, const std::string&)>& conv) {
  const Json* arr = Member(list, key);
  if (arr == nullptr) return Status::Ok();
  if (!arr->is_array()) return Bad(what, "list." + std::string(key) + " is not an array");
  for (const Json& e : *arr) {
    ASSIGN_OR_RETURN(T x, conv(e, what + " list." + std::string(key)));
    out.push_back(std::move(x));
  }
  return Status::Ok();
}

StatusOr<AttrList> JsonAttrList(const Json& v, const std::string& what) {
  if (!v.is_object()) return Bad(what, "list is not an object");
  for (auto it = v.begin(); it != v.end(); ++it) {
    static constexpr std::string_view kKeys[] = {"s", "i", "f", "b", "type", "shape", "tensor", "func"};
    if (std::find(std::begin(kKeys), std::end(kKeys), it.key()) == std::end(kKeys)) {
      return Bad(what, "list has an unknown member '" + it.key() + "'");
    }
  }
  AttrList l;
  RETURN_IF_ERROR(JsonArray<std::string>(v, "s", l.s, what, JsonBytes));
  RETURN_IF_ERROR(JsonArray<int64_t>(v, "i", l.i, what, JsonInt64));
  RETURN_IF_ERROR(JsonArray<float>(v, "f", l.f, what, [](const Json& e, const std::string& w) -> StatusOr<float> {
    ASSIGN_OR_RETURN(double d, JsonDouble(e, w));
    return static_cast<float>(d);
  }));
  std::vector<bool>& bs = l.b;
  std::vector<char> b;
  RETURN_IF_ERROR(JsonArray<char>(v, "b", b, what, [](const Json& e, const std::string& w) -> StatusOr<char> {
    ASSIGN_OR_RETURN(bool x, JsonBool(e, w));
    return static_cast<char>(x);
  }));
  for (char c : b) bs.push_back(c != 0);
  RETURN_IF_ERROR(JsonArray<DType>(v, "type", l.type, what, JsonDType));
  RETURN_IF_ERROR(JsonArray<PartialShape>(v, "shape", l.shape, what, JsonShape));
  RETURN_IF_ERROR(JsonArray<Tensor>(v, "tensor", l.tensor, what, JsonTensor));
  RETURN_IF_ERROR(JsonArray<FuncAttr>(v, "func", l.func, what, JsonFunc));
  return l;
}

// AttrValue: exactly one of s/i/f/b/type/shape/tensor/list/func/placeholder (`{}`: none set).
StatusOr<AttrValue> JsonAttr(const Json& v, const std::string& what) {
  if (!v.is_object()) return Bad(what, "is not an AttrValue object");
  if (v.size() > 1) return Bad(what, "has more than one value: " + v.dump().substr(0, 80));
  AttrValue a;
  if (v.empty()) return a;
  const std::string& key = v.begin().key();
  const Json& x = v.begin().value();
  using K = AttrValue::Kind;
  if (key == "s") {
    a.kind = K::kS;
    ASSIGN_OR_RETURN(a.s, JsonBytes(x, what));
  } else if (key == "i") {
    a.kind = K::kI;
    ASSIGN_OR_RETURN(a.i, JsonInt64(x, what));
  } else if (key == "f") {
    a.kind = K::kF;
    ASSIGN_OR_RETURN(double d, JsonDouble(x, what));
    a.f = static_cast<float>(d);
  } else if (key == "b") {
    a.kind = K::kB;
    ASSIGN_OR_RETURN(a.b, JsonBool(x, what));
  } else if (key == "type") {
    a.kind = K::kType;
    ASSIGN_OR_RETURN(a.type, JsonDType(x, what));
  } else if (key == "shape") {
    a.kind = K::kShape;
    ASSIGN_OR_RETURN(a.shape, JsonShape(x, what));
  } else if (key == "tensor") {
    a.kind = K::kTensor;
    ASSIGN_OR_RETURN(a.tensor, JsonTensor(x, what));
  } else if (key == "list") {
    a.kind = K::kList;
    ASSIGN_OR_RETURN(AttrList l, JsonAttrList(x, what));
    a.list = std::make_shared<AttrList>(std::move(l));
  } else if (key == "func") {
    a.kind = K::kFunc;
    ASSIGN_OR_RETURN(FuncAttr f, JsonFunc(x, what));
    a.func = std::make_shared<FuncAttr>(std::move(f));
  } else if (key == "placeholder") {
    a.kind = K::kPlaceholder;
    ASSIGN_OR_RETURN(a.s, JsonString(x, what));
  } else {
    return Bad(what, "has an unknown value kind '" + key + "'");
  }
  return a;
}

// ---- weights ----

enum class Quant { kNone, kUint8, kUint16, kFloat16 };

struct WeightSpec {
  std::string name;
  DType dtype = DType::kInvalid;  // what TF.js makes of it: float32, int32, bool, string, complex64
  Shape shape;
  int64_t numel = 0;
  Quant quant = Quant::kNone;
  double min = 0, scale = 1;
};

using WeightMap = std::unordered_map<std::string, Tensor>;

StatusOr<WeightSpec> ParseWeightSpec(const Json& w) {
  if (!w.is_object()) return InvalidArgument("weightsManifest: a weight entry is not an object");
  WeightSpec s;
  const Json* name = Member(w, "name");
  if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return InvalidArgument("weightsManifest: a weight has no name");
  }
  s.name = name->get<std::string>();
  const std::string what = "weight '" + s.name + "'";
  const Json* shape = Member(w, "shape");
  if (shape == nullptr) return Bad(what, "has no shape");
  ASSIGN_OR_RETURN(s.shape, JsonDims(*shape, what));
  s.numel = *NumElements(s.shape);
  const Json* dt = Member(w, "dtype");
  std::string dtype = dt && dt->is_string() ? dt->get<std::string>() : "";
  if (dtype == "float32") s.dtype = DType::kFloat;
  else if (dtype == "int32") s.dtype = DType::kInt32;
  else if (dtype == "bool") s.dtype = DType::kBool;
  else if (dtype == "string") s.dtype = DType::kString;
  else if (dtype == "complex64") s.dtype = DType::kComplex64;
  else return Bad(what, "has an unsupported dtype " + (dt ? dt->dump() : std::string("(none)")));
  const Json* q = Member(w, "quantization");
  if (q == nullptr) return s;
  const Json* qd = Member(*q, "dtype");
  std::string qdtype = qd && qd->is_string() ? qd->get<std::string>() : "";
  if (qdtype == "float16" && s.dtype == DType::kFloat) {
    s.quant = Quant::kFloat16;
    return s;
  }
  if ((qdtype != "uint8" && qdtype != "uint16") || (s.dtype != DType::kFloat && s.dtype != DType::kInt32)) {
    return Bad(what, "has an unsupported quantization " + q->dump().substr(0, 80) + " for " + dtype);
  }
  s.quant = qdtype == "uint8" ? Quant::kUint8 : Quant::kUint16;
  const Json* mn = Member(*q, "min");
  const Json* sc = Member(*q, "scale");
  if (mn == nullptr || sc == nullptr) return Bad(what, "quantization has no min or scale");
  ASSIGN_OR_RETURN(s.min, JsonDouble(*mn, what + " quantization min"));
  ASSIGN_OR_RETURN(s.scale, JsonDouble(*sc, what + " quantization scale"));
  if (!std::isfinite(s.min) || !std::isfinite(s.scale)) return Bad(what, "quantization min/scale is not finite");
  return s;
}

// IEEE binary16 -> binary32, exactly (every half is a float).
float HalfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);  // inf, NaN (payload kept)
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (man << 13);  // rebias 15 -> 127
  } else if (man == 0) {
    bits = sign;  // +-0
  } else {
    uint32_t e = 113;  // subnormal: man * 2^-24; normalise so that bit 10 is the leading one
    while ((man & 0x400u) == 0) {
      man <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((man & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(bits);
}

// JavaScript's Math.round: the nearest integer, ties toward +infinity.
double JsRound(double x) {
  double r = std::floor(x);
  return x - r >= 0.5 ? r + 1 : r;
}

// Decodes weight `s` from the front of `data` (the rest of its group's shards); *used = the bytes it took
// (strings are length-prefixed, so that is known only as they are read).
StatusOr<Tensor> DecodeWeight(const WeightSpec& s, std::string_view data, size_t* used) {
  const std::string what = "weight '" + s.name + "'";
  const uint64_t n = static_cast<uint64_t>(s.numel);
  if (s.dtype == DType::kString) {
    if (n * 4 > data.size()) return Bad(what, "the weight files hold fewer bytes than the manifest needs");
    ASSIGN_OR_RETURN(Tensor t, Tensor::Make(DType::kString, s.shape));
    size_t off = 0;
    for (auto& str : t.strings()) {
      uint32_t len = 0;
      if (data.size() - off < 4) return Bad(what, "the weight files hold fewer bytes than the manifest needs");
      std::memcpy(&len, data.data() + off, 4);
      off += 4;
      if (data.size() - off < len) return Bad(what, "the weight files hold fewer bytes than the manifest needs");
      str.assign(data.data() + off, len);
      off += len;
    }
    *used = off;
    return t;
  }
  const size_t width = s.quant == Quant::kUint8 ? 1 : s.quant == Quant::kNone ? DTypeSize(s.dtype) : 2;
  if (n * width > data.size()) {
    return Bad(what, "needs " + std::to_string(n * width) + " bytes but the weight files hold only " +
                         std::to_string(data.size()) + " more");
  }
  *used = static_cast<size_t>(n * width);
  ASSIGN_OR_RETURN(Tensor t, Tensor::Make(s.dtype, s.shape));
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (s.quant == Quant::kNone) {
    if (*used) std::memcpy(t.raw(), in, *used);
    if (s.dtype == DType::kBool) {
      for (uint64_t i = 0; i < n; ++i) t.raw()[i] = t.raw()[i] != 0;
    }
    return t;
  }
  if (s.quant == Quant::kFloat16) {
    float* out = t.data<float>();
    for (uint64_t i = 0; i < n; ++i) out[i] = HalfToFloat(uint16_t(in[2 * i] | (in[2 * i + 1] << 8)));
    return t;
  }
  for (uint64_t i = 0; i < n; ++i) {
    uint32_t q = s.quant == Quant::kUint8 ? in[i] : uint32_t(in[2 * i] | (in[2 * i + 1] << 8));
    // Two statements, so that no compiler fuses them into one FMA: TF.js rounds the product, then the sum.
    double prod = static_cast<double>(q) * s.scale;
    double v = prod + s.min;
    if (s.dtype == DType::kFloat) {
      t.data<float>()[i] = static_cast<float>(v);  // Float32Array: round to nearest even
    } else {
      double r = JsRound(v);
      if (!(r >= -2147483648.0 && r <= 2147483647.0)) return Bad(what, "dequantized value out of int32 range");
      t.data<int32_t>()[i] = static_cast<int32_t>(r);
    }
  }
  return t;
}

// "../x", "/x", "a\\b": a path from a model file may not leave the model's directory.
Status CheckWeightPath(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.find('\\') != std::string_view::npos ||
      p.find('\0') != std::string_view::npos) {
    return InvalidArgument("weightsManifest: path '" + std::string(p) + "' is not a relative path in the model's "
                           "directory");
  }
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find('/', start);
    if (end == std::string_view::npos) end = p.size();
    if (p.substr(start, end - start) == "..") {
      return InvalidArgument("weightsManifest: path '" + std::string(p) + "' leaves the model's directory");
    }
    start = end + 1;
  }
  return Status::Ok();
}

using ReadFile = std::function<StatusOr<std::string>(std::string_view)>;

// One group's shards, concatenated; `total` counts bytes read across groups against kMaxTfjsWeightBytes.
StatusOr<std::string> ReadGroup(const Json& group, const ReadFile& read_file, uint64_t* total) {
  const Json* paths = Member(group, "paths");
  if (paths == nullptr || !paths->is_array()) return InvalidArgument("weightsManifest: a group has no paths");
  std::string buf;
  for (const Json& p : *paths) {
    if (!p.is_string()) return InvalidArgument("weightsManifest: a path is not a string");
    const std::string& path = p.get_ref<const std::string&>();
    RETURN_IF_ERROR(CheckWeightPath(path));
    auto bytes = read_file(path);
    if (!bytes.ok()) return bytes.status().WithPrefix("weight file '" + path + "'");
    *total += bytes->size();
    if (*total > kMaxTfjsWeightBytes) {
      return InvalidArgument("weight file '" + path + "': the weights exceed " +
                             std::to_string(kMaxTfjsWeightBytes >> 30) + " GiB in all");
    }
    if (buf.empty()) {
      buf = std::move(*bytes);
    } else {
      buf += *bytes;
    }
  }
  return buf;
}

StatusOr<WeightMap> ReadWeights(const Json& root, const ReadFile& read_file) {
  WeightMap out;
  const Json* manifest = Member(root, "weightsManifest");
  if (manifest == nullptr) return out;
  if (!manifest->is_array()) return InvalidArgument("weightsManifest is not an array");
  uint64_t total = 0;
  for (const Json& group : *manifest) {
    if (!group.is_object()) return InvalidArgument("weightsManifest: a group is not an object");
    const Json* weights = Member(group, "weights");
    if (weights == nullptr || !weights->is_array()) return InvalidArgument("weightsManifest: a group has no weights");
    std::vector<WeightSpec> specs;
    for (const Json& w : *weights) {
      ASSIGN_OR_RETURN(WeightSpec s, ParseWeightSpec(w));
      specs.push_back(std::move(s));
    }
    ASSIGN_OR_RETURN(std::string buf, ReadGroup(group, read_file, &total));
    size_t off = 0;
    for (const WeightSpec& s : specs) {
      size_t used = 0;
      ASSIGN_OR_RETURN(Tensor t, DecodeWeight(s, std::string_view(buf).substr(off), &used));
      off += used;
      if (!out.emplace(s.name, std::move(t)).second) {
        return InvalidArgument("weight '" + s.name + "' appears twice in weightsManifest");
      }
    }
  }
  return out;
}

// ---- Const values: a weight, converted to the dtype the node declares ----

template <typename To, typename From>
Status ConvertInto(const Tensor& from, Tensor& to, const std::string& what) {
  const From* in = from.data<From>();
  To* out = to.data<To>();
  for (int64_t i = 0; i < from.num_elements(); ++i) {
    if constexpr (std::is_integral_v<To>) {
      if (std::cmp_less(in[i], std::numeric_limits<To>::min()) ||
          std::cmp_greater(in[i], std::numeric_limits<To>::max())) {
        return Bad(what, "value " + std::to_string(in[i]) + " out of range for " + std::string(DTypeName(to.dtype())));
      }
    }
    out[i] = static_cast<To>(in[i]);
  }
  return Status::Ok();
}

// TF.js stores DT_DOUBLE as float32 and every integer type as int32; give the node back its own dtype.
StatusOr<Tensor> ToDeclared(const Tensor& w, DType declared, const std::string& what) {
  if (w.dtype() == declared) return w;
  auto mismatch = [&] {
    return Bad(what, "weight is " + std::string(DTypeName(w.dtype())) + " but the node declares " +
                         std::string(DTypeName(declared)));
  };
  if (w.dtype() == DType::kFloat && declared != DType::kDouble) return mismatch();
  if (w.dtype() != DType::kFloat && w.dtype() != DType::kInt32) return mismatch();
  ASSIGN_OR_RETURN(Tensor t, Tensor::Make(declared, w.shape()));
  Status st = Status::Ok();
  switch (declared) {
    case DType::kDouble: st = ConvertInto<double, float>(w, t, what); break;
    case DType::kInt64: st = ConvertInto<int64_t, int32_t>(w, t, what); break;
    case DType::kUint64: st = ConvertInto<uint64_t, int32_t>(w, t, what); break;
    case DType::kUint32: st = ConvertInto<uint32_t, int32_t>(w, t, what); break;
    case DType::kInt16: st = ConvertInto<int16_t, int32_t>(w, t, what); break;
    case DType::kUint16: st = ConvertInto<uint16_t, int32_t>(w, t, what); break;
    case DType::kInt8: st = ConvertInto<int8_t, int32_t>(w, t, what); break;
    case DType::kUint8: st = ConvertInto<uint8_t, int32_t>(w, t, what); break;
    default: return mismatch();
  }
  if (!st.ok()) return st;
  return t;
}

// The declared dtype and shape of a Const's `value` without building its (empty) tensor.
Status ConstFromWeight(const Json* value, NodeDef& node, const Tensor& weight, const std::string& what) {
  DType declared = DType::kInvalid;
  if (const AttrValue* d = FindAttr(node, "dtype")) {
    if (d->kind != AttrValue::Kind::kType) return Bad(what, "attr 'dtype' is not a type");
    declared = d->type;
  }
  const Json* tp = value ? Member(*value, "tensor") : nullptr;
  if (value && (tp == nullptr || !tp->is_object() || value->size() != 1)) {
    return Bad(what, "attr 'value' is not a tensor");
  }
  if (tp) {
    if (const Json* dt = Member(*tp, "dtype")) {
      ASSIGN_OR_RETURN(DType td, JsonDType(*dt, what + " attr 'value' dtype"));
      if (declared != DType::kInvalid && td != declared) return Bad(what, "attr 'value' and attr 'dtype' disagree");
      declared = td;
    }
    if (const Json* s = Member(*tp, "tensorShape", "tensor_shape")) {
      ASSIGN_OR_RETURN(PartialShape ps, JsonShape(*s, what + " attr 'value'"));
      if (!ps.unknown_rank && ps.dims != weight.shape()) {
        return Bad(what, "attr 'value' has shape " + ShapeString(ps.dims) + " but its weight " +
                             ShapeString(weight.shape()));
      }
    }
  }
  if (declared == DType::kInvalid) declared = weight.dtype();
  ASSIGN_OR_RETURN(Tensor t, ToDeclared(weight, declared, what));
  AttrValue v;
  v.kind = AttrValue::Kind::kTensor;
  v.tensor = std::move(t);
  node.attrs["value"] = std::move(v);
  AttrValue d;
  d.kind = AttrValue::Kind::kType;
  d.type = declared;
  node.attrs["dtype"] = std::move(d);
  return Status::Ok();
}

// ---- nodes, functions, graph ----

// True when a TensorProto JSON carries values (tensorContent or a non-empty `*Val` array).
bool HasInlineValues(const Json& tp) {
  if (!tp.is_object()) return false;
  for (auto it = tp.begin(); it != tp.end(); ++it) {
    const std::string& k = it.key();
    if (k == "tensorContent" || k == "tensor_content") return true;
    if ((k.ends_with("Val") || k.ends_with("_val")) && it.value().is_array() && !it.value().empty()) return true;
  }
  return false;
}

// A Const with no weight: its `value` must carry the values inline (or be empty); `dtype` must agree.
Status CheckInlineConst(const Json* value_json, NodeDef& node, const std::string& what) {
  auto it = node.attrs.find("value");
  if (it == node.attrs.end() || it->second.kind != AttrValue::Kind::kTensor) {
    return NotFound(what + ": no weight of that name in weightsManifest and no 'value' tensor");
  }
  const Tensor& t = it->second.tensor;
  const Json* tp = value_json ? Member(*value_json, "tensor") : nullptr;
  if (t.num_elements() > 0 && (tp == nullptr || !HasInlineValues(*tp))) {
    return NotFound(what + ": no weight of that name in weightsManifest and no values inline");
  }
  auto d = node.attrs.find("dtype");
  if (d != node.attrs.end() && (d->second.kind != AttrValue::Kind::kType || d->second.type != t.dtype())) {
    return Bad(what, "attr 'dtype' disagrees with attr 'value'");
  }
  AttrValue dv;
  dv.kind = AttrValue::Kind::kType;
  dv.type = t.dtype();
  node.attrs["dtype"] = std::move(dv);
  return Status::Ok();
}

// A NodeDef. A Const named like a weight takes that weight as its `value` (in function bodies too: TF.js
// looks function constants up in the same weight map); its JSON `value` then only declares dtype and shape.
StatusOr<NodeDef> JsonNode(const Json& v, const WeightMap& weights) {
  if (!v.is_object()) return InvalidArgument("modelTopology: a node is not an object");
  NodeDef n;
  const Json* name = Member(v, "name");
  if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return InvalidArgument("modelTopology: a node has no name");
  }
  n.name = name->get<std::string>();
  std::string what = "node '" + n.name + "'";
  const Json* op = Member(v, "op");
  if (op == nullptr || !op->is_string() || op->get_ref<const std::string&>().empty()) return Bad(what, "has no op");
  n.op = op->get<std::string>();
  what = n.op + " " + what;
  if (const Json* in = Member(v, "input")) {
    if (!in->is_array()) return Bad(what, "input is not an array");
    for (const Json& i : *in) {
      ASSIGN_OR_RETURN(std::string s, JsonString(i, what + " input"));
      if (s.empty()) return Bad(what, "has an empty input");
      if (s[0] != '^' && !n.inputs.empty() && n.inputs.back()[0] == '^') {
        return Bad(what, "data input '" + s + "' follows a control input");
      }
      n.inputs.push_back(std::move(s));
    }
  }
  if (const Json* d = Member(v, "device")) {
    ASSIGN_OR_RETURN(n.device, JsonString(*d, what + " device"));
  }
  const Json* attrs = Member(v, "attr");
  if (attrs && !attrs->is_object()) return Bad(what, "attr is not an object");
  auto w = n.op == "Const" ? weights.find(n.name) : weights.end();
  const bool from_weight = w != weights.end();
  const Json* value = nullptr;
  if (attrs) {
    for (auto it = attrs->begin(); it != attrs->end(); ++it) {
      if (it.key() == "value") value = &it.value();
      if (from_weight && it.key() == "value") continue;
      ASSIGN_OR_RETURN(AttrValue a, JsonAttr(it.value(), what + " attr '" + it.key() + "'"));
      n.attrs[it.key()] = std::move(a);
    }
  }
  if (from_weight) {
    RETURN_IF_ERROR(ConstFromWeight(value, n, w->second, what));
  } else if (n.op == "Const") {
    RETURN_IF_ERROR(CheckInlineConst(value, n, what));
  }
  return n;
}

StatusOr<std::vector<NodeDef>> JsonNodes(const Json* arr, const WeightMap& weights, const std::string& what) {
  std::vector<NodeDef> out;
  if (arr == nullptr) return out;
  if (!arr->is_array()) return InvalidArgument(what + ": node list is not an array");
  std::unordered_map<std::string_view, int> seen;
  out.reserve(arr->size());
  for (const Json& v : *arr) {
    auto n = JsonNode(v, weights);
    if (!n.ok()) return n.status().WithPrefix(what);
    out.push_back(std::move(*n));
  }
  for (const NodeDef& n : out) {
    if (++seen[n.name] > 1) return InvalidArgument(what + ": two nodes are named '" + n.name + "'");
  }
  return out;
}

StatusOr<std::vector<ArgDef>> JsonArgs(const Json* arr, const std::string& what) {
  std::vector<ArgDef> out;
  if (arr == nullptr) return out;
  if (!arr->is_array()) return Bad(what, "is not an array");
  for (const Json& a : *arr) {
    if (!a.is_object()) return Bad(what, "an argument is not an object");
    ArgDef d;
    if (const Json* x = Member(a, "name")) {
      ASSIGN_OR_RETURN(d.name, JsonString(*x, what + " name"));
    }
    const std::string w = what + " '" + d.name + "'";
    if (const Json* x = Member(a, "type")) {
      ASSIGN_OR_RETURN(d.type, JsonDType(*x, w + " type"));
    }
    if (const Json* x = Member(a, "typeAttr", "type_attr")) {
      ASSIGN_OR_RETURN(d.type_attr, JsonString(*x, w));
    }
    if (const Json* x = Member(a, "numberAttr", "number_attr")) {
      ASSIGN_OR_RETURN(d.number_attr, JsonString(*x, w));
    }
    if (const Json* x = Member(a, "typeListAttr", "type_list_attr")) {
      ASSIGN_OR_RETURN(d.type_list_attr, JsonString(*x, w));
    }
    out.push_back(std::move(d));
  }
  return out;
}

Status JsonStringMap(const Json* obj, std::map<std::string, std::string, std::less<>>& out, const std::string& what) {
  if (obj == nullptr) return Status::Ok();
  if (!obj->is_object()) return Bad(what, "is not an object");
  for (auto it = obj->begin(); it != obj->end(); ++it) {
    ASSIGN_OR_RETURN(out[it.key()], JsonString(it.value(), what + " '" + it.key() + "'"));
  }
  return Status::Ok();
}

StatusOr<FunctionDef> JsonFunction(const Json& v, const WeightMap& weights) {
  if (!v.is_object()) return InvalidArgument("library: a function is not an object");
  const Json* sig = Member(v, "signature");
  const Json* name = sig ? Member(*sig, "name") : nullptr;
  if (name == nullptr || !name->is_string() || name->get_ref<const std::string&>().empty()) {
    return InvalidArgument("library: a function has no signature name");
  }
  FunctionDef f;
  f.name = name->get<std::string>();
  const std::string what = "function '" + f.name + "'";
  ASSIGN_OR_RETURN(f.input_args, JsonArgs(Member(*sig, "inputArg", "input_arg"), what + " input_arg"));
  ASSIGN_OR_RETURN(f.output_args, JsonArgs(Member(*sig, "outputArg", "output_arg"), what + " output_arg"));
  ASSIGN_OR_RETURN(f.nodes, JsonNodes(Member(v, "nodeDef", "node_def"), weights, what));
  RETURN_IF_ERROR(JsonStringMap(Member(v, "ret"), f.ret, what + " ret"));
  RETURN_IF_ERROR(JsonStringMap(Member(v, "controlRet", "control_ret"), f.control_ret, what + " control_ret"));
  if (const Json* a = Member(v, "attr")) {
    ASSIGN_OR_RETURN(f.attrs, JsonAttrMap(*a, what));
  }
  return f;
}

StatusOr<GraphDef> JsonGraph(const Json& topo, const WeightMap& weights) {
  GraphDef g;
  const Json* nodes = Member(topo, "node");
  if (nodes == nullptr) return InvalidArgument("modelTopology has no node list");
  ASSIGN_OR_RETURN(g.nodes, JsonNodes(nodes, weights, "modelTopology"));
  if (const Json* lib = Member(topo, "library")) {
    const Json* fns = Member(*lib, "function");
    if (fns && !fns->is_array()) return InvalidArgument("modelTopology: library.function is not an array");
    std::unordered_map<std::string, int> seen;
    for (const Json& fj : fns ? *fns : Json::array()) {
      ASSIGN_OR_RETURN(FunctionDef f, JsonFunction(fj, weights));
      if (++seen[f.name] > 1) return InvalidArgument("library: two functions are named '" + f.name + "'");
      g.functions.push_back(std::move(f));
    }
  }
  if (const Json* ver = Member(topo, "versions")) {
    if (const Json* p = Member(*ver, "producer")) {
      ASSIGN_OR_RETURN(int64_t producer, JsonInt64(*p, "modelTopology versions.producer"));
      if (producer < 0 || producer > std::numeric_limits<int>::max()) {
        return InvalidArgument("modelTopology: versions.producer out of range");
      }
      g.producer = static_cast<int>(producer);
    }
  }
  return g;
}

// ---- signature ----

Status JsonTensorInfos(const Json* obj, std::map<std::string, TensorInfo, std::less<>>& out,
                       const std::string& what) {
  if (obj == nullptr) return Status::Ok();
  if (!obj->is_object()) return Bad(what, "is not an object");
  for (auto it = obj->begin(); it != obj->end(); ++it) {
    const std::string w = what + " '" + it.key() + "'";
    const Json& t = it.value();
    if (!t.is_object()) return Bad(w, "is not an object");
    TensorInfo info;
    const Json* name = Member(t, "name");
    if (name == nullptr) return Bad(w, "has no tensor name");
    ASSIGN_OR_RETURN(info.tensor_name, JsonString(*name, w + " name"));
    if (const Json* d = Member(t, "dtype")) {
      ASSIGN_OR_RETURN(info.dtype, JsonDType(*d, w + " dtype"));
    }
    if (const Json* s = Member(t, "tensorShape", "tensor_shape")) {
      ASSIGN_OR_RETURN(info.shape, JsonShape(*s, w));
    }
    out[it.key()] = std::move(info);
  }
  return Status::Ok();
}

// Every signature tensor must name a node of the graph.
Status CheckSignatureNodes(const SignatureDef& sig, const GraphDef& g) {
  std::unordered_map<std::string_view, int> names;
  for (const NodeDef& n : g.nodes) names[n.name] = 1;
  for (const auto* m : {&sig.inputs, &sig.outputs}) {
    for (const auto& [alias, info] : *m) {
      InputRef r = ParseInput(info.tensor_name);
      if (r.index < 0 || !r.output_arg.empty() || !names.count(r.node)) {
        return InvalidArgument("signature '" + alias + "': tensor '" + info.tensor_name +
                               "' is not an output of a node of the graph");
      }
    }
  }
  return Status::Ok();
}

// Without a signature: inputs are the Placeholders; outputs cannot be known from a TF.js graph.
SignatureDef SignatureFromPlaceholders(const GraphDef& g) {
  SignatureDef sig;
  sig.method_name = "tensorflow/serving/predict";
  for (const NodeDef& n : g.nodes) {
    if (n.op != "Placeholder") continue;
    TensorInfo info;
    info.tensor_name = n.name + ":0";
    if (const AttrValue* d = FindAttr(n, "dtype"); d && d->kind == AttrValue::Kind::kType) info.dtype = d->type;
    if (const AttrValue* s = FindAttr(n, "shape"); s && s->kind == AttrValue::Kind::kShape) info.shape = s->shape;
    sig.inputs[n.name] = std::move(info);
  }
  return sig;
}

StatusOr<SignatureDef> JsonSignature(const Json& root, const GraphDef& g) {
  const Json* sj = Member(root, "signature");
  if (sj == nullptr) {
    if (const Json* meta = Member(root, "userDefinedMetadata")) sj = Member(*meta, "signature");
  }
  if (sj == nullptr) return SignatureFromPlaceholders(g);
  if (!sj->is_object()) return InvalidArgument("signature is not an object");
  SignatureDef sig;
  sig.method_name = "tensorflow/serving/predict";
  if (const Json* m = Member(*sj, "methodName", "method_name")) {
    ASSIGN_OR_RETURN(sig.method_name, JsonString(*m, "signature methodName"));
  }
  RETURN_IF_ERROR(JsonTensorInfos(Member(*sj, "inputs"), sig.inputs, "signature inputs"));
  RETURN_IF_ERROR(JsonTensorInfos(Member(*sj, "outputs"), sig.outputs, "signature outputs"));
  RETURN_IF_ERROR(CheckSignatureNodes(sig, g));
  // Some converters write only the outputs (human_faceboxes): the inputs are then the Placeholders, as in TF.js.
  if (sig.inputs.empty()) sig.inputs = SignatureFromPlaceholders(g).inputs;
  return sig;
}

StatusOr<MetaGraph> ParseRoot(const Json& root, const ReadFile& read_file) {
  if (!root.is_object()) return InvalidArgument("model.json is not a JSON object");
  const Json* format = Member(root, "format");
  if (format && (!format->is_string() || format->get_ref<const std::string&>() != "graph-model")) {
    return InvalidArgument("model.json: format " + format->dump().substr(0, 40) +
                           " is not a TF.js graph model (\"graph-model\"); layers models are not supported");
  }
  const Json* topo = Member(root, "modelTopology");
  if (topo == nullptr || !topo->is_object()) return InvalidArgument("model.json has no modelTopology object");
  if (Member(*topo, "class_name") || Member(*topo, "model_config")) {
    return InvalidArgument("model.json holds a TF.js layers model (Keras topology); only graph models are supported");
  }
  if (const Json* init = Member(root, "modelInitializer"); init && init->is_object() && Member(*init, "node") &&
                                                            !Member(*init, "node")->empty()) {
    return Unimplemented("model.json: modelInitializer (hash-table initialisation graph) is not supported");
  }
  ASSIGN_OR_RETURN(WeightMap weights, ReadWeights(root, read_file));
  MetaGraph mg;
  mg.tags = {"serve"};
  ASSIGN_OR_RETURN(mg.graph, JsonGraph(*topo, weights));
  ASSIGN_OR_RETURN(SignatureDef sig, JsonSignature(root, mg.graph));
  mg.signatures["serving_default"] = std::move(sig);
  return mg;
}

StatusOr<std::string> ReadWholeFile(const std::filesystem::path& p, uint64_t limit, std::string_view what) {
  std::error_code ec;
  auto status = std::filesystem::status(p, ec);
  if (ec || !std::filesystem::exists(status)) return NotFound(std::string(what) + " '" + p.string() + "' not found");
  if (!std::filesystem::is_regular_file(status)) {
    return InvalidArgument(std::string(what) + " '" + p.string() + "' is not a regular file");
  }
  uint64_t size = std::filesystem::file_size(p, ec);
  if (ec) return NotFound(std::string(what) + " '" + p.string() + "': " + ec.message());
  if (size > limit) {
    return InvalidArgument(std::string(what) + " '" + p.string() + "' is larger than " + std::to_string(limit) +
                           " bytes");
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) return NotFound(std::string(what) + " '" + p.string() + "' cannot be opened");
  std::string out(static_cast<size_t>(size), '\0');
  in.read(out.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(in.gcount()) != size) {
    return InvalidArgument(std::string(what) + " '" + p.string() + "' changed while being read");
  }
  return out;
}

}  // namespace

StatusOr<MetaGraph> ParseTfjsModel(std::string_view json, const ReadFile& read_file) {
  if (json.size() > kMaxTfjsJsonBytes) {
    return InvalidArgument("model.json is larger than " + std::to_string(kMaxTfjsJsonBytes >> 20) + " MiB");
  }
  try {
    ASSIGN_OR_RETURN(Json root, ParseBoundedJson(json, "model.json"));
    return ParseRoot(root, read_file);
  } catch (const std::exception& e) {  // a bug here, or out of memory: still no exception escapes
    return InvalidArgument(std::string("model.json: ") + e.what());
  }
}

StatusOr<MetaGraph> LoadTfjsModel(const std::string& model_json_path) {
  const std::filesystem::path path(model_json_path);
  ASSIGN_OR_RETURN(std::string json, ReadWholeFile(path, kMaxTfjsJsonBytes, "TF.js model"));
  const std::filesystem::path dir = path.parent_path();
  auto read = [&dir](std::string_view rel) {
    return ReadWholeFile(dir / std::filesystem::path(rel), kMaxTfjsWeightBytes, "weight file");
  };
  auto mg = ParseTfjsModel(json, read);
  if (!mg.ok()) return mg.status().WithPrefix(model_json_path);
  return mg;
}

}  // namespace inferd::tf
