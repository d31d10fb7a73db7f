// storage/gcs_auth.cc: a Google service-account key -> an OAuth2 access token (JWT bearer grant, RFC 7523),
// with OpenSSL for the RS256 signature and libcurl for the token request.
//
// The key is the JSON file Google issues ({"type": "service_account", "client_email", "private_key" (PEM),
// "private_key_id", "token_uri", ...}); KServe's GCS secret holds it under gcloud-application-credentials.json.
// Nothing here logs or returns the key, the assertion or the token in an error.
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "storage/internal.h"

namespace inferd::storage::internal {
namespace {

using Json = nlohmann::json;

constexpr char kScope[] = "https://www.googleapis.com/auth/devstorage.read_only";
constexpr char kGrantType[] = "urn:ietf:params:oauth:grant-type:jwt-bearer";
constexpr int64_t kLifetimeS = 3600;  // the longest Google accepts

// base64url without padding (RFC 7515), on OpenSSL's base64.
std::string Base64Url(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  }
  return out;
}

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

StatusOr<std::string> SignRs256(const std::string& pem, const std::string& input) {
  if (pem.size() > (64u << 10)) return InvalidArgument("private_key is too long to be a key");
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("out of memory");
  std::unique_ptr<EVP_PKEY, KeyFree> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return InvalidArgument("private_key is not a PEM private key");
  if (EVP_PKEY_base_id(key.get()) != EVP_PKEY_RSA) return InvalidArgument("private_key is not an RSA key");
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return InvalidArgument("private_key cannot sign");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return InvalidArgument("private_key cannot sign");
  }
  sig.resize(len);
  return sig;
}

struct ServiceAccountKey {
  std::string client_email, private_key, private_key_id, token_uri;
};

StatusOr<ServiceAccountKey> ParseKey(std::string_view key_json) {
  Json j = Json::parse(key_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return InvalidArgument("is not a JSON object");
  auto str = [&](const char* field, std::string* out, bool required) -> Status {
    auto it = j.find(field);
    if (it == j.end() || it->is_null()) {
      return required ? InvalidArgument(std::string("has no \"") + field + "\"") : Status::Ok();
    }
    if (!it->is_string()) return InvalidArgument(std::string("\"") + field + "\" is not a string");
    *out = it->get<std::string>();
    return Status::Ok();
  };
  std::string type;
  RETURN_IF_ERROR(str("type", &type, true));
  if (type != "service_account") {
    return InvalidArgument("has type \"" + type.substr(0, 40) +
                           "\"; inferd exchanges service-account keys (type \"service_account\") only");
  }
  ServiceAccountKey k;
  RETURN_IF_ERROR(str("client_email", &k.client_email, true));
  RETURN_IF_ERROR(str("private_key", &k.private_key, true));
  RETURN_IF_ERROR(str("private_key_id", &k.private_key_id, false));
  RETURN_IF_ERROR(str("token_uri", &k.token_uri, false));
  if (k.token_uri.empty()) k.token_uri = "https://oauth2.googleapis.com/token";
  if (!k.token_uri.starts_with("https://") && !k.token_uri.starts_with("http://")) {
    return InvalidArgument("\"token_uri\" is not an http(s) URL");
  }
  return k;
}

StatusOr<std::string> MakeJwt(const ServiceAccountKey& k, int64_t now_s) {
  Json header = {{"alg", "RS256"}, {"typ", "JWT"}};
  if (!k.private_key_id.empty()) header["kid"] = k.private_key_id;
  Json claims = {{"iss", k.client_email},
                 {"scope", kScope},
                 {"aud", k.token_uri},
                 {"iat", now_s},
                 {"exp", now_s + kLifetimeS}};
  std::string input = Base64Url(header.dump(-1, ' ', false, Json::error_handler_t::replace)) + "." +
                      Base64Url(claims.dump(-1, ' ', false, Json::error_handler_t::replace));
  ASSIGN_OR_RETURN(std::string sig, SignRs256(k.private_key, input));
  return input + "." + Base64Url(sig);
}

}  // namespace

StatusOr<std::string> GcsServiceAccountJwt(std::string_view key_json, int64_t now_s) {
  ASSIGN_OR_RETURN(ServiceAccountKey k, ParseKey(key_json));
  return MakeJwt(k, now_s);
}

StatusOr<std::string> GcsAccessTokenFromServiceAccount(std::string_view key_json, int64_t now_s) {
  ASSIGN_OR_RETURN(ServiceAccountKey k, ParseKey(key_json));
  ASSIGN_OR_RETURN(std::string jwt, MakeJwt(k, now_s));
  HttpRequest req;
  req.url = k.token_uri;
  req.form_body = std::string("grant_type=") + PercentEncode(kGrantType, false) + "&assertion=" + jwt;
  auto body = HttpGetString(req, 1 << 20);
  if (!body.ok()) return body.status().WithPrefix("token exchange");
  Json j = Json::parse(*body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("access_token") || !j["access_token"].is_string() ||
      j["access_token"].get<std::string>().empty()) {
    return Unavailable("token exchange at " + k.token_uri + ": the answer has no access_token");
  }
  return j["access_token"].get<std::string>();
}

}  // namespace inferd::storage::internal
