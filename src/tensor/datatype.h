// tensor/datatype.h: the V2 datatypes and shapes.
//
// Contract: pure functions, no state, callable from any thread. Names are the Open Inference Protocol's
// ("FP32", "BYTES", ...). Shapes are int64 vectors; -1 is allowed only in model metadata (variable dim).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace inferd {

enum class DataType : uint8_t {
  kInvalid = 0,
  kBool, kUint8, kUint16, kUint32, kUint64,
  kInt8, kInt16, kInt32, kInt64,
  kFp16, kFp32, kFp64, kBf16,
  kBytes,
};

using Shape = std::vector<int64_t>;

std::string_view DataTypeName(DataType t);
// Returns kInvalid for an unknown name.
DataType DataTypeFromName(std::string_view name);
// Element size in bytes; 0 for BYTES (variable) and kInvalid.
size_t DataTypeSize(DataType t);
bool IsInteger(DataType t);
bool IsFloat(DataType t);  // FP16, FP32, FP64, BF16
inline bool IsNumeric(DataType t) { return IsInteger(t) || IsFloat(t); }

// Largest element count accepted in one tensor (guards against shapes like [1e18]); 2^31.
constexpr int64_t kMaxElements = int64_t{1} << 31;

// Product of dims; rejects negative dims and overflowing products. `field` names the shape in errors.
StatusOr<int64_t> ElementCount(const Shape& shape, std::string_view field);

// True when `actual` (a concrete request shape) fits `spec` (metadata shape, -1 matches any dim).
bool ShapeMatches(const Shape& spec, const Shape& actual);

std::string ShapeToString(const Shape& shape);

}  // namespace inferd
