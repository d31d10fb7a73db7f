// core/json_field.h: the one way inferd reads an optional member of a JSON object it did not validate (an API
// body, a stored row, an object from a Kubernetes API server): no exception for any shape.
//
// Contract: JsonField is the member `key` of `obj`, or null when `obj` is not an object, has no such member, or
// the member is JSON null (Kubernetes treats an explicit null as absent). JsonStringField is that member's
// text when it is a string, else `fallback`. Pure; the pointer lives as long as `obj`.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace inferd {

inline const nlohmann::ordered_json* JsonField(const nlohmann::ordered_json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

inline std::string JsonStringField(const nlohmann::ordered_json& obj, std::string_view key,
                                   std::string_view fallback = {}) {
  const nlohmann::ordered_json* v = JsonField(obj, key);
  return v && v->is_string() ? v->get<std::string>() : std::string(fallback);
}

}  // namespace inferd
