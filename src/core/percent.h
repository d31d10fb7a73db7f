// core/percent.h: the one percent-encoding codec of inferd (RFC 3986 section 2.1), for the request targets of
// every HTTP listener (model server paths, API paths and query strings) and for storage URLs.
//
// Contract:
// - PercentDecode turns each %XX (hex digits in either case) into its byte. Strict by default: a '%' that is
//   not followed by two hex digits is an error (InvalidArgument naming the offset), so that a server never
//   acts on a name other than the one the client meant; the listeners answer it 400.
//   Options: plus_is_space ('+' becomes ' ', application/x-www-form-urlencoded query strings);
//   keep_malformed (a bad escape is kept literally instead, as the WHATWG URL standard's decoder does: used
//   only for a file name taken from a download URL, where the server may well have such a name).
//   Decoded bytes are returned as they are (%00 and %2F included): callers that build names or paths from
//   them check those themselves.
// - PercentEncode escapes every byte except the unreserved set (A-Z a-z 0-9 - _ . ~), and '/' when
//   keep_slash; hex digits upper case (the form SigV4 canonical requests use).
// Pure functions, no allocation beyond the result.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace inferd {

struct PercentDecodeOptions {
  bool plus_is_space = false;
  bool keep_malformed = false;
};

StatusOr<std::string> PercentDecode(std::string_view s, PercentDecodeOptions options = {});

std::string PercentEncode(std::string_view s, bool keep_slash);

}  // namespace inferd
