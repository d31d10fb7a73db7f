// webui/assets.cc: answering /ui/... from the embedded files (see assets.h for the contract).
#include "webui/assets.h"

#include <cstdlib>
#include <string>

#include "core/ascii.h"

namespace inferd::webui {

namespace {

const Asset* Find(std::span<const Asset> assets, std::string_view path) {
  for (const Asset& a : assets)
    if (a.path == path && !a.path.empty()) return &a;
  return nullptr;
}

api::ApiReply Plain(int status, std::string body) {
  api::ApiReply r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  r.headers = SecurityHeaders();
  return r;
}

}  // namespace

const Asset* ResolveAsset(std::span<const Asset> assets, std::string_view rel) {
  if (!rel.empty()) {
    if (const Asset* a = Find(assets, rel)) return a;
  }
  std::string_view last = rel.substr(rel.rfind('/') == std::string_view::npos ? 0 : rel.rfind('/') + 1);
  if (last.find('.') != std::string_view::npos) return nullptr;
  return Find(assets, "index.html");
}

bool AcceptsGzip(std::string_view value) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = TrimBlanks(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    std::string_view coding = TrimBlanks(item.substr(0, item.find(';')));
    if (!EqualsIgnoreAsciiCase(coding, "gzip") && coding != "*") continue;
    size_t q = item.find(";");
    if (q == std::string_view::npos) return true;
    std::string_view param = TrimBlanks(item.substr(q + 1));
    if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=') return true;
    std::string num(TrimBlanks(param.substr(2)));
    return std::strtod(num.c_str(), nullptr) > 0;
  }
  return false;
}

bool EtagMatches(std::string_view value, std::string_view etag) {
  if (TrimBlanks(value) == "*") return true;
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view tag = TrimBlanks(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    if (tag.starts_with("W/")) tag.remove_prefix(2);  // If-None-Match compares weakly (RFC 9110 13.1.2)
    if (!tag.empty() && tag == etag) return true;
  }
  return false;
}

const std::vector<std::pair<std::string, std::string>>& SecurityHeaders() {
  static const std::vector<std::pair<std::string, std::string>> kHeaders = {
      {"Content-Security-Policy",
       "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
  };
  return kHeaders;
}

api::ApiReply ServeAsset(std::span<const Asset> assets, const api::ApiRequest& req) {
  if (req.method != "GET" && req.method != "HEAD") {
    api::ApiReply r = Plain(405, "method not allowed\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  std::string_view rel = req.path;
  if (rel.starts_with("/ui")) rel.remove_prefix(3);
  if (rel.starts_with("/")) rel.remove_prefix(1);
  const Asset* a = ResolveAsset(assets, rel);
  if (!a) return Plain(404, "not found\n");
  api::ApiReply r;
  r.headers = SecurityHeaders();
  r.content_type = std::string(a->content_type);
  r.headers.emplace_back("ETag", std::string(a->etag));
  r.headers.emplace_back("Cache-Control", a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
  if (!a->gzip.empty()) r.headers.emplace_back("Vary", "Accept-Encoding");
  if (EtagMatches(req.Header("if-none-match"), a->etag)) {
    r.status = 304;
    return r;
  }
  if (!a->gzip.empty() && AcceptsGzip(req.Header("accept-encoding"))) {
    r.headers.emplace_back("Content-Encoding", "gzip");
    r.body.assign(a->gzip);
  } else {
    r.body.assign(a->bytes);
  }
  return r;
}

}  // namespace inferd::webui
