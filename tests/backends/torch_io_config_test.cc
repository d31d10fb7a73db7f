// Tests of the TorchScript model's input/output declaration readers (backends/torch/io_config.h):
// Triton's config.pbtxt (protobuf text format) and MLServer's model-settings.json.
#include <gtest/gtest.h>

#ifndef INFERD_HAVE_TORCH
TEST(torch_io_config, NotBuilt) { GTEST_SKIP() << "inferd was built without libtorch"; }
#else

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "backends/torch/io_config.h"

namespace inferd {
namespace {

namespace fs = std::filesystem;

TEST(torch_io_config, TritonConfigWithCommentsListsAndNesting) {
  auto c = ParseTritonConfig(R"(
# a Triton model configuration
name: "mlp"
platform: "pytorch_libtorch"
max_batch_size: 8   # a batch dimension is prepended
input [
  {
    name: "INPUT__0"
    data_type: TYPE_FP32
    dims: [ 4 ]
  },
  { name: 'INPUT__1', data_type: TYPE_INT64, dims: [ -1, 2 ] ; }
]
output { name: "OUTPUT__0" data_type: TYPE_FP16 dims: 2 dims: 3 }
output < name: "label" data_type: TYPE_STRING dims: [ 1 ] >
instance_group [ { count: 2 kind: KIND_CPU } ]
parameters: { key: "INFERENCE_MODE" value: { string_value: "true" } }
dynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100 }
)",
                             "config.pbtxt");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->inputs.size(), 2u);
  EXPECT_EQ(c->inputs[0].name, "INPUT__0");
  EXPECT_EQ(c->inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(c->inputs[0].shape, (Shape{-1, 4}));
  EXPECT_EQ(c->inputs[1].name, "INPUT__1");
  EXPECT_EQ(c->inputs[1].dtype, DataType::kInt64);
  EXPECT_EQ(c->inputs[1].shape, (Shape{-1, -1, 2}));
  ASSERT_EQ(c->outputs.size(), 2u);
  EXPECT_EQ(c->outputs[0].dtype, DataType::kFp16);
  EXPECT_EQ(c->outputs[0].shape, (Shape{-1, 2, 3}));
  EXPECT_EQ(c->outputs[1].name, "label");
  EXPECT_EQ(c->outputs[1].dtype, DataType::kBytes);
}

TEST(torch_io_config, TritonConfigWithoutBatching) {
  auto c = ParseTritonConfig(R"(input [ { name: "x" data_type: TYPE_BF16 dims: [ 3, 4 ] } ])", "f");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->inputs.size(), 1u);
  EXPECT_EQ(c->inputs[0].dtype, DataType::kBf16);
  EXPECT_EQ(c->inputs[0].shape, (Shape{3, 4}));
  EXPECT_TRUE(c->outputs.empty());
}

TEST(torch_io_config, TritonConfigErrorsNameFileAndLine) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"input [ { name: \"x\" data_type: TYPE_FP32 dims: [ 4 }", "f:1: expected ',' or ']'"},
      {"\n\ninput [ { name: \"x\" data_type: TYPE_NOPE dims: [ 4 ] } ]", "f:3: input: unknown data_type 'TYPE_NOPE'"},
      {"input [ { data_type: TYPE_FP32 dims: [ 4 ] } ]", "no name"},
      {"input [ { name: \"x\" dims: [ 4 ] } ]", "'x' has no data_type"},
      {"input [ { name: \"x\" data_type: TYPE_FP32 } ]", "'x' has no dims"},
      {"input [ { name: \"x\" data_type: TYPE_FP32 dims: [ four ] } ]", "not an integer"},
      {"input [ { name: \"x\" data_type: TYPE_FP32 dims: [ -2 ] } ]", "negative dimension"},
      {"input { name: \"x\" data_type: TYPE_FP32 dims: 1 } output { name: \"x\" data_type: TYPE_FP32 dims: 1 }",
       "declared twice"},
      {"name: \"unterminated", "unterminated string"},
      {"input { name: \"x\"", "missing '}'"},
      {"max_batch_size: lots", "max_batch_size is not an integer"},
      {"input: 3 $", "unexpected character '$'"},
  };
  for (const Case& c : cases) {
    auto r = ParseTritonConfig(c.text, "f");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << c.text << " -> " << r.status().message();
  }
}

TEST(torch_io_config, ModelSettings) {
  auto c = ParseModelSettings(R"({
    "name": "m", "implementation": "x", "max_batch_size": 4,
    "inputs": [{"name": "a", "datatype": "INT32", "shape": [-1, 3]}],
    "outputs": [{"name": "b", "datatype": "BOOL", "shape": [-1]}],
    "parameters": {"version": "1"}})",
                              "ms.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->inputs.size(), 1u);
  EXPECT_EQ(c->inputs[0].name, "a");
  EXPECT_EQ(c->inputs[0].dtype, DataType::kInt32);
  EXPECT_EQ(c->inputs[0].shape, (Shape{-1, 3}));
  ASSERT_EQ(c->outputs.size(), 1u);
  EXPECT_EQ(c->outputs[0].dtype, DataType::kBool);

  auto none = ParseModelSettings(R"({"max_batch_size": 4})", "ms.json");  // batching settings only
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->inputs.empty());
  EXPECT_TRUE(none->outputs.empty());

  for (const char* bad : {"[", "[]", R"({"inputs": 3})", R"({"inputs": [{"datatype": "FP32", "shape": [1]}]})",
                          R"({"inputs": [{"name": "a", "datatype": "FLOAT", "shape": [1]}]})",
                          R"({"outputs": [{"name": "a", "datatype": "FP32", "shape": [1.5]}]})"}) {
    auto r = ParseModelSettings(bad, "ms.json");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("ms.json"), std::string::npos) << r.status().message();
  }
}

TEST(torch_io_config, DeepNestingIsAnErrorNamingTheFile) {
  const int d = 100000;
  std::string pb;
  for (int i = 0; i < d; ++i) pb += "input { ";
  auto t = ParseTritonConfig(pb, "m/config.pbtxt");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "m/config.pbtxt:1: nested deeper than 64 levels");
  std::string list;
  for (int i = 0; i < d; ++i) list += "input: [ { ";
  EXPECT_FALSE(ParseTritonConfig(list, "m/config.pbtxt").ok());

  auto j = ParseModelSettings("{\"inputs\": " + std::string(d, '[') + std::string(d, ']') + "}", "m/model-settings.json");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().message(), "m/model-settings.json: nested deeper than 64 levels");
}

TEST(torch_io_config, ReadIoConfigPrefersConfigPbtxt) {
  fs::path dir = fs::temp_directory_path() / ("inferd-io-config-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto none = ReadIoConfig(dir.string());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  std::ofstream(dir / "model-settings.json") << R"({"max_batch_size": 8})";  // batching only: skipped
  none = ReadIoConfig(dir.string());
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());

  std::ofstream(dir / "model-settings.json") << R"({"inputs": [{"name": "from_json", "datatype": "FP32", "shape": [1]}]})";
  auto json = ReadIoConfig(dir.string());
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  ASSERT_TRUE(json->has_value());
  EXPECT_EQ((*json)->inputs[0].name, "from_json");
  EXPECT_EQ((*json)->file, (dir / "model-settings.json").string());

  std::ofstream(dir / "config.pbtxt") << R"(input [ { name: "from_pbtxt" data_type: TYPE_FP32 dims: [ 1 ] } ])";
  auto pb = ReadIoConfig(dir.string());
  ASSERT_TRUE(pb.ok()) << pb.status().ToString();
  EXPECT_EQ((*pb)->inputs[0].name, "from_pbtxt");

  // Triton's layout: <model>/config.pbtxt, <model>/3/model.pt; a file in the version directory wins.
  fs::create_directories(dir / "3");
  auto parent = ReadIoConfig((dir / "3").string());
  ASSERT_TRUE(parent.ok()) << parent.status().ToString();
  ASSERT_TRUE(parent->has_value());
  EXPECT_EQ((*parent)->inputs[0].name, "from_pbtxt");
  std::ofstream(dir / "3" / "model-settings.json") << R"({"inputs": [{"name": "v3", "datatype": "FP32", "shape": [1]}]})";
  auto own = ReadIoConfig((dir / "3").string());
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ((*own)->inputs[0].name, "v3");
  // A non-numeric directory does not look at its parent.
  fs::create_directories(dir / "sub");
  auto sub = ReadIoConfig((dir / "sub").string());
  ASSERT_TRUE(sub.ok());
  EXPECT_FALSE(sub->has_value());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace inferd

#endif  // INFERD_HAVE_TORCH
