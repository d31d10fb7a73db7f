// fuzz/lightgbm_fuzz.cc: LightGBM's text model format (backends/lightgbm/lightgbm_model.h: the header, the
// Tree=N blocks), then the forest built from it evaluated (forest_check.h) and its output transform applied.
#include "backends/lightgbm/lightgbm_model.h"
#include "forest_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = inferd::lightgbm::ParseLightgbmModel(inferd::fuzz::AsText(data, size));
  if (!m.ok()) return 0;
  FUZZ_CHECK(m->num_tree_per_iteration == m->forest.num_groups(), "groups differ from num_tree_per_iteration");
  FUZZ_CHECK(m->num_features == m->forest.num_features(), "feature count differs");
  inferd::fuzz::EvaluateForest(m->forest);
  std::vector<double> margins(static_cast<size_t>(m->forest.num_groups()) * 2, 0.5);
  inferd::forest::ApplyTransform(m->transform, margins.data(), 2, static_cast<size_t>(m->forest.num_groups()));
  return 0;
}
