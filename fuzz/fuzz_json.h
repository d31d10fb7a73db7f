// fuzz/fuzz_json.h: JsonAnswerParses for the protocol targets (simdjson, as the server's own parser).
#pragma once

#include <simdjson.h>

#include "fuzz_check.h"

namespace inferd::fuzz {

// A JSON answer the model server writes must parse, except that non-finite numbers are written as NaN /
// Infinity / -Infinity on purpose (Python's json module does the same, and KServe's clients read them).
inline bool JsonAnswerParses(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(json)).get(doc) == simdjson::SUCCESS) return true;
  return json.find("NaN") != std::string_view::npos || json.find("Infinity") != std::string_view::npos;
}

}  // namespace inferd::fuzz
