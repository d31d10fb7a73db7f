// resources/builtin_runtimes.cc: inferd's built-in ClusterServingRuntimes.
//
// Every built-in runs `inferd model-server` (the one binary serves sklearn, xgboost, lightgbm, TorchScript,
// ONNX and Python model classes) and speaks v1, v2 and grpc-v2. KServe's runtime names are kept so that
// InferenceServices naming them with `runtime:` work unchanged.
#include "resources/resources.h"

namespace inferd::resources {
namespace {

struct Builtin {
  const char* name;
  const char* description;
  // {format name, version ("" = any)}
  std::vector<std::pair<const char*, const char*>> formats;
  bool python = false;
};

Json MakeRuntime(const Builtin& b) {
  Json formats = Json::array();
  for (const auto& [name, version] : b.formats) {
    Json f = {{"name", name}};
    if (*version) f["version"] = version;
    f["autoSelect"] = true;
    f["priority"] = 1;
    formats.push_back(std::move(f));
  }
  Json args = b.python ? Json::array({"--model_name={{.Name}}", "--python=/mnt/models/model.py", "--http_port=8080"})
                       : Json::array({"--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"});
  Json container = {{"name", "kserve-container"},
                    {"image", "inferd"},
                    {"command", Json::array({"inferd", "model-server"})},
                    {"args", std::move(args)}};
  return Json{{"apiVersion", kRuntimeApiVersion},
              {"kind", "ClusterServingRuntime"},
              {"metadata",
               {{"name", b.name},
                {"labels", {{"app.kubernetes.io/managed-by", "inferd"}}},
                {"annotations", {{"inferd.io/description", b.description}}}}},
              {"spec",
               {{"supportedModelFormats", std::move(formats)},
                {"protocolVersions", Json::array({"v1", "v2", "grpc-v2"})},
                {"multiModel", false},
                {"containers", Json::array({std::move(container)})}}}};
}

}  // namespace

std::vector<Json> BuiltinClusterServingRuntimes() {
  static const std::vector<Builtin> kBuiltins = {
      {"kserve-sklearnserver", "scikit-learn models (model.joblib / model.pkl)", {{"sklearn", "1"}}},
      {"kserve-xgbserver", "XGBoost models (model.bst / model.json / model.ubj)", {{"xgboost", ""}}},
      {"kserve-lgbserver", "LightGBM models (model.bst / model.txt)", {{"lightgbm", ""}}},
      {"kserve-torchserve", "PyTorch TorchScript models (model.pt), served by inferd", {{"pytorch", ""}}},
      {"kserve-onnxserver", "ONNX models (model.onnx)", {{"onnx", ""}}},
      {"kserve-pythonserver", "custom Python model classes (model.py)", {{"python", ""}, {"custom", ""}}, true},
  };
  std::vector<Json> out;
  try {
    out.reserve(kBuiltins.size());
    for (const auto& b : kBuiltins) out.push_back(MakeRuntime(b));
  } catch (...) {
    // Building constant JSON does not throw short of memory exhaustion; keep the no-throw promise.
  }
  return out;
}

}  // namespace inferd::resources
