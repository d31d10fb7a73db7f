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
// - FieldErrorFromText: an error worded "<field path>: <text>" (how resources/' validators word theirs) as a
//   FieldError whose ErrorBody is <text> as written; the type (and so the cause's reason) is read from how the
//   text starts ("Required value"/"required" -> Required, "Unsupported value"/"unknown"/"not supported" ->
//   NotSupported, "Forbidden", "Too long", "Too many", else Invalid). Text without a field path: field "".
// - StatusObject with details (NotFound/Conflict answers carry {name, group, kind}); StatusSuccess: what a
//   delete answers when the object is gone at once, {"status":"Success","details":{name, group, kind: <plural>,
//   uid}}.
// (One builder for both helpers of issue 14: `crds` wrote FieldError/InvalidStatus, `writes` added the text
// form, details and Success.)
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
  std::string text;             // set: the whole body, worded by a validator (FieldErrorFromText)

  std::string Reason() const;     // "FieldValueInvalid", "FieldValueTypeInvalid", "FieldValueRequired", ...
  std::string ErrorBody() const;  // "Invalid value: -1: spec.x in body should be greater than or equal to 0"
  std::string Error() const { return field.empty() ? ErrorBody() : field + ": " + ErrorBody(); }
};

StatusJson StatusObject(int code, std::string_view reason, std::string_view message);
StatusJson StatusObject(int code, std::string_view reason, std::string_view message, StatusJson details);
StatusJson StatusSuccess(std::string_view name, std::string_view group, std::string_view plural, std::string_view uid);

FieldError FieldErrorFromText(const std::string& error);

// group "" for core kinds (the message then has no ".<group>").
StatusJson InvalidStatus(std::string_view group, std::string_view kind, std::string_view name,
                         const std::vector<FieldError>& errors);

}  // namespace inferd::api
