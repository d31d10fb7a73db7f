#include "net/http_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

namespace inferd::net {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  CURL* curl;
  const BodySink* on_body;
};

size_t OnData(char* data, size_t size, size_t nmemb, void* user) {
  auto* s = static_cast<Sink*>(user);
  const size_t len = size * nmemb;
  ResponseHead head;
  curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &head.status);
  curl_off_t cl = -1;
  curl_easy_getinfo(s->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
  head.content_length = cl;
  return (*s->on_body)(std::string_view(data, len), head) ? len : 0;
}

struct Handle {
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  ~Handle() {
    if (curl) curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
  }
};

// Called by curl at least once a second during a transfer; non-zero aborts it.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(user)->load() ? 1 : 0;
}

void SetClientCertificate(const ClientRequest& req, CURL* curl) {
  if (!req.client_cert_pem.empty()) {
    curl_blob blob{const_cast<char*>(req.client_cert_pem.data()), req.client_cert_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &blob);
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
  } else if (!req.client_cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, req.client_cert_file.c_str());
  }
  if (!req.client_key_pem.empty()) {
    curl_blob blob{const_cast<char*>(req.client_key_pem.data()), req.client_key_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &blob);
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (!req.client_key_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLKEY, req.client_key_file.c_str());
  }
}

void SetOptions(const ClientRequest& req, Handle& h) {
  CURL* curl = h.curl;
  for (const std::string& line : req.headers) h.headers = curl_slist_append(h.headers, line.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  if (req.method == "GET") {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else if (req.method != "POST") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  if (req.send_body || !req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.body.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (!req.user_agent.empty()) curl_easy_setopt(curl, CURLOPT_USERAGENT, req.user_agent.c_str());
  if (req.connect_timeout_s > 0) curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, req.connect_timeout_s);
  if (req.timeout_s > 0) curl_easy_setopt(curl, CURLOPT_TIMEOUT, req.timeout_s);
  if (req.low_speed_s > 0) {
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, req.low_speed_bytes);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, req.low_speed_s);
  }
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
  if (!req.verify_tls) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!req.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(req.ca_pem.data()), req.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
  } else if (!req.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, req.ca_file.c_str());
  }
  SetClientCertificate(req, curl);
  if (req.cancel) {
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, const_cast<std::atomic<bool>*>(req.cancel));
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  }
  if (h.headers) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h.headers);
  if (!req.aws_sigv4.empty()) {
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, req.aws_sigv4.c_str());
    // USERNAME/PASSWORD rather than USERPWD "key:secret": the same credentials, without splitting on ':'.
    curl_easy_setopt(curl, CURLOPT_USERNAME, req.user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, req.password.c_str());
  }
}

// One request on `h` (fresh, or reset by ClientSession).
ClientResult Perform(Handle& h, const ClientRequest& req, const BodySink& on_body) {
  ClientResult result;
  if (!h.curl) {
    result.transport = Transport::kFailed;
    result.error = "curl_easy_init failed";
    return result;
  }
  SetOptions(req, h);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h.curl, CURLOPT_ERRORBUFFER, errbuf);
  Sink sink{h.curl, &on_body};
  curl_easy_setopt(h.curl, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(h.curl, CURLOPT_WRITEDATA, &sink);
  const CURLcode rc = curl_easy_perform(h.curl);
  curl_easy_getinfo(h.curl, CURLINFO_RESPONSE_CODE, &result.status);
  if (rc == CURLE_OK) {
    for (const std::string& name : req.collect_headers) {
      curl_header* hdr = nullptr;
      for (size_t i = 0; curl_easy_header(h.curl, name.c_str(), i, CURLH_HEADER, -1, &hdr) == CURLHE_OK; ++i) {
        result.headers.emplace_back(name, hdr->value);
        if (i + 1 >= hdr->amount) break;
      }
    }
    return result;
  }
  result.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK) {
    result.transport = Transport::kAborted;
  } else if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_SSL_CACERT_BADFILE ||
             rc == CURLE_SSL_CERTPROBLEM) {
    result.transport = Transport::kBadRequest;
  } else {
    result.transport = Transport::kFailed;
  }
  return result;
}

}  // namespace

ClientResult Fetch(const ClientRequest& req, const BodySink& on_body) {
  GlobalInit();
  Handle h;
  return Perform(h, req, on_body);
}

struct ClientSession::Impl {
  Handle handle;
};

ClientSession::ClientSession() {
  GlobalInit();
  impl_ = std::make_unique<Impl>();
}

ClientSession::~ClientSession() = default;

ClientResult ClientSession::Fetch(const ClientRequest& req, const BodySink& on_body) {
  Handle& h = impl_->handle;
  if (h.curl) curl_easy_reset(h.curl);  // options back to defaults; the connection cache stays
  curl_slist_free_all(h.headers);
  h.headers = nullptr;
  return Perform(h, req, on_body);
}

}  // namespace inferd::net
