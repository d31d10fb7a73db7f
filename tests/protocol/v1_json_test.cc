#include "protocol/v1_json.h"

#include <gtest/gtest.h>

namespace inferd {
namespace {

ModelMetadata OneInput() { return {"m", {"1"}, "x", {{"in", DataType::kFp32, {-1, 4}}}, {{"out", DataType::kInt64, {-1}}}}; }

TEST(V1Json, InstancesBecomeOneBatchedTensor) {
  InferRequest req;
  V1Form form;
  ASSERT_TRUE(ParseV1PredictRequest(R"({"instances":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]})", OneInput(), &req, &form).ok());
  EXPECT_EQ(form, V1Form::kInstances);
  ASSERT_EQ(req.inputs.size(), 1u);
  EXPECT_EQ(req.inputs[0].name(), "in");
  EXPECT_EQ(req.inputs[0].shape(), (Shape{2, 4}));
  EXPECT_EQ(req.inputs[0].dtype(), DataType::kFp64);
  req = {};
  ASSERT_TRUE(ParseV1PredictRequest(R"({"instances":[[1,2,3,4]]})", OneInput(), &req, &form).ok());
  EXPECT_EQ(req.inputs[0].dtype(), DataType::kInt64);
}

TEST(V1Json, ColumnarAndNamedForms) {
  InferRequest req;
  V1Form form;
  ASSERT_TRUE(ParseV1PredictRequest(R"({"inputs":[[1,2,3,4]]})", OneInput(), &req, &form).ok());
  EXPECT_EQ(form, V1Form::kInputs);
  ModelMetadata two{"m", {"1"}, "x", {{"a", DataType::kFp32, {-1}}, {"b", DataType::kBytes, {-1}}}, {{"o", DataType::kFp32, {-1}}}};
  req = {};
  ASSERT_TRUE(ParseV1PredictRequest(R"({"instances":[{"a":1.5,"b":{"b64":"aGk="}},{"a":2,"b":"x"}]})", two, &req, &form).ok());
  ASSERT_EQ(req.inputs.size(), 2u);
  EXPECT_EQ(req.inputs[0].shape(), (Shape{2}));
  EXPECT_EQ(req.inputs[1].bytes(), std::string("\x02\x00\x00\x00hi\x01\x00\x00\x00x", 11));
  req = {};
  ASSERT_TRUE(ParseV1PredictRequest(R"({"inputs":{"a":[1,2],"b":["p","q"]}})", two, &req, &form).ok());
  EXPECT_EQ(req.inputs.size(), 2u);
}

TEST(V1Json, Errors) {
  ModelMetadata two{"m", {"1"}, "x", {{"a", DataType::kFp32, {-1}}, {"b", DataType::kFp32, {-1}}}, {{"o", DataType::kFp32, {-1}}}};
  struct Case { std::string body; ModelMetadata md; std::string needle; };
  std::vector<Case> cases = {
      {"nope", OneInput(), "malformed JSON"},
      {"[]", OneInput(), "JSON object"},
      {R"({"foo":1})", OneInput(), "'instances' or 'inputs'"},
      {R"({"instances":3})", OneInput(), "instances: must be a list"},
      {R"({"instances":[[1,2],[3]]})", OneInput(), "ragged"},
      {R"({"instances":[[1,2],3]})", OneInput(), "ragged"},
      {R"({"instances":[[1,2]]})", two, "2 inputs"},
      {R"({"instances":[{"a":1}]})", two, "missing input 'b'"},
      {R"({"instances":[{"a":1,"b":2},{"a":[1],"b":2}]})", two, "differs"},
      {R"({"instances":[{"b64":"***"}]})", OneInput(), "invalid base64"},
  };
  for (const auto& c : cases) {
    InferRequest req;
    V1Form form;
    Status st = ParseV1PredictRequest(c.body, c.md, &req, &form);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_NE(st.message().find(c.needle), std::string::npos) << c.body << " -> " << st.message();
  }
}

TEST(V1Json, NestingLimits) {
  auto nested = [](int d) { return std::string(d, '[') + "1" + std::string(d, ']'); };
  ModelMetadata two{"m", {"1"}, "x", {{"a", DataType::kFp32, {-1}}, {"b", DataType::kFp32, {-1}}}, {{"o", DataType::kFp32, {-1}}}};
  struct Case { std::string body; ModelMetadata md; std::string needle; };
  std::vector<Case> cases = {
      {R"({"instances":)" + nested(100000) + "}", OneInput(), "request body: nested deeper than 64 levels"},
      {R"({"instances":)" + nested(64) + "}", OneInput(), "request body: nested deeper than 64 levels"},
      {R"({"instances":)" + nested(40) + "}", OneInput(), "nested"},
      {R"({"inputs":{"a":)" + nested(100000) + R"(,"b":[1]}})", two, "request body: nested deeper than 64 levels"},
      {R"({"instances":[{"a":1,"b":)" + nested(100000) + "}]}", two, "request body: nested deeper than 64 levels"},
      {R"({"instances":[{"b64":)" + nested(100000) + "}]}", OneInput(), "request body: nested deeper than 64 levels"},
  };
  for (const auto& c : cases) {
    InferRequest req;
    V1Form form;
    Status st = ParseV1PredictRequest(c.body, c.md, &req, &form);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.body.substr(0, 80);
    EXPECT_NE(st.message().find(c.needle), std::string::npos) << c.body.substr(0, 80) << " -> " << st.message();
  }
}

TEST(V1Json, PredictionsNestedByShape) {
  Tensor t("o", DataType::kFp32, {2, 2});
  float* f = reinterpret_cast<float*>(t.Allocate(16));
  f[0] = 0.25f; f[1] = 0.75f; f[2] = 1; f[3] = 0;
  std::string out;
  WriteV1PredictResponse(t, V1Form::kInstances, &out);
  EXPECT_EQ(out, R"({"predictions":[[0.25,0.75],[1.0,0.0]]})");
  Tensor ids("o", DataType::kInt64, {2});
  int64_t* p = reinterpret_cast<int64_t*>(ids.Allocate(16));
  p[0] = 1; p[1] = 1;
  out.clear();
  WriteV1PredictResponse(ids, V1Form::kInputs, &out);
  EXPECT_EQ(out, R"({"outputs":[1,1]})");
}

}  // namespace
}  // namespace inferd
