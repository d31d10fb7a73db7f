#include "cli/api_client.h"

#include <curl/curl.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "control/control_plane.h"
#include "core/json_depth.h"

namespace inferd::cli {

void ClientFlags::Add(CLI::App* cmd) {
  cmd->add_option("--server", server, "API URL of inferd serve (env INFERD_SERVER; default: the local one)");
  cmd->add_option("--token", token, "API bearer token (env INFERD_TOKEN; default: DATA_DIR/token)");
  cmd->add_option("--data_dir", data_dir, "Data dir of the local inferd serve (env INFERD_DATA_DIR)");
  cmd->add_option("--gateway", gateway, "Gateway URL for predict (default: from DATA_DIR/serve.json)");
}

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t AppendTo(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

struct StreamCtx {
  const std::function<bool(std::string_view)>* fn;
};
size_t StreamTo(char* p, size_t size, size_t n, void* ctx) {
  auto* c = static_cast<StreamCtx*>(ctx);
  if (!(*c->fn)(std::string_view(p, size * n))) return 0;  // aborts the transfer
  return size * n;
}

}  // namespace

StatusOr<ApiClient> MakeClient(const ClientFlags& flags) {
  ApiClient c;
  std::string dir = !flags.data_dir.empty() ? flags.data_dir : control::DefaultDataDir();
  c.server = !flags.server.empty() ? flags.server : Env("INFERD_SERVER");
  c.token = !flags.token.empty() ? flags.token : Env("INFERD_TOKEN");
  c.gateway = flags.gateway;
  std::string serve_json = ReadFile(dir + "/serve.json");
  Json sj = ParseAnswer(serve_json);
  if (sj.is_object()) {
    if (c.server.empty()) c.server = sj.value("api", "");
    if (c.gateway.empty()) c.gateway = sj.value("gateway", "");
    c.domain = sj.value("domain", c.domain);
  }
  if (c.server.empty()) {
    return Unavailable("cannot find inferd serve: no --server, no INFERD_SERVER and no " + dir +
                       "/serve.json (is `inferd serve` running? give --data_dir if it uses another one)");
  }
  if (c.token.empty()) {
    std::string t = ReadFile(dir + "/token");
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    c.token = t;
  }
  while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
  return c;
}

ApiClient::Result ApiClient::Call(const std::string& method, const std::string& path, const std::string& body,
                                  const std::string& content_type) const {
  Result r;
  CURL* curl = curl_easy_init();
  if (!curl) {
    r.body = "curl_easy_init failed";
    return r;
  }
  std::string url = server + path;
  struct curl_slist* headers = nullptr;
  if (!token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
  headers = curl_slist_append(headers, "Accept: application/json");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendTo);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    r.body = std::string("cannot reach ") + server + ": " + curl_easy_strerror(rc);
  } else {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.code);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

long ApiClient::Stream(const std::string& path, const std::function<bool(std::string_view)>& on_data) const {
  CURL* curl = curl_easy_init();
  if (!curl) return 0;
  std::string url = server + path;
  struct curl_slist* headers = nullptr;
  if (!token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  StreamCtx ctx{&on_data};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, StreamTo);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &ctx);
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  if (rc == CURLE_OK || rc == CURLE_WRITE_ERROR) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return code;
}

ApiClient::Result ApiClient::Post(const std::string& url, const std::string& body,
                                  const std::vector<std::string>& hdrs) const {
  Result r;
  CURL* curl = curl_easy_init();
  if (!curl) return r;
  struct curl_slist* headers = nullptr;
  for (const auto& h : hdrs) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendTo);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 600L);
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    r.body = std::string("cannot reach ") + url + ": " + curl_easy_strerror(rc);
  } else {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.code);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return r;
}

Json ParseAnswer(std::string_view text) {
  auto j = ParseBoundedJson(text, "answer");
  return j.ok() ? std::move(*j) : Json(Json::value_t::discarded);
}

std::string ErrorMessage(const ApiClient::Result& r) {
  if (r.code == 0) return r.body;
  Json j = ParseAnswer(r.body);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  return "HTTP " + std::to_string(r.code) + ": " + r.body;
}

}  // namespace inferd::cli
