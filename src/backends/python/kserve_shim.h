// backends/python/kserve_shim.h: the Python source of the `kserve` stand-in module (registered as
// `_inferd_kserve`; its install() makes `import kserve` work). See python_model_backend.h.
#pragma once

namespace inferd {

extern const char* const kKserveShimSource;

}  // namespace inferd
