// server/v1_passthrough.h: KServe V1 bodies handed whole to a model that takes them itself, for :predict and
// :explain.
//
// KServe's Python server gives a custom model (a kserve.Model subclass) the parsed V1 body and the request's
// headers, and the model answers with any JSON value (and, with return_response_headers, headers). inferd's
// Backend seam (model/backend.h) carries tensors only, so this path is a front-end adapter beside it:
// - :predict: a model whose metadata().v1_passthrough is true has a V1PassThrough registered here under its
//   name with Add (custom Python models: LoadPythonModels in backends/python/python_model_backend.h), and the
//   REST front end sends its V1 bodies here. So does a model whose backend speaks its framework's own dialect
//   (Backend::native_rest(), model/native_rest.h: TF Serving's API for TensorFlow): Predict runs that instead.
// - :explain: any model may have an explainer registered with AddExplainer (a Python model's explain(), a
//   native explainer such as TreeSHAP or KernelSHAP, ART's attack); the REST front end sends
//   `POST /v1/models/<m>:explain` bodies here. A model without a registered explainer goes to the
//   default explainer (SetDefaultExplainer: inferd's TreeSHAP/KernelSHAP, explain/explainer.h), which gets
//   the Model at call time, so models loaded later through the repository API are explained too; with no
//   default either, the answer is 501 "model '<m>' has no explainer". A registered explainer (a Python
//   model's own explain()) always wins over the default.
//
// Contract:
// - A V1PassThrough takes a PassThroughCall (the body as JSON text; the request's headers when the server
//   collects them, ServerOptions::collect_headers) and returns a PassThroughAnswer (JSON text, extra response
//   headers), or a Status whose code the front end maps to HTTP as for Infer. It may be called from any
//   number of threads. The call's views are valid only during the call.
// - V1PassThroughs is filled before the front ends start and only read afterwards (no lock).
// - Predict and Explain check the body's JSON nesting (core/json_depth.h) before the model sees it, then run
//   the registered function as the model's work: counted in Model::pending(), timed into `timing`
//   (compute_ns; queue_ns is 0: nothing serializes it), exceptions turned into kInternal, failures named by
//   Model::WithModelName. Predict for a model without a registered pass-through is kInternal; Explain for a
//   model without an explainer is kUnimplemented (501, KServe's answer when a model has no explain).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "model/backend.h"
#include "model/model.h"
#include "model/passthrough.h"

namespace inferd {

// The Backend of a model served only through pass-throughs (ModelServerConfig::passthrough_models): metadata
// with v1_passthrough set, dynamic I/O, and Execute (V2 inference) answering 501 naming the model.
std::unique_ptr<Backend> NewPassThroughOnlyBackend(std::string name, std::string platform);

class V1PassThroughs {
 public:
  void Add(std::string model_name, V1PassThrough fn) { by_name_[std::move(model_name)] = std::move(fn); }
  void AddExplainer(std::string model_name, V1PassThrough fn) { explainers_[std::move(model_name)] = std::move(fn); }
  bool empty() const { return by_name_.empty() && explainers_.empty(); }
  bool HasExplainer(const std::string& model_name) const { return explainers_.contains(model_name); }
  // The explainer of every model that has none registered.
  using ModelExplainer = std::function<StatusOr<PassThroughAnswer>(Model& model, const PassThroughCall& call)>;
  void SetDefaultExplainer(ModelExplainer fn) { default_explainer_ = std::move(fn); }

  StatusOr<PassThroughAnswer> Predict(Model& model, const PassThroughCall& call, InferTiming* timing) const;
  StatusOr<PassThroughAnswer> Explain(Model& model, const PassThroughCall& call, InferTiming* timing) const;
  // :classify / :regress (`verb`) of a model whose backend speaks its own dialect (model/native_rest.h), run as
  // Predict runs; a model without one is kUnimplemented.
  StatusOr<PassThroughAnswer> NativeVerb(Model& model, std::string_view verb, const PassThroughCall& call,
                                         InferTiming* timing) const;

 private:
  std::unordered_map<std::string, V1PassThrough> by_name_;
  std::unordered_map<std::string, V1PassThrough> explainers_;
  ModelExplainer default_explainer_;
};

}  // namespace inferd
