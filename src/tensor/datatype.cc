#include "tensor/datatype.h"

#include <array>

namespace inferd {

namespace {
struct Info {
  DataType type;
  std::string_view name;
  size_t size;
};
constexpr std::array<Info, 14> kInfos = {{
    {DataType::kBool, "BOOL", 1},     {DataType::kUint8, "UINT8", 1},   {DataType::kUint16, "UINT16", 2},
    {DataType::kUint32, "UINT32", 4}, {DataType::kUint64, "UINT64", 8}, {DataType::kInt8, "INT8", 1},
    {DataType::kInt16, "INT16", 2},   {DataType::kInt32, "INT32", 4},   {DataType::kInt64, "INT64", 8},
    {DataType::kFp16, "FP16", 2},     {DataType::kFp32, "FP32", 4},     {DataType::kFp64, "FP64", 8},
    {DataType::kBf16, "BF16", 2},     {DataType::kBytes, "BYTES", 0},
}};
}  // namespace

std::string_view DataTypeName(DataType t) {
  for (const auto& i : kInfos)
    if (i.type == t) return i.name;
  return "INVALID";
}

DataType DataTypeFromName(std::string_view name) {
  for (const auto& i : kInfos)
    if (i.name == name) return i.type;
  return DataType::kInvalid;
}

size_t DataTypeSize(DataType t) {
  for (const auto& i : kInfos)
    if (i.type == t) return i.size;
  return 0;
}

bool IsInteger(DataType t) {
  switch (t) {
    case DataType::kUint8: case DataType::kUint16: case DataType::kUint32: case DataType::kUint64:
    case DataType::kInt8: case DataType::kInt16: case DataType::kInt32: case DataType::kInt64:
      return true;
    default:
      return false;
  }
}

bool IsFloat(DataType t) {
  return t == DataType::kFp16 || t == DataType::kFp32 || t == DataType::kFp64 || t == DataType::kBf16;
}

StatusOr<int64_t> ElementCount(const Shape& shape, std::string_view field) {
  int64_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t d = shape[i];
    if (d < 0) {
      return InvalidArgument(std::string(field) + ": dimension " + std::to_string(i) + " is negative (" +
                             std::to_string(d) + ")");
    }
    if (d != 0 && n > kMaxElements / d) {
      return InvalidArgument(std::string(field) + ": shape " + ShapeToString(shape) + " has more than " +
                             std::to_string(kMaxElements) + " elements");
    }
    n *= d;
  }
  return n;
}

bool ShapeMatches(const Shape& spec, const Shape& actual) {
  if (spec.size() != actual.size()) return false;
  for (size_t i = 0; i < spec.size(); ++i)
    if (spec[i] != -1 && spec[i] != actual[i]) return false;
  return true;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

}  // namespace inferd
