// net/certs.h: the CA and server certificate of the HTTPS API: generation, SANs, reuse, regeneration, modes;
// and net/tls.h's pure parts (which peers get plain HTTP, a context from the generated files).
#include "net/certs.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "net/tls.h"

namespace inferd::net {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kDay = 86400;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

unsigned Mode(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

bool Has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// OpenSSL's own verification of `cert` against `ca` for `host` (what a client does), at time `at`.
bool Verifies(const std::string& ca_pem, const std::string& cert_pem, const std::string& ip, int64_t at) {
  BIO* cb = BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size()));
  BIO* sb = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  X509* ca = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  X509* cert = PEM_read_bio_X509(sb, nullptr, nullptr, nullptr);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set1_ip_asc(param, ip.c_str());
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(at));
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(ca);
  X509_free(cert);
  BIO_free(cb);
  BIO_free(sb);
  return ok;
}

class CertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("inferd-certs-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  const std::vector<std::string> sans_ = {"localhost", "127.0.0.1", "::1"};
};

TEST_F(CertsTest, IssuedCertificateHasTheSansAndVerifiesAgainstTheCa) {
  const int64_t now = Now();
  auto ca = GenerateCa("inferd-ca", now);
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  EXPECT_EQ(CheckCa(*ca, now), "");
  auto server = IssueServerCert(*ca, {"localhost", "127.0.0.1", "::1", "10.1.2.3", "api.example"}, now);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto sans = CertSans(server->cert);
  EXPECT_TRUE(Has(sans, "DNS:localhost"));
  EXPECT_TRUE(Has(sans, "IP:127.0.0.1"));
  EXPECT_TRUE(Has(sans, "IP:::1"));
  EXPECT_TRUE(Has(sans, "IP:10.1.2.3"));
  EXPECT_TRUE(Has(sans, "DNS:api.example"));
  EXPECT_EQ(sans.size(), 5u);
  EXPECT_TRUE(Verifies(ca->cert, server->cert, "127.0.0.1", now));
  EXPECT_TRUE(Verifies(ca->cert, server->cert, "::1", now));
  EXPECT_FALSE(Verifies(ca->cert, server->cert, "10.9.9.9", now));  // not in the SANs
  auto other_ca = GenerateCa("other", now);
  ASSERT_TRUE(other_ca.ok());
  EXPECT_FALSE(Verifies(other_ca->cert, server->cert, "127.0.0.1", now));
  EXPECT_EQ(CheckServerCert(*server, ca->cert, {"127.0.0.1", "api.example"}, now), "");
  EXPECT_EQ(CheckServerCert(*server, ca->cert, {"10.9.9.9"}, now), "no subjectAltName for 10.9.9.9");
  EXPECT_EQ(CheckServerCert(*server, other_ca->cert, sans_, now), "not signed by the current CA");
  // Valid for a year, renewed 30 days before its end; the CA for ten.
  EXPECT_EQ(CheckServerCert(*server, ca->cert, sans_, now + 300 * kDay), "");
  EXPECT_EQ(CheckServerCert(*server, ca->cert, sans_, now + 340 * kDay), "expires within 30 days");
  EXPECT_EQ(CheckServerCert(*server, ca->cert, sans_, now + 400 * kDay), "expired");
  EXPECT_EQ(CheckCa(*ca, now + 3000 * kDay), "");
  EXPECT_EQ(CheckCa(*ca, now + 3700 * kDay), "expired");
}

TEST_F(CertsTest, BrokenInputsAreReasonsNotCrashes) {
  const int64_t now = Now();
  auto ca = GenerateCa("inferd-ca", now);
  auto server = IssueServerCert(*ca, sans_, now);
  ASSERT_TRUE(ca.ok() && server.ok());
  EXPECT_EQ(CheckCa({"garbage", ca->key}, now), "unparsable");
  EXPECT_EQ(CheckCa({ca->cert, server->key}, now), "the key does not match the certificate");
  EXPECT_EQ(CheckCa({server->cert, server->key}, now), "not a CA certificate");
  EXPECT_EQ(CheckServerCert({server->cert, ""}, ca->cert, sans_, now), "unparsable");
  EXPECT_EQ(CheckServerCert({server->cert, ca->key}, ca->cert, sans_, now), "the key does not match the certificate");
  EXPECT_EQ(CheckServerCert(*server, "not pem", sans_, now), "not signed by the current CA");
  EXPECT_TRUE(CertSans("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").empty());
  EXPECT_FALSE(IssueServerCert({"x", "y"}, sans_, now).ok());
}

TEST_F(CertsTest, EnsureGeneratesOnceThenReusesWithPrivateKeys) {
  const int64_t now = Now();
  auto first = EnsureServingCerts(dir_.string(), sans_, now);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  for (const char* key : {"ca.key", "apiserver.key"}) EXPECT_EQ(Mode(dir_ / key), 0600u) << key;
  for (const char* crt : {"ca.crt", "apiserver.crt"}) EXPECT_EQ(Mode(dir_ / crt), 0644u) << crt;
  EXPECT_EQ(Mode(dir_), 0700u);
  EXPECT_EQ(first->ca_pem, Read(dir_ / "ca.crt"));
  EXPECT_EQ(first->cert_file, (dir_ / "apiserver.crt").string());
  const std::string cert = Read(dir_ / "apiserver.crt"), ca = Read(dir_ / "ca.crt");
  // A later start reuses both.
  auto again = EnsureServingCerts(dir_.string(), sans_, now + kDay);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Read(dir_ / "apiserver.crt"), cert);
  EXPECT_EQ(Read(dir_ / "ca.crt"), ca);
  // A new bound address: same CA, a new server certificate that covers it.
  std::vector<std::string> wider = sans_;
  wider.push_back("192.0.2.7");
  ASSERT_TRUE(EnsureServingCerts(dir_.string(), wider, now + kDay).ok());
  EXPECT_EQ(Read(dir_ / "ca.crt"), ca);
  EXPECT_NE(Read(dir_ / "apiserver.crt"), cert);
  EXPECT_TRUE(Has(CertSans(Read(dir_ / "apiserver.crt")), "IP:192.0.2.7"));
  // Close to its end (a start 340 days later): renewed, CA kept.
  const std::string before = Read(dir_ / "apiserver.crt");
  ASSERT_TRUE(EnsureServingCerts(dir_.string(), wider, now + 340 * kDay).ok());
  EXPECT_NE(Read(dir_ / "apiserver.crt"), before);
  EXPECT_EQ(Read(dir_ / "ca.crt"), ca);
}

TEST_F(CertsTest, EnsureRegeneratesWhatIsMissingOrUnparsable) {
  const int64_t now = Now();
  ASSERT_TRUE(EnsureServingCerts(dir_.string(), sans_, now).ok());
  const std::string cert = Read(dir_ / "apiserver.crt"), ca = Read(dir_ / "ca.crt");
  fs::remove(dir_ / "apiserver.key");
  ASSERT_TRUE(EnsureServingCerts(dir_.string(), sans_, now).ok());
  EXPECT_NE(Read(dir_ / "apiserver.crt"), cert);
  EXPECT_EQ(Read(dir_ / "ca.crt"), ca);
  EXPECT_EQ(Mode(dir_ / "apiserver.key"), 0600u);
  // A corrupt CA: a new CA, and the server certificate follows it.
  std::ofstream(dir_ / "ca.crt", std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nbroken\n";
  auto r = EnsureServingCerts(dir_.string(), sans_, now);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(Read(dir_ / "ca.crt"), ca);
  EXPECT_TRUE(Verifies(Read(dir_ / "ca.crt"), Read(dir_ / "apiserver.crt"), "127.0.0.1", now));
  EXPECT_EQ(CheckServerCert({Read(dir_ / "apiserver.crt"), Read(dir_ / "apiserver.key")}, r->ca_pem, sans_, now), "");
}

TEST_F(CertsTest, FlagGivenFilesAreCheckedAndTheChainsLastCertificateIsTheCa) {
  const int64_t now = Now();
  auto ca = GenerateCa("my-ca", now);
  auto server = IssueServerCert(*ca, sans_, now);
  ASSERT_TRUE(ca.ok() && server.ok());
  fs::create_directories(dir_);
  std::ofstream(dir_ / "chain.crt") << server->cert << ca->cert;
  std::ofstream(dir_ / "server.key") << server->key;
  std::ofstream(dir_ / "other.key") << ca->key;
  auto loaded = LoadServingCerts((dir_ / "chain.crt").string(), (dir_ / "server.key").string(), now);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->ca_pem, ca->cert);
  auto mismatch = LoadServingCerts((dir_ / "chain.crt").string(), (dir_ / "other.key").string(), now);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("does not match"), std::string::npos);
  EXPECT_FALSE(LoadServingCerts((dir_ / "absent.crt").string(), (dir_ / "server.key").string(), now).ok());
  EXPECT_FALSE(LoadServingCerts((dir_ / "chain.crt").string(), (dir_ / "server.key").string(), now + 400 * kDay).ok());
  // The same files make a server context; a mismatched key does not.
  EXPECT_TRUE(MakeServerTlsContext((dir_ / "chain.crt").string(), (dir_ / "server.key").string()).ok());
  EXPECT_FALSE(MakeServerTlsContext((dir_ / "chain.crt").string(), (dir_ / "other.key").string()).ok());
}

TEST(PlainHttpAllowedTest, LoopbackPeersOnly) {
  namespace ip = boost::asio::ip;
  EXPECT_TRUE(PlainHttpAllowed(ip::make_address("127.0.0.1")));
  EXPECT_TRUE(PlainHttpAllowed(ip::make_address("127.3.4.5")));
  EXPECT_TRUE(PlainHttpAllowed(ip::make_address("::1")));
  EXPECT_TRUE(PlainHttpAllowed(ip::make_address("::ffff:127.0.0.1")));
  EXPECT_FALSE(PlainHttpAllowed(ip::make_address("10.0.0.1")));
  EXPECT_FALSE(PlainHttpAllowed(ip::make_address("::ffff:10.0.0.1")));
  EXPECT_FALSE(PlainHttpAllowed(ip::make_address("fe80::1")));
  EXPECT_FALSE(PlainHttpAllowed(ip::make_address("0.0.0.0")));
}

}  // namespace
}  // namespace inferd::net
