// control/kserve_stub.h: the `kserve` package that a custom predictor's plain Python process finds under
// `inferd serve` (control/kserve_stub.py says what it does: it re-executes the program as `inferd model-server
// --python`, where inferd's kserve module lives).
//
// Contract: InstallKserveStub writes DIR/kserve/__init__.py (DIR created; the file replaced atomically) and
// returns DIR, the directory a replica's PYTHONPATH gets; called once at serve start-up, before any replica.
#pragma once

#include <string>

#include "core/status.h"

namespace inferd::control {

extern const char* const kKserveStubSource;  // control/kserve_stub.py (embedded at build time)

StatusOr<std::string> InstallKserveStub(const std::string& dir);

}  // namespace inferd::control
