// control/isvc_proxy.cc: the web app's "try it" forwarding (see isvc_proxy.h for the contract).
#include "control/isvc_proxy.h"

#include "api/status_object.h"
#include "net/http_client.h"

namespace inferd::control {

namespace {

Status Fail(api::ApiStream& out, int code, std::string_view reason, std::string_view message) {
  out.status = code;
  out.content_type = "application/json";
  out.write(api::StatusObject(code, reason, message).dump());
  return Status::Ok();
}

ProxyError BadPath(std::string message) { return {400, "BadRequest", std::move(message)}; }


}  // namespace

std::string ProxyAnswerContentType(std::string_view upstream) {
  std::string_view base = upstream.substr(0, upstream.find(';'));
  while (!base.empty() && (base.back() == ' ' || base.back() == '\t')) base.remove_suffix(1);
  if (base == "application/json" || base == "application/octet-stream") return std::string(upstream);
  return "text/plain; charset=utf-8";
}

std::optional<ProxyError> CheckProxyPath(std::string_view method, std::string_view path) {
  if (method != "POST" && method != "GET") return ProxyError{405, "MethodNotAllowed", "proxy: only POST and GET"};
  if (!path.starts_with("v1/models/") && !path.starts_with("v2/models/")) {
    return BadPath("proxy: the path must start with v1/models/ or v2/models/");
  }
  for (char c : path) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '~' || c == ':' || c == '/' || c == '-';
    if (!ok) return BadPath("proxy: the path may hold only letters, digits and ._~:/-");
  }
  std::string_view rest = path;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg == ".." || seg == ".") return BadPath("proxy: no . or .. segments");
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  return std::nullopt;
}

Status ProxyToGateway(const ProxyTarget& target, std::string_view path, const api::ApiRequest& req,
                      api::ApiStream& out) {
  if (auto e = CheckProxyPath(req.method, path)) return Fail(out, e->code, e->reason, e->message);
  if (req.body.size() > target.max_bytes) {
    return Fail(out, 413, "RequestEntityTooLarge", "proxy: the body is over " + std::to_string(target.max_bytes) + " bytes");
  }
  net::ClientRequest cr;
  cr.method = req.method;
  cr.url = target.gateway + "/" + std::string(path);
  cr.headers.push_back("Host: " + target.host);
  if (std::string_view ct = req.Header("content-type"); !ct.empty()) cr.headers.push_back("Content-Type: " + std::string(ct));
  if (!target.token.empty()) cr.headers.push_back("Authorization: Bearer " + target.token);
  cr.headers.push_back("Expect:");
  if (req.method == "POST") {
    cr.body = req.body;
    cr.send_body = true;
  }
  cr.connect_timeout_s = 5;
  cr.timeout_s = target.timeout_s;
  cr.collect_headers = {"Content-Type"};
  std::string answer;
  bool too_big = false;
  net::ClientResult r = net::Fetch(cr, [&](std::string_view data, const net::ResponseHead&) {
    if (answer.size() + data.size() > target.max_bytes) {
      too_big = true;
      return false;
    }
    answer.append(data);
    return true;
  });
  if (too_big) return Fail(out, 502, "BadGateway", "proxy: the answer is over " + std::to_string(target.max_bytes) + " bytes");
  if (r.transport != net::Transport::kOk) {
    if (r.error.find("imeout") != std::string::npos || r.error.find("imed out") != std::string::npos) {
      return Fail(out, 504, "Timeout", "proxy: no answer within " + std::to_string(target.timeout_s) + " s");
    }
    return Fail(out, 502, "BadGateway", "proxy: the gateway: " + r.error);
  }
  out.status = static_cast<int>(r.status);
  std::string upstream_type = "application/octet-stream";
  for (const auto& [name, value] : r.headers) {
    if (name == "Content-Type" || name == "content-type") upstream_type = value;
  }
  out.content_type = ProxyAnswerContentType(upstream_type);
  out.headers.emplace_back("X-Content-Type-Options", "nosniff");
  out.headers.emplace_back("Content-Security-Policy", "sandbox; default-src 'none'");
  if (!out.write(answer)) return Status::Ok();
  return Status::Ok();
}

}  // namespace inferd::control
