// core/json_string.h: the one JSON string escaper of inferd (protocol/json_writer.h's JsonWriter and
// core/http_status.h's ErrorJson use it), and its UTF-8 check (TF Serving's writer picks b64 by it).
//
// Contract: AppendJsonString appends `s` as a quoted JSON string: '"' and '\' escaped, \n \r \t by name,
// other control bytes as \u00xx (lower-case hex); well-formed UTF-8 is copied as it is; a byte that is not
// part of well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF) becomes U+FFFD,
// one per offending byte, so that the output is always valid JSON text. No allocation beyond the output.
#pragma once

#include <string>
#include <string_view>

namespace inferd {

void AppendJsonString(std::string* out, std::string_view s);

// True when `s` is well-formed UTF-8 by the same rule (so AppendJsonString would copy it unchanged).
bool IsWellFormedUtf8(std::string_view s);

}  // namespace inferd
