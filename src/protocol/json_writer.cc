#include "protocol/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace inferd {

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no surrogates, at most
// U+10FFFF), 0 when there is none. Hand-written because the writer escapes in the same single pass (simdjson
// validates a whole string but does not say where it is broken).
size_t Utf8Length(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) { return at(k) >= lo && at(k) <= hi; };
  const unsigned c = at(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

}  // namespace

// Bytes that are not UTF-8 (a BYTES tensor written as a JSON string, e.g. a V1 answer echoing a {"b64": ...}
// input) become U+FFFD, one per offending byte, as JSON text must be Unicode: the answer stays parseable.
void JsonWriter::Escaped(std::string_view s) {
  out_->push_back('"');
  static const char* kHex = "0123456789abcdef";
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') continue;
    if (c >= 0x80) {
      if (size_t n = Utf8Length(s, i); n > 0) {
        i += n - 1;
        continue;
      }
      out_->append(s.data() + start, i - start);
      start = i + 1;
      out_->append("\xEF\xBF\xBD");
      continue;
    }
    out_->append(s.data() + start, i - start);
    start = i + 1;
    switch (c) {
      case '"': out_->append("\\\""); break;
      case '\\': out_->append("\\\\"); break;
      case '\n': out_->append("\\n"); break;
      case '\r': out_->append("\\r"); break;
      case '\t': out_->append("\\t"); break;
      default:
        out_->append("\\u00");
        out_->push_back(kHex[c >> 4]);
        out_->push_back(kHex[c & 15]);
    }
  }
  out_->append(s.data() + start, s.size() - start);
  out_->push_back('"');
}

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

std::string ErrorJson(std::string_view message) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("error");
  w.String(message);
  w.EndObject();
  return out;
}

}  // namespace inferd
