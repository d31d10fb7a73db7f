#include "explain/explain_request.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/json_depth.h"

namespace inferd::explain {

namespace {

using Json = nlohmann::ordered_json;

constexpr size_t kMaxRowElements = size_t{1} << 24;

// Appends the numbers of `v` (nested lists, row-major) to *out, recording the nesting in *shape the first
// time (`first`) and checking it against *shape afterwards.
Status Flatten(const Json& v, size_t depth, bool first, Shape* shape, std::vector<double>* out,
               const std::string& where) {
  if (v.is_null()) {
    if (!first && depth != shape->size()) return InvalidArgument(where + ": rows differ in shape");
    out->push_back(std::numeric_limits<double>::quiet_NaN());
    return Status::Ok();
  }
  if (v.is_number()) {
    if (!first && depth != shape->size()) return InvalidArgument(where + ": rows differ in shape");
    out->push_back(v.get<double>());
    return Status::Ok();
  }
  if (!v.is_array()) {
    return InvalidArgument(where + ": " + std::string(v.type_name()) +
                           " is not a number; explanations need numeric features");
  }
  if (first && depth == shape->size()) {
    shape->push_back(static_cast<int64_t>(v.size()));
  } else if (depth >= shape->size() || (*shape)[depth] != static_cast<int64_t>(v.size())) {
    return InvalidArgument(where + ": rows differ in shape");
  }
  if (out->size() + v.size() > kMaxRowElements) return InvalidArgument(where + ": too many values");
  size_t i = 0;
  for (const Json& e : v) {
    RETURN_IF_ERROR(Flatten(e, depth + 1, first && i == 0, shape, out, where + "[" + std::to_string(i) + "]"));
    ++i;
  }
  return Status::Ok();
}

Status ReadRows(const Json& list, const std::string& field, Rows* rows) {
  if (!list.is_array()) return InvalidArgument(field + ": expected a list of rows");
  if (list.empty()) return InvalidArgument(field + ": no rows");
  size_t i = 0;
  for (const Json& row : list) {
    const std::string where = field + "[" + std::to_string(i) + "]";
    const size_t before = rows->values.size();
    // A row that is a bare number is a one-feature row.
    RETURN_IF_ERROR(Flatten(row, 0, i == 0, &rows->shape, &rows->values, where));
    if (i == 0) {
      rows->width = rows->values.size();
      if (rows->width == 0) return InvalidArgument(where + ": an empty row");
    } else if (rows->values.size() - before != rows->width) {
      return InvalidArgument(where + ": rows differ in shape");
    }
    ++i;
  }
  rows->count = i;
  if (rows->shape.empty()) rows->shape = {1};  // rows that are bare numbers: one feature each
  return Status::Ok();
}

// The nesting limit first (Flatten recurses once per level), then the parser.
StatusOr<Json> Parse(std::string_view text, const std::string& what) { return ParseBoundedJson(text, what); }

}  // namespace

StatusOr<Rows> ParseRows(std::string_view text, const std::string& what) {
  ASSIGN_OR_RETURN(Json doc, Parse(text, what));
  const Json* list = &doc;
  if (doc.is_object()) {
    auto it = doc.find("instances");
    if (it == doc.end()) return InvalidArgument(what + ": expected a list of rows or {\"instances\": [...]}");
    list = &*it;
  }
  Rows rows;
  RETURN_IF_ERROR(ReadRows(*list, what, &rows));
  return rows;
}

StatusOr<ExplainRequest> ParseExplainRequest(std::string_view body) {
  ASSIGN_OR_RETURN(Json doc, Parse(body, "request body"));
  if (!doc.is_object()) return InvalidArgument("request body: expected a JSON object");
  ExplainRequest r;
  bool has_instances = false;
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    const std::string& key = it.key();
    const Json& v = it.value();
    if (key == "instances") {
      RETURN_IF_ERROR(ReadRows(v, "instances", &r.instances));
      has_instances = true;
    } else if (key == "method") {
      const std::string m = v.is_string() ? v.get<std::string>() : std::string();
      if (m == "auto") r.method = Method::kAuto;
      else if (m == "tree") r.method = Method::kTree;
      else if (m == "kernel") r.method = Method::kKernel;
      else return InvalidArgument("method: expected \"auto\", \"tree\" or \"kernel\"");
    } else if (key == "interactions") {
      if (!v.is_boolean()) return InvalidArgument("interactions: expected true or false");
      r.interactions = v.get<bool>();
    } else if (key == "nsamples") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1) return InvalidArgument("nsamples: expected a positive integer");
      r.nsamples = v.get<int64_t>();
    } else if (key == "seed") {
      if (!v.is_number_integer() || v.get<int64_t>() < 0) return InvalidArgument("seed: expected a non-negative integer");
      r.seed = static_cast<uint64_t>(v.get<int64_t>());
    } else if (key == "background") {
      RETURN_IF_ERROR(ReadRows(v, "background", &r.background));
      r.has_background = true;
    } else {
      return InvalidArgument("unknown field '" + key +
                             "': an explain request takes instances, method, interactions, nsamples, background, seed");
    }
  }
  if (!has_instances) return InvalidArgument("instances: missing (an explain request is {\"instances\": [[...], ...]})");
  if (r.instances.count > kMaxExplainInstances) {
    return InvalidArgument("instances: " + std::to_string(r.instances.count) + " rows, at most " +
                           std::to_string(kMaxExplainInstances));
  }
  if (r.has_background && r.background.shape != r.instances.shape) {
    return InvalidArgument("background: rows of another shape than the instances");
  }
  return r;
}

}  // namespace inferd::explain
