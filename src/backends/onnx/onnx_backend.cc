// The only translation unit of inferd that includes ONNX Runtime's headers.
#include "backends/onnx/onnx_backend.h"

#include <onnxruntime_cxx_api.h>

#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/logging.h"
#include "model/format.h"

namespace inferd {

namespace {

DataType FromOrt(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return DataType::kBool;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return DataType::kUint8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16: return DataType::kUint16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return DataType::kUint32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return DataType::kUint64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return DataType::kInt8;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return DataType::kInt16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return DataType::kInt32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return DataType::kInt64;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return DataType::kFp16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return DataType::kBf16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return DataType::kFp32;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return DataType::kFp64;
    default: return DataType::kInvalid;
  }
}

std::string OrtTypeName(ONNXType kind, ONNXTensorElementDataType t) {
  switch (kind) {
    case ONNX_TYPE_TENSOR:
    case ONNX_TYPE_SPARSETENSOR: {
      static const char* const kNames[] = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32",
                                           "int64", "string", "bool", "float16", "double", "uint32", "uint64",
                                           "complex64", "complex128", "bfloat16"};
      std::string prefix = kind == ONNX_TYPE_SPARSETENSOR ? "sparse tensor of " : "tensor of ";
      if (t >= 0 && static_cast<size_t>(t) < sizeof(kNames) / sizeof(kNames[0])) return prefix + kNames[t];
      return prefix + "element type " + std::to_string(static_cast<int>(t));
    }
    case ONNX_TYPE_SEQUENCE: return "sequence";
    case ONNX_TYPE_MAP: return "map";
    case ONNX_TYPE_OPTIONAL: return "optional";
    default: return "non-tensor type " + std::to_string(static_cast<int>(kind));
  }
}

// The one environment of the process (see the header). Throws Ort::Exception when it cannot be created.
Ort::Env& GlobalEnv() {
  static Ort::Env* env = new Ort::Env(ORT_LOGGING_LEVEL_WARNING, "inferd");
  return *env;
}

const Ort::MemoryInfo& CpuMemory() {
  static const Ort::MemoryInfo* info =
      new Ort::MemoryInfo(Ort::MemoryInfo::CreateCpu(OrtDeviceAllocator, OrtMemTypeDefault));
  return *info;
}

struct IoSpec {
  TensorSpec spec;
  ONNXType kind = ONNX_TYPE_UNKNOWN;
  ONNXTensorElementDataType element = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
};

IoSpec Describe(const std::string& name, const Ort::TypeInfo& info) {
  IoSpec io;
  io.spec.name = name;
  io.kind = info.GetONNXType();
  if (io.kind == ONNX_TYPE_TENSOR) {
    auto t = info.GetTensorTypeAndShapeInfo();
    io.element = t.GetElementType();
    io.spec.dtype = FromOrt(io.element);
    io.spec.shape = t.GetShape();
    for (int64_t& d : io.spec.shape) {
      if (d < 0) d = -1;  // dynamic or symbolic ("batch")
    }
  }
  return io;
}

class OnnxBackend final : public Backend {
 public:
  OnnxBackend(Ort::Session session, std::string file) : session_(std::move(session)), file_(std::move(file)) {}

  // May throw Ort::Exception (the factory catches it).
  Status Init() {
    metadata_.platform = "onnxruntime_onnx";
    Ort::AllocatorWithDefaultOptions alloc;
    for (size_t i = 0; i < session_.GetInputCount(); ++i) {
      std::string name = session_.GetInputNameAllocated(i, alloc).get();
      IoSpec io = Describe(name, session_.GetInputTypeInfo(i));
      if (io.spec.dtype == DataType::kInvalid) {
        return InvalidArgument("model file '" + file_ + "': input '" + name + "' is a " +
                               OrtTypeName(io.kind, io.element) + ", which inferd does not support");
      }
      metadata_.inputs.push_back(io.spec);
      input_names_.push_back(std::move(name));
      input_types_.push_back(io.element);
    }
    for (const auto& n : input_names_) input_name_ptrs_.push_back(n.c_str());  // input_names_ is final now
    for (size_t i = 0; i < session_.GetOutputCount(); ++i) {
      std::string name = session_.GetOutputNameAllocated(i, alloc).get();
      IoSpec io = Describe(name, session_.GetOutputTypeInfo(i));
      if (io.spec.dtype == DataType::kInvalid) {
        LOG_WARN("model file '{}': output '{}' is a {}, which inferd does not support: it is not served", file_,
                 name, OrtTypeName(io.kind, io.element));
        continue;
      }
      metadata_.outputs.push_back(io.spec);
      output_names_.push_back(std::move(name));
    }
    if (metadata_.outputs.empty()) {
      return InvalidArgument("model file '" + file_ + "': the model has no output of a supported type");
    }
    return Status::Ok();
  }

  const ModelMetadata& metadata() const override { return metadata_; }

  Status Execute(std::span<const Tensor> inputs, std::span<const int> requested,
                 std::vector<Tensor>* outputs) override {
    if (inputs.size() != metadata_.inputs.size()) {
      return Internal("expected " + std::to_string(metadata_.inputs.size()) + " inputs, got " +
                      std::to_string(inputs.size()));
    }
    std::vector<const char*> out_names;
    out_names.reserve(requested.size());
    for (int idx : requested) {
      if (idx < 0 || idx >= static_cast<int>(output_names_.size())) {
        return Internal("bad output index " + std::to_string(idx));
      }
      out_names.push_back(output_names_[idx].c_str());
    }
    if (out_names.empty()) return Status::Ok();
    for (size_t i = 0; i < inputs.size(); ++i) RETURN_IF_ERROR(CheckInput(i, inputs[i]));
    try {
      std::vector<Ort::Value> values;
      values.reserve(inputs.size());
      static char empty_buffer[8];  // ORT wants a non-null pointer even for zero elements; never written
      for (size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& t = inputs[i];
        void* data = t.byte_size() > 0 ? const_cast<char*>(t.raw()) : empty_buffer;
        values.push_back(Ort::Value::CreateTensor(CpuMemory(), data, t.byte_size(), t.shape().data(),
                                                  t.shape().size(), input_types_[i]));
      }
      std::vector<Ort::Value> results = session_.Run(Ort::RunOptions{nullptr}, input_name_ptrs_.data(), values.data(),
                                                     values.size(), out_names.data(), out_names.size());
      if (results.size() != requested.size()) {
        return Internal("ONNX Runtime returned " + std::to_string(results.size()) + " outputs, expected " +
                        std::to_string(requested.size()));
      }
      for (size_t j = 0; j < results.size(); ++j) {
        ASSIGN_OR_RETURN(Tensor t, Copy(results[j], requested[j]));
        outputs->push_back(std::move(t));
      }
    } catch (const Ort::Exception& e) {
      std::string m = "ONNX Runtime: " + std::string(e.what());
      return e.GetOrtErrorCode() == ORT_INVALID_ARGUMENT ? InvalidArgument(m) : Internal(m);
    } catch (const std::exception& e) {
      return Internal(std::string("ONNX Runtime: ") + e.what());
    }
    return Status::Ok();
  }

 private:
  Status CheckInput(size_t i, const Tensor& t) const {
    return CheckTensorMatchesSpec(i, t, metadata_.inputs[i]);
  }

  StatusOr<Tensor> Copy(const Ort::Value& v, int idx) const {
    const TensorSpec& spec = metadata_.outputs[idx];
    if (!v.IsTensor()) return Internal("output '" + spec.name + "' is not a tensor");
    auto info = v.GetTensorTypeAndShapeInfo();
    DataType dtype = FromOrt(info.GetElementType());
    if (dtype != spec.dtype) {
      return Internal("output '" + spec.name + "' has element type " + std::string(DataTypeName(dtype)) +
                      ", the model declares " + std::string(DataTypeName(spec.dtype)));
    }
    Shape shape = info.GetShape();
    const size_t bytes = info.GetElementCount() * DataTypeSize(dtype);
    Tensor t(spec.name, dtype, std::move(shape));
    char* dst = t.Allocate(bytes);
    if (bytes > 0) std::memcpy(dst, v.GetTensorRawData(), bytes);
    return t;
  }

  Ort::Session session_;
  std::string file_;
  ModelMetadata metadata_;
  std::vector<std::string> input_names_;
  std::vector<const char*> input_name_ptrs_;  // input_names_' c_str()s, in model order, for Run
  std::vector<ONNXTensorElementDataType> input_types_;
  std::vector<std::string> output_names_;  // parallel to metadata_.outputs
};

class OnnxBackendFactory final : public BackendFactory {
 public:
  std::string_view format() const override { return "onnx"; }

  StatusOr<std::unique_ptr<Backend>> Load(const LoadOptions& options) override {
    std::string file = options.model_file;
    if (file.empty()) {
      ASSIGN_OR_RETURN(DetectedModel d, DetectModel(options.model_dir, "onnx"));
      file = d.file;
    }
    // The C++ wrapper resolved the API table when the program started; a library older than the headers
    // leaves it null.
    if (OrtGetApiBase()->GetApi(ORT_API_VERSION) == nullptr) {
      return Internal("the ONNX Runtime library (version " + std::string(OrtGetApiBase()->GetVersionString()) +
                      ") does not provide API version " + std::to_string(ORT_API_VERSION) +
                      " that inferd was built against");
    }
    try {
      Ort::SessionOptions so;
      const int threads = options.intra_op_threads;
      if (threads > 0) so.SetIntraOpNumThreads(threads);
      if (threads != 1) so.AddConfigEntry("session.intra_op.allow_spinning", "0");
      so.SetInterOpNumThreads(1);
      so.SetExecutionMode(ORT_SEQUENTIAL);
      so.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
      Ort::Session session(GlobalEnv(), file.c_str(), so);
      auto backend = std::make_unique<OnnxBackend>(std::move(session), file);
      RETURN_IF_ERROR(backend->Init());
      return std::unique_ptr<Backend>(std::move(backend));
    } catch (const Ort::Exception& e) {
      return InvalidArgument("model file '" + file + "': ONNX Runtime cannot load it: " + e.what());
    } catch (const std::exception& e) {
      return InvalidArgument("model file '" + file + "': ONNX Runtime cannot load it: " + e.what());
    }
  }
};

}  // namespace

std::unique_ptr<BackendFactory> NewOnnxBackendFactory() { return std::make_unique<OnnxBackendFactory>(); }

}  // namespace inferd

// The plugin's entry point (kOnnxPluginEntryPoint); the caller owns the factory.
extern "C" __attribute__((visibility("default"))) inferd::BackendFactory* inferd_onnx_backend_factory() {
  return inferd::NewOnnxBackendFactory().release();
}
