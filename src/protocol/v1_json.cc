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
// Pass 1 agrees on one row shape and one datatype per input (INT64 and FP64 rows mix as FP64), pass 2
// fills.
Status TensorsFromNamedRows(simdjson::dom::array rows, const ModelMetadata& md, InferRequest* out) {
  for (const auto& spec : md.inputs) {
    Shape row_shape;
    DataType dtype = DataType::kInvalid;
    std::vector<element> values;
    size_t r = 0;
    for (element row : rows) {
      std::string field = "instances[" + std::to_string(r) + "]";
      if (row.type() != element_type::OBJECT) {
        return InvalidArgument(field + ": must be an object with the model's input names");
      }
      element v;
      if (row[spec.name].get(v)) return InvalidArgument(field + ": missing input '" + spec.name + "'");
      Shape shape;
      DataType dt;
      RETURN_IF_ERROR(InferJsonShapeAndType(v, &shape, &dt, field + "." + spec.name));
      bool numeric_mix = (dt == DataType::kFp64 && dtype == DataType::kInt64) ||
                         (dt == DataType::kInt64 && dtype == DataType::kFp64);
      if (r == 0) {
        row_shape = shape;
        dtype = dt;
      } else if (shape != row_shape || (dt != dtype && !numeric_mix)) {
        return InvalidArgument(field + "." + spec.name + ": shape or type differs from instances[0]");
      } else if (numeric_mix) {
        dtype = DataType::kFp64;
      }
      values.push_back(v);
      ++r;
    }
    ASSIGN_OR_RETURN(int64_t per_row, ElementCount(row_shape, "instances[0]." + spec.name));
    std::string buf;
    for (size_t i = 0; i < values.size(); ++i) {
      Tensor part(spec.name, dtype, row_shape);
      int64_t count = 0;
      RETURN_IF_ERROR(FillTensorFromJson(values[i], per_row, /*allow_b64=*/true, &part, &count,
                                         "instances[" + std::to_string(i) + "]." + spec.name));
      buf.append(part.bytes());
    }
    Shape shape = {static_cast<int64_t>(r)};
    shape.insert(shape.end(), row_shape.begin(), row_shape.end());
    Tensor t(spec.name, dtype, std::move(shape));
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
