// `inferd model-server` started with the arguments KServe's model servers and runtimes pass: it must
// start, serve, and say what it does with each flag (honoured, ignored with a reason, or unknown), never
// crash or exit over one. The flag lists are KServe's: python/kserve/kserve/model_server.py (every KServe
// server's parent parser), python/*server/*/__main__.py and config/runtimes/*.yaml.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "util/test_util.h"

namespace inferd::testing {
namespace {

namespace fs = std::filesystem;

const std::string kIris = R"({"instances":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]})";

std::vector<std::string> Iris(std::vector<std::string> extra) {
  std::vector<std::string> args = {"--model_name", "iris", "--model_dir", ModelsDir() + "/xgb_iris_softmax"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Runs `inferd model-server ARGS` to its exit (for flags refused at start); returns the exit code and the output.
int RunToExit(const std::string& args, std::string* output) {
  FILE* p = popen((InferdBin() + " model-server " + args + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ModelServerFlags, MemoryBudgetTakesKubernetesQuantitiesAndRefusesAnythingElse) {
  const std::string model =
      "--model_name iris --model_dir " + ModelsDir() + "/xgb_iris_softmax --http_port 0 --grpc_port 0";
  for (const std::string bad : {"12Qx", "-1", "1Zi", "lots", "0.5"}) {
    std::string out;
    EXPECT_EQ(RunToExit(model + " --memory_budget " + bad, &out), 2) << bad << ": " << out;
    EXPECT_NE(out.find("--memory_budget"), std::string::npos) << out;
  }
  for (const std::string bad : {"0", "-3", "4000"}) {
    std::string out;
    EXPECT_EQ(RunToExit(model + " --reload_timeout " + bad, &out), 2) << bad << ": " << out;
    EXPECT_NE(out.find("--reload_timeout"), std::string::npos) << out;
  }
  std::string error;
  auto s = ServerProcess::StartReady(Iris({"--memory_budget", "1Gi"}), &error);
  ASSERT_NE(s, nullptr) << error;
  EXPECT_EQ(HttpPost(s->http_port(), "/v1/models/iris:predict", kIris).status, 200);
  const std::string metrics = HttpGet(s->http_port(), "/metrics").body;
  EXPECT_NE(metrics.find("inferd_model_memory_resident_bytes{kind=\"budget\"} 1073741824"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("inferd_model_loads_total{model=\"iris\"} 1"), std::string::npos) << metrics;
  EXPECT_EQ(s->Terminate(), 0);
}

// The issue's crash: these four segfaulted while parsing.
TEST(ModelServerFlags, DocumentedCompatibilityFlagsNoLongerCrash) {
  for (const std::string flag : {"--enable_docs_url", "--protocol", "--predictor_host", "--http_protocol"}) {
    std::string error;
    auto s = ServerProcess::StartReady(Iris({flag, flag == "--enable_docs_url" ? "false" : "v2"}), &error);
    ASSERT_NE(s, nullptr) << flag << ": " << error;
    EXPECT_EQ(HttpPost(s->http_port(), "/v1/models/iris:predict", kIris).status, 200) << flag;
    EXPECT_EQ(Count(s->Output(), flag + ": accepted for KServe compatibility and ignored"), 1u) << s->Output();
    EXPECT_EQ(s->Terminate(), 0) << flag;
  }
}

// Every flag of KServe's model_server.py, in both spellings a runtime may use, plus the per-server ones.
TEST(ModelServerFlags, EveryKServeServerFlagIsAcceptedAndAccountedFor) {
  const std::vector<std::string> ignored = {
      "--max_asyncio_workers=4", "--enable_docs_url=true", "--enable_latency_logging", "true",
      "--configure_logging=false", "--log_config_file=/etc/log.yaml", "--access_log_format", "%(h)s",
      "--event-loop=uvloop", "--protocol=v2", "--predictor_protocol=v1",
      "--predictor_host=example:80", "--predictor_use_ssl=false", "--predictor_request_timeout_seconds=600",
      "--predictor_request_retries=0", "--enable_predictor_health_check", "--http_protocol=http1"};
  std::vector<std::string> honoured = {"--workers=2",
                                       "--max_threads=2",
                                       "--enable_grpc=true",
                                       "--grpc_max_send_message_length=8388608",
                                       "--grpc_max_receive_message_length=8388608",
                                       "--nthread=1",
                                       "--timeout-keep-alive",
                                       "65"};
  std::vector<std::string> args = Iris(honoured);
  args.insert(args.end(), ignored.begin(), ignored.end());
  std::string error;
  auto s = ServerProcess::StartReady(args, &error);
  ASSERT_NE(s, nullptr) << error;
  EXPECT_EQ(HttpPost(s->http_port(), "/v1/models/iris:predict", kIris).status, 200);
  const std::string out = s->Output();
  for (const std::string& a : ignored) {
    if (!a.starts_with("--")) continue;
    std::string flag = a.substr(0, a.find('='));
    EXPECT_EQ(Count(out, flag + ": accepted for KServe compatibility and ignored:"), 1u) << flag << "\n" << out;
  }
  EXPECT_NE(out.find("--nthread 1: intra-op threads per request"), std::string::npos) << out;
  EXPECT_NE(out.find("--timeout-keep-alive 65: keep-alive idle timeout 65 s"), std::string::npos) << out;
  EXPECT_EQ(out.find("does not know"), std::string::npos) << out;
}

TEST(ModelServerFlags, UnknownArgumentsAreWarnedAboutOnceAndIgnored) {
  std::string error;
  auto s = ServerProcess::StartReady(
      Iris({"--bogus", "1", "--bogus", "1", "--other=x", "-z", "stray", "--return_probabilities"}), &error);
  ASSERT_NE(s, nullptr) << error;
  EXPECT_EQ(HttpPost(s->http_port(), "/v1/models/iris:predict", kIris).status, 200);
  const std::string out = s->Output();
  EXPECT_EQ(Count(out, "does not know, ignored"), 1u) << out;
  EXPECT_NE(out.find("ignored: --bogus 1 --other=x -z stray --return_probabilities"), std::string::npos) << out;
}

TEST(ModelServerFlags, PredictiveServerFrameworkForcesTheFormat) {
  std::string error;
  auto s = ServerProcess::StartReady(Iris({"--framework=xgboost", "--nthread=1"}), &error);
  ASSERT_NE(s, nullptr) << error;
  EXPECT_NE(s->Output().find("--framework xgboost: model format xgboost"), std::string::npos) << s->Output();
  // sklearn forced on an XGBoost file: the model fails to load, with a reason (the server does not crash).
  auto t = ServerProcess::Start(Iris({"--framework=sklearn"}));
  ASSERT_NE(t, nullptr);
  std::string body;
  for (int i = 0; i < 250 && body.find("UNAVAILABLE") == std::string::npos; ++i) {
    body = HttpPost(t->http_port(), "/v2/repository/index", "").body;
    usleep(20000);
  }
  EXPECT_NE(body.find("format 'sklearn'"), std::string::npos) << body;
  // Not one of predictiveserver's choices: a start error naming them.
  EXPECT_EQ(ServerProcess::Start(Iris({"--framework=tensorflow"})), nullptr);
}

class Scratch {
 public:
  Scratch() : dir_(fs::temp_directory_path() / ("inferd_cli_" + std::to_string(::getpid()) + "_" + Name())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~Scratch() { fs::remove_all(dir_); }
  fs::path operator/(const std::string& p) const { return dir_ / p; }

 private:
  static std::string Name() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }
  fs::path dir_;
};

// kserve-torchserve.yaml: torchserve --start --model-store=/mnt/models/model-store --ts-config=...
// The store is served by inferd's TorchServe runtime (backends/torchserve/torchserve.h; archives that load are
// tested in tests/backends/torchserve/torchserve_server_test.py). Here no archive loads: the server stops with
// the archive's name and reason, and the config's keys inferd does not use are named.
TEST(ModelServerFlags, TorchServeRuntimeArgsServeTheStoreAndNameAnArchiveThatCannotLoad) {
  Scratch d;
  fs::create_directories(d / "model-store");
  fs::create_directories(d / "config");
  std::ofstream(d / "model-store" / "mnist.mar") << "PK";
  std::ofstream(d / "config" / "config.properties") << "inference_address=http://0.0.0.0:8085\n";
  std::string out;
  const int rc = RunToExit("torchserve --start --model-store=" + (d / "model-store").string() +
                               " --ts-config=" + (d / "config" / "config.properties").string() +
                               " --http_port 0 --grpc_port 0",
                           &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("mnist.mar: not a readable .mar (zip) archive"), std::string::npos) << out;
  EXPECT_NE(out.find("config.properties inference_address=http://0.0.0.0:8085: not used"), std::string::npos) << out;
  EXPECT_NE(out.find("--start: accepted for KServe compatibility and ignored"), std::string::npos) << out;
  EXPECT_EQ(out.find("--ts-config: accepted for KServe compatibility and ignored"), std::string::npos) << out;
  EXPECT_NE(out.find("'torchserve' (a runtime's own command word"), std::string::npos) << out;
}

// kserve-tritonserver.yaml: tritonserver --model-store=/mnt/models --grpc-port=9000 --http-port=8080 ...
// (the test's --http_port 0 / --grpc_port 0 win over Triton's spellings, as the replica command's do).
TEST(ModelServerFlags, TritonRuntimeArgsServeTheModelRepository) {
  Scratch d;
  fs::create_directories(d / "repo" / "iris" / "1");
  fs::copy_file(ModelsDir() + "/xgb_iris_softmax/model.bst", d / "repo" / "iris" / "1" / "model.bst");
  std::string error;
  auto s = ServerProcess::StartReady({"tritonserver", "--model-store=" + (d / "repo").string(), "--grpc-port=9000",
                                      "--http-port=8080", "--allow-grpc=true", "--allow-http=true"},
                                     &error);
  ASSERT_NE(s, nullptr) << error;
  EXPECT_NE(s->http_port(), 8080);
  EXPECT_EQ(HttpPost(s->http_port(), "/v1/models/iris:predict", kIris).status, 200);
  EXPECT_NE(s->Output().find("--allow-http: accepted for KServe compatibility and ignored"), std::string::npos);
}

}  // namespace
}  // namespace inferd::testing

namespace inferd::testing {
namespace {

// The first pid listed in /proc/<pid>/task/<pid>/children, or -1.
int FirstChild(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  int child = -1;
  in >> child;
  return child;
}

bool ProcessGone(int pid, int timeout_ms) {
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string s((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Gone, or a zombie (its parent, the server under test, has not reaped it yet: it exits right after).
    if (s.empty() || s.find(") Z ") != std::string::npos) return true;
    usleep(20 * 1000);
  }
  return false;
}

std::vector<std::string> InProcessTransformer(std::vector<std::string> extra) {
  std::vector<std::string> args = Iris({"--python", std::string(INFERD_SOURCE_DIR) + "/tests/data/passthrough_transformer.py",
                                        "--python_arg=--predictor_host=unused.invalid:1"});
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

TEST(ModelServerProcesses, RefusedWithoutPythonOrWithARepository) {
  const std::string model =
      "--model_name iris --model_dir " + ModelsDir() + "/xgb_iris_softmax --http_port 0 --grpc_port 0";
  std::string out;
  EXPECT_EQ(RunToExit(model + " --processes 2", &out), 2) << out;
  EXPECT_NE(out.find("--processes is for servers that run Python"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(RunToExit(model + " --processes 0", &out), 2) << out;
  EXPECT_NE(out.find("--processes must be between 1 and 64"), std::string::npos) << out;
}

// Two processes share the REST port: every answer is right, the first process passes every other new
// connection to the copy (net/conn_handoff.h), so their request counters, read over fresh connections, are
// the two halves of the total (give or take the one or two connections accepted before the first process
// read the copy's "ready"), and SIGTERM ends both.
TEST(ModelServerProcesses, TwoProcessesServeOnePortAndStopTogether) {
  std::string error;
  auto s = ServerProcess::StartReady(InProcessTransformer({"--processes", "2"}), &error);
  ASSERT_NE(s, nullptr) << error;
  int copy = -1;
  for (int i = 0; i < 100 && copy < 0; ++i, usleep(50 * 1000)) copy = FirstChild(s->pid());
  ASSERT_GT(copy, 0) << s->Output();
  // The copy listens once its models are loaded (it prints its own "listening" line); until then every
  // connection goes to the first process.
  for (int i = 0; i < 400 && Count(s->Output(), "inferd model-server listening") < 2; ++i) usleep(50 * 1000);
  ASSERT_EQ(Count(s->Output(), "inferd model-server listening"), 2u) << s->Output();
  const int n = 60;
  for (int i = 0; i < n; ++i) {
    auto r = HttpPost(s->http_port(), "/v1/models/iris:predict", kIris);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("predictions"), std::string::npos) << r.body;
  }
  std::set<long> seen;
  for (int i = 0; i < 24; ++i) {
    const std::string m = HttpGet(s->http_port(), "/metrics").body;
    const std::string key = "nv_inference_request_success{model=\"iris\",version=\"1\"} ";
    auto p = m.find(key);
    ASSERT_NE(p, std::string::npos) << m;
    seen.insert(std::stol(m.substr(p + key.size())));
  }
  if (seen.size() == 1) {
    EXPECT_EQ(*seen.begin(), n / 2) << "one process answered every request";
  } else {
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(*seen.begin() + *seen.rbegin(), n);
    EXPECT_LE(*seen.rbegin() - *seen.begin(), 2) << "not in turn";
  }
  EXPECT_EQ(s->Terminate(), 0) << s->Output();
  EXPECT_TRUE(ProcessGone(copy, 10000));
}

// The in-process predictor's model is released before exit: the server used to crash (SIGSEGV in libxgboost's
// destructor, run after its statics were gone) on every shutdown.
TEST(ModelServerProcesses, InProcessTransformerExitsCleanly) {
  std::string error;
  auto s = ServerProcess::StartReady(InProcessTransformer({}), &error);
  ASSERT_NE(s, nullptr) << error;
  EXPECT_EQ(HttpPost(s->http_port(), "/v1/models/iris:predict", kIris).status, 200);
  EXPECT_EQ(s->Terminate(), 0) << s->Output();
}

// A copy that dies takes the group down (exit 1), so that a supervisor restarts all of it.
TEST(ModelServerProcesses, ACopyThatDiesStopsTheServer) {
  std::string error;
  auto s = ServerProcess::StartReady(InProcessTransformer({"--processes", "2"}), &error);
  ASSERT_NE(s, nullptr) << error;
  int copy = -1;
  for (int i = 0; i < 100 && copy < 0; ++i, usleep(50 * 1000)) copy = FirstChild(s->pid());
  ASSERT_GT(copy, 0) << s->Output();
  kill(copy, SIGKILL);
  for (int i = 0; i < 400 && s->Alive(); ++i) usleep(50 * 1000);
  ASSERT_FALSE(s->Alive()) << s->Output();
  EXPECT_EQ(s->Terminate(), 1);
  EXPECT_NE(s->Output().find("ended by signal 9"), std::string::npos) << s->Output();
}

}  // namespace
}  // namespace inferd::testing
