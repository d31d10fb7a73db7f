// KubeClient over HTTPS: the CA and the client certificate given as PEM bytes (kubeconfig's *-data
// fields), against a real TLS server (Python's ssl module, requiring a client certificate signed by a CA
// made here with the openssl command).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kube/client.h"
#include "resources/secrets.h"

namespace inferd::kube {
namespace {

const Gvr kWidgets{"example.com", "v1", "widgets", true};

const char* kServer = R"(
import http.server, json, ssl, sys
d = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"kind": "WidgetList", "apiVersion": "example.com/v1", "metadata": {"resourceVersion": "5"},
                           "items": [], "auth": self.headers.get("Authorization", "")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(d + "/server.crt", d + "/server.key")
ctx.load_verify_locations(d + "/ca.crt")
ctx.verify_mode = ssl.CERT_REQUIRED
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
)";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/kube_tls_XXXXXX";
    dir_ = new std::string(::mkdtemp(tmpl));
    const std::string d = *dir_;
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script =
        "cd " + d + " && exec >openssl.log 2>&1 && set -e && "
        "openssl req -x509 " + ec + " -keyout ca.key -out ca.crt -days 2 -subj /CN=kube-test-ca && "
        "openssl req " + ec + " -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
        "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
        "-extfile san.ext && "
        "openssl req " + ec + " -keyout client.key -out client.csr -subj /CN=kube-client && "
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2";
    if (std::system(("bash -c \"" + script + "\"").c_str()) != 0) return;  // SetUp reports it
    std::ofstream(d + "/server.py") << kServer;
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      dup2(fds[1], 1);
      close(fds[0]);
      execl("/usr/bin/python3", "python3", (d + "/server.py").c_str(), d.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    FILE* f = fdopen(fds[0], "r");
    char line[64] = {0};
    if (f && std::fgets(line, sizeof line, f)) port_ = std::atoi(line);
    if (f) fclose(f);
  }
  static void TearDownTestSuite() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (dir_) std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override { ASSERT_GT(port_, 0) << "TLS test server did not start: " << ReadAll(*dir_ + "/openssl.log"); }

  KubeConfig Base() const {
    KubeConfig c;
    c.server = "https://127.0.0.1:" + std::to_string(port_);
    c.ca_data = ReadAll(*dir_ + "/ca.crt");
    c.client_cert_data = ReadAll(*dir_ + "/client.crt");
    c.client_key_data = ReadAll(*dir_ + "/client.key");
    c.token = "tls-token";
    c.connect_timeout_s = 5;
    c.request_timeout_s = 10;
    return c;
  }

  static std::string* dir_;
  static pid_t pid_;
  static int port_;
};

std::string* TlsTest::dir_ = nullptr;
pid_t TlsTest::pid_ = -1;
int TlsTest::port_ = 0;

TEST_F(TlsTest, CaAndClientCertificateAsPemBytes) {
  Result<Json> r = KubeClient(Base()).List(kWidgets, "ns");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["auth"], "Bearer tls-token");
}

TEST_F(TlsTest, CaAndClientCertificateAsFiles) {
  KubeConfig c = Base();
  c.ca_data.clear();
  c.client_cert_data.clear();
  c.client_key_data.clear();
  c.ca_file = *dir_ + "/ca.crt";
  c.client_cert_file = *dir_ + "/client.crt";
  c.client_key_file = *dir_ + "/client.key";
  Result<Json> r = KubeClient(c).List(kWidgets, "ns");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

TEST_F(TlsTest, UnknownCaOrMissingClientCertificateFailsAsTransport) {
  KubeConfig no_ca = Base();
  no_ca.ca_data.clear();  // the system roots do not know the test CA
  Result<Json> r = KubeClient(no_ca).List(kWidgets, "ns");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code, 0);
  EXPECT_EQ(r.status().reason, "Transport");

  KubeConfig no_client = Base();
  no_client.client_cert_data.clear();
  no_client.client_key_data.clear();
  EXPECT_EQ(KubeClient(no_client).List(kWidgets, "ns").status().code, 0);

  KubeConfig insecure = Base();
  insecure.ca_data.clear();
  insecure.insecure_skip_tls_verify = true;
  EXPECT_TRUE(KubeClient(insecure).List(kWidgets, "ns").ok());
}

TEST_F(TlsTest, FromAKubeconfigWithDataFields) {
  const KubeConfig b = Base();
  const std::string yaml = "current-context: c\n"
                           "clusters: [{name: k, cluster: {server: \"" + b.server + "\", certificate-authority-data: " +
                           resources::Base64Encode(b.ca_data) + "}}]\n"
                           "users: [{name: u, user: {token: from-kubeconfig, client-certificate-data: " +
                           resources::Base64Encode(b.client_cert_data) + ", client-key-data: " +
                           resources::Base64Encode(b.client_key_data) + "}}]\n"
                           "contexts: [{name: c, context: {cluster: k, user: u}}]\n";
  StatusOr<KubeConfig> c = ParseKubeConfig(yaml);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ca_data, b.ca_data);
  EXPECT_EQ(c->client_key_data, b.client_key_data);
  Result<Json> r = KubeClient(*c).List(kWidgets, "ns");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["auth"], "Bearer from-kubeconfig");
}

}  // namespace
}  // namespace inferd::kube
