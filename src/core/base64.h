// core/base64.h: base64 (RFC 4648) as inference clients send it: `{"b64": "..."}` values in V1/V2 and TF Serving
// JSON, proto3 JSON `bytes` (TF.js weights manifests).
//
// Contract: pure functions, no state, safe from any thread.
// - Base64Encode writes the standard alphabet with padding.
// - Base64Decode accepts the standard and the URL-safe alphabet, with or without trailing '=' padding, and skips
//   line breaks (CR, LF), as the clients above produce; any other character, '=' before the end, or a length that
//   cannot be base64 (4n+1 characters) is InvalidArgument naming the offending byte. The output is at most
//   3/4 of the input: no allocation beyond the input's size.
// Hand-written rather than OpenSSL's EVP_DecodeBlock: that one insists on padding (clients omit it) and skips
// spaces and tabs (which must be refused here); both behaviours would need a pre-pass costing as much as this.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace inferd {

std::string Base64Encode(std::string_view data);
StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace inferd
