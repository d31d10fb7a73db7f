#include "protocol/v2_json.h"

#include <gtest/gtest.h>

#include <cstring>

namespace inferd {
namespace {

template <typename T>
std::vector<T> Values(const Tensor& t) {
  std::vector<T> v(static_cast<size_t>(t.element_count()));
  std::memcpy(v.data(), t.raw(), v.size() * sizeof(T));
  return v;
}

TEST(V2Json, ParsesEveryFixedSizeDatatype) {
  struct Case { const char* dt; const char* data; size_t size; };
  for (auto c : std::vector<Case>{{"BOOL", "[true,false]", 1}, {"UINT8", "[0,255]", 1}, {"UINT16", "[0,65535]", 2},
                                  {"UINT32", "[0,4294967295]", 4}, {"UINT64", "[0,18446744073709551615]", 8},
                                  {"INT8", "[-128,127]", 1}, {"INT16", "[-32768,32767]", 2},
                                  {"INT32", "[-2147483648,2147483647]", 4},
                                  {"INT64", "[-9223372036854775808,9223372036854775807]", 8},
                                  {"FP32", "[1.5,-2]", 4}, {"FP64", "[1e300,-2.25]", 8}}) {
    std::string body = std::string(R"({"inputs":[{"name":"x","shape":[2],"datatype":")") + c.dt +
                       R"(","data":)" + c.data + "}]}";
    InferRequest req;
    Status st = ParseV2InferRequest(body, std::nullopt, &req);
    ASSERT_TRUE(st.ok()) << c.dt << ": " << st.ToString();
    ASSERT_EQ(req.inputs.size(), 1u);
    EXPECT_EQ(req.inputs[0].byte_size(), 2 * c.size) << c.dt;
    EXPECT_EQ(DataTypeName(req.inputs[0].dtype()), c.dt);
  }
  InferRequest req;
  ASSERT_TRUE(ParseV2InferRequest(R"({"inputs":[{"name":"x","shape":[2],"datatype":"UINT64","data":[0,18446744073709551615]}]})",
                                  std::nullopt, &req).ok());
  EXPECT_EQ(Values<uint64_t>(req.inputs[0])[1], 18446744073709551615ull);
  req = {};
  ASSERT_TRUE(ParseV2InferRequest(R"({"inputs":[{"name":"x","shape":[2],"datatype":"INT64","data":[-9223372036854775808,5]}]})",
                                  std::nullopt, &req).ok());
  EXPECT_EQ(Values<int64_t>(req.inputs[0])[0], INT64_MIN);
}

TEST(V2Json, OutOfRangeIntegersAreRejected) {
  InferRequest req;
  Status st = ParseV2InferRequest(R"({"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","data":[256]}]})",
                                  std::nullopt, &req);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("inputs[0] ('x').data"), std::string::npos) << st.message();
  req = {};
  st = ParseV2InferRequest(R"({"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[-1.5e10]}]})", std::nullopt, &req);
  EXPECT_FALSE(st.ok());
}

TEST(V2Json, NestedAndFlatDataAgree) {
  InferRequest a, b;
  ASSERT_TRUE(ParseV2InferRequest(R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}]})", std::nullopt, &a).ok());
  ASSERT_TRUE(ParseV2InferRequest(R"({"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4]}]})", std::nullopt, &b).ok());
  EXPECT_EQ(a.inputs[0].bytes(), b.inputs[0].bytes());
  EXPECT_EQ(Values<float>(a.inputs[0]), (std::vector<float>{1, 2, 3, 4}));
}

TEST(V2Json, BytesInJsonBecomeLengthPrefixed) {
  InferRequest req;
  ASSERT_TRUE(ParseV2InferRequest(R"({"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","data":["ab",""]}]})", std::nullopt, &req).ok());
  std::string want("\x02\x00\x00\x00" "ab" "\x00\x00\x00\x00", 10);
  EXPECT_EQ(req.inputs[0].bytes(), want);
}

TEST(V2Json, IdParametersAndOutputs) {
  InferRequest req;
  ASSERT_TRUE(ParseV2InferRequest(
      R"({"id":"r1","parameters":{"a":true,"b":2,"c":"s","d":1.5},"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":"y","parameters":{"binary_data":true}}]})",
      std::nullopt, &req).ok());
  EXPECT_EQ(req.id, "r1");
  EXPECT_EQ(std::get<bool>(req.parameters["a"]), true);
  EXPECT_EQ(std::get<int64_t>(req.parameters["b"]), 2);
  EXPECT_EQ(std::get<std::string>(req.parameters["c"]), "s");
  EXPECT_EQ(std::get<double>(req.parameters["d"]), 1.5);
  ASSERT_EQ(req.outputs.size(), 1u);
  EXPECT_TRUE(GetBoolParameter(req.outputs[0].parameters, "binary_data", false));
}

TEST(V2Json, BinaryInputsAreViewsIntoTheBody) {
  std::string header = R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}},{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":7}},{"name":"h","shape":[1],"datatype":"FP16","parameters":{"binary_data_size":2}}]})";
  float f[2] = {1.5f, -3.0f};
  std::string body = header + std::string(reinterpret_cast<char*>(f), 8) + std::string("\x03\x00\x00\x00" "abc", 7) +
                     std::string("\x00\x3c", 2);
  InferRequest req;
  Status st = ParseV2InferRequest(body, header.size(), &req);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(req.inputs.size(), 3u);
  EXPECT_EQ(req.inputs[0].raw(), body.data() + header.size());  // zero copy
  EXPECT_EQ(Values<float>(req.inputs[0]), (std::vector<float>{1.5f, -3.0f}));
  EXPECT_EQ(req.inputs[1].bytes().substr(4), "abc");
  uint16_t h;
  std::memcpy(&h, req.inputs[2].raw(), 2);
  EXPECT_EQ(HalfToFloat(h), 1.0f);
  EXPECT_EQ(req.inputs[0].parameters().count("binary_data_size"), 0u);
}

TEST(V2Json, ErrorsNameTheField) {
  struct Case { std::string body; std::optional<size_t> hl; std::string needle; };
  std::string bin = R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  std::string bytes_hdr = R"({"inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":9}}]})";
  std::vector<Case> cases = {
      {"", std::nullopt, "malformed JSON"},
      {"{", std::nullopt, "malformed JSON"},
      {"3", std::nullopt, "JSON object"},
      {R"({})", std::nullopt, "inputs: missing"},
      {R"({"inputs":{}})", std::nullopt, "inputs: must be an array"},
      {R"({"inputs":[1]})", std::nullopt, "inputs[0]: must be an object"},
      {R"({"inputs":[{"shape":[1],"datatype":"FP32","data":[1]}]})", std::nullopt, "inputs[0].name"},
      {R"({"inputs":[{"name":"x","shape":[1],"data":[1]}]})", std::nullopt, "inputs[0].datatype"},
      {R"({"inputs":[{"name":"x","datatype":"FP32","data":[1]}]})", std::nullopt, "inputs[0] ('x').shape: missing"},
      {R"({"inputs":[{"name":"x","shape":[1.5],"datatype":"FP32","data":[1]}]})", std::nullopt, "not an integer"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]})", std::nullopt, "inputs[0] ('x').data: missing"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"BF16","data":[1]}]})", std::nullopt, "binary form"},
      {R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,2,3]}]})", std::nullopt, "more elements than its shape"},
      {R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1,null]}]})", std::nullopt, "null is not a valid FP32"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"BOOL","data":["t"]}]})", std::nullopt, "string is not a valid BOOL"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{}]})", std::nullopt, "outputs[0].name"},
      {R"({"parameters":[],"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})", std::nullopt, "parameters: must be an object"},
      {bin + std::string(4, 'x'), bin.size(), "exceeds the binary data left"},
      {bin + std::string(8, 'x'), std::nullopt, "needs the Inference-Header-Content-Length header"},
      {bin + std::string(12, 'x'), bin.size(), "4 bytes after the header"},
      {bytes_hdr + std::string("\x05\x00\x00\x00" "abcde", 9), bytes_hdr.size(), "needs 2 BYTES elements but 1"},
      {bytes_hdr + std::string("\x09\x00\x00\x00" "abcde", 9), bytes_hdr.size(), "truncated"},
      {R"({"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":-8}}]})", size_t{10000}, "larger than the body"},
  };
  for (const auto& c : cases) {
    InferRequest req;
    Status st = ParseV2InferRequest(c.body, c.hl, &req);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.body;
    EXPECT_NE(st.message().find(c.needle), std::string::npos) << c.body << " -> " << st.message();
  }
}

// The whole document may nest kMaxJsonDepth (64) levels (docs/configuration.md), tensor data 32 (its rank),
// parameters none; deeper is a 400 naming where, in the JSON body and in the binary extension's header alike.
TEST(V2Json, NestingLimits) {
  auto nested = [](int d) { return std::string(d, '[') + "1" + std::string(d, ']'); };
  auto deep_object = [](int d) {
    std::string s;
    for (int i = 0; i < d; ++i) s += "{\"a\":";
    return s + "1" + std::string(d, '}');
  };
  auto with_data = [](const std::string& data) {
    return R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":)" + data + "}]}";
  };
  struct Case { std::string body; std::optional<size_t> hl; std::string needle; };
  const std::string bin_tail = R"(,"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]})";
  const std::string deep_header = R"({"parameters":{"p":)" + deep_object(100000) + "}" + bin_tail;
  std::vector<Case> cases = {
      {with_data(nested(100000)), std::nullopt, "request body: nested deeper than 64 levels"},
      {with_data(nested(62)), std::nullopt, "request body: nested deeper than 64 levels"},  // 3 + 62 = 65
      {with_data(nested(33)), std::nullopt, "nested deeper than 32"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{"p":)" + deep_object(100000) + "}}]}",
       std::nullopt, "request body: nested deeper than 64 levels"},
      {R"({"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"parameters":{"p":)" + deep_object(3) + "}}]}",
       std::nullopt, "parameter values must be bool, number or string"},
      {R"({"parameters":{"p":)" + nested(100000) + R"(},"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]})",
       std::nullopt, "request body: nested deeper than 64 levels"},
      {R"({"id":"a","outputs":[{"name":"y","parameters":)" + deep_object(100000) + R"(}],"inputs":[]})", std::nullopt,
       "request body: nested deeper than 64 levels"},
      {deep_header + std::string(8, 'x'), deep_header.size(), "request header: nested deeper than 64 levels"},
  };
  for (const auto& c : cases) {
    InferRequest req;
    Status st = ParseV2InferRequest(c.body, c.hl, &req);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.body.substr(0, 120);
    EXPECT_NE(st.message().find(c.needle), std::string::npos) << c.body.substr(0, 120) << " -> " << st.message();
  }
  // At the limits it parses: data nested 32 deep inside a 35-level document.
  InferRequest ok;
  std::string shape = "[";
  for (int i = 0; i < 32; ++i) shape += std::string(i ? "," : "") + "1";
  shape += "]";
  Status st = ParseV2InferRequest(R"({"inputs":[{"name":"x","shape":)" + shape + R"(,"datatype":"FP32","data":)" +
                                      nested(32) + "}]}",
                                  std::nullopt, &ok);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST(V2Json, WritesResponsesJsonAndBinary) {
  InferResponse r;
  r.model_name = "m";
  r.model_version = "1";
  r.id = "i";
  r.parameters["p"] = int64_t{1};
  Tensor a("a", DataType::kFp32, {2});
  float* fa = reinterpret_cast<float*>(a.Allocate(8));
  fa[0] = 0.5f;
  fa[1] = 2.0f;
  Tensor b("b", DataType::kBytes, {1});
  std::string sb;
  AppendBytesElement(&sb, "q\"");
  b.SetOwned(sb);
  r.outputs = {a, b};
  std::string out;
  EXPECT_FALSE(WriteV2InferResponse(r, false, &out).has_value());
  EXPECT_EQ(out, R"({"model_name":"m","model_version":"1","id":"i","parameters":{"p":1},"outputs":[{"name":"a","datatype":"FP32","shape":[2],"data":[0.5,2.0]},{"name":"b","datatype":"BYTES","shape":[1],"data":["q\""]}]})");
  out.clear();
  auto hl = WriteV2InferResponse(r, true, &out);
  ASSERT_TRUE(hl.has_value());
  EXPECT_EQ(out.substr(*hl), std::string(a.bytes()) + sb);
  EXPECT_NE(out.substr(0, *hl).find(R"("name":"b","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":6})"), std::string::npos);
  // FP16 always goes binary.
  Tensor h("h", DataType::kFp16, {1});
  h.Allocate(2);
  r.outputs = {h};
  out.clear();
  EXPECT_TRUE(WriteV2InferResponse(r, false, &out).has_value());
}

TEST(V2Json, ModelMetadata) {
  ModelMetadata md{"m", {"1"}, "xgboost", {{"input-0", DataType::kFp32, {-1, 4}}}, {{"output-0", DataType::kInt64, {-1}}}};
  std::string out;
  WriteV2ModelMetadata(md, &out);
  EXPECT_EQ(out, R"({"name":"m","versions":["1"],"platform":"xgboost","inputs":[{"name":"input-0","datatype":"FP32","shape":[-1,4]}],"outputs":[{"name":"output-0","datatype":"INT64","shape":[-1]}]})");
}

}  // namespace
}  // namespace inferd
