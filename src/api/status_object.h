// api/status_object.h: Kubernetes' metav1.Status, the body of every API error (and of a delete's success),
// built in one place so that kubectl and client-go print and classify them as they do a real apiserver's.
//
// Contract:
// - StatusFailure: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message","reason",
//   "code"} plus "details" when given (client-go only treats a body as a structured error when kind is
//   Status and status Failure).
// - StatusSuccess: what a delete answers when the object is gone at once: {"status":"Success","details":
//   {"name","group","kind":<plural>,"uid"}}.
// - Invalid (422): message `<Kind>.<group> "<name>" is invalid: <error>` (several errors: `[e1, e2]`), details
//   {name, group, kind: <Kind>, causes}. Each error of the form "<field path>: <text>" (how resources/'
//   validators and the CRD schema checks word them) becomes a cause {reason, message: <text>, field: <path>};
//   the reason is the Kubernetes field-error type the text starts with ("Required value" or "required" ->
//   FieldValueRequired, "Unsupported value"/"unknown"/"not supported" -> FieldValueNotSupported,
//   "Forbidden" -> FieldValueForbidden, "Duplicate value" -> FieldValueDuplicate, "Too long" ->
//   FieldValueTooLong, else FieldValueInvalid). An error without a field path is a cause with no field.
// Pure functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "store/store.h"

namespace inferd::api {

using store::Json;

Json StatusFailure(int code, const std::string& reason, const std::string& message, Json details = nullptr);
Json StatusSuccess(const std::string& name, const std::string& group, const std::string& plural,
                   const std::string& uid);

struct FieldCause {
  std::string reason, message, field;
};
FieldCause CauseFromError(const std::string& error);

// `kind` "InferenceService", `group` "serving.kserve.io" ("" for the core group).
Json InvalidStatus(const std::string& kind, const std::string& group, const std::string& name,
                   const std::vector<std::string>& errors);

}  // namespace inferd::api
