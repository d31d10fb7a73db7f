// core/bearer.h: the one check of an `Authorization: Bearer <token>` value, for every listener that takes a
// token: the API, the gateway (HTTP header and gRPC metadata) and the model server's repository API.
//
// Contract: BearerTokenMatches(authorization, token) is true when `authorization` is the scheme "Bearer" in
// any case (RFC 7235: the auth-scheme is case-insensitive), one space and exactly `token`. The token bytes are
// compared in the same time wherever the first difference is (no early exit); only the length is told apart
// early. No allocation, no lock: it runs on the gateway's request path. Callers decide whether a token is
// configured at all (an empty token would match "Bearer ").
// ConstantTimeEquals(a, b): the same comparison for any two secrets (the web app's session and CSRF tokens).
#pragma once

#include <string_view>

namespace inferd {

inline bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

inline bool BearerTokenMatches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() != kScheme.size() + token.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  return ConstantTimeEquals(authorization.substr(kScheme.size()), token);
}

}  // namespace inferd
