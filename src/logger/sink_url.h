// logger/sink_url.h: the one check of a payload logger's sink URL, shared by the model server's --log_url and
// the InferenceService validation of `logger.url` (header-only so that resources/ needs no link to logger/).
//
// Contract (pure, any thread): CheckSinkUrl returns "" for a URL the logger can send CloudEvents to, else the
// reason (without the field name; callers prefix it). Accepted: `http://` or `https://` (scheme case-insensitive),
// a non-empty host (a name, an IPv4 literal or a bracketed IPv6 literal), an optional port 1..65535, then an
// optional path/query. At most 2048 bytes; no whitespace or control bytes anywhere. Blob-storage URLs
// (s3://, gs://, abfs://: KServe's storage logging) get their own reason: inferd does not write to blob storage.
// SplitSinkUrl takes a URL CheckSinkUrl accepted apart: scheme (lower case), host (an IPv6 literal without its
// brackets), port (the scheme's default when none), the request target (path and query, "/" when none; a
// fragment is not sent) and the Host header's value; `userinfo` says whether the URL carries user:password@.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace inferd::logger {

inline std::string CheckSinkUrl(std::string_view url) {
  if (url.empty()) return "must not be empty";
  if (url.size() > 2048) return "longer than 2048 bytes";
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) return "must not contain whitespace or control characters";
  }
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return "'" + std::string(url) + "' is not an absolute http(s) URL";
  std::string scheme(url.substr(0, sep));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme == "s3" || scheme == "gs" || scheme == "abfs") {
    return "blob-storage logging (" + scheme + "://) is not supported by inferd; give an http(s) sink";
  }
  if (scheme != "http" && scheme != "https") return "scheme '" + scheme + "' is not supported (http or https)";
  std::string_view rest = url.substr(sep + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view host = authority, port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return "unterminated IPv6 literal in '" + std::string(url) + "'";
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "bad host in '" + std::string(url) + "'";
      port = after.substr(1);
      if (port.empty()) return "empty port in '" + std::string(url) + "'";
    }
  } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return "empty port in '" + std::string(url) + "'";
  }
  if (host.empty() || host == "[]") return "no host in '" + std::string(url) + "'";
  for (char c : host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' && c != '[' && c != ']' &&
        c != ':') {
      return "bad host in '" + std::string(url) + "'";
    }
  }
  if (!port.empty()) {
    if (port.size() > 5) return "port out of range in '" + std::string(url) + "'";
    long p = 0;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return "port is not a number in '" + std::string(url) + "'";
      p = p * 10 + (c - '0');
    }
    if (p < 1 || p > 65535) return "port out of range in '" + std::string(url) + "'";
  }
  return "";
}

struct SinkUrlParts {
  std::string scheme, host, port, target, host_header;
  bool userinfo = false;
};

inline SinkUrlParts SplitSinkUrl(std::string_view url) {
  SinkUrlParts p;
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return p;
  p.scheme = std::string(url.substr(0, sep));
  for (char& c : p.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view rest = url.substr(sep + 3);
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  target = target.substr(0, target.find('#'));
  p.target = target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    p.userinfo = true;
    authority.remove_prefix(at + 1);
  }
  p.host_header = std::string(authority);
  std::string_view host = authority, port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    host = authority.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
    if (close != std::string_view::npos && close + 1 < authority.size()) port = authority.substr(close + 2);
  } else if (size_t colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  p.host = std::string(host);
  p.port = port.empty() ? (p.scheme == "https" ? "443" : "80") : std::string(port);
  return p;
}

}  // namespace inferd::logger
