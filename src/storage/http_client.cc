// storage/http_client.cc: the GETs every remote scheme goes through (net/http_client.h's libcurl client).
//
// Limits of the contract: connect timeout 10 s, abort below 1 KiB/s for 60 s, max_bytes (counted by the
// Transfer as the body arrives, so a lying or missing Content-Length cannot get past it).
#include <algorithm>
#include <cstdio>

#include "net/http_client.h"
#include "storage/internal.h"

namespace inferd::storage::internal {
namespace {

constexpr size_t kMaxErrorBody = 4096;

// Returns the text between <tag> and </tag> in an (XML) error document, or "".
std::string XmlField(const std::string& body, const std::string& tag) {
  size_t b = body.find("<" + tag + ">");
  if (b == std::string::npos) return "";
  b += tag.size() + 2;
  size_t e = body.find("</" + tag + ">", b);
  return e == std::string::npos ? "" : body.substr(b, e - b);
}

struct Sink {
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
  Status abort;  // why the sink stopped the transfer

  bool OnData(std::string_view data, const net::ResponseHead& head) {
    if (head.status >= 300) {  // an error document: keep its start for the message
      if (error_body.size() < kMaxErrorBody) error_body.append(data.substr(0, kMaxErrorBody - error_body.size()));
      return true;
    }
    if (memory) {
      if (memory->size() + data.size() > max_size) {
        abort = PayloadTooLarge("response larger than " + HumanBytes(max_size));
        return false;
      }
      memory->append(data);
      return true;
    }
    if (!file && !Open(head)) return false;
    if (Status st = transfer->Add(data.size()); !st.ok()) {
      abort = st;
      return false;
    }
    if (std::fwrite(data.data(), 1, data.size(), file) != data.size()) {
      abort = Internal("cannot write " + *path + " (disk full?)");
      return false;
    }
    return true;
  }

  // The first body bytes of a download: the declared size is checked against the limit, then the file made.
  bool Open(const net::ResponseHead& head) {
    if (!total_added) {
      if (head.content_length > 0) {
        const auto cl = static_cast<uint64_t>(head.content_length);
        transfer->AddTotal(cl);
        if (transfer->bytes_done() + cl > transfer->max_bytes()) {
          abort = PayloadTooLarge("download of " + HumanBytes(cl) + " exceeds the limit of " +
                                  HumanBytes(transfer->max_bytes()) + " (max_bytes)");
          return false;
        }
      }
      total_added = true;
    }
    file = std::fopen(path->c_str(), "wb");
    if (!file) {
      abort = Internal("cannot create " + *path);
      return false;
    }
    return true;
  }
};

Status Perform(const HttpRequest& req, Sink* sink) {
  net::ClientRequest cr = req;  // the request without form_body
  if (!req.form_body.empty()) {  // application/x-www-form-urlencoded, curl's default for a POST body
    cr.method = "POST";
    cr.body = req.form_body;
  }
  net::ClientResult r =
      net::Fetch(cr, [sink](std::string_view data, const net::ResponseHead& head) { return sink->OnData(data, head); });
  if (!sink->abort.ok()) return sink->abort;
  const char* verb = req.form_body.empty() ? "GET " : "POST ";
  if (r.transport == net::Transport::kBadRequest) return InvalidArgument(verb + req.url + ": " + r.error);
  if (r.transport != net::Transport::kOk) return Unavailable(verb + req.url + ": " + r.error);
  if (r.status >= 300 || r.status < 200) {
    Status st = StatusForHttp(r.status, req.url, sink->error_body);
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
