#include "protocol/v2_json.h"

#include "protocol/json_tensor.h"
#include "protocol/json_writer.h"

namespace inferd {

using simdjson::dom::element;
using simdjson::dom::element_type;

namespace {

Status ParseShape(element e, Shape* shape, const std::string& field) {
  if (e.type() != element_type::ARRAY) return InvalidArgument(field + ": must be an array of integers");
  shape->clear();
  simdjson::dom::array e_array = e.get_array().value_unsafe();
  for (element d : e_array) {
    if (d.type() == element_type::INT64) {
      shape->push_back(d.get_int64().value_unsafe());
    } else if (d.type() == element_type::UINT64) {
      return InvalidArgument(field + ": dimension " + std::to_string(shape->size()) + " is too large");
    } else {
      return InvalidArgument(field + ": dimension " + std::to_string(shape->size()) + " is not an integer");
    }
  }
  return Status::Ok();
}

Status ParseInput(element in, size_t i, std::string_view* binary, bool has_header, Tensor* t) {
  std::string field = "inputs[" + std::to_string(i) + "]";
  if (in.type() != element_type::OBJECT) return InvalidArgument(field + ": must be an object");
  std::string_view name, datatype;
  if (in["name"].get(name)) return InvalidArgument(field + ".name: missing or not a string");
  if (in["datatype"].get(datatype)) return InvalidArgument(field + ".datatype: missing or not a string");
  field += " ('" + std::string(name) + "')";
  DataType dt = DataTypeFromName(datatype);
  if (dt == DataType::kInvalid) {
    return InvalidArgument(field + ".datatype: unknown datatype '" + std::string(datatype) + "'");
  }
  element shape_el;
  if (in["shape"].get(shape_el)) return InvalidArgument(field + ".shape: missing");
  Shape shape;
  RETURN_IF_ERROR(ParseShape(shape_el, &shape, field + ".shape"));
  ASSIGN_OR_RETURN(int64_t n, ElementCount(shape, field + ".shape"));
  *t = Tensor(std::string(name), dt, std::move(shape));

  element params;
  if (!in["parameters"].get(params)) RETURN_IF_ERROR(ParseParameters(params, &t->parameters(), field + ".parameters"));
  auto bds = t->parameters().find("binary_data_size");
  if (bds != t->parameters().end()) {
    const int64_t* size = std::get_if<int64_t>(&bds->second);
    if (!size || *size < 0) {
      return InvalidArgument(field + ".parameters.binary_data_size: must be a non-negative integer");
    }
    if (!has_header) {
      return InvalidArgument(field + ".parameters.binary_data_size is set but the request has no "
                             "Inference-Header-Content-Length header");
    }
    if (static_cast<uint64_t>(*size) > binary->size()) {
      return InvalidArgument(field + ".parameters.binary_data_size (" + std::to_string(*size) +
                             ") exceeds the binary data left in the body (" + std::to_string(binary->size()) +
                             " bytes)");
    }
    t->SetView(binary->substr(0, static_cast<size_t>(*size)));
    binary->remove_prefix(static_cast<size_t>(*size));
    t->parameters().erase(bds);
    return t->Validate(field);
  }
  element data;
  if (in["data"].get(data)) return InvalidArgument(field + ".data: missing (and no parameters.binary_data_size)");
  if (dt == DataType::kFp16 || dt == DataType::kBf16) {
    return InvalidArgument(field + ".datatype: " + std::string(datatype) +
                           " data can only be sent in binary form (binary tensor data extension)");
  }
  int64_t count = 0;
  RETURN_IF_ERROR(FillTensorFromJson(data, n, /*allow_b64=*/false, t, &count, field + ".data"));
  if (count != n) {
    return InvalidArgument(field + ".data: shape " + ShapeToString(t->shape()) + " needs " + std::to_string(n) +
                           " elements but " + std::to_string(count) + " were given");
  }
  return Status::Ok();
}

}  // namespace

Status ParseV2InferRequest(std::string_view body, std::optional<size_t> header_length, InferRequest* out) {
  std::string_view json = body, binary;
  if (header_length) {
    if (*header_length > body.size()) {
      return InvalidArgument("Inference-Header-Content-Length (" + std::to_string(*header_length) +
                             ") is larger than the body (" + std::to_string(body.size()) + " bytes)");
    }
    json = body.substr(0, *header_length);
    binary = body.substr(*header_length);
  }
  element doc;
  Status parsed = ParseJson(json, &doc, header_length ? "request header" : "request body");
  if (!parsed.ok()) {
    if (!header_length && body.find("binary_data_size") != std::string_view::npos) {
      return InvalidArgument(parsed.message() +
                             "; a body with binary tensor data needs the Inference-Header-Content-Length header");
    }
    return parsed;
  }
  if (doc.type() != element_type::OBJECT) return InvalidArgument("request body: must be a JSON object");

  element e;
  if (!doc["id"].get(e)) {
    std::string_view id;
    if (e.get(id)) return InvalidArgument("id: must be a string");
    out->id = std::string(id);
  }
  if (!doc["parameters"].get(e)) RETURN_IF_ERROR(ParseParameters(e, &out->parameters, "parameters"));

  element inputs;
  if (doc["inputs"].get(inputs)) return InvalidArgument("inputs: missing");
  if (inputs.type() != element_type::ARRAY) return InvalidArgument("inputs: must be an array");
  size_t i = 0;
  simdjson::dom::array inputs_array = inputs.get_array().value_unsafe();
  for (element in : inputs_array) {
    Tensor t;
    RETURN_IF_ERROR(ParseInput(in, i++, &binary, header_length.has_value(), &t));
    out->inputs.push_back(std::move(t));
  }
  if (out->inputs.empty()) return InvalidArgument("inputs: must not be empty");
  if (!binary.empty()) {
    return InvalidArgument("binary data: " + std::to_string(binary.size()) +
                           " bytes after the header are not claimed by any input's parameters.binary_data_size");
  }

  element outputs;
  if (!doc["outputs"].get(outputs)) {
    if (outputs.type() != element_type::ARRAY) return InvalidArgument("outputs: must be an array");
    size_t k = 0;
    simdjson::dom::array outputs_array = outputs.get_array().value_unsafe();
    for (element o : outputs_array) {
      std::string field = "outputs[" + std::to_string(k++) + "]";
      if (o.type() != element_type::OBJECT) return InvalidArgument(field + ": must be an object");
      RequestedOutput ro;
      std::string_view name;
      if (o["name"].get(name)) return InvalidArgument(field + ".name: missing or not a string");
      ro.name = std::string(name);
      element p;
      if (!o["parameters"].get(p)) RETURN_IF_ERROR(ParseParameters(p, &ro.parameters, field + ".parameters"));
      out->outputs.push_back(std::move(ro));
    }
  }
  return Status::Ok();
}

std::optional<size_t> WriteV2InferResponse(const InferResponse& r, bool binary_output_all, std::string* out) {
  std::vector<bool> binary(r.outputs.size());
  bool any_binary = false;
  for (size_t i = 0; i < r.outputs.size(); ++i) {
    const Tensor& t = r.outputs[i];
    bool b = GetBoolParameter(t.parameters(), "binary_data", binary_output_all);
    if (t.dtype() == DataType::kFp16 || t.dtype() == DataType::kBf16) b = true;
    binary[i] = b;
    any_binary |= b;
  }
  JsonWriter w(out);
  w.BeginObject();
  w.Key("model_name");
  w.String(r.model_name);
  if (!r.model_version.empty()) {
    w.Key("model_version");
    w.String(r.model_version);
  }
  w.Key("id");
  w.String(r.id);
  if (!r.parameters.empty()) {
    w.Key("parameters");
    w.ParametersObject(r.parameters);
  }
  w.Key("outputs");
  w.BeginArray();
  for (size_t i = 0; i < r.outputs.size(); ++i) {
    const Tensor& t = r.outputs[i];
    w.BeginObject();
    w.Key("name");
    w.String(t.name());
    w.Key("datatype");
    w.String(DataTypeName(t.dtype()));
    w.Key("shape");
    w.BeginArray();
    for (int64_t d : t.shape()) w.Int(d);
    w.EndArray();
    if (binary[i]) {
      w.Key("parameters");
      w.BeginObject();
      w.Key("binary_data_size");
      w.Int(static_cast<int64_t>(t.byte_size()));
      w.EndObject();
    } else {
      w.Key("data");
      WriteTensorData(w, t, /*nested=*/false);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  if (!any_binary) return std::nullopt;
  size_t header = out->size();
  for (size_t i = 0; i < r.outputs.size(); ++i)
    if (binary[i]) out->append(r.outputs[i].bytes());
  return header;
}

void WriteV2ModelMetadata(const ModelMetadata& md, std::string* out) {
  JsonWriter w(out);
  auto specs = [&](const std::vector<TensorSpec>& v) {
    w.BeginArray();
    for (const auto& s : v) {
      w.BeginObject();
      w.Key("name");
      w.String(s.name);
      w.Key("datatype");
      w.String(DataTypeName(s.dtype));
      w.Key("shape");
      w.BeginArray();
      for (int64_t d : s.shape) w.Int(d);
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
  };
  w.BeginObject();
  w.Key("name");
  w.String(md.name);
  w.Key("versions");
  w.BeginArray();
  for (const auto& v : md.versions) w.String(v);
  w.EndArray();
  w.Key("platform");
  w.String(md.platform);
  w.Key("inputs");
  specs(md.inputs);
  w.Key("outputs");
  specs(md.outputs);
  if (!md.execution.empty()) {
    w.Key("parameters");
    w.BeginObject();
    w.Key("execution");
    w.String(md.execution);
    w.EndObject();
  }
  w.EndObject();
}

}  // namespace inferd
