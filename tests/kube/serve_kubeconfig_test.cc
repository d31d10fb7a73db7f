// KubeClient against a real `inferd serve` (its Kubernetes-shaped API), configured from a kubeconfig
// with the server's bearer token: DATA_DIR/kubeconfig when serve writes one (HTTPS with its CA), else a
// kubeconfig written here for the plain-HTTP API with the token from DATA_DIR/token.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "kube/client.h"

namespace inferd::kube {
namespace {

const Gvr kIsvc{"serving.kserve.io", "v1beta1", "inferenceservices", true};

// `inferd serve` on ephemeral ports in its own data dir; killed (process group) at the end.
class Serve {
 public:
  explicit Serve(const std::string& data_dir) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      dup2(fds[1], 1);
      dup2(fds[1], 2);
      close(fds[0]);
      execl(INFERD_BIN, INFERD_BIN, "serve", "--data_dir", data_dir.c_str(), "--http_port", "0", "--grpc_port", "0",
            "--api_port", "0", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
    char line[4096];
    const std::regex re("api_port=(\\d+)");
    while (out_ && std::fgets(line, sizeof line, out_)) {  // serve prints the line within seconds, or exits
      log_ += line;
      std::cmatch m;
      if (std::strstr(line, "inferd serve listening") && std::regex_search(line, m, re)) {
        api_port_ = std::stoi(m[1].str());
        break;
      }
    }
  }
  ~Serve() {
    if (pid_ > 0) {
      kill(-pid_, SIGTERM);
      int st = 0;
      for (int i = 0; i < 300 && waitpid(pid_, &st, WNOHANG) == 0; ++i) usleep(100000);
      kill(-pid_, SIGKILL);
      waitpid(pid_, &st, 0);
    }
    if (out_) fclose(out_);  // after the child is gone: nothing blocks on a full pipe
  }
  int api_port() const { return api_port_; }
  const std::string& log() const { return log_; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  int api_port_ = 0;
  std::string log_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ServeKubeconfig, ClientWithTheTokenListsCreatesGetsAndDeletes) {
  char tmpl[] = "/tmp/kube_serve_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string data = dir + "/data";
  {
    Serve serve(data);
    ASSERT_GT(serve.api_port(), 0) << serve.log();
    std::string token = ReadAll(data + "/token");
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    ASSERT_FALSE(token.empty());

    std::string kubeconfig = data + "/kubeconfig";
    if (!std::filesystem::exists(kubeconfig)) {  // plain-HTTP API: write the equivalent one
      kubeconfig = dir + "/kubeconfig";
      std::ofstream(kubeconfig) << "apiVersion: v1\nkind: Config\ncurrent-context: inferd\n"
                                << "clusters:\n- name: inferd\n  cluster:\n    server: http://127.0.0.1:"
                                << serve.api_port() << "\n"
                                << "users:\n- name: inferd\n  user:\n    token: " << token << "\n"
                                << "contexts:\n- name: inferd\n  context: {cluster: inferd, user: inferd}\n";
    }
    StatusOr<KubeConfig> cfg = LoadKubeConfigFile(kubeconfig);
    ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
    EXPECT_EQ(cfg->token, token);
    KubeClient client(*cfg);

    Result<Json> list = client.List(kIsvc, "default");
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    EXPECT_TRUE((*list)["items"].is_array());
    EXPECT_FALSE((*list)["metadata"].value("resourceVersion", "").empty());

    Result<Json> missing = client.Get(kIsvc, "default", "nope");
    EXPECT_EQ(missing.status().code, 404);
    EXPECT_EQ(missing.status().reason, "NotFound");

    Json isvc = {{"apiVersion", "serving.kserve.io/v1beta1"},
                 {"kind", "InferenceService"},
                 {"metadata", {{"name", "kube-client"}}},
                 {"spec", {{"predictor", {{"model", {{"modelFormat", {{"name", "sklearn"}}},
                                                     {"storageUri", "file:///nonexistent/model"}}}}}}}};
    Result<Json> created = client.Create(kIsvc, "default", isvc);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    Result<Json> again = client.Create(kIsvc, "default", isvc);
    EXPECT_TRUE(again.status().IsAlreadyExists()) << again.status().ToString();
    Result<Json> got = client.Get(kIsvc, "default", "kube-client");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ((*got)["metadata"]["name"], "kube-client");
    Result<Json> deleted = client.Delete(kIsvc, "default", "kube-client", DeleteOptions{"Background", {}, {}});
    EXPECT_TRUE(deleted.ok()) << deleted.status().ToString();

    KubeConfig anonymous = *cfg;
    anonymous.token.clear();
    anonymous.token_file.clear();
    EXPECT_EQ(KubeClient(anonymous).List(kIsvc, "default").status().code, 401);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace inferd::kube
