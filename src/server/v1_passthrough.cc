#include "server/v1_passthrough.h"

#include <exception>

#include "core/clock.h"
#include "core/json_depth.h"

namespace inferd {

StatusOr<std::string> V1PassThroughs::Predict(Model& model, std::string_view body, InferTiming* timing) const {
  // The same nesting limit as every other body (one byte pass; this path runs Python anyway).
  RETURN_IF_ERROR(CheckJsonDepth(body, "request body"));
  auto it = by_name_.find(model.name());
  if (it == by_name_.end()) {
    return Internal("model '" + model.name() + "' takes V1 bodies whole but has no V1 pass-through");
  }
  Model::PendingGuard pending = model.CountPending();
  int64_t t0 = NowNs();
  StatusOr<std::string> out = Internal("model raised an unknown exception");
  try {
    out = it->second(body);
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

}  // namespace inferd
