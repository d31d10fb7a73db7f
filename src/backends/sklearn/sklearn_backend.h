// backends/sklearn/sklearn_backend.h: serves scikit-learn models (format "sklearn") the way KServe's
// sklearnserver does, in Debian's CPython embedded in the server (python/python_runtime.h).
//
// Contract:
// - Load reads `model.joblib` with joblib.load and `*.pkl` / `*.pickle` with pickle.load (as KServe
//   does), in the embedded interpreter. A file that does not unpickle, or that is not an estimator
//   with predict(), is a load error naming the file and the Python exception.
// - Metadata: platform "sklearn"; one input "input-0" FP64 [-1, n_features_in_] ([-1, -1] when the
//   estimator does not record its feature count); numeric inputs of other types are converted.
//   Outputs, in this order:
//     0 "output-0"       predict(X): class labels for a classifier (INT64, FP64, BOOL or BYTES as the
//                        fitted classes_ are), values for a regressor (FP64). With the environment
//                        variable PREDICT_PROBA=true (KServe's switch) output-0 is predict_proba(X)
//                        instead, FP64 [-1, n_classes], and V1 `predictions` are probabilities.
//     1 "probabilities"  predict_proba(X), FP64 [-1, n_classes], for estimators that have it when
//                        PREDICT_PROBA is not set; returned only when requested.
//   default_outputs() is {0}; metadata().v1_output is 0.
// - Thread safety: thread_safe() is true. Each Execute takes the GIL, so Python work is serialized
//   process-wide (scikit-learn releases the GIL inside some of its native loops).
#pragma once

#include <memory>
#include <string>

#include "model/backend.h"

namespace inferd {

std::unique_ptr<BackendFactory> NewSklearnBackendFactory();

// True when a model file (*.joblib, *.pkl, *.pickle) in `model_dir` has a record of its native compile in
// `cache_dir` (INFERD_COMPILED_CACHE, see sklearn_backend.cc), by the record's name (path, size, mtime: the file
// is not read; the load still checks the content): a replica will load it without starting Python.
// `inferd serve` uses it to fork such a replica from its template without Python (cli/serve_cmd.cc).
bool HasCompiledSklearnRecord(const std::string& model_dir, const std::string& cache_dir);

}  // namespace inferd
