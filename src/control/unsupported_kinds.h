// control/unsupported_kinds.h: the status of the kinds inferd stores and serves through its API but does not
// run yet: InferenceGraph (the graph router) and TrainedModel (multi-model serving), both inferd issue 17.
// Nothing is silently ignored: each such object shows Ready=False with reason NotSupported and a message
// naming the issue; a TrainedModel also gets KServe's InferenceServiceReady condition for its
// spec.inferenceService (True when that InferenceService is Ready; False with KServe's reason
// InferenceServiceNotReady otherwise, or InferenceServiceNotFound when it does not exist).
//
// Contract: UnsupportedKindStatus is pure (time passed in); MarkUnsupportedKinds lists TrainedModels (InferenceGraphs
// are served now: control/graphs.h) and writes
// (UpdateStatus) only the statuses that differ, keeping lastTransitionTime of unchanged conditions. Called
// from the reconciler thread on every pass.
#pragma once

#include <optional>
#include <string>

#include "store/store.h"

namespace inferd::control {

// The status for `obj` (an InferenceGraph or TrainedModel). `isvc_ready` (TrainedModel only): whether its
// InferenceService is Ready, nullopt when it does not exist.
store::Json UnsupportedKindStatus(const store::Json& obj, std::optional<bool> isvc_ready, const std::string& now);

void MarkUnsupportedKinds(store::Store* db, const std::string& now);

}  // namespace inferd::control
