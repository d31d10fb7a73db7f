// backends/forest/transforms.h: the functions that turn a forest's margins into a framework's
// prediction (LightGBM's ConvertOutput, XGBoost's PredTransform, scikit-learn's predict_proba).
//
// Contract: pure functions on caller-owned buffers, no state; safe from any thread. The backend picks the
// transform from the model's objective; the Forest itself only produces margins.
//   kIdentity      x
//   kSigmoid       1 / (1 + exp(-scale * x)), element-wise (binary; one-vs-all multiclass)
//   kSoftmax       exp(x_j - max) / sum_k exp(x_k - max) over each row (multiclass)
//   kExp           exp(x) (poisson, gamma, tweedie)
//   kSoftplus      log(1 + exp(x)) (LightGBM's cross_entropy_lambda)
//   kSignedSquare  sign(x) * x * x (LightGBM regression objectives trained with reg_sqrt)
// All arithmetic is in double, in the order LightGBM uses (softmax: shift by the row max, sum, divide).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace inferd::forest {

enum class TransformKind : uint8_t { kIdentity, kSigmoid, kSoftmax, kExp, kSoftplus, kSignedSquare };

struct OutputTransform {
  TransformKind kind = TransformKind::kIdentity;
  double scale = 1.0;  // kSigmoid only
};

std::string_view TransformName(TransformKind kind);

double Sigmoid(double x, double scale);
// Softmax of one row of `width` values, in place.
void Softmax(double* row, size_t width);
// Applies `t` in place to `rows` rows of `width` values each (row-major).
void ApplyTransform(const OutputTransform& t, double* values, size_t rows, size_t width);

}  // namespace inferd::forest
