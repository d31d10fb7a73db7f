#include "protocol/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace inferd {

void JsonWriter::Int(int64_t v) {
  Sep();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_->append(buf, r.ptr);
}

void JsonWriter::Uint(uint64_t v) {
  Sep();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_->append(buf, r.ptr);
}

namespace {
// JSON has no NaN/Infinity; like Python's json module (what KServe's server uses) we write the
// JavaScript literals, which Python, simdjson-based and most JSON clients read back.
template <typename F>
bool NonFinite(std::string* out, F v) {
  if (std::isnan(v)) { out->append("NaN"); return true; }
  if (std::isinf(v)) { out->append(v > 0 ? "Infinity" : "-Infinity"); return true; }
  return false;
}
// Shortest round-trip text, with ".0" added to integral values so that clients (Python's json) read
// a float back, as they do from KServe's servers.
void AppendFloatText(std::string* out, const char* begin, const char* end) {
  out->append(begin, end);
  for (const char* p = begin; p != end; ++p)
    if (*p == '.' || *p == 'e') return;
  out->append(".0");
}
}  // namespace

void JsonWriter::Double(double v) {
  Sep();
  if (NonFinite(out_, v)) return;
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  AppendFloatText(out_, buf, r.ptr);
}

void JsonWriter::Float(float v) {
  Sep();
  if (NonFinite(out_, v)) return;
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  AppendFloatText(out_, buf, r.ptr);
}

void JsonWriter::Parameter(const ParameterValue& v) {
  if (const bool* b = std::get_if<bool>(&v)) Bool(*b);
  else if (const int64_t* i = std::get_if<int64_t>(&v)) Int(*i);
  else if (const double* d = std::get_if<double>(&v)) Double(*d);
  else String(std::get<std::string>(v));
}

void JsonWriter::ParametersObject(const Parameters& p) {
  BeginObject();
  for (const auto& [k, v] : p) {
    Key(k);
    Parameter(v);
  }
  EndObject();
}

namespace {

template <typename T>
T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

void WriteElement(JsonWriter& w, DataType t, const char* p) {
  switch (t) {
    case DataType::kBool: w.Bool(*p != 0); break;
    case DataType::kUint8: w.Uint(Load<uint8_t>(p)); break;
    case DataType::kUint16: w.Uint(Load<uint16_t>(p)); break;
    case DataType::kUint32: w.Uint(Load<uint32_t>(p)); break;
    case DataType::kUint64: w.Uint(Load<uint64_t>(p)); break;
    case DataType::kInt8: w.Int(Load<int8_t>(p)); break;
    case DataType::kInt16: w.Int(Load<int16_t>(p)); break;
    case DataType::kInt32: w.Int(Load<int32_t>(p)); break;
    case DataType::kInt64: w.Int(Load<int64_t>(p)); break;
    case DataType::kFp32: w.Float(Load<float>(p)); break;
    case DataType::kFp64: w.Double(Load<double>(p)); break;
    case DataType::kFp16: w.Float(HalfToFloat(Load<uint16_t>(p))); break;
    case DataType::kBf16: w.Float(Bf16ToFloat(Load<uint16_t>(p))); break;
    default: w.Null();
  }
}

// Writes elements [begin, begin + count of dims from `dim`) nested.
void WriteNested(JsonWriter& w, const Tensor& t, size_t dim, int64_t* index,
                 const std::vector<std::string_view>* bytes_elems) {
  const Shape& s = t.shape();
  w.BeginArray();
  if (dim + 1 >= s.size()) {
    int64_t n = s.empty() ? 1 : s[dim];
    for (int64_t i = 0; i < n; ++i, ++*index) {
      if (bytes_elems) {
        w.String((*bytes_elems)[static_cast<size_t>(*index)]);
      } else {
        WriteElement(w, t.dtype(), t.raw() + *index * static_cast<int64_t>(DataTypeSize(t.dtype())));
      }
    }
  } else {
    for (int64_t i = 0; i < s[dim]; ++i) WriteNested(w, t, dim + 1, index, bytes_elems);
  }
  w.EndArray();
}

}  // namespace

void WriteTensorData(JsonWriter& w, const Tensor& t, bool nested) {
  std::vector<std::string_view> elems;
  const std::vector<std::string_view>* bytes_elems = nullptr;
  if (t.dtype() == DataType::kBytes) {
    ForEachBytesElement(t.bytes(), [&](std::string_view e) { elems.push_back(e); });
    bytes_elems = &elems;
  }
  int64_t index = 0;
  if (nested && t.shape().size() > 1) {
    WriteNested(w, t, 0, &index, bytes_elems);
    return;
  }
  // Flat: a scalar V1 prediction of shape [] is still written as a one-element list.
  w.BeginArray();
  int64_t n = t.element_count();
  if (bytes_elems) {
    for (int64_t i = 0; i < n && i < static_cast<int64_t>(elems.size()); ++i) w.String(elems[static_cast<size_t>(i)]);
  } else {
    size_t sz = DataTypeSize(t.dtype());
    const char* p = t.raw();
    switch (t.dtype()) {  // tight loops for the common types
      case DataType::kFp32:
        for (int64_t i = 0; i < n; ++i) w.Float(Load<float>(p + i * 4));
        break;
      case DataType::kInt64:
        for (int64_t i = 0; i < n; ++i) w.Int(Load<int64_t>(p + i * 8));
        break;
      default:
        for (int64_t i = 0; i < n; ++i) WriteElement(w, t.dtype(), p + i * static_cast<int64_t>(sz));
    }
  }
  w.EndArray();
}

}  // namespace inferd
