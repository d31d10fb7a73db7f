// core/json_depth.h: the one nesting limit for every JSON and YAML document inferd reads into a tree.
//
// Why: nlohmann's parser is iterative, but what runs on the tree afterwards (dump, copy, comparison, the YAML
// converter, the CLI's printers) recurses once per level, so an array nested 100,000 deep in an API body
// overflowed the stack of `inferd serve` after it had parsed fine. Every entry point checks depth while
// or before it builds a tree, against kMaxJsonDepth:
//   - JSON text for nlohmann (API bodies, stored rows, CLI answers, a replica's index): ParseBoundedJson, which
//     runs CheckJsonDepth (one byte pass, no allocation) before parsing.
//   - simdjson (V1/V2 bodies and the binary extension's header, CloudEvents, model-settings.json):
//     LimitJsonDepth on the parser; simdjson's stage 2 tracks depth anyway, so the limit costs nothing per parse.
//   - YAML (resources, `inferd serve --config`): yaml-cpp stops at its own guard (2000 levels, far below a
//     stack overflow), then the YAML->JSON conversion stops at kMaxJsonDepth (resources/yaml.cc).
//   - Trees built in memory before the store writes them: CheckJsonTreeDepth (iterative).
//
// Depth counts containers: `1` and `"x"` are depth 0, `[]` and `{}` depth 1, `{"a":[1]}` depth 2. Kubernetes
// objects are shallow (an InferenceService's deepest standard field is about 12 levels), so 64 leaves room and
// keeps every recursive walk a few kilobytes of stack.
//
// Contract: pure functions, any thread. Errors are InvalidArgument naming `what` and the limit.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "core/status.h"

namespace simdjson::dom {
class parser;
}

namespace inferd {

inline constexpr int kMaxJsonDepth = 64;

// The error every entry point returns for a document nested deeper than `max_depth`:
// "<what>: nested deeper than 64 levels".
Status JsonTooDeep(std::string_view what, int max_depth = kMaxJsonDepth);

// OK when no container in `text` (JSON) opens deeper than `max_depth`. Counts '[' and '{' outside strings
// (a string ends at an unescaped '"'); for valid JSON this is the document's exact depth, and text that is
// not JSON is left for the parser to refuse. O(n), no allocation.
Status CheckJsonDepth(std::string_view text, std::string_view what, int max_depth = kMaxJsonDepth);

// The same limit for a tree already in memory (walked with an explicit stack, not recursion).
Status CheckJsonTreeDepth(const nlohmann::ordered_json& value, std::string_view what, int max_depth = kMaxJsonDepth);

// CheckJsonDepth, then nlohmann's parser. Malformed text is InvalidArgument "<what> is not valid JSON: ...".
// No exception escapes.
StatusOr<nlohmann::ordered_json> ParseBoundedJson(std::string_view text, std::string_view what,
                                                  int max_depth = kMaxJsonDepth);

// Makes `parser` refuse (simdjson::DEPTH_ERROR) documents nested deeper than kMaxJsonDepth. Call once per
// parser, before its first parse; later parses keep the limit when they grow its capacity.
Status LimitJsonDepth(simdjson::dom::parser& parser);

}  // namespace inferd
