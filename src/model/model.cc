#include "model/model.h"

#include <algorithm>
#include <exception>

#include "core/clock.h"
#include "core/logging.h"

namespace inferd {

Model::Model(std::string name, std::string version, std::unique_ptr<Backend> backend, const ModelConfig& config)
    : name_(std::move(name)), version_(std::move(version)), backend_(std::move(backend)) {
  metadata_ = backend_->metadata();
  metadata_.name = name_;
  metadata_.versions = {version_};
  default_outputs_ = backend_->default_outputs();
  dynamic_io_ = backend_->dynamic_io();
  batching_ = config.batching;
  if (!batching_.enabled()) return;
  // Concatenating along the first dimension needs it to be the (variable) batch dimension of every
  // input; otherwise requests still go through the queue (bounded, `instances` threads) one by one.
  bool mergeable = !metadata_.inputs.empty();
  for (const auto& spec : metadata_.inputs) mergeable = mergeable && !spec.shape.empty() && spec.shape[0] == -1;
  if (!mergeable && batching_.max_batch_size > 1) {
    LOG_WARN("model '{}': an input has no variable first dimension, so requests cannot be concatenated; "
             "they are queued and run one at a time (max_batch_size 1)", name_);
    batching_.max_batch_size = 1;
  }
  auto execute = [this](std::span<const Tensor> inputs, std::span<const int> requested, std::vector<Tensor>* out) {
    std::unique_lock<std::mutex> lock(exec_mu_, std::defer_lock);
    if (!backend_->thread_safe()) lock.lock();
    return RunBackend(inputs, requested, out);
  };
  batcher_ = std::make_unique<Batcher>(name_, batching_, std::move(execute));
  LOG_INFO("model '{}': batching on (max_batch_size {}, max_latency {} us, max_queue_size {}, instances {})", name_,
           batching_.max_batch_size, batching_.max_latency_us, batching_.max_queue_size, batching_.instances);
}

Model::~Model() {
  batcher_.reset();  // drains while the backend is still alive
}

Status Model::ValidateAndConvert(InferRequest& request, std::vector<int>* requested) const {
  const auto& specs = metadata_.inputs;
  if (request.inputs.empty()) return InvalidArgument("inputs: the request has no inputs");
  if (dynamic_io_) {
    // The model declares no inputs (custom Python models): only the contents are checked.
    for (size_t i = 0; i < request.inputs.size(); ++i) {
      Tensor& t = request.inputs[i];
      RETURN_IF_ERROR(t.Validate("inputs[" + std::to_string(i) + "] ('" + t.name() + "')"));
      if (!t.aligned_for_type()) t.MakeOwned();
    }
    requested->clear();
    return Status::Ok();
  }
  // Validate each input in place, reporting unknown, duplicate and missing ones; reorder into
  // metadata order only when the client sent another order (no allocation in the common case).
  bool in_order = true;
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    Tensor& t = request.inputs[i];
    size_t k = 0;
    while (k < specs.size() && specs[k].name != t.name()) ++k;
    if (k == specs.size()) {
      // A single-input model accepts any input name (KServe clients often send "input-0" or "input_1").
      if (specs.size() == 1 && request.inputs.size() == 1) {
        k = 0;
      } else {
        std::string known;
        for (const auto& s : specs) known += (known.empty() ? "" : ", ") + s.name;
        return InvalidArgument("inputs[" + std::to_string(i) + "].name: unexpected input '" + t.name() +
                               "' for model '" + name_ + "' (inputs: " + known + ")");
      }
    }
    for (size_t j = 0; j < i; ++j) {  // earlier inputs already carry their spec's name
      if (request.inputs[j].name() == specs[k].name) {
        return InvalidArgument("inputs[" + std::to_string(i) + "].name: input '" + t.name() + "' given twice");
      }
    }
    in_order = in_order && k == i;
    const TensorSpec& spec = specs[k];
    // Messages are built only on the error path: this runs for every request.
    auto field = [&] { return "inputs[" + std::to_string(i) + "] ('" + t.name() + "')"; };
    if (t.dtype() != spec.dtype) {
      // Numbers convert to numbers; booleans only when the request's datatypes were inferred from JSON (V1).
      bool convertible = backend_->accepts_numeric_conversion() && IsNumeric(spec.dtype) &&
                         (IsNumeric(t.dtype()) || (t.dtype() == DataType::kBool && request.inferred_datatypes));
      if (!convertible) {
        return InvalidArgument(field() + ".datatype: expected " + std::string(DataTypeName(spec.dtype)) + ", got " +
                               std::string(DataTypeName(t.dtype())));
      }
    }
    if (!ShapeMatches(spec.shape, t.shape())) {
      return InvalidArgument(field() + ".shape: expected " + ShapeToString(spec.shape) + ", got " +
                             ShapeToString(t.shape()));
    }
    bool size_ok = false;
    if (t.dtype() != DataType::kBytes) {
      auto n = ElementCount(t.shape(), {});
      size_ok = n.ok() && static_cast<size_t>(*n) * DataTypeSize(t.dtype()) == t.byte_size();
    }
    if (!size_ok) RETURN_IF_ERROR(t.Validate(field()));
    if (t.dtype() != spec.dtype) {
      auto converted = ConvertTensor(t, spec.dtype);
      if (!converted.ok()) return converted.status().WithPrefix(field());
      t = std::move(converted).value();
    } else if (!t.aligned_for_type()) {
      t.MakeOwned();
    }
    t.set_name(spec.name);
  }
  // Every input matched a distinct spec, so equal counts mean none is missing.
  if (request.inputs.size() < specs.size()) {
    for (const auto& spec : specs) {
      bool given = false;
      for (const auto& t : request.inputs) given = given || t.name() == spec.name;
      if (!given) return InvalidArgument("inputs: missing input '" + spec.name + "' for model '" + name_ + "'");
    }
  }
  if (!in_order) {
    std::vector<Tensor> ordered;
    ordered.reserve(specs.size());
    for (const auto& spec : specs) {
      for (auto& t : request.inputs) {
        if (t.name() == spec.name) {
          ordered.push_back(std::move(t));
          break;
        }
      }
    }
    request.inputs = std::move(ordered);
  }

  requested->clear();
  if (request.outputs.empty()) {
    *requested = default_outputs_;
  } else {
    for (size_t i = 0; i < request.outputs.size(); ++i) {
      const auto& name = request.outputs[i].name;
      size_t k = 0;
      while (k < metadata_.outputs.size() && metadata_.outputs[k].name != name) ++k;
      if (k == metadata_.outputs.size()) {
        std::string known;
        for (const auto& s : metadata_.outputs) known += (known.empty() ? "" : ", ") + s.name;
        return InvalidArgument("outputs[" + std::to_string(i) + "].name: unknown output '" + name +
                               "' for model '" + name_ + "' (outputs: " + known + ")");
      }
      requested->push_back(static_cast<int>(k));
    }
  }
  return Status::Ok();
}

Status Model::RunBackend(std::span<const Tensor> inputs, std::span<const int> requested, std::vector<Tensor>* outputs) {
  try {
    return backend_->Execute(inputs, requested, outputs);
  } catch (const std::exception& e) {
    return Internal(std::string("model raised an exception: ") + e.what());
  } catch (...) {
    return Internal("model raised an unknown exception");
  }
}

Status Model::FinishOutputs(Status st, const InferRequest& request, std::span<const int> requested,
                            InferResponse* response) const {
  if (!st.ok()) return WithModelName(std::move(st));
  if (dynamic_io_) {
    // Keep the outputs the request named, in its order (all of them when it named none).
    if (request.outputs.empty()) return Status::Ok();
    std::vector<Tensor> kept;
    for (size_t i = 0; i < request.outputs.size(); ++i) {
      auto it = std::find_if(response->outputs.begin(), response->outputs.end(),
                             [&](const Tensor& t) { return t.name() == request.outputs[i].name; });
      if (it == response->outputs.end()) {
        return InvalidArgument("outputs[" + std::to_string(i) + "].name: model '" + name_ + "' returned no output '" +
                               request.outputs[i].name + "'");
      }
      kept.push_back(std::move(*it));
      kept.back().parameters() = request.outputs[i].parameters;
    }
    response->outputs = std::move(kept);
    return Status::Ok();
  }
  if (response->outputs.size() != requested.size()) {
    return Internal("model '" + name_ + "' produced " + std::to_string(response->outputs.size()) +
                    " outputs, expected " + std::to_string(requested.size()));
  }
  for (size_t i = 0; i < requested.size(); ++i) {
    response->outputs[i].set_name(metadata_.outputs[static_cast<size_t>(requested[i])].name);
    if (!request.outputs.empty()) response->outputs[i].parameters() = request.outputs[i].parameters;
  }
  return Status::Ok();
}

Status Model::WithModelName(Status st) const {
  if (st.ok() || st.code() == StatusCode::kInvalidArgument) return st;
  const std::string prefix = "model '" + name_ + "': ";
  if (st.message().starts_with(prefix)) return st;  // named already (a Python model's own errors name it)
  return Status(st.code(), prefix + st.message());
}

Status Model::Infer(InferRequest& request, InferResponse* response, InferTiming* timing) {
  std::vector<int> requested;
  RETURN_IF_ERROR(ValidateAndConvert(request, &requested));
  PendingGuard pending = CountPending();
  response->outputs.clear();
  int64_t t0 = NowNs();
  std::unique_lock<std::mutex> lock(exec_mu_, std::defer_lock);
  if (!backend_->thread_safe()) lock.lock();
  int64_t t1 = NowNs();
  Status st = RunBackend(request.inputs, requested, &response->outputs);
  int64_t t2 = NowNs();
  if (timing) {
    timing->queue_ns = t1 - t0;
    timing->compute_ns = t2 - t1;
  }
  return FinishOutputs(std::move(st), request, requested, response);
}

Status Model::InferAsync(InferRequest* request, InferResponse* response, InferDone done) {
  if (!batcher_) {
    InferTiming timing;
    Status st = Infer(*request, response, &timing);
    if (!st.ok()) return st;
    done(Status::Ok(), timing);
    return Status::Ok();
  }
  std::vector<int> requested;
  RETURN_IF_ERROR(ValidateAndConvert(*request, &requested));
  response->outputs.clear();
  pending_.fetch_add(1, std::memory_order_relaxed);
  std::vector<int> batch_requested = requested;
  Status st = batcher_->Enqueue(
      request->inputs, std::move(batch_requested), &response->outputs,
      [this, request, response, requested = std::move(requested), done = std::move(done)](
          Status result, const InferTiming& timing) mutable {
        result = FinishOutputs(std::move(result), *request, requested, response);
        pending_.fetch_sub(1, std::memory_order_relaxed);
        // `done` may drop the caller's last reference to this Model: nothing of `this` after it.
        InferDone finish = std::move(done);
        finish(std::move(result), timing);
      });
  if (!st.ok()) pending_.fetch_sub(1, std::memory_order_relaxed);
  return st;
}

Status Model::WarmUp() {
  // A model without declared inputs cannot be fed zeros; its own load() is its warm-up.
  if (dynamic_io_) return Status::Ok();
  if (!backend_->warm_up_safe()) {
    LOG_INFO("model '{}': no warm-up at load (running it would change its state); the first request warms it up",
             name_);
    return Status::Ok();
  }
  // Zeros need a shape. Only the first (batch) dimension may be guessed (1); a model whose other
  // dimensions are unknown (a TorchScript file without config.pbtxt or model-settings.json) would be fed
  // a shape it may reject ("mat1 and mat2 shapes cannot be multiplied"), so its first request is its
  // warm-up instead.
  for (const auto& spec : metadata_.inputs) {
    if (spec.shape.size() > 1 && std::find(spec.shape.begin() + 1, spec.shape.end(), -1) != spec.shape.end()) {
      LOG_INFO("model '{}': input '{}' has undeclared dimensions {}: no warm-up at load, the first request "
               "warms it up (declare the inputs to have it warmed up before it is ready)",
               name_, spec.name, ShapeToString(spec.shape));
      return Status::Ok();
    }
  }
  InferRequest req;
  req.model_name = name_;
  for (const auto& spec : metadata_.inputs) {
    Shape shape = spec.shape;
    for (auto& d : shape)
      if (d < 0) d = 1;
    Tensor t(spec.name, spec.dtype, shape);
    ASSIGN_OR_RETURN(int64_t n, ElementCount(shape, spec.name));
    if (spec.dtype == DataType::kBytes) {
      std::string b;
      for (int64_t i = 0; i < n; ++i) AppendBytesElement(&b, "");
      t.SetOwned(std::move(b));
    } else {
      t.Allocate(static_cast<size_t>(n) * DataTypeSize(spec.dtype));
    }
    req.inputs.push_back(std::move(t));
  }
  InferResponse resp;
  Status st = Infer(req, &resp);
  if (!st.ok()) return st.WithPrefix("warm-up inference failed");
  return Status::Ok();
}

}  // namespace inferd
