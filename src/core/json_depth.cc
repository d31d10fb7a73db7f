// core/json_depth.cc: see json_depth.h.
#include "core/json_depth.h"

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace inferd {

Status JsonTooDeep(std::string_view what, int max_depth) {
  return InvalidArgument(std::string(what) + ": nested deeper than " + std::to_string(max_depth) + " levels");
}

namespace {

constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighs = 0x8080808080808080ULL;

// Nonzero when one of the 8 bytes of `word` equals `c` (the classic zero-byte test on word ^ c...c).
constexpr uint64_t HasByte(uint64_t word, unsigned char c) {
  const uint64_t x = word ^ (kOnes * c);
  return (x - kOnes) & ~x & kHighs;
}

// Whether the 8 bytes at p hold nothing that CheckJsonDepth acts on: outside a string '"', '[', ']', '{',
// '}' ('[' and ']' are '{' and '}' less the 0x20 bit), inside one '"' and '\\'.
bool PlainWord(const char* p, bool in_string) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  if (in_string) return (HasByte(w, '"') | HasByte(w, '\\')) == 0;
  const uint64_t folded = w | (kOnes * 0x20);
  return (HasByte(w, '"') | HasByte(folded, '{') | HasByte(folded, '}')) == 0;
}

}  // namespace

Status CheckJsonDepth(std::string_view text, std::string_view what, int max_depth) {
  int depth = 0;
  bool in_string = false;
  const char* p = text.data();
  const char* const end = p + text.size();
  for (; p < end; ++p) {
    // Why by hand: the byte loop alone cost about 4 us on an mnist image's V1 body (5 KB of numbers, a
    // bracket every 28 values), as much as parsing it; words of 8 bytes with nothing to act on are skipped
    // whole, 3 to 4 times faster (docs/benchmarks.md, transformer section).
    while (end - p >= 8 && PlainWord(p, in_string)) p += 8;
    if (p == end) break;
    const char c = *p;
    if (in_string) {
      if (c == '\\') {
        ++p;  // the escaped character, whatever it is
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return JsonTooDeep(what, max_depth);
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;  // unbalanced text: the parser says where
        break;
      default:
        break;
    }
  }
  return Status::Ok();
}

Status CheckJsonTreeDepth(const nlohmann::ordered_json& value, std::string_view what, int max_depth) {
  if (!value.is_structured()) return Status::Ok();
  std::vector<std::pair<const nlohmann::ordered_json*, int>> stack = {{&value, 1}};
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (depth > max_depth) return JsonTooDeep(what, max_depth);
    for (const auto& child : *v) {  // array elements or object values
      if (child.is_structured()) stack.emplace_back(&child, depth + 1);
    }
  }
  return Status::Ok();
}

StatusOr<nlohmann::ordered_json> ParseBoundedJson(std::string_view text, std::string_view what, int max_depth) {
  RETURN_IF_ERROR(CheckJsonDepth(text, what, max_depth));
  try {
    return nlohmann::ordered_json::parse(text.begin(), text.end());
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(what) + " is not valid JSON: " + e.what());
  }
}

Status LimitJsonDepth(simdjson::dom::parser& parser) {
  // simdjson refuses a container that opens at depth >= max_depth (the root container is depth 1).
  auto err = parser.allocate(simdjson::dom::MINIMAL_DOCUMENT_CAPACITY, static_cast<size_t>(kMaxJsonDepth) + 1);
  if (err) return Internal(std::string("JSON parser: ") + simdjson::error_message(err));
  return Status::Ok();
}

}  // namespace inferd
