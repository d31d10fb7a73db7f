// backends/fault/fault_backend.h: a fault-injection backend for tests (LevelDB's Env-seam idea).
//
// Contract: format "fault", registered only when the environment has INFERD_FAULT_INJECTION=1, so it
// never shows up for users. A model dir holds one `*.fault` file, a JSON object:
//   {"sleep_ms": 0, "throw": "", "fail_load": "", "load_sleep_ms": 0, "datatype": "FP32"}
// Execute echoes its single input ("input-0", shape [-1,-1] of `datatype`) as "output-0" after
// sleeping sleep_ms; when "throw" is non-empty it throws std::runtime_error with that text instead
// (to prove a throwing model fails only its own request). Thread-safe.
#pragma once

#include <memory>

#include "model/backend.h"

namespace inferd {

std::unique_ptr<BackendFactory> NewFaultBackendFactory();

}  // namespace inferd
