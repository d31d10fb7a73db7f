// Unit tests of control/replica_command: runtime containers turned into local command lines.
#include "control/replica_command.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace inferd::control {
namespace {

using resources::Json;

bool Has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

Json Runtime(Json container) {
  return Json{{"apiVersion", "serving.kserve.io/v1alpha1"},
              {"kind", "ClusterServingRuntime"},
              {"metadata", {{"name", "rt"}}},
              {"spec", {{"containers", Json::array({container})}}}};
}

ReplicaCommandInput Input(const resources::ComponentSpec* spec, const Json* rt) {
  ReplicaCommandInput in;
  in.isvc_name = "sklearn-iris";
  in.ns = "default";
  in.replica_name = "default/sklearn-iris-predictor-00001-1";
  in.spec = spec;
  in.runtime = rt;
  in.model_path = "/cache/abc";
  in.inferd_bin = "/opt/inferd";
  return in;
}

TEST(ReplicaCommandTest, BuiltinRuntimeRunsThisBinaryOnPortZero) {
  for (const auto& rt : resources::BuiltinClusterServingRuntimes()) {
    if (rt["metadata"]["name"] != "kserve-sklearnserver") continue;
    resources::ComponentSpec spec;
    spec.format = "sklearn";
    auto r = BuildReplicaSpec(Input(&spec, &rt));
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_GE(r->argv.size(), 2u);
    EXPECT_EQ(r->argv[0], "/opt/inferd");
    EXPECT_EQ(r->argv[1], "model-server");
    EXPECT_TRUE(Has(r->argv, "--model_name=sklearn-iris"));
    EXPECT_TRUE(Has(r->argv, "--model_dir=/cache/abc"));
    EXPECT_TRUE(Has(r->argv, "--http_port=0"));
    EXPECT_TRUE(Has(r->argv, "--grpc_port=0"));
    EXPECT_TRUE(Has(r->argv, "--host=127.0.0.1"));
    EXPECT_TRUE(Has(r->argv, "--model_format=sklearn"));  // the declared format, not one detected from files
    EXPECT_TRUE(r->ports_from_stdout);
    return;
  }
  FAIL() << "no kserve-sklearnserver built-in";
}

// A multi-model predictor (no storageUri: TrainedModels) serves its repository: no single model's flags, the
// memory budget from resources.limits.memory, readiness once it listens, no load-failure probe of its own.
TEST(ReplicaCommandTest, MultiModelPredictorServesItsRepository) {
  for (const auto& rt : resources::BuiltinClusterServingRuntimes()) {
    if (rt["metadata"]["name"] != "kserve-sklearnserver") continue;
    resources::ComponentSpec spec;
    spec.format = "sklearn";
    spec.multi_model = true;
    ReplicaCommandInput in = Input(&spec, &rt);
    in.model_path = in.model_repository = "/data/repositories/default/sklearn-iris";
    auto r = BuildReplicaSpec(in);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(Has(r->argv, "--model_repository=/data/repositories/default/sklearn-iris"));
    for (const auto& a : r->argv) {
      EXPECT_FALSE(a.starts_with("--model_dir") || a.starts_with("--model_name") || a.starts_with("--model_format") ||
                   a.starts_with("--memory_budget"))
          << a;
    }
    EXPECT_EQ(r->ready_path, "/v2/health/live");
    EXPECT_TRUE(r->status_path.empty());
    EXPECT_FALSE(r->not_ready_reason);
    for (const auto& [k, v] : r->env) EXPECT_NE(k, "STORAGE_URI");
    spec.memory_limit_bytes = 512.0 * 1024 * 1024;
    r = BuildReplicaSpec(in);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(Has(r->argv, "--memory_budget=536870912"));
    return;
  }
  FAIL() << "no kserve-sklearnserver built-in";
}

// A Triton-style multi-model runtime names its repository itself (/mnt/models): that stays, as the repository.
TEST(ReplicaCommandTest, MultiModelRuntimeKeepsItsOwnRepositoryFlag) {
  Json rt = Runtime({{"name", "kserve-container"},
                     {"image", "nvidia/tritonserver:23.05-py3"},
                     {"args", {"tritonserver", "--model-store=/mnt/models", "--model-control-mode=explicit"}}});
  resources::ComponentSpec spec;
  spec.format = "onnx";
  spec.multi_model = true;
  ReplicaCommandInput in = Input(&spec, &rt);
  in.model_path = in.model_repository = "/data/repositories/default/sklearn-iris";
  auto r = BuildReplicaSpec(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(Has(r->argv, "--model_repository=/data/repositories/default/sklearn-iris"));
  bool store = false;
  for (const auto& a : r->argv) store = store || a == "--model-store=/data/repositories/default/sklearn-iris";
  EXPECT_TRUE(store);
}

// KServe's collocation sample runs TorchServe's own image (pytorch/torchserve, not the -kfs one) with TorchServe's
// arguments: the model server does its work, as for the -kfs image.
TEST(ReplicaCommandTest, TorchServeImageRunsAsModelServer) {
  Json rt = Runtime({{"name", "kserve-container"},
                     {"image", "pytorch/torchserve:0.9.0-cpu"},
                     {"args", {"torchserve", "--start", "--model-store=/mnt/models/model-store"}}});
  resources::ComponentSpec spec;
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->argv[0], "/opt/inferd");
  EXPECT_EQ(r->argv[1], "model-server");
  EXPECT_TRUE(Has(r->argv, "--model-store=/cache/abc/model-store"));
}

TEST(ReplicaCommandTest, KServeImageWithoutCommandRunsAsModelServer) {
  Json rt = Runtime({{"name", "kserve-container"},
                     {"image", "docker.io/kserve/sklearnserver:v0.14.0"},
                     {"args", {"--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"}}});
  resources::ComponentSpec spec;
  spec.args = {"--log_level=debug"};
  spec.env = {{"PREDICT_PROBA", "true"}};
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->argv[0], "/opt/inferd");
  EXPECT_TRUE(Has(r->argv, "--http_port=0"));
  EXPECT_FALSE(Has(r->argv, "--http_port=8080"));
  EXPECT_TRUE(Has(r->argv, "--log_level=debug"));
  EXPECT_NE(std::find(r->env.begin(), r->env.end(), std::make_pair(std::string("PREDICT_PROBA"), std::string("true"))),
            r->env.end());
}

// config/runtimes (inferd-sklearn, ...): inferd's own image, no command, args starting with the subcommand; the
// image's entrypoint is inferd, so the replica runs this binary with those args.
TEST(ReplicaCommandTest, InferdImageWithoutCommandRunsItsEntrypoint) {
  for (const char* image : {"inferd", "inferd:0.1.0", "registry.example.com:5000/team/inferd:0.1.0",
                            "ghcr.io/x/inferd@sha256:0123"}) {
    Json rt = Runtime({{"name", "kserve-container"},
                       {"image", image},
                       {"args", {"model-server", "--model_name={{.Name}}", "--model_dir=/mnt/models",
                                 "--http_port=8080", "--grpc_port=9000"}}});
    resources::ComponentSpec spec;
    spec.format = "sklearn";
    auto r = BuildReplicaSpec(Input(&spec, &rt));
    ASSERT_TRUE(r.ok()) << image << ": " << r.status().message();
    ASSERT_GE(r->argv.size(), 2u);
    EXPECT_EQ(r->argv[0], "/opt/inferd") << image;
    EXPECT_EQ(r->argv[1], "model-server") << image;
    EXPECT_TRUE(Has(r->argv, "--model_name=sklearn-iris")) << image;
    EXPECT_TRUE(Has(r->argv, "--model_dir=/cache/abc")) << image;
    EXPECT_TRUE(Has(r->argv, "--http_port=0")) << image;
    EXPECT_TRUE(Has(r->argv, "--grpc_port=0")) << image;
    EXPECT_FALSE(Has(r->argv, "--grpc_port=9000")) << image;
    EXPECT_TRUE(r->ports_from_stdout) << image;
  }
  // Only the image named inferd: a look-alike still needs a command.
  for (const char* image : {"inferd-custom:1", "example.com/inferd/server:1", "notinferd"}) {
    Json rt = Runtime({{"name", "kserve-container"}, {"image", image}, {"args", {"model-server"}}});
    resources::ComponentSpec spec;
    auto r = BuildReplicaSpec(Input(&spec, &rt));
    EXPECT_FALSE(r.ok()) << image;
  }
}

// An image the `images:` section of `inferd serve --config` maps runs its local command (control/local_images.h):
// KServe's samples name images without a command (kserve/image-transformer:latest).
// A custom predictor container's args are the spec's args too (resources resolves them so): each is passed once
// (twice broke CLIs that take a flag once, e.g. KServe's collocation sample's --model-store).
TEST(ReplicaCommandTest, CustomContainerArgsArePassedOnce) {
  resources::ComponentSpec spec;
  resources::ContainerSpec c;
  c.name = "kserve-container";
  c.command = {"/bin/server"};
  c.args = {"--model-store=/mnt/models/store", "--x"};
  c.env = {{"A", "1"}};
  spec.containers = {c};
  spec.args = c.args;
  spec.env = c.env;
  auto r = BuildReplicaSpec(Input(&spec, nullptr));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(std::count(r->argv.begin(), r->argv.end(), "--model-store=/cache/abc/store"), 1) << r->argv.size();
  EXPECT_EQ(std::count(r->argv.begin(), r->argv.end(), "--x"), 1);
  EXPECT_EQ(std::count_if(r->env.begin(), r->env.end(), [](const auto& kv) { return kv.first == "A"; }), 1);
}

TEST(ReplicaCommandTest, MappedImagesRunTheirLocalCommand) {
  LocalImages images;
  images["kserve/image-transformer"] = LocalImage{{"/usr/bin/python3", "-m", "model"}, {"--default"}, "/opt/t",
                                                  {{"A", "image"}, {"B", "image"}}};
  images["tensorflow/serving:2.6.2"] = LocalImage{{"/bin/tfs"}, {}, "", {}};
  resources::ComponentSpec spec;
  resources::ContainerSpec c;
  c.name = "kserve-container";
  c.image = "docker.io/kserve/image-transformer:latest";
  c.env = {{"B", "container"}};
  spec.containers = {c};
  ReplicaCommandInput in = Input(&spec, nullptr);
  in.images = &images;
  auto r = BuildReplicaSpec(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_GE(r->argv.size(), 4u);
  EXPECT_EQ(r->argv[0], "/usr/bin/python3");
  EXPECT_EQ(r->argv[2], "model");
  EXPECT_EQ(r->argv[3], "--default");  // the image's args, as the container has none
  EXPECT_EQ(r->cwd, "/opt/t");
  // The container's env comes after the image's, so its B wins.
  auto b = std::find_if(r->env.rbegin(), r->env.rend(), [](const auto& kv) { return kv.first == "B"; });
  ASSERT_NE(b, r->env.rend());
  EXPECT_EQ(b->second, "container");
  // The container's args replace the image's, as Kubernetes' args replace an image's CMD.
  spec.containers[0].args = {"--model_name=mnist"};
  r = BuildReplicaSpec(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(Has(r->argv, "--default"));
  EXPECT_TRUE(Has(r->argv, "--model_name=mnist"));
  // A tag-specific entry matches only that tag; other images still cannot run.
  Json rt = Runtime({{"name", "kserve-container"}, {"image", "tensorflow/serving:2.6.2"}});
  resources::ComponentSpec plain;
  ReplicaCommandInput rin = Input(&plain, &rt);
  rin.images = &images;
  r = BuildReplicaSpec(rin);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->argv[0], "/bin/tfs");
  rt = Runtime({{"name", "kserve-container"}, {"image", "tensorflow/serving:2.7.0"}});
  r = BuildReplicaSpec(rin);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("images:"), std::string::npos) << r.status().message();
}

TEST(LocalImagesTest, ReferencesMatchWithoutRegistryOrLibrary) {
  EXPECT_EQ(SplitImageReference("docker.io/library/python:3.11@sha256:ab"),
            (std::pair<std::string, std::string>{"python", "3.11"}));
  EXPECT_EQ(SplitImageReference("localhost:5000/team/img"), (std::pair<std::string, std::string>{"team/img", ""}));
  EXPECT_EQ(SplitImageReference("kserve/image-transformer:latest"),
            (std::pair<std::string, std::string>{"kserve/image-transformer", "latest"}));
  LocalImages images;
  images["python"] = LocalImage{{"a"}, {}, "", {}};
  images["python:3.12"] = LocalImage{{"b"}, {}, "", {}};
  ASSERT_NE(FindLocalImage(images, "docker.io/library/python:3.11"), nullptr);
  EXPECT_EQ(FindLocalImage(images, "docker.io/library/python:3.11")->command[0], "a");
  EXPECT_EQ(FindLocalImage(images, "python:3.12")->command[0], "b");
  EXPECT_EQ(FindLocalImage(images, "pythonx"), nullptr);
  EXPECT_EQ(FindLocalImage(images, ""), nullptr);
}

TEST(ReplicaCommandTest, ImageOnlyContainerCannotRunAndSaysSo) {
  Json rt = Runtime({{"name", "kserve-container"}, {"image", "tensorflow/serving:2.6.2"}});
  resources::ComponentSpec spec;
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tensorflow/serving"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("command"), std::string::npos) << r.status().message();
}

// KServe's kserve-tritonserver and kserve-mlserver runtimes, as `kubectl kustomize config/runtimes` renders them.
TEST(ReplicaCommandTest, TritonAndMlserverImagesRunAsModelServer) {
  Json triton = Runtime({{"name", "kserve-container"},
                         {"image", "nvcr.io/nvidia/tritonserver:23.05-py3"},
                         {"args", {"tritonserver", "--model-store=/mnt/models", "--grpc-port=9000", "--http-port=8080",
                                   "--allow-grpc=true", "--allow-http=true"}}});
  resources::ComponentSpec spec;
  spec.format = "sklearn";
  auto r = BuildReplicaSpec(Input(&spec, &triton));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->argv[0], "/opt/inferd");
  EXPECT_EQ(r->argv[1], "model-server");
  EXPECT_TRUE(Has(r->argv, "--model-store=/cache/abc"));
  EXPECT_TRUE(Has(r->argv, "--http_port=0"));
  EXPECT_FALSE(Has(r->argv, "--model_format=sklearn")) << "a repository declares each model's format itself";
  EXPECT_TRUE(r->ports_from_stdout);

  Json mlserver = Runtime({{"name", "kserve-container"},
                           {"image", "docker.io/seldonio/mlserver:1.7.1"},
                           {"env", {{{"name", "MLSERVER_HTTP_PORT"}, {"value", "8080"}}}}});
  r = BuildReplicaSpec(Input(&spec, &mlserver));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->argv[1], "model-server");
  EXPECT_TRUE(Has(r->argv, "--model_name=sklearn-iris"));
  EXPECT_TRUE(Has(r->argv, "--model_dir=/cache/abc"));
  EXPECT_TRUE(Has(r->argv, "--model_format=sklearn"));
}

// KServe's kserve-tensorflow-serving runtime as config/runtimes/kserve-tensorflow-serving.yaml writes it (image
// placeholder and all): tensorflow_model_server's flags become inferd model-server's.
Json TfServingRuntime(Json args) {
  return Runtime({{"name", "kserve-container"},
                  {"image", "tensorflow-serving:replace"},
                  {"command", {"/usr/bin/tensorflow_model_server"}},
                  {"args", std::move(args)}});
}

TEST(ReplicaCommandTest, TfServingRuntimeRunsAsModelServerWithItsFlagsMapped) {
  Json rt = TfServingRuntime({"--model_name={{.Name}}", "--port=9000", "--rest_api_port=8080",
                              "--model_base_path=/mnt/models", "--rest_api_timeout_in_ms=60000"});
  resources::ComponentSpec spec;
  spec.format = "tensorflow";
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->argv[0], "/opt/inferd");
  EXPECT_EQ(r->argv[1], "model-server");
  EXPECT_TRUE(Has(r->argv, "--model_name=sklearn-iris"));
  EXPECT_TRUE(Has(r->argv, "--model_dir=/cache/abc"));
  EXPECT_TRUE(Has(r->argv, "--rest_api_timeout_in_ms=60000"));
  EXPECT_TRUE(Has(r->argv, "--http_port=0"));  // the supervisor's ports, as for every model server
  EXPECT_TRUE(Has(r->argv, "--grpc_port=0"));
  EXPECT_TRUE(r->ports_from_stdout);
  for (const auto& a : r->argv) {
    EXPECT_FALSE(a.starts_with("--port") || a.starts_with("--rest_api_port") || a.starts_with("--model_base_path"))
        << a;
  }
  // Other spellings TensorFlow's flag parser takes, and the thread flags.
  rt = TfServingRuntime({"-model_name", "m", "--model_base_path", "/mnt/models/v", "--rest_api_num_threads=4",
                         "--tensorflow_intra_op_parallelism=2"});
  r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--model_name=m"));
  EXPECT_TRUE(Has(r->argv, "--model_dir=/cache/abc/v"));
  EXPECT_TRUE(Has(r->argv, "--workers=4"));
  EXPECT_TRUE(Has(r->argv, "--intra_op_threads=2"));
}

TEST(ReplicaCommandTest, TfServingFlagsWithoutACounterpartAreRefusedByName) {
  resources::ComponentSpec spec;
  spec.format = "tensorflow";
  for (const char* bad : {"--enable_batching", "--model_config_file=/x/models.config", "--monitoring_config_file=m",
                          "--file_system_poll_wait_seconds=1", "stray", "--rest_api_port=0", "--port"}) {
    Json rt = TfServingRuntime({"--model_name={{.Name}}", "--model_base_path=/mnt/models", bad});
    auto r = BuildReplicaSpec(Input(&spec, &rt));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    const std::string name = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(r.status().message().find(name), std::string::npos) << r.status().message();
  }
  // The predictor's own args are tensorflow_model_server's too, and checked the same way.
  Json rt = TfServingRuntime({"--model_name={{.Name}}"});
  spec.args = {"--enable_model_warmup=true"};
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--enable_model_warmup"), std::string::npos) << r.status().message();
}

TEST(ReplicaCommandTest, CustomCommandGetsAPortAndTemplates) {
  Json rt = Runtime({{"name", "kserve-container"},
                     {"image", "custom"},
                     {"command", {"python3", "server.py"}},
                     {"args", {"--port", "8080", "--name={{.Name}}.{{.Namespace}}", "--dir=/mnt/models/sub",
                               "--team={{.Labels.team}}", "{{.Unknown}}"}},
                     {"env", {{{"name", "MODEL"}, {"value", "/mnt/models"}}}}});
  resources::ComponentSpec spec;
  spec.labels = {{"team", "fraud"}};
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->ports_from_stdout);
  ASSERT_GT(r->fixed_http_port, 0);
  std::string port = std::to_string(r->fixed_http_port);
  EXPECT_EQ(r->argv[0], "python3");
  EXPECT_EQ(r->argv[2], "--port");
  EXPECT_EQ(r->argv[3], port);
  EXPECT_TRUE(Has(r->argv, "--name=sklearn-iris.default"));
  EXPECT_TRUE(Has(r->argv, "--dir=/cache/abc/sub"));
  EXPECT_TRUE(Has(r->argv, "--team=fraud"));
  EXPECT_TRUE(Has(r->argv, "{{.Unknown}}"));
  bool model_env = false, port_env = false;
  for (const auto& [k, v] : r->env) {
    model_env |= k == "MODEL" && v == "/cache/abc";
    port_env |= k == "PORT" && v == port;
  }
  EXPECT_TRUE(model_env);
  EXPECT_TRUE(port_env);
}

TEST(ReplicaCommandTest, UnixSocketOnlyForTheModelServer) {
  resources::ComponentSpec spec;
  Json model_server = Runtime({{"name", "kserve-container"}, {"command", {"inferd", "model-server"}}});
  auto in = Input(&spec, &model_server);
  in.uds_path = "/data/run/r7.sock";
  auto r = BuildReplicaSpec(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--uds=/data/run/r7.sock"));
  Json custom = Runtime({{"name", "kserve-container"}, {"command", {"python3", "server.py"}}});
  in = Input(&spec, &custom);
  in.uds_path = "/data/run/r8.sock";
  r = BuildReplicaSpec(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (const auto& a : r->argv) EXPECT_EQ(a.find("--uds"), std::string::npos) << a;
}

TEST(ReplicaCommandTest, BatcherBecomesModelServerFlags) {
  Json rt = Runtime({{"name", "kserve-container"}, {"command", {"inferd", "model-server"}}, {"args", Json::array()}});
  resources::ComponentSpec spec;
  spec.batcher = resources::ComponentSpec::Batcher{16, 300, 0};
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--max_batch_size=16"));
  EXPECT_TRUE(Has(r->argv, "--max_latency=300000"));  // ms -> µs
}

TEST(ReplicaCommandTest, BatcherDefaultsAreKServesAgents) {
  Json rt = Runtime({{"name", "kserve-container"}, {"command", {"inferd", "model-server"}}, {"args", Json::array()}});
  resources::ComponentSpec spec;
  spec.batcher = resources::ComponentSpec::Batcher{};
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--max_batch_size=32"));
  EXPECT_TRUE(Has(r->argv, "--max_latency=5000000"));  // 5000 ms (cmd/agent/main.go)
}

TEST(ReplicaCommandTest, LoggerBecomesModelServerFlags) {
  Json rt = Runtime({{"name", "kserve-container"}, {"command", {"inferd", "model-server"}}, {"args", Json::array()}});
  resources::ComponentSpec spec;
  spec.logger = resources::ComponentSpec::Logger{"http://sink:8080/e", "request", {"X-A", "X-B"}, {"team", "absent"}};
  spec.annotations = {{"team", "vision"}, {"other", "x"}};
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--log_url=http://sink:8080/e"));
  EXPECT_TRUE(Has(r->argv, "--log_mode=request"));
  EXPECT_TRUE(Has(r->argv, "--log_metadata_headers=X-A,X-B"));
  EXPECT_TRUE(Has(r->argv, "--inference_service=sklearn-iris"));
  EXPECT_TRUE(Has(r->argv, "--namespace=default"));
  EXPECT_TRUE(Has(r->argv, "--component=predictor"));
  EXPECT_TRUE(Has(r->argv, "--log_metadata_annotations=team=vision"));  // only the annotations the service has
  for (const auto& a : r->argv) EXPECT_EQ(a.find("absent"), std::string::npos) << a;
  spec.logger = resources::ComponentSpec::Logger{};
  r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--log_url=http://default-broker"));  // KServe's configmap default
  EXPECT_TRUE(Has(r->argv, "--log_mode=all"));
}

TEST(ReplicaCommandTest, LoggerOrBatcherNeedAnInferdModelServer) {
  Json rt = Runtime({{"name", "kserve-container"}, {"command", {"python3", "server.py"}}});
  resources::ComponentSpec spec;
  spec.logger = resources::ComponentSpec::Logger{};
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("predictor.logger"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("not inferd model-server"), std::string::npos);
  spec.logger.reset();
  spec.batcher = resources::ComponentSpec::Batcher{8, 10, 0};
  r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("predictor.batcher"), std::string::npos) << r.status().message();
  // A Python model inside inferd model-server takes V1 bodies whole: not batched, so refused.
  Json py = Runtime({{"name", "kserve-container"}, {"command", {"inferd", "model-server", "--python", "m.py"}}});
  r = BuildReplicaSpec(Input(&spec, &py));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("predictor.batcher: a Python model"), std::string::npos)
      << r.status().message();
}

TEST(ReplicaCommandTest, ImplementationFieldsOverrideTheRuntimeContainer) {
  Json rt = Runtime({{"name", "kserve-container"},
                     {"command", {"python3", "server.py"}},
                     {"workingDir", "/srv"},
                     {"readinessProbe", {{"httpGet", {{"path", "/healthz"}}}, {"periodSeconds", 7}}}});
  resources::ComponentSpec spec;
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->argv[0], "python3");
  EXPECT_EQ(r->cwd, "/srv");
  EXPECT_EQ(r->ready_path, "/healthz");
  EXPECT_EQ(r->ready_probe_interval, std::chrono::seconds(7));
  EXPECT_EQ(r->stop_grace, std::chrono::seconds(5));  // the supervisor's default

  // `model.command`, `model.workingDir`, `model.readinessProbe` and the pod's grace period win (KServe merges
  // the predictor's container into the runtime's).
  spec.command = {"inferd", "model-server"};
  spec.working_dir = "/mnt/models/sub";
  spec.readiness = resources::ProbeSpec{"v2/health/ready", 0, 3, 5};
  spec.termination_grace_seconds = 20;
  r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->argv[0], "/opt/inferd");
  EXPECT_EQ(r->argv[1], "model-server");
  EXPECT_EQ(r->cwd, "/cache/abc/sub");
  EXPECT_EQ(r->ready_path, "/v2/health/ready");
  EXPECT_EQ(r->ready_probe_interval, std::chrono::milliseconds(1000));  // unset: the default
  EXPECT_EQ(r->probe_timeout, std::chrono::seconds(3));
  EXPECT_EQ(r->failure_threshold, 5);
  EXPECT_EQ(r->stop_grace, std::chrono::seconds(20));
}

TEST(ReplicaCommandTest, RuntimeFieldsALocalProcessCannotHonourSaySo) {
  resources::ComponentSpec spec;
  Json rt = Runtime({{"name", "kserve-container"}, {"command", {"server"}}, {"envFrom", {{{"secretRef", {{"name", "s"}}}}}}});
  auto r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "runtime rt: envFrom is not supported (ConfigMap and Secret references are not resolved)");
  rt = Runtime({{"name", "kserve-container"}, {"command", {"server"}},
                {"env", {{{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}}}});
  r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("runtime rt: env POD_IP: valueFrom is not supported", 0), 0u) << r.status().message();
  rt = Runtime({{"name", "kserve-container"}, {"command", {"server"}}});
  rt["spec"]["workerSpec"] = Json{{"pipelineParallelSize", 2}};
  r = BuildReplicaSpec(Input(&spec, &rt));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("runtime rt: workerSpec", 0), 0u) << r.status().message();
}

TEST(ReplicaCommandTest, TritonBuiltinServesTheModelAsARepository) {
  for (const auto& rt : resources::BuiltinClusterServingRuntimes()) {
    if (rt["metadata"]["name"] != "kserve-tritonserver") continue;
    resources::ComponentSpec spec;
    spec.format = "triton";
    auto r = BuildReplicaSpec(Input(&spec, &rt));
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->argv[1], "model-server");
    EXPECT_TRUE(Has(r->argv, "--model_repository=/cache/abc"));
    EXPECT_FALSE(std::any_of(r->argv.begin(), r->argv.end(), [](const std::string& a) {
      return a.rfind("--model_name", 0) == 0 || a.rfind("--model_dir", 0) == 0;
    }));
    return;
  }
  FAIL() << "no kserve-tritonserver built-in";
}

}  // namespace
}  // namespace inferd::control

namespace inferd::control {
namespace {

TEST(LoadFailureFromIndexTest, FirstUnavailableModelsReason) {
  EXPECT_EQ(LoadFailureFromIndex(R"([{"name":"a","state":"READY"},{"name":"b","state":"UNAVAILABLE","reason":"bad pickle"}])"),
            "bad pickle");
  EXPECT_EQ(LoadFailureFromIndex(R"([{"name":"b","state":"UNAVAILABLE"}])"), "model b is unavailable");
  EXPECT_EQ(LoadFailureFromIndex(R"([{"name":"a","state":"READY"}])"), "");
  EXPECT_EQ(LoadFailureFromIndex(R"([{"name":"b","state":"LOADING"}])"), "");
}

TEST(LoadFailureFromIndexTest, HostileAnswersAreNoFailure) {
  for (const char* body : {"", "not json", "{}", R"({"state":"UNAVAILABLE"})", "[1,2,null]",
                           R"([{"state":7,"reason":"x"}])", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"}) {
    EXPECT_EQ(LoadFailureFromIndex(body), "") << body;
  }
  EXPECT_EQ(LoadFailureFromIndex(R"([{"name":5,"state":"UNAVAILABLE","reason":["x"]}])"), "model  is unavailable");
}

}  // namespace

TEST(PythonCommandTest, InterpretersModulesAndFiles) {
  using V = std::vector<std::string>;
  auto py = ParsePythonCommand({"python", "-m", "model"}, {"--model_name", "m"});
  ASSERT_TRUE(py.has_value());
  EXPECT_EQ(py->module, "model");
  EXPECT_EQ(py->script, "");
  EXPECT_EQ(py->args, (V{"--model_name", "m"}));
  py = ParsePythonCommand({"/usr/local/bin/python3.11", "-u", "/app/transformer.py"}, {"--x=1"});
  ASSERT_TRUE(py.has_value());
  EXPECT_EQ(py->script, "/app/transformer.py");
  EXPECT_EQ(py->args, (V{"--x=1"}));
  py = ParsePythonCommand({"python3"}, {"-W", "ignore", "-mpkg.main", "a"});  // command and args are one line
  ASSERT_TRUE(py.has_value());
  EXPECT_EQ(py->module, "pkg.main");
  EXPECT_EQ(py->args, (V{"a"}));
  for (const V& not_python : {V{"python", "-c", "print(1)"}, V{"python"}, V{"python", "-m"}, V{"/bin/sh", "x.py"},
                              V{"pythonista", "x.py"}, V{"python3.x", "x.py"}, V{"python", "server"}, V{}}) {
    EXPECT_FALSE(ParsePythonCommand(not_python, {}).has_value()) << (not_python.empty() ? "" : not_python[0]);
  }
  EXPECT_EQ(PythonModelServerFlags(*ParsePythonCommand({"python", "t.py"}, {"--a", "--b=2"})),
            (V{"--python=t.py", "--python_arg=--a", "--python_arg=--b=2"}));
  EXPECT_EQ(PythonModelServerFlags(*ParsePythonCommand({"python", "-m", "m"}, {})), (V{"--python_module=m"}));
}

resources::ComponentSpec Transformer(std::vector<std::string> command, std::vector<std::string> args) {
  resources::ComponentSpec spec;
  spec.component = "transformer";
  resources::ContainerSpec c;
  c.name = "kserve-container";
  c.command = std::move(command);
  c.args = std::move(args);
  spec.args = c.args;
  spec.containers.push_back(c);
  return spec;
}

TEST(ComponentCommandTest, TransformerGetsKServesFlagsUnlessGivenAndTheGateway) {
  resources::ComponentSpec spec = Transformer({"/opt/t/server"}, {"--model_name", "custom", "--verbose"});
  spec.container_concurrency = 4;
  ReplicaCommandInput in = Input(&spec, nullptr);
  in.predictor_host = "sklearn-iris-predictor.default";
  in.gateway_http = "127.0.0.1:8080";
  in.gateway_grpc = "127.0.0.1:8081";
  auto r = BuildReplicaSpec(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const std::vector<std::string>& a = r->argv;
  ASSERT_EQ(a.size(), 9u) << testing::PrintToString(a);
  EXPECT_EQ(a[0], "/opt/t/server");
  EXPECT_EQ(std::vector<std::string>(a.begin() + 1, a.begin() + 3), (std::vector<std::string>{"--model_name", "custom"}))
      << "a flag already in args is not appended again";
  EXPECT_EQ(std::count(a.begin(), a.end(), "--verbose"), 1) << "the container's args once";
  EXPECT_TRUE(Has(a, "--predictor_host") && Has(a, "sklearn-iris-predictor.default"));
  EXPECT_TRUE(Has(a, "--workers") && Has(a, "4"));
  EXPECT_EQ(a.back().rfind("--http_port=", 0), 0u) << "a plain command gets its port as --http_port";
  EXPECT_EQ(a.back(), "--http_port=" + std::to_string(r->fixed_http_port));
  auto env = [&](const std::string& k) {
    for (const auto& [name, v] : r->env)
      if (name == k) return v;
    return std::string("(unset)");
  };
  EXPECT_EQ(env("INFERENCE_SERVICE_NAME"), "sklearn-iris");
  EXPECT_EQ(env("INFERD_GATEWAY"), "127.0.0.1:8080");
  EXPECT_EQ(env("INFERD_GATEWAY_GRPC"), "127.0.0.1:8081");
  EXPECT_FALSE(r->ports_from_stdout);
}

TEST(ComponentCommandTest, PythonTransformerRunsInTheModelServer) {
  resources::ComponentSpec spec = Transformer({"python", "-m", "image_transformer"}, {"--protocol", "v2"});
  ReplicaCommandInput in = Input(&spec, nullptr);
  in.predictor_host = "sklearn-iris-predictor.default";
  in.uds_path = "/run/r1.sock";
  auto r = BuildReplicaSpec(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->argv[0], "/opt/inferd");
  EXPECT_EQ(r->argv[1], "model-server");
  EXPECT_TRUE(Has(r->argv, "--python_module=image_transformer"));
  EXPECT_TRUE(Has(r->argv, "--python_arg=--protocol") && Has(r->argv, "--python_arg=v2"));
  EXPECT_TRUE(Has(r->argv, "--python_arg=--predictor_host") && Has(r->argv, "--python_arg=sklearn-iris-predictor.default"));
  EXPECT_TRUE(Has(r->argv, "--http_port=0") && Has(r->argv, "--uds=/run/r1.sock"));
  EXPECT_FALSE(Has(r->argv, "--model_format=sklearn"));
  EXPECT_TRUE(r->ports_from_stdout);
}

TEST(ComponentCommandTest, ArtExplainerRunsInferdArtExplainer) {
  resources::ComponentSpec spec;
  spec.component = "explainer";
  spec.art_type = "SquareAttack";
  spec.art_config = {{"nb_classes", "10"}, {"max_iter", "20"}};
  spec.storage_uri = "gs://b/art";
  spec.args = {"--extra"};
  ReplicaCommandInput in = Input(&spec, nullptr);
  in.predictor_host = "sklearn-iris-predictor.default";
  auto r = BuildReplicaSpec(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const std::vector<std::string> want = {"/opt/inferd", "art-explainer", "--model_name", "sklearn-iris",
                                         "--http_port", "0", "--predictor_host",
                                         "sklearn-iris-predictor.default", "--storage_uri", "/cache/abc",
                                         "--adversary_type", "SquareAttack", "--max_iter", "20", "--nb_classes",
                                         "10", "--extra", "--grpc_port=0", "--host=127.0.0.1"};
  EXPECT_EQ(r->argv, want);
  EXPECT_TRUE(r->ports_from_stdout) << "it prints its ports as the model server does";
}

TEST(ComponentCommandTest, InProcessTransformerJoinsTheModelServer) {
  for (const auto& rt : resources::BuiltinClusterServingRuntimes()) {
    if (rt["metadata"]["name"] != "kserve-sklearnserver") continue;
    resources::ComponentSpec spec;
    spec.format = "sklearn";
    ReplicaCommandInput in = Input(&spec, &rt);
    in.in_process = ParsePythonCommand({"python", "/app/t.py"}, {"--model_name", "sklearn-iris"});
    auto r = BuildReplicaSpec(in);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(Has(r->argv, "--model_dir=/cache/abc"));
    EXPECT_TRUE(Has(r->argv, "--model_format=sklearn"));
    EXPECT_TRUE(Has(r->argv, "--python=/app/t.py"));
    EXPECT_TRUE(Has(r->argv, "--python_arg=--model_name"));
    // A predictor that is not inferd model-server cannot host it.
    resources::ComponentSpec custom;
    resources::ContainerSpec c;
    c.command = {"/opt/server"};
    custom.containers.push_back(c);
    ReplicaCommandInput in2 = Input(&custom, nullptr);
    in2.in_process = in.in_process;
    auto bad = BuildReplicaSpec(in2);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("in-process transformer"), std::string::npos);
    return;
  }
  FAIL() << "no kserve-sklearnserver built-in";
}

TEST(InProcessPlanTest, AnnotationCollocationAndTheirFailures) {
  auto isvc = [](const std::string& spec, const std::string& annotations = "{}") {
    return Json::parse(R"({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "m", "namespace": "ns", "annotations": )" + annotations + R"(}, "spec": )" + spec + "}");
  };
  const std::string model = R"("model": {"modelFormat": {"name": "sklearn"}, "storageUri": "/tmp/m"})";
  const std::string transformer = R"("transformer": {"containers": [{"command": ["python", "t.py"]}]})";
  InProcessPlan p = PlanInProcess(isvc("{\"predictor\": {" + model + "}, " + transformer + "}"));
  EXPECT_FALSE(p.command.has_value()) << "without the annotation the transformer is its own component";
  EXPECT_FALSE(p.from_annotation);
  p = PlanInProcess(isvc("{\"predictor\": {" + model + "}, " + transformer + "}", R"({"inferd.io/transformer": "in-process"})"));
  ASSERT_TRUE(p.command.has_value()) << p.error;
  EXPECT_TRUE(p.from_annotation);
  EXPECT_EQ(p.command->script, "t.py");
  EXPECT_EQ(p.command->args, (std::vector<std::string>{"--model_name", "m", "--predictor_host", "m-predictor.ns"}));
  p = PlanInProcess(isvc(R"({"predictor": {)" + model + R"(}, "transformer": {"containers": [{"command": ["/bin/t"]}]}})",
                         R"({"inferd.io/transformer": "in-process"})"));
  EXPECT_FALSE(p.command.has_value());
  EXPECT_TRUE(p.from_annotation);
  EXPECT_EQ(p.reason, "InProcessTransformerNotRunnable");
  p = PlanInProcess(isvc(R"({"predictor": {)" + model +
                         R"(, "containers": [{"name": "transformer-container", "command": ["python3", "-m", "tr"], "args": ["--x"]}]}})"));
  ASSERT_TRUE(p.command.has_value()) << p.error;
  EXPECT_FALSE(p.from_annotation);
  EXPECT_EQ(p.command->module, "tr");
  EXPECT_EQ(p.command->args, (std::vector<std::string>{"--x", "--predictor_host", "m-predictor.ns"}))
      << "only --predictor_host, which the model server's in-process wrapping keys on, is added when absent";
  p = PlanInProcess(isvc(R"({"predictor": {)" + model +
                         R"(, "containers": [{"name": "transformer-container", "command": ["python3", "t.py"],
                             "args": ["--predictor_host=localhost:8085"]}]}})"));
  ASSERT_TRUE(p.command.has_value()) << p.error;
  EXPECT_EQ(p.command->args, (std::vector<std::string>{"--predictor_host=localhost:8085"})) << "as written";
  p = PlanInProcess(isvc(R"({"predictor": {)" + model + R"(, "containers": [{"name": "sidecar", "image": "x"}]}})"));
  EXPECT_EQ(p.reason, "CollocatedContainerNotRunnable");
  EXPECT_NE(p.error.find("sidecar"), std::string::npos);
  EXPECT_TRUE(PlanInProcess(Json::parse("[1]")).error.empty()) << "any JSON: no crash";
}

// KServe's collocation.yaml: the predictor given as containers (kserve-container first, then a
// transformer-container naming only an image): the transformer runs in-process with what `images:` maps its image
// to (its workingDir on PYTHONPATH); without a mapping it is not Ready, never silently left out.
TEST(InProcessPlanTest, ContainersFormCollocationWithAMappedImage) {
  const Json isvc = Json::parse(R"({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
      "metadata": {"name": "co", "namespace": "ns"},
      "spec": {"predictor": {"containers": [
        {"name": "kserve-container", "image": "pytorch/torchserve:0.9.0-cpu",
         "args": ["torchserve", "--start", "--model-store=/mnt/models/model-store"],
         "env": [{"name": "STORAGE_URI", "value": "/tmp/store"}]},
        {"name": "transformer-container", "image": "kserve/image-transformer:latest",
         "args": ["--model_name=mnist", "--predictor_host=localhost:8085"]}]}}})");
  InProcessPlan p = PlanInProcess(isvc);
  EXPECT_FALSE(p.command);
  EXPECT_EQ(p.reason, "CollocatedContainerNotRunnable") << p.error;
  LocalImages images;
  images["kserve/image-transformer"] = LocalImage{{"python3", "-m", "model"}, {}, "/opt/transformer", {}};
  p = PlanInProcess(isvc, &images);
  ASSERT_TRUE(p.command) << p.reason << ": " << p.error;
  EXPECT_EQ(p.command->module, "model");
  EXPECT_EQ(p.command->working_dir, "/opt/transformer");
  EXPECT_TRUE(Has(p.command->args, "--model_name=mnist"));
  auto pred = resources::ResolvePredictor(isvc);
  ASSERT_TRUE(pred.ok()) << pred.status().message();
  ReplicaCommandInput in = Input(&*pred, nullptr);
  in.in_process = p.command;
  auto r = BuildReplicaSpec(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--python_module=model"));
  EXPECT_NE(std::find(r->env.begin(), r->env.end(),
                      std::make_pair(std::string("PYTHONPATH"), std::string("/opt/transformer"))),
            r->env.end());
}

// ---- processes (docs/pipeline.md#processes-under-inferd-serve) -------------------------------------------------
const Json* SklearnRuntime() {
  static const Json rt = [] {
    for (const auto& r : resources::BuiltinClusterServingRuntimes()) {
      if (r["metadata"]["name"] == "kserve-sklearnserver") return r;
    }
    return Json();
  }();
  return rt.is_null() ? nullptr : &rt;
}

// The in-process replica of a sklearn predictor on the built-in runtime: `cores` CPUs, these annotations and args.
StatusOr<supervisor::ReplicaSpec> InProcessReplica(int cores, std::map<std::string, std::string> annotations = {},
                                                   std::vector<std::string> args = {},
                                                   std::vector<std::string> transformer_args = {"--model_name", "m"}) {
  resources::ComponentSpec spec;
  spec.format = "sklearn";
  spec.annotations = std::move(annotations);
  spec.args = std::move(args);
  ReplicaCommandInput in = Input(&spec, SklearnRuntime());
  in.uds_path = "/run/r1.sock";
  in.cores = cores;
  in.in_process = ParsePythonCommand({"python", "/app/t.py"}, transformer_args);
  return BuildReplicaSpec(in);
}

int Count(const std::vector<std::string>& v, std::string_view prefix) {
  auto starts = [&](const std::string& a) { return a.starts_with(prefix); };
  return static_cast<int>(std::count_if(v.begin(), v.end(), starts));
}

TEST(ReplicaProcessesTest, InProcessTransformerServesAsOneProcessPerCoreUpToTheCap) {
  ASSERT_NE(SklearnRuntime(), nullptr);
  auto r = InProcessReplica(2);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--processes=2"));
  // The socket stays: the first process passes its connections to the copies in turn.
  EXPECT_TRUE(Has(r->argv, "--uds=/run/r1.sock"));
  EXPECT_TRUE(ServesUds(*r));
  r = InProcessReplica(48);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--processes=" + std::to_string(kDefaultProcessesCap)));
  // One CPU: one process, as before (and its Unix socket).
  r = InProcessReplica(1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Count(r->argv, "--processes"), 0);
  EXPECT_TRUE(Has(r->argv, "--uds=/run/r1.sock"));
  EXPECT_TRUE(ServesUds(*r));
}

TEST(ReplicaProcessesTest, AnnotationSetsItAndBadValuesAreRefusedNamingIt) {
  auto r = InProcessReplica(2, {{"inferd.io/processes", "6"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--processes=6"));
  r = InProcessReplica(8, {{"inferd.io/processes", "1"}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Count(r->argv, "--processes"), 0);
  EXPECT_TRUE(ServesUds(*r));
  for (const char* bad : {"0", "65", "-2", "two", "", "3 ", "1e2", "99999999999999999999"}) {
    r = InProcessReplica(2, {{"inferd.io/processes", bad}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("inferd.io/processes"), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(*resources::ParseProcessesAnnotation("64"), 64);
  EXPECT_FALSE(resources::ParseProcessesAnnotation("+3").ok());
}

TEST(ReplicaProcessesTest, KServesWorkersFlagIsTheProcessCount) {
  // The predictor's args (KServe's Python servers: uvicorn worker processes).
  auto r = InProcessReplica(2, {}, {"--workers", "3"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--processes=3"));
  EXPECT_EQ(Count(r->argv, "--workers"), 0) << "one front-end thread per process";
  // The transformer's (its args, or containerConcurrency): it runs in these processes.
  r = InProcessReplica(2, {}, {}, {"--model_name", "m", "--workers=5"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--processes=5"));
  EXPECT_TRUE(Has(r->argv, "--python_arg=--workers=5")) << "the program's own argv is left as written";
  r = InProcessReplica(2, {}, {"--workers", "1"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Count(r->argv, "--processes"), 0);
  r = InProcessReplica(2, {}, {"--workers=500"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--processes=" + std::to_string(kMaxProcesses)));
  // The annotation wins over --workers.
  r = InProcessReplica(2, {{"inferd.io/processes", "2"}}, {"--workers", "7"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--processes=2"));
  // --processes in the args is kept; an annotation that disagrees is refused naming both.
  r = InProcessReplica(8, {}, {"--processes=3"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--processes=3"));
  EXPECT_EQ(Count(r->argv, "--processes"), 1);
  r = InProcessReplica(8, {{"inferd.io/processes", "2"}}, {"--processes=3"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("inferd.io/processes"), std::string::npos);
  EXPECT_NE(r.status().message().find("--processes 3"), std::string::npos) << r.status().message();
}

TEST(ReplicaProcessesTest, NativeRepositoriesAndOtherComponentsAreUnchanged) {
  // A native model: threads, no GIL.
  resources::ComponentSpec spec;
  spec.format = "sklearn";
  spec.annotations = {{"inferd.io/processes", "4"}};
  ReplicaCommandInput in = Input(&spec, SklearnRuntime());
  in.uds_path = "/run/r1.sock";
  in.cores = 8;
  auto r = BuildReplicaSpec(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Count(r->argv, "--processes"), 0);
  EXPECT_TRUE(ServesUds(*r));
  // A repository (KServe's TorchServe collocation: --model-store): each process would load its own.
  r = InProcessReplica(8, {}, {"--model-store=/mnt/models/store"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Count(r->argv, "--processes"), 0);
  // A transformer of its own: one process, as before.
  resources::ComponentSpec t = Transformer({"python", "-m", "image_transformer"}, {});
  ReplicaCommandInput tin = Input(&t, nullptr);
  tin.predictor_host = "sklearn-iris-predictor.default";
  tin.cores = 8;
  r = BuildReplicaSpec(tin);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(Count(r->argv, "--processes"), 0);
  // A predictor whose own args run Python in inferd model-server: the same processes as an in-process one.
  resources::ComponentSpec custom;
  resources::ContainerSpec c;
  c.command = {"inferd", "model-server"};
  c.args = {"--python=/app/model.py", "--model_name=m"};
  custom.containers.push_back(c);
  ReplicaCommandInput cin = Input(&custom, nullptr);
  cin.cores = 3;
  r = BuildReplicaSpec(cin);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(Has(r->argv, "--processes=3"));
}

}  // namespace inferd::control
