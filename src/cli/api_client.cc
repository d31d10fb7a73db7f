#include "cli/api_client.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "control/control_plane.h"
#include "core/json_depth.h"
#include "net/http_client.h"

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

namespace {

// One request through net/http_client.h; the body is collected into the result, Warning headers into warnings.
ApiClient::Result Collect(net::ClientRequest req, const std::string& who) {
  ApiClient::Result r;
  req.collect_headers = {"Warning"};
  net::ClientResult res = net::Fetch(req, [&r](std::string_view data, const net::ResponseHead&) {
    r.body.append(data);
    return true;
  });
  if (res.transport != net::Transport::kOk) {
    r.body = "cannot reach " + who + ": " + res.error;
  } else {
    r.code = res.status;
  }
  for (const auto& [name, value] : res.headers) {
    for (auto& w : ParseWarningHeader(value)) r.warnings.push_back(std::move(w));
  }
  return r;
}

}  // namespace

ApiClient::Result ApiClient::Call(const std::string& method, const std::string& path, const std::string& body,
                                  const std::string& content_type) const {
  net::ClientRequest req;
  req.method = method;
  req.url = server + path;
  if (!token.empty()) req.headers.push_back("Authorization: Bearer " + token);
  req.headers.push_back("Content-Type: " + content_type);
  req.headers.push_back("Accept: application/json");
  req.body = body;
  req.timeout_s = 60;
  return Collect(req, server);
}

long ApiClient::Stream(const std::string& path, const std::function<bool(std::string_view)>& on_data) const {
  net::ClientRequest req;
  req.url = server + path;
  if (!token.empty()) req.headers.push_back("Authorization: Bearer " + token);
  net::ClientResult res =
      net::Fetch(req, [&on_data](std::string_view data, const net::ResponseHead&) { return on_data(data); });
  const bool answered = res.transport == net::Transport::kOk || res.transport == net::Transport::kAborted;
  return answered ? res.status : 0;
}

ApiClient::Result ApiClient::Post(const std::string& url, const std::string& body,
                                  const std::vector<std::string>& hdrs) const {
  net::ClientRequest req;
  req.method = "POST";
  req.url = url;
  req.headers = hdrs;
  req.body = body;
  req.timeout_s = 600;
  return Collect(req, url);
}

std::vector<std::string> ParseWarningHeader(std::string_view v) {
  std::vector<std::string> out;
  size_t i = 0;
  auto skip = [&](std::string_view chars) {
    while (i < v.size() && chars.find(v[i]) != std::string_view::npos) ++i;
  };
  auto token = [&] {  // up to the next space
    size_t start = i;
    while (i < v.size() && v[i] != ' ') ++i;
    return i > start;
  };
  auto quoted = [&](std::string* text) {
    if (i >= v.size() || v[i] != '"') return false;
    for (++i; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) {
        text->push_back(v[++i]);
      } else if (v[i] == '"') {
        ++i;
        return true;
      } else {
        text->push_back(v[i]);
      }
    }
    return false;
  };
  while (true) {
    skip(" ,");
    if (i >= v.size()) return out;
    std::string text;
    bool ok = token() && (skip(" "), token()) && (skip(" "), quoted(&text));
    if (!ok) return {std::string(v)};
    out.push_back(std::move(text));
    skip(" ");
    if (i < v.size() && v[i] == '"') {  // an optional warn-date
      std::string date;
      if (!quoted(&date)) return {std::string(v)};
    }
  }
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
