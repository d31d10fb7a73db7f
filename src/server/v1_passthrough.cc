#include "server/v1_passthrough.h"

#include <exception>

#include "core/clock.h"
#include "core/json_depth.h"

namespace inferd {

namespace {

// Runs `fn` as `model`'s work (see the header's contract).
StatusOr<PassThroughAnswer> RunAsModelWork(Model& model, const V1PassThrough& fn, const PassThroughCall& call,
                                           InferTiming* timing) {
  // The same nesting limit as every other body (one byte pass; this path runs Python or an explainer anyway).
  RETURN_IF_ERROR(CheckJsonDepth(call.body, "request body"));
  Model::PendingGuard pending = model.CountPending();
  int64_t t0 = NowNs();
  StatusOr<PassThroughAnswer> out = Internal("model raised an unknown exception");
  try {
    out = fn(call);
  } catch (const std::exception& e) {
    out = Internal(std::string("model raised an exception: ") + e.what());
  } catch (...) {
  }
  if (timing) {
    timing->queue_ns = 0;
    timing->compute_ns = NowNs() - t0;
  }
  if (!out.ok()) return model.WithModelName(out.status());
  return out;
}

class PassThroughOnlyBackend final : public Backend {
 public:
  PassThroughOnlyBackend(std::string name, std::string platform) {
    metadata_.name = std::move(name);
    metadata_.platform = std::move(platform);
    metadata_.v1_passthrough = true;
  }
  const ModelMetadata& metadata() const override { return metadata_; }
  bool dynamic_io() const override { return true; }
  Status Execute(std::span<const Tensor>, std::span<const int>, std::vector<Tensor>*) override {
    return Unimplemented("V2 inference is not served: this model answers V1 :predict and :explain only");
  }

 private:
  ModelMetadata metadata_;
};

}  // namespace

std::unique_ptr<Backend> NewPassThroughOnlyBackend(std::string name, std::string platform) {
  return std::make_unique<PassThroughOnlyBackend>(std::move(name), std::move(platform));
}

StatusOr<PassThroughAnswer> V1PassThroughs::Predict(Model& model, const PassThroughCall& call,
                                                    InferTiming* timing) const {
  if (NativeRestApi* api = model.backend().native_rest()) {  // the framework's own dialect (model/native_rest.h)
    const V1PassThrough bound = [api](const PassThroughCall& c) { return api->Predict(c); };
    return RunAsModelWork(model, bound, call, timing);
  }
  auto it = by_name_.find(model.name());
  if (it == by_name_.end()) {
    return Internal("model '" + model.name() + "' takes V1 bodies whole but has no V1 pass-through");
  }
  return RunAsModelWork(model, it->second, call, timing);
}

StatusOr<PassThroughAnswer> V1PassThroughs::NativeVerb(Model& model, std::string_view verb, const PassThroughCall& call,
                                                       InferTiming* timing) const {
  NativeRestApi* api = model.backend().native_rest();
  if (!api) return Unimplemented(":" + std::string(verb) + " is not implemented; use :predict");
  const bool classify = verb == "classify";
  const V1PassThrough bound = [api, classify](const PassThroughCall& c) {
    return classify ? api->Classify(c) : api->Regress(c);
  };
  return RunAsModelWork(model, bound, call, timing);
}

StatusOr<PassThroughAnswer> V1PassThroughs::Explain(Model& model, const PassThroughCall& call,
                                                    InferTiming* timing) const {
  auto it = explainers_.find(model.name());
  if (it != explainers_.end()) return RunAsModelWork(model, it->second, call, timing);
  if (!default_explainer_) return Unimplemented("model '" + model.name() + "' has no explainer");
  const V1PassThrough bound = [&](const PassThroughCall& c) { return default_explainer_(model, c); };
  return RunAsModelWork(model, bound, call, timing);
}

}  // namespace inferd
