// fuzz/explain_request_fuzz.cc: the body of `POST /v1/models/<m>:explain` (explain/explain_request.cc) and
// background files (ParseRows), then TreeSHAP (explain/tree_shap.cc) on the parsed rows with a small fixed
// forest. Invariants: accepted rows are rectangular (count x width values, width the product of the
// shape), within the documented bounds; TreeSHAP's contributions plus bias equal the forest's margin for
// whatever values a client sends (NaN, infinities, huge numbers).
#include <cmath>

#include "explain/explain_request.h"
#include "explain/tree_shap.h"
#include "fuzz_check.h"

using namespace inferd;

namespace {

forest::Forest SmallForest() {
  forest::ForestBuilder b(3, 1);
  forest::TreeSpec t;
  t.nodes = {forest::NodeSpec::Numerical(0, 0.5, 1, 4, true, forest::MissingRule::kNanIsMissing),
             forest::NodeSpec::Numerical(1, -1.0, 2, 3, false, forest::MissingRule::kZeroIsMissing),
             forest::NodeSpec::Leaf(1.0, 0), forest::NodeSpec::Leaf(-2.0, 1),
             forest::NodeSpec::Numerical(0, 3.0, 5, 6, false, forest::MissingRule::kNone),
             forest::NodeSpec::Leaf(0.5, 2), forest::NodeSpec::Leaf(4.0, 3)};
  const double covers[] = {10, 6, 2, 4, 4, 1, 3};
  for (size_t i = 0; i < t.nodes.size(); ++i) t.nodes[i].cover = covers[i];
  (void)b.AddTree(t);
  return std::move(b.Build()).value();
}

void CheckRows(const explain::Rows& r) {
  size_t product = 1;
  for (int64_t d : r.shape) {
    FUZZ_CHECK(d >= 1, "a dimension below 1");
    product *= static_cast<size_t>(d);
  }
  FUZZ_CHECK(product == r.width, "width is not the product of the shape");
  FUZZ_CHECK(r.count >= 1 && r.values.size() == r.count * r.width, "rows are not rectangular");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const forest::Forest forest = SmallForest();
  static const explain::TreeShap shap = explain::TreeShap::Create(forest).value();
  std::string_view text = inferd::fuzz::AsText(data, size);
  if (auto rows = explain::ParseRows(text, "background"); rows.ok()) CheckRows(*rows);
  auto r = explain::ParseExplainRequest(text);
  if (!r.ok()) return 0;
  CheckRows(r->instances);
  FUZZ_CHECK(r->instances.count <= explain::kMaxExplainInstances, "too many instances accepted");
  FUZZ_CHECK(r->nsamples >= 0, "negative nsamples");
  if (r->has_background) {
    CheckRows(r->background);
    FUZZ_CHECK(r->background.shape == r->instances.shape, "background of another shape");
  }
  if (r->instances.width != 3) return 0;
  for (size_t i = 0; i < r->instances.count; ++i) {
    const double* row = r->instances.values.data() + i * 3;
    double phi[4], margin;
    shap.Contributions(row, phi);
    forest.Margins(row, 1, &margin);
    const double sum = phi[0] + phi[1] + phi[2] + phi[3];
    FUZZ_CHECK(std::fabs(sum - margin) < 1e-9, "contributions + bias != margin");
  }
  return 0;
}
