// backends/sklearn/sklearn_python.h: the Python source of the scikit-learn runtime's Python half
// (loading, describing, and compiling an estimator into the JSON that sklearn_native.h reads). It is
// registered as module `_inferd_sklearn` in the embedded interpreter.
// The program is backends/sklearn/sklearn_python.py, compiled into the binary at build time
// (inferd_embed_text in CMakeLists.txt) and tested with python3 by tests/backends/sklearn_python_test.py.
#pragma once

namespace inferd::sklearn {

extern const char* const kPythonSource;  // NUL-terminated

}  // namespace inferd::sklearn
