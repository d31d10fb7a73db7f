// graph/condition.cc: a GJSON path evaluator for the subset KServe's InferenceGraph conditions use, with
// gjson's semantics (github.com/tidwall/gjson, gjson.go: parseObjectPath, parseArrayPath, parseQuery,
// queryMatches, parseSubSelectors; re-implemented, not translated). gjson reads its path while it scans the
// raw JSON; here the path is parsed once into a tree of Path nodes and evaluated on a parsed body.
//
// How gjson's forms map onto Path (each Path is one form and, for most, the Path that follows it):
//   key      `name`, `na\.me`, `n*m?`: on an object, the first member (document order) whose key matches
//            (wildcards only when an unescaped * or ? is present) and whose remainder exists; on an array,
//            the element at that index when the component's raw text is a decimal number; nothing on a
//            scalar. `#` alone is the array's length; `#.rest` maps rest over the elements (a new array).
//   query    `#(path op value)` first element that matches, `#(...)#` all of them (an array, [] when none).
//   @this    the value itself; `[p1,p2]` / `{p1,n:p2}` multipaths build an array / object of what exists.
// Everything else gjson knows (pipes, other modifiers, static `!` values, `..` JSON lines) is refused.
#include "graph/condition.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

namespace inferd::graph {

using Json = nlohmann::ordered_json;

struct Condition::Ast {
  enum class Form { kKey, kCount, kEach, kQuery, kThis, kMulti };
  struct Sub {
    std::string name;  // `{name:path}`; for `{path}`, the name gjson derives (last component or "_")
    std::unique_ptr<Ast> path;
  };
  Form form = Form::kKey;
  std::string key;                 // kKey (unescaped); kCount/kEach: "#" (their meaning on an object)
  bool wild = false;               // kKey: an unescaped * or ? (matching then uses gjson's pattern)
  bool has_index = false;          // kKey on an array: the raw component is a decimal index
  uint64_t index = 0;
  // kQuery
  std::unique_ptr<Ast> qpath;      // the path tested on each element (nullptr: the element itself)
  std::string op;                  // "" (existence), "=", "!=", "<", "<=", ">", ">=", "%", "!%"
  std::string value;               // the right-hand side, quotes removed as gjson does
  double num = 0;                  // value as Go's strconv.ParseFloat reads it (0 when it cannot)
  bool all = false;                // #(...)#
  // kMulti
  char multi = '[';
  std::vector<Sub> subs;
  std::unique_ptr<Ast> next;       // the rest of the path (after '.', or kEach's per-element path)
};

namespace {

using Ast = Condition::Ast;

// ---- parsing ---------------------------------------------------------------------------------------

struct Parser {
  std::string_view whole;
  int components = 0;
  std::string warning;

  Status Error(std::string_view at, std::string what) const {
    size_t pos = at.data() >= whole.data() && at.data() <= whole.data() + whole.size()
                     ? static_cast<size_t>(at.data() - whole.data())
                     : 0;
    return InvalidArgument("condition \"" + std::string(whole) + "\": at position " + std::to_string(pos) + ": " +
                           what);
  }
  StatusOr<std::unique_ptr<Ast>> ParsePath(std::string_view p, int depth);
  Status ParseQuery(std::string_view p, Ast* out, size_t* end, int depth);
  Status ParseMulti(std::string_view p, Ast* out, size_t* end, int depth);
  Status ParseRest(std::string_view p, size_t i, Ast* out, int depth);
};

bool IsModifierName(std::string_view n) {
  for (const char* m : {"pretty", "this", "ugly", "reverse", "flatten", "keys", "values", "join", "valid", "fromstr",
                        "tostr", "group", "dig"}) {
    if (n == m) return true;
  }
  return false;
}

std::string_view Trim(std::string_view s) {  // gjson's trim: bytes <= ' ' at both ends
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= ' ') s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= ' ') s.remove_suffix(1);
  return s;
}

bool ParseUint(std::string_view s, uint64_t* n) {  // gjson's parseUint (no overflow check there either)
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *n = v;
  return true;
}

void AppendUtf8(std::string* out, uint32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = 0xFFFD;
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

uint32_t Hex4(std::string_view s) {
  uint32_t v = 0;
  for (size_t k = 0; k < 4 && k < s.size(); ++k) {
    char c = s[k];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return 0;  // Go's ParseUint fails and runeit yields 0
    v = v * 16 + static_cast<uint32_t>(d);
  }
  return v;
}

// gjson's unescape: JSON escapes; it stops at a control byte or an unknown escape.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (static_cast<unsigned char>(c) < ' ') return out;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= s.size()) return out;
    switch (s[i]) {
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case '"': out.push_back('"'); break;
      case 'u': {
        if (i + 5 > s.size()) return out;
        uint32_t r = Hex4(s.substr(i + 1));
        i += 5;
        if (r >= 0xD800 && r <= 0xDFFF && s.size() - i >= 6 && s[i] == '\\' && s[i + 1] == 'u') {
          uint32_t lo = Hex4(s.substr(i + 2));
          r = (r < 0xDC00 && lo >= 0xDC00 && lo <= 0xDFFF) ? 0x10000 + ((r - 0xD800) << 10) + (lo - 0xDC00) : 0xFFFD;
          i += 6;
        }
        AppendUtf8(&out, r);
        --i;
        break;
      }
      default: return out;
    }
  }
  return out;
}

// Go's strconv.ParseFloat(s, 64) as gjson uses it: the value, or 0 when s is not a number; out of range
// gives +-Inf (Go returns those with ErrRange, which gjson ignores).
double GoParseFloat(std::string_view s) {
  std::string_view t = s;
  bool neg = false;
  if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
    neg = t[0] == '-';
    t.remove_prefix(1);
  }
  std::string lower;
  for (char c : t) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
  if (lower == "inf" || lower == "infinity") return neg ? -HUGE_VAL : HUGE_VAL;
  if (lower == "nan") return std::nan("");
  if (t.empty() || t.front() == '+' || t.front() == '-') return 0;
  double v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v, std::chars_format::general);
  if (r.ptr != t.data() + t.size()) return 0;
  if (r.ec == std::errc::result_out_of_range) {
    // Overflow or underflow: tell them apart by the exponent's sign.
    size_t e = lower.find('e');
    bool tiny = e != std::string::npos && e + 1 < lower.size() && lower[e + 1] == '-';
    v = tiny ? 0.0 : HUGE_VAL;
  } else if (r.ec != std::errc()) {
    return 0;
  }
  return neg ? -v : v;
}

// Does `value` (gjson: the text after the operator) hold && or || outside double quotes?
bool LooksLogical(std::string_view v) {
  bool in = false;
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    if (v[i] == '\\') {
      ++i;
    } else if (v[i] == '"') {
      in = !in;
    } else if (!in && ((v[i] == '&' && v[i + 1] == '&') || (v[i] == '|' && v[i + 1] == '|'))) {
      return true;
    }
  }
  return false;
}

Status Parser::ParseQuery(std::string_view p, Ast* out, size_t* end, int depth) {
  // gjson's parseQuery: the operator starts at the first of ! = < > % at bracket depth 1; quotes and
  // backslashes are skipped; the query ends at the bracket that closes '#(' or '#['.
  size_t i = 2, j = 0;
  int d = 1;
  bool vesc = false;
  for (; i < p.size(); ++i) {
    if (d == 1 && j == 0 && std::strchr("!=<>%", p[i]) && p[i] != '\0') {
      j = i;
      continue;
    }
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '[' || p[i] == '(') {
      ++d;
    } else if (p[i] == ']' || p[i] == ')') {
      if (--d == 0) break;
    } else if (p[i] == '"') {
      for (++i; i < p.size(); ++i) {
        if (p[i] == '\\') {
          vesc = true;
          ++i;
        } else if (p[i] == '"') {
          break;
        }
      }
    }
  }
  if (d > 0) return Error(p, "the query is not closed");
  std::string_view qpath;
  if (j > 0) {
    qpath = Trim(p.substr(2, j - 2));
    std::string_view v = Trim(p.substr(j, i - j));
    size_t opsz = 0;
    if (v.size() == 1) {
      opsz = 1;
    } else if (v.substr(0, 2) == "!=" || v.substr(0, 2) == "!%" || v.substr(0, 2) == "<=" || v.substr(0, 2) == ">=") {
      opsz = 2;
    } else if (v.substr(0, 2) == "==") {
      v.remove_prefix(1);
      opsz = 1;
    } else if (v[0] == '<' || v[0] == '>' || v[0] == '=' || v[0] == '%') {
      opsz = 1;
    }
    out->op = std::string(v.substr(0, opsz));
    if (out->op.empty() || out->op == "!") {
      return Error(v, "unknown operator in \"" + std::string(v) + "\" (supported: == != < <= > >= % !%)");
    }
    v = Trim(v.substr(opsz));
    if (LooksLogical(v)) {
      warning = "condition \"" + std::string(whole) +
                "\": gjson has no && or || inside a query: the whole text after the operator (\"" + std::string(v) +
                "\") is the value compared (a number compares against 0 when that text is not a number)";
    }
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
      v = v.substr(1, v.size() - 2);
      out->value = vesc ? Unescape(v) : std::string(v);
    } else {
      out->value = std::string(v);
    }
    out->num = GoParseFloat(out->value);
  } else {
    qpath = Trim(p.substr(2, i - 2));
  }
  if (!qpath.empty()) {
    ASSIGN_OR_RETURN(out->qpath, ParsePath(qpath, depth + 1));
  }
  *end = i + 1;
  return Status::Ok();
}

Status Parser::ParseMulti(std::string_view p, Ast* out, size_t* end, int depth) {
  // gjson's parseSubSelectors: selectors split at depth-1 commas, `name:path` at the first depth-1 colon
  // (not inside a modifier), quotes and escapes skipped; ends at the bracket closing p[0].
  out->multi = p[0];
  int d = 1;
  size_t start = 1, colon = 0;
  bool modifier = false;
  auto push = [&](size_t i) -> Status {
    Ast::Sub sub;
    std::string_view path = p.substr(start, i - start);
    if (colon) {
      sub.name = std::string(p.substr(start, colon - start));
      path = p.substr(colon + 1, i - colon - 1);
      if (sub.name.size() >= 2 && sub.name.front() == '"') {
        auto n = nlohmann::json::parse(sub.name, nullptr, false);
        if (n.is_string()) sub.name = n.get<std::string>();
      }
    } else {
      // gjson: the last component's name when it is simple, else "_".
      size_t k = path.size();
      while (k > 0 && !((path[k - 1] == '.' || path[k - 1] == '|') && !(k >= 2 && path[k - 2] == '\\'))) --k;
      std::string_view last = path.substr(k);
      bool simple = true;
      for (char c : last) {
        if (static_cast<unsigned char>(c) < ' ' || std::strchr("[]{}()#|!", c)) simple = false;
      }
      sub.name = simple ? std::string(last) : "_";
    }
    ASSIGN_OR_RETURN(sub.path, ParsePath(path, depth + 1));
    out->subs.push_back(std::move(sub));
    colon = 0;
    modifier = false;
    start = i + 1;
    return Status::Ok();
  };
  for (size_t i = 1; i < p.size(); ++i) {
    switch (p[i]) {
      case '\\': ++i; break;
      case '@':
        if (!modifier && (p[i - 1] == '.' || p[i - 1] == '|')) modifier = true;
        break;
      case ':':
        if (!modifier && colon == 0 && d == 1) colon = i;
        break;
      case ',':
        if (d == 1) RETURN_IF_ERROR(push(i));
        break;
      case '"':
        for (++i; i < p.size() && p[i] != '"'; ++i) {
          if (p[i] == '\\') ++i;
        }
        break;
      case '[': case '(': case '{': ++d; break;
      case ']': case ')': case '}':
        if (--d == 0) {
          RETURN_IF_ERROR(push(i));
          *end = i + 1;
          return Status::Ok();
        }
        break;
      default: break;
    }
  }
  return Error(p, "the multipath is not closed");
}

// After a form that ends at p[i]: nothing, or '.' and the next path.
Status Parser::ParseRest(std::string_view p, size_t i, Ast* out, int depth) {
  if (i >= p.size()) return Status::Ok();
  if (p[i] == '|') return Error(p.substr(i), "pipes ('|') are not supported");
  if (p[i] != '.') return Error(p.substr(i), "expected '.' or the end of the path");
  ASSIGN_OR_RETURN(out->next, ParsePath(p.substr(i + 1), depth));
  return Status::Ok();
}

StatusOr<std::unique_ptr<Ast>> Parser::ParsePath(std::string_view p, int depth) {
  if (depth > kMaxConditionDepth) return Error(p, "nested deeper than " + std::to_string(kMaxConditionDepth) + " levels");
  if (++components > kMaxConditionComponents) {
    return Error(p, "more than " + std::to_string(kMaxConditionComponents) + " path components");
  }
  auto ast = std::make_unique<Ast>();
  if (p.size() > 1 && p[0] == '@') {
    size_t k = 1;
    while (k < p.size() && p[k] != '.' && p[k] != '|' && p[k] != ':') ++k;
    std::string_view name = p.substr(1, k - 1);
    if (name == "this") {
      if (k < p.size() && p[k] == ':') return Error(p.substr(k), "@this takes no argument");
      ast->form = Ast::Form::kThis;
      RETURN_IF_ERROR(ParseRest(p, k, ast.get(), depth));
      return ast;
    }
    if (IsModifierName(name)) return Error(p, "modifier @" + std::string(name) + " is not supported (only @this)");
    // Not a modifier: gjson reads it as a key such as "@timestamp".
  }
  if (p.size() > 1 && p[0] == '!') return Error(p, "static values ('!') are not supported");
  if (p.size() >= 2 && p[0] == '.' && p[1] == '.') return Error(p, "JSON lines ('..') are not supported");
  if (p.size() > 1 && (p[0] == '[' || p[0] == '{')) {
    ast->form = Ast::Form::kMulti;
    size_t end = 0;
    RETURN_IF_ERROR(ParseMulti(p, ast.get(), &end, depth));
    RETURN_IF_ERROR(ParseRest(p, end, ast.get(), depth));
    return ast;
  }
  if (p.size() > 1 && p[0] == '#' && (p[1] == '(' || p[1] == '[')) {
    ast->form = Ast::Form::kQuery;
    size_t end = 0;
    RETURN_IF_ERROR(ParseQuery(p, ast.get(), &end, depth));
    if (end < p.size() && p[end] == '#') {
      ast->all = true;
      ++end;
    }
    RETURN_IF_ERROR(ParseRest(p, end, ast.get(), depth));
    return ast;
  }
  if (p == "#") {
    ast->form = Ast::Form::kCount;
    ast->key = "#";
    return ast;
  }
  if (p.size() > 1 && p[0] == '#' && p[1] == '.') {
    ast->form = Ast::Form::kEach;
    ast->key = "#";
    ASSIGN_OR_RETURN(ast->next, ParsePath(p.substr(2), depth + 1));
    return ast;
  }
  // A key: up to the first unescaped '.'; '\' makes the next byte literal.
  size_t i = 0;
  for (; i < p.size(); ++i) {
    char c = p[i];
    if (c == '|') return Error(p.substr(i), "pipes ('|') are not supported");
    if (c == '.') break;
    if (c == '\\') {
      if (++i < p.size()) ast->key.push_back(p[i]);
      continue;
    }
    if (c == '*' || c == '?') ast->wild = true;
    ast->key.push_back(c);
  }
  // On an array gjson reads the raw text up to the first '.' (escapes not processed) as an index.
  size_t raw_end = p.find('.');
  ast->has_index = ParseUint(p.substr(0, raw_end == std::string_view::npos ? p.size() : raw_end), &ast->index);
  RETURN_IF_ERROR(ParseRest(p, i, ast.get(), depth));
  return ast;
}

// ---- evaluation ------------------------------------------------------------------------------------

// gjson's match.MatchLimit: '*' any run of characters, '?' one character (a UTF-8 sequence counts as
// one), everything else literal. Iterative with one backtrack point (linear memory, O(n*m) worst case);
// like gjson's limit of 10000 steps against hostile patterns, it gives up (false) after kMatchBudget steps.
constexpr size_t kMatchBudget = 1 << 20;
size_t CharLen(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  return std::min(n, s.size() - i);
}
bool Match(std::string_view str, std::string_view pat) {
  if (pat == "*") return true;
  size_t s = 0, p = 0, star_p = std::string_view::npos, star_s = 0, budget = 0;
  while (s < str.size()) {
    if (++budget > kMatchBudget) return false;
    if (p < pat.size() && pat[p] == '*') {
      star_p = p++;
      star_s = s;
    } else if (p < pat.size() && pat[p] == '?') {
      s += CharLen(str, s);
      p += CharLen(pat, p);
    } else if (p < pat.size() && pat[p] == str[s]) {
      ++s;
      ++p;
    } else if (star_p != std::string_view::npos) {
      p = star_p + 1;
      star_s += CharLen(str, star_s);
      s = star_s;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

// A value found or built by a path: `ref` points into the body or into `owned`.
struct Found {
  const Json* ref = nullptr;
  std::unique_ptr<Json> owned;
  bool exists() const { return ref != nullptr; }
  static Found Own(Json v) {
    Found f;
    f.owned = std::make_unique<Json>(std::move(v));
    f.ref = f.owned.get();
    return f;
  }
};

Found Get(const Json& v, const Ast& a);

Found Then(const Json& v, const Ast& a) {  // v, then the rest of the path if any
  if (!a.next) return Found{&v, nullptr};
  return Get(v, *a.next);
}

// gjson's queryMatches on one candidate value (nullptr: it does not exist).
bool QueryMatches(const Ast& q, const Json* value) {
  std::string_view rpv = q.value;
  double rpvn = q.num;
  Json converted;
  if (!rpv.empty() && rpv[0] == '~') {
    rpv.remove_prefix(1);
    auto str_bool = [](const Json* v, bool* b) {  // strconv.ParseBool(strings.ToLower(s))
      std::string s;
      for (char c : v->get_ref<const std::string&>()) s.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
      if (s == "1" || s == "t" || s == "true") return *b = true, true;
      if (s == "0" || s == "f" || s == "false") return *b = false, true;
      return false;
    };
    bool ish = false, ok = true;
    if (rpv == "*") {
      ish = value != nullptr;
    } else if (rpv == "null") {
      ish = !value || value->is_null();
    } else if (rpv == "true" || rpv == "false") {
      bool want_true = rpv == "true", b = false;
      if (!value) {
        ish = !want_true;  // a missing value is false-ish (gjson's falseish sees an empty Result as Null)
      } else if (value->is_boolean()) {
        ish = value->get<bool>() == want_true;
      } else if (value->is_null()) {
        ish = !want_true;
      } else if (value->is_string()) {
        ish = str_bool(value, &b) && b == want_true;
      } else if (value->is_number()) {
        ish = (value->get<double>() != 0) == want_true;
      }
    } else {
      ok = false;
    }
    if (ok) {
      rpv = "true";
      converted = Json(ish);
      value = &converted;
    } else {
      rpv = "";
      value = nullptr;
    }
  }
  if (!value) return false;
  const std::string& op = q.op;
  if (op.empty()) return true;
  if (value->is_string()) {
    std::string_view s = value->get_ref<const std::string&>();
    if (op == "=") return s == rpv;
    if (op == "!=") return s != rpv;
    if (op == "<") return s < rpv;
    if (op == "<=") return s <= rpv;
    if (op == ">") return s > rpv;
    if (op == ">=") return s >= rpv;
    if (op == "%") return Match(s, rpv);
    if (op == "!%") return !Match(s, rpv);
    return false;
  }
  if (value->is_number()) {
    double n = value->get<double>();
    if (op == "=") return n == rpvn;
    if (op == "!=") return n != rpvn;
    if (op == "<") return n < rpvn;
    if (op == "<=") return n <= rpvn;
    if (op == ">") return n > rpvn;
    if (op == ">=") return n >= rpvn;
    return false;
  }
  if (value->is_boolean()) {
    bool t = value->get<bool>();
    if (t) {
      if (op == "=") return rpv == "true";
      if (op == "!=") return rpv != "true";
      if (op == ">") return rpv == "false";
      if (op == ">=") return true;
    } else {
      if (op == "=") return rpv == "false";
      if (op == "!=") return rpv != "false";
      if (op == "<") return rpv == "true";
      if (op == "<=") return true;
    }
  }
  return false;  // null, objects and arrays never compare
}

// The elements gjson's array forms walk: a JSON array, or the values a `[...]` multipath found (which
// `[@this].#(...)` then queries without copying the body into a new array).
struct JsonArray {
  const Json& j;
  size_t size() const { return j.size(); }
  const Json& at(size_t i) const { return j[i]; }
  auto begin() const { return j.begin(); }
  auto end() const { return j.end(); }
};
struct RefList {
  const std::vector<const Json*>& v;
  struct It {
    std::vector<const Json*>::const_iterator i;
    const Json& operator*() const { return **i; }
    It& operator++() { return ++i, *this; }
    bool operator!=(const It& o) const { return i != o.i; }
  };
  size_t size() const { return v.size(); }
  const Json& at(size_t i) const { return *v[i]; }
  It begin() const { return {v.begin()}; }
  It end() const { return {v.end()}; }
};

template <class Arr>
Found Query(const Arr& arr, const Ast& a) {
  Json all = Json::array();
  for (const Json& e : arr) {
    Found candidate;
    if (e.is_object() || e.is_array()) {
      if (a.qpath) {
        candidate = Get(e, *a.qpath);
      } else if (e.is_object()) {  // an empty query path on a container: the key ""
        auto it = e.find("");
        if (it != e.end()) candidate.ref = &*it;
      }
    } else if (!a.qpath) {
      candidate.ref = &e;
    } else {
      continue;
    }
    if (!QueryMatches(a, candidate.ref)) continue;
    Found r = Then(e, a);
    if (!a.all) return r;  // the first match decides, even when its rest does not exist
    if (r.exists()) all.push_back(*r.ref);
  }
  if (a.all) return Found::Own(std::move(all));
  return {};
}

template <class Arr>
Found OnArray(const Arr& arr, const Ast& a) {
  switch (a.form) {
    case Ast::Form::kCount: return Found::Own(Json(arr.size()));
    case Ast::Form::kEach: {
      Json out = Json::array();
      for (const Json& e : arr) {
        Found r = Get(e, *a.next);
        if (r.exists()) out.push_back(*r.ref);
      }
      return Found::Own(std::move(out));
    }
    case Ast::Form::kQuery: return Query(arr, a);
    case Ast::Form::kKey:
      if (!a.has_index || a.index >= arr.size()) return {};
      return Then(arr.at(static_cast<size_t>(a.index)), a);
    default: return {};  // kThis / kMulti are handled before
  }
}

Found Multi(const Json& v, const Ast& a) {
  std::vector<Found> found;
  found.reserve(a.subs.size());
  bool all_refs = true;
  for (const auto& sub : a.subs) {
    found.push_back(Get(v, *sub.path));
    all_refs = all_refs && !found.back().owned;
  }
  bool array_form = a.next && a.next->form != Ast::Form::kThis && a.next->form != Ast::Form::kMulti;
  if (a.multi == '[' && array_form && all_refs) {
    std::vector<const Json*> refs;
    for (const Found& f : found) {
      if (f.exists()) refs.push_back(f.ref);
    }
    return OnArray(RefList{refs}, *a.next);  // results point into the body, not into `found`
  }
  Json built = a.multi == '[' ? Json::array() : Json::object();
  for (size_t i = 0; i < found.size(); ++i) {
    if (!found[i].exists()) continue;
    if (a.multi == '[') {
      built.push_back(*found[i].ref);
    } else if (!built.contains(a.subs[i].name)) {  // gjson's raw object keeps duplicates; reads see the first
      built[a.subs[i].name] = *found[i].ref;
    }
  }
  if (!a.next) return Found::Own(std::move(built));
  Found r = Get(built, *a.next);
  if (r.exists() && !r.owned) r = Found::Own(*r.ref);  // `built` dies here
  return r;
}

Found Get(const Json& v, const Ast& a) {
  if (a.form == Ast::Form::kThis) return Then(v, a);
  if (a.form == Ast::Form::kMulti) return Multi(v, a);
  if (v.is_object()) {
    if (a.form == Ast::Form::kQuery) return {};  // gjson would look up a key spelled like the query
    for (auto it = v.begin(); it != v.end(); ++it) {
      bool match = a.wild ? Match(it.key(), a.key) : it.key() == a.key;
      if (!match) continue;
      const Ast* rest = a.next.get();  // kEach on an object: the key "#", then the rest
      if (!rest) return Found{&it.value(), nullptr};
      Found r = Get(it.value(), *rest);
      if (r.exists()) return r;
    }
    return {};
  }
  if (v.is_array()) return OnArray(JsonArray{v}, a);
  return {};  // a scalar has no members
}

}  // namespace

StatusOr<Condition> Condition::Parse(std::string_view path) {
  if (path.size() > kMaxConditionBytes) {
    return InvalidArgument("condition: longer than " + std::to_string(kMaxConditionBytes) + " bytes");
  }
  Parser parser;
  parser.whole = path;
  ASSIGN_OR_RETURN(std::unique_ptr<Ast> ast, parser.ParsePath(path, 0));
  Condition c;
  c.text_ = std::string(path);
  c.warning_ = std::move(parser.warning);
  c.ast_ = std::shared_ptr<const Ast>(std::move(ast));
  return c;
}

bool Condition::Exists(const nlohmann::ordered_json& body) const {
  if (!ast_) return false;
  return Get(body, *ast_).exists();
}

std::optional<nlohmann::ordered_json> Condition::Value(const nlohmann::ordered_json& body) const {
  if (!ast_) return std::nullopt;
  Found f = Get(body, *ast_);
  if (!f.exists()) return std::nullopt;
  return *f.ref;
}

}  // namespace inferd::graph
