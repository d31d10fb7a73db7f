// The only translation unit of inferd that includes libtorch (a TU including <torch/script.h> takes
// ~13 s to compile); everything else in this module (io_config.cc) is torch-free.
#include "backends/torch/torch_backend.h"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backends/torch/io_config.h"
#include "core/logging.h"
#include "model/format.h"

namespace inferd {

namespace {

namespace fs = std::filesystem;

std::optional<c10::ScalarType> ToTorch(DataType t) {
  switch (t) {
    case DataType::kBool: return c10::ScalarType::Bool;
    case DataType::kUint8: return c10::ScalarType::Byte;
    case DataType::kInt8: return c10::ScalarType::Char;
    case DataType::kInt16: return c10::ScalarType::Short;
    case DataType::kInt32: return c10::ScalarType::Int;
    case DataType::kInt64: return c10::ScalarType::Long;
    case DataType::kFp16: return c10::ScalarType::Half;
    case DataType::kBf16: return c10::ScalarType::BFloat16;
    case DataType::kFp32: return c10::ScalarType::Float;
    case DataType::kFp64: return c10::ScalarType::Double;
    default: return std::nullopt;  // UINT16/32/64 (not in libtorch 1.13), BYTES
  }
}

DataType FromTorch(c10::ScalarType t) {
  switch (t) {
    case c10::ScalarType::Bool: return DataType::kBool;
    case c10::ScalarType::Byte: return DataType::kUint8;
    case c10::ScalarType::Char: return DataType::kInt8;
    case c10::ScalarType::Short: return DataType::kInt16;
    case c10::ScalarType::Int: return DataType::kInt32;
    case c10::ScalarType::Long: return DataType::kInt64;
    case c10::ScalarType::Half: return DataType::kFp16;
    case c10::ScalarType::BFloat16: return DataType::kBf16;
    case c10::ScalarType::Float: return DataType::kFp32;
    case c10::ScalarType::Double: return DataType::kFp64;
    default: return DataType::kInvalid;
  }
}

// libtorch's message without the C++ backtrace; for errors raised inside TorchScript code, the final
// "RuntimeError: ..." line (the interpreter prepends a TorchScript traceback).
std::string TorchMessage(const std::exception& e) {
  std::string_view m = e.what();
  if (const auto* ce = dynamic_cast<const c10::Error*>(&e)) m = ce->what_without_backtrace();
  std::string_view picked = m;
  if (size_t p = m.rfind("RuntimeError: "); p != std::string_view::npos) {
    picked = m.substr(p + 14);
  }
  if (size_t nl = picked.find('\n'); nl != std::string_view::npos) {
    // Keep the first non-empty line.
    std::string_view first = picked.substr(0, nl);
    if (first.find_first_not_of(" \t") == std::string_view::npos) {
      picked = picked.substr(nl + 1);
      nl = picked.find('\n');
      first = nl == std::string_view::npos ? picked : picked.substr(0, nl);
    }
    picked = first;
  }
  while (!picked.empty() && (picked.back() == ' ' || picked.back() == '\r')) picked.remove_suffix(1);
  return std::string(picked.empty() ? std::string_view("unknown libtorch error") : picked);
}

class TorchBackend final : public Backend {
 public:
  TorchBackend(torch::jit::Module module, std::string file) : module_(std::move(module)), file_(std::move(file)) {}

  // May throw c10::Error (the factory catches it).
  Status Init(const std::optional<IoConfig>& config) {
    module_.eval();
    auto forward = module_.find_method("forward");
    if (!forward.has_value()) return Bad("the TorchScript module has no forward() method");
    forward_.emplace(std::move(*forward));
    const c10::FunctionSchema& schema = forward_->function().getSchema();
    metadata_.platform = "pytorch_libtorch";

    // forward()'s arguments, without `self`.
    std::vector<const c10::Argument*> args;
    for (size_t i = 0; i < schema.arguments().size(); ++i) {
      if (i == 0 && schema.arguments()[i].name() == "self") continue;
      args.push_back(&schema.arguments()[i]);
    }
    std::string arg_list;
    for (const auto* a : args) arg_list += (arg_list.empty() ? "" : ", ") + a->name();

    // ---- inputs
    if (config && !config->inputs.empty()) {
      metadata_.inputs = config->inputs;
      source_ = config->file;
    } else {
      for (const auto* a : args) {
        if (a->default_value()) continue;  // optional arguments are left to their defaults
        metadata_.inputs.push_back({a->name(), DataType::kFp32, {-1, -1}});
      }
      derived_inputs_ = true;
    }
    bool by_name = true;
    for (const TensorSpec& in : metadata_.inputs) {
      by_name = by_name && std::any_of(args.begin(), args.end(), [&](const auto* a) { return a->name() == in.name; });
    }
    if (!by_name && metadata_.inputs.size() != args.size()) {
      return Bad(source_ + " declares " + std::to_string(metadata_.inputs.size()) +
                 " inputs, but forward() takes " + std::to_string(args.size()) + " (" + arg_list +
                 ") and the names do not match");
    }
    // arg_of_[i]: the argument input i feeds; argument values start as their defaults.
    arg_defaults_.resize(args.size());
    std::vector<bool> fed(args.size(), false);
    for (size_t i = 0; i < metadata_.inputs.size(); ++i) {
      size_t k = i;
      if (by_name) {
        k = 0;
        while (args[k]->name() != metadata_.inputs[i].name) ++k;
      }
      arg_of_.push_back(k);
      fed[k] = true;
      const c10::TypePtr& type = args[k]->type();
      if (type->kind() != c10::TypeKind::TensorType &&
          !(type->kind() == c10::TypeKind::OptionalType &&
            type->expectRef<c10::OptionalType>().getElementType()->kind() == c10::TypeKind::TensorType)) {
        return Bad("forward() argument '" + args[k]->name() + "' (input '" + metadata_.inputs[i].name +
                   "') has type " + type->annotation_str() + "; only Tensor arguments can be fed");
      }
    }
    for (size_t k = 0; k < args.size(); ++k) {
      if (fed[k]) continue;
      if (!args[k]->default_value()) {
        return Bad("forward() argument '" + args[k]->name() + "' has no default and no input feeds it");
      }
      arg_defaults_[k] = *args[k]->default_value();
    }

    // ---- outputs
    if (schema.returns().size() != 1) return Bad("forward() must return one value");
    const c10::TypePtr& ret = schema.returns()[0].type();
    if (config && !config->outputs.empty()) {
      metadata_.outputs = config->outputs;
      outputs_source_ = config->file;
    } else {
      size_t n = 0;
      if (ret->kind() == c10::TypeKind::TensorType) {
        n = 1;
      } else if (ret->kind() == c10::TypeKind::TupleType) {
        for (const c10::TypePtr& e : ret->expectRef<c10::TupleType>().elements()) {
          if (e->kind() != c10::TypeKind::TensorType) n = 0;
          else ++n;
        }
      }
      if (n == 0) {
        return Bad("forward() returns " + ret->annotation_str() +
                   ": declare the outputs in config.pbtxt or model-settings.json beside the model");
      }
      for (size_t i = 0; i < n; ++i) metadata_.outputs.push_back({"output-" + std::to_string(i), DataType::kFp32, {-1, -1}});
      derived_outputs_ = true;
    }
    if (ret->kind() == c10::TypeKind::TensorType && metadata_.outputs.size() != 1) {
      return Bad("forward() returns one Tensor but " + std::to_string(metadata_.outputs.size()) +
                 " outputs are declared");
    }
    if (ret->kind() == c10::TypeKind::TupleType &&
        ret->expectRef<c10::TupleType>().elements().size() != metadata_.outputs.size()) {
      return Bad("forward() returns a tuple of " + std::to_string(ret->expectRef<c10::TupleType>().elements().size()) +
                 " values but " + std::to_string(metadata_.outputs.size()) + " outputs are declared");
    }

    // ---- datatypes
    for (const auto* list : {&metadata_.inputs, &metadata_.outputs}) {
      for (const TensorSpec& s : *list) {
        if (!ToTorch(s.dtype)) {
          return Bad("'" + s.name + "' is declared " + std::string(DataTypeName(s.dtype)) +
                     ", which libtorch does not support (supported: BOOL UINT8 INT8 INT16 INT32 INT64 FP16 BF16 "
                     "FP32 FP64)");
        }
      }
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
    for (size_t i = 0; i < inputs.size(); ++i) RETURN_IF_ERROR(CheckInput(i, inputs[i]));
    for (int idx : requested) {
      if (idx < 0 || idx >= static_cast<int>(metadata_.outputs.size())) {
        return Internal("bad output index " + std::to_string(idx));
      }
    }
    try {
      c10::InferenceMode guard;
      std::vector<c10::IValue> stack = arg_defaults_;
      for (size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& t = inputs[i];
        std::vector<int64_t> sizes(t.shape().begin(), t.shape().end());
        // from_blob does not copy; forward() only reads its inputs (an in-place op on an input would write
        // into the request's buffer, which inferd owns and discards afterwards).
        stack[arg_of_[i]] = at::from_blob(const_cast<char*>(t.raw()), sizes,
                                          at::TensorOptions().dtype(*ToTorch(t.dtype())));
      }
      c10::IValue result = (*forward_)(std::move(stack));
      for (int idx : requested) {
        ASSIGN_OR_RETURN(at::Tensor out, Pick(result, idx));
        ASSIGN_OR_RETURN(Tensor t, Copy(out, idx));
        outputs->push_back(std::move(t));
      }
    } catch (const std::exception& e) {
      std::string hint = derived_inputs_ ? " (the model has no config.pbtxt/model-settings.json declaring its "
                                           "inputs' shapes)"
                                         : "";
      return InvalidArgument("forward() failed: " + TorchMessage(e) + hint);
    }
    return Status::Ok();
  }

 private:
  Status Bad(const std::string& what) const { return InvalidArgument("model file '" + file_ + "': " + what); }

  Status CheckInput(size_t i, const Tensor& t) const {
    return CheckTensorMatchesSpec(i, t, metadata_.inputs[i]);
  }

  // Output `idx` of forward()'s result.
  StatusOr<at::Tensor> Pick(const c10::IValue& result, int idx) const {
    const std::string& name = metadata_.outputs[idx].name;
    const size_t n = metadata_.outputs.size();
    auto wrong = [&](const std::string& what) {
      return Internal("forward() returned " + what + "; declared outputs: " + std::to_string(n));
    };
    c10::IValue v;
    if (result.isTensor()) {
      if (n != 1) return wrong("one Tensor");
      v = result;
    } else if (result.isTuple()) {
      const auto& elems = result.toTupleRef().elements();
      if (elems.size() != n) return wrong("a tuple of " + std::to_string(elems.size()) + " values");
      v = elems[idx];
    } else if (result.isTensorList()) {
      c10::List<at::Tensor> list = result.toTensorList();
      if (list.size() != n) return wrong("a list of " + std::to_string(list.size()) + " tensors");
      v = list.get(idx);
    } else if (result.isList()) {
      c10::List<c10::IValue> list = result.toList();
      if (list.size() != n) return wrong("a list of " + std::to_string(list.size()) + " values");
      v = list.get(idx);
    } else if (result.isGenericDict()) {
      c10::Dict<c10::IValue, c10::IValue> dict = result.toGenericDict();
      auto it = dict.find(c10::IValue(name));
      if (it == dict.end()) {
        std::string keys;
        for (const auto& kv : dict) {
          keys += (keys.empty() ? "" : ", ") + (kv.key().isString() ? kv.key().toStringRef() : kv.key().tagKind());
        }
        return Internal("forward() returned a dict without the output '" + name + "' (keys: " + keys + ")");
      }
      v = it->value();
    } else {
      return wrong("a " + result.tagKind());
    }
    if (!v.isTensor()) return Internal("output '" + name + "': forward() returned a " + v.tagKind() + ", not a Tensor");
    return v.toTensor();
  }

  StatusOr<Tensor> Copy(at::Tensor out, int idx) const {
    const TensorSpec& spec = metadata_.outputs[idx];
    if (!out.device().is_cpu()) out = out.cpu();
    if (FromTorch(out.scalar_type()) != spec.dtype) out = out.to(*ToTorch(spec.dtype));
    out = out.contiguous();
    Shape shape(out.sizes().begin(), out.sizes().end());
    if (!derived_outputs_ && !ShapeMatches(spec.shape, shape)) {
      return Internal("output '" + spec.name + "' has shape " + ShapeToString(shape) + ", but " + outputs_source_ +
                      " declares " + ShapeToString(spec.shape));
    }
    Tensor t(spec.name, spec.dtype, std::move(shape));
    const size_t bytes = static_cast<size_t>(out.numel()) * DataTypeSize(spec.dtype);
    char* dst = t.Allocate(bytes);
    if (bytes > 0) std::memcpy(dst, out.data_ptr(), bytes);
    return t;
  }

  torch::jit::Module module_;
  std::optional<torch::jit::Method> forward_;
  std::string file_;
  std::string source_ = "forward()'s schema";  // where the inputs' metadata came from (for messages)
  std::string outputs_source_;                 // the file that declares the outputs, if any
  ModelMetadata metadata_;
  std::vector<size_t> arg_of_;              // input i -> forward() argument index
  std::vector<c10::IValue> arg_defaults_;   // every argument's default (fed ones are overwritten per call)
  bool derived_inputs_ = false;
  bool derived_outputs_ = false;
};

class TorchBackendFactory final : public BackendFactory {
 public:
  std::string_view format() const override { return "pytorch"; }

  StatusOr<std::unique_ptr<Backend>> Load(const LoadOptions& options) override {
    std::string file = options.model_file;
    if (file.empty()) {
      ASSIGN_OR_RETURN(DetectedModel d, DetectModel(options.model_dir, "pytorch"));
      file = d.file;
    }
    std::string dir = options.model_dir.empty() ? fs::path(file).parent_path().string() : options.model_dir;
    ASSIGN_OR_RETURN(std::optional<IoConfig> config, ReadIoConfig(dir));
    try {
      if (options.intra_op_threads > 0 && at::get_num_threads() != options.intra_op_threads) {
        // Process-wide (see the header).
        at::set_num_threads(options.intra_op_threads);
      }
      torch::jit::Module module = torch::jit::load(file, c10::Device(c10::DeviceType::CPU));
      auto backend = std::make_unique<TorchBackend>(std::move(module), file);
      RETURN_IF_ERROR(backend->Init(config));
      return std::unique_ptr<Backend>(std::move(backend));
    } catch (const std::exception& e) {
      return InvalidArgument("model file '" + file + "': cannot load TorchScript: " + TorchMessage(e));
    } catch (...) {
      return InvalidArgument("model file '" + file + "': cannot load TorchScript: unknown error");
    }
  }
};

}  // namespace

std::unique_ptr<BackendFactory> NewTorchBackendFactory() { return std::make_unique<TorchBackendFactory>(); }

}  // namespace inferd

// The plugin's entry point (kTorchPluginEntryPoint); the caller owns the factory.
extern "C" __attribute__((visibility("default"))) inferd::BackendFactory* inferd_torch_backend_factory() {
  return inferd::NewTorchBackendFactory().release();
}
