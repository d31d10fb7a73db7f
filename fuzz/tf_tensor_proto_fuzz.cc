// fuzz/tf_tensor_proto_fuzz.cc: what a TF Serving gRPC client sends (KServe's grpc-v1): the request's routing fields
// (server/tfs_model_spec.h, read by the model server's front end from the raw bytes, plain and MultiInference's
// nested form) and a TensorProto as Predict's inputs carry it (tf/tensor_proto.h: typed fields, tensor_content,
// repetition charged to a budget). Invariants: a converted tensor's element count matches its shape, repetition
// never adds more than the budget, and a converted tensor written back and read again is the same tensor.
#include <cstring>

#include "fuzz_check.h"
#include "server/tfs_model_spec.h"
#include "tf/tensor.pb.h"
#include "tf/tensor_proto.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes = inferd::fuzz::AsText(data, size);
  for (bool multi : {false, true}) {
    auto spec = inferd::ReadTfsModelSpec(bytes, multi);
    if (spec.ok()) FUZZ_CHECK(!(spec->version && spec->label), "version and version_label are a oneof");
  }
  inferd::tfproto::TensorProto proto;
  if (!proto.ParseFromArray(data, static_cast<int>(size))) return 0;
  constexpr uint64_t kBudget = uint64_t{1} << 20;
  uint64_t budget = kBudget;
  auto t = inferd::tf::TensorFromProto(proto, &budget);
  if (!t.ok()) return 0;
  FUZZ_CHECK(budget <= kBudget, "the budget only shrinks");
  auto n = inferd::tf::NumElements(t->shape());
  FUZZ_CHECK(n.ok() && *n == t->num_elements(), "element count matches the shape");
  inferd::tfproto::TensorProto back;
  if (!inferd::tf::TensorToProto(*t, &back).ok()) return 0;
  uint64_t again_budget = kBudget;
  auto again = inferd::tf::TensorFromProto(back, &again_budget);
  FUZZ_CHECK(again.ok(), "a written tensor reads back");
  FUZZ_CHECK(again->dtype() == t->dtype() && again->shape() == t->shape(), "dtype and shape survive");
  FUZZ_CHECK(again_budget == kBudget, "a written tensor has every value (no repetition)");
  if (t->dtype() == inferd::tf::DType::kString) {
    FUZZ_CHECK(again->strings() == t->strings(), "strings survive");
  } else {
    FUZZ_CHECK(std::memcmp(again->data<char>(), t->data<char>(), t->byte_size()) == 0, "values survive");
  }
  return 0;
}
