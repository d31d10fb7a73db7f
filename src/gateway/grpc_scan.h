// gateway/grpc_scan.h: reads `model_name` (field 1) out of a serialized gRPC request without parsing the
// message (internal to the gateway module; its own file so that tests and fuzz targets link it alone).
//
// Contract: pure functions over bytes; no state, any thread; nothing throws. The bytes are walked field by
// field with protobuf's CodedInputStream (tags, varints and lengths bounded by the input; groups nested at
// most protobuf's default recursion limit deep) up to the first field 1 with wire type 2 (length-delimited);
// a field 1 with another wire type is skipped like any other field. Truncated varints, lengths past the end
// of the input, invalid wire types and inputs over INT_MAX bytes are malformed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace inferd::gateway {

enum class Field1 { kFound, kAbsent, kMalformed };

// Scans the fields of a serialized message for field 1 (length-delimited). kAbsent: the input ended cleanly
// without it.
Field1 ScanField1(const void* data, size_t size, std::string* out);

// The string in field 1 (wire type 2) of a serialized protobuf message; nullopt when the bytes do not parse
// up to it; "" when the message has no field 1.
std::optional<std::string> ReadField1String(std::string_view bytes);

}  // namespace inferd::gateway
