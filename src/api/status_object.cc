// api/status_object.cc: Status bodies and field errors, worded as apimachinery words them (status_object.h).
#include "api/status_object.h"

#include <set>

namespace inferd::api {

std::string FieldError::Reason() const {
  switch (type) {
    case Type::kInvalid: return "FieldValueInvalid";
    case Type::kTypeInvalid: return "FieldValueTypeInvalid";
    case Type::kRequired: return "FieldValueRequired";
    case Type::kNotSupported: return "FieldValueNotSupported";
    case Type::kTooLong: return "FieldValueTooLong";
    case Type::kTooMany: return "FieldValueTooMany";
    case Type::kForbidden: return "FieldValueForbidden";
  }
  return "FieldValueInvalid";
}

namespace {
std::string TypeText(FieldError::Type t) {
  switch (t) {
    case FieldError::Type::kInvalid:
    case FieldError::Type::kTypeInvalid: return "Invalid value";
    case FieldError::Type::kRequired: return "Required value";
    case FieldError::Type::kNotSupported: return "Unsupported value";
    case FieldError::Type::kTooLong: return "Too long";
    case FieldError::Type::kTooMany: return "Too many";
    case FieldError::Type::kForbidden: return "Forbidden";
  }
  return "Invalid value";
}

// Go's %q of a string: a double-quoted string with JSON-style escapes (close enough for messages).
std::string Quote(const std::string& s) { return StatusJson(s).dump(-1, ' ', false, StatusJson::error_handler_t::replace); }
}  // namespace

std::string FieldError::ErrorBody() const {
  std::string s = TypeText(type);
  bool with_value = type == Type::kInvalid || type == Type::kTypeInvalid || type == Type::kNotSupported ||
                    type == Type::kTooMany;
  if (with_value) {
    s += ": ";
    s += value.is_string() ? Quote(value.get<std::string>())
                           : value.dump(-1, ' ', false, StatusJson::error_handler_t::replace);
  }
  std::string d = detail;
  if (type == Type::kNotSupported && !supported.empty()) {
    d = "supported values: ";
    for (size_t i = 0; i < supported.size(); ++i) d += (i ? ", " : "") + Quote(supported[i]);
  }
  if (!d.empty()) s += ": " + d;
  return s;
}

StatusJson StatusObject(int code, std::string_view reason, std::string_view message) {
  return StatusJson{{"kind", "Status"},     {"apiVersion", "v1"},         {"metadata", StatusJson::object()},
                    {"status", "Failure"},  {"message", std::string(message)}, {"reason", std::string(reason)},
                    {"code", code}};
}

StatusJson InvalidStatus(std::string_view group, std::string_view kind, std::string_view name,
                         const std::vector<FieldError>& errors) {
  std::string qualified(kind);
  if (!group.empty()) qualified += "." + std::string(group);
  std::string message = qualified + " " + Quote(std::string(name)) + " is invalid";
  std::vector<std::string> texts;
  std::set<std::string> seen;
  StatusJson causes = StatusJson::array();
  for (const auto& e : errors) {
    causes.push_back({{"reason", e.Reason()}, {"message", e.ErrorBody()}, {"field", e.field}});
    if (seen.insert(e.Error()).second) texts.push_back(e.Error());
  }
  if (texts.size() == 1) {
    message += ": " + texts[0];
  } else if (!texts.empty()) {
    message += ": [";
    for (size_t i = 0; i < texts.size(); ++i) message += (i ? ", " : "") + texts[i];
    message += "]";
  }
  StatusJson st = StatusObject(422, "Invalid", message);
  StatusJson details = {{"name", std::string(name)}, {"group", std::string(group)}, {"kind", std::string(kind)},
                        {"causes", causes}};
  st["details"] = details;
  // apimachinery writes code after details; kubectl does not care about the order.
  return st;
}

}  // namespace inferd::api
