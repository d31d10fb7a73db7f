// api/status_object.h: Kubernetes' metav1 Status objects, the error bodies of the API (and kubectl's input
// for its error lines). One builder per shape, for every handler that answers an error:
// - StatusObject: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message","reason","code"}.
// - FieldError: one of apimachinery's field errors (type = the StatusCause reason, field = the path written
//   as Kubernetes does, "spec.predictor.minReplicas", "spec.containers[0].name"), and ErrorBody(), the text
//   after "<field>: " ("Invalid value: -1: ...", "Required value", "Unsupported value: \"x\": supported
//   values: \"a\", \"b\"").
// - InvalidStatus: apimachinery's NewInvalid: code 422, reason Invalid, details {name, group, kind, causes:
//   [{reason, message, field}]}, message `<Kind>.<group> "<name>" is invalid: <field>: <body>` (several errors:
//   `[e1, e2]`, duplicates once). kubectl prints it as `The <Kind> "<name>" is invalid: <field>: <body>`.
// Pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace inferd::api {

using StatusJson = nlohmann::ordered_json;

struct FieldError {
  enum class Type { kInvalid, kTypeInvalid, kRequired, kNotSupported, kTooLong, kTooMany, kForbidden };
  Type type = Type::kInvalid;
  std::string field;
  StatusJson value;             // the bad value (Invalid, TypeInvalid, NotSupported, TooMany)
  std::string detail;           // after the value ("spec.x in body should be ...")
  std::vector<std::string> supported;  // NotSupported: the allowed values

  std::string Reason() const;     // "FieldValueInvalid", "FieldValueTypeInvalid", "FieldValueRequired", ...
  std::string ErrorBody() const;  // "Invalid value: -1: spec.x in body should be greater than or equal to 0"
  std::string Error() const { return field + ": " + ErrorBody(); }
};

StatusJson StatusObject(int code, std::string_view reason, std::string_view message);

// group "" for core kinds (the message then has no ".<group>").
StatusJson InvalidStatus(std::string_view group, std::string_view kind, std::string_view name,
                         const std::vector<FieldError>& errors);

}  // namespace inferd::api
