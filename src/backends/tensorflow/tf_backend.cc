#include "backends/tensorflow/tf_backend.h"

#include <cstring>
#include <filesystem>

#include "backends/tensorflow/tfserving_grpc.h"
#include "backends/tensorflow/tfserving_json.h"
#include "core/logging.h"
#include "tensor/tensor.h"
#include "tf/model.h"

namespace inferd {

namespace {

namespace fs = std::filesystem;
using tf::DType;

DataType FromTf(DType t) {
  switch (t) {
    case DType::kFloat: return DataType::kFp32;
    case DType::kDouble: return DataType::kFp64;
    case DType::kHalf: return DataType::kFp16;
    case DType::kBfloat16: return DataType::kBf16;
    case DType::kInt8: return DataType::kInt8;
    case DType::kInt16: return DataType::kInt16;
    case DType::kInt32: return DataType::kInt32;
    case DType::kInt64: return DataType::kInt64;
    case DType::kUint8: return DataType::kUint8;
    case DType::kUint16: return DataType::kUint16;
    case DType::kUint32: return DataType::kUint32;
    case DType::kUint64: return DataType::kUint64;
    case DType::kBool: return DataType::kBool;
    case DType::kString: return DataType::kBytes;
    default: return DataType::kInvalid;
  }
}

TensorSpec SpecOf(const std::string& alias, const tf::TensorInfo& info) {
  TensorSpec s{alias, FromTf(info.dtype), {}};
  if (info.shape.unknown_rank) {
    s.shape = {-1};
  } else {
    for (int64_t d : info.shape.dims) s.shape.push_back(d < 0 ? -1 : d);
  }
  return s;
}

// inferd tensor -> tf tensor (a copy: tf::Tensor owns 64-byte-aligned buffers its kernels may rely on).
StatusOr<tf::Tensor> ToTf(const Tensor& in, DType dtype) {
  ASSIGN_OR_RETURN(tf::Tensor t, tf::Tensor::Make(dtype, in.shape()));
  if (dtype == DType::kString) {
    size_t i = 0;
    const bool ok = ForEachBytesElement(in.bytes(), [&](std::string_view e) {
      if (i < t.strings().size()) t.strings()[i] = std::string(e);
      ++i;
    });
    if (!ok || i != t.strings().size()) return InvalidArgument("input '" + in.name() + "': malformed BYTES contents");
    return t;
  }
  if (in.byte_size() != t.byte_size()) {
    return InvalidArgument("input '" + in.name() + "': " + std::to_string(in.byte_size()) + " bytes for shape " +
                           ShapeToString(in.shape()));
  }
  if (t.byte_size() > 0) std::memcpy(t.data<char>(), in.raw(), t.byte_size());
  return t;
}

Tensor FromTfTensor(const std::string& name, const tf::Tensor& t) {
  Tensor out(name, FromTf(t.dtype()), t.shape());
  if (t.dtype() == DType::kString) {
    std::string b;
    for (const std::string& s : t.strings()) AppendBytesElement(&b, s);
    out.SetOwned(std::move(b));
  } else {
    char* dst = out.Allocate(t.byte_size());
    if (t.byte_size() > 0) std::memcpy(dst, t.data<char>(), t.byte_size());
  }
  return out;
}

// TF Serving's REST API over one model (model/native_rest.h).
class TfServingRest final : public NativeRestApi {
 public:
  explicit TfServingRest(tf::TfModel* model) : model_(model) {}
  std::string_view dialect() const override { return "tfserving"; }

  StatusOr<PassThroughAnswer> Predict(const PassThroughCall& call) override {
    auto lookup = [this](std::string_view name) -> StatusOr<const tf::SignatureDef*> {
      auto found = model_->FindSignature(name);
      // TF Serving answers an unknown signature with 400, not 404 (the model exists).
      if (!found.ok()) return InvalidArgument(std::string(found.status().message()));
      return found->second;
    };
    ASSIGN_OR_RETURN(tfserving::PredictRequest req, tfserving::ParsePredictRequest(call.body, lookup));
    ASSIGN_OR_RETURN(const tf::SignatureDef* sig, lookup(req.signature_name));
    std::vector<std::string> aliases;
    for (const auto& [alias, _] : sig->outputs) aliases.push_back(alias);
    std::vector<tf::Tensor> results;
    RETURN_IF_ERROR(model_->Run(req.signature_name, req.inputs, aliases, &results, call.deadline_ns));
    ASSIGN_OR_RETURN(std::string body, tfserving::WritePredictResponse(req.row_format, aliases, results));
    return PassThroughAnswer{std::move(body), {}, 200};
  }

  StatusOr<PassThroughAnswer> Classify(const PassThroughCall& call) override { return RunExamples(call, true); }
  StatusOr<PassThroughAnswer> Regress(const PassThroughCall& call) override { return RunExamples(call, false); }

  StatusOr<PassThroughAnswer> ModelStatus(std::string_view, std::string_view version) const override {
    return PassThroughAnswer{tfserving::StatusJson(version), {}, 200};
  }

  StatusOr<PassThroughAnswer> Metadata(std::string_view model, std::string_view version) const override {
    return PassThroughAnswer{tfserving::MetadataJson(model, version, model_->meta_graph()), {}, 200};
  }

 private:
  // :classify / :regress: the examples as serialized tf.Examples into the signature's "inputs" (TF Serving's
  // classifier and regressor), its outputs into {"results": ...}.
  StatusOr<PassThroughAnswer> RunExamples(const PassThroughCall& call, bool classify) {
    ASSIGN_OR_RETURN(tfserving::ExamplesRequest req, tfserving::ParseExamplesRequest(call.body));
    ASSIGN_OR_RETURN(tfserving::ExamplesResult r, tfserving::RunExamples(model_, req.signature_name,
                                                                         std::move(req.serialized), classify,
                                                                         call.deadline_ns));
    std::string body;
    ASSIGN_OR_RETURN(body, classify ? tfserving::WriteClassifyResponse(r) : tfserving::WriteRegressResponse(r));
    return PassThroughAnswer{std::move(body), {}, 200};
  }

  tf::TfModel* model_;
};

class TfBackend final : public Backend {
 public:
  explicit TfBackend(std::unique_ptr<tf::TfModel> model)
      : model_(std::move(model)), rest_(model_.get()), grpc_(model_.get()) {}

  ::inferd::Status Init(const std::string& dir) {
    metadata_.platform = "tensorflow_savedmodel";
    auto found_or = model_->FindSignature("");
    if (!found_or.ok()) {  // TF Serving serves such a model too: every request names its signature
      LOG_INFO("SavedModel '{}': {}: V2 inference is refused, TF Serving's REST API serves the named signatures",
               dir, found_or.status().message());
      return ::inferd::Status::Ok();
    }
    has_default_ = true;
    auto& found = *found_or;
    signature_ = found.first;
    const tf::SignatureDef& sig = *found.second;
    for (const auto& [alias, info] : sig.inputs) {
      TensorSpec spec = SpecOf(alias, info);
      if (spec.dtype == DataType::kInvalid) {
        return InvalidArgument("SavedModel '" + dir + "': signature '" + signature_ + "' input '" + alias +
                               "' is a " + std::string(tf::DTypeName(info.dtype)) + ", which inferd cannot send");
      }
      if (info.shape.unknown_rank) {
        LOG_INFO("SavedModel '{}': input '{}' has an unknown rank: V2 requests must send it with one dimension "
                 "(TF Serving's REST API takes any shape)", dir, alias);
      }
      metadata_.inputs.push_back(std::move(spec));
      input_dtypes_.push_back(info.dtype);
      string_input_ = string_input_ || info.dtype == DType::kString;
    }
    for (const auto& [alias, info] : sig.outputs) {
      TensorSpec spec = SpecOf(alias, info);
      if (spec.dtype == DataType::kInvalid) {
        LOG_WARN("SavedModel '{}': output '{}' is a {}, which inferd cannot send: it is left out of the metadata",
                 dir, alias, tf::DTypeName(info.dtype));
        continue;
      }
      metadata_.outputs.push_back(std::move(spec));
    }
    if (metadata_.outputs.empty()) {
      return InvalidArgument("SavedModel '" + dir + "': signature '" + signature_ + "' has no output inferd can send");
    }
    auto stateful = model_->Stateful(signature_);
    if (!stateful.ok()) return stateful.status().WithPrefix("SavedModel '" + dir + "'");
    stateful_ = *stateful;
    return ::inferd::Status::Ok();
  }

  const ModelMetadata& metadata() const override { return metadata_; }
  // Not with a string input: zeros are empty strings, which the graphs that take strings (DecodeJpeg on image
  // bytes, ParseExample, vocabulary lookups) reject or were never meant to see; TF Serving warms nothing up unless
  // the model ships warm-up requests either.
  bool warm_up_safe() const override { return has_default_ && !stateful_ && !string_input_; }
  NativeRestApi* native_rest() const override { return &rest_; }
  NativeGrpcApi* native_grpc() const override { return &grpc_; }

  ::inferd::Status Execute(std::span<const Tensor> inputs, std::span<const int> requested,
                           std::vector<Tensor>* outputs) override {
    if (!has_default_) {
      return InvalidArgument("the model has no default signature ('serving_default'), which V2 inference runs; "
                             "call a named signature through TF Serving's REST API (:predict with signature_name)");
    }
    if (inputs.size() != metadata_.inputs.size()) {
      return Internal("expected " + std::to_string(metadata_.inputs.size()) + " inputs, got " +
                      std::to_string(inputs.size()));
    }
    std::vector<std::pair<std::string, tf::Tensor>> feeds;
    feeds.reserve(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      ASSIGN_OR_RETURN(tf::Tensor t, ToTf(inputs[i], input_dtypes_[i]));
      feeds.emplace_back(metadata_.inputs[i].name, std::move(t));
    }
    std::vector<std::string> fetch;
    for (int idx : requested) {
      if (idx < 0 || idx >= static_cast<int>(metadata_.outputs.size())) {
        return Internal("bad output index " + std::to_string(idx));
      }
      fetch.push_back(metadata_.outputs[static_cast<size_t>(idx)].name);
    }
    if (fetch.empty()) return ::inferd::Status::Ok();
    std::vector<tf::Tensor> results;
    RETURN_IF_ERROR(model_->Run(signature_, feeds, fetch, &results));
    if (results.size() != fetch.size()) return Internal("the executor returned a wrong number of outputs");
    for (size_t j = 0; j < results.size(); ++j) outputs->push_back(FromTfTensor(fetch[j], results[j]));
    return ::inferd::Status::Ok();
  }

 private:
  std::unique_ptr<tf::TfModel> model_;
  mutable TfServingRest rest_;  // native_rest() hands out a mutable view: the API is thread-safe
  mutable tfserving::GrpcApi grpc_;  // likewise (native_grpc())
  ModelMetadata metadata_;
  std::string signature_;
  std::vector<DType> input_dtypes_;  // parallel to metadata_.inputs
  bool stateful_ = false;
  bool string_input_ = false;  // the default signature takes a DT_STRING input
  bool has_default_ = false;  // the model has a default signature ("serving_default" or its only one)
};

class TfBackendFactory final : public BackendFactory {
 public:
  std::string_view format() const override { return "tensorflow"; }

  StatusOr<std::unique_ptr<Backend>> Load(const LoadOptions& options) override {
    std::string dir = options.model_dir;
    if (!options.model_file.empty()) dir = fs::path(options.model_file).parent_path().string();
    ASSIGN_OR_RETURN(std::unique_ptr<tf::TfModel> model, tf::TfModel::LoadSavedModel(dir));
    auto backend = std::make_unique<TfBackend>(std::move(model));
    RETURN_IF_ERROR(backend->Init(dir));
    return std::unique_ptr<Backend>(std::move(backend));
  }
};

}  // namespace

std::unique_ptr<BackendFactory> NewTensorflowBackendFactory() { return std::make_unique<TfBackendFactory>(); }

}  // namespace inferd

// The plugin's entry point (kTensorflowPluginEntryPoint); the caller owns the factory.
extern "C" __attribute__((visibility("default"))) inferd::BackendFactory* inferd_tensorflow_backend_factory() {
  return inferd::NewTensorflowBackendFactory().release();
}
