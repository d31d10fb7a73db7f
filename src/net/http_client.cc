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
  } else if (!req.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, req.ca_file.c_str());
  }
  if (h.headers) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h.headers);
  if (!req.aws_sigv4.empty()) {
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, req.aws_sigv4.c_str());
    // USERNAME/PASSWORD rather than USERPWD "key:secret": the same credentials, without splitting on ':'.
    curl_easy_setopt(curl, CURLOPT_USERNAME, req.user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, req.password.c_str());
  }
}

}  // namespace

ClientResult Fetch(const ClientRequest& req, const BodySink& on_body) {
  GlobalInit();
  ClientResult result;
  Handle h;
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
  if (rc == CURLE_WRITE_ERROR) {
    result.transport = Transport::kAborted;
  } else if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_SSL_CACERT_BADFILE) {
    result.transport = Transport::kBadRequest;
  } else {
    result.transport = Transport::kFailed;
  }
  return result;
}

}  // namespace inferd::net
