// storage/http_client.cc: the libcurl GETs every remote scheme goes through (one easy handle per request).
//
// Limits of the contract: connect timeout 10 s, abort below 1 KiB/s for 60 s, max_bytes (counted by the
// Transfer as the body arrives, so a lying or missing Content-Length cannot get past it).
#include <curl/curl.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "storage/internal.h"

namespace inferd::storage::internal {
namespace {

constexpr size_t kMaxErrorBody = 4096;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Returns the text between <tag> and </tag> in an (XML) error document, or "".
std::string XmlField(const std::string& body, const std::string& tag) {
  size_t b = body.find("<" + tag + ">");
  if (b == std::string::npos) return "";
  b += tag.size() + 2;
  size_t e = body.find("</" + tag + ">", b);
  return e == std::string::npos ? "" : body.substr(b, e - b);
}

struct Sink {
  CURL* curl = nullptr;
  // file mode
  const std::string* path = nullptr;
  std::FILE* file = nullptr;
  Transfer* transfer = nullptr;
  bool total_added = false;
  // memory mode
  std::string* memory = nullptr;
  size_t max_size = 0;
  // both
  std::string error_body;
  Status abort;  // why the write callback stopped the transfer
};

size_t OnData(char* data, size_t size, size_t nmemb, void* user) {
  auto* s = static_cast<Sink*>(user);
  size_t len = size * nmemb;
  long code = 0;
  curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 300) {  // an error document: keep its start for the message
    if (s->error_body.size() < kMaxErrorBody) s->error_body.append(data, std::min(len, kMaxErrorBody - s->error_body.size()));
    return len;
  }
  if (s->memory) {
    if (s->memory->size() + len > s->max_size) {
      s->abort = PayloadTooLarge("response larger than " + HumanBytes(s->max_size));
      return 0;
    }
    s->memory->append(data, len);
    return len;
  }
  if (!s->file) {
    if (!s->total_added) {
      curl_off_t cl = -1;
      curl_easy_getinfo(s->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
      if (cl > 0) {
        s->transfer->AddTotal(static_cast<uint64_t>(cl));
        if (s->transfer->bytes_done() + static_cast<uint64_t>(cl) > s->transfer->max_bytes()) {
          s->abort = PayloadTooLarge("download of " + HumanBytes(static_cast<uint64_t>(cl)) +
                                     " exceeds the limit of " + HumanBytes(s->transfer->max_bytes()) +
                                     " (max_bytes)");
          return 0;
        }
      }
      s->total_added = true;
    }
    s->file = std::fopen(s->path->c_str(), "wb");
    if (!s->file) {
      s->abort = Internal("cannot create " + *s->path);
      return 0;
    }
  }
  Status st = s->transfer->Add(len);
  if (!st.ok()) {
    s->abort = st;
    return 0;
  }
  if (std::fwrite(data, 1, len, s->file) != len) {
    s->abort = Internal("cannot write " + *s->path + " (disk full?)");
    return 0;
  }
  return len;
}

Status Perform(const HttpRequest& req, Sink* sink) {
  GlobalInit();
  CURL* curl = curl_easy_init();
  if (!curl) return Internal("curl_easy_init failed");
  sink->curl = curl;
  curl_slist* headers = nullptr;
  for (const std::string& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  if (req.form_body.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  } else {  // application/x-www-form-urlencoded, curl's default for POSTFIELDS
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.form_body.size()));
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req.form_body.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "inferd-storage/0.1");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
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
  if (headers) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!req.aws_sigv4.empty()) {
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, req.aws_sigv4.c_str());
    // USERNAME/PASSWORD rather than USERPWD "key:secret": the same credentials, without splitting on ':'.
    curl_easy_setopt(curl, CURLOPT_USERNAME, req.user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, req.password.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  if (!sink->abort.ok()) return sink->abort;
  if (rc != CURLE_OK) {
    std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    const char* verb = req.form_body.empty() ? "GET " : "POST ";
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
      return InvalidArgument(verb + req.url + ": " + why);
    }
    if (rc == CURLE_SSL_CACERT_BADFILE) return InvalidArgument(verb + req.url + ": " + why);
    return Unavailable(verb + req.url + ": " + why);
  }
  if (code >= 300 || code < 200) {
    Status st = StatusForHttp(code, req.url, sink->error_body);
    return req.form_body.empty() ? st : Status(st.code(), "POST" + st.message().substr(3));
  }
  return Status::Ok();
}

}  // namespace

Status StatusForHttp(long code, const std::string& url, const std::string& body) {
  std::string detail;
  std::string xml_code = XmlField(body, "Code");
  if (!xml_code.empty()) {
    detail = xml_code;
    std::string msg = XmlField(body, "Message");
    if (!msg.empty()) detail += ": " + msg;
  } else if (!body.empty()) {
    for (char c : body.substr(0, 200)) detail.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  }
  std::string m = "GET " + url + ": HTTP " + std::to_string(code) + (detail.empty() ? "" : " (" + detail + ")");
  if (code == 404) return NotFound(m);
  if (code == 401 || code == 403) return Unauthenticated(m);
  if (code == 408 || code == 429 || code >= 500) return Unavailable(m);
  return InvalidArgument(m);
}

Status HttpDownload(const HttpRequest& req, const std::string& path, Transfer* transfer) {
  Sink sink;
  sink.path = &path;
  sink.transfer = transfer;
  Status st = Perform(req, &sink);
  if (sink.file) {
    if (std::fclose(sink.file) != 0 && st.ok()) st = Internal("cannot write " + path + " (disk full?)");
  } else if (st.ok()) {  // an empty body: the file still exists
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) return Internal("cannot create " + path);
    std::fclose(f);
  }
  if (!st.ok()) std::remove(path.c_str());
  return st;
}

StatusOr<std::string> HttpGetString(const HttpRequest& req, size_t max_size) {
  std::string body;
  Sink sink;
  sink.memory = &body;
  sink.max_size = max_size;
  RETURN_IF_ERROR(Perform(req, &sink));
  return body;
}

}  // namespace inferd::storage::internal
