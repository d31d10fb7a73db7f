// api/schema.h: an object checked against a CRD's structural OpenAPI v3 schema the way Kubernetes' API server
// checks a custom resource (config/crd/*.yaml, compiled in through api/crds.h), so that what inferd accepts is
// what a cluster with those CRDs accepts, and a refusal names the same field.
//
// Contract (CheckAgainstSchema, a pure function of its inputs):
// - Unknown fields (not in `properties`, no `additionalProperties`, no x-kubernetes-preserve-unknown-fields on
//   the object) are collected as paths ("spec.predictor.foo", "spec.containers[0].foo", "metadata.bar"),
//   sorted, and, with prune, removed from the object, as Kubernetes prunes them. `metadata` at the root
//   is checked against ObjectMeta's field names (its values are the validators' business).
// - null values of object fields are dropped (Kubernetes drops nulls of non-nullable fields).
// - Value errors, as field errors (status_object.h) with apimachinery's wording: a wrong type is
//   FieldValueTypeInvalid ("spec.x in body must be of type integer: \"string\""); enum -> FieldValueNotSupported;
//   minimum/maximum, minLength, pattern, minItems -> FieldValueInvalid ("... should be greater than or equal
//   to 0"); maxLength -> FieldValueTooLong; maxItems -> FieldValueTooMany; a missing required field ->
//   FieldValueRequired. x-kubernetes-int-or-string accepts an integer or a string.
// - Inside a preserve-unknown-fields object without properties nothing is checked or pruned.
// - Bounded: the walk follows the schema (finite); the object was parsed with kMaxJsonDepth; patterns are
//   matched only on strings of at most kMaxPatternInput bytes (longer ones fail the pattern: std::regex
//   recurses per character), and at most kMaxReported errors and unknown fields are collected (the totals are
//   counted).
// FieldValidation: the `fieldValidation` query parameter (Strict, Warn, Ignore; absent or empty = Warn, as in
// Kubernetes 1.27+).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/status_object.h"
#include "core/status.h"

namespace inferd::api {

using SchemaJson = nlohmann::ordered_json;

inline constexpr size_t kMaxPatternInput = 4096;
inline constexpr size_t kMaxReported = 64;

struct SchemaResult {
  std::vector<FieldError> errors;
  std::vector<std::string> unknown_fields;
  size_t total_errors = 0, total_unknown = 0;  // including those past kMaxReported
};

// `schema` is a version's openAPIV3Schema (the object's root). With prune, unknown fields are removed from obj.
SchemaResult CheckAgainstSchema(const SchemaJson& schema, SchemaJson& obj, bool prune);

enum class FieldValidation { kStrict, kWarn, kIgnore };
// "" / absent -> Warn; anything but Strict/Warn/Ignore is an error naming the supported values.
StatusOr<FieldValidation> ParseFieldValidation(std::string_view value);

// The unknown fields as the API server words them: `unknown field "spec.predictor.foo"` (one per path).
std::string UnknownFieldText(const std::string& path);

}  // namespace inferd::api
