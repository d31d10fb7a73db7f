// graph/go_json.h: the JSON behaviours of Go's encoding/json (and gjson's validator) that KServe's router
// shows its clients, so that inferd's graph answers are byte-for-byte what a KServe router sends.
//
// Contract (pure functions, any thread, no exceptions):
// - GoJsonValid: Go's json.Valid / gjson.ValidBytes: RFC 8259 grammar, strings may hold any byte >= 0x20
//   (UTF-8 is not checked), nesting up to Go's 10000 levels. One pass, no allocation.
// - ParseLikeGo: the tree Go's json.Unmarshal into interface{} sees: invalid UTF-8 bytes become U+FFFD
//   (as Go does), members in document order, numbers become doubles when marshalled (see below). A
//   duplicate key keeps the last value (kLast: Go's map, for what is re-marshalled) or the first (kFirst:
//   what gjson finds first, for conditions); either way at the first key's position. nullopt when Go's
//   Unmarshal would fail (invalid JSON, a number outside float64's range) or when the body nests deeper
//   than kMaxBodyDepth (inferd's bound, see docs/graph.md), or holds a lone UTF-16 surrogate escape
//   (refused by both parsers used here; Go would write U+FFFD).
//   Parsed with simdjson (per-thread parser, kept below 256 KiB of capacity between bodies) and converted;
//   nlohmann's parser (about 10x slower on numbers) only for what simdjson refuses (invalid UTF-8, integers
//   beyond 64 bits), so that both give Go's answer.
// - AppendGoJson: json.Marshal of that tree: object keys sorted bytewise, every number as Go formats a
//   float64 ('f' form, 'e' form below 1e-6 or from 1e21, exponent without leading zeros), strings with
//   Go's escapes (<, >, & as \u003c \u003e \u0026; U+2028/U+2029 escaped; control bytes as \u00XX except
//   \n \r \t). Recursion is bounded by the tree's depth (kMaxBodyDepth from ParseLikeGo).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace inferd::graph {

inline constexpr int kMaxBodyDepth = 128;

bool GoJsonValid(std::string_view text);
enum class DuplicateKeys { kLast, kFirst };
std::optional<nlohmann::ordered_json> ParseLikeGo(std::string_view text, DuplicateKeys dup = DuplicateKeys::kLast);
void AppendGoJson(std::string* out, const nlohmann::ordered_json& value);
void AppendGoJsonString(std::string* out, std::string_view s);

}  // namespace inferd::graph
