// tensor/infer_types.h: the protocol-neutral request, response and metadata types.
//
// Contract: plain values shared by every layer (protocol codecs fill them from bytes, the model layer
// validates and executes them, codecs turn responses back into bytes). An InferRequest's input tensors
// may be views into the request buffer; whoever owns that buffer keeps it alive until the response has
// been encoded. Not synchronized.
#pragma once

#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace inferd {

// One input or output of a model as its metadata declares it. Shape may contain -1 (variable).
struct TensorSpec {
  std::string name;
  DataType dtype = DataType::kInvalid;
  Shape shape;
};

struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;  // e.g. "xgboost"
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;
  // How the runtime executes this model when it has more than one way ("native", "python"); written
  // in V2 REST metadata as parameters.execution when set.
  std::string execution = {};
  // Index into `outputs` of the output that KServe V1 `predictions` are made of.
  int v1_output = 0;
  // True when V1 :predict bodies go to the model whole, as KServe's Python server hands a custom model
  // the parsed body (custom Python models). The front end that does it is server/v1_passthrough.h; the
  // Backend seam (model/backend.h) carries tensors only.
  bool v1_passthrough = false;
};

struct RequestedOutput {
  std::string name;
  Parameters parameters;  // binary_data: bool, ...
};

struct InferRequest {
  std::string model_name;
  std::string model_version;
  std::string id;
  Parameters parameters;
  std::vector<Tensor> inputs;
  std::vector<RequestedOutput> outputs;  // empty: all outputs
  // True for KServe V1 bodies, whose datatypes were inferred from JSON: their booleans may then be converted
  // to a numeric input (as KServe's numpy does). Typed (V2) BOOL data for a numeric input is refused.
  bool inferred_datatypes = false;
};

struct InferResponse {
  std::string model_name;
  std::string model_version;
  std::string id;
  Parameters parameters;
  std::vector<Tensor> outputs;
};

}  // namespace inferd
