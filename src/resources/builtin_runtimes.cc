// resources/builtin_runtimes.cc: inferd's built-in ClusterServingRuntimes.
//
// Every built-in runs `inferd model-server` (the one binary serves sklearn, xgboost, lightgbm, TorchScript,
// ONNX, TensorFlow SavedModels and Python model classes) and speaks v1, v2 and grpc-v2 (kserve-tensorflow-serving
// grpc-v1 too: TF Serving's gRPC API); kserve-tritonserver serves the storageUri as
// a Triton model repository (--model_repository) and, like KServe's, speaks v2 and grpc-v2 only. KServe's
// runtime names are kept so that InferenceServices naming them with `runtime:` work unchanged.
#include "resources/resources.h"

namespace inferd::resources {
namespace {

enum class Serves { kModelDir, kPython, kRepository, kTensorflow };

struct Builtin {
  const char* name;
  const char* description;
  // {format name, version ("" = any)}
  std::vector<std::pair<const char*, const char*>> formats;
  Serves serves = Serves::kModelDir;
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
  Json args;
  Json protocols = Json::array({"v1", "v2", "grpc-v2"});
  switch (b.serves) {
    case Serves::kTensorflow:  // also TF Serving's gRPC API (server/tfserving_grpc.h), as KServe's runtime
      protocols = Json::array({"v1", "v2", "grpc-v1", "grpc-v2"});
      [[fallthrough]];
    case Serves::kModelDir:
      args = Json::array({"--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"});
      break;
    case Serves::kPython:
      args = Json::array({"--model_name={{.Name}}", "--python=/mnt/models/model.py", "--http_port=8080"});
      break;
    case Serves::kRepository:  // Triton's layout: every subdirectory is a model, named by the directory
      args = Json::array({"--model_repository=/mnt/models", "--http_port=8080"});
      protocols = Json::array({"v2", "grpc-v2"});  // as KServe's kserve-tritonserver
      break;
  }
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
                {"protocolVersions", std::move(protocols)},
                {"multiModel", false},
                {"containers", Json::array({std::move(container)})}}}};
}

}  // namespace

std::vector<Json> BuiltinClusterServingRuntimes() {
  static const std::vector<Builtin> kBuiltins = {
      {"kserve-sklearnserver", "scikit-learn models (model.joblib / model.pkl)", {{"sklearn", "1"}}},
      {"kserve-xgbserver", "XGBoost models (model.bst / model.json / model.ubj)", {{"xgboost", ""}}},
      {"kserve-lgbserver", "LightGBM models (model.bst / model.txt)", {{"lightgbm", ""}}},
      {"kserve-torchserve", "PyTorch: TorchScript models (model.pt) or TorchServe stores (model-store/*.mar), served by inferd", {{"pytorch", ""}}},
      {"kserve-onnxserver", "ONNX models (model.onnx)", {{"onnx", ""}}},
      {"kserve-pythonserver", "custom Python model classes (model.py)", {{"python", ""}, {"custom", ""}},
       Serves::kPython},
      {"kserve-tritonserver", "Triton model repositories (a subdirectory per model: TorchScript, ONNX), V2 only",
       {{"triton", "2"}}, Serves::kRepository},
      // KServe's runs TF Serving (formats tensorflow 1 and 2); inferd runs SavedModels on its own executor and
      // answers TF Serving's REST API on the V1 paths and its gRPC API (grpc-v1: PredictionService, ModelService)
      // beside V2 gRPC (backends/tensorflow/tf_backend.h).
      {"kserve-tensorflow-serving", "TensorFlow SavedModels (saved_model.pb, TF Serving's version directories)",
       {{"tensorflow", "1"}, {"tensorflow", "2"}}, Serves::kTensorflow},
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
