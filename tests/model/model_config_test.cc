// model-settings.json parsing (model/model_config.h) and its place among the model files.
#include "model/model_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "model/format.h"

namespace inferd {
namespace {

namespace fs = std::filesystem;

ModelConfig Defaults() {
  ModelConfig d;
  d.batching.max_batch_size = 4;
  d.batching.max_latency_us = 100;
  d.batching.max_queue_size = 10;
  d.batching.instances = 2;
  return d;
}

TEST(ModelConfig, KeysOverrideDefaultsAndUnknownKeysAreIgnored) {
  auto c = ParseModelConfig(R"({"max_batch_size":16,"instances":3,"name":"iris","parameters":{"x":1}})", Defaults(),
                            "f.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->batching.max_batch_size, 16);
  EXPECT_EQ(c->batching.instances, 3);
  EXPECT_EQ(c->batching.max_latency_us, 100);  // absent: the default
  EXPECT_EQ(c->batching.max_queue_size, 10);
  EXPECT_TRUE(c->batching.enabled());
  auto empty = ParseModelConfig("{}", Defaults(), "f.json");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->batching.max_batch_size, 4);
  EXPECT_FALSE(ModelConfig{}.batching.enabled());
}

TEST(ModelConfig, WrongTypesAndRangesNameTheKey) {
  struct Case {
    const char* json;
    const char* needle;
  };
  for (const Case& c : {
           Case{R"({"max_batch_size":"8"})", "f.json: key 'max_batch_size' must be an integer, got a string"},
           Case{R"({"max_latency_us":1.5})", "key 'max_latency_us' must be an integer, got a number"},
           Case{R"({"instances":0})", "key 'instances' must be between 1 and 1024, got 0"},
           Case{R"({"max_queue_size":0})", "key 'max_queue_size' must be between 1"},
           Case{R"({"max_batch_size":-1})", "key 'max_batch_size' must be between 0"},
           Case{R"({"max_batch_size":18446744073709551615})", "got 18446744073709551615"},
           Case{R"({"instances":null})", "key 'instances' must be an integer, got null"},
           Case{R"([1,2])", "f.json: must be a JSON object, got an array"},
           Case{R"({"max_batch_size":)", "f.json: malformed JSON"},
       }) {
    auto r = ParseModelConfig(c.json, Defaults(), "f.json");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.needle), std::string::npos) << r.status().message();
  }
}

TEST(ModelConfig, LoadFromDirectoryAndNotTakenForAModel) {
  fs::path dir = fs::temp_directory_path() / ("inferd-model-config-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  bool found = true;
  auto none = LoadModelConfig(dir.string(), Defaults(), &found);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(found);
  EXPECT_EQ(none->batching.max_batch_size, 4);

  std::ofstream(dir / "model-settings.json") << R"({"max_batch_size": 32})";
  std::ofstream(dir / "model.fault") << "{}";
  auto c = LoadModelConfig(dir.string(), Defaults(), &found);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(found);
  EXPECT_EQ(c->batching.max_batch_size, 32);
  // Detection sees one model file, not an XGBoost JSON model beside it.
  auto d = DetectModel(dir.string(), "");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->format, "fault");
  fs::remove_all(dir);
}

TEST(ModelConfig, DeepNestingIsAnErrorNamingTheFile) {
  const int d = 100000;
  auto r = ParseModelConfig("{\"max_batch_size\": 4, \"parameters\": " + std::string(d, '[') + std::string(d, ']') + "}",
                            Defaults(), "/m/model-settings.json");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "/m/model-settings.json: nested deeper than 64 levels");
  // Deep but within the limit: the unknown key is ignored as before.
  auto ok = ParseModelConfig("{\"max_batch_size\": 8, \"parameters\": [[[[1]]]]}", Defaults(), "f.json");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->batching.max_batch_size, 8);

  fs::path dir = fs::temp_directory_path() / ("inferd-model-config-deep-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "model-settings.json") << std::string(d, '[') + std::string(d, ']');
  bool found = false;
  auto file = LoadModelConfig(dir.string(), Defaults(), &found);
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find((dir / "model-settings.json").string() + ": nested deeper than 64 levels"),
            std::string::npos)
      << file.status().message();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace inferd
