// explain/art_square_attack.h: the Square Attack (Andriushchenko, Croce, Flammarion, Hein, "Square Attack: a
// query-efficient black-box adversarial attack via random search", ECCV 2020, arXiv:1912.00049), L-infinity,
// untargeted, score-based, with the parameters and schedule of the Adversarial Robustness Toolbox's
// SquareAttack as KServe's ART explainer runs it (python/artexplainer/artserver/model.py). The classifier is a
// black box: a function from a batch of flattened inputs to one row of class scores per input.
//
// Contract (pure: no I/O of its own; the classifier and the clock are the caller's):
// - Input: n images NHWC (channels last, as KServe's classifier declares), one label per image in
//   [0, nb_classes). The adversarial images are float (ART's float32), computed from the original's doubles as ART
//   does (its candidates are float64 sums of the float32 image and eps, stored back as float32).
// - The attack, per image still classified as its label ("robust"), with margin(x) = score[label] - max of the
//   other scores (the paper's margin loss):
//     restart r in [0, nb_restarts): a vertical-stripe start, x + eps * s (one sign s in {-1,+1} per column and
//     channel, the same for every row), kept when its margin is below the original image's, else the image
//     restarts from x; then iterations i in [0, max_iter): a square of side h = max(round(sqrt(p_i * H * W)), 1)
//     (at most min(H, W)) at a random position (row and column drawn in [0, H-h) and [0, W-h), as ART draws
//     them; 0 when that range is empty) gets x + eps * s per channel (ART's "+-2 eps, then projected back onto
//     the eps-ball"), the candidate kept when its margin is lower. p_i = p_init halved at i/max_iter crossing
//     0.001, 0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6 and 0.8 (ART's schedule, the paper's 10,000-query schedule
//     rescaled). The attack stops as soon as no image is classified as its label. Every candidate is clipped to
//     [clip_min, clip_max] and stays within eps (L-infinity) of the original image.
// - Queries: one classifier call with every robust image per step (the first prediction, the stripe start of
//   each restart, each iteration): at most 1 + nb_restarts * (1 + max_iter) calls. ART asks the classifier three
//   times per iteration; the margins of the current images are kept here instead of asked again, which takes the
//   same decisions when the classifier is deterministic.
// - Determinism: every random draw comes from one std::mt19937_64 seeded with `seed` (its sequence is fixed by
//   the C++ standard) through bounded draws written here (the standard's distributions differ between
//   libraries), so the same images, labels, options and classifier answers give the same result bit for bit on
//   every platform. (ART draws from numpy's global, unseeded generator: each run differs.)
// - Bounds and cancellation: max_iter, nb_restarts and the image count are limited by ValidateSquareAttack; before
//   each classifier call `now_ns()` is compared with `deadline_ns` (0 = none): once it has passed the attack
//   stops with kDeadlineExceeded. A classifier error stops the attack with that error.
// - Errors: bad shapes, labels or options are kInvalidArgument naming the field ("images", "labels", "max_iter"...);
//   a classifier that answers the wrong number of scores (or a non-finite one) is kInternal.
// Thread safety: RunSquareAttack keeps no state between calls; concurrent calls are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <vector>

#include "core/status.h"

namespace inferd::explain {

// Scores of `n` inputs given flattened (n * features values, row-major): n * nb_classes values, row-major.
// Probabilities, logits or KServe's one-hot votes: only the order and the differences within a row matter.
using BlackBoxClassifier = std::function<StatusOr<std::vector<float>>(std::span<const float> inputs, size_t n)>;

struct ImageBatch {  // NHWC, row-major
  size_t n = 0, height = 0, width = 0, channels = 0;
  std::vector<double> values;
  size_t features() const { return height * width * channels; }
};

inline constexpr int kMaxSquareAttackIter = 100000;
inline constexpr int kMaxSquareAttackRestarts = 100;
inline constexpr size_t kMaxSquareAttackImages = 128;

struct SquareAttackOptions {
  // ART's SquareAttack defaults, which KServe keeps (it passes only max_iter: 1000 from its --max_iter).
  int max_iter = 100;
  double eps = 0.3;
  double p_init = 0.8;
  int nb_restarts = 1;
  int nb_classes = 10;
  // KServe's classifier declares clip_values=(-inf, inf): no clipping.
  double clip_min = -std::numeric_limits<double>::infinity();
  double clip_max = std::numeric_limits<double>::infinity();
  uint64_t seed = 0;
  int64_t deadline_ns = 0;               // on now_ns's clock; 0 = none
  std::function<int64_t()> now_ns;       // null: core/clock.h NowNs
};

struct SquareAttackResult {
  std::vector<float> adversarial;        // the same layout as the input images
  std::vector<int> prediction;           // the classifier's class for each original image
  std::vector<int> adversarial_prediction;  // ... and for each adversarial image
  int iterations = 0;                    // iterations run, summed over restarts
  int64_t queries = 0;                   // classifier calls
  int64_t rows_queried = 0;              // images sent in them
};

// The ranges RunSquareAttack accepts: images (n in [1, kMaxSquareAttackImages], H, W, C >= 1, values of the
// right count, all finite), labels (n of them, in [0, nb_classes)), and the options (max_iter in [0,
// kMaxSquareAttackIter], eps finite > 0, p_init in (0, 1], nb_restarts in [1, kMaxSquareAttackRestarts],
// nb_classes in [2, 100000], clip_min < clip_max).
Status ValidateSquareAttackOptions(const SquareAttackOptions& options);
Status ValidateSquareAttack(const ImageBatch& images, std::span<const int> labels, const SquareAttackOptions& options);

StatusOr<SquareAttackResult> RunSquareAttack(const ImageBatch& images, std::span<const int> labels,
                                             const SquareAttackOptions& options, const BlackBoxClassifier& classifier);

// ART's square size schedule: p_init scaled by 1, 1/2, ... 1/512 as iteration/max_iter passes its thresholds.
double SquareFraction(double p_init, int iteration, int max_iter);

}  // namespace inferd::explain
