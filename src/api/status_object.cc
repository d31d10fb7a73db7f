// api/status_object.cc: Status bodies and field errors, worded as apimachinery words them (status_object.h).
#include "api/status_object.h"

#include <cctype>
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
  if (!text.empty()) return text;
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

StatusJson StatusObject(int code, std::string_view reason, std::string_view message, StatusJson details) {
  StatusJson st = StatusObject(code, reason, message);
  st.erase("code");
  st["details"] = std::move(details);
  st["code"] = code;  // apimachinery's order
  return st;
}

StatusJson StatusSuccess(std::string_view name, std::string_view group, std::string_view plural,
                         std::string_view uid) {
  StatusJson details{{"name", std::string(name)}};
  if (!group.empty()) details["group"] = std::string(group);
  details["kind"] = std::string(plural);
  details["uid"] = std::string(uid);
  return StatusJson{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", StatusJson::object()},
                    {"status", "Success"}, {"details", details}};
}

namespace {
bool StartsWith(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }
FieldError::Type TypeOfText(const std::string& text) {
  using T = FieldError::Type;
  if (StartsWith(text, "Required value") || StartsWith(text, "required")) return T::kRequired;
  if (StartsWith(text, "Unsupported value") || StartsWith(text, "unknown") ||
      text.find("not supported") != std::string::npos) {
    return T::kNotSupported;
  }
  if (StartsWith(text, "Forbidden")) return T::kForbidden;
  if (StartsWith(text, "Too long")) return T::kTooLong;
  if (StartsWith(text, "Too many")) return T::kTooMany;
  return T::kInvalid;
}
}  // namespace

FieldError FieldErrorFromText(const std::string& error) {
  FieldError e;
  e.text = error;
  auto colon = error.find(": ");
  if (colon != std::string::npos && colon > 0 && std::isalpha(static_cast<unsigned char>(error[0])) &&
      error.substr(0, colon).find(' ') == std::string::npos) {
    e.field = error.substr(0, colon);
    e.text = error.substr(colon + 2);
  }
  if (e.text.empty()) e.text = error;
  e.type = TypeOfText(e.text);
  return e;
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
    StatusJson cause{{"reason", e.Reason()}, {"message", e.ErrorBody()}};
    if (!e.field.empty()) cause["field"] = e.field;  // omitempty, as in apimachinery
    causes.push_back(std::move(cause));
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
