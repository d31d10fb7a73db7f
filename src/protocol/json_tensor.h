// protocol/json_tensor.h: JSON values <-> tensor contents, shared by the V1 and V2 codecs.
//
// Contract: pure functions over simdjson DOM elements; no state, any thread. Every error names the
// field it was given (e.g. "inputs[0].data").
#pragma once

#include <simdjson.h>

#include <string>

#include "tensor/infer_types.h"

namespace inferd {

// Flattens `data` (nested arrays or a flat array, or a scalar) into `t`'s owned contents with
// datatype t->dtype(). Stops with an error as soon as more than `max_elements` elements are seen,
// so a small shape cannot make a large body allocate. Sets *count to the number of elements written.
// `allow_b64` accepts {"b64": "..."} objects for BYTES (TF Serving / KServe V1 form).
Status FillTensorFromJson(simdjson::dom::element data, int64_t max_elements, bool allow_b64, Tensor* t,
                          int64_t* count, const std::string& field);

// Infers the shape of a nested JSON array (must be rectangular; checked while filling) and a datatype
// for V1: all integers -> INT64, any other number -> FP64, strings or b64 objects -> BYTES, bools -> BOOL.
Status InferJsonShapeAndType(simdjson::dom::element data, Shape* shape, DataType* dtype, const std::string& field);

// Parameters object -> Parameters (values must be bool, number or string).
Status ParseParameters(simdjson::dom::element obj, Parameters* out, const std::string& field);

// A per-thread simdjson parser (simdjson parsers are reusable but not thread-safe).
simdjson::dom::parser& ThreadLocalParser();

// Parses `json` (copied into simdjson's padded buffer) with the thread's parser; the element is valid
// until the next parse on this thread. Errors say where the JSON is malformed.
Status ParseJson(std::string_view json, simdjson::dom::element* out, const char* what);

}  // namespace inferd
