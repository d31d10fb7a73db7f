#include "gateway/grpc_scan.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <climits>

namespace inferd::gateway {

// Scans the fields of a serialized message for field 1 (length-delimited). kAbsent: the input ended cleanly
// without it.
Field1 ScanField1(const void* data, size_t size, std::string* out) {
  namespace pb = google::protobuf;
  if (size > static_cast<size_t>(INT_MAX)) return Field1::kMalformed;
  pb::io::CodedInputStream in(static_cast<const uint8_t*>(data), static_cast<int>(size));
  for (;;) {
    uint32_t tag = in.ReadTag();
    // 0 is also what ReadTag answers for a truncated tag varint or a literal zero tag, after which the input
    // may be used up too: only a clean end of the input (ConsumedEntireMessage) means "no field 1".
    if (tag == 0) return in.ConsumedEntireMessage() ? Field1::kAbsent : Field1::kMalformed;
    if (tag == ((1u << 3) | 2u)) {
      uint32_t len = 0;
      if (!in.ReadVarint32(&len) || !in.ReadString(out, static_cast<int>(len))) return Field1::kMalformed;
      return Field1::kFound;
    }
    if (!pb::internal::WireFormatLite::SkipField(&in, tag)) return Field1::kMalformed;
  }
}

std::optional<std::string> ReadField1String(std::string_view bytes) {
  std::string out;
  switch (ScanField1(bytes.data(), bytes.size(), &out)) {
    case Field1::kFound: return out;
    case Field1::kAbsent: return std::string();
    case Field1::kMalformed: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace inferd::gateway
