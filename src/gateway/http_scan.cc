#include "gateway/http_scan.h"

#include <array>

namespace inferd::gateway {

bool IEqualsPrefix(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower_prefix[i]) return false;
  }
  return true;
}

namespace {

constexpr std::array<bool, 256> MakeTcharTable() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTchar = MakeTcharTable();

bool IEquals(std::string_view s, std::string_view lower) {
  return s.size() == lower.size() && IEqualsPrefix(s, lower);
}

// The hop-by-hop headers (RFC 7230 6.1 and the usual extras) and Expect: their presence sends a message to
// the slow path.
bool NeedsSlowPath(std::string_view name) {
  switch (name.size()) {
    case 2: return IEquals(name, "te");
    case 6: return IEquals(name, "expect");
    case 7: return IEquals(name, "trailer") || IEquals(name, "upgrade");
    case 10: return IEquals(name, "connection") || IEquals(name, "keep-alive");
    case 16: return IEquals(name, "proxy-connection");
    case 17: return IEquals(name, "transfer-encoding");
    case 18: return IEquals(name, "proxy-authenticate");
    case 19: return IEquals(name, "proxy-authorization");
    default: return false;
  }
}

bool ParseLength(std::string_view v, uint64_t* out) {
  if (v.empty() || v.size() > 18) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = n;
  return true;
}

// A byte of a header value or reason phrase: HTAB, SP, visible ASCII or obs-text (RFC 9110 field-vchar).
bool IsFieldText(unsigned char c) { return (c >= 0x20 || c == '\t') && c != 0x7f; }

// Calls f(name, value) (value without surrounding blanks) for each header line in p[from, end), `end` being
// just past the blank line. False when a line is not `token ":" value CRLF` with visible, space or tab value
// bytes (obs-fold and bare LF included), or when f returns false.
template <class F>
bool ForEachField(const char* p, size_t from, size_t end, F&& f) {
  const size_t stop = end - 2;  // the blank line's CRLF
  size_t i = from;
  while (i < stop) {
    const size_t name_begin = i;
    while (i < stop && kTchar[static_cast<unsigned char>(p[i])]) ++i;
    if (i == name_begin || i >= stop || p[i] != ':') return false;
    std::string_view name(p + name_begin, i - name_begin);
    size_t vb = ++i;
    while (i < stop && p[i] != '\r') {
      if (!IsFieldText(static_cast<unsigned char>(p[i]))) return false;
      ++i;
    }
    if (i >= stop || p[i + 1] != '\n') return false;
    size_t ve = i;
    while (vb < ve && (p[vb] == ' ' || p[vb] == '\t')) ++vb;
    while (ve > vb && (p[ve - 1] == ' ' || p[ve - 1] == '\t')) --ve;
    if (!f(name, std::string_view(p + vb, ve - vb))) return false;
    i += 2;
  }
  return true;
}

}  // namespace

size_t FindHeadEnd(const char* p, size_t n, size_t from) {
  size_t at = std::string_view(p, n).find("\r\n\r\n", from);
  return at == std::string_view::npos ? 0 : at + 4;
}

bool ParseRequestHead(const char* p, size_t end, RequestHead* h) {
  size_t i = 0;
  while (i < end && kTchar[static_cast<unsigned char>(p[i])]) ++i;
  if (i == 0 || i >= end || p[i] != ' ') return false;
  std::string_view method(p, i);
  if (method == "HEAD" || method == "CONNECT") return false;
  const size_t t = ++i;
  while (i < end && static_cast<unsigned char>(p[i]) > 0x20 && p[i] != 0x7f) ++i;
  if (i == t || i >= end || p[i] != ' ') return false;
  h->target_off = t;
  h->target_len = i - t;
  ++i;
  constexpr std::string_view kVersion = "HTTP/1.1\r\n";
  if (end - i < kVersion.size() || std::string_view(p + i, kVersion.size()) != kVersion) return false;
  h->line_end = i + kVersion.size();
  h->has_host = h->has_auth = false;
  h->content_length = 0;
  bool has_length = false;
  bool ok = ForEachField(p, h->line_end, end, [&](std::string_view name, std::string_view value) {
    if (name.size() == 4 && IEquals(name, "host")) {
      if (h->has_host) return false;
      h->has_host = true;
      h->host_off = static_cast<size_t>(value.data() - p);
      h->host_len = value.size();
    } else if (name.size() == 13 && IEquals(name, "authorization")) {
      if (h->has_auth) return false;
      h->has_auth = true;
      h->auth_off = static_cast<size_t>(value.data() - p);
      h->auth_len = value.size();
    } else if (name.size() == 14 && IEquals(name, "content-length")) {
      if (has_length) return false;
      has_length = true;
      return ParseLength(value, &h->content_length);
    } else if (NeedsSlowPath(name)) {
      return false;
    }
    return true;
  });
  return ok && h->has_host;
}

bool ParseResponseHead(const char* p, size_t end, unsigned* status, uint64_t* content_length) {
  constexpr std::string_view kVersion = "HTTP/1.1 ";
  if (end < 16 || std::string_view(p, kVersion.size()) != kVersion) return false;
  unsigned code = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (p[i] < '0' || p[i] > '9') return false;
    code = code * 10 + static_cast<unsigned>(p[i] - '0');
  }
  if (code < 200 || code == 204 || code == 304 || (p[12] != ' ' && p[12] != '\r')) return false;
  size_t line_end = std::string_view(p, end).find("\r\n", 12);
  if (line_end == std::string_view::npos) return false;
  // The reason phrase holds field text only (a bare CR in it is a line ending to some readers: found by
  // fuzz/http_scan_fuzz, Beast refuses it); without one, the status code ends the line.
  if (p[12] == '\r' && line_end != 12) return false;
  for (size_t i = 13; i < line_end; ++i) {
    if (!IsFieldText(static_cast<unsigned char>(p[i]))) return false;
  }
  bool has_length = false;
  bool ok = ForEachField(p, line_end + 2, end, [&](std::string_view name, std::string_view value) {
    if (name.size() == 14 && IEquals(name, "content-length")) {
      if (has_length) return false;
      has_length = true;
      return ParseLength(value, content_length);
    }
    return !NeedsSlowPath(name);
  });
  *status = code;
  return ok && has_length;
}

}  // namespace inferd::gateway
