// api/status_object.cc: metav1.Status bodies (see status_object.h for the contract).
#include "api/status_object.h"

#include <cctype>

namespace inferd::api {

Json StatusFailure(int code, const std::string& reason, const std::string& message, Json details) {
  Json j{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
         {"status", "Failure"}, {"message", message}, {"reason", reason}};
  if (!details.is_null()) j["details"] = std::move(details);
  j["code"] = code;
  return j;
}

Json StatusSuccess(const std::string& name, const std::string& group, const std::string& plural,
                   const std::string& uid) {
  Json details{{"name", name}};
  if (!group.empty()) details["group"] = group;
  details["kind"] = plural;
  details["uid"] = uid;
  return Json{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
              {"status", "Success"}, {"details", details}};
}

namespace {
bool StartsWith(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

std::string ReasonFor(const std::string& text) {
  if (StartsWith(text, "Required value") || StartsWith(text, "required")) return "FieldValueRequired";
  if (StartsWith(text, "Unsupported value") || StartsWith(text, "unknown") ||
      text.find("not supported") != std::string::npos) {
    return "FieldValueNotSupported";
  }
  if (StartsWith(text, "Forbidden")) return "FieldValueForbidden";
  if (StartsWith(text, "Duplicate value")) return "FieldValueDuplicate";
  if (StartsWith(text, "Too long")) return "FieldValueTooLong";
  return "FieldValueInvalid";
}
}  // namespace

FieldCause CauseFromError(const std::string& error) {
  auto colon = error.find(": ");
  if (colon != std::string::npos && colon > 0 && std::isalpha(static_cast<unsigned char>(error[0]))) {
    std::string field = error.substr(0, colon);
    if (field.find(' ') == std::string::npos) {
      std::string text = error.substr(colon + 2);
      return FieldCause{ReasonFor(text), text, field};
    }
  }
  return FieldCause{ReasonFor(error), error, ""};
}

Json InvalidStatus(const std::string& kind, const std::string& group, const std::string& name,
                   const std::vector<std::string>& errors) {
  std::string what = group.empty() ? kind : kind + "." + group;
  std::string list;
  for (size_t i = 0; i < errors.size(); ++i) list += (i ? ", " : "") + errors[i];
  if (errors.size() != 1) list = "[" + list + "]";
  Json causes = Json::array();
  for (const auto& e : errors) {
    FieldCause c = CauseFromError(e);
    Json cj{{"reason", c.reason}, {"message", c.message}};
    if (!c.field.empty()) cj["field"] = c.field;
    causes.push_back(std::move(cj));
  }
  Json details{{"name", name}};
  if (!group.empty()) details["group"] = group;
  details["kind"] = kind;
  details["causes"] = std::move(causes);
  return StatusFailure(422, "Invalid", what + " \"" + name + "\" is invalid: " + list, std::move(details));
}

}  // namespace inferd::api
