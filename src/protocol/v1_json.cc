#include "protocol/v1_json.h"

#include "protocol/json_tensor.h"
#include "protocol/json_writer.h"

namespace inferd {

using simdjson::dom::element;
using simdjson::dom::element_type;

namespace {

bool IsB64Object(element e) {
  if (e.type() != element_type::OBJECT) return false;
  element b;
  return !e["b64"].get(b);
}

// One tensor from a whole JSON value (shape and type inferred).
Status TensorFromValue(element v, const std::string& name, const std::string& field, Tensor* t) {
  Shape shape;
  DataType dt;
  RETURN_IF_ERROR(InferJsonShapeAndType(v, &shape, &dt, field));
  ASSIGN_OR_RETURN(int64_t n, ElementCount(shape, field));
  *t = Tensor(name, dt, shape);
  int64_t count = 0;
  RETURN_IF_ERROR(FillTensorFromJson(v, n, /*allow_b64=*/true, t, &count, field));
  if (count != n) return InvalidArgument(field + ": ragged nested list");
  return Status::Ok();
}

// Row format with named inputs: [{"a": ..., "b": ...}, ...] -> one tensor per input, rows stacked.
Status TensorsFromNamedRows(simdjson::dom::array rows, const ModelMetadata& md, InferRequest* out) {
  for (const auto& spec : md.inputs) {
    Tensor t(spec.name, DataType::kInvalid, {});
    std::string buf;
    Shape row_shape;
    size_t r = 0;
    for (element row : rows) {
      std::string field = "instances[" + std::to_string(r) + "]";
      if (row.type() != element_type::OBJECT) return InvalidArgument(field + ": must be an object with the model's input names");
      element v;
      if (row[spec.name].get(v)) return InvalidArgument(field + ": missing input '" + spec.name + "'");
      Tensor part;
      RETURN_IF_ERROR(TensorFromValue(v, spec.name, field + "." + spec.name, &part));
      if (r == 0) {
        row_shape = part.shape();
        t.set_dtype(part.dtype());
      } else if (part.shape() != row_shape || part.dtype() != t.dtype()) {
        return InvalidArgument(field + "." + spec.name + ": shape or type differs from instances[0]");
      }
      buf.append(part.bytes());
      ++r;
    }
    Shape shape = {static_cast<int64_t>(r)};
    shape.insert(shape.end(), row_shape.begin(), row_shape.end());
    t.set_shape(shape);
    t.SetOwned(std::move(buf));
    out->inputs.push_back(std::move(t));
  }
  return Status::Ok();
}

}  // namespace

Status ParseV1PredictRequest(std::string_view body, const ModelMetadata& md, InferRequest* out, V1Form* form) {
  element doc;
  RETURN_IF_ERROR(ParseJson(body, &doc, "request body"));
  if (doc.type() != element_type::OBJECT) return InvalidArgument("request body: must be a JSON object");
  if (md.inputs.empty()) return Internal("model has no inputs");
  element v;
  if (!doc["instances"].get(v)) {
    *form = V1Form::kInstances;
    if (v.type() != element_type::ARRAY) return InvalidArgument("instances: must be a list");
    auto rows = v.get_array().value_unsafe();
    if (rows.size() > 0) {
      element first = *rows.begin();
      if (first.type() == element_type::OBJECT && !IsB64Object(first)) return TensorsFromNamedRows(rows, md, out);
    }
    if (md.inputs.size() != 1) {
      return InvalidArgument("instances: model '" + md.name + "' has " + std::to_string(md.inputs.size()) +
                             " inputs; each instance must be an object keyed by input name");
    }
    Tensor t;
    RETURN_IF_ERROR(TensorFromValue(v, md.inputs[0].name, "instances", &t));
    out->inputs.push_back(std::move(t));
    return Status::Ok();
  }
  if (!doc["inputs"].get(v)) {
    *form = V1Form::kInputs;
    if (v.type() == element_type::OBJECT && !IsB64Object(v)) {
      simdjson::dom::object v_object = v.get_object().value_unsafe();
      for (auto [key, value] : v_object) {
        Tensor t;
        RETURN_IF_ERROR(TensorFromValue(value, std::string(key), "inputs." + std::string(key), &t));
        out->inputs.push_back(std::move(t));
      }
      return Status::Ok();
    }
    if (md.inputs.size() != 1) {
      return InvalidArgument("inputs: model '" + md.name + "' has " + std::to_string(md.inputs.size()) +
                             " inputs; 'inputs' must be an object keyed by input name");
    }
    Tensor t;
    RETURN_IF_ERROR(TensorFromValue(v, md.inputs[0].name, "inputs", &t));
    out->inputs.push_back(std::move(t));
    return Status::Ok();
  }
  return InvalidArgument("request body: expected an 'instances' or 'inputs' field");
}

void WriteV1PredictResponse(const Tensor& output, V1Form form, std::string* out) {
  JsonWriter w(out);
  w.BeginObject();
  w.Key(form == V1Form::kInstances ? "predictions" : "outputs");
  WriteTensorData(w, output, /*nested=*/true);
  w.EndObject();
}

}  // namespace inferd
