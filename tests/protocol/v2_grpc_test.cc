// Unit tests of the V2 protobuf <-> InferRequest/InferResponse conversions (protocol/v2_grpc.h).
#include "protocol/v2_grpc.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace inferd {
namespace {

using inference::InferParameter;
using inference::ModelInferRequest;
using inference::ModelInferResponse;

template <typename T>
std::string Pack(const std::vector<T>& v) {
  std::string s(v.size() * sizeof(T), '\0');
  if (!v.empty()) std::memcpy(s.data(), v.data(), s.size());
  return s;
}

template <typename T>
std::vector<T> Unpack(std::string_view b) {
  std::vector<T> v(b.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
  return v;
}

std::string PackBytes(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) AppendBytesElement(&s, e);
  return s;
}

ModelInferRequest::InferInputTensor* AddInput(ModelInferRequest* r, const std::string& name,
                                               const std::string& dtype, std::vector<int64_t> shape) {
  auto* in = r->add_inputs();
  in->set_name(name);
  in->set_datatype(dtype);
  for (int64_t d : shape) in->add_shape(d);
  return in;
}

// Decodes and expects failure with INVALID_ARGUMENT whose message contains `field`.
void ExpectInvalid(const ModelInferRequest& r, const std::string& field) {
  InferRequest out;
  Status st = DecodeModelInferRequest(r, &out);
  ASSERT_FALSE(st.ok()) << "expected an error naming " << field;
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find(field), std::string::npos) << st.message();
}

InferRequest DecodeOk(const ModelInferRequest& r) {
  InferRequest out;
  Status st = DecodeModelInferRequest(r, &out);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

// ---- typed contents -> canonical bytes ----------------------------------------------------------

TEST(V2GrpcDecode, HeaderFields) {
  ModelInferRequest r;
  r.set_model_name("iris");
  r.set_model_version("3");
  r.set_id("req-1");
  auto* in = AddInput(&r, "input-0", "FP32", {1, 2});
  in->mutable_contents()->add_fp32_contents(1.5f);
  in->mutable_contents()->add_fp32_contents(-2.0f);
  r.add_outputs()->set_name("probabilities");
  (*r.mutable_outputs(0)->mutable_parameters())["binary_data"].set_bool_param(false);
  InferRequest out = DecodeOk(r);
  EXPECT_EQ(out.model_name, "iris");
  EXPECT_EQ(out.model_version, "3");
  EXPECT_EQ(out.id, "req-1");
  ASSERT_EQ(out.inputs.size(), 1u);
  EXPECT_EQ(out.inputs[0].name(), "input-0");
  EXPECT_EQ(out.inputs[0].dtype(), DataType::kFp32);
  EXPECT_EQ(out.inputs[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(Unpack<float>(out.inputs[0].bytes()), (std::vector<float>{1.5f, -2.0f}));
  ASSERT_EQ(out.outputs.size(), 1u);
  EXPECT_EQ(out.outputs[0].name, "probabilities");
  EXPECT_FALSE(GetBoolParameter(out.outputs[0].parameters, "binary_data", true));
}

TEST(V2GrpcDecode, TypedBool) {
  ModelInferRequest r;
  auto* c = AddInput(&r, "x", "BOOL", {3})->mutable_contents();
  c->add_bool_contents(true);
  c->add_bool_contents(false);
  c->add_bool_contents(true);
  InferRequest out = DecodeOk(r);
  EXPECT_EQ(out.inputs[0].bytes(), std::string("\x01\x00\x01", 3));
}

TEST(V2GrpcDecode, TypedSmallInts) {
  ModelInferRequest r;
  auto* c8 = AddInput(&r, "a", "INT8", {3})->mutable_contents();
  for (int v : {-128, 0, 127}) c8->add_int_contents(v);
  auto* c16 = AddInput(&r, "b", "INT16", {2})->mutable_contents();
  for (int v : {-32768, 32767}) c16->add_int_contents(v);
  auto* c32 = AddInput(&r, "c", "INT32", {2})->mutable_contents();
  for (int v : {std::numeric_limits<int32_t>::min(), 7}) c32->add_int_contents(v);
  auto* u8 = AddInput(&r, "d", "UINT8", {2})->mutable_contents();
  for (unsigned v : {0u, 255u}) u8->add_uint_contents(v);
  auto* u16 = AddInput(&r, "e", "UINT16", {2})->mutable_contents();
  for (unsigned v : {1u, 65535u}) u16->add_uint_contents(v);
  auto* u32 = AddInput(&r, "f", "UINT32", {1})->mutable_contents();
  u32->add_uint_contents(4294967295u);
  InferRequest out = DecodeOk(r);
  ASSERT_EQ(out.inputs.size(), 6u);
  EXPECT_EQ(Unpack<int8_t>(out.inputs[0].bytes()), (std::vector<int8_t>{-128, 0, 127}));
  EXPECT_EQ(Unpack<int16_t>(out.inputs[1].bytes()), (std::vector<int16_t>{-32768, 32767}));
  EXPECT_EQ(Unpack<int32_t>(out.inputs[2].bytes()),
            (std::vector<int32_t>{std::numeric_limits<int32_t>::min(), 7}));
  EXPECT_EQ(Unpack<uint8_t>(out.inputs[3].bytes()), (std::vector<uint8_t>{0, 255}));
  EXPECT_EQ(Unpack<uint16_t>(out.inputs[4].bytes()), (std::vector<uint16_t>{1, 65535}));
  EXPECT_EQ(Unpack<uint32_t>(out.inputs[5].bytes()), (std::vector<uint32_t>{4294967295u}));
  for (const Tensor& t : out.inputs) EXPECT_TRUE(t.Validate(t.name()).ok());
}

TEST(V2GrpcDecode, TypedWideTypes) {
  ModelInferRequest r;
  auto* i64 = AddInput(&r, "a", "INT64", {2})->mutable_contents();
  i64->add_int64_contents(std::numeric_limits<int64_t>::min());
  i64->add_int64_contents(42);
  auto* u64 = AddInput(&r, "b", "UINT64", {1})->mutable_contents();
  u64->add_uint64_contents(std::numeric_limits<uint64_t>::max());
  auto* f32 = AddInput(&r, "c", "FP32", {2, 2})->mutable_contents();
  for (float v : {1.0f, 2.5f, -3.25f, 1e30f}) f32->add_fp32_contents(v);
  auto* f64 = AddInput(&r, "d", "FP64", {1})->mutable_contents();
  f64->add_fp64_contents(0.1);
  InferRequest out = DecodeOk(r);
  EXPECT_EQ(Unpack<int64_t>(out.inputs[0].bytes()),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), 42}));
  EXPECT_EQ(Unpack<uint64_t>(out.inputs[1].bytes()),
            (std::vector<uint64_t>{std::numeric_limits<uint64_t>::max()}));
  EXPECT_EQ(Unpack<float>(out.inputs[2].bytes()), (std::vector<float>{1.0f, 2.5f, -3.25f, 1e30f}));
  EXPECT_EQ(Unpack<double>(out.inputs[3].bytes()), (std::vector<double>{0.1}));
  // Typed contents are owned: they stay valid after the proto is gone.
  r.Clear();
  EXPECT_EQ(Unpack<float>(out.inputs[2].bytes())[1], 2.5f);
}

TEST(V2GrpcDecode, TypedBytes) {
  ModelInferRequest r;
  auto* c = AddInput(&r, "s", "BYTES", {3})->mutable_contents();
  c->add_bytes_contents("hello");
  c->add_bytes_contents("");
  c->add_bytes_contents(std::string("a\0b", 3));
  InferRequest out = DecodeOk(r);
  EXPECT_EQ(out.inputs[0].bytes(), PackBytes({"hello", "", std::string("a\0b", 3)}));
  EXPECT_TRUE(out.inputs[0].Validate("s").ok());
}

TEST(V2GrpcDecode, EmptyTensorWithoutContents) {
  ModelInferRequest r;
  AddInput(&r, "x", "FP32", {0, 4});
  AddInput(&r, "h", "FP16", {0});
  InferRequest out = DecodeOk(r);
  EXPECT_EQ(out.inputs[0].byte_size(), 0u);
  EXPECT_EQ(out.inputs[1].byte_size(), 0u);
}

// ---- raw contents -> zero-copy views ------------------------------------------------------------

TEST(V2GrpcDecode, RawEveryDatatypeIsAView) {
  struct Case {
    const char* dtype;
    size_t size;
  };
  const std::vector<Case> cases = {{"BOOL", 1},  {"UINT8", 1}, {"UINT16", 2}, {"UINT32", 4}, {"UINT64", 8},
                                   {"INT8", 1},  {"INT16", 2}, {"INT32", 4},  {"INT64", 8},  {"FP16", 2},
                                   {"FP32", 4},  {"FP64", 8},  {"BF16", 2}};
  ModelInferRequest r;
  for (size_t i = 0; i < cases.size(); ++i) {
    AddInput(&r, "in" + std::to_string(i), cases[i].dtype, {2, 3});
    std::string blob(6 * cases[i].size, '\0');
    for (size_t k = 0; k < blob.size(); ++k) blob[k] = static_cast<char>(k + i);
    r.add_raw_input_contents(blob);
  }
  InferRequest out = DecodeOk(r);
  ASSERT_EQ(out.inputs.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].dtype);
    const Tensor& t = out.inputs[i];
    EXPECT_EQ(DataTypeName(t.dtype()), cases[i].dtype);
    EXPECT_EQ(t.shape(), (Shape{2, 3}));
    EXPECT_EQ(t.bytes(), r.raw_input_contents(static_cast<int>(i)));
    EXPECT_EQ(t.raw(), r.raw_input_contents(static_cast<int>(i)).data()) << "raw contents must not be copied";
  }
}

TEST(V2GrpcDecode, RawBytes) {
  ModelInferRequest r;
  AddInput(&r, "s", "BYTES", {2});
  r.add_raw_input_contents(PackBytes({"ab", "cde"}));
  InferRequest out = DecodeOk(r);
  EXPECT_EQ(out.inputs[0].raw(), r.raw_input_contents(0).data());
  std::vector<std::string> got;
  ASSERT_TRUE(ForEachBytesElement(out.inputs[0].bytes(), [&](std::string_view e) { got.emplace_back(e); }));
  EXPECT_EQ(got, (std::vector<std::string>{"ab", "cde"}));
}

// ---- errors ----------------------------------------------------------------------------------------

TEST(V2GrpcDecodeErrors, MixedTypedAndRaw) {
  ModelInferRequest r;
  AddInput(&r, "a", "FP32", {1})->mutable_contents()->add_fp32_contents(1);
  AddInput(&r, "b", "FP32", {1});
  r.add_raw_input_contents(Pack<float>({1}));
  r.add_raw_input_contents(Pack<float>({2}));
  ExpectInvalid(r, "inputs[0].contents");
}

TEST(V2GrpcDecodeErrors, RawBlobCountMismatch) {
  ModelInferRequest r;
  AddInput(&r, "a", "FP32", {1});
  AddInput(&r, "b", "FP32", {1});
  r.add_raw_input_contents(Pack<float>({1}));
  ExpectInvalid(r, "raw_input_contents");
  ModelInferRequest r2;
  AddInput(&r2, "a", "FP32", {1});
  r2.add_raw_input_contents(Pack<float>({1}));
  r2.add_raw_input_contents(Pack<float>({2}));
  ExpectInvalid(r2, "raw_input_contents");
}

TEST(V2GrpcDecodeErrors, RawSizeMismatch) {
  ModelInferRequest r;
  AddInput(&r, "a", "FP32", {1, 4});
  r.add_raw_input_contents(Pack<float>({1, 2, 3}));
  ExpectInvalid(r, "raw_input_contents[0]");
}

TEST(V2GrpcDecodeErrors, RawBytesTruncated) {
  ModelInferRequest r;
  AddInput(&r, "a", "BYTES", {1});
  std::string blob = PackBytes({"hello"});
  blob.pop_back();
  r.add_raw_input_contents(blob);
  ExpectInvalid(r, "raw_input_contents[0]");
  ModelInferRequest r2;
  AddInput(&r2, "a", "BYTES", {2});
  r2.add_raw_input_contents(PackBytes({"one"}));
  ExpectInvalid(r2, "raw_input_contents[0]");
}

TEST(V2GrpcDecodeErrors, UnknownDatatype) {
  ModelInferRequest r;
  AddInput(&r, "a", "FLOAT32", {1})->mutable_contents()->add_fp32_contents(1);
  ExpectInvalid(r, "inputs[0].datatype");
  ModelInferRequest r2;
  AddInput(&r2, "a", "", {1});
  ExpectInvalid(r2, "inputs[0].datatype");
}

TEST(V2GrpcDecodeErrors, NegativeDim) {
  ModelInferRequest r;
  AddInput(&r, "a", "FP32", {-1, 4});
  ExpectInvalid(r, "inputs[0].shape");
}

TEST(V2GrpcDecodeErrors, HugeDims) {
  ModelInferRequest r;
  AddInput(&r, "a", "FP32", {int64_t{1} << 40, int64_t{1} << 40});
  ExpectInvalid(r, "inputs[0].shape");
  ModelInferRequest r2;
  AddInput(&r2, "a", "FP32", {std::numeric_limits<int64_t>::max(), 2});
  ExpectInvalid(r2, "inputs[0].shape");
  ModelInferRequest r3;  // huge shape with raw contents must not be trusted either
  AddInput(&r3, "a", "UINT8", {int64_t{1} << 62});
  r3.add_raw_input_contents("x");
  ExpectInvalid(r3, "inputs[0].shape");
}

TEST(V2GrpcDecodeErrors, ElementCountMismatch) {
  ModelInferRequest r;
  auto* c = AddInput(&r, "a", "FP32", {2, 4})->mutable_contents();
  for (int i = 0; i < 7; ++i) c->add_fp32_contents(1);
  ExpectInvalid(r, "inputs[0].contents.fp32_contents");
  ModelInferRequest r2;  // no contents at all for a non-empty shape
  AddInput(&r2, "a", "INT64", {3});
  ExpectInvalid(r2, "inputs[0].contents");
  ModelInferRequest r3;
  AddInput(&r3, "ok", "INT32", {1})->mutable_contents()->add_int_contents(1);
  auto* b = AddInput(&r3, "s", "BYTES", {2})->mutable_contents();
  b->add_bytes_contents("x");
  ExpectInvalid(r3, "inputs[1].contents.bytes_contents");
}

TEST(V2GrpcDecodeErrors, WrongTypedField) {
  ModelInferRequest r;
  AddInput(&r, "a", "FP32", {1})->mutable_contents()->add_fp64_contents(1.0);
  ExpectInvalid(r, "inputs[0].contents");
  ModelInferRequest r2;  // the right field plus a stray one
  auto* c = AddInput(&r2, "a", "INT64", {1})->mutable_contents();
  c->add_int64_contents(1);
  c->add_int_contents(1);
  ExpectInvalid(r2, "inputs[0].contents");
  ModelInferRequest r3;
  AddInput(&r3, "a", "UINT8", {1})->mutable_contents()->add_int_contents(1);
  ExpectInvalid(r3, "inputs[0].contents");
  ModelInferRequest r4;
  AddInput(&r4, "a", "BYTES", {1})->mutable_contents()->add_uint64_contents(1);
  ExpectInvalid(r4, "inputs[0].contents");
}

TEST(V2GrpcDecodeErrors, HalfPrecisionInTypedContents) {
  for (const char* dt : {"FP16", "BF16"}) {
    SCOPED_TRACE(dt);
    ModelInferRequest r;
    AddInput(&r, "a", dt, {1})->mutable_contents()->add_fp32_contents(1);
    ExpectInvalid(r, "inputs[0].contents");
    ModelInferRequest r2;
    AddInput(&r2, "a", dt, {2});
    ExpectInvalid(r2, "inputs[0].contents");
  }
}

TEST(V2GrpcDecodeErrors, ValueOutOfRange) {
  ModelInferRequest r;
  AddInput(&r, "a", "INT8", {2})->mutable_contents()->add_int_contents(1);
  r.mutable_inputs(0)->mutable_contents()->add_int_contents(200);
  ExpectInvalid(r, "inputs[0].contents.int_contents[1]");
  ModelInferRequest r2;
  AddInput(&r2, "a", "UINT16", {1})->mutable_contents()->add_uint_contents(70000);
  ExpectInvalid(r2, "inputs[0].contents.uint_contents[0]");
  ModelInferRequest r3;
  AddInput(&r3, "a", "INT16", {1})->mutable_contents()->add_int_contents(-40000);
  ExpectInvalid(r3, "inputs[0].contents.int_contents[0]");
}

TEST(V2GrpcDecodeErrors, ParameterWithoutValue) {
  ModelInferRequest r;
  (*r.mutable_parameters())["empty"];
  ExpectInvalid(r, "parameters['empty']");
  ModelInferRequest r2;
  (*AddInput(&r2, "a", "FP32", {0})->mutable_parameters())["p"];
  ExpectInvalid(r2, "inputs[0].parameters['p']");
  ModelInferRequest r3;
  (*r3.add_outputs()->mutable_parameters())["q"];
  ExpectInvalid(r3, "outputs[0].parameters['q']");
}

TEST(V2GrpcDecodeErrors, LaterInputNamed) {
  ModelInferRequest r;
  AddInput(&r, "a", "FP32", {1})->mutable_contents()->add_fp32_contents(1);
  AddInput(&r, "b", "FP32", {1})->mutable_contents()->add_fp32_contents(1);
  AddInput(&r, "c", "NOPE", {1});
  ExpectInvalid(r, "inputs[2].datatype");
}

// ---- parameters ------------------------------------------------------------------------------------

TEST(V2GrpcParameters, DecodeAllKinds) {
  ProtoParameters p;
  p["b"].set_bool_param(true);
  p["i"].set_int64_param(-5);
  p["s"].set_string_param("text");
  p["d"].set_double_param(0.25);
  p["u_small"].set_uint64_param(123);
  p["u_max_i64"].set_uint64_param(static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
  p["u_big"].set_uint64_param(std::numeric_limits<uint64_t>::max());
  Parameters out;
  ASSERT_TRUE(DecodeParameters(p, "parameters", &out).ok());
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(std::get<bool>(out.at("b")), true);
  EXPECT_EQ(std::get<int64_t>(out.at("i")), -5);
  EXPECT_EQ(std::get<std::string>(out.at("s")), "text");
  EXPECT_EQ(std::get<double>(out.at("d")), 0.25);
  EXPECT_EQ(std::get<int64_t>(out.at("u_small")), 123);
  EXPECT_EQ(std::get<int64_t>(out.at("u_max_i64")), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(std::get<std::string>(out.at("u_big")), "18446744073709551615");
}

TEST(V2GrpcParameters, EncodeAllKinds) {
  Parameters in{{"b", false}, {"i", int64_t{7}}, {"d", 1.5}, {"s", std::string("x")}};
  ProtoParameters p;
  EncodeParameters(in, &p);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p.at("b").parameter_choice_case(), InferParameter::kBoolParam);
  EXPECT_FALSE(p.at("b").bool_param());
  EXPECT_EQ(p.at("i").int64_param(), 7);
  EXPECT_EQ(p.at("d").double_param(), 1.5);
  EXPECT_EQ(p.at("s").string_param(), "x");
  Parameters back;
  ASSERT_TRUE(DecodeParameters(p, "parameters", &back).ok());
  EXPECT_EQ(back, in);
}

TEST(V2GrpcParameters, RequestAndInputParameters) {
  ModelInferRequest r;
  (*r.mutable_parameters())["binary_data_output"].set_bool_param(true);
  auto* in = AddInput(&r, "a", "FP32", {1});
  in->mutable_contents()->add_fp32_contents(1);
  (*in->mutable_parameters())["shm"].set_string_param("region");
  InferRequest out = DecodeOk(r);
  EXPECT_TRUE(GetBoolParameter(out.parameters, "binary_data_output", false));
  EXPECT_EQ(std::get<std::string>(out.inputs[0].parameters().at("shm")), "region");
}

// ---- encode ----------------------------------------------------------------------------------------

template <typename T>
Tensor MakeTensor(const std::string& name, DataType dt, Shape shape, const std::vector<T>& v) {
  Tensor t(name, dt, std::move(shape));
  t.SetOwned(Pack(v));
  return t;
}

TEST(V2GrpcEncode, TypedEveryDatatype) {
  InferResponse resp;
  resp.model_name = "m";
  resp.model_version = "1";
  resp.id = "abc";
  resp.outputs.push_back(MakeTensor<uint8_t>("bool", DataType::kBool, {3}, {1, 0, 2}));
  resp.outputs.push_back(MakeTensor<int8_t>("i8", DataType::kInt8, {2}, {-1, 5}));
  resp.outputs.push_back(MakeTensor<int16_t>("i16", DataType::kInt16, {2}, {-300, 300}));
  resp.outputs.push_back(MakeTensor<int32_t>("i32", DataType::kInt32, {1}, {-70000}));
  resp.outputs.push_back(MakeTensor<int64_t>("i64", DataType::kInt64, {2}, {1, -(int64_t{1} << 40)}));
  resp.outputs.push_back(MakeTensor<uint8_t>("u8", DataType::kUint8, {1}, {250}));
  resp.outputs.push_back(MakeTensor<uint16_t>("u16", DataType::kUint16, {1}, {65000}));
  resp.outputs.push_back(MakeTensor<uint32_t>("u32", DataType::kUint32, {1}, {4000000000u}));
  resp.outputs.push_back(MakeTensor<uint64_t>("u64", DataType::kUint64, {1}, {~uint64_t{0}}));
  resp.outputs.push_back(MakeTensor<float>("f32", DataType::kFp32, {1, 2}, {0.5f, -1.0f}));
  resp.outputs.push_back(MakeTensor<double>("f64", DataType::kFp64, {1}, {3.75}));
  Tensor s("str", DataType::kBytes, {2});
  s.SetOwned(PackBytes({"x", "yz"}));
  resp.outputs.push_back(std::move(s));

  ModelInferResponse out;
  ASSERT_TRUE(EncodeModelInferResponse(resp, false, &out).ok());
  EXPECT_EQ(out.model_name(), "m");
  EXPECT_EQ(out.model_version(), "1");
  EXPECT_EQ(out.id(), "abc");
  EXPECT_EQ(out.raw_output_contents_size(), 0);
  ASSERT_EQ(out.outputs_size(), 12);
  auto c = [&](int i) -> const inference::InferTensorContents& { return out.outputs(i).contents(); };
  EXPECT_EQ(out.outputs(0).datatype(), "BOOL");
  EXPECT_EQ(std::vector<bool>(c(0).bool_contents().begin(), c(0).bool_contents().end()),
            (std::vector<bool>{true, false, true}));
  EXPECT_EQ(std::vector<int32_t>(c(1).int_contents().begin(), c(1).int_contents().end()),
            (std::vector<int32_t>{-1, 5}));
  EXPECT_EQ(std::vector<int32_t>(c(2).int_contents().begin(), c(2).int_contents().end()),
            (std::vector<int32_t>{-300, 300}));
  EXPECT_EQ(c(3).int_contents(0), -70000);
  EXPECT_EQ(c(4).int64_contents(1), -(int64_t{1} << 40));
  EXPECT_EQ(c(5).uint_contents(0), 250u);
  EXPECT_EQ(c(6).uint_contents(0), 65000u);
  EXPECT_EQ(c(7).uint_contents(0), 4000000000u);
  EXPECT_EQ(c(8).uint64_contents(0), ~uint64_t{0});
  EXPECT_EQ(out.outputs(9).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(out.outputs(9).shape().begin(), out.outputs(9).shape().end()),
            (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(c(9).fp32_contents(0), 0.5f);
  EXPECT_EQ(c(9).fp32_contents(1), -1.0f);
  EXPECT_EQ(c(10).fp64_contents(0), 3.75);
  EXPECT_EQ(out.outputs(11).datatype(), "BYTES");
  ASSERT_EQ(c(11).bytes_contents_size(), 2);
  EXPECT_EQ(c(11).bytes_contents(1), "yz");
  for (int i = 0; i < out.outputs_size(); ++i) EXPECT_EQ(out.outputs(i).name(), resp.outputs[i].name());
}

TEST(V2GrpcEncode, RawOutputs) {
  InferResponse resp;
  resp.outputs.push_back(MakeTensor<int64_t>("output-0", DataType::kInt64, {2}, {1, 2}));
  resp.outputs.push_back(MakeTensor<float>("probabilities", DataType::kFp32, {2, 3}, {.1f, .2f, .7f, 0, 1, 0}));
  Tensor s("s", DataType::kBytes, {1});
  s.SetOwned(PackBytes({"abc"}));
  resp.outputs.push_back(std::move(s));
  ModelInferResponse out;
  ASSERT_TRUE(EncodeModelInferResponse(resp, true, &out).ok());
  ASSERT_EQ(out.outputs_size(), 3);
  ASSERT_EQ(out.raw_output_contents_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out.raw_output_contents(i), resp.outputs[i].bytes());
    EXPECT_FALSE(out.outputs(i).has_contents());
  }
  EXPECT_EQ(out.outputs(1).datatype(), "FP32");
  EXPECT_EQ(out.outputs(1).shape_size(), 2);
}

TEST(V2GrpcEncode, HalfPrecisionMakesTheWholeResponseRaw) {
  InferResponse resp;
  resp.outputs.push_back(MakeTensor<float>("a", DataType::kFp32, {1}, {1.0f}));
  resp.outputs.push_back(MakeTensor<uint16_t>("h", DataType::kFp16, {2}, {FloatToHalf(1.0f), FloatToHalf(-2.0f)}));
  resp.outputs.push_back(MakeTensor<uint16_t>("b", DataType::kBf16, {1}, {FloatToBf16(3.0f)}));
  ModelInferResponse out;
  ASSERT_TRUE(EncodeModelInferResponse(resp, false, &out).ok());
  ASSERT_EQ(out.raw_output_contents_size(), 3);
  EXPECT_EQ(Unpack<float>(out.raw_output_contents(0)), (std::vector<float>{1.0f}));
  EXPECT_EQ(HalfToFloat(Unpack<uint16_t>(out.raw_output_contents(1))[1]), -2.0f);
  EXPECT_EQ(Bf16ToFloat(Unpack<uint16_t>(out.raw_output_contents(2))[0]), 3.0f);
  EXPECT_EQ(out.outputs(1).datatype(), "FP16");
  EXPECT_EQ(out.outputs(2).datatype(), "BF16");
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(out.outputs(i).has_contents());
}

TEST(V2GrpcEncode, ParametersAndEmptyOutput) {
  InferResponse resp;
  resp.parameters["sequence_id"] = int64_t{9};
  Tensor t = MakeTensor<float>("empty", DataType::kFp32, {0, 3}, {});
  t.parameters()["binary_data"] = false;
  resp.outputs.push_back(std::move(t));
  ModelInferResponse out;
  ASSERT_TRUE(EncodeModelInferResponse(resp, false, &out).ok());
  EXPECT_EQ(out.parameters().at("sequence_id").int64_param(), 9);
  EXPECT_FALSE(out.outputs(0).parameters().at("binary_data").bool_param());
  EXPECT_EQ(out.outputs(0).contents().fp32_contents_size(), 0);
}

TEST(V2GrpcEncode, InconsistentOutputIsInternal) {
  InferResponse resp;
  resp.outputs.push_back(MakeTensor<float>("bad", DataType::kFp32, {3}, {1.0f}));
  ModelInferResponse out;
  Status st = EncodeModelInferResponse(resp, false, &out);
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_NE(st.message().find("outputs[0]"), std::string::npos) << st.message();
  InferResponse resp2;
  Tensor s("s", DataType::kBytes, {1});
  s.SetOwned("\x05\x00\x00\x00x");  // claims 5 bytes, has 1
  resp2.outputs.push_back(std::move(s));
  ModelInferResponse out2;
  EXPECT_EQ(EncodeModelInferResponse(resp2, true, &out2).code(), StatusCode::kInternal);
}

TEST(V2GrpcEncode, UnalignedViewsEncode) {
  std::string storage(1 + 2 * sizeof(double), '\0');
  double v[2] = {1.25, -8.5};
  std::memcpy(storage.data() + 1, v, sizeof(v));
  Tensor t("x", DataType::kFp64, {2});
  t.SetView(std::string_view(storage).substr(1));
  InferResponse resp;
  resp.outputs.push_back(std::move(t));
  ModelInferResponse out;
  ASSERT_TRUE(EncodeModelInferResponse(resp, false, &out).ok());
  EXPECT_EQ(out.outputs(0).contents().fp64_contents(1), -8.5);
}

// A raw response is a valid raw request: the layouts are the same.
TEST(V2GrpcRoundTrip, RawResponseDecodesAsRequest) {
  InferResponse resp;
  resp.outputs.push_back(MakeTensor<float>("f", DataType::kFp32, {2, 2}, {1, 2, 3, 4}));
  Tensor s("s", DataType::kBytes, {2});
  s.SetOwned(PackBytes({"a", "bb"}));
  resp.outputs.push_back(std::move(s));
  ModelInferResponse out;
  ASSERT_TRUE(EncodeModelInferResponse(resp, true, &out).ok());
  ModelInferRequest req;
  for (int i = 0; i < out.outputs_size(); ++i) {
    auto* in = req.add_inputs();
    in->set_name(out.outputs(i).name());
    in->set_datatype(out.outputs(i).datatype());
    *in->mutable_shape() = out.outputs(i).shape();
    req.add_raw_input_contents(out.raw_output_contents(i));
  }
  InferRequest back = DecodeOk(req);
  ASSERT_EQ(back.inputs.size(), 2u);
  EXPECT_EQ(back.inputs[0].bytes(), resp.outputs[0].bytes());
  EXPECT_EQ(back.inputs[1].bytes(), resp.outputs[1].bytes());
}

TEST(V2GrpcRoundTrip, TypedResponseDecodesAsRequest) {
  InferResponse resp;
  resp.outputs.push_back(MakeTensor<int16_t>("i", DataType::kInt16, {3}, {-2, 0, 2}));
  resp.outputs.push_back(MakeTensor<uint8_t>("b", DataType::kBool, {2}, {0, 1}));
  ModelInferResponse out;
  ASSERT_TRUE(EncodeModelInferResponse(resp, false, &out).ok());
  ModelInferRequest req;
  for (int i = 0; i < out.outputs_size(); ++i) {
    auto* in = req.add_inputs();
    in->set_name(out.outputs(i).name());
    in->set_datatype(out.outputs(i).datatype());
    *in->mutable_shape() = out.outputs(i).shape();
    *in->mutable_contents() = out.outputs(i).contents();
  }
  InferRequest back = DecodeOk(req);
  EXPECT_EQ(back.inputs[0].bytes(), resp.outputs[0].bytes());
  EXPECT_EQ(back.inputs[1].bytes(), resp.outputs[1].bytes());
}

// Mutated wire bytes never crash the decoder, and whatever it accepts is self-consistent.
TEST(V2GrpcRobustness, MutatedRequests) {
  ModelInferRequest base;
  base.set_model_name("iris");
  auto* a = AddInput(&base, "a", "FP32", {2, 2});
  for (float v : {1.0f, 2.0f, 3.0f, 4.0f}) a->mutable_contents()->add_fp32_contents(v);
  auto* b = AddInput(&base, "b", "BYTES", {2});
  b->mutable_contents()->add_bytes_contents("xy");
  b->mutable_contents()->add_bytes_contents("z");
  (*base.mutable_parameters())["p"].set_int64_param(3);
  ModelInferRequest raw_base;
  raw_base.set_model_name("iris");
  AddInput(&raw_base, "a", "INT16", {3});
  raw_base.add_raw_input_contents(Pack<int16_t>({1, 2, 3}));
  AddInput(&raw_base, "s", "BYTES", {1});
  raw_base.add_raw_input_contents(PackBytes({"abc"}));

  // Mutations make invalid UTF-8 in string fields, which protobuf logs on every parse: keep it quiet.
  google::protobuf::LogHandler* previous = google::protobuf::SetLogHandler(nullptr);
  std::mt19937 rng(1234);
  int accepted = 0;
  for (const ModelInferRequest* src : {&base, &raw_base}) {
    const std::string wire = src->SerializeAsString();
    for (int iter = 0; iter < 3000; ++iter) {
      std::string m = wire;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits; ++e) m[rng() % m.size()] = static_cast<char>(rng() & 0xff);
      ModelInferRequest req;
      if (!req.ParseFromString(m)) continue;
      InferRequest out;
      Status st = DecodeModelInferRequest(req, &out);
      if (!st.ok()) {
        EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
        continue;
      }
      ++accepted;
      for (size_t i = 0; i < out.inputs.size(); ++i) {
        EXPECT_TRUE(out.inputs[i].Validate("inputs[" + std::to_string(i) + "]").ok());
      }
    }
  }
  google::protobuf::SetLogHandler(previous);
  EXPECT_GT(accepted, 0);
}

// ---- metadata --------------------------------------------------------------------------------------

TEST(V2GrpcMetadata, Fill) {
  ModelMetadata md;
  md.name = "iris";
  md.versions = {"1"};
  md.platform = "xgboost";
  md.inputs.push_back({"input-0", DataType::kFp32, {-1, 4}});
  md.outputs.push_back({"output-0", DataType::kInt64, {-1}});
  md.outputs.push_back({"probabilities", DataType::kFp32, {-1, 3}});
  inference::ModelMetadataResponse out;
  FillModelMetadataResponse(md, &out);
  EXPECT_EQ(out.name(), "iris");
  ASSERT_EQ(out.versions_size(), 1);
  EXPECT_EQ(out.versions(0), "1");
  EXPECT_EQ(out.platform(), "xgboost");
  ASSERT_EQ(out.inputs_size(), 1);
  EXPECT_EQ(out.inputs(0).name(), "input-0");
  EXPECT_EQ(out.inputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(out.inputs(0).shape().begin(), out.inputs(0).shape().end()),
            (std::vector<int64_t>{-1, 4}));
  ASSERT_EQ(out.outputs_size(), 2);
  EXPECT_EQ(out.outputs(0).datatype(), "INT64");
  EXPECT_EQ(out.outputs(1).shape(1), 3);
}

}  // namespace
}  // namespace inferd
