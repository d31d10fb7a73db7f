#include "server/tfs_model_spec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <climits>

namespace inferd {

namespace {

using google::protobuf::io::CodedInputStream;
using WFL = google::protobuf::internal::WireFormatLite;

Status NotProtobuf() { return InvalidArgument("the request is not a valid protobuf message"); }

// The length-delimited field's bytes at the stream's position (its tag already read).
bool ReadBytes(CodedInputStream* in, std::string* out) {
  uint32_t len = 0;
  return in->ReadVarint32(&len) && in->ReadString(out, static_cast<int>(len));
}

// ModelSpec's routing fields, merged into *spec (a repeated embedded message merges, as protobuf parses it).
bool ReadSpec(std::string_view bytes, TfsModelSpec* spec) {
  CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  spec->present = true;
  while (uint32_t tag = in.ReadTag()) {
    const int field = WFL::GetTagFieldNumber(tag);
    const bool delimited = WFL::GetTagWireType(tag) == WFL::WIRETYPE_LENGTH_DELIMITED;
    if (field == 1 && delimited) {
      if (!ReadBytes(&in, &spec->name)) return false;
    } else if (field == 4 && delimited) {
      std::string label;
      if (!ReadBytes(&in, &label)) return false;
      spec->label = std::move(label);
      spec->version.reset();  // a oneof: the last one set wins
    } else if (field == 2 && delimited) {  // google.protobuf.Int64Value {int64 value = 1}
      std::string wrapper;
      if (!ReadBytes(&in, &wrapper)) return false;
      CodedInputStream w(reinterpret_cast<const uint8_t*>(wrapper.data()), static_cast<int>(wrapper.size()));
      int64_t v = spec->version.value_or(0);
      while (uint32_t t = w.ReadTag()) {
        if (t == WFL::MakeTag(1, WFL::WIRETYPE_VARINT)) {
          uint64_t raw = 0;
          if (!w.ReadVarint64(&raw)) return false;
          v = static_cast<int64_t>(raw);
        } else if (!WFL::SkipField(&w, t)) {
          return false;
        }
      }
      if (!w.ConsumedEntireMessage()) return false;
      spec->version = v;
      spec->label.reset();
    } else if (!WFL::SkipField(&in, tag)) {
      return false;
    }
  }
  return in.ConsumedEntireMessage();
}

}  // namespace

StatusOr<TfsModelSpec> ReadTfsModelSpec(std::string_view request, bool in_first_task) {
  TfsModelSpec spec;
  if (request.size() > static_cast<size_t>(INT_MAX)) return NotProtobuf();
  CodedInputStream in(reinterpret_cast<const uint8_t*>(request.data()), static_cast<int>(request.size()));
  bool first_task_seen = false;
  while (uint32_t tag = in.ReadTag()) {
    if (tag != WFL::MakeTag(1, WFL::WIRETYPE_LENGTH_DELIMITED)) {
      if (!WFL::SkipField(&in, tag)) return NotProtobuf();
      continue;
    }
    std::string bytes;
    if (!ReadBytes(&in, &bytes)) return NotProtobuf();
    if (!in_first_task) {
      if (!ReadSpec(bytes, &spec)) return NotProtobuf();
      continue;
    }
    if (first_task_seen) continue;  // MultiInference: the first task's model (each task names the same one)
    first_task_seen = true;
    CodedInputStream task(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
    while (uint32_t t = task.ReadTag()) {
      std::string inner;
      if (t == WFL::MakeTag(1, WFL::WIRETYPE_LENGTH_DELIMITED)) {
        if (!ReadBytes(&task, &inner) || !ReadSpec(inner, &spec)) return NotProtobuf();
      } else if (!WFL::SkipField(&task, t)) {
        return NotProtobuf();
      }
    }
    if (!task.ConsumedEntireMessage()) return NotProtobuf();
  }
  if (!in.ConsumedEntireMessage()) return NotProtobuf();
  return spec;
}

}  // namespace inferd
