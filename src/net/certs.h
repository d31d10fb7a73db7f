// net/certs.h: the certificates of `inferd serve`'s HTTPS API (OpenSSL's C API): a private CA and a server
// certificate it signs, generated into a directory on first start and reused afterwards.
//
// Contract:
// - GenerateCa makes an ECDSA P-256 key and a self-signed CA certificate (basicConstraints CA:TRUE,
//   keyUsage keyCertSign+cRLSign) valid from now-1h for kCaValidityDays. IssueServerCert makes a new P-256
//   key and a certificate signed by `ca` (basicConstraints CA:FALSE, keyUsage digitalSignature,
//   extendedKeyUsage serverAuth) valid for kServerValidityDays, whose subjectAltName lists every entry of
//   `sans`: an entry that parses as an IPv4/IPv6 address is an IP SAN, any other a DNS SAN (Go's verifier,
//   i.e. kubectl, ignores the CN).
// - CheckServerCert decides, from the PEM texts, `sans` and the time alone (no I/O), why a stored
//   certificate must be replaced: "" when it is fine, else the reason (unparsable, key mismatch, not signed
//   by the CA, expired or expiring within kRenewBeforeDays, a SAN missing). CheckCa does the same for a CA.
// - EnsureServingCerts(dir, sans, now) keeps DIR/ca.crt, ca.key, apiserver.crt, apiserver.key: each pair
//   that is missing, unparsable, expired (or close to it) or no longer covering `sans` is regenerated (a new
//   CA also renews the server certificate), with a log line saying why; a valid pair is reused. Keys are
//   written with mode 0600 (a new file, renamed into place), certificates 0644; DIR is created 0700.
// - LoadServingCerts checks a certificate and key given by flags (they must parse and match); the CA that
//   clients are told to trust (kubeconfig) is the last certificate of the file (a chain ends with its
//   issuer; a lone self-signed certificate is its own).
// - Errors are values; nothing here throws.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace inferd::net {

inline constexpr int kCaValidityDays = 3650;
inline constexpr int kServerValidityDays = 365;
inline constexpr int kRenewBeforeDays = 30;

struct PemPair {
  std::string cert;  // PEM certificate (or chain)
  std::string key;   // PEM private key (PKCS#8)
};

StatusOr<PemPair> GenerateCa(const std::string& common_name, int64_t now_s);
StatusOr<PemPair> IssueServerCert(const PemPair& ca, const std::vector<std::string>& sans, int64_t now_s);

std::string CheckCa(const PemPair& ca, int64_t now_s);
std::string CheckServerCert(const PemPair& server, const std::string& ca_cert, const std::vector<std::string>& sans,
                            int64_t now_s);

// The SAN entries of a PEM certificate ("DNS:localhost", "IP:127.0.0.1", "IP:::1"); empty if unparsable.
std::vector<std::string> CertSans(const std::string& cert_pem);

struct ServingCerts {
  std::string cert_file, key_file;  // the server's certificate (chain) and key
  std::string ca_pem;               // what clients trust: certificate-authority-data of the kubeconfig
  std::string ca_file;              // that CA as a file (DIR/ca.crt, or empty for flag-given files)
};

StatusOr<ServingCerts> EnsureServingCerts(const std::string& dir, const std::vector<std::string>& sans,
                                          int64_t now_s);
// Writes `text` to a new file created with `mode` (umask ignored), then renames it over `path`: a reader sees
// the old text or the new one. (Also the kubeconfig's writer.)
Status WriteFileReplacing(const std::string& path, const std::string& text, unsigned mode);

StatusOr<ServingCerts> LoadServingCerts(const std::string& cert_file, const std::string& key_file, int64_t now_s);

}  // namespace inferd::net
