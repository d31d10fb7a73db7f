// server/in_process.h: the in-process transformer (docs/pipeline.md): a model server started with both a
// Python program (--python / --python_module) and a native model (--model_dir / --model_name) lets the
// Python model of the same name call the native model directly from its default predict, with no HTTP.
//
// Contract: InProcessCalls(model) returns the calls backends/python/native_module.h installs for `model`
// (kept alive by the returned functions): a V1 dict goes through the native V1 codec (the same parsing
// and answer as `POST /v1/models/<m>:predict`; its `instances` rows, when they are plain numbers, walked
// into one tensor without JSON in between), an InferRequest's tensors go to Model::Infer. Both run
// on the calling thread with the GIL released; failures keep their Status code in the message's prefix
// ("InvalidInput : ..." for kInvalidArgument, "InferenceError : ..." otherwise).
#pragma once

#include <memory>

#include "backends/python/native_module.h"
#include "model/model.h"

namespace inferd {

NativeModelCalls InProcessCalls(std::shared_ptr<Model> model);

}  // namespace inferd
