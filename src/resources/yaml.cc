// resources/yaml.cc: YAML streams -> JSON values (YAML 1.2 core schema typing) and JSON -> YAML text.
//
// yaml-cpp builds the node tree; we convert it ourselves so that plain scalars are typed by the core
// schema (yaml-cpp keeps every scalar as text), quoted scalars stay strings, duplicate keys are rejected
// and errors carry the source name and 1-based line. Aliases are expanded; a node budget and a depth limit
// guard against alias bombs and self-referencing anchors. `<<` merge keys are honoured.
//
// Depth: yaml-cpp's parser recurses once per level and stops at its own guard (DeepRecursion at 500 levels in
// 0.7, under 256 KiB of stack, measured for flow `[[[[` and `{a: {a:` and block `- - -` and `a:\n  a:` forms),
// so no document overflows the stack while it is parsed; the conversion then refuses
// anything nested deeper than kMaxJsonDepth (core/json_depth.h), the limit of every JSON entry point. A
// merge key (<<) counts one level, so that a merge that includes itself ends too.
#include <simdjson.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

#include "core/json_depth.h"
#include "resources/internal.h"
#include "resources/resources.h"
#include "resources/yaml_load.h"

namespace inferd::resources {
namespace {

constexpr size_t kMaxNodes = 1'000'000;

constexpr std::string_view kTagStr = "tag:yaml.org,2002:str";
constexpr std::string_view kTagInt = "tag:yaml.org,2002:int";
constexpr std::string_view kTagFloat = "tag:yaml.org,2002:float";
constexpr std::string_view kTagBool = "tag:yaml.org,2002:bool";
constexpr std::string_view kTagNull = "tag:yaml.org,2002:null";

bool AllOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s)
    if (!pred(c)) return false;
  return true;
}
bool IsDec(char c) { return c >= '0' && c <= '9'; }
bool IsOct(char c) { return c >= '0' && c <= '7'; }
bool IsHex(char c) { return IsDec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool IsNullText(std::string_view s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

std::optional<bool> BoolText(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

// [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+
std::optional<Json> IntText(std::string_view s) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    const bool hex = s[1] == 'x';
    std::string_view digits = s.substr(2);
    if (!AllOf(digits, hex ? IsHex : IsOct)) return std::nullopt;
    uint64_t u = 0;
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), u, hex ? 16 : 8);
    if (r.ec != std::errc()) return std::nullopt;
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Json(static_cast<int64_t>(u));
    return Json(u);
  }
  std::string_view body = s;
  bool neg = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  if (!AllOf(body, IsDec)) return std::nullopt;
  std::string text = (neg ? "-" : "") + std::string(body);
  int64_t i = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), i);
  if (r.ec == std::errc() && r.ptr == text.data() + text.size()) return Json(i);
  if (!neg) {
    uint64_t u = 0;
    r = std::from_chars(text.data(), text.data() + text.size(), u);
    if (r.ec == std::errc() && r.ptr == text.data() + text.size()) return Json(u);
  }
  // Too large for 64 bits: keep the magnitude as a float, as JSON readers would.
  double d = 0;
  r = std::from_chars(text.data(), text.data() + text.size(), d);
  if (r.ec == std::errc()) return Json(d);
  return std::nullopt;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? | [-+]?\.(inf|Inf|INF) | \.(nan|NaN|NAN)
std::optional<Json> FloatText(std::string_view s) {
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return Json(std::numeric_limits<double>::quiet_NaN());
  std::string_view body = s;
  bool neg = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    neg = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF")
    return Json(neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity());
  // Validate the shape by hand (from_chars also takes "inf", "nan", hex forms we must not).
  size_t i = 0;
  size_t int_digits = 0, frac_digits = 0;
  while (i < body.size() && IsDec(body[i])) ++i, ++int_digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && IsDec(body[i])) ++i, ++frac_digits;
    if (int_digits == 0 && frac_digits == 0) return std::nullopt;
  } else if (int_digits == 0) {
    return std::nullopt;
  }
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
    size_t exp_digits = 0;
    while (i < body.size() && IsDec(body[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  // from_chars rejects a leading '+': it was stripped above.
  std::string text = (neg ? "-" : "") + std::string(body);
  double d = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), d);
  if (r.ec == std::errc::result_out_of_range) return Json(std::strtod(text.c_str(), nullptr));  // saturates
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
  return Json(d);
}

// A plain scalar typed by YAML 1.2's core schema.
Json TypePlain(const std::string& s) {
  if (IsNullText(s)) return Json(nullptr);
  if (auto b = BoolText(s)) return Json(*b);
  if (auto i = IntText(s)) return std::move(*i);
  if (auto f = FloatText(s)) return std::move(*f);
  return Json(s);
}

class Converter {
 public:
  explicit Converter(std::string_view source) : source_(source) {}

  Status Error(const YAML::Mark& mark, const std::string& what) const {
    const int line = mark.line >= 0 ? mark.line + 1 : 1;
    return InvalidArgument(std::string(source_) + ":" + std::to_string(line) + ": " + what);
  }

  // Text nested too deep for yaml-cpp's parser (its DeepRecursion says only "bad file").
  Status TooDeep(const YAML::Mark& mark) const {
    return Error(mark, "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }

  // `depth`: the containers above `n` (a container at depth d is JSON depth d + 1).
  Status Convert(const YAML::Node& n, int depth, Json* out) {
    if (++nodes_ > kMaxNodes) return Error(n.Mark(), "document too large (more than 1000000 values after alias expansion)");
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        *out = n.Tag() == kTagStr ? Json("") : Json(nullptr);
        return Status::Ok();
      case YAML::NodeType::Scalar:
        return Scalar(n, out);
      case YAML::NodeType::Sequence: {
        RETURN_IF_ERROR(CheckDepth(n, depth));
        *out = Json::array();
        for (const auto& child : n) {
          Json v;
          RETURN_IF_ERROR(Convert(child, depth + 1, &v));
          out->push_back(std::move(v));
        }
        return Status::Ok();
      }
      case YAML::NodeType::Map:
        return Map(n, depth, out);
    }
    return Error(n.Mark(), "unsupported node");
  }

 private:
  // yaml-cpp passes bytes that are not UTF-8 through into scalars; JSON strings cannot hold them (nlohmann
  // throws when such a value is serialized: the store, the API's answers, the reconciler, the CLI), and
  // Kubernetes' YAML reader refuses them too.
  Status CheckUtf8(const YAML::Node& n, const std::string& text) const {
    if (simdjson::validate_utf8(text.data(), text.size())) return Status::Ok();
    return Error(n.Mark(), "not valid UTF-8 (YAML text must be Unicode)");
  }

  Status Scalar(const YAML::Node& n, Json* out) {
    const std::string& tag = n.Tag();
    const std::string& text = n.Scalar();
    RETURN_IF_ERROR(CheckUtf8(n, text));
    if (tag == "!" || tag == kTagStr) {  // quoted, block (| >) or !!str: always a string
      *out = Json(text);
      return Status::Ok();
    }
    if (tag == kTagNull) {
      if (!IsNullText(text)) return Error(n.Mark(), "\"" + text + "\" is not a valid !!null");
      *out = Json(nullptr);
      return Status::Ok();
    }
    if (tag == kTagBool) {
      auto b = BoolText(text);
      if (!b) return Error(n.Mark(), "\"" + text + "\" is not a valid !!bool");
      *out = Json(*b);
      return Status::Ok();
    }
    if (tag == kTagInt) {
      auto i = IntText(text);
      if (!i) return Error(n.Mark(), "\"" + text + "\" is not a valid !!int");
      *out = std::move(*i);
      return Status::Ok();
    }
    if (tag == kTagFloat) {
      auto f = FloatText(text);
      if (!f) f = IntText(text);
      if (!f) return Error(n.Mark(), "\"" + text + "\" is not a valid !!float");
      *out = Json(f->get<double>());
      return Status::Ok();
    }
    *out = TypePlain(text);  // "?" (plain) and application tags
    return Status::Ok();
  }

  Status Key(const YAML::Node& k, std::string* out) const {
    if (!k.IsScalar()) {
      if (k.IsNull()) {
        *out = "null";
        return Status::Ok();
      }
      return Error(k.Mark(), "mapping keys must be scalars");
    }
    *out = k.Scalar();
    return CheckUtf8(k, *out);
  }

  Status CheckDepth(const YAML::Node& n, int depth) const {
    if (depth + 1 > kMaxJsonDepth) {
      return Error(n.Mark(), "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels (or a recursive alias)");
    }
    return Status::Ok();
  }

  Status Map(const YAML::Node& n, int depth, Json* out) {
    RETURN_IF_ERROR(CheckDepth(n, depth));
    *out = Json::object();
    std::vector<YAML::Node> merge_storage;
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string key;
      RETURN_IF_ERROR(Key(it->first, &key));
      if (key == "<<" && it->first.Tag() == "?") {  // merge key: applied after the explicit keys
        merge_storage.push_back(it->second);
        continue;
      }
      if (out->contains(key)) return Error(it->first.Mark(), "duplicate key \"" + key + "\"");
      Json v;
      RETURN_IF_ERROR(Convert(it->second, depth + 1, &v));
      (*out)[key] = std::move(v);
    }
    for (const auto& m : merge_storage) {
      std::vector<YAML::Node> sources;
      if (m.IsMap()) {
        sources.push_back(m);
      } else if (m.IsSequence()) {
        for (const auto& s : m) sources.push_back(s);
      }
      if (sources.empty()) return Error(m.Mark(), "a merge key (<<) needs a mapping or a list of mappings");
      for (const auto& src : sources) {
        if (!src.IsMap()) return Error(src.Mark(), "a merge key (<<) needs a mapping or a list of mappings");
        Json merged;
        RETURN_IF_ERROR(Map(src, depth + 1, &merged));
        for (auto& [k, v] : merged.items())
          if (!out->contains(k)) (*out)[k] = v;
      }
    }
    return Status::Ok();
  }

  std::string_view source_;
  size_t nodes_ = 0;
};

// Would this string read back as something other than a string (core schema, or YAML 1.1's
// yes/no/on/off that Kubernetes' YAML reader still types), or differently? Then it must be quoted. yaml-cpp
// writes a string holding a CR (or another control byte) plain, and a CR in a plain scalar reads back as a
// line break (found by fuzz/resources_fuzz): such strings are double-quoted, where yaml-cpp escapes them.
bool NeedsQuotes(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n') return true;
  }
  // At the start of a line (a top-level key or scalar) these begin a document marker: "--- x: 1" is two
  // documents (found by fuzz/resources_fuzz).
  if (s.starts_with("---") || s.starts_with("...")) return true;
  if (!TypePlain(s).is_string()) return true;
  static const char* kYaml11[] = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                                  "on", "On", "ON", "off", "Off", "OFF", "=", "<<"};
  for (const char* w : kYaml11)
    if (s == w) return true;
  return false;
}

void EmitString(YAML::Emitter& e, const std::string& s) {
  if (NeedsQuotes(s)) e << YAML::DoubleQuoted;
  e << s;
}

void Emit(YAML::Emitter& e, const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      if (v.empty()) {
        e << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      e << YAML::BeginMap;
      for (auto it = v.begin(); it != v.end(); ++it) {
        e << YAML::Key;
        // An implicit key is at most 1024 characters (YAML 1.2, 7.4.2) once escaped (up to 6 per byte); a longer
        // one is written as an explicit "? key" (found by fuzz/resources_fuzz: the output did not parse).
        if (it.key().size() > 128) e << YAML::LongKey;
        EmitString(e, it.key());
        e << YAML::Value;
        Emit(e, it.value());
      }
      e << YAML::EndMap;
      return;
    case Json::value_t::array:
      if (v.empty()) {
        e << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      e << YAML::BeginSeq;
      for (const auto& x : v) Emit(e, x);
      e << YAML::EndSeq;
      return;
    case Json::value_t::string:
      EmitString(e, v.get<std::string>());
      return;
    case Json::value_t::boolean:
      e << (v.get<bool>() ? "true" : "false");
      return;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      e << v.dump();
      return;
    case Json::value_t::number_float: {
      const double d = v.get<double>();
      if (std::isnan(d)) {
        e << ".nan";
      } else if (std::isinf(d)) {
        e << (d > 0 ? ".inf" : "-.inf");
      } else {
        std::string text = v.dump();
        if (text.find_first_of(".eE") == std::string::npos) text += ".0";
        e << text;
      }
      return;
    }
    default:
      e << YAML::Null;
      return;
  }
}

}  // namespace

StatusOr<std::vector<Json>> ParseYamlDocuments(std::string_view text, std::string_view source) {
  Converter conv(source);
  try {
    std::vector<YAML::Node> docs = LoadAllYaml(std::string(text));
    std::vector<Json> out;
    out.reserve(docs.size());
    for (const auto& doc : docs) {
      if (doc.IsNull() || !doc.IsDefined()) continue;  // empty document (`---` alone, comments only)
      Json v;
      RETURN_IF_ERROR(conv.Convert(doc, 0, &v));
      out.push_back(std::move(v));
    }
    return out;
  } catch (const YAML::DeepRecursion& e) {
    return conv.TooDeep(e.mark);
  } catch (const YAML::Exception& e) {
    return conv.Error(e.mark, e.msg);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(source) + ":1: " + e.what());
  } catch (...) {
    return InvalidArgument(std::string(source) + ":1: unreadable YAML");
  }
}

std::string ToYaml(const Json& value) {
  try {
    YAML::Emitter e;
    e.SetNullFormat(YAML::LowerNull);
    e.SetIndent(2);
    Emit(e, value);
    if (!e.good()) return "# cannot emit YAML: " + e.GetLastError() + "\n";
    std::string out = e.c_str();
    if (out.empty() || out.back() != '\n') out += '\n';
    return out;
  } catch (const std::exception& ex) {
    return std::string("# cannot emit YAML: ") + ex.what() + "\n";
  } catch (...) {
    return "# cannot emit YAML\n";
  }
}

}  // namespace inferd::resources
