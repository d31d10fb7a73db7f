// fuzz/sklearn_native_fuzz.cc: the native description of a scikit-learn model (backends/sklearn/
// sklearn_native.h): the JSON the Python half writes at load and the compiled cache keeps on disk
// (INFERD_COMPILED_CACHE), read back by NativeModel::FromJson without Python. The pickle itself is read by
// scikit-learn/joblib in the embedded interpreter, not by inferd. An accepted model is run on a few rows.
#include <cmath>
#include <limits>
#include <vector>

#include "backends/sklearn/sklearn_native.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = inferd::sklearn::NativeModel::FromJson(inferd::fuzz::AsText(data, size));
  if (!m.ok()) return 0;
  const auto& model = **m;
  const size_t nf = static_cast<size_t>(model.num_features());
  FUZZ_CHECK(nf > 0, "a model without features");
  if (nf > 4096 || model.num_classes() > 4096) return 0;
  const double values[] = {0.0, 1.0, -1.0, 0.5, 2.0, 1e30, std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity()};
  constexpr size_t n = sizeof(values) / sizeof(values[0]);
  std::vector<double> x;
  for (double v : values) x.insert(x.end(), nf, v);
  std::vector<int64_t> label(n);
  std::vector<double> proba(n * static_cast<size_t>(std::max<int64_t>(model.num_classes(), 1))), value(n);
  if (model.classifier()) {
    if (model.Run(x.data(), n, label.data(), model.has_proba() ? proba.data() : nullptr, nullptr).ok()) {
      for (int64_t l : label) FUZZ_CHECK(l >= 0 && l < model.num_classes(), "label index out of range");
    }
  } else {
    (void)model.Run(x.data(), n, nullptr, nullptr, value.data());
  }
  for (size_t i = 0; i < n; ++i) (void)model.Run(x.data() + i * nf, 1, label.data(), nullptr, value.data());
  return 0;
}
