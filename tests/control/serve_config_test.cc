// Unit tests of control/serve_config: the `inferd serve --config FILE` YAML file -> ServeConfig (the
// autoscaler section through autoscaler::ParseAutoscalerConfig), and its error messages.
#include "control/serve_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace inferd::control {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

ServeConfig Parse(const std::string& yaml) {
  auto c = ParseServeConfig(yaml, "serve.yaml");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : ServeConfig{};
}

// The error message of a config that must not parse.
std::string ErrorOf(const std::string& yaml) {
  auto c = ParseServeConfig(yaml, "serve.yaml");
  EXPECT_FALSE(c.ok()) << yaml;
  if (c.ok()) return "";
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << c.status().ToString();
  return c.status().message();
}

void ExpectDefaults(const autoscaler::AutoscalerConfig& c) {
  const autoscaler::AutoscalerConfig d;
  EXPECT_EQ(c.stable_window, d.stable_window);
  EXPECT_EQ(c.scale_to_zero_grace_period, d.scale_to_zero_grace_period);
  EXPECT_DOUBLE_EQ(c.container_concurrency_target_fraction, d.container_concurrency_target_fraction);
  EXPECT_EQ(c.enable_scale_to_zero, d.enable_scale_to_zero);
  EXPECT_EQ(c.pod_autoscaler_class, d.pod_autoscaler_class);
}

TEST(ServeConfigTest, EmptyFileGivesTheDefaults) {
  ExpectDefaults(Parse("").autoscaler);
  ExpectDefaults(Parse("# nothing configured yet\n\n").autoscaler);
  ExpectDefaults(Parse("autoscaler:\n").autoscaler);
  ExpectDefaults(Parse("autoscaler: {}\n").autoscaler);
  EXPECT_EQ(Parse("").autoscaler.stable_window, seconds(60));
}

TEST(ServeConfigTest, ParsesAutoscalerKeys) {
  ServeConfig c = Parse(R"(# short windows for a benchmark
autoscaler:
  stable-window: 6s
  scale-to-zero-grace-period: 2s
  scale-down-delay: "10s"
  enable-scale-to-zero: false
  allow-zero-initial-scale: True
  initial-scale: 0
  container-concurrency-target-percentage: 80
  container-concurrency-target-default: 10.5
  panic-window-percentage: 20
  max-scale: 7
  pod-autoscaler-class: hpa.autoscaling.knative.dev
  _example: ignored, as Knative does
)");
  const auto& a = c.autoscaler;
  EXPECT_EQ(a.stable_window, seconds(6));
  EXPECT_EQ(a.scale_to_zero_grace_period, seconds(2));
  EXPECT_EQ(a.scale_down_delay, seconds(10));
  EXPECT_FALSE(a.enable_scale_to_zero);
  EXPECT_TRUE(a.allow_zero_initial_scale);
  EXPECT_EQ(a.initial_scale, 0);
  EXPECT_DOUBLE_EQ(a.container_concurrency_target_fraction, 0.8);
  EXPECT_DOUBLE_EQ(a.container_concurrency_target_default, 10.5);
  EXPECT_DOUBLE_EQ(a.panic_window_percentage, 20);
  EXPECT_EQ(a.max_scale, 7);
  EXPECT_EQ(a.pod_autoscaler_class, autoscaler::kHpaClass);
  // Untouched keys keep their defaults.
  EXPECT_DOUBLE_EQ(a.max_scale_down_rate, 2);
  // Short windows (below Knative's 6 s) are accepted.
  EXPECT_EQ(Parse("autoscaler: {stable-window: 1s, scale-to-zero-grace-period: 1s}").autoscaler.stable_window,
            seconds(1));
  // A fraction is Knative's legacy form of the percentage.
  EXPECT_DOUBLE_EQ(Parse("autoscaler:\n  container-concurrency-target-percentage: 0.7\n")
                       .autoscaler.container_concurrency_target_fraction,
                   0.7);
}

TEST(ServeConfigTest, AcceptsKnativesConfigMap) {
  ServeConfig c = Parse(R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: config-autoscaler
  namespace: knative-serving
data:
  _example: |
    # the long example block Knative ships
    stable-window: "60s"
  stable-window: "10s"
  scale-to-zero-grace-period: "3s"
  enable-scale-to-zero: "true"
  container-concurrency-target-percentage: "70"
)");
  EXPECT_EQ(c.autoscaler.stable_window, seconds(10));
  EXPECT_EQ(c.autoscaler.scale_to_zero_grace_period, seconds(3));
  EXPECT_TRUE(c.autoscaler.enable_scale_to_zero);
  ExpectDefaults(Parse("kind: ConfigMap\n").autoscaler);  // no data: the defaults

  // Errors in the ConfigMap shape name the `data` section.
  std::string m = ErrorOf("kind: ConfigMap\ndata:\n  stable-window: 2h\n");
  EXPECT_EQ(m.rfind("serve.yaml: data: stable-window:", 0), 0u) << m;
  m = ErrorOf("kind: ConfigMap\nmetadata:\n  name: config-network\ndata: {}\n");
  EXPECT_TRUE(Has(m, "serve.yaml:3:")) << m;
  EXPECT_TRUE(Has(m, "config-network")) << m;
  m = ErrorOf("kind: ConfigMap\nautoscaler:\n  stable-window: 6s\n");
  EXPECT_TRUE(Has(m, "serve.yaml:2:")) << m;
  EXPECT_TRUE(Has(m, "'autoscaler'")) << m;
  m = ErrorOf("kind: Deployment\n");
  EXPECT_TRUE(Has(m, "serve.yaml:1:")) << m;
  EXPECT_TRUE(Has(m, "ConfigMap")) << m;
}

TEST(ServeConfigTest, UnknownTopLevelKeyIsAnError) {
  std::string m = ErrorOf("autoscaler:\n  stable-window: 6s\nautoscalr:\n  max-scale: 3\n");
  EXPECT_EQ(m.rfind("serve.yaml:3: ", 0), 0u) << m;
  EXPECT_TRUE(Has(m, "unknown key 'autoscalr'")) << m;
  EXPECT_TRUE(Has(m, "autoscaler")) << m;  // the known keys are listed
  m = ErrorOf("stable-window: 6s\n");  // the section was forgotten
  EXPECT_TRUE(Has(m, "unknown key 'stable-window'")) << m;
  // The top level must be a map.
  m = ErrorOf("- autoscaler\n");
  EXPECT_TRUE(Has(m, "top level must be a map")) << m;
  EXPECT_EQ(m.rfind("serve.yaml:1: ", 0), 0u) << m;
  // A duplicate key.
  m = ErrorOf("autoscaler:\n  stable-window: 6s\n  stable-window: 7s\n");
  EXPECT_TRUE(Has(m, "serve.yaml:3:")) << m;
  EXPECT_TRUE(Has(m, "duplicate key 'stable-window'")) << m;
  // More than one document.
  m = ErrorOf("autoscaler: {}\n---\nautoscaler: {}\n");
  EXPECT_TRUE(Has(m, "one YAML document")) << m;
}

TEST(ServeConfigTest, RouterHeadersPropagate) {
  EXPECT_TRUE(Parse("autoscaler: {}\n").router_propagate_headers.empty());  // KServe's default: none
  ServeConfig c = Parse("router:\n  headers:\n    propagate: [Authorization, \"Test-Header-*\"]\n");
  EXPECT_EQ(c.router_propagate_headers, (std::vector<std::string>{"Authorization", "Test-Header-*"}));
  std::string m = ErrorOf("router:\n  image: kserve/router:v0.14\n");
  EXPECT_TRUE(Has(m, "router: unknown key 'image'")) << m;
  EXPECT_TRUE(Has(m, "serve.yaml:2:")) << m;
  m = ErrorOf("router:\n  headers:\n    propagate: Authorization\n");
  EXPECT_TRUE(Has(m, "router: headers: propagate: must be a list of strings")) << m;
  m = ErrorOf("router:\n  headers:\n    forward: [a]\n");
  EXPECT_TRUE(Has(m, "unknown key 'forward'")) << m;
}

TEST(ServeConfigTest, NonScalarValueNamesTheKey) {
  std::string m = ErrorOf("autoscaler:\n  stable-window: 6s\n  max-scale: [1, 2]\n");
  EXPECT_EQ(m.rfind("serve.yaml:3: autoscaler: max-scale: ", 0), 0u) << m;
  EXPECT_TRUE(Has(m, "a list")) << m;
  m = ErrorOf("autoscaler:\n  min-scale:\n    value: 1\n");
  EXPECT_TRUE(Has(m, "autoscaler: min-scale: ")) << m;
  EXPECT_TRUE(Has(m, "a map")) << m;
  m = ErrorOf("autoscaler:\n  stable-window:\n");  // no value
  EXPECT_TRUE(Has(m, "serve.yaml:2: autoscaler: stable-window: ")) << m;
  // The section itself must be a map.
  m = ErrorOf("autoscaler: 6s\n");
  EXPECT_TRUE(Has(m, "serve.yaml:1: autoscaler: must be a map")) << m;
}

TEST(ServeConfigTest, BadValueNamesTheKeyAndTheFile) {
  std::string m = ErrorOf("autoscaler:\n  stable-window: 500ms\n");
  EXPECT_EQ(m.rfind("serve.yaml: autoscaler: stable-window: \"500ms\"", 0), 0u) << m;
  m = ErrorOf("autoscaler:\n  scale-to-zero-grace-period: 500ms\n");
  EXPECT_EQ(m.rfind("serve.yaml: autoscaler: scale-to-zero-grace-period: \"500ms\"", 0), 0u) << m;
  m = ErrorOf("autoscaler:\n  enable-scale-to-zero: yes\n");  // strconv.ParseBool's spellings only
  EXPECT_EQ(m.rfind("serve.yaml: autoscaler: enable-scale-to-zero: \"yes\"", 0), 0u) << m;
  m = ErrorOf("autoscaler:\n  container-concurrency-target-percentage: 150\n");
  EXPECT_EQ(m.rfind("serve.yaml: autoscaler: container-concurrency-target-percentage:", 0), 0u) << m;
}

TEST(ServeConfigTest, YamlSyntaxErrorNamesTheLine) {
  std::string m = ErrorOf("autoscaler:\n  stable-window: 6s\n  max-scale: [1, 2\n");
  EXPECT_EQ(m.rfind("serve.yaml:", 0), 0u) << m;
  EXPECT_FALSE(Has(m, "serve.yaml:1:")) << m;  // past the first line
  m = ErrorOf("autoscaler:\n  stable-window: 6s\n   bad: \"unterminated\n");
  EXPECT_EQ(m.rfind("serve.yaml:", 0), 0u) << m;
  m = ErrorOf("autoscaler:\n  a: 1\n b: 2\n");  // bad indentation on line 3
  EXPECT_EQ(m.rfind("serve.yaml:3:", 0), 0u) << m;
}

// Found by fuzz/serve_config_fuzz: yaml-cpp 0.7's LoadAll looped forever, allocating, on a stray ',' (the
// three bytes ",\n\n"); resources::LoadAllYaml refuses it.
TEST(ServeConfigTest, StrayFlowIndicatorIsAnErrorNotAHang) {
  EXPECT_EQ(ErrorOf(",\n\n"), "serve.yaml:1: unexpected token: no YAML node starts here");
  std::string m = ErrorOf("autoscaler:\n  stable-window: 6s\n---\n]\n");
  EXPECT_EQ(m.rfind("serve.yaml:4: ", 0), 0u) << m;
}

class ServeConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("inferd_serve_config_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(ServeConfigFileTest, LoadsAFile) {
  const std::string path = Write("serve.yaml", "autoscaler:\n  stable-window: 6s\n  scale-to-zero-grace-period: 2s\n");
  auto c = LoadServeConfig(path);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->autoscaler.stable_window, seconds(6));
  EXPECT_EQ(c->autoscaler.scale_to_zero_grace_period, seconds(2));

  auto empty = LoadServeConfig(Write("empty.yaml", ""));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  ExpectDefaults(empty->autoscaler);

  // Errors name the path as given.
  const std::string bad = Write("bad.yaml", "autoscaler:\n  stable-window: 0s\n");
  auto b = LoadServeConfig(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message().rfind(bad + ": autoscaler: stable-window:", 0), 0u) << b.status().message();
}

TEST_F(ServeConfigFileTest, DeepNestingIsAnErrorNamingTheFile) {
  const int d = 100000;
  std::string block;
  for (int i = 0; i < d; ++i) block += "- ";
  const std::vector<std::string> texts = {
      "autoscaler:\n  stable-window: " + std::string(d, '[') + std::string(d, ']') + "\n",
      "autoscaler: " + std::string(d, '{') + "\n",
      block + "x\n",
      // Within yaml-cpp's guard but not a scalar where one belongs.
      "autoscaler:\n  stable-window: [[[[[[1]]]]]]\n",
  };
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string path = Write("deep" + std::to_string(i) + ".yaml", texts[i]);
    auto c = LoadServeConfig(path);
    ASSERT_FALSE(c.ok()) << i;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(c.status().message().rfind(path + ":", 0), 0u) << c.status().message();
    if (i < 3) {
      EXPECT_TRUE(Has(c.status().message(), "nested too deep (500 levels or more)")) << c.status().message();
    }
  }
}

TEST_F(ServeConfigFileTest, MissingFileIsAnError) {
  const std::string path = (dir_ / "nope.yaml").string();
  auto c = LoadServeConfig(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c.status().message().rfind(path + ": ", 0), 0u) << c.status().message();
  EXPECT_TRUE(Has(c.status().message(), "No such file")) << c.status().message();
  // A directory is not a config file.
  auto d = LoadServeConfig(dir_.string());
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message().rfind(dir_.string() + ": ", 0), 0u) << d.status().message();
}

TEST(ServeConfigTest, ExampleFileParses) {
  auto c = LoadServeConfig(std::string(INFERD_SOURCE_DIR) + "/examples/serve-config.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->autoscaler.stable_window, seconds(6));
  EXPECT_EQ(c->autoscaler.scale_to_zero_grace_period, seconds(2));
}

// `images:` says what an image without a command runs here (control/local_images.h); paths that start with
// ./ or ../ and a relative workingDir are taken from the file's directory.
TEST(ServeConfigTest, ImagesMapToLocalCommands) {
  ServeConfig c = Parse(R"(images:
  kserve/image-transformer:
    command: [python3, -m, model]
    workingDir: /opt/transformer
    env: {PYTHONUNBUFFERED: 1}
  kserve/image-transformer:v2:
    command: [./run.sh]
    args: [--verbose]
)");
  ASSERT_EQ(c.images.size(), 2u);
  const LocalImage& any = c.images.at("kserve/image-transformer");
  EXPECT_EQ(any.command, (std::vector<std::string>{"python3", "-m", "model"}));
  EXPECT_EQ(any.working_dir, "/opt/transformer");
  ASSERT_EQ(any.env.size(), 1u);
  EXPECT_EQ(any.env[0], (std::pair<std::string, std::string>{"PYTHONUNBUFFERED", "1"}));
  EXPECT_EQ(c.images.at("kserve/image-transformer:v2").args, std::vector<std::string>{"--verbose"});

  const fs::path dir = fs::temp_directory_path() / ("serve-config-images-" + std::to_string(getpid()));
  fs::create_directories(dir);
  {
    std::ofstream f(dir / "serve.yaml");
    f << "images:\n  my/img:\n    command: [./bin/run, python3]\n    args: [../x.py, y.py]\n    workingDir: code\n";
  }
  auto loaded = LoadServeConfig((dir / "serve.yaml").string());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const LocalImage& img = loaded->images.at("my/img");
  EXPECT_EQ(img.command, (std::vector<std::string>{(dir / "bin/run").string(), "python3"}));
  EXPECT_EQ(img.args, (std::vector<std::string>{(dir.parent_path() / "x.py").string(), "y.py"}));
  EXPECT_EQ(img.working_dir, (dir / "code").string());
  fs::remove_all(dir);
}

TEST(ServeConfigTest, BadImagesNameTheField) {
  std::string m = ErrorOf("images:\n  a/b:\n    args: [x]\n");
  EXPECT_TRUE(Has(m, "images: a/b: command: required")) << m;
  m = ErrorOf("images:\n  a/b:\n    command: python3\n");
  EXPECT_TRUE(Has(m, "images: a/b: command: must be a list of strings")) << m;
  m = ErrorOf("images:\n  a/b:\n    command: [x]\n    entrypoint: [y]\n");
  EXPECT_TRUE(Has(m, "serve.yaml:4:")) << m;
  EXPECT_TRUE(Has(m, "unknown key 'entrypoint'")) << m;
  m = ErrorOf("images:\n  a/b:\n    command: [x]\n    env: [A]\n");
  EXPECT_TRUE(Has(m, "env: must be a map")) << m;
  m = ErrorOf("images: [a]\n");
  EXPECT_TRUE(Has(m, "images: must be a map")) << m;
  m = ErrorOf("images:\n  a/b:\n    command: [x]\n    workingDir: [y]\n");
  EXPECT_TRUE(Has(m, "workingDir: must be a string")) << m;
}

}  // namespace
}  // namespace inferd::control
