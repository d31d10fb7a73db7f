// model/format.h: which framework a model directory holds, by KServe's file conventions.
//
// Contract: pure filesystem inspection, no state; safe from any thread.
//   sklearn  *.joblib *.pkl *.pickle      xgboost  *.bst *.json *.ubj
//   lightgbm *.bst *.txt (LightGBM text)   pmml     *.pmml
//   pytorch  model.pt                     onnx     model.onnx       tensorflow  saved_model.pb,
//                                                                               model.savedmodel/saved_model.pb
// (the last is Triton's layout: a SavedModel directory named model.savedmodel; TF Serving's numbered version
// directories are resolved before detection, by the repository).
// A *.bst file is LightGBM when its content is LightGBM's text format ("tree" header), XGBoost otherwise;
// a *.txt file is LightGBM when it has that header and is ignored otherwise.
// model-settings.json and explainer_background.json (KernelSHAP's background, explain/explainer.h) are never
// models. Exactly one candidate file must be found; zero or several is an error that lists what was found.
// A TorchServe model archive (*.mar) is recognised and refused here (Unimplemented, naming it): a store of them
// is served by inferd's TorchServe runtime (backends/torchserve/torchserve.h), which the model server's flags
// select before any model directory is detected; a .mar reaching DetectModel is one inside a --model_repository.
#pragma once

#include <string>

#include "core/status.h"

namespace inferd {

struct DetectedModel {
  std::string format;  // "xgboost", "sklearn", ...
  std::string file;    // absolute path of the model file
};

// Detects the format from the files in `dir`. When `format` is non-empty only that format's patterns
// are considered (the --model_format flag).
StatusOr<DetectedModel> DetectModel(const std::string& dir, const std::string& format);

}  // namespace inferd
