#include "backends/sklearn/sklearn_native.h"

#ifndef SIMDJSON_THREADS_ENABLED
#error "inferd_backend_sklearn must link simdjson::simdjson (it defines SIMDJSON_THREADS_ENABLED)"
#endif
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/forest/transforms.h"

namespace inferd::sklearn {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Status Bad(const std::string& what) { return InvalidArgument("native scikit-learn description: " + what); }

// A number, or null as NaN (the probe rows carry NaN as null).
bool Number(element e, double* v) {
  switch (e.type()) {
    case simdjson::dom::element_type::INT64: *v = static_cast<double>(e.get_int64().value_unsafe()); return true;
    case simdjson::dom::element_type::UINT64: *v = static_cast<double>(e.get_uint64().value_unsafe()); return true;
    case simdjson::dom::element_type::DOUBLE: *v = e.get_double().value_unsafe(); return true;
    case simdjson::dom::element_type::NULL_VALUE: *v = kNaN; return true;
    default: return false;
  }
}

Status Doubles(element parent, const char* key, std::vector<double>* out, size_t expect = SIZE_MAX) {
  array a;
  if (parent[key].get(a)) return Bad(std::string("'") + key + "' is missing or not a list");
  out->clear();
  for (element e : a) {
    double v;
    if (!Number(e, &v)) return Bad(std::string("'") + key + "' holds a non-number");
    out->push_back(v);
  }
  if (expect != SIZE_MAX && out->size() != expect) {
    return Bad(std::string("'") + key + "' has " + std::to_string(out->size()) + " values, expected " +
               std::to_string(expect));
  }
  return Status::Ok();
}

Status Ints(element parent, const char* key, std::vector<int64_t>* out) {
  array a;
  if (parent[key].get(a)) return Bad(std::string("'") + key + "' is missing or not a list");
  out->clear();
  for (element e : a) {
    int64_t v;
    if (e.get_int64().get(v)) return Bad(std::string("'") + key + "' holds a non-integer");
    out->push_back(v);
  }
  return Status::Ok();
}

std::string String(element parent, const char* key, std::string fallback = "") {
  std::string_view s;
  if (parent[key].get(s)) return fallback;
  return std::string(s);
}

bool Bool(element parent, const char* key) {
  bool b = false;
  return !parent[key].get(b) && b;
}

// Builds the forest of a "trees" head.
Status BuildForest(element head, size_t num_features, size_t groups, bool hgb_missing, forest::Forest* out) {
  forest::ForestBuilder b(static_cast<int32_t>(num_features), static_cast<int32_t>(groups));
  b.set_compare(forest::CompareMode::kLessEqual);
  b.set_accumulation(forest::Accumulation::kDouble);
  b.set_aggregation(String(head, "aggregation") == "average" ? forest::Aggregation::kAverage
                                                               : forest::Aggregation::kSum);
  std::vector<double> base;
  RETURN_IF_ERROR(Doubles(head, "base", &base, groups));
  RETURN_IF_ERROR(b.set_base_score(std::move(base)));
  array trees;
  if (head["trees"].get(trees)) return Bad("'trees' is missing");
  std::vector<int64_t> left, right, feature;
  std::vector<double> threshold, value, cover;
  size_t t = 0;
  for (element tree : trees) {
    std::string where = "tree " + std::to_string(t++) + ": ";
    int64_t group = 0;
    if (tree["group"].get(group)) return Bad(where + "no group");
    RETURN_IF_ERROR(Ints(tree, "left", &left));
    size_t n = left.size();
    RETURN_IF_ERROR(Ints(tree, "right", &right));
    RETURN_IF_ERROR(Ints(tree, "feature", &feature));
    RETURN_IF_ERROR(Doubles(tree, "threshold", &threshold, n));
    RETURN_IF_ERROR(Doubles(tree, "value", &value, n));
    // Training cover (weighted samples per node), for explainers; optional.
    const bool has_cover = Doubles(tree, "cover", &cover, n).ok();
    if (right.size() != n || feature.size() != n) return Bad(where + "node arrays differ in length");
    array missing_left;
    bool has_missing = hgb_missing && !tree["missing_left"].get(missing_left);
    if (has_missing && missing_left.size() != n) return Bad(where + "missing_left has the wrong length");
    forest::TreeSpec spec;
    spec.group = static_cast<int32_t>(group);
    spec.root = 0;
    spec.nodes.reserve(n);
    auto ml = has_missing ? missing_left.begin() : array::iterator();
    for (size_t i = 0; i < n; ++i) {
      bool go_left = false;
      if (has_missing) {
        if ((*ml).get(go_left)) return Bad(where + "missing_left holds a non-boolean");
        ++ml;
      }
      if (left[i] < 0) {
        spec.nodes.push_back(forest::NodeSpec::Leaf(value[i], static_cast<int32_t>(i)));
        if (has_cover) spec.nodes.back().cover = cover[i];
        continue;
      }
      if (left[i] > INT32_MAX || right[i] > INT32_MAX || right[i] < 0 || feature[i] < 0 || feature[i] > INT32_MAX) {
        return Bad(where + "node " + std::to_string(i) + " is malformed");
      }
      spec.nodes.push_back(forest::NodeSpec::Numerical(static_cast<int32_t>(feature[i]), threshold[i],
                                                       static_cast<int32_t>(left[i]), static_cast<int32_t>(right[i]),
                                                       go_left, forest::MissingRule::kNanIsMissing));
      if (has_cover) spec.nodes.back().cover = cover[i];
    }
    RETURN_IF_ERROR(b.AddTree(spec));  // validates indices, features, groups, reachability
  }
  ASSIGN_OR_RETURN(*out, b.Build());
  return Status::Ok();
}

// Appends a list of rows of `width` numbers each to *out; `bad_row` and `bad_value` are the errors for a row
// of another length (or not a list) and for a value that is not a number.
Status NumberRows(array rows, size_t width, const char* bad_row, const char* bad_value, std::vector<double>* out) {
  for (element row : rows) {
    array r;
    if (row.get(r) || r.size() != width) return Bad(bad_row);
    for (element e : r) {
      double v;
      if (!Number(e, &v)) return Bad(bad_value);
      out->push_back(v);
    }
  }
  return Status::Ok();
}

bool Close(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(b));
}

}  // namespace

StatusOr<std::unique_ptr<NativeModel>> NativeModel::FromJson(std::string_view json) {
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(json.data(), json.size(), true).get(doc)) return Bad("not JSON");
  auto m = std::unique_ptr<NativeModel>(new NativeModel());
  int64_t nf = 0;
  if (doc["n_features"].get(nf) || nf <= 0 || nf > (1 << 24)) return Bad("bad n_features");
  m->num_features_ = nf;
  m->description_ = String(doc, "type", "estimator");
  RETURN_IF_ERROR(m->ParseSteps(doc));
  element head;
  if (doc["head"].get(head)) return Bad("'head' is missing");
  RETURN_IF_ERROR(m->ParseTask(head));
  RETURN_IF_ERROR(m->ParseHeadKind(head));
  RETURN_IF_ERROR(m->CheckRawWidth());
  RETURN_IF_ERROR(m->CheckProbe(doc));
  return m;
}

Status NativeModel::ParseStep(const element& s, size_t width, Step* step) {
  std::string op = String(s, "op");
  step->in_width = width;
  step->out_width = width;
  if (op == "standard") {
    step->kind = StepKind::kStandard;
    RETURN_IF_ERROR(Doubles(s, "mean", &step->a, width));
    RETURN_IF_ERROR(Doubles(s, "scale", &step->b, width));
  } else if (op == "minmax") {
    step->kind = StepKind::kMinMax;
    RETURN_IF_ERROR(Doubles(s, "scale", &step->a, width));
    RETURN_IF_ERROR(Doubles(s, "min", &step->b, width));
    std::vector<double> clip;
    if (Doubles(s, "clip", &clip, 2).ok()) {
      step->clip = true;
      step->lo = clip[0];
      step->hi = clip[1];
    }
  } else if (op == "impute") {
    step->kind = StepKind::kImpute;
    RETURN_IF_ERROR(Doubles(s, "statistics", &step->a, width));
  } else if (op == "onehot") {
    step->kind = StepKind::kOneHot;
    step->ignore_unknown = Bool(s, "ignore_unknown");
    array cats;
    if (s["categories"].get(cats) || cats.size() != width) return Bad("onehot: one category list per column");
    size_t out = 0;
    for (element c : cats) {
      std::vector<double> v;
      array list;
      if (c.get(list)) return Bad("onehot: categories must be lists");
      for (element e : list) {
        double d;
        if (!Number(e, &d) || std::isnan(d)) return Bad("onehot: non-numeric category");
        v.push_back(d);
      }
      if (!std::is_sorted(v.begin(), v.end())) return Bad("onehot: categories are not sorted");
      out += v.size();
      step->categories.push_back(std::move(v));
    }
    step->out_width = out;
  } else {
    return Bad("unknown step '" + op + "'");
  }
  return Status::Ok();
}

Status NativeModel::ParseSteps(const element& doc) {
  size_t width = static_cast<size_t>(num_features_);
  array steps;
  if (doc["steps"].get(steps)) return Bad("'steps' is missing");
  for (element s : steps) {
    Step step;
    RETURN_IF_ERROR(ParseStep(s, width, &step));
    width = step.out_width;
    steps_.push_back(std::move(step));
  }
  head_width_ = width;
  return Status::Ok();
}

Status NativeModel::ParseTask(const element& head) {
  std::string task = String(head, "task");
  classifier_ = task == "classification";
  if (!classifier_ && task != "regression") return Bad("unknown task '" + task + "'");
  if (!classifier_) {
    std::string link = String(head, "inverse_link", "identity");
    if (link == "exp") exp_inverse_link_ = true;
    else if (link != "identity") return Bad("unknown inverse_link '" + link + "'");
    return Status::Ok();
  }
  array classes;
  if (head["classes"].get(classes) || classes.size() == 0) return Bad("'classes' is missing");
  num_classes_ = classes.size();
  std::string proba = String(head, "proba", "none");
  if (proba == "none") proba_ = ProbaKind::kNone;
  else if (proba == "identity") proba_ = ProbaKind::kIdentity;
  else if (proba == "logistic_binary") proba_ = ProbaKind::kLogisticBinary;
  else if (proba == "softmax_binary") proba_ = ProbaKind::kSoftmaxBinary;
  else if (proba == "ovr") proba_ = ProbaKind::kOvr;
  else if (proba == "softmax") proba_ = ProbaKind::kSoftmax;
  else return Bad("unknown proba '" + proba + "'");
  label_from_proba_ = String(head, "label_from") == "proba";
  if (label_from_proba_ && proba_ == ProbaKind::kNone) return Bad("labels from missing probabilities");
  double scale = 1.0;
  if (!head["sigmoid_scale"].get(scale)) sigmoid_scale_ = scale;
  return Status::Ok();
}

Status NativeModel::ParseHeadKind(const element& head) {
  std::string kind = String(head, "kind");
  if (kind == "linear") {
    linear_ = true;
    array coef;
    if (head["coef"].get(coef) || coef.size() == 0) return Bad("'coef' is missing");
    raw_width_ = coef.size();
    RETURN_IF_ERROR(
        NumberRows(coef, head_width_, "coef rows must have one value per feature", "coef holds a non-number", &coef_));
    RETURN_IF_ERROR(Doubles(head, "intercept", &intercept_));
    if (intercept_.size() == 1 && raw_width_ > 1) intercept_.assign(raw_width_, intercept_[0]);
    if (intercept_.size() != raw_width_) return Bad("intercept has the wrong length");
  } else if (kind == "trees") {
    linear_ = false;
    std::vector<double> base;
    RETURN_IF_ERROR(Doubles(head, "base", &base));
    if (base.empty()) return Bad("'base' is empty");
    raw_width_ = base.size();
    float32_input_ = String(head, "input") == "float32";
    nan_allowed_ = Bool(head, "nan_allowed");
    RETURN_IF_ERROR(BuildForest(head, head_width_, raw_width_, nan_allowed_, &forest_));
  } else {
    return Bad("unknown head kind '" + kind + "'");
  }
  return Status::Ok();
}

// The raw width each probability rule expects.
Status NativeModel::CheckRawWidth() const {
  size_t c = num_classes_;
  switch (proba_) {
    case ProbaKind::kLogisticBinary:
    case ProbaKind::kSoftmaxBinary:
      if (raw_width_ != 1 || c != 2) return Bad("binary probabilities need one raw score and two classes");
      break;
    case ProbaKind::kIdentity:
    case ProbaKind::kOvr:
    case ProbaKind::kSoftmax:
      if (raw_width_ != c) return Bad("one raw score per class expected");
      break;
    case ProbaKind::kNone:
      if (classifier_ && raw_width_ != 1 && raw_width_ != c) return Bad("raw scores do not match classes");
      break;
  }
  if (!classifier_ && raw_width_ != 1) return Bad("multi-output regressors are not compiled");
  return Status::Ok();
}

Status NativeModel::CheckProbe(const element& doc) const {
  element probe;
  if (doc["probe"].get(probe)) return Bad("'probe' is missing");
  array rows;
  if (probe["x"].get(rows) || rows.size() == 0) return Bad("probe has no rows");
  std::vector<double> x;
  RETURN_IF_ERROR(NumberRows(rows, static_cast<size_t>(num_features_), "probe rows must have n_features values",
                             "probe holds a non-number", &x));
  size_t n = rows.size();
  std::vector<int64_t> label_index;
  std::vector<double> proba, value;
  if (classifier_) {
    RETURN_IF_ERROR(Ints(probe, "label_index", &label_index));
    if (label_index.size() != n) return Bad("probe label_index has the wrong length");
    if (has_proba()) {
      array p;
      if (probe["proba"].get(p) || p.size() != n) return Bad("probe proba is missing");
      RETURN_IF_ERROR(NumberRows(p, num_classes_, "probe proba rows must have one value per class",
                                 "probe proba holds a non-number", &proba));
    }
  } else {
    RETURN_IF_ERROR(Doubles(probe, "value", &value, n));
  }
  return CheckAgainstProbe(x, n, label_index, proba, value);
}

Status NativeModel::CheckAgainstProbe(const std::vector<double>& x, size_t n, const std::vector<int64_t>& label_index,
                                      const std::vector<double>& proba, const std::vector<double>& value) const {
  std::vector<int64_t> got_label(n);
  std::vector<double> got_proba(n * num_classes_), got_value(n);
  RETURN_IF_ERROR(Run(x.data(), n, classifier_ ? got_label.data() : nullptr,
                      has_proba() ? got_proba.data() : nullptr, classifier_ ? nullptr : got_value.data())
                      .WithPrefix("probe rows: "));
  for (size_t i = 0; i < n; ++i) {
    if (classifier_ && got_label[i] != label_index[i]) {
      return Internal("probe row " + std::to_string(i) + ": class index " + std::to_string(got_label[i]) +
                      ", scikit-learn says " + std::to_string(label_index[i]));
    }
    if (!classifier_ && !Close(got_value[i], value[i])) {
      return Internal("probe row " + std::to_string(i) + ": value " + std::to_string(got_value[i]) +
                      ", scikit-learn says " + std::to_string(value[i]));
    }
  }
  for (size_t i = 0; i < proba.size(); ++i) {
    if (!Close(got_proba[i], proba[i])) {
      return Internal("probe row " + std::to_string(i / num_classes_) + ": probability " + std::to_string(got_proba[i]) +
                      ", scikit-learn says " + std::to_string(proba[i]));
    }
  }
  return Status::Ok();
}

Status NativeModel::ApplySteps(const double* x, size_t n, std::vector<double>* buf, size_t* width) const {
  size_t w = static_cast<size_t>(num_features_);
  buf->assign(x, x + n * w);
  std::vector<double> next;
  for (const Step& s : steps_) {
    double* v = buf->data();
    switch (s.kind) {
      case StepKind::kStandard:
        for (size_t r = 0; r < n; ++r)
          for (size_t j = 0; j < w; ++j) {
            double& e = v[r * w + j];
            e = (e - s.a[j]) / s.b[j];
          }
        break;
      case StepKind::kMinMax:
        for (size_t r = 0; r < n; ++r)
          for (size_t j = 0; j < w; ++j) {
            double& e = v[r * w + j];
            e = e * s.a[j] + s.b[j];
            if (s.clip) e = std::clamp(e, s.lo, s.hi);
          }
        break;
      case StepKind::kImpute:
        for (size_t r = 0; r < n; ++r)
          for (size_t j = 0; j < w; ++j) {
            double& e = v[r * w + j];
            if (std::isnan(e)) e = s.a[j];
          }
        break;
      case StepKind::kOneHot: {
        next.assign(n * s.out_width, 0.0);
        for (size_t r = 0; r < n; ++r) {
          size_t offset = 0;
          for (size_t j = 0; j < w; ++j) {
            const auto& cats = s.categories[j];
            double e = v[r * w + j];
            auto it = std::lower_bound(cats.begin(), cats.end(), e);
            if (it != cats.end() && *it == e) {
              next[r * s.out_width + offset + static_cast<size_t>(it - cats.begin())] = 1.0;
            } else if (!s.ignore_unknown) {
              return InvalidArgument("input-0: row " + std::to_string(r) + " column " + std::to_string(j) +
                                     " holds the unknown category " + std::to_string(e) +
                                     " (the OneHotEncoder was fitted with handle_unknown='error')");
            }
            offset += cats.size();
          }
        }
        buf->swap(next);
        break;
      }
    }
    w = s.out_width;
  }
  *width = w;
  return Status::Ok();
}

void NativeModel::Raw(const double* x, size_t n, double* raw) const {
  size_t w = head_width_, k = raw_width_;
  if (linear_) {
    for (size_t r = 0; r < n; ++r) {
      const double* row = x + r * w;
      for (size_t o = 0; o < k; ++o) {
        const double* c = coef_.data() + o * w;
        double s = 0;
        for (size_t j = 0; j < w; ++j) s += row[j] * c[j];
        raw[r * k + o] = s + intercept_[o];
      }
    }
    return;
  }
  if (float32_input_) {
    std::vector<float> f(x, x + n * w);  // scikit-learn's trees see float32(x)
    forest_.Margins(f.data(), n, raw);
  } else {
    forest_.Margins(x, n, raw);
  }
}

Status NativeModel::Run(const double* x, size_t n, int64_t* label_index, double* proba, double* value) const {
  // A bare estimator (no pipeline steps) reads the request's rows in place.
  std::vector<double> prepared;
  size_t w = static_cast<size_t>(num_features_);
  const double* rows = x;
  if (!steps_.empty()) {
    RETURN_IF_ERROR(ApplySteps(x, n, &prepared, &w));
    rows = prepared.data();
  }
  for (size_t i = 0; i < n * w; ++i) {
    double v = rows[i];
    if (std::isinf(v) || (std::isnan(v) && !nan_allowed_)) {
      return InvalidArgument("input-0: row " + std::to_string(i / w) + " holds NaN or infinity, which " +
                             description_ + " does not accept");
    }
  }
  size_t k = raw_width_;
  std::vector<double> raw(n * k);
  Raw(rows, n, raw.data());

  if (!classifier_) {
    if (value) {
      for (size_t r = 0; r < n; ++r) value[r] = exp_inverse_link_ ? std::exp(raw[r]) : raw[r];
    }
    return Status::Ok();
  }
  size_t c = num_classes_;
  std::vector<double> scratch;  // probabilities only when the caller does not want them itself
  double* p = proba;
  if (proba_ != ProbaKind::kNone && (proba || label_from_proba_)) {
    if (!p) {
      scratch.resize(n * c);
      p = scratch.data();
    }
    for (size_t r = 0; r < n; ++r) {
      const double* in = raw.data() + r * k;
      double* out = p + r * c;
      switch (proba_) {
        case ProbaKind::kIdentity:
          std::copy(in, in + c, out);
          break;
        case ProbaKind::kLogisticBinary: {
          double q = forest::Sigmoid(in[0], sigmoid_scale_);
          out[0] = 1.0 - q;
          out[1] = q;
          break;
        }
        case ProbaKind::kSoftmaxBinary:
          out[0] = -in[0];
          out[1] = in[0];
          forest::Softmax(out, 2);
          break;
        case ProbaKind::kOvr: {
          double sum = 0;
          for (size_t j = 0; j < c; ++j) sum += (out[j] = forest::Sigmoid(in[j], 1.0));
          for (size_t j = 0; j < c; ++j) out[j] /= sum;
          break;
        }
        case ProbaKind::kSoftmax:
          std::copy(in, in + c, out);
          forest::Softmax(out, c);
          break;
        case ProbaKind::kNone:
          break;
      }
    }
  }
  if (label_index) {
    for (size_t r = 0; r < n; ++r) {
      if (label_from_proba_) {
        const double* row = p + r * c;
        label_index[r] = std::max_element(row, row + c) - row;  // first maximum, like numpy's argmax
      } else if (k == 1) {
        label_index[r] = raw[r] > 0 ? 1 : 0;  // binary decision function
      } else {
        const double* row = raw.data() + r * k;
        label_index[r] = std::max_element(row, row + k) - row;
      }
    }
  }
  return Status::Ok();
}

}  // namespace inferd::sklearn
