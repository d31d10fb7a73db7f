// backends/sklearn/sklearn_python.h: the Python source of the scikit-learn runtime's Python half
// (loading, describing, and compiling an estimator into the JSON that sklearn_native.h reads). It is
// compiled into the binary and registered as module `_inferd_sklearn` in the embedded interpreter.
#pragma once

namespace inferd::sklearn {

extern const char* const kPythonSource;

}  // namespace inferd::sklearn
