#include "model/format.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

namespace inferd {

namespace fs = std::filesystem;

namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool LooksLikeLightGbm(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  char buf[5] = {};
  in.read(buf, 4);
  return in.gcount() == 4 && std::string_view(buf, 4) == "tree";
}

// Formats a file can belong to, by name (and for .bst, content).
std::vector<std::string> FormatsOf(const fs::path& p) {
  std::string name = p.filename().string();
  if (EndsWith(name, ".joblib") || EndsWith(name, ".pkl") || EndsWith(name, ".pickle")) return {"sklearn"};
  if (EndsWith(name, ".bst")) return {LooksLikeLightGbm(p) ? "lightgbm" : "xgboost"};
  if (EndsWith(name, ".txt")) {  // LightGBM's save_model default; other text files are not models
    if (LooksLikeLightGbm(p)) return {"lightgbm"};
    return {};
  }
  if (name == "model-settings.json") return {};  // per-model settings (model/model_config.h), not a model
  if (name == "explainer_background.json") return {};  // KernelSHAP's background rows (explain/explainer.h)
  if (EndsWith(name, ".json") || EndsWith(name, ".ubj")) return {"xgboost"};
  if (EndsWith(name, ".pmml")) return {"pmml"};
  if (name == "model.pt") return {"pytorch"};
  if (name == "model.onnx") return {"onnx"};
  if (name == "saved_model.pb") return {"tensorflow"};
  if (EndsWith(name, ".mar")) return {"torchserve"};  // recognised to be refused by name (DetectModel)
  if (EndsWith(name, ".fault")) return {"fault"};  // test-only backend, see backends/fault
  return {};
}

}  // namespace

StatusOr<DetectedModel> DetectModel(const std::string& dir, const std::string& format) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound("model_dir '" + dir + "' is not a directory");
  std::vector<DetectedModel> found;
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    // Triton's layout for a SavedModel: <version>/model.savedmodel/saved_model.pb.
    if (entry.is_directory(ec) && entry.path().filename() == "model.savedmodel" &&
        (format.empty() || format == "tensorflow") && fs::is_regular_file(entry.path() / "saved_model.pb", ec)) {
      found.push_back({"tensorflow", fs::absolute(entry.path() / "saved_model.pb", ec).string()});
      names.push_back("model.savedmodel/saved_model.pb (tensorflow)");
      continue;
    }
    if (!entry.is_regular_file(ec)) continue;
    for (const std::string& f : FormatsOf(entry.path())) {
      // An explicit --model_format of xgboost also accepts a .bst, whatever its content looks like.
      bool bst_override = !format.empty() && (format == "xgboost" || format == "lightgbm") &&
                          EndsWith(entry.path().filename().string(), ".bst");
      if (!format.empty() && f != format && !bst_override) continue;
      found.push_back({format.empty() ? f : format, fs::absolute(entry.path(), ec).string()});
      names.push_back(entry.path().filename().string() + " (" + found.back().format + ")");
    }
  }
  if (ec) return Internal("cannot list model_dir '" + dir + "': " + ec.message());
  std::sort(names.begin(), names.end());
  for (const auto& m : found) {
    if (m.format == "torchserve") {
      return Unimplemented("'" + m.file + "' is a TorchServe model archive (.mar): serve its directory as a "
                           "TorchServe model store (--model-store DIR, or --model_dir with model-store/*.mar; "
                           "docs/torchserve.md), not as one model of a --model_repository");
    }
  }
  if (found.size() == 1) return found.front();
  std::string which = format.empty() ? "any supported format" : "format '" + format + "'";
  if (found.empty()) {
    return NotFound("no model file for " + which + " found in '" + dir +
                    "' (expected one of *.bst *.json *.ubj *.txt (LightGBM) *.joblib *.pkl *.pickle *.pmml "
                    "model.pt model.onnx saved_model.pb model.savedmodel/)");
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return InvalidArgument("more than one model file for " + which + " in '" + dir + "': " + list +
                         "; keep exactly one or pass --model_format");
}

}  // namespace inferd
