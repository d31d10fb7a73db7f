// python/numpy_helper.h: the Python source of inferd's helper module `_inferd`, the numpy side of tensor
// conversion (python_runtime.h: TensorToNumpy, NumpyToTensor). Written in Python because numpy's C API
// would add a build dependency on numpy's headers for code that is not on any fast path (a Python
// model's predict costs tens of microseconds at least).
// The program is python/numpy_helper.py, compiled into the binary at build time (inferd_embed_text in
// CMakeLists.txt) and tested with python3 by tests/python/numpy_helper_test.py.
#pragma once

namespace inferd {

extern const char* const kNumpyHelperSource;  // NUL-terminated

}  // namespace inferd
