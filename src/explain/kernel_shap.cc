#include "explain/kernel_shap.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

namespace inferd::explain {

namespace {

int64_t Requested(size_t m, int64_t nsamples) {
  return nsamples > 0 ? nsamples : 2 * static_cast<int64_t>(m) + 2048;
}

bool Enumerates(size_t m, int64_t nsamples) {
  return m < 31 && (int64_t{1} << m) - 2 <= Requested(m, nsamples);
}

// Coalitions as rows of M 0/1 bytes, with their weights.
struct Coalitions {
  std::vector<uint8_t> masks;
  std::vector<double> weights;
};

// Every proper, non-empty subset, weighted by the Shapley kernel (M - 1) / (C(M, s) s (M - s)).
Coalitions AllSubsets(size_t m) {
  Coalitions c;
  const uint64_t end = (uint64_t{1} << m) - 1;
  for (uint64_t bits = 1; bits < end; ++bits) {
    size_t s = 0;
    for (size_t i = 0; i < m; ++i) {
      const uint8_t on = (bits >> i) & 1u;
      c.masks.push_back(on);
      s += on;
    }
    double choose = 1;
    for (size_t k = 1; k <= s; ++k) choose = choose * static_cast<double>(m - s + k) / static_cast<double>(k);
    c.weights.push_back(static_cast<double>(m - 1) / (choose * static_cast<double>(s) * static_cast<double>(m - s)));
  }
  return c;
}

// `pairs` complementary pairs; sizes drawn with probability proportional to (M - 1) / (s (M - s)), members
// uniformly (partial Fisher-Yates). Uniforms come from the generator's bits directly, so the sequence is
// the same with every standard library.
Coalitions Sampled(size_t m, int64_t pairs, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> cdf(m - 1);
  double total = 0;
  for (size_t s = 1; s < m; ++s) {
    total += 1.0 / (static_cast<double>(s) * static_cast<double>(m - s));
    cdf[s - 1] = total;
  }
  Coalitions c;
  std::vector<size_t> idx(m);
  std::vector<uint8_t> mask(m);
  for (int64_t p = 0; p < pairs; ++p) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53 * total;
    const size_t s = static_cast<size_t>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin()) + 1;
    std::iota(idx.begin(), idx.end(), size_t{0});
    std::fill(mask.begin(), mask.end(), uint8_t{0});
    for (size_t i = 0; i < std::min(s, m - 1); ++i) {
      const size_t j = i + static_cast<size_t>(rng() % (m - i));
      std::swap(idx[i], idx[j]);
      mask[idx[i]] = 1;
    }
    c.masks.insert(c.masks.end(), mask.begin(), mask.end());
    for (uint8_t& b : mask) b ^= 1u;
    c.masks.insert(c.masks.end(), mask.begin(), mask.end());
    c.weights.insert(c.weights.end(), {1.0, 1.0});
  }
  return c;
}

// Runs the model over `rows` rows produced by `fill(r, row)` in batches; calls take(r, outputs of row r).
template <typename Fill, typename Take>
Status Evaluate(const BatchModel& model, size_t m, size_t rows, size_t* k, Fill fill, Take take) {
  std::vector<double> in, out;
  for (size_t start = 0; start < rows; start += kBatchRows) {
    const size_t n = std::min(kBatchRows, rows - start);
    in.resize(n * m);
    for (size_t r = 0; r < n; ++r) fill(start + r, in.data() + r * m);
    out.clear();
    RETURN_IF_ERROR(model(in.data(), n, &out));
    if (out.empty() || out.size() % n != 0 || (*k != 0 && out.size() / n != *k)) {
      return Internal("the model answered " + std::to_string(out.size()) + " values for " + std::to_string(n) +
                      " rows");
    }
    *k = out.size() / n;
    for (size_t r = 0; r < n; ++r) take(start + r, out.data() + r * *k);
  }
  return Status::Ok();
}

// Solves a (p x p) * X (p x k) = b in place by Gaussian elimination with partial pivoting; false when
// singular.
bool Solve(std::vector<double>& a, std::vector<double>& b, size_t p, size_t k) {
  double scale = 0;
  for (size_t i = 0; i < p; ++i) scale = std::max(scale, std::fabs(a[i * p + i]));
  for (size_t col = 0; col < p; ++col) {
    size_t piv = col;
    for (size_t r = col + 1; r < p; ++r) {
      if (std::fabs(a[r * p + col]) > std::fabs(a[piv * p + col])) piv = r;
    }
    if (!(std::fabs(a[piv * p + col]) > 1e-12 * scale)) return false;
    if (piv != col) {
      for (size_t j = 0; j < p; ++j) std::swap(a[col * p + j], a[piv * p + j]);
      for (size_t j = 0; j < k; ++j) std::swap(b[col * k + j], b[piv * k + j]);
    }
    for (size_t r = col + 1; r < p; ++r) {
      const double f = a[r * p + col] / a[col * p + col];
      if (f == 0) continue;
      for (size_t j = col; j < p; ++j) a[r * p + j] -= f * a[col * p + j];
      for (size_t j = 0; j < k; ++j) b[r * k + j] -= f * b[col * k + j];
    }
  }
  for (size_t col = p; col-- > 0;) {
    for (size_t j = 0; j < k; ++j) {
      double v = b[col * k + j];
      for (size_t c = col + 1; c < p; ++c) v -= a[col * p + c] * b[c * k + j];
      b[col * k + j] = v / a[col * p + col];
    }
  }
  return true;
}

}  // namespace

int64_t KernelShapCoalitions(size_t num_features, int64_t nsamples) {
  if (num_features <= 1) return 0;
  if (Enumerates(num_features, nsamples)) return (int64_t{1} << num_features) - 2;
  return (Requested(num_features, nsamples) + 1) / 2 * 2;
}

StatusOr<KernelShapResult> KernelShap(const BatchModel& model, const double* x, size_t m, const double* background,
                                      size_t nb, const KernelShapOptions& options) {
  if (m == 0) return InvalidArgument("instances: a row has no features");
  if (m > kMaxFeatures) {
    return InvalidArgument("instances: " + std::to_string(m) + " features, KernelSHAP explains at most " +
                           std::to_string(kMaxFeatures));
  }
  if (nb == 0) return InvalidArgument("background: no rows");
  if (nb > kMaxBackground) {
    return InvalidArgument("background: " + std::to_string(nb) + " rows, at most " + std::to_string(kMaxBackground));
  }
  if (options.nsamples > kMaxNsamples) {
    return InvalidArgument("nsamples: " + std::to_string(options.nsamples) + ", at most " +
                           std::to_string(kMaxNsamples));
  }
  const int64_t coalitions = KernelShapCoalitions(m, options.nsamples);
  if ((coalitions + 1) * static_cast<int64_t>(nb) > kMaxEvaluations) {
    return InvalidArgument("nsamples: " + std::to_string(coalitions) + " coalitions x " + std::to_string(nb) +
                           " background rows is more than " + std::to_string(kMaxEvaluations) +
                           " model evaluations per row; lower nsamples or use fewer background rows");
  }
  KernelShapResult res;
  size_t k = 0;
  // f(x), then the expected value over the background.
  RETURN_IF_ERROR(Evaluate(model, m, 1, &k, [&](size_t, double* row) { std::copy(x, x + m, row); },
                           [&](size_t, const double* o) { res.fx.assign(o, o + k); }));
  res.expected.assign(k, 0.0);
  RETURN_IF_ERROR(Evaluate(
      model, m, nb, &k, [&](size_t r, double* row) { std::copy(background + r * m, background + (r + 1) * m, row); },
      [&](size_t, const double* o) {
        for (size_t j = 0; j < k; ++j) res.expected[j] += o[j] / static_cast<double>(nb);
      }));
  res.outputs = k;
  res.phi.assign(k * m, 0.0);
  if (m == 1) {
    for (size_t j = 0; j < k; ++j) res.phi[j] = res.fx[j] - res.expected[j];
    return res;
  }
  const Coalitions c = Enumerates(m, options.nsamples) ? AllSubsets(m) : Sampled(m, coalitions / 2, options.seed);
  const size_t nc = c.weights.size();
  res.coalitions = static_cast<int64_t>(nc);
  std::vector<double> value(nc * k, 0.0);
  RETURN_IF_ERROR(Evaluate(
      model, m, nc * nb, &k,
      [&](size_t r, double* row) {
        const uint8_t* z = c.masks.data() + (r / nb) * m;
        const double* b = background + (r % nb) * m;
        for (size_t i = 0; i < m; ++i) row[i] = z[i] ? x[i] : b[i];
      },
      [&](size_t r, const double* o) {
        for (size_t j = 0; j < k; ++j) value[(r / nb) * k + j] += o[j] / static_cast<double>(nb);
      }));
  // Normal equations of the constrained problem, the last feature eliminated:
  // v(z) - E - z_last (f(x) - E) = sum_i (z_i - z_last) phi_i.
  const size_t p = m - 1;
  std::vector<double> a(p * p, 0.0), b(p * k, 0.0), d(p);
  for (size_t s = 0; s < nc; ++s) {
    const uint8_t* z = c.masks.data() + s * m;
    const double w = c.weights[s];
    for (size_t i = 0; i < p; ++i) d[i] = static_cast<double>(z[i]) - static_cast<double>(z[p]);
    for (size_t i = 0; i < p; ++i) {
      if (d[i] == 0) continue;
      const double wd = w * d[i];
      for (size_t j = 0; j < p; ++j) a[i * p + j] += wd * d[j];
      for (size_t j = 0; j < k; ++j) {
        const double y = value[s * k + j] - res.expected[j] - z[p] * (res.fx[j] - res.expected[j]);
        b[i * k + j] += wd * y;
      }
    }
  }
  if (!Solve(a, b, p, k)) {
    return InvalidArgument("nsamples: " + std::to_string(nc) + " coalitions do not determine " + std::to_string(m) +
                           " SHAP values; raise nsamples");
  }
  for (size_t j = 0; j < k; ++j) {
    double sum = 0;
    for (size_t i = 0; i < p; ++i) {
      res.phi[j * m + i] = b[i * k + j];
      sum += b[i * k + j];
    }
    res.phi[j * m + p] = res.fx[j] - res.expected[j] - sum;
  }
  return res;
}

}  // namespace inferd::explain
