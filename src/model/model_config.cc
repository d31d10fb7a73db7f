#include "model/model_config.h"

#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json_depth.h"

namespace inferd {

namespace {

std::string_view JsonTypeName(simdjson::dom::element_type t) {
  switch (t) {
    case simdjson::dom::element_type::ARRAY: return "an array";
    case simdjson::dom::element_type::OBJECT: return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64: return "an integer";
    case simdjson::dom::element_type::DOUBLE: return "a number with a fraction or exponent";
    case simdjson::dom::element_type::STRING: return "a string";
    case simdjson::dom::element_type::BOOL: return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
  }
  return "unknown";
}

// Reads integer key `key` into *v when present; checks [lo, hi].
Status ReadInt(simdjson::dom::object obj, std::string_view key, int64_t lo, int64_t hi, std::string_view file,
               int64_t* v) {
  simdjson::dom::element e;
  if (obj[key].get(e) != simdjson::SUCCESS) return Status::Ok();  // absent: keep the default
  auto where = [&] { return std::string(file) + ": key '" + std::string(key) + "'"; };
  auto range = [&](const std::string& got) {
    return InvalidArgument(where() + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                           ", got " + got);
  };
  if (e.type() == simdjson::dom::element_type::UINT64) {  // above INT64_MAX
    return range(std::to_string(e.get_uint64().value_unsafe()));
  }
  if (e.type() != simdjson::dom::element_type::INT64) {
    return InvalidArgument(where() + " must be an integer, got " + std::string(JsonTypeName(e.type())));
  }
  int64_t x = e.get_int64().value_unsafe();
  if (x < lo || x > hi) return range(std::to_string(x));
  *v = x;
  return Status::Ok();
}

}  // namespace

StatusOr<ModelConfig> ParseModelConfig(std::string_view json, const ModelConfig& defaults, std::string_view file) {
  simdjson::dom::parser parser;
  RETURN_IF_ERROR(LimitJsonDepth(parser));
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err) {
    if (err == simdjson::DEPTH_ERROR) return JsonTooDeep(file);
    return InvalidArgument(std::string(file) + ": malformed JSON: " + simdjson::error_message(err));
  }
  simdjson::dom::object obj;
  if (doc.get(obj) != simdjson::SUCCESS) {
    return InvalidArgument(std::string(file) + ": must be a JSON object, got " + std::string(JsonTypeName(doc.type())));
  }
  ModelConfig c = defaults;
  BatchingConfig& b = c.batching;
  constexpr int64_t kMaxRows = int64_t{1} << 31;
  RETURN_IF_ERROR(ReadInt(obj, "max_batch_size", 0, kMaxRows, file, &b.max_batch_size));
  RETURN_IF_ERROR(ReadInt(obj, "max_latency_us", 0, int64_t{3600} * 1000 * 1000, file, &b.max_latency_us));
  RETURN_IF_ERROR(ReadInt(obj, "max_queue_size", 1, int64_t{1} << 24, file, &b.max_queue_size));
  RETURN_IF_ERROR(ReadInt(obj, "instances", 1, 1024, file, &b.instances));
  return c;
}

StatusOr<ModelConfig> LoadModelConfig(const std::string& dir, const ModelConfig& defaults, bool* found) {
  namespace fs = std::filesystem;
  if (found) *found = false;
  fs::path p = fs::path(dir) / kModelSettingsFile;
  std::error_code ec;
  if (!fs::exists(p, ec)) return defaults;
  std::ifstream in(p, std::ios::binary);
  if (!in) return InvalidArgument(p.string() + ": cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  if (found) *found = true;
  return ParseModelConfig(ss.str(), defaults, p.string());
}

}  // namespace inferd
