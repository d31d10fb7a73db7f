#include "net/certs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/logging.h"

namespace inferd::net {

namespace {

namespace fs = std::filesystem;

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using Key = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Names = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

constexpr int64_t kDayS = 86400;

Key NewKey() { return Key(EVP_EC_gen("P-256")); }

Cert ParseCert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// Every certificate of a PEM text, in order.
std::vector<Cert> ParseChain(const std::string& pem) {
  std::vector<Cert> out;
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (bio) {
    Cert c(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!c) break;
    out.push_back(std::move(c));
  }
  return out;
}

Key ParseKey(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return Key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

StatusOr<PemPair> ToPem(X509* cert, EVP_PKEY* key) {
  Bio c(BIO_new(BIO_s_mem())), k(BIO_new(BIO_s_mem()));
  if (!c || !k || PEM_write_bio_X509(c.get(), cert) != 1 ||
      PEM_write_bio_PrivateKey(k.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Internal("tls: cannot encode a certificate as PEM");
  }
  return PemPair{BioText(c.get()), BioText(k.get())};
}

bool AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// subjectAltName built name by name (not from a config string, so no entry can inject another).
bool AddSans(X509* cert, const std::vector<std::string>& sans) {
  Names names(GENERAL_NAMES_new());
  if (!names) return false;
  for (const std::string& s : sans) {
    GENERAL_NAME* gen = GENERAL_NAME_new();
    if (gen == nullptr) return false;
    if (ASN1_OCTET_STRING* ip = a2i_IPADDRESS(s.c_str())) {
      GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
    } else {
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      if (dns == nullptr || ASN1_STRING_set(dns, s.data(), static_cast<int>(s.size())) != 1) {
        ASN1_IA5STRING_free(dns);
        GENERAL_NAME_free(gen);
        return false;
      }
      GENERAL_NAME_set0_value(gen, GEN_DNS, dns);
    }
    if (sk_GENERAL_NAME_push(names.get(), gen) == 0) {
      GENERAL_NAME_free(gen);
      return false;
    }
  }
  return X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) == 1;
}

// A certificate with a random 127-bit serial, the subject CN, validity [now-1h, now+days] and `key`'s public
// half; the caller adds extensions and signs.
Cert NewCert(const std::string& cn, EVP_PKEY* key, int days, int64_t now_s) {
  Cert cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) return nullptr;
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return nullptr;
  }
  time_t now = static_cast<time_t>(now_s);
  if (X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -3600, &now) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, &now) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return nullptr;
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                 -1, 0) != 1) {
    return nullptr;
  }
  return cert;
}

// "" when `cert` is valid at now_s and stays so for kRenewBeforeDays, else why not.
std::string CheckTimes(X509* cert, int64_t now_s) {
  time_t now = static_cast<time_t>(now_s);
  time_t renew = static_cast<time_t>(now_s + kRenewBeforeDays * kDayS);
  if (X509_cmp_time(X509_get0_notBefore(cert), &now) > 0) return "not valid yet";
  if (X509_cmp_time(X509_get0_notAfter(cert), &now) <= 0) return "expired";
  if (X509_cmp_time(X509_get0_notAfter(cert), &renew) <= 0) {
    return "expires within " + std::to_string(kRenewBeforeDays) + " days";
  }
  return "";
}

bool CoversSan(X509* cert, const std::string& san) {
  if (ASN1_OCTET_STRING* ip = a2i_IPADDRESS(san.c_str())) {
    ASN1_OCTET_STRING_free(ip);
    return X509_check_ip_asc(cert, san.c_str(), 0) == 1;
  }
  return X509_check_host(cert, san.data(), san.size(), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr) == 1;
}

std::string ReadFile(const std::string& path, bool* found) {
  std::ifstream in(path, std::ios::binary);
  *found = static_cast<bool>(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

Status WriteFileReplacing(const std::string& path, const std::string& text, unsigned mode) {
  std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Internal("cannot create " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fchmod(fd, mode) == 0 && ok;  // the umask may have narrowed it
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Internal("cannot write " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

namespace {

Status WritePair(const PemPair& p, const std::string& cert_file, const std::string& key_file) {
  RETURN_IF_ERROR(WriteFileReplacing(key_file, p.key, 0600));
  return WriteFileReplacing(cert_file, p.cert, 0644);
}

PemPair ReadPair(const std::string& cert_file, const std::string& key_file, bool* found) {
  bool c = false, k = false;
  PemPair p{ReadFile(cert_file, &c), ReadFile(key_file, &k)};
  *found = c && k;
  return p;
}

}  // namespace

StatusOr<PemPair> GenerateCa(const std::string& common_name, int64_t now_s) {
  Key key = NewKey();
  if (!key) return Internal("tls: cannot generate a P-256 key");
  Cert cert = NewCert(common_name, key.get(), kCaValidityDays, now_s);
  if (!cert || X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())) != 1 ||
      !AddExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !AddExt(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") ||
      !AddExt(cert.get(), cert.get(), NID_subject_key_identifier, "hash") ||
      X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return Internal("tls: cannot make the CA certificate");
  }
  return ToPem(cert.get(), key.get());
}

StatusOr<PemPair> IssueServerCert(const PemPair& ca, const std::vector<std::string>& sans, int64_t now_s) {
  Cert ca_cert = ParseCert(ca.cert);
  Key ca_key = ParseKey(ca.key);
  if (!ca_cert || !ca_key) return InvalidArgument("tls: the CA certificate or key does not parse");
  Key key = NewKey();
  if (!key) return Internal("tls: cannot generate a P-256 key");
  Cert cert = NewCert("inferd-apiserver", key.get(), kServerValidityDays, now_s);
  if (!cert || X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get())) != 1 ||
      !AddExt(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !AddExt(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature") ||
      !AddExt(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth") ||
      !AddExt(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always") ||
      !AddSans(cert.get(), sans) || X509_sign(cert.get(), ca_key.get(), EVP_sha256()) == 0) {
    return Internal("tls: cannot make the server certificate");
  }
  return ToPem(cert.get(), key.get());
}

std::string CheckCa(const PemPair& ca, int64_t now_s) {
  Cert cert = ParseCert(ca.cert);
  Key key = ParseKey(ca.key);
  if (!cert || !key) return "unparsable";
  if (X509_check_private_key(cert.get(), key.get()) != 1) return "the key does not match the certificate";
  if (X509_check_ca(cert.get()) < 1) return "not a CA certificate";
  if (X509_verify(cert.get(), key.get()) != 1) return "not self-signed";
  return CheckTimes(cert.get(), now_s);
}

std::string CheckServerCert(const PemPair& server, const std::string& ca_cert, const std::vector<std::string>& sans,
                            int64_t now_s) {
  Cert cert = ParseCert(server.cert);
  Key key = ParseKey(server.key);
  Cert ca = ParseCert(ca_cert);
  if (!cert || !key) return "unparsable";
  if (X509_check_private_key(cert.get(), key.get()) != 1) return "the key does not match the certificate";
  if (!ca || X509_check_issued(ca.get(), cert.get()) != X509_V_OK ||
      X509_verify(cert.get(), X509_get0_pubkey(ca.get())) != 1) {
    return "not signed by the current CA";
  }
  if (std::string t = CheckTimes(cert.get(), now_s); !t.empty()) return t;
  for (const std::string& san : sans) {
    if (!CoversSan(cert.get(), san)) return "no subjectAltName for " + san;
  }
  return "";
}

std::vector<std::string> CertSans(const std::string& cert_pem) {
  std::vector<std::string> out;
  Cert cert = ParseCert(cert_pem);
  if (!cert) return out;
  Names names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    if (g->type == GEN_DNS) {
      const ASN1_IA5STRING* s = g->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         static_cast<size_t>(ASN1_STRING_length(s))));
    } else if (g->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = g->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(s);
      int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
      if (family != 0 && inet_ntop(family, ASN1_STRING_get0_data(s), text, sizeof text) != nullptr) {
        out.push_back(std::string("IP:") + text);
      }
    }
  }
  return out;
}

StatusOr<ServingCerts> EnsureServingCerts(const std::string& dir, const std::vector<std::string>& sans,
                                          int64_t now_s) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("tls: cannot create " + dir + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  ServingCerts out{dir + "/apiserver.crt", dir + "/apiserver.key", "", dir + "/ca.crt"};
  const std::string ca_key_file = dir + "/ca.key";

  bool found = false;
  PemPair ca = ReadPair(out.ca_file, ca_key_file, &found);
  std::string why = found ? CheckCa(ca, now_s) : "missing";
  bool new_ca = !why.empty();
  if (new_ca) {
    const auto level = found ? spdlog::level::warn : spdlog::level::info;
    spdlog::log(level, "tls: {}: {}: generating a new CA (clients must trust the new one: the kubeconfig is "
                "rewritten)", out.ca_file, why);
    ASSIGN_OR_RETURN(ca, GenerateCa("inferd-ca", now_s));
    RETURN_IF_ERROR(WritePair(ca, out.ca_file, ca_key_file));
  }
  PemPair server = ReadPair(out.cert_file, out.key_file, &found);
  why = !found ? "missing" : CheckServerCert(server, ca.cert, sans, now_s);
  if (!why.empty()) {
    const auto level = found && !new_ca ? spdlog::level::warn : spdlog::level::info;
    spdlog::log(level, "tls: {}: {}: issuing a new server certificate", out.cert_file, why);
    ASSIGN_OR_RETURN(server, IssueServerCert(ca, sans, now_s));
    RETURN_IF_ERROR(WritePair(server, out.cert_file, out.key_file));
  }
  out.ca_pem = ca.cert;
  return out;
}

StatusOr<ServingCerts> LoadServingCerts(const std::string& cert_file, const std::string& key_file, int64_t now_s) {
  bool found = false;
  PemPair p = ReadPair(cert_file, key_file, &found);
  if (!found) return InvalidArgument("--tls_cert_file/--tls_private_key_file: cannot read " + cert_file + " or " + key_file);
  std::vector<Cert> chain = ParseChain(p.cert);
  Key key = ParseKey(p.key);
  if (chain.empty()) return InvalidArgument("--tls_cert_file " + cert_file + ": no PEM certificate in it");
  if (!key) return InvalidArgument("--tls_private_key_file " + key_file + ": no PEM private key in it");
  if (X509_check_private_key(chain[0].get(), key.get()) != 1) {
    return InvalidArgument("--tls_private_key_file " + key_file + " does not match the certificate in " + cert_file);
  }
  if (std::string t = CheckTimes(chain[0].get(), now_s); t == "expired" || t == "not valid yet") {
    return InvalidArgument("--tls_cert_file " + cert_file + ": the certificate is " + t);
  }
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), chain.back().get()) != 1) return Internal("tls: cannot encode PEM");
  return ServingCerts{cert_file, key_file, BioText(bio.get()), ""};
}

}  // namespace inferd::net
