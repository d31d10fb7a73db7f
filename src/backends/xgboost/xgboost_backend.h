// backends/xgboost/xgboost_backend.h: serves XGBoost models (format "xgboost") through libxgboost's C API.
//
// Contract:
// - Load reads *.json (JSON), *.ubj (UBJSON) or any other name (*.bst: XGBoost's binary format) with
//   XGBoosterLoadModel, sets nthread to LoadOptions.intra_op_threads (<= 0: XGBoost's default, all
//   cores), reads the objective, num_class and booster from XGBoosterSaveJsonConfig and the feature
//   count from XGBoosterGetNumFeature, then runs one probe prediction (which also completes XGBoost's
//   lazy configuration before the booster is shared between threads). Failures are Status values
//   that name the file; nothing throws.
// - Metadata: platform "xgboost"; one input "input-0" FP32 [-1, F]; outputs, in this order:
//     0 "output-0"      what XGBoost's Python Booster.predict returns for the objective:
//                       multi:softmax -> class ids, INT64 [-1]; multi:softprob -> FP32 [-1, K];
//                       anything else -> FP32 [-1] (FP32 [-1, T] for multi-target models).
//     1 "probabilities" only for multi:softmax/multi:softprob (FP32 [-1, K]) and binary:logistic
//                       (FP32 [-1, 2]: [1 - p, p]).
//     then "margin"     raw scores before the objective's transform (output_margin=True):
//                       FP32 [-1] or [-1, K].
//   default_outputs() is {0} (a V2 answer holds only output-0 unless the request names others);
//   metadata().v1_output is 0.
// - Native evaluation: for gbtree models (numerical and categorical splits), Load also builds a
//   forest::Forest (xgboost_trees.h, on the shared tree engine) from the model's JSON and keeps it only
//   when it reproduces libxgboost on probe rows to 1e-6; margins, and values of objectives whose
//   transform it knows (identity, sigmoid, exp), are then computed without calling libxgboost (about
//   24 us of JSON parsing per call saved). Everything else stays on libxgboost.
// - Execute computes only what was requested. Multiclass models make one margin prediction and derive
//   the class ids (first arg-max of the margin, as XGBoost's softmax objective does) and probabilities
//   (XGBoost's softmax: max-shifted expf, double sum) from it. Other objectives take output-0 and
//   probabilities from a normal prediction and margin from a margin prediction.
// - Thread safety: thread_safe() is true for tree boosters (gbtree, dart). Those predict with
//   XGBoosterPredictFromDense (in-place prediction), which in libxgboost 1.7 keeps its result and
//   shape in a per-thread, per-booster store (Learner::GetThreadLocal, a dmlc::ThreadLocalStore map
//   keyed by the booster) and reads the model only after the one-time configuration that Load
//   forces; XGBoost 1.7 documents in-place prediction as "safe and lock free" from several threads
//   (Python Booster.inplace_predict, which calls this function), and xgboost_backend_test checks
//   that concurrent callers get the serial answers. The proxy DMatrix handed to each call
//   (it is mutated to point at the caller's rows) comes from a pool and serves one caller at a time.
//   Results are copied out before returning. gblinear has no in-place prediction in 1.7: it predicts
//   through a DMatrix (as Booster.predict does), which XGBoost documents as not thread-safe, so
//   thread_safe() is false and the model layer serializes calls.
// - Known XGBoost behaviour: each thread that predicted keeps its last result buffer for a booster
//   until that thread exits, even after the booster is freed (XGBoosterFree only clears the calling
//   thread's entry); the leak is bounded by (threads x reloads x last batch output size).
#pragma once

#include <memory>

#include "model/backend.h"

namespace inferd {

std::unique_ptr<BackendFactory> NewXgboostBackendFactory();

}  // namespace inferd
