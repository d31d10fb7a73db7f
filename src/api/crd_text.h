// api/crd_text.h: the text of config/crd/serving.kserve.io_*.yaml, compiled in at build time
// (cmake/embed_text.cmake; CMakeLists.txt lists the files). Read them through api/crds.h.
#pragma once

namespace inferd::api::crd_text {

extern const char* const kInferenceServices;
extern const char* const kServingRuntimes;
extern const char* const kClusterServingRuntimes;
extern const char* const kInferenceGraphs;
extern const char* const kTrainedModels;

}  // namespace inferd::api::crd_text
