// backends/torchserve/torchserve_runtime.h: the Python source of inferd's TorchServe runtime
// (backends/torchserve/torchserve_runtime.py), compiled into the binary at build time (inferd_embed_text in
// CMakeLists.txt) and written out by TorchServeProgram (torchserve.h). Tested with python3 by
// tests/backends/torchserve/torchserve_runtime_test.py.
#pragma once

namespace inferd {

extern const char* const kTorchServeRuntimeSource;  // NUL-terminated

}  // namespace inferd
