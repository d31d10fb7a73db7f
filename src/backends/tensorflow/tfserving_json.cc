#include "backends/tensorflow/tfserving_json.h"

#include <Eigen/Core>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/base64.h"
#include "core/json_string.h"
#include "tf/example.h"

namespace inferd::tfserving {

namespace {

using Json = nlohmann::json;
using tf::DType;

Status Bad(const std::string& what, const std::string& why) { return InvalidArgument(what + ": " + why); }

// One input's value: its shape and its leaves in row-major order (pointers into the parsed body).
struct Flat {
  tf::Shape shape;
  std::vector<const Json*> leaves;
};

bool IsB64(const Json& v) { return v.is_object() && v.size() == 1 && v.contains("b64"); }

// The shape of `v` (nested lists; a leaf is a scalar or a {"b64"} object), checked rectangular, leaves appended.
Status Walk(const Json& v, int depth, size_t dim, Flat* f, const std::string& what) {
  if (depth > kMaxValueDepth) return Bad(what, "nested deeper than " + std::to_string(kMaxValueDepth) + " lists");
  if (!v.is_array()) {
    if (dim != f->shape.size()) return Bad(what, "a scalar where a list was expected (the lists are not rectangular)");
    if (v.is_object() && !IsB64(v)) return Bad(what, "an object element must be {\"b64\": \"...\"}");
    if (v.is_null()) return Bad(what, "null is not a tensor element");
    f->leaves.push_back(&v);
    return Status::Ok();
  }
  const auto n = static_cast<int64_t>(v.size());
  if (dim == f->shape.size()) {
    if (!f->leaves.empty()) return Bad(what, "a list where a scalar was expected (the lists are not rectangular)");
    f->shape.push_back(n);
  } else if (dim > f->shape.size() || f->shape[dim] != n) {
    return Bad(what, "lists of different lengths at depth " + std::to_string(dim) + " (the lists are not rectangular)");
  }
  for (const Json& e : v) RETURN_IF_ERROR(Walk(e, depth + 1, dim + 1, f, what));
  return Status::Ok();
}

template <typename T>
Status PutInteger(const Json& v, T* out, const std::string& what) {
  if (v.is_number_unsigned()) {
    const uint64_t x = v.get<uint64_t>();
    if (x > static_cast<uint64_t>(std::numeric_limits<T>::max())) return Bad(what, "value out of range");
    *out = static_cast<T>(x);
    return Status::Ok();
  }
  if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      if (x < 0) return Bad(what, "value out of range");
      if (static_cast<uint64_t>(x) > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
        return Bad(what, "value out of range");
      }
    } else {
      if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) return Bad(what, "value out of range");
    }
    *out = static_cast<T>(x);
    return Status::Ok();
  }
  return Bad(what, "expected an integer, got " + std::string(v.type_name()));
}

StatusOr<double> Number(const Json& v, const std::string& what) {
  if (v.is_number()) return v.get<double>();
  return Bad(what, "expected a number, got " + std::string(v.type_name()));
}

template <typename T>
T* Data(tf::Tensor& t) {
  return t.data<T>();
}

// Converts the leaves to `dtype` in a tensor of `shape`.
StatusOr<tf::Tensor> Fill(const Flat& f, DType dtype, const std::string& what) {
  ASSIGN_OR_RETURN(tf::Tensor t, tf::Tensor::Make(dtype, f.shape));
  const size_t n = f.leaves.size();
  auto each_int = [&]<typename T>(T* out) -> Status {
    for (size_t i = 0; i < n; ++i) RETURN_IF_ERROR(PutInteger<T>(*f.leaves[i], out + i, what));
    return Status::Ok();
  };
  switch (dtype) {
    case DType::kFloat:
    case DType::kDouble:
    case DType::kHalf:
    case DType::kBfloat16:
      for (size_t i = 0; i < n; ++i) {
        ASSIGN_OR_RETURN(double d, Number(*f.leaves[i], what));
        if (dtype == DType::kFloat) t.data<float>()[i] = static_cast<float>(d);
        if (dtype == DType::kDouble) t.data<double>()[i] = d;
        if (dtype == DType::kHalf) t.data<Eigen::half>()[i] = Eigen::half(static_cast<float>(d));
        if (dtype == DType::kBfloat16) t.data<Eigen::bfloat16>()[i] = Eigen::bfloat16(static_cast<float>(d));
      }
      return t;
    case DType::kInt8: RETURN_IF_ERROR(each_int(t.data<int8_t>())); return t;
    case DType::kInt16: RETURN_IF_ERROR(each_int(t.data<int16_t>())); return t;
    case DType::kInt32: RETURN_IF_ERROR(each_int(t.data<int32_t>())); return t;
    case DType::kInt64: RETURN_IF_ERROR(each_int(t.data<int64_t>())); return t;
    case DType::kUint8: RETURN_IF_ERROR(each_int(t.data<uint8_t>())); return t;
    case DType::kUint16: RETURN_IF_ERROR(each_int(t.data<uint16_t>())); return t;
    case DType::kUint32: RETURN_IF_ERROR(each_int(t.data<uint32_t>())); return t;
    case DType::kUint64: RETURN_IF_ERROR(each_int(t.data<uint64_t>())); return t;
    case DType::kBool:
      for (size_t i = 0; i < n; ++i) {
        if (!f.leaves[i]->is_boolean()) return Bad(what, "expected true or false, got " + std::string(f.leaves[i]->type_name()));
        t.data<bool>()[i] = f.leaves[i]->get<bool>();
      }
      return t;
    case DType::kString:
      for (size_t i = 0; i < n; ++i) {
        const Json& v = *f.leaves[i];
        if (v.is_string()) {
          t.strings()[i] = v.get<std::string>();
        } else if (IsB64(v) && v["b64"].is_string()) {
          auto bytes = Base64Decode(v["b64"].get_ref<const std::string&>());
          if (!bytes.ok()) return Bad(what + ".b64", std::string(bytes.status().message()));
          t.strings()[i] = std::move(*bytes);
        } else {
          return Bad(what, "expected a string or {\"b64\": \"...\"}, got " + std::string(v.type_name()));
        }
      }
      return t;
    default:
      return Bad(what, "the signature's dtype " + std::string(tf::DTypeName(dtype)) + " cannot be sent as JSON");
  }
}

// Row format: the examples' values for each input, stacked on a new first dimension.
Status ReadInstances(const Json& instances, const tf::SignatureDef& sig, PredictRequest* out) {
  if (!instances.is_array()) return Bad("instances", "must be a list");
  if (instances.empty()) return Bad("instances", "must not be empty");
  const bool single = sig.inputs.size() == 1;
  for (const auto& [alias, info] : sig.inputs) {
    Flat all;
    tf::Shape inner;
    for (size_t i = 0; i < instances.size(); ++i) {
      const Json& ex = instances[i];
      const std::string what = "instances[" + std::to_string(i) + "]";
      const Json* v = &ex;
      if (ex.is_object() && !IsB64(ex)) {
        auto it = ex.find(alias);
        if (it == ex.end()) return Bad(what, "missing input '" + alias + "'");
        if (ex.size() != sig.inputs.size()) {
          for (auto k = ex.begin(); k != ex.end(); ++k) {
            if (!sig.inputs.contains(k.key())) return Bad(what, "the signature has no input '" + k.key() + "'");
          }
        }
        v = &*it;
      } else if (!single) {
        return Bad(what, "the signature takes " + std::to_string(sig.inputs.size()) +
                             " inputs: each instance must be an object naming them");
      }
      Flat one;
      RETURN_IF_ERROR(Walk(*v, 0, 0, &one, what + (v == &ex ? "" : "." + alias)));
      if (i == 0) inner = one.shape;
      if (one.shape != inner) {
        return Bad(what, "input '" + alias + "' has shape " + tf::ShapeString(one.shape) + ", instances[0] had " +
                             tf::ShapeString(inner) + " (every instance must have the same shape)");
      }
      all.leaves.insert(all.leaves.end(), one.leaves.begin(), one.leaves.end());
    }
    all.shape.push_back(static_cast<int64_t>(instances.size()));
    all.shape.insert(all.shape.end(), inner.begin(), inner.end());
    ASSIGN_OR_RETURN(tf::Tensor t, Fill(all, info.dtype, "instances: input '" + alias + "'"));
    out->inputs.emplace_back(alias, std::move(t));
  }
  return Status::Ok();
}

// Columnar format: each input's whole tensor.
Status ReadInputs(const Json& inputs, const tf::SignatureDef& sig, PredictRequest* out) {
  const bool named = inputs.is_object() && !IsB64(inputs);
  if (!named && sig.inputs.size() != 1) {
    return Bad("inputs", "the signature takes " + std::to_string(sig.inputs.size()) +
                             " inputs: \"inputs\" must be an object naming them");
  }
  if (named) {
    for (auto k = inputs.begin(); k != inputs.end(); ++k) {
      if (!sig.inputs.contains(k.key())) return Bad("inputs", "the signature has no input '" + k.key() + "'");
    }
  }
  for (const auto& [alias, info] : sig.inputs) {
    const Json* v = &inputs;
    if (named) {
      auto it = inputs.find(alias);
      if (it == inputs.end()) return Bad("inputs", "missing input '" + alias + "'");
      v = &*it;
    }
    Flat f;
    const std::string what = named ? "inputs." + alias : "inputs";
    RETURN_IF_ERROR(Walk(*v, 0, 0, &f, what));
    ASSIGN_OR_RETURN(tf::Tensor t, Fill(f, info.dtype, what));
    out->inputs.emplace_back(alias, std::move(t));
  }
  return Status::Ok();
}

}  // namespace

StatusOr<PredictRequest> ParsePredictRequest(std::string_view body, const SignatureLookup& lookup) {
  Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("the request body is not valid JSON");
  if (!doc.is_object()) return InvalidArgument("the request body must be a JSON object");
  PredictRequest out;
  if (auto it = doc.find("signature_name"); it != doc.end()) {
    if (!it->is_string()) return Bad("signature_name", "must be a string");
    out.signature_name = it->get<std::string>();
  }
  const auto inst = doc.find("instances"), cols = doc.find("inputs");
  if (inst != doc.end() && cols != doc.end()) {
    return InvalidArgument("Not both 'inputs' and 'instances' can be specified in the request");
  }
  if (inst == doc.end() && cols == doc.end()) return InvalidArgument("Missing 'inputs' or 'instances' key");
  for (auto k = doc.begin(); k != doc.end(); ++k) {
    if (k.key() != "signature_name" && k.key() != "instances" && k.key() != "inputs") {
      return Bad(k.key(), "unknown key of a predict request (known: signature_name, instances, inputs)");
    }
  }
  ASSIGN_OR_RETURN(const tf::SignatureDef* sig, lookup(out.signature_name));
  out.row_format = inst != doc.end();
  if (out.row_format) {
    RETURN_IF_ERROR(ReadInstances(*inst, *sig, &out));
  } else {
    RETURN_IF_ERROR(ReadInputs(*cols, *sig, &out));
  }
  return out;
}

namespace {

void AppendFloat(std::string* out, double v, bool single) {
  if (std::isnan(v)) return out->append("NaN"), void();
  if (std::isinf(v)) return out->append(v > 0 ? "Infinity" : "-Infinity"), void();
  char buf[64];
  auto r = single ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v)) : std::to_chars(buf, buf + sizeof buf, v);
  std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  out->append(s);
  if (s.find_first_of(".e") == std::string_view::npos) out->append(".0");
}

void AppendString(std::string* out, const std::string& s, bool b64) {
  if (b64 || !IsWellFormedUtf8(s)) {
    out->append("{\"b64\": \"").append(Base64Encode(s)).append("\"}");
    return;
  }
  AppendJsonString(out, s);
}

// Element `i` of `t`.
void AppendElement(std::string* out, const tf::Tensor& t, int64_t i, bool b64) {
  char buf[32];
  auto integer = [&](auto v) {
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out->append(buf, static_cast<size_t>(r.ptr - buf));
  };
  switch (t.dtype()) {
    case DType::kFloat: return AppendFloat(out, t.data<float>()[i], true);
    case DType::kDouble: return AppendFloat(out, t.data<double>()[i], false);
    case DType::kHalf: return AppendFloat(out, static_cast<float>(t.data<Eigen::half>()[i]), true);
    case DType::kBfloat16: return AppendFloat(out, static_cast<float>(t.data<Eigen::bfloat16>()[i]), true);
    case DType::kInt8: return integer(t.data<int8_t>()[i]);
    case DType::kInt16: return integer(t.data<int16_t>()[i]);
    case DType::kInt32: return integer(t.data<int32_t>()[i]);
    case DType::kInt64: return integer(t.data<int64_t>()[i]);
    case DType::kUint8: return integer(t.data<uint8_t>()[i]);
    case DType::kUint16: return integer(t.data<uint16_t>()[i]);
    case DType::kUint32: return integer(t.data<uint32_t>()[i]);
    case DType::kUint64: return integer(t.data<uint64_t>()[i]);
    case DType::kBool: out->append(t.data<bool>()[i] ? "true" : "false"); return;
    case DType::kString: return AppendString(out, t.strings()[static_cast<size_t>(i)], b64);
    default: out->append("null"); return;  // refused before writing (WritableDType)
  }
}

// The elements [first, first + count) of `t` laid out as dims[d..] (nested lists; a scalar when d == rank).
void AppendNested(std::string* out, const tf::Tensor& t, size_t d, int64_t first, bool b64) {
  if (d == t.shape().size()) return AppendElement(out, t, first, b64);
  int64_t stride = 1;
  for (size_t k = d + 1; k < t.shape().size(); ++k) stride *= t.shape()[k];
  out->push_back('[');
  for (int64_t j = 0; j < t.shape()[d]; ++j) {
    if (j) out->push_back(',');
    AppendNested(out, t, d + 1, first + j * stride, b64);
  }
  out->push_back(']');
}

bool WritableDType(DType t) {
  switch (t) {
    case DType::kFloat: case DType::kDouble: case DType::kHalf: case DType::kBfloat16: case DType::kInt8:
    case DType::kInt16: case DType::kInt32: case DType::kInt64: case DType::kUint8: case DType::kUint16:
    case DType::kUint32: case DType::kUint64: case DType::kBool: case DType::kString:
      return true;
    default:
      return false;
  }
}

bool BytesAlias(const std::string& alias) { return alias.ends_with("_bytes"); }

}  // namespace

StatusOr<std::string> WritePredictResponse(bool row_format, const std::vector<std::string>& aliases,
                                           const std::vector<tf::Tensor>& outputs) {
  if (aliases.size() != outputs.size() || outputs.empty()) return Internal("no outputs to write");
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (!WritableDType(outputs[k].dtype())) {
      return Unimplemented("output '" + aliases[k] + "' is a " + std::string(tf::DTypeName(outputs[k].dtype())) +
                           ", which has no JSON form");
    }
  }
  std::string out;
  const bool single = outputs.size() == 1;
  if (!row_format) {
    out = "{\"outputs\": ";
    if (!single) out += '{';
    for (size_t k = 0; k < outputs.size(); ++k) {
      if (!single) {
        if (k) out += ", ";
        AppendJsonString(&out, aliases[k]);
        out += ": ";
      }
      AppendNested(&out, outputs[k], 0, 0, BytesAlias(aliases[k]));
    }
    out += single ? "}" : "}}";
    return out;
  }
  // Row format: every output is split along its first dimension, which must be the same for all.
  int64_t batch = -1;
  for (size_t k = 0; k < outputs.size(); ++k) {
    const tf::Shape& s = outputs[k].shape();
    if (s.empty()) {
      return InvalidArgument("output '" + aliases[k] + "' is a scalar, which the row format (\"instances\") cannot "
                             "split into predictions; send the request in the columnar format (\"inputs\")");
    }
    if (batch >= 0 && s[0] != batch) {
      return InvalidArgument("output '" + aliases[k] + "' has batch size " + std::to_string(s[0]) + ", another output " +
                             std::to_string(batch) + ": the row format needs one batch size; use \"inputs\"");
    }
    batch = s[0];
  }
  out = "{\"predictions\": [";
  for (int64_t i = 0; i < batch; ++i) {
    if (i) out += ',';
    if (!single) out += '{';
    for (size_t k = 0; k < outputs.size(); ++k) {
      const tf::Tensor& t = outputs[k];
      int64_t row = 1;
      for (size_t d = 1; d < t.shape().size(); ++d) row *= t.shape()[d];
      if (!single) {
        if (k) out += ", ";
        AppendJsonString(&out, aliases[k]);
        out += ": ";
      }
      AppendNested(&out, t, 1, i * row, BytesAlias(aliases[k]));
    }
    if (!single) out += '}';
  }
  out += "]}";
  return out;
}

namespace {

// One JSON element into feature `f` (TF Serving's rules: the first element fixes the list's kind).
Status AddFeatureValue(const Json& v, const std::string& name, tf::ExampleFeature* f) {
  using Kind = tf::ExampleFeature::Kind;
  auto kind = [&](Kind k) -> Status {
    if (f->kind == Kind::kNone || f->kind == k) {
      f->kind = k;
      return Status::Ok();
    }
    return InvalidArgument("Unexpected element type in feature: " + name + " (its elements mix strings, integers and floats)");
  };
  if (v.is_boolean() || v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return InvalidArgument("Feature: " + name + " has uint64 element. Only int64 is supported.");
    }
    RETURN_IF_ERROR(kind(Kind::kInt64));
    f->ints.push_back(v.is_boolean() ? (v.get<bool>() ? 1 : 0) : v.get<int64_t>());
    return Status::Ok();
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max())) {
      return InvalidArgument("Feature: " + name + ": " + v.dump() + " cannot be represented as a float");
    }
    RETURN_IF_ERROR(kind(Kind::kFloat));
    f->floats.push_back(static_cast<float>(d));
    return Status::Ok();
  }
  if (v.is_string() || IsB64(v)) {
    RETURN_IF_ERROR(kind(Kind::kBytes));
    if (v.is_string()) {
      f->bytes.push_back(v.get<std::string>());
    } else {
      if (!v["b64"].is_string()) return Bad(name, "\"b64\" must be a string");
      auto bytes = Base64Decode(v["b64"].get_ref<const std::string&>());
      if (!bytes.ok()) return Bad(name, "invalid base64: " + std::string(bytes.status().message()));
      f->bytes.push_back(std::move(*bytes));
    }
    return Status::Ok();
  }
  return InvalidArgument("Feature: " + name + " has element with unexpected JSON type: " + std::string(v.type_name()));
}

StatusOr<std::string> ExampleFromJson(const Json& obj, const std::string& what) {
  if (!obj.is_object()) return Bad(what, "an example must be a JSON object, got " + std::string(obj.type_name()));
  tf::ExampleFeatures features;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    tf::ExampleFeature& f = features[it.key()];
    if (it->is_array()) {
      for (const Json& e : *it) RETURN_IF_ERROR(AddFeatureValue(e, it.key(), &f));
    } else {
      RETURN_IF_ERROR(AddFeatureValue(*it, it.key(), &f));
    }
  }
  return tf::SerializeExample(features);
}

}  // namespace

StatusOr<ExamplesRequest> ParseExamplesRequest(std::string_view body) {
  Json doc = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("the request body is not valid JSON");
  if (!doc.is_object()) return InvalidArgument("the request body must be a JSON object");
  ExamplesRequest out;
  for (auto k = doc.begin(); k != doc.end(); ++k) {
    if (k.key() != "signature_name" && k.key() != "context" && k.key() != "examples") {
      return Bad(k.key(), "unknown key of a classify/regress request (known: signature_name, context, examples)");
    }
  }
  if (auto it = doc.find("signature_name"); it != doc.end()) {
    if (!it->is_string()) return Bad("signature_name", "must be a string");
    out.signature_name = it->get<std::string>();
  }
  std::string context;
  if (auto it = doc.find("context"); it != doc.end()) {
    ASSIGN_OR_RETURN(context, ExampleFromJson(*it, "context"));
  }
  auto ex = doc.find("examples");
  if (ex == doc.end()) return InvalidArgument("key 'examples' is expected and was not found");
  if (!ex->is_array()) return Bad("examples", "must be a list");
  if (ex->empty()) return Bad("examples", "is an empty list");
  size_t total = 0;
  for (size_t i = 0; i < ex->size(); ++i) {
    ASSIGN_OR_RETURN(std::string e, ExampleFromJson((*ex)[i], "examples[" + std::to_string(i) + "]"));
    RETURN_IF_ERROR(tf::AppendExampleWithContext(context, e, &out.serialized, &total));
  }
  return out;
}

StatusOr<std::string> WriteClassifyResponse(const ExamplesResult& r) {
  std::string out = "{\"results\": [";
  for (int64_t i = 0; i < r.n; ++i) {
    out.append(i ? ", [" : "[");
    for (int64_t j = 0; j < r.k; ++j) {
      out.append(j ? ", [" : "[");
      AppendJsonString(&out, r.Label(i, j));
      out.append(", ");
      AppendFloat(&out, r.Score(i, j), true);
      out.push_back(']');
    }
    out.push_back(']');
  }
  out.append("]}");
  return out;
}

StatusOr<std::string> WriteRegressResponse(const ExamplesResult& r) {
  std::string out = "{\"results\": [";
  for (int64_t i = 0; i < r.n; ++i) {
    if (i) out.append(", ");
    AppendFloat(&out, r.Value(i), true);
  }
  out.append("]}");
  return out;
}

std::string StatusJson(std::string_view version) {
  std::string out = "{\"model_version_status\": [{\"version\": ";
  AppendJsonString(&out, version.empty() ? "1" : version);
  out += ", \"state\": \"AVAILABLE\", \"status\": {\"error_code\": \"OK\", \"error_message\": \"\"}}]}";
  return out;
}

namespace {

Json TensorInfoJson(const tf::TensorInfo& info) {
  Json shape = Json::object();
  if (info.shape.unknown_rank) {
    shape["unknown_rank"] = true;
  } else {
    Json dims = Json::array();
    for (int64_t d : info.shape.dims) dims.push_back({{"size", std::to_string(d)}, {"name", ""}});
    shape["dim"] = std::move(dims);
    shape["unknown_rank"] = false;
  }
  return {{"dtype", std::string(tf::DTypeName(info.dtype))}, {"tensor_shape", std::move(shape)},
          {"name", info.tensor_name}};
}

}  // namespace

std::string MetadataJson(std::string_view model, std::string_view version, const tf::MetaGraph& meta) {
  Json sigs = Json::object();
  for (const auto& [name, sig] : meta.signatures) {
    Json in = Json::object(), out = Json::object();
    for (const auto& [alias, info] : sig.inputs) in[alias] = TensorInfoJson(info);
    for (const auto& [alias, info] : sig.outputs) out[alias] = TensorInfoJson(info);
    sigs[name] = {{"inputs", std::move(in)}, {"outputs", std::move(out)}, {"method_name", sig.method_name}};
  }
  Json doc = {{"model_spec", {{"name", std::string(model)}, {"signature_name", ""}, {"version", std::string(version)}}},
              {"metadata", {{"signature_def", {{"signature_def", std::move(sigs)}}}}}};
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace inferd::tfserving
