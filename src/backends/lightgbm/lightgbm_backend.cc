#include "backends/lightgbm/lightgbm_backend.h"

#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "backends/forest/transforms.h"
#include "backends/lightgbm/lightgbm_model.h"
#include "core/logging.h"
#include "model/format.h"

namespace inferd {

namespace {

namespace fs = std::filesystem;
using lightgbm::LightgbmModel;

class LightgbmBackend final : public Backend {
 public:
  explicit LightgbmBackend(LightgbmModel model) : m_(std::move(model)) {
    const int64_t f = m_.num_features;
    const int64_t k = m_.num_tree_per_iteration;
    metadata_.platform = "lightgbm";
    metadata_.inputs = {{"input-0", DataType::kFp32, {-1, f}}};
    Shape scores = k == 1 ? Shape{-1} : Shape{-1, k};
    metadata_.outputs = {{"predict", DataType::kFp64, scores},
                         {"raw", DataType::kFp64, scores},
                         {"leaf", DataType::kInt32, {-1, static_cast<int64_t>(m_.forest.num_trees())}}};
    metadata_.v1_output = kPredict;
  }

  const ModelMetadata& metadata() const override { return metadata_; }
  std::vector<int> default_outputs() const override { return {kPredict}; }
  TreeEnsembleView tree_ensemble() const override { return {&m_.forest, true}; }

  Status Execute(std::span<const Tensor> inputs, std::span<const int> requested,
                 std::vector<Tensor>* outputs) override {
    if (inputs.size() != 1) return Internal("expected 1 input, got " + std::to_string(inputs.size()));
    const Tensor& x = inputs[0];
    const int64_t f = m_.num_features;
    if (x.dtype() != DataType::kFp32 || x.shape().size() != 2 || x.shape()[0] < 0 || x.shape()[1] != f ||
        x.byte_size() != static_cast<size_t>(x.shape()[0] * f) * sizeof(float)) {
      return InvalidArgument("inputs[0].shape: expected FP32 [-1, " + std::to_string(f) + "], got " +
                             std::string(DataTypeName(x.dtype())) + " " + ShapeToString(x.shape()) + " (" +
                             std::to_string(x.byte_size()) + " bytes)");
    }
    const size_t n = static_cast<size_t>(x.shape()[0]);
    const float* rows = x.data<float>();
    const size_t width = static_cast<size_t>(m_.num_tree_per_iteration);

    // Margins are computed once, straight into the first of predict/raw that was requested; the
    // other (rarely both) copies them before its own transform.
    std::vector<double> raw_copy;
    const double* margins = nullptr;
    for (int idx : requested) {
      if (idx < 0 || idx >= kOutputs) return Internal("bad output index " + std::to_string(idx));
      const TensorSpec& spec = metadata_.outputs[static_cast<size_t>(idx)];
      Shape shape = spec.shape;
      shape[0] = static_cast<int64_t>(n);
      Tensor t(spec.name, spec.dtype, shape);
      if (idx == kLeaf) {
        const size_t trees = static_cast<size_t>(m_.forest.num_trees());
        int32_t* out = reinterpret_cast<int32_t*>(t.Allocate(n * trees * sizeof(int32_t)));
        if (n > 0) m_.forest.LeafIndices(rows, n, out);
      } else {
        double* out = reinterpret_cast<double*>(t.Allocate(n * width * sizeof(double)));
        if (n > 0) {
          if (margins == nullptr) {
            m_.forest.Margins(rows, n, out);
            if (idx == kPredict && requested.size() > 1) {  // keep the margins for a later "raw"
              raw_copy.assign(out, out + n * width);
              margins = raw_copy.data();
            } else {
              margins = out;  // "raw" is never transformed, so the copy for "predict" comes from here
            }
          } else {
            std::memcpy(out, margins, n * width * sizeof(double));
          }
          if (idx == kPredict) forest::ApplyTransform(m_.transform, out, n, width);
        }
      }
      outputs->push_back(std::move(t));
    }
    return Status::Ok();
  }

 private:
  static constexpr int kPredict = 0, kRaw = 1, kLeaf = 2, kOutputs = 3;

  LightgbmModel m_;
  ModelMetadata metadata_;
};

class LightgbmBackendFactory final : public BackendFactory {
 public:
  std::string_view format() const override { return "lightgbm"; }

  StatusOr<std::unique_ptr<Backend>> Load(const LoadOptions& options) override {
    std::string file = options.model_file;
    if (file.empty()) {
      ASSIGN_OR_RETURN(DetectedModel d, DetectModel(options.model_dir, "lightgbm"));
      file = d.file;
    } else if (fs::path(file).is_relative() && !options.model_dir.empty()) {
      file = (fs::path(options.model_dir) / file).string();
    }
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return NotFound("model file '" + file + "' does not exist or is not a file");
    ASSIGN_OR_RETURN(LightgbmModel m, lightgbm::LoadLightgbmModel(file));
    LOG_INFO("model file '{}': LightGBM {} model, objective '{}', {} trees, {} features{}", file, m.version,
             m.objective, m.forest.num_trees(), m.num_features,
             m.legacy_rf_output ? " (LightGBM 2.x random forest: averaged leaf values are the prediction)" : "");
    return std::unique_ptr<Backend>(std::make_unique<LightgbmBackend>(std::move(m)));
  }
};

}  // namespace

std::unique_ptr<BackendFactory> NewLightgbmBackendFactory() { return std::make_unique<LightgbmBackendFactory>(); }

}  // namespace inferd
