// control/api_tls.h: HTTPS for `inferd serve`'s API: which names the server certificate covers, where the
// certificate comes from (generated into DATA_DIR/pki, or given by flags), and DATA_DIR/kubeconfig, which
// kubectl and the Kubernetes Python client (KServe's KServeClient) use as it is.
//
// Contract:
// - ApiCertSans (pure): localhost, 127.0.0.1, ::1, the bound host when it is a specific address, and, when it
//   is a wildcard (0.0.0.0, ::), the machine's own addresses `local_addrs` (so a remote kubectl can verify
//   any of them against the CA); no duplicates.
// - KubeconfigFor (pure): a kubeconfig (apiVersion v1, kind Config) with cluster `inferd` {server,
//   certificate-authority-data: base64 of the CA's PEM}, user `inferd` {token}, context `inferd` {cluster,
//   user, namespace default}, current-context `inferd`.
// - SetUpApiTls (effects): with --tls_cert_file/--tls_private_key_file, checks those files (both or neither
//   must be given); otherwise keeps DATA_DIR/pki (net/certs.h EnsureServingCerts). Then writes
//   DATA_DIR/kubeconfig (mode 0600, replaced atomically; rewritten at every start: the port may change).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "net/certs.h"
#include "resources/resources.h"

namespace inferd::control {

std::vector<std::string> ApiCertSans(const std::string& api_host, const std::vector<std::string>& local_addrs);

struct KubeconfigInput {
  std::string server;  // https://127.0.0.1:PORT
  std::string ca_pem;
  std::string token;
  std::string ns = "default";
};
resources::Json KubeconfigFor(const KubeconfigInput& in);

struct ApiTlsFlags {
  std::string cert_file, key_file;  // --tls_cert_file, --tls_private_key_file (empty: generated)
};

// The certificates to serve with (before the API starts).
StatusOr<net::ServingCerts> SetUpApiCerts(const std::string& data_dir, const ApiTlsFlags& flags,
                                          const std::string& api_host, int64_t now_s);
// DATA_DIR/kubeconfig for the bound port (after the API started). Returns its path.
StatusOr<std::string> WriteKubeconfig(const std::string& data_dir, const KubeconfigInput& in);

// The host part of the API's URLs for a bind address: a wildcard becomes 127.0.0.1, an IPv6 literal is
// bracketed. ApiReachedOverLoopback: the CLI on this machine connects from a loopback address (so plain HTTP
// is open to it).
std::string ApiUrlHost(const std::string& api_host);
bool ApiReachedOverLoopback(const std::string& api_host);

// This machine's interface addresses (getifaddrs), loopback excluded.
std::vector<std::string> LocalAddresses();

}  // namespace inferd::control
