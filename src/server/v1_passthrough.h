// server/v1_passthrough.h: KServe V1 :predict bodies handed whole to a model that takes them itself.
//
// KServe's Python server gives a custom model (a kserve.Model subclass) the parsed V1 body, and the
// model answers with any JSON value. inferd's Backend seam (model/backend.h) carries tensors only, so
// this path is a front-end adapter beside it: a model whose metadata().v1_passthrough is true has a
// V1PassThrough registered here under its name (custom Python models: LoadPythonModels in
// backends/python/python_model_backend.h), and the REST front end sends its V1 bodies here.
//
// Contract:
// - A V1PassThrough takes the body (JSON text) and returns the JSON text of the answer, or a Status
//   whose code the front end maps to HTTP as for Infer. It may be called from any number of threads.
// - V1PassThroughs is filled before the front ends start and only read afterwards (no lock).
// - Predict checks the body's JSON nesting (core/json_depth.h) before the model sees it, then runs the
//   model's pass-through as the model's work: counted in Model::pending(), timed into `timing`
//   (compute_ns; queue_ns is 0: nothing serializes it), exceptions turned into kInternal, failures
//   named by Model::WithModelName. A model without a registered pass-through is kInternal.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"
#include "model/model.h"

namespace inferd {

using V1PassThrough = std::function<StatusOr<std::string>(std::string_view body)>;

class V1PassThroughs {
 public:
  void Add(std::string model_name, V1PassThrough fn) { by_name_[std::move(model_name)] = std::move(fn); }
  bool empty() const { return by_name_.empty(); }

  StatusOr<std::string> Predict(Model& model, std::string_view body, InferTiming* timing) const;

 private:
  std::unordered_map<std::string, V1PassThrough> by_name_;
};

}  // namespace inferd
