#include "protocol/v2_grpc.h"

#include <climits>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

namespace inferd {

namespace {

using google::protobuf::RepeatedField;
using google::protobuf::RepeatedPtrField;
using inference::InferTensorContents;

// The typed field of InferTensorContents that carries each datatype.
enum class Field { kBool, kInt, kInt64, kUint, kUint64, kFp32, kFp64, kBytes, kNone };
constexpr Field kAllFields[] = {Field::kBool,   Field::kInt,  Field::kInt64, Field::kUint,
                                Field::kUint64, Field::kFp32, Field::kFp64,  Field::kBytes};

Field FieldFor(DataType t) {
  switch (t) {
    case DataType::kBool: return Field::kBool;
    case DataType::kInt8: case DataType::kInt16: case DataType::kInt32: return Field::kInt;
    case DataType::kInt64: return Field::kInt64;
    case DataType::kUint8: case DataType::kUint16: case DataType::kUint32: return Field::kUint;
    case DataType::kUint64: return Field::kUint64;
    case DataType::kFp32: return Field::kFp32;
    case DataType::kFp64: return Field::kFp64;
    case DataType::kBytes: return Field::kBytes;
    default: return Field::kNone;  // FP16, BF16: raw only
  }
}

const char* FieldName(Field f) {
  switch (f) {
    case Field::kBool: return "bool_contents";
    case Field::kInt: return "int_contents";
    case Field::kInt64: return "int64_contents";
    case Field::kUint: return "uint_contents";
    case Field::kUint64: return "uint64_contents";
    case Field::kFp32: return "fp32_contents";
    case Field::kFp64: return "fp64_contents";
    case Field::kBytes: return "bytes_contents";
    case Field::kNone: break;
  }
  return "(none)";
}

int FieldSize(const InferTensorContents& c, Field f) {
  switch (f) {
    case Field::kBool: return c.bool_contents_size();
    case Field::kInt: return c.int_contents_size();
    case Field::kInt64: return c.int64_contents_size();
    case Field::kUint: return c.uint_contents_size();
    case Field::kUint64: return c.uint64_contents_size();
    case Field::kFp32: return c.fp32_contents_size();
    case Field::kFp64: return c.fp64_contents_size();
    case Field::kBytes: return c.bytes_contents_size();
    case Field::kNone: break;
  }
  return 0;
}

// The first typed field holding values, or kNone.
Field FirstNonEmpty(const InferTensorContents& c) {
  for (Field f : kAllFields)
    if (FieldSize(c, f) > 0) return f;
  return Field::kNone;
}

// Built by appends: GCC 12 at -O3 warns falsely (-Wrestrict, GCC bug 105651) on "'" + std::string(s).
std::string Quote(std::string_view s) {
  std::string q;
  q.reserve(s.size() + 2);
  q.push_back('\'');
  q.append(s);
  q.push_back('\'');
  return q;
}

// Copies repeated values into owned tensor bytes as `Dst`, rejecting values `Dst` cannot hold.
template <typename Dst, typename Src>
Status CopyTyped(const RepeatedField<Src>& src, const std::string& field, DataType dtype, Tensor* t) {
  const int n = src.size();
  char* p = t->Allocate(static_cast<size_t>(n) * sizeof(Dst));
  if constexpr (std::is_same_v<Dst, Src>) {
    if (n > 0) std::memcpy(p, src.data(), static_cast<size_t>(n) * sizeof(Dst));
  } else {
    for (int i = 0; i < n; ++i) {
      const Src v = src.Get(i);
      if (!std::in_range<Dst>(v)) {
        return InvalidArgument(field + "[" + std::to_string(i) + "]: value " + std::to_string(v) +
                               " is out of range for " + std::string(DataTypeName(dtype)));
      }
      const Dst d = static_cast<Dst>(v);
      std::memcpy(p + static_cast<size_t>(i) * sizeof(Dst), &d, sizeof(Dst));
    }
  }
  return Status::Ok();
}

Status CopyBool(const RepeatedField<bool>& src, Tensor* t) {
  char* p = t->Allocate(static_cast<size_t>(src.size()));
  for (int i = 0; i < src.size(); ++i) p[i] = src.Get(i) ? 1 : 0;
  return Status::Ok();
}

Status CopyBytes(const RepeatedPtrField<std::string>& src, const std::string& field, Tensor* t) {
  size_t total = 0;
  for (int i = 0; i < src.size(); ++i) {
    if (src.Get(i).size() > std::numeric_limits<uint32_t>::max()) {
      return InvalidArgument(field + "[" + std::to_string(i) + "]: element is larger than 4 GiB");
    }
    total += 4 + src.Get(i).size();
  }
  std::string buf;
  buf.reserve(total);
  for (const std::string& s : src) AppendBytesElement(&buf, s);
  t->SetOwned(std::move(buf));
  return Status::Ok();
}

// Typed contents -> canonical owned bytes. `n` is the validated element count of the shape.
Status DecodeTyped(const InferTensorContents& c, const std::string& field, int64_t n, Tensor* t) {
  const DataType dtype = t->dtype();
  const Field want = FieldFor(dtype);
  const std::string dtname(DataTypeName(dtype));
  if (want == Field::kNone) {
    if (FirstNonEmpty(c) != Field::kNone || n > 0) {
      return InvalidArgument(field + ": datatype " + dtname +
                             " has no typed contents field; send its data in raw_input_contents");
    }
    t->SetOwned({});
    return Status::Ok();
  }
  for (Field f : kAllFields) {
    if (f != want && FieldSize(c, f) > 0) {
      return InvalidArgument(field + ": datatype " + dtname + " takes " + FieldName(want) + ", but " +
                             FieldName(f) + " was given");
    }
  }
  const std::string vfield = field + "." + FieldName(want);
  const int got = FieldSize(c, want);
  if (got != n) {
    return InvalidArgument(vfield + ": shape " + ShapeToString(t->shape()) + " needs " + std::to_string(n) +
                           " values but " + std::to_string(got) + " were given");
  }
  switch (dtype) {
    case DataType::kBool: return CopyBool(c.bool_contents(), t);
    case DataType::kInt8: return CopyTyped<int8_t>(c.int_contents(), vfield, dtype, t);
    case DataType::kInt16: return CopyTyped<int16_t>(c.int_contents(), vfield, dtype, t);
    case DataType::kInt32: return CopyTyped<int32_t>(c.int_contents(), vfield, dtype, t);
    case DataType::kInt64: return CopyTyped<int64_t>(c.int64_contents(), vfield, dtype, t);
    case DataType::kUint8: return CopyTyped<uint8_t>(c.uint_contents(), vfield, dtype, t);
    case DataType::kUint16: return CopyTyped<uint16_t>(c.uint_contents(), vfield, dtype, t);
    case DataType::kUint32: return CopyTyped<uint32_t>(c.uint_contents(), vfield, dtype, t);
    case DataType::kUint64: return CopyTyped<uint64_t>(c.uint64_contents(), vfield, dtype, t);
    case DataType::kFp32: return CopyTyped<float>(c.fp32_contents(), vfield, dtype, t);
    case DataType::kFp64: return CopyTyped<double>(c.fp64_contents(), vfield, dtype, t);
    case DataType::kBytes: return CopyBytes(c.bytes_contents(), vfield, t);
    default: break;
  }
  return InvalidArgument(field + ": datatype " + dtname + " is not supported in typed contents");
}

// Canonical bytes -> repeated field, element by element (the bytes may be unaligned views).
template <typename Src, typename Dst>
void EncodeTyped(std::string_view b, RepeatedField<Dst>* out) {
  const int n = static_cast<int>(b.size() / sizeof(Src));
  out->Resize(n, Dst{});
  Dst* dst = out->mutable_data();
  if constexpr (std::is_same_v<Src, Dst>) {
    if (n > 0) std::memcpy(dst, b.data(), static_cast<size_t>(n) * sizeof(Dst));
  } else {
    for (int i = 0; i < n; ++i) {
      Src v;
      std::memcpy(&v, b.data() + static_cast<size_t>(i) * sizeof(Src), sizeof(Src));
      dst[i] = static_cast<Dst>(v);
    }
  }
}

Status EncodeTypedOutput(const Tensor& t, const std::string& field, InferTensorContents* c) {
  std::string_view b = t.bytes();
  switch (t.dtype()) {
    case DataType::kBool: {
      auto* out = c->mutable_bool_contents();
      out->Resize(static_cast<int>(b.size()), false);
      for (size_t i = 0; i < b.size(); ++i) out->Set(static_cast<int>(i), b[i] != 0);
      return Status::Ok();
    }
    case DataType::kInt8: EncodeTyped<int8_t>(b, c->mutable_int_contents()); return Status::Ok();
    case DataType::kInt16: EncodeTyped<int16_t>(b, c->mutable_int_contents()); return Status::Ok();
    case DataType::kInt32: EncodeTyped<int32_t>(b, c->mutable_int_contents()); return Status::Ok();
    case DataType::kInt64: EncodeTyped<int64_t>(b, c->mutable_int64_contents()); return Status::Ok();
    case DataType::kUint8: EncodeTyped<uint8_t>(b, c->mutable_uint_contents()); return Status::Ok();
    case DataType::kUint16: EncodeTyped<uint16_t>(b, c->mutable_uint_contents()); return Status::Ok();
    case DataType::kUint32: EncodeTyped<uint32_t>(b, c->mutable_uint_contents()); return Status::Ok();
    case DataType::kUint64: EncodeTyped<uint64_t>(b, c->mutable_uint64_contents()); return Status::Ok();
    case DataType::kFp32: EncodeTyped<float>(b, c->mutable_fp32_contents()); return Status::Ok();
    case DataType::kFp64: EncodeTyped<double>(b, c->mutable_fp64_contents()); return Status::Ok();
    case DataType::kBytes: {
      auto* out = c->mutable_bytes_contents();
      bool ok = ForEachBytesElement(b, [&](std::string_view e) { out->Add()->assign(e.data(), e.size()); });
      if (!ok) return Internal(field + ": malformed BYTES contents");
      return Status::Ok();
    }
    default: break;
  }
  return Internal(field + ": datatype " + std::string(DataTypeName(t.dtype())) + " has no typed contents field");
}

}  // namespace

Status DecodeParameters(const ProtoParameters& in, std::string_view field, Parameters* out) {
  out->clear();
  for (const auto& [key, p] : in) {
    switch (p.parameter_choice_case()) {
      case inference::InferParameter::kBoolParam: out->emplace(key, p.bool_param()); break;
      case inference::InferParameter::kInt64Param: out->emplace(key, int64_t{p.int64_param()}); break;
      case inference::InferParameter::kStringParam: out->emplace(key, p.string_param()); break;
      case inference::InferParameter::kDoubleParam: out->emplace(key, p.double_param()); break;
      case inference::InferParameter::kUint64Param: {
        const uint64_t v = p.uint64_param();
        if (v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          out->emplace(key, static_cast<int64_t>(v));
        } else {
          out->emplace(key, std::to_string(v));
        }
        break;
      }
      case inference::InferParameter::PARAMETER_CHOICE_NOT_SET:
        return InvalidArgument(std::string(field) + "[" + Quote(key) + "]: parameter has no value");
    }
  }
  return Status::Ok();
}

void EncodeParameters(const Parameters& in, ProtoParameters* out) {
  for (const auto& [key, v] : in) {
    inference::InferParameter& p = (*out)[key];
    std::visit(
        [&p](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, bool>) {
            p.set_bool_param(x);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            p.set_int64_param(x);
          } else if constexpr (std::is_same_v<T, double>) {
            p.set_double_param(x);
          } else {
            p.set_string_param(x);
          }
        },
        v);
  }
}

Status DecodeModelInferRequest(const inference::ModelInferRequest& in, InferRequest* out) {
  out->model_name = in.model_name();
  out->model_version = in.model_version();
  out->id = in.id();
  RETURN_IF_ERROR(DecodeParameters(in.parameters(), "parameters", &out->parameters));

  const int n_inputs = in.inputs_size();
  const int n_raw = in.raw_input_contents_size();
  const bool raw = n_raw > 0;
  if (raw && n_raw != n_inputs) {
    return InvalidArgument("raw_input_contents: " + std::to_string(n_raw) + " blobs were given for " +
                           std::to_string(n_inputs) + " inputs (one blob per input, in input order)");
  }

  out->inputs.clear();
  out->inputs.reserve(static_cast<size_t>(n_inputs));
  for (int i = 0; i < n_inputs; ++i) {
    const auto& pin = in.inputs(i);
    const std::string field = "inputs[" + std::to_string(i) + "]";
    const DataType dtype = DataTypeFromName(pin.datatype());
    if (dtype == DataType::kInvalid) {
      return InvalidArgument(field + ".datatype: unknown datatype " + Quote(pin.datatype()));
    }
    Shape shape(pin.shape().begin(), pin.shape().end());
    ASSIGN_OR_RETURN(int64_t n, ElementCount(shape, field + ".shape"));

    Tensor t(pin.name(), dtype, std::move(shape));
    RETURN_IF_ERROR(DecodeParameters(pin.parameters(), field + ".parameters", &t.parameters()));
    if (raw) {
      if (pin.has_contents() && FirstNonEmpty(pin.contents()) != Field::kNone) {
        return InvalidArgument(field + ".contents: a request uses either typed contents or raw_input_contents, "
                               "not both");
      }
      t.SetView(in.raw_input_contents(i));
      RETURN_IF_ERROR(t.Validate("raw_input_contents[" + std::to_string(i) + "]"));
    } else {
      RETURN_IF_ERROR(DecodeTyped(pin.contents(), field + ".contents", n, &t));
    }
    out->inputs.push_back(std::move(t));
  }

  out->outputs.clear();
  out->outputs.reserve(static_cast<size_t>(in.outputs_size()));
  for (int i = 0; i < in.outputs_size(); ++i) {
    const auto& po = in.outputs(i);
    RequestedOutput ro;
    ro.name = po.name();
    RETURN_IF_ERROR(
        DecodeParameters(po.parameters(), "outputs[" + std::to_string(i) + "].parameters", &ro.parameters));
    out->outputs.push_back(std::move(ro));
  }
  return Status::Ok();
}

Status EncodeModelInferResponse(const InferResponse& in, bool raw_outputs, inference::ModelInferResponse* out) {
  out->set_model_name(in.model_name);
  out->set_model_version(in.model_version);
  out->set_id(in.id);
  EncodeParameters(in.parameters, out->mutable_parameters());

  // FP16/BF16 have no typed field: such a response goes raw as a whole (see the header).
  bool raw = raw_outputs;
  for (const Tensor& t : in.outputs) {
    if (FieldFor(t.dtype()) == Field::kNone) raw = true;
  }

  const int n = static_cast<int>(in.outputs.size());
  out->mutable_outputs()->Reserve(n);
  if (raw) out->mutable_raw_output_contents()->Reserve(n);
  for (int i = 0; i < n; ++i) {
    const Tensor& t = in.outputs[static_cast<size_t>(i)];
    const std::string field = "outputs[" + std::to_string(i) + "] (" + Quote(t.name()) + ")";
    if (t.dtype() == DataType::kInvalid) return Internal(field + ": output has no datatype");
    if (Status st = t.Validate(field); !st.ok()) return Internal(st.message());
    if (!raw && t.element_count() > INT_MAX) {
      return Internal(field + ": too many elements for typed contents");
    }
    auto* po = out->add_outputs();
    po->set_name(t.name());
    po->set_datatype(std::string(DataTypeName(t.dtype())));
    po->mutable_shape()->Add(t.shape().begin(), t.shape().end());
    EncodeParameters(t.parameters(), po->mutable_parameters());
    if (raw) {
      std::string_view b = t.bytes();
      out->add_raw_output_contents()->assign(b.data(), b.size());
    } else {
      RETURN_IF_ERROR(EncodeTypedOutput(t, field, po->mutable_contents()));
    }
  }
  return Status::Ok();
}

void FillModelMetadataResponse(const ModelMetadata& in, inference::ModelMetadataResponse* out) {
  out->set_name(in.name);
  for (const auto& v : in.versions) out->add_versions(v);
  out->set_platform(in.platform);
  auto fill = [](const TensorSpec& s, inference::ModelMetadataResponse::TensorMetadata* m) {
    m->set_name(s.name);
    m->set_datatype(std::string(DataTypeName(s.dtype)));
    m->mutable_shape()->Add(s.shape.begin(), s.shape.end());
  };
  for (const auto& s : in.inputs) fill(s, out->add_inputs());
  for (const auto& s : in.outputs) fill(s, out->add_outputs());
}

}  // namespace inferd
