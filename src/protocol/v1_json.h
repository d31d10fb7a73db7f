// protocol/v1_json.h: KServe V1 (TensorFlow Serving style) :predict bodies.
//
// Contract: pure functions, any thread. Row format {"instances": [...]} and columnar format
// {"inputs": ...} are mapped onto the model's inputs (V1 has no datatypes: all-integer data becomes
// INT64, other numbers FP64, strings and {"b64": ...} BYTES, booleans BOOL; the model layer then
// converts to the declared datatype). The answer is {"predictions": ...} (or {"outputs": ...} for the
// columnar form) nested by the output's shape.
#pragma once

#include <string>
#include <string_view>

#include "tensor/infer_types.h"

namespace inferd {

enum class V1Form { kInstances, kInputs };

Status ParseV1PredictRequest(std::string_view body, const ModelMetadata& md, InferRequest* out, V1Form* form);

void WriteV1PredictResponse(const Tensor& output, V1Form form, std::string* out);

}  // namespace inferd
