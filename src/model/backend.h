// model/backend.h: the seam between inferd and a framework runtime (XGBoost, and later sklearn, torch...).
//
// Contract:
// - A BackendFactory turns a model file into a loaded Backend (Load). Loading may be slow and runs on
//   a loader thread, never on an I/O thread. Destroying the Backend unloads the model and frees
//   everything it holds.
// - metadata() is fixed after Load and may be read from any thread without locking. It also says how
//   KServe V1 requests reach the model: metadata().v1_output, an index into metadata().outputs, names
//   the output V1 `predictions` are made of (unless v1_passthrough); metadata().v1_passthrough (custom
//   Python models) means V1 bodies go to the model whole, through a front-end adapter registered with
//   the REST front end (server/v1_passthrough.h), never through the Backend. The Backend seam carries
//   tensors only: no JSON, no wire format.
// - Execute runs one batch. Before calling it the model layer has already checked that `inputs` are in
//   metadata().inputs order, have the declared datatype (converted if accepts_numeric_conversion()),
//   a shape that fits the declared one, and contents whose size agrees with shape and datatype, and that
//   fixed-size contents are aligned for their type. `requested` holds indices into metadata().outputs;
//   Execute appends exactly one tensor per requested index, in that order.
// - native_rest() (model/native_rest.h): a backend whose framework has its own REST dialect on KServe's V1 paths
//   (TensorFlow: TF Serving's API) returns it; the V1 front end then uses it instead of KServe's V1 codec.
// - native_grpc() (model/native_grpc.h): likewise for a framework's own gRPC API (TensorFlow: TF Serving's
//   PredictionService and ModelService, KServe's `grpc-v1`), served beside the V2 gRPC service.
// - Thread safety: when thread_safe() is true (the default) Execute may be called concurrently from
//   any number of threads; otherwise the model layer serializes calls. Execute never throws: a failure
//   is a Status (the model layer also catches stray exceptions and turns them into kInternal).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/native_grpc.h"
#include "model/native_rest.h"
#include "tensor/infer_types.h"

namespace inferd {

namespace forest {
class Forest;
}

// What an explainer (explain/tree_shap.h) needs of a model whose output is a tree ensemble's margins.
struct TreeEnsembleView {
  const forest::Forest* forest = nullptr;  // null: not a tree ensemble (explainers treat it as a black box)
  bool float32_input = true;               // rows are rounded to float32 before the trees, as Execute does
};

struct LoadOptions {
  std::string model_name;
  std::string model_dir;   // the directory the model was found in
  std::string model_file;  // the detected (or given) model file inside model_dir
  int intra_op_threads = 1;
  // Runtimes that can compile a model natively (scikit-learn) keep it on the framework's own path
  // instead (--force_python).
  bool force_python = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const ModelMetadata& metadata() const = 0;
  virtual bool thread_safe() const { return true; }
  // When true, numeric inputs of another numeric datatype are converted to the declared datatype
  // (KServe's Python servers accept any numeric JSON for a float model; so does inferd).
  virtual bool accepts_numeric_conversion() const { return true; }
  // Outputs returned when a request names none (indices into metadata().outputs). Default: all.
  // A backend may expose extra outputs (e.g. probabilities) that are returned only when requested.
  virtual std::vector<int> default_outputs() const {
    std::vector<int> v;
    for (size_t i = 0; i < metadata().outputs.size(); ++i) v.push_back(static_cast<int>(i));
    return v;
  }

  virtual Status Execute(std::span<const Tensor> inputs, std::span<const int> requested,
                         std::vector<Tensor>* outputs) = 0;

  // Custom Python models (backends/python) declare no inputs or outputs: when dynamic_io() is true the
  // model layer checks only that each input's contents agree with its shape and datatype, passes the
  // inputs as sent, calls Execute with an empty `requested`, and keeps the outputs the request named
  // (all when it named none).
  virtual bool dynamic_io() const { return false; }

  // The tree ensemble this backend evaluates natively, for TreeSHAP (XGBoost, LightGBM, scikit-learn
  // trees); it lives as long as the backend. Default: none.
  virtual TreeEnsembleView tree_ensemble() const { return {}; }

  // False when running the model on zeros at load (Model::WarmUp) would change its state (a TensorFlow signature
  // that assigns variables); the first request then warms it up. Default: true.
  virtual bool warm_up_safe() const { return true; }

  // The framework's own REST dialect on V1 paths, owned by the backend; null (the default) when it has none.
  virtual NativeRestApi* native_rest() const { return nullptr; }
  virtual NativeGrpcApi* native_grpc() const { return nullptr; }
};

// For backends that hand input buffers to a framework as raw memory: re-checks that input `index`
// has exactly the declared datatype, a shape that fits, a byte size that agrees and aligned contents
// (the model layer guarantees this; a backend may not want to trust it blindly).
inline Status CheckTensorMatchesSpec(size_t index, const Tensor& t, const TensorSpec& spec) {
  auto n = ElementCount(t.shape(), {});
  if (t.dtype() != spec.dtype || !ShapeMatches(spec.shape, t.shape()) || !n.ok() ||
      static_cast<size_t>(*n) * DataTypeSize(t.dtype()) != t.byte_size() || !t.aligned_for_type()) {
    return InvalidArgument("inputs[" + std::to_string(index) + "] ('" + spec.name + "'): expected " +
                           std::string(DataTypeName(spec.dtype)) + " " + ShapeToString(spec.shape) + ", got " +
                           std::string(DataTypeName(t.dtype())) + " " + ShapeToString(t.shape()) + " (" +
                           std::to_string(t.byte_size()) + " bytes)");
  }
  return Status::Ok();
}

class BackendFactory {
 public:
  virtual ~BackendFactory() = default;
  // The model format this factory loads ("xgboost", ...), as used by --model_format and modelFormat.
  virtual std::string_view format() const = 0;
  virtual StatusOr<std::unique_ptr<Backend>> Load(const LoadOptions& options) = 0;
};

}  // namespace inferd
