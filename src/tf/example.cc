#include "tf/example.h"

#include "tf/example.pb.h"

namespace inferd::tf {
namespace pb = inferd::tfproto;

std::string SerializeExample(const ExampleFeatures& features) {
  pb::Example ex;
  auto* map = ex.mutable_features()->mutable_feature();
  for (const auto& [name, f] : features) {
    pb::Feature& p = (*map)[name];
    switch (f.kind) {
      case ExampleFeature::Kind::kBytes:
        for (const std::string& s : f.bytes) p.mutable_bytes_list()->add_value(s);
        if (f.bytes.empty()) p.mutable_bytes_list();
        break;
      case ExampleFeature::Kind::kFloat:
        p.mutable_float_list()->mutable_value()->Add(f.floats.begin(), f.floats.end());
        break;
      case ExampleFeature::Kind::kInt64:
        p.mutable_int64_list()->mutable_value()->Add(f.ints.begin(), f.ints.end());
        break;
      case ExampleFeature::Kind::kNone: break;
    }
  }
  return ex.SerializeAsString();
}

StatusOr<ExampleFeatures> ParseExampleProto(std::string_view bytes, size_t index) {
  pb::Example ex;
  if (bytes.size() > static_cast<size_t>(INT32_MAX) || !ex.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return InvalidArgument("could not parse example input " + std::to_string(index) + " (" +
                           std::to_string(bytes.size()) + " bytes) as a tf.Example");
  }
  ExampleFeatures out;
  for (const auto& [name, p] : ex.features().feature()) {
    ExampleFeature& f = out[name];
    switch (p.kind_case()) {
      case pb::Feature::kBytesList:
        f.kind = ExampleFeature::Kind::kBytes;
        f.bytes.assign(p.bytes_list().value().begin(), p.bytes_list().value().end());
        break;
      case pb::Feature::kFloatList:
        f.kind = ExampleFeature::Kind::kFloat;
        f.floats.assign(p.float_list().value().begin(), p.float_list().value().end());
        break;
      case pb::Feature::kInt64List:
        f.kind = ExampleFeature::Kind::kInt64;
        f.ints.assign(p.int64_list().value().begin(), p.int64_list().value().end());
        break;
      case pb::Feature::KIND_NOT_SET: break;
    }
  }
  return out;
}

Status AppendExampleWithContext(std::string_view context, std::string_view example, std::vector<std::string>* out,
                                size_t* total_bytes) {
  if (out->size() >= kMaxExamples) {
    return InvalidArgument("more than " + std::to_string(kMaxExamples) + " examples in one request");
  }
  const size_t size = context.size() + example.size();
  if (size > kMaxExamplesBytes - *total_bytes) {
    return InvalidArgument("the examples, context applied, pass " + std::to_string(kMaxExamplesBytes >> 20) +
                           " MiB in one request");
  }
  *total_bytes += size;
  std::string s;
  s.reserve(size);
  s.append(context);
  s.append(example);
  out->push_back(std::move(s));
  return Status::Ok();
}

StatusOr<std::vector<std::string>> SerializedExamplesFromInput(std::string_view input_bytes) {
  pb::ServingInput in;
  if (input_bytes.size() > static_cast<size_t>(INT32_MAX) ||
      !in.ParseFromArray(input_bytes.data(), static_cast<int>(input_bytes.size()))) {
    return InvalidArgument("could not parse the request's input as a tensorflow.serving.Input");
  }
  std::vector<std::string> out;
  size_t total = 0;
  if (in.has_example_list()) {
    for (const pb::Example& e : in.example_list().examples()) {
      RETURN_IF_ERROR(AppendExampleWithContext("", e.SerializeAsString(), &out, &total));
    }
  } else if (in.has_example_list_with_context()) {
    const std::string context = in.example_list_with_context().context().SerializeAsString();
    for (const pb::Example& e : in.example_list_with_context().examples()) {
      RETURN_IF_ERROR(AppendExampleWithContext(context, e.SerializeAsString(), &out, &total));
    }
  }
  if (out.empty()) return InvalidArgument("Input is empty");
  return out;
}

}  // namespace inferd::tf
