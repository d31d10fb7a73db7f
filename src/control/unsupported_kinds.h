// control/unsupported_kinds.h: the status of the kinds inferd stores and serves through its API but does not
// run yet: InferenceGraph (the graph router, inferd issue 17). Nothing is silently ignored: such an object shows
// Ready=False with reason NotSupported and a message naming the issue. (TrainedModels run:
// control/trained_models.h.)
//
// Contract: UnsupportedKindStatus is pure (time passed in); MarkUnsupportedKinds lists the kind and writes
// (UpdateStatus) only the statuses that differ, keeping lastTransitionTime of unchanged conditions. Called
// from the reconciler thread on every pass.
#pragma once

#include <string>

#include "store/store.h"

namespace inferd::control {

// The status for `obj` (an InferenceGraph).
store::Json UnsupportedKindStatus(const store::Json& obj, const std::string& now);

void MarkUnsupportedKinds(store::Store* db, const std::string& now);

}  // namespace inferd::control
