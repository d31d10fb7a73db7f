// The `inferd operator` binary against the fake Kubernetes API server (a TEST DOUBLE, running in this test's
// process; the binary reaches it over HTTP through a kubeconfig): it starts, reconciles the sklearn sample,
// answers its health port, and stops on SIGTERM with exit 0. Also `--print-rbac`.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "kube/fake_api_server.h"
#include "operator/controller.h"
#include "operator/rbac.h"
#include "util/test_util.h"

namespace inferd::op {
namespace {

// Runs argv with stdout+stderr into a file; returns the pid.
int Spawn(const std::vector<std::string>& args, const std::string& out_file) {
  const int pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int fd = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

int FreePort() {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

bool WaitFor(const std::function<bool()>& cond, int seconds = 60) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

TEST(OperatorCommand, PrintRbacIsTheRuleList) {
  const std::string out = ::testing::TempDir() + "/rbac.json";
  const int pid = Spawn({inferd::testing::InferdBin(), "operator", "--print-rbac"}, out);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(Json::parse(ReadFile(out)), RbacJson());
}

TEST(OperatorCommand, RunsAgainstTheFakeApiServer) {
  kube::testing::FakeApiServer fake;
  fake.RegisterKind(kube::Gvr{"serving.kserve.io", "v1alpha1", "clusterservingruntimes", false}, "ClusterServingRuntime");
  const std::string dir = ::testing::TempDir() + "/operator_cmd_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/kubeconfig") << "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
                                        "clusters:\n- name: fake\n  cluster:\n    server: " << fake.url() << "\n"
                                        "users:\n- name: u\n  user:\n    token: t\n"
                                        "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: u\n    namespace: default\n";
  const int health = FreePort();
  const std::string out = dir + "/out.txt";
  const int pid = Spawn({inferd::testing::InferdBin(), "operator", "--kubeconfig", dir + "/kubeconfig", "--leader_elect=true",
                         "--health_port", std::to_string(health), "--health_host", "127.0.0.1"},
                        out);
  ASSERT_TRUE(WaitFor([&] { return ReadFile(out).find("inferd operator watching") != std::string::npos; })) << ReadFile(out);
  kube::KubeClient client(fake.Config());
  auto created = client.Create(IsvcGvr(), "default", Json::parse(R"({"apiVersion":"serving.kserve.io/v1beta1",
      "kind":"InferenceService","metadata":{"name":"sklearn-iris","namespace":"default"},
      "spec":{"predictor":{"model":{"modelFormat":{"name":"sklearn"},"storageUri":"gs://b/m"}}}})"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(WaitFor([&] { return fake.Object(kube::Gvr{"apps", "v1", "deployments", true}, "default", "sklearn-iris-predictor").has_value(); }))
      << ReadFile(out);
  EXPECT_TRUE(WaitFor([&] { return inferd::testing::HttpGet(health, "/readyz").status == 200; }));
  EXPECT_EQ(inferd::testing::HttpGet(health, "/healthz").status, 200);
  EXPECT_EQ(inferd::testing::HttpGet(health, "/nope").status, 404);
  auto lease = fake.Object(kube::Gvr{"coordination.k8s.io", "v1", "leases", true}, "default", "inferd-operator-leader");
  EXPECT_TRUE(lease.has_value());
  kill(pid, SIGTERM);
  int status = 0;
  bool exited = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 30);
  if (!exited) kill(-pid, SIGKILL), waitpid(pid, &status, 0);
  ASSERT_TRUE(exited) << ReadFile(out);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(out);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace inferd::op
