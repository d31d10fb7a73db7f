// Model-layer validation with a two-input backend defined here (the model layer's own contract; the
// real backends have one input each).
#include "model/model.h"

#include <gtest/gtest.h>

namespace inferd {
namespace {

// Outputs input "a" minus input "b" element-wise, so the order the backend sees them in matters.
class Subtract : public Backend {
 public:
  Subtract() {
    md_.platform = "test";
    md_.inputs = {{"a", DataType::kFp32, {-1}}, {"b", DataType::kFp32, {-1}}};
    md_.outputs = {{"d", DataType::kFp32, {-1}}};
  }
  const ModelMetadata& metadata() const override { return md_; }
  Status Execute(std::span<const Tensor> in, std::span<const int>, std::vector<Tensor>* out) override {
    Tensor d("d", DataType::kFp32, in[0].shape());
    float* p = reinterpret_cast<float*>(d.Allocate(in[0].byte_size()));
    for (int64_t i = 0; i < in[0].element_count(); ++i) p[i] = in[0].data<float>()[i] - in[1].data<float>()[i];
    out->push_back(std::move(d));
    return Status::Ok();
  }

 private:
  ModelMetadata md_;
};

Tensor F32(const std::string& name, float v) {
  Tensor t(name, DataType::kFp32, {1});
  *reinterpret_cast<float*>(t.Allocate(4)) = v;
  return t;
}

TEST(Model, ReordersInputsIntoMetadataOrder) {
  Model m("sub", "1", std::make_unique<Subtract>());
  for (bool swapped : {false, true}) {
    InferRequest req;
    if (swapped) req.inputs = {F32("b", 2), F32("a", 5)};
    else req.inputs = {F32("a", 5), F32("b", 2)};
    InferResponse resp;
    ASSERT_TRUE(m.Infer(req, &resp).ok());
    EXPECT_EQ(resp.outputs[0].data<float>()[0], 3.0f) << swapped;
  }
}

// Failures are named once: a message that names the model already (a Python model's own error) is kept.
TEST(Model, FailuresNameTheModelOnce) {
  Model m("sub", "1", std::make_unique<Subtract>());
  EXPECT_EQ(m.WithModelName(Internal("boom")).message(), "model 'sub': boom");
  EXPECT_EQ(m.WithModelName(Internal("model 'sub': boom")).message(), "model 'sub': boom");
  EXPECT_EQ(m.WithModelName(Internal("model 'other': boom")).message(), "model 'sub': model 'other': boom");
  EXPECT_EQ(m.WithModelName(InvalidArgument("inputs[0]: bad")).message(), "inputs[0]: bad");
}

TEST(Model, DuplicateMissingAndUnknownInputs) {
  Model m("sub", "1", std::make_unique<Subtract>());
  struct Case { std::vector<Tensor> inputs; std::string needle; };
  std::vector<Case> cases;
  cases.push_back({{F32("a", 1), F32("a", 2)}, "given twice"});
  cases.push_back({{F32("b", 1)}, "missing input 'a'"});
  cases.push_back({{F32("a", 1), F32("c", 2)}, "unexpected input 'c'"});
  for (auto& c : cases) {
    InferRequest req;
    req.inputs = std::move(c.inputs);
    InferResponse resp;
    Status st = m.Infer(req, &resp);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(c.needle), std::string::npos) << st.message();
  }
}

Tensor Bool(const std::string& name, bool v) {
  Tensor t(name, DataType::kBool, {1});
  *t.Allocate(1) = v ? 1 : 0;
  return t;
}

Tensor I64(const std::string& name, int64_t v) {
  Tensor t(name, DataType::kInt64, {1});
  *reinterpret_cast<int64_t*>(t.Allocate(8)) = v;
  return t;
}

// Numbers convert to the declared numeric datatype; BOOL only when the request's datatypes were inferred
// from untyped JSON (V1), never for a typed (V2) BOOL tensor, as Triton refuses another datatype.
TEST(Model, BoolConvertsOnlyForInferredDatatypes) {
  Model m("sub", "1", std::make_unique<Subtract>());
  InferRequest typed;
  typed.inputs = {Bool("a", true), F32("b", 0)};
  InferResponse resp;
  Status st = m.Infer(typed, &resp);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("inputs[0] ('a').datatype: expected FP32, got BOOL"), std::string::npos) << st.message();

  InferRequest v1;
  v1.inferred_datatypes = true;
  v1.inputs = {Bool("a", true), F32("b", 0)};
  ASSERT_TRUE(m.Infer(v1, &resp).ok());
  EXPECT_EQ(resp.outputs[0].data<float>()[0], 1.0f);

  InferRequest numbers;  // typed numbers of another numeric datatype still convert
  numbers.inputs = {I64("a", 7), F32("b", 2)};
  ASSERT_TRUE(m.Infer(numbers, &resp).ok());
  EXPECT_EQ(resp.outputs[0].data<float>()[0], 5.0f);
}

}  // namespace
}  // namespace inferd
