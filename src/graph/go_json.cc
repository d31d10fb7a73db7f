// graph/go_json.cc: see go_json.h. The validator is hand-written (not nlohmann's accept() nor simdjson)
// because Go accepts what both of those refuse (bytes that are not UTF-8 inside strings) and because it
// runs on every graph answer (the Content-Type rule): one pass, no allocation, no tree.
#include "graph/go_json.h"

#include <algorithm>
#include <bitset>
#include <charconv>
#include <cmath>
#include <cstring>

#include <memory>
#include <unordered_set>
#include <vector>

#include <simdjson.h>

#include "core/json_depth.h"

namespace inferd::graph {
namespace {

constexpr int kGoMaxNesting = 10000;  // encoding/json's scanner limit

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Scans one string whose opening quote is at s[i-1]; returns the index after the closing quote or npos.
size_t ScanString(std::string_view s, size_t i) {
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20) return std::string_view::npos;
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (++i >= s.size()) return std::string_view::npos;
      switch (s[i]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': ++i; break;
        case 'u':
          for (int k = 1; k <= 4; ++k) {
            if (i + k >= s.size() || !IsHex(s[i + k])) return std::string_view::npos;
          }
          i += 5;
          break;
        default: return std::string_view::npos;
      }
      continue;
    }
    ++i;
  }
  return std::string_view::npos;
}

size_t ScanNumber(std::string_view s, size_t i) {
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || !IsDigit(s[i])) return std::string_view::npos;
  if (s[i] == '0') {
    ++i;
  } else {
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || !IsDigit(s[i])) return std::string_view::npos;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || !IsDigit(s[i])) return std::string_view::npos;
    while (i < s.size() && IsDigit(s[i])) ++i;
  }
  return i;
}

size_t SkipWs(std::string_view s, size_t i) {
  while (i < s.size() && IsWs(s[i])) ++i;
  return i;
}

// Go's utf8.DecodeRune validity: the length of the well-formed sequence at s[i], or 0 when s[i] starts none.
size_t Utf8Len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Go's float64 encoding (encoding/json floatEncoder): shortest round-trip digits, 'f' or 'e' form.
void AppendGoFloat(std::string* out, double f) {
  if (f == 0) {
    out->append(std::signbit(f) ? "-0" : "0");
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));  // e.g. -1.2345e+20
  bool neg = sci.front() == '-';
  if (neg) sci.remove_prefix(1);
  size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exp = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
  double a = std::fabs(f);
  if (neg) out->push_back('-');
  if (a < 1e-6 || a >= 1e21) {  // d.ddde±X (Go: at least one exponent digit after the clean-up)
    out->push_back(digits[0]);
    if (digits.size() > 1) {
      out->push_back('.');
      out->append(digits, 1);
    }
    out->push_back('e');
    out->push_back(exp < 0 ? '-' : '+');
    // Go writes at least two exponent digits and encoding/json then shortens e-0X to e-X; 'e' is used
    // only from 1e21 up or below 1e-6, so the result is always the plain decimal exponent.
    out->append(std::to_string(std::abs(exp)));
    return;
  }
  // 'f' form: the digits placed around the decimal point, zero-padded.
  int point = exp + 1;  // digits before the point
  if (point <= 0) {
    out->append("0.");
    out->append(static_cast<size_t>(-point), '0');
    out->append(digits);
  } else if (static_cast<size_t>(point) >= digits.size()) {
    out->append(digits);
    out->append(static_cast<size_t>(point) - digits.size(), '0');
  } else {
    out->append(digits, 0, static_cast<size_t>(point));
    out->push_back('.');
    out->append(digits, static_cast<size_t>(point));
  }
}

}  // namespace

bool GoJsonValid(std::string_view s) {
  // Iterative: `stack` holds one bit per open container (1 = object), `depth` its height.
  std::bitset<kGoMaxNesting> stack;
  int depth = 0;
  size_t i = SkipWs(s, 0);
  for (;;) {
    // A value starts at i.
    if (i >= s.size()) return false;
    char c = s[i];
    bool closed_empty = false;
    if (c == '{' || c == '[') {
      if (depth >= kGoMaxNesting) return false;
      stack[static_cast<size_t>(depth++)] = (c == '{');
      i = SkipWs(s, i + 1);
      if (i < s.size() && s[i] == (c == '{' ? '}' : ']')) {
        --depth;
        ++i;
        closed_empty = true;
      } else if (c == '{') {
        if (i >= s.size() || s[i] != '"') return false;
        i = ScanString(s, i + 1);
        if (i == std::string_view::npos) return false;
        i = SkipWs(s, i);
        if (i >= s.size() || s[i] != ':') return false;
        i = SkipWs(s, i + 1);
        continue;
      } else {
        continue;
      }
    }
    if (!closed_empty) {
      if (c == '"') {
        i = ScanString(s, i + 1);
      } else if (c == '-' || IsDigit(c)) {
        i = ScanNumber(s, i);
      } else if (s.compare(i, 4, "true") == 0 || s.compare(i, 4, "null") == 0) {
        i += 4;
      } else if (s.compare(i, 5, "false") == 0) {
        i += 5;
      } else {
        return false;
      }
      if (i == std::string_view::npos) return false;
    }
    // After a value: close containers or move to the next element.
    for (;;) {
      i = SkipWs(s, i);
      if (depth == 0) return i == s.size();
      if (i >= s.size()) return false;
      bool obj = stack[static_cast<size_t>(depth - 1)];
      if (s[i] == (obj ? '}' : ']')) {
        --depth;
        ++i;
        continue;
      }
      if (s[i] != ',') return false;
      i = SkipWs(s, i + 1);
      if (obj) {
        if (i >= s.size() || s[i] != '"') return false;
        i = ScanString(s, i + 1);
        if (i == std::string_view::npos) return false;
        i = SkipWs(s, i);
        if (i >= s.size() || s[i] != ':') return false;
        i = SkipWs(s, i + 1);
      }
      break;
    }
  }
}

namespace {

using Json = nlohmann::ordered_json;

// simdjson's element -> ordered_json, depth bounded by the parser's max_depth.
Json Convert(simdjson::dom::element e, DuplicateKeys dup) {
  using T = simdjson::dom::element_type;
  switch (e.type()) {
    case T::ARRAY: {
      Json out = Json::array();
      simdjson::dom::array arr(e);
      out.get_ref<Json::array_t&>().reserve(arr.size());
      for (simdjson::dom::element x : arr) out.push_back(Convert(x, dup));
      return out;
    }
    case T::OBJECT: {
      Json out = Json::object();
      auto& members = out.get_ref<Json::object_t&>();
      simdjson::dom::object obj(e);
      // ordered_json finds keys by a linear scan: past a few members, a set of the keys seen says whether
      // one repeats (JSON objects rarely do), keeping the conversion linear.
      std::unordered_set<std::string_view> seen;
      bool big = obj.size() > 16;
      for (auto field : obj) {
        std::string_view key = field.key;
        bool repeated = big ? !seen.insert(key).second : members.find(std::string(key)) != members.end();
        if (!repeated) {
          members.emplace_back(std::string(key), Convert(field.value, dup));
        } else if (dup == DuplicateKeys::kLast) {
          members.find(std::string(key))->second = Convert(field.value, dup);
        }
      }
      return out;
    }
    case T::INT64: return Json(int64_t(e));
    case T::UINT64: return Json(uint64_t(e));
    case T::DOUBLE: return Json(double(e));
    case T::STRING: return Json(std::string(std::string_view(e)));
    case T::BOOL: return Json(bool(e));
    case T::NULL_VALUE: return Json(nullptr);
  }
  return Json();
}

// simdjson holds about 14 bytes per byte of capacity (tape, structural indexes, strings): a worker thread keeps
// at most ~3.5 MiB; a larger body gets a parser of its own size, freed after it.
constexpr size_t kKeptParserCapacity = 256 << 10;

std::optional<Json> ParseWithSimdjson(std::string_view text, DuplicateKeys dup, bool* fallback) {
  thread_local std::unique_ptr<simdjson::dom::parser> parser;
  if (!parser) {
    parser = std::make_unique<simdjson::dom::parser>();
    // simdjson 3.0.1 counts a scalar inside the innermost container as one more level (measured): with
    // max_depth kMaxBodyDepth + 1, kMaxBodyDepth containers around a value pass and one more fails (only
    // kMaxBodyDepth + 1 empty containers also pass; recursion stays bounded either way).
    if (parser->allocate(simdjson::dom::MINIMAL_DOCUMENT_CAPACITY, static_cast<size_t>(kMaxBodyDepth) + 1)) {
      parser.reset();
      *fallback = true;
      return std::nullopt;
    }
  }
  simdjson::dom::element root;
  auto err = parser->parse(text.data(), text.size()).get(root);
  std::optional<Json> out;
  if (err == simdjson::SUCCESS) out = Convert(root, dup);
  if (parser->capacity() > kKeptParserCapacity) parser.reset();
  if (out) return out;
  // Invalid UTF-8 (Go replaces it) and numbers simdjson does not take (integers beyond 64 bits, which Go
  // reads as float64) go to the slower parser; anything else is not JSON for Go either.
  *fallback = err == simdjson::UTF8_ERROR || err == simdjson::NUMBER_ERROR ||
              err == simdjson::NUMBER_OUT_OF_RANGE;
  return std::nullopt;
}

}  // namespace

std::optional<nlohmann::ordered_json> ParseLikeGo(std::string_view text, DuplicateKeys dup) {
  bool fallback = false;  // simdjson enforces kMaxBodyDepth itself (its parser's max_depth)
  if (auto v = ParseWithSimdjson(text, dup, &fallback)) return v;
  if (!fallback) return std::nullopt;
  if (!CheckJsonDepth(text, "body", kMaxBodyDepth).ok()) return std::nullopt;
  // nlohmann stops at a NUL byte as at the end of input; JSON has none outside strings, and none raw inside.
  if (text.find('\0') != std::string_view::npos) return std::nullopt;
  std::string fixed;
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8Len(text, i);
    if (n == 0 && fixed.empty()) fixed.assign(text.substr(0, i));
    if (n == 0) {
      fixed.append("\xEF\xBF\xBD");
      ++i;
      continue;
    }
    if (!fixed.empty()) fixed.append(text.substr(i, n));
    i += n;
  }
  std::string_view src = fixed.empty() ? text : std::string_view(fixed);
  if (!fixed.empty()) {  // valid UTF-8 now: simdjson can take it unless its numbers are the problem
    bool again = false;
    if (auto v = ParseWithSimdjson(src, dup, &again)) return v;
    if (!again) return std::nullopt;
  }
  // nlohmann keeps the last value of a repeated key; kFirst needs its own pass over the text (rare:
  // only bodies with integers beyond 64 bits and a repeated key get here), so the callback keeps the first.
  if (dup == DuplicateKeys::kFirst) {
    std::vector<std::unordered_set<std::string>> keys;
    bool skip_next = false;
    auto keep_first = [&](int depth, nlohmann::ordered_json::parse_event_t ev, Json& parsed) {
      using E = nlohmann::ordered_json::parse_event_t;
      if (ev == E::object_start) keys.emplace_back();
      if (ev == E::object_end && !keys.empty()) keys.pop_back();
      if (ev == E::key && !keys.empty()) {
        skip_next = !keys.back().insert(parsed.get<std::string>()).second;
        return !skip_next;
      }
      (void)depth;
      return true;
    };
    auto v = Json::parse(src.begin(), src.end(), keep_first, /*allow_exceptions=*/false);
    if (v.is_discarded()) return std::nullopt;
    return v;
  }
  auto v = Json::parse(src.begin(), src.end(), nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return std::nullopt;
  return v;
}

void AppendGoJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\b': out->append("\\b"); break;
        case '\f': out->append("\\f"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 0xF]);
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    size_t n = Utf8Len(s, i);
    if (n == 0) {
      out->append("\\ufffd");
      ++i;
    } else if (n == 3 && s.compare(i, 3, "\xE2\x80\xA8") == 0) {
      out->append("\\u2028");
      i += 3;
    } else if (n == 3 && s.compare(i, 3, "\xE2\x80\xA9") == 0) {
      out->append("\\u2029");
      i += 3;
    } else {
      out->append(s.substr(i, n));
      i += n;
    }
  }
  out->push_back('"');
}

void AppendGoJson(std::string* out, const nlohmann::ordered_json& v) {
  using T = nlohmann::ordered_json::value_t;
  switch (v.type()) {
    case T::null: case T::discarded: out->append("null"); return;
    case T::boolean: out->append(v.get<bool>() ? "true" : "false"); return;
    case T::number_integer: AppendGoFloat(out, static_cast<double>(v.get<int64_t>())); return;
    case T::number_unsigned: AppendGoFloat(out, static_cast<double>(v.get<uint64_t>())); return;
    case T::number_float: AppendGoFloat(out, v.get<double>()); return;
    case T::string: AppendGoJsonString(out, v.get_ref<const std::string&>()); return;
    case T::binary: out->append("null"); return;  // never produced by the parser
    case T::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v) {
        if (!first) out->push_back(',');
        first = false;
        AppendGoJson(out, e);
      }
      out->push_back(']');
      return;
    }
    case T::object: {
      // Go marshals a map with its keys sorted bytewise.
      std::vector<const std::pair<const std::string, nlohmann::ordered_json>*> items;
      items.reserve(v.size());
      for (const auto& kv : v.get_ref<const nlohmann::ordered_json::object_t&>()) items.push_back(&kv);
      std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
      out->push_back('{');
      bool first = true;
      for (const auto* kv : items) {
        if (!first) out->push_back(',');
        first = false;
        AppendGoJsonString(out, kv->first);
        out->push_back(':');
        AppendGoJson(out, kv->second);
      }
      out->push_back('}');
      return;
    }
  }
}

}  // namespace inferd::graph
