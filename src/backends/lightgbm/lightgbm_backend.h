// backends/lightgbm/lightgbm_backend.h: serves LightGBM models (format "lightgbm") on the shared forest
// engine; no LightGBM library is involved.
//
// Contract:
// - Load reads the model file (LoadOptions.model_file, or the one DetectModel finds in model_dir: a *.bst
//   or *.txt whose content is LightGBM's text format) with ParseLightgbmModel (lightgbm_model.h). Every
//   failure is a Status naming the file; nothing throws. Warm-up is the model layer's job.
// - Metadata: platform "lightgbm"; one input "input-0" FP32 [-1, F] (F = max_feature_idx + 1; NaN is
//   a missing value, as in LightGBM); outputs, in this order:
//     0 "predict"  FP64: what LightGBM's Booster.predict (and so KServe's lgbserver) returns: [-1] for
//                  one output per row (binary: the probability, sigmoid with the objective's sigmoid
//                  parameter; regression: the value; poisson/gamma/tweedie: exp), [-1, K] for multiclass
//                  (softmax probabilities) and multiclassova (per-class sigmoid).
//     1 "raw"      FP64, same shape: raw scores (predict(raw_score=True)): per-class sums of leaf values,
//                  averaged for boosting=rf.
//     2 "leaf"     INT32 [-1, T]: the leaf index each row reaches in each of the T trees
//                  (predict(pred_leaf=True)).
//   default_outputs() is {0} (raw and leaf only when a request names them); metadata().v1_output is 0, so V1
//   `predictions` are what lgbserver answers: one number per row, or one list of K per row.
// - Execute computes only what was requested, in double, from the FP32 rows (each value widened to
//   double, as LightGBM does with float32 input).
// - Thread safety: thread_safe() is true; the parsed forest is immutable and Execute keeps no state.
#pragma once

#include <memory>

#include "model/backend.h"

namespace inferd {

std::unique_ptr<BackendFactory> NewLightgbmBackendFactory();

}  // namespace inferd
