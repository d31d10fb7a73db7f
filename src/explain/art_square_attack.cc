#include "explain/art_square_attack.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <string>

#include "core/clock.h"

namespace inferd::explain {

namespace {

// std::mt19937_64's sequence is fixed by the standard; the bounded draw is written here because
// std::uniform_int_distribution differs between standard libraries (the attack must repeat everywhere).
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  // Uniform in [0, n), n >= 1, without modulo bias (rejection of the top partial range).
  uint64_t Below(uint64_t n) {
    const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % n;
    uint64_t v = gen_();
    while (v >= limit) v = gen_();
    return v % n;
  }
  double Sign() { return (gen_() >> 63) ? 1.0 : -1.0; }

 private:
  std::mt19937_64 gen_;
};

int ArgMax(std::span<const float> row) {  // the first of equal maxima, as numpy's argmax
  return static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin());
}

// The paper's margin loss: the label's score minus the best other score (< 0: misclassified).
double Margin(std::span<const float> row, int label) {
  float best_other = -std::numeric_limits<float>::infinity();
  for (size_t k = 0; k < row.size(); ++k) {
    if (static_cast<int>(k) != label) best_other = std::max(best_other, row[k]);
  }
  return static_cast<double>(row[label]) - best_other;
}

// One run: the current adversarial images with their classes and margins (pred0/margin0: the originals').
struct Attack {
  Attack(const ImageBatch& images, std::span<const int> y, const SquareAttackOptions& options,
         const BlackBoxClassifier& f)
      : x(images), labels(y), o(options), classifier(f), features(images.features()), adv(images.values.size()),
        pred(images.n), margin(images.n) {}

  const ImageBatch& x;
  std::span<const int> labels;
  const SquareAttackOptions& o;
  const BlackBoxClassifier& classifier;
  size_t features;
  std::vector<float> adv;
  std::vector<int> pred, pred0;
  std::vector<double> margin, margin0;
  SquareAttackResult result;

  double Orig(size_t i, size_t f) const { return x.values[i * features + f]; }
  float* Adv(size_t i) { return adv.data() + i * features; }

  std::vector<size_t> Robust() const {
    std::vector<size_t> r;
    for (size_t i = 0; i < x.n; ++i) {
      if (pred[i] == labels[i]) r.push_back(i);
    }
    return r;
  }

  // One classifier call on `rows` (count images, flattened). Its scores, checked.
  StatusOr<std::vector<float>> Query(const std::vector<float>& rows, size_t count) {
    if (o.deadline_ns > 0 && (o.now_ns ? o.now_ns() : NowNs()) >= o.deadline_ns) {
      return DeadlineExceeded("SquareAttack ran out of time after " + std::to_string(result.iterations) +
                              " iteration(s) and " + std::to_string(result.queries) + " classifier call(s)");
    }
    ++result.queries;
    result.rows_queried += static_cast<int64_t>(count);
    ASSIGN_OR_RETURN(std::vector<float> scores, classifier(std::span<const float>(rows), count));
    const size_t want = count * static_cast<size_t>(o.nb_classes);
    if (scores.size() != want) {
      return Internal("the classifier answered " + std::to_string(scores.size()) + " scores for " +
                      std::to_string(count) + " input(s) of " + std::to_string(o.nb_classes) + " classes (want " +
                      std::to_string(want) + ")");
    }
    for (float s : scores) {
      if (!std::isfinite(s)) return Internal("the classifier answered a score that is not a finite number");
    }
    return scores;
  }

  std::span<const float> Row(const std::vector<float>& scores, size_t j) const {
    return std::span<const float>(scores).subspan(j * o.nb_classes, o.nb_classes);
  }

  // Keeps candidate j (image i) when its margin is below `than`; returns whether it did.
  bool Accept(size_t i, size_t j, const std::vector<float>& cand, const std::vector<float>& scores, double than) {
    const double m = Margin(Row(scores, j), labels[i]);
    if (!(m < than)) return false;
    std::copy_n(cand.begin() + j * features, features, Adv(i));
    margin[i] = m;
    pred[i] = ArgMax(Row(scores, j));
    return true;
  }

  float Clip(double v) const { return static_cast<float>(std::clamp(v, o.clip_min, o.clip_max)); }

  Status First() {
    for (size_t f = 0; f < adv.size(); ++f) adv[f] = static_cast<float>(x.values[f]);
    ASSIGN_OR_RETURN(std::vector<float> scores, Query(adv, x.n));
    for (size_t i = 0; i < x.n; ++i) {
      pred[i] = ArgMax(Row(scores, i));
      margin[i] = Margin(Row(scores, i), labels[i]);
    }
    pred0 = pred;
    margin0 = margin;
    result.prediction = pred;
    return Status::Ok();
  }

  // A restart: vertical stripes of +-eps on the original image (one sign per column and channel).
  Status Stripes(const std::vector<size_t>& robust, Rng& rng) {
    std::vector<float> cand(robust.size() * features);
    for (size_t j = 0; j < robust.size(); ++j) {
      const size_t i = robust[j];
      std::vector<double> sign(x.width * x.channels);
      for (double& s : sign) s = rng.Sign();
      for (size_t f = 0; f < features; ++f) {
        cand[j * features + f] = Clip(Orig(i, f) + o.eps * sign[f % (x.width * x.channels)]);
      }
    }
    ASSIGN_OR_RETURN(std::vector<float> scores, Query(cand, robust.size()));
    for (size_t j = 0; j < robust.size(); ++j) {
      const size_t i = robust[j];
      if (Accept(i, j, cand, scores, margin0[i])) continue;
      for (size_t f = 0; f < features; ++f) Adv(i)[f] = static_cast<float>(Orig(i, f));
      margin[i] = margin0[i];
      pred[i] = pred0[i];
    }
    return Status::Ok();
  }

  // One iteration: a square window of every robust image set to x +- eps (one sign per channel).
  Status Square(const std::vector<size_t>& robust, int iteration, Rng& rng) {
    const double p = SquareFraction(o.p_init, iteration, o.max_iter);
    const double area = p * static_cast<double>(x.height * x.width);
    size_t side = static_cast<size_t>(std::max(1.0, std::nearbyint(std::sqrt(area))));  // round half to even
    side = std::min({side, x.height, x.width});
    std::vector<float> cand(robust.size() * features);
    for (size_t j = 0; j < robust.size(); ++j) {
      const size_t i = robust[j];
      float* c = cand.data() + j * features;
      std::copy_n(Adv(i), features, c);
      const size_t row0 = x.height > side ? rng.Below(x.height - side) : 0;
      const size_t col0 = x.width > side ? rng.Below(x.width - side) : 0;
      std::vector<double> sign(x.channels);
      for (double& s : sign) s = rng.Sign();
      for (size_t r = row0; r < row0 + side; ++r) {
        for (size_t col = col0; col < col0 + side; ++col) {
          for (size_t ch = 0; ch < x.channels; ++ch) {
            const size_t f = (r * x.width + col) * x.channels + ch;
            const double v = static_cast<double>(c[f]) + 2 * o.eps * sign[ch];
            c[f] = Clip(std::clamp(v, Orig(i, f) - o.eps, Orig(i, f) + o.eps));
          }
        }
      }
    }
    ASSIGN_OR_RETURN(std::vector<float> scores, Query(cand, robust.size()));
    for (size_t j = 0; j < robust.size(); ++j) (void)Accept(robust[j], j, cand, scores, margin[robust[j]]);
    return Status::Ok();
  }

  Status Run() {
    RETURN_IF_ERROR(First());
    Rng rng(o.seed);
    for (int restart = 0; restart < o.nb_restarts; ++restart) {
      std::vector<size_t> robust = Robust();
      if (robust.empty()) break;
      RETURN_IF_ERROR(Stripes(robust, rng));
      for (int it = 0; it < o.max_iter; ++it) {
        robust = Robust();
        if (robust.empty()) break;
        RETURN_IF_ERROR(Square(robust, it, rng));
        ++result.iterations;
      }
    }
    result.adversarial_prediction = pred;
    return Status::Ok();
  }
};

}  // namespace

double SquareFraction(double p_init, int iteration, int max_iter) {
  static constexpr std::array<double, 9> kThresholds = {0.001, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8};
  const double progress = max_iter > 0 ? static_cast<double>(iteration) / max_iter : 0.0;
  // How many thresholds lie strictly below `progress` (Python's bisect_left, as ART).
  const auto halvings = std::lower_bound(kThresholds.begin(), kThresholds.end(), progress) - kThresholds.begin();
  return p_init / static_cast<double>(1 << halvings);
}

Status ValidateSquareAttackOptions(const SquareAttackOptions& o) {
  if (o.max_iter < 0 || o.max_iter > kMaxSquareAttackIter) {
    return InvalidArgument("max_iter must be between 0 and " + std::to_string(kMaxSquareAttackIter) + ", got " +
                           std::to_string(o.max_iter));
  }
  if (!std::isfinite(o.eps) || o.eps <= 0) return InvalidArgument("eps must be a finite number above 0");
  if (!(o.p_init > 0 && o.p_init <= 1)) return InvalidArgument("p_init must be in (0, 1]");
  if (o.nb_restarts < 1 || o.nb_restarts > kMaxSquareAttackRestarts) {
    return InvalidArgument("nb_restarts must be between 1 and " + std::to_string(kMaxSquareAttackRestarts));
  }
  if (o.nb_classes < 2 || o.nb_classes > 100000) {
    return InvalidArgument("nb_classes must be between 2 and 100000, got " + std::to_string(o.nb_classes));
  }
  if (std::isnan(o.clip_min) || std::isnan(o.clip_max) || !(o.clip_min < o.clip_max)) {
    return InvalidArgument("clip_min must be below clip_max");
  }
  return Status::Ok();
}

Status ValidateSquareAttack(const ImageBatch& x, std::span<const int> labels, const SquareAttackOptions& o) {
  RETURN_IF_ERROR(ValidateSquareAttackOptions(o));
  if (x.n < 1 || x.n > kMaxSquareAttackImages) {
    return InvalidArgument("images: between 1 and " + std::to_string(kMaxSquareAttackImages) +
                           " images per request, got " + std::to_string(x.n));
  }
  if (x.height < 1 || x.width < 1 || x.channels < 1) {
    return InvalidArgument("images: height, width and channels must each be at least 1");
  }
  if (x.features() > (size_t{1} << 24) || x.values.size() != x.n * x.features()) {
    return InvalidArgument("images: " + std::to_string(x.values.size()) + " values do not make " +
                           std::to_string(x.n) + " images of " + std::to_string(x.height) + "x" +
                           std::to_string(x.width) + "x" + std::to_string(x.channels) + " (at most 2^24 values each)");
  }
  for (double v : x.values) {
    if (!std::isfinite(v)) return InvalidArgument("images: every value must be a finite number");
  }
  if (labels.size() != x.n) {
    return InvalidArgument("labels: one per image: " + std::to_string(x.n) + " image(s), " +
                           std::to_string(labels.size()) + " label(s)");
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= o.nb_classes) {
      return InvalidArgument("labels[" + std::to_string(i) + "]: " + std::to_string(labels[i]) +
                             " is not a class in [0, " + std::to_string(o.nb_classes) + ")");
    }
  }
  return Status::Ok();
}

StatusOr<SquareAttackResult> RunSquareAttack(const ImageBatch& images, std::span<const int> labels,
                                             const SquareAttackOptions& options, const BlackBoxClassifier& classifier) {
  RETURN_IF_ERROR(ValidateSquareAttack(images, labels, options));
  if (!classifier) return Internal("SquareAttack has no classifier");
  Attack a(images, labels, options, classifier);
  RETURN_IF_ERROR(a.Run());
  a.result.adversarial = std::move(a.adv);
  return std::move(a.result);
}

}  // namespace inferd::explain
