// control/api_tls.h: the names the API's certificate covers, the URLs serve publishes, the kubeconfig.
#include "control/api_tls.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "resources/secrets.h"

namespace inferd::control {
namespace {

using V = std::vector<std::string>;

TEST(ApiCertSansTest, LoopbackNamesThenTheBoundAddressOrTheMachines) {
  EXPECT_EQ(ApiCertSans("127.0.0.1", {"10.0.0.2"}), (V{"localhost", "127.0.0.1", "::1"}));
  EXPECT_EQ(ApiCertSans("10.0.0.5", {"10.0.0.2"}), (V{"localhost", "127.0.0.1", "::1", "10.0.0.5"}));
  EXPECT_EQ(ApiCertSans("0.0.0.0", {"10.0.0.2", "fd00::7", "127.0.0.1"}),
            (V{"localhost", "127.0.0.1", "::1", "10.0.0.2", "fd00::7"}));
  EXPECT_EQ(ApiCertSans("::", {}), (V{"localhost", "127.0.0.1", "::1"}));
}

TEST(ApiUrlTest, HostsAndWhoGetsPlainHttp) {
  EXPECT_EQ(ApiUrlHost("0.0.0.0"), "127.0.0.1");
  EXPECT_EQ(ApiUrlHost("::"), "127.0.0.1");
  EXPECT_EQ(ApiUrlHost("10.0.0.5"), "10.0.0.5");
  EXPECT_EQ(ApiUrlHost("::1"), "[::1]");
  EXPECT_TRUE(ApiReachedOverLoopback("127.0.0.1"));
  EXPECT_TRUE(ApiReachedOverLoopback("0.0.0.0"));
  EXPECT_TRUE(ApiReachedOverLoopback("localhost"));
  EXPECT_TRUE(ApiReachedOverLoopback("::1"));
  EXPECT_FALSE(ApiReachedOverLoopback("10.0.0.5"));
}

TEST(KubeconfigTest, ClusterUserContextAsKubectlReadsThem) {
  auto kc = KubeconfigFor({"https://127.0.0.1:8090", "-----BEGIN CERTIFICATE-----\nX\n", "tok"});
  EXPECT_EQ(kc["apiVersion"], "v1");
  EXPECT_EQ(kc["kind"], "Config");
  EXPECT_EQ(kc["current-context"], "inferd");
  const auto& cluster = kc["clusters"][0];
  EXPECT_EQ(cluster["name"], "inferd");
  EXPECT_EQ(cluster["cluster"]["server"], "https://127.0.0.1:8090");
  auto ca = resources::Base64Decode(cluster["cluster"]["certificate-authority-data"].get<std::string>());
  ASSERT_TRUE(ca.ok());
  EXPECT_EQ(*ca, "-----BEGIN CERTIFICATE-----\nX\n");
  EXPECT_FALSE(cluster["cluster"].contains("insecure-skip-tls-verify"));  // client-go rejects it with a CA
  EXPECT_EQ(kc["users"][0]["name"], "inferd");
  EXPECT_EQ(kc["users"][0]["user"]["token"], "tok");
  EXPECT_EQ(kc["contexts"][0]["context"]["cluster"], "inferd");
  EXPECT_EQ(kc["contexts"][0]["context"]["user"], "inferd");
  EXPECT_EQ(kc["contexts"][0]["context"]["namespace"], "default");
}

TEST(SetUpApiCertsTest, FlagsGoTogether) {
  auto st = SetUpApiCerts("/nonexistent", {"/x.crt", ""}, "127.0.0.1", 0);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("--tls_private_key_file"), std::string::npos);
}

}  // namespace
}  // namespace inferd::control
