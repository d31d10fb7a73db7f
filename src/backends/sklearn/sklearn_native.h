// backends/sklearn/sklearn_native.h: scikit-learn estimators compiled at load into native code, so a
// request never enters Python.
//
// What compiles (anything else stays on the Python path, with the reason logged):
//   heads   LogisticRegression, LinearSVC, LinearRegression, Ridge, Lasso, ElasticNet, LinearSVR;
//           DecisionTree*/ExtraTree*/RandomForest*/ExtraTrees* classifiers and regressors,
//           GradientBoosting* (default init), HistGradientBoosting* (numerical splits) on the shared
//           tree engine (backends/forest/forest.h);
//   steps   a Pipeline of StandardScaler, MinMaxScaler, SimpleImputer (NaN) and dense OneHotEncoder
//           (numeric categories) in front of one of those heads.
//
// The description comes from the Python half (sklearn_python.py, compile_native) as JSON:
//   {"n_features": F, "type": "...", "steps": [step...], "head": {...}, "probe": {...}}
//   step: {"op":"standard","mean":[F],"scale":[F]} | {"op":"minmax","scale":[F],"min":[F],"clip":[lo,hi]?}
//       | {"op":"impute","statistics":[F]} | {"op":"onehot","categories":[[...] per column],"ignore_unknown":b}
//   head: {"kind":"linear","coef":[[F'] per output],"intercept":[K],...}
//       | {"kind":"trees","trees":[{"group","left","right","feature","threshold","value","missing_left"?,
//          "cover"? (weighted samples per node, for TreeSHAP)}],
//          "aggregation":"average"|"sum","base":[K],"input":"float32"|"float64","nan_allowed":b?,...}
//       with "task":"regression" ("inverse_link":"identity"|"exp") or "classification"
//       ("classes":[...], "proba":"identity"|"logistic_binary"|"softmax_binary"|"ovr"|"softmax"|"none",
//        "label_from":"raw"|"proba", "sigmoid_scale"?).
//   probe: rows (null = NaN) and scikit-learn's own answers to them ("label_index", "value", "proba").
// FromJson builds the model and then checks it against the probe: class indices must be equal,
// probabilities and values within 1e-9 relative (they differ from scikit-learn only by the order of
// floating-point additions). Any disagreement is an error, so a compiled model never answers
// differently from scikit-learn on what was checked.
//
// Numerics follow scikit-learn 1.2: steps in double; tree heads of the classic trees compare
// float32(x) <= threshold in double (scikit-learn casts to float32 before a tree), HistGradientBoosting
// compares doubles and sends NaN the learned way; a RandomForest's probability is the mean of the
// trees' normalized leaf distributions; sigmoid 1/(1+exp(-x)); softmax shifted by the row max.
// Like scikit-learn, NaN or infinity reaching a head that does not accept it is a request error.
//
// Thread safety: immutable after FromJson; Run may be called from any number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backends/forest/forest.h"
#include "core/status.h"

namespace simdjson::dom {
class element;
}

namespace inferd::sklearn {

class NativeModel {
 public:
  static StatusOr<std::unique_ptr<NativeModel>> FromJson(std::string_view json);

  int64_t num_features() const { return num_features_; }
  bool classifier() const { return classifier_; }
  int64_t num_classes() const { return static_cast<int64_t>(num_classes_); }
  bool has_proba() const { return proba_ != ProbaKind::kNone; }
  const std::string& description() const { return description_; }
  // For explainers (explain/): the tree head when the model is one with no steps in front of it (its
  // inputs are then the request's columns), else null. Its margins are the raw scores: probabilities for
  // random-forest classifiers, log-odds for gradient boosting, values for regressors. float32_input():
  // rows are rounded to float32 before the trees.
  const forest::Forest* tree_head() const { return (!linear_ && steps_.empty()) ? &forest_ : nullptr; }
  bool float32_input() const { return float32_input_; }

  // Evaluates `n` rows of num_features() doubles. Each output pointer may be null when not wanted:
  //   label_index[n]          classifiers: index into the fitted classes_
  //   proba[n * num_classes]  classifiers with predict_proba
  //   value[n]                regressors
  // InvalidArgument for input the model refuses (NaN where not accepted, an unknown category with
  // handle_unknown='error').
  Status Run(const double* x, size_t n, int64_t* label_index, double* proba, double* value) const;

 private:
  enum class StepKind { kStandard, kMinMax, kImpute, kOneHot };
  struct Step {
    StepKind kind;
    std::vector<double> a, b;                  // standard: mean, scale; minmax: scale, min; impute: stats
    bool clip = false;
    double lo = 0, hi = 0;
    std::vector<std::vector<double>> categories;  // onehot, per input column (sorted, as fitted)
    bool ignore_unknown = true;
    size_t in_width = 0, out_width = 0;
  };
  enum class ProbaKind { kNone, kIdentity, kLogisticBinary, kSoftmaxBinary, kOvr, kSoftmax };

  Status ApplySteps(const double* x, size_t n, std::vector<double>* buf, size_t* width) const;
  // Raw scores [n * raw_width_] of the head on prepared rows.
  void Raw(const double* x, size_t n, double* raw) const;
  Status CheckAgainstProbe(const std::vector<double>& x, size_t n, const std::vector<int64_t>& label_index,
                           const std::vector<double>& proba, const std::vector<double>& value) const;
  // The parts of FromJson, in order: the steps (sets steps_ and head_width_), the head's task (classes,
  // probabilities, inverse link), its kind (linear or trees), then the probe check.
  static Status ParseStep(const simdjson::dom::element& s, size_t width, Step* step);
  Status ParseSteps(const simdjson::dom::element& doc);
  Status ParseTask(const simdjson::dom::element& head);
  Status ParseHeadKind(const simdjson::dom::element& head);
  Status CheckRawWidth() const;
  Status CheckProbe(const simdjson::dom::element& doc) const;

  int64_t num_features_ = 0;
  std::string description_;
  std::vector<Step> steps_;
  size_t head_width_ = 0;  // features the head sees (after the steps)
  // Head
  bool linear_ = true;
  std::vector<double> coef_;  // [raw_width_ * head_width_]
  std::vector<double> intercept_;
  forest::Forest forest_;
  bool float32_input_ = false;
  bool nan_allowed_ = false;
  size_t raw_width_ = 1;
  bool classifier_ = false;
  size_t num_classes_ = 0;
  ProbaKind proba_ = ProbaKind::kNone;
  bool label_from_proba_ = false;
  double sigmoid_scale_ = 1.0;
  bool exp_inverse_link_ = false;
};

}  // namespace inferd::sklearn
