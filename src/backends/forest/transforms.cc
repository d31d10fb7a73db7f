#include "backends/forest/transforms.h"

#include <algorithm>
#include <cmath>

namespace inferd::forest {

std::string_view TransformName(TransformKind kind) {
  switch (kind) {
    case TransformKind::kIdentity: return "identity";
    case TransformKind::kSigmoid: return "sigmoid";
    case TransformKind::kSoftmax: return "softmax";
    case TransformKind::kExp: return "exp";
    case TransformKind::kSoftplus: return "softplus";
    case TransformKind::kSignedSquare: return "signed_square";
  }
  return "unknown";
}

double Sigmoid(double x, double scale) { return 1.0 / (1.0 + std::exp(-scale * x)); }

void Softmax(double* row, size_t width) {
  if (width == 0) return;
  double wmax = row[0];
  for (size_t j = 1; j < width; ++j) wmax = std::max(row[j], wmax);
  double wsum = 0.0;
  for (size_t j = 0; j < width; ++j) {
    row[j] = std::exp(row[j] - wmax);
    wsum += row[j];
  }
  for (size_t j = 0; j < width; ++j) row[j] /= wsum;
}

void ApplyTransform(const OutputTransform& t, double* values, size_t rows, size_t width) {
  const size_t n = rows * width;
  switch (t.kind) {
    case TransformKind::kIdentity:
      return;
    case TransformKind::kSigmoid:
      for (size_t i = 0; i < n; ++i) values[i] = Sigmoid(values[i], t.scale);
      return;
    case TransformKind::kSoftmax:
      for (size_t r = 0; r < rows; ++r) Softmax(values + r * width, width);
      return;
    case TransformKind::kExp:
      for (size_t i = 0; i < n; ++i) values[i] = std::exp(values[i]);
      return;
    case TransformKind::kSoftplus:
      for (size_t i = 0; i < n; ++i) values[i] = std::log1p(std::exp(values[i]));
      return;
    case TransformKind::kSignedSquare:
      for (size_t i = 0; i < n; ++i) values[i] = (values[i] > 0 ? 1.0 : values[i] < 0 ? -1.0 : 0.0) * values[i] * values[i];
      return;
  }
}

}  // namespace inferd::forest
