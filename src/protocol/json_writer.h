// protocol/json_writer.h: a minimal JSON writer that appends straight into a std::string.
//
// Why hand-written: responses are small and on the hot path; appending into a reused buffer with
// std::to_chars (shortest round-trip floats) avoids building a DOM (rapidjson/nlohmann) per request.
// Parsing, which is where correctness is hard, uses simdjson. Not thread-safe (one writer per request).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_string.h"
#include "tensor/tensor.h"

namespace inferd {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void BeginObject() { Sep(); out_->push_back('{'); Push(); }
  void EndObject() { Pop(); out_->push_back('}'); }
  void BeginArray() { Sep(); out_->push_back('['); Push(); }
  void EndArray() { Pop(); out_->push_back(']'); }
  void Key(std::string_view k) { Sep(); Escaped(k); out_->push_back(':'); after_key_ = true; }
  void String(std::string_view s) { Sep(); Escaped(s); }
  void Int(int64_t v);
  void Uint(uint64_t v);
  void Double(double v);
  void Float(float v);
  void Bool(bool b) { Sep(); out_->append(b ? "true" : "false"); }
  void Null() { Sep(); out_->append("null"); }
  // Appends already-serialized JSON as one value.
  void Raw(std::string_view json) { Sep(); out_->append(json); }
  void Parameter(const ParameterValue& v);
  void ParametersObject(const Parameters& p);

  std::string* out() { return out_; }

 private:
  void Escaped(std::string_view s) { AppendJsonString(out_, s); }
  void Sep() {
    if (after_key_) { after_key_ = false; return; }
    if (depth_ > 0) {
      uint64_t bit = uint64_t{1} << (depth_ - 1);
      if (nonempty_ & bit) out_->push_back(',');
      nonempty_ |= bit;
    }
  }
  void Push() { ++depth_; nonempty_ &= ~(uint64_t{1} << (depth_ - 1)); }
  void Pop() { --depth_; }

  std::string* out_;
  int depth_ = 0;          // nesting deeper than 64 is never produced by inferd's writers
  uint64_t nonempty_ = 0;  // bit d-1: the container at depth d has a member already
  bool after_key_ = false;
};

// Writes a tensor's elements as a JSON array: flat (V2) or nested by shape (V1 predictions).
// FP16/BF16 are written as numbers (used only by V1; V2 sends them binary).
void WriteTensorData(JsonWriter& w, const Tensor& t, bool nested);

}  // namespace inferd
