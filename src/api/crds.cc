// api/crds.cc: the compiled-in CRDs, parsed once (crds.h).
#include "api/crds.h"

#include "api/crd_text.h"
#include "core/logging.h"
#include "resources/resources.h"

namespace inferd::api {
namespace {

std::vector<Crd> Parse() {
  struct Source {
    const char* name;
    const char* text;
  };
  const Source sources[] = {
      {"serving.kserve.io_inferenceservices.yaml", crd_text::kInferenceServices},
      {"serving.kserve.io_servingruntimes.yaml", crd_text::kServingRuntimes},
      {"serving.kserve.io_clusterservingruntimes.yaml", crd_text::kClusterServingRuntimes},
      {"serving.kserve.io_inferencegraphs.yaml", crd_text::kInferenceGraphs},
      {"serving.kserve.io_trainedmodels.yaml", crd_text::kTrainedModels},
  };
  std::vector<Crd> out;
  for (const auto& src : sources) {
    auto docs = resources::ParseYamlDocuments(src.text, src.name);
    if (!docs.ok() || docs->size() != 1) {
      LOG_ERROR("api: compiled-in CRD {} does not parse: {}", src.name,
                docs.ok() ? "expected one document" : docs.status().message());
      continue;
    }
    const auto& d = (*docs)[0];
    try {
      const auto& spec = d.at("spec");
      const auto& v = spec.at("versions").at(0);
      Crd c;
      c.group = spec.at("group").get<std::string>();
      c.version = v.at("name").get<std::string>();
      const auto& names = spec.at("names");
      c.kind = names.at("kind").get<std::string>();
      c.plural = names.at("plural").get<std::string>();
      c.singular = names.value("singular", "");
      if (names.contains("shortNames")) c.short_names = names["shortNames"].get<std::vector<std::string>>();
      c.namespaced = spec.value("scope", "Namespaced") == "Namespaced";
      c.status_subresource = v.contains("subresources") && v["subresources"].contains("status");
      c.schema = v.at("schema").at("openAPIV3Schema");
      c.definition = d;
      out.push_back(std::move(c));
    } catch (const std::exception& e) {
      LOG_ERROR("api: compiled-in CRD {} is malformed: {}", src.name, e.what());
    }
  }
  return out;
}

}  // namespace

const std::vector<Crd>& Crds() {
  static const std::vector<Crd> crds = Parse();
  return crds;
}

const Crd* FindCrd(std::string_view api_version, std::string_view kind) {
  for (const auto& c : Crds()) {
    if (c.kind == kind && api_version.size() == c.group.size() + 1 + c.version.size() &&
        api_version.substr(0, c.group.size()) == c.group && api_version[c.group.size()] == '/' &&
        api_version.substr(c.group.size() + 1) == c.version) {
      return &c;
    }
  }
  return nullptr;
}

}  // namespace inferd::api
