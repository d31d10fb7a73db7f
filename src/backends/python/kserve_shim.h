// backends/python/kserve_shim.h: the Python source of the `kserve` stand-in module (registered as
// `_inferd_kserve`; its install() makes `import kserve` work). See python_model_backend.h.
// The program is backends/python/kserve_shim.py, compiled into the binary at build time
// (inferd_embed_text in CMakeLists.txt) and tested with python3 by tests/backends/kserve_shim_test.py.
#pragma once

namespace inferd {

extern const char* const kKserveShimSource;  // NUL-terminated

}  // namespace inferd
