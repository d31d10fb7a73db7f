// graph/condition.h: InferenceGraph step conditions, which KServe evaluates as GJSON paths
// (github.com/tidwall/gjson; `gjson.GetBytes(body, condition).Exists()`: presence, not truth; see
// /work/shared/reference/graph.md section 3).
//
// Contract:
// - Condition::Parse compiles a path once (at graph compile time): dotted keys with gjson's escapes and
//   wildcards, array indexes, `#` (length), queries `#(path op value)` / `#(...)#` with ==, !=, <, <=, >,
//   >=, % (like), !% and the `&&` / `||` forms gjson supports, values as quoted strings, numbers, true,
//   false, null or unquoted words (compared as strings, as in KServe's `decision_picker==ERROR`),
//   modifiers `@this` and the `[...]`/`{...}` multipath forms KServe's docs use (`[@this].#(...)`).
//   Anything outside the supported subset is refused with InvalidArgument naming the position, never
//   evaluated loosely. Depth and length are bounded (hostile YAML).
// - Exists evaluates against a body parsed with graph/go_json.h's ParseLikeGo (ordered: gjson walks keys in
//   document order, which wildcards and queries see). Pure, thread-safe (const); allocates only for the
//   values gjson builds (`#`, `#.path`, `#(...)#`, multipaths).
// - warning(): non-empty when the path is accepted but probably does not mean what it looks like (gjson
//   has no `&&` / `||`: `#(a>0.5 && a<=0.9)` compares `a` with the whole text after `>`, which Go's
//   ParseFloat reads as 0). CompileGraph copies it into Graph::warnings.
// - Limits: kMaxConditionBytes bytes, kMaxConditionDepth nested paths (queries, multipaths, components
//   after a query or `#.`), kMaxConditionComponents components in all.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace inferd::graph {

inline constexpr size_t kMaxConditionBytes = 4096;
inline constexpr int kMaxConditionDepth = 16;
inline constexpr int kMaxConditionComponents = 128;

class Condition {
 public:
  static StatusOr<Condition> Parse(std::string_view path);
  // gjson's Get(body, path).Exists().
  bool Exists(const nlohmann::ordered_json& body) const;
  // gjson's Get(body, path) when it exists (tests and diagnostics; Exists does not copy).
  std::optional<nlohmann::ordered_json> Value(const nlohmann::ordered_json& body) const;
  const std::string& text() const { return text_; }
  const std::string& warning() const { return warning_; }

  struct Ast;  // condition.cc

 private:
  std::string text_;
  std::string warning_;
  std::shared_ptr<const Ast> ast_;
};

}  // namespace inferd::graph
