// api/table.cc: server-side printing (see table.h). Written from Kubernetes' documented behaviour (CRD table
// convertor, duration.HumanDuration); the JSONPath evaluator covers only the subset printer columns use.
#include "api/table.h"

#include <cctype>
#include <cmath>
#include <ctime>

namespace inferd::api {

using store::Json;

// ---- content negotiation ---------------------------------------------------------------------------------
namespace {
std::string_view TrimView(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
std::string LowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
}  // namespace

std::string MediaRange::Param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  return "";
}

std::vector<MediaRange> ParseAccept(std::string_view accept) {
  std::vector<MediaRange> out;
  while (!accept.empty()) {
    auto comma = accept.find(',');
    std::string_view range = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    MediaRange m;
    bool first = true;
    while (true) {
      auto semi = range.find(';');
      std::string_view part = TrimView(range.substr(0, semi));
      if (first) {
        m.type = LowerCopy(part);
        first = false;
      } else if (auto eq = part.find('='); eq != std::string_view::npos) {
        std::string_view v = TrimView(part.substr(eq + 1));
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        m.params.emplace_back(LowerCopy(TrimView(part.substr(0, eq))), std::string(v));
      }
      if (semi == std::string_view::npos) break;
      range = range.substr(semi + 1);
    }
    if (!m.type.empty()) out.push_back(std::move(m));
  }
  return out;
}

std::optional<std::string> WantedTableVersion(std::string_view accept) {
  for (const MediaRange& m : ParseAccept(accept)) {
    if (m.type != "application/json" || m.Param("as") != "Table" || m.Param("g") != "meta.k8s.io") continue;
    std::string v = m.Param("v");
    if (v == "v1" || v == "v1beta1") return v;
  }
  return std::nullopt;
}

// ---- time ------------------------------------------------------------------------------------------------
namespace {
bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}
}  // namespace

std::optional<long long> ParseRfc3339(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' ||
      !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !Digits(s, 11, 2, &h) || s[13] != ':' ||
      !Digits(s, 14, 2, &mi) || s[16] != ':' || !Digits(s, 17, 2, &sec)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  size_t p = 19;
  if (p < s.size() && s[p] == '.') {
    ++p;
    size_t start = p;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) ++p;
    if (p == start) return std::nullopt;
  }
  long long offset = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int oh, om;
    if (!Digits(s, p + 1, 2, &oh) || p + 3 >= s.size() || s[p + 3] != ':' || !Digits(s, p + 4, 2, &om) || oh > 23 ||
        om > 59) {
      return std::nullopt;
    }
    offset = (s[p] == '-' ? -1 : 1) * (oh * 3600LL + om * 60LL);
    p += 6;
  } else {
    return std::nullopt;
  }
  if (p != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<long long>(timegm(&tm)) - offset;
}

std::string HumanDuration(long long seconds) {
  auto s = [](long long v, const char* unit) { return std::to_string(v) + unit; };
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 120) return s(seconds, "s");
  long long minutes = seconds / 60;
  if (minutes < 10) return seconds % 60 == 0 ? s(minutes, "m") : s(minutes, "m") + s(seconds % 60, "s");
  if (minutes < 180) return s(minutes, "m");
  long long hours = seconds / 3600;
  if (hours < 8) return minutes % 60 == 0 ? s(hours, "h") : s(hours, "h") + s(minutes % 60, "m");
  if (hours < 48) return s(hours, "h");
  if (hours < 24 * 8) return hours % 24 == 0 ? s(hours / 24, "d") : s(hours / 24, "d") + s(hours % 24, "h");
  if (hours < 24 * 365 * 2) return s(hours / 24, "d");
  if (hours < 24 * 365 * 8) {
    long long days = (hours / 24) % 365;
    return days == 0 ? s(hours / 24 / 365, "y") : s(hours / 24 / 365, "y") + s(days, "d");
  }
  return s(hours / 24 / 365, "y");
}

// ---- JSONPath --------------------------------------------------------------------------------------------
namespace {
struct Step {
  enum Kind { kField, kIndex, kAll, kFilter } kind = kField;
  std::string field;
  long long index = 0;
  std::vector<std::string> filter_path;  // @.a.b
  bool not_equal = false;
  Json literal;
};

Status Bad(std::string_view path, const std::string& why) {
  return InvalidArgument("jsonpath " + std::string(path) + ": " + why);
}

bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

StatusOr<Json> ParseLiteral(std::string_view path, std::string_view lit) {
  lit = TrimView(lit);
  if (lit.size() >= 2 && (lit.front() == '\'' || lit.front() == '"') && lit.back() == lit.front()) {
    return Json(std::string(lit.substr(1, lit.size() - 2)));
  }
  if (lit == "true") return Json(true);
  if (lit == "false") return Json(false);
  Json n = Json::parse(lit.begin(), lit.end(), nullptr, false);
  if (n.is_discarded() || !n.is_number()) return Bad(path, "unsupported filter value '" + std::string(lit) + "'");
  return n;
}

// `?(@.a.b==LIT)` (without the brackets).
StatusOr<Step> ParseFilter(std::string_view path, std::string_view expr) {
  Step st;
  st.kind = Step::kFilter;
  if (expr.size() < 4 || expr.substr(0, 2) != "?(" || expr.back() != ')') return Bad(path, "unsupported filter");
  expr = TrimView(expr.substr(2, expr.size() - 3));
  auto op = expr.find_first_of("=!");
  if (op == std::string_view::npos || op + 1 >= expr.size() || expr[op + 1] != '=') {
    return Bad(path, "only == and != filters are supported");
  }
  st.not_equal = expr[op] == '!';
  std::string_view lhs = TrimView(expr.substr(0, op));
  if (lhs.empty() || lhs[0] != '@') return Bad(path, "a filter must start with @");
  lhs.remove_prefix(1);
  while (!lhs.empty()) {
    if (lhs[0] != '.') return Bad(path, "unsupported filter operand");
    size_t e = 1;
    while (e < lhs.size() && IsIdentChar(lhs[e])) ++e;
    if (e == 1) return Bad(path, "empty field name in a filter");
    st.filter_path.emplace_back(lhs.substr(1, e - 1));
    lhs.remove_prefix(e);
  }
  ASSIGN_OR_RETURN(st.literal, ParseLiteral(path, expr.substr(op + 2)));
  return st;
}

StatusOr<std::vector<Step>> ParsePath(std::string_view path) {
  std::string_view p = TrimView(path);
  if (p.size() >= 2 && p.front() == '{' && p.back() == '}') p = TrimView(p.substr(1, p.size() - 2));
  if (!p.empty() && p[0] == '$') p.remove_prefix(1);
  std::vector<Step> steps;
  while (!p.empty()) {
    if (p[0] == '.') {
      size_t e = 1;
      while (e < p.size() && IsIdentChar(p[e])) ++e;
      if (e == 1) return Bad(path, "expected a field name after '.'");
      Step st;
      st.field = std::string(p.substr(1, e - 1));
      steps.push_back(std::move(st));
      p.remove_prefix(e);
      continue;
    }
    if (p[0] != '[') return Bad(path, "unexpected '" + std::string(1, p[0]) + "'");
    // The closing bracket, skipping quoted text.
    size_t e = 1;
    char quote = 0;
    for (; e < p.size(); ++e) {
      if (quote) {
        if (p[e] == quote) quote = 0;
      } else if (p[e] == '\'' || p[e] == '"') {
        quote = p[e];
      } else if (p[e] == ']') {
        break;
      }
    }
    if (e >= p.size()) return Bad(path, "unclosed '['");
    std::string_view inner = TrimView(p.substr(1, e - 1));
    p.remove_prefix(e + 1);
    Step st;
    if (inner == "*") {
      st.kind = Step::kAll;
    } else if (!inner.empty() && inner[0] == '?') {
      ASSIGN_OR_RETURN(st, ParseFilter(path, inner));
    } else if (inner.size() >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner.back() == inner[0]) {
      st.field = std::string(inner.substr(1, inner.size() - 2));
    } else {
      Json n = Json::parse(inner.begin(), inner.end(), nullptr, false);
      if (n.is_discarded() || !n.is_number_integer()) return Bad(path, "unsupported subscript [" + std::string(inner) + "]");
      st.kind = Step::kIndex;
      st.index = n.get<long long>();
    }
    steps.push_back(std::move(st));
  }
  return steps;
}

bool FilterMatches(const Step& st, const Json& elem) {
  const Json* v = &elem;
  for (const std::string& f : st.filter_path) {
    if (!v->is_object()) return false;
    auto it = v->find(f);
    if (it == v->end()) return false;
    v = &*it;
  }
  return (*v == st.literal) != st.not_equal;
}
}  // namespace

StatusOr<const Json*> JsonPathFirst(const Json& root, std::string_view path) {
  ASSIGN_OR_RETURN(std::vector<Step> steps, ParsePath(path));
  std::vector<const Json*> nodes = {&root};
  for (const Step& st : steps) {
    std::vector<const Json*> next;
    for (const Json* n : nodes) {
      switch (st.kind) {
        case Step::kField:
          if (n->is_object()) {
            if (auto it = n->find(st.field); it != n->end()) next.push_back(&*it);
          }
          break;
        case Step::kIndex:
          if (n->is_array()) {
            long long size = static_cast<long long>(n->size());
            long long i = st.index < 0 ? size + st.index : st.index;
            if (i >= 0 && i < size) next.push_back(&(*n)[static_cast<size_t>(i)]);
          }
          break;
        case Step::kAll:
          if (n->is_array() || n->is_object()) {
            for (const Json& e : *n) next.push_back(&e);
          }
          break;
        case Step::kFilter:
          if (n->is_array()) {
            for (const Json& e : *n)
              if (FilterMatches(st, e)) next.push_back(&e);
          }
          break;
      }
    }
    nodes = std::move(next);
    if (nodes.empty()) return static_cast<const Json*>(nullptr);
  }
  return nodes.front();
}

// ---- Table -----------------------------------------------------------------------------------------------
StatusOr<IncludeObject> ParseIncludeObject(std::string_view value) {
  if (value.empty() || value == "Metadata") return IncludeObject::kMetadata;
  if (value == "Object") return IncludeObject::kObject;
  if (value == "None") return IncludeObject::kNone;
  return InvalidArgument("includeObject: unsupported value \"" + std::string(value) +
                         "\", supported values: \"None\", \"Metadata\", \"Object\"");
}

namespace {
Json Cell(const PrinterColumn& col, const Json& obj, long long now) {
  if (col.compute) return col.compute(obj, now);
  auto found = JsonPathFirst(obj, col.json_path);
  if (!found.ok() || *found == nullptr || (*found)->is_null()) return nullptr;
  const Json& v = **found;
  if (col.type == "string") return v.is_string() ? v : Json(v.dump());
  if (col.type == "integer") {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float() && std::isfinite(v.get<double>())) return static_cast<int64_t>(v.get<double>());
    return nullptr;
  }
  if (col.type == "number") return v.is_number() ? Json(v.get<double>()) : Json();
  if (col.type == "boolean") return v.is_boolean() ? v : Json();
  if (col.type == "date") {
    if (!v.is_string()) return nullptr;
    auto t = ParseRfc3339(v.get<std::string>());
    return t ? HumanDuration(now - *t) : "<invalid>";
  }
  return nullptr;
}
}  // namespace

Json ColumnDefinitions(const Kind& kind) {
  Json defs = Json::array();
  for (const PrinterColumn& c : kind.columns) {
    std::string desc = c.description;
    if (desc.empty() && !c.compute) desc = "Custom resource definition column (in JSONPath format): " + c.json_path;
    defs.push_back(
        {{"name", c.name}, {"type", c.type}, {"format", c.format}, {"description", desc}, {"priority", c.priority}});
  }
  return defs;
}

Json TableRow(const Kind& kind, const Json& obj, const TableOptions& opt) {
  Json cells = Json::array();
  for (const PrinterColumn& c : kind.columns) cells.push_back(Cell(c, obj, opt.now_unix));
  Json row = {{"cells", std::move(cells)}};
  switch (opt.include) {
    case IncludeObject::kNone:
      row["object"] = nullptr;
      break;
    case IncludeObject::kObject:
      row["object"] = obj;
      break;
    case IncludeObject::kMetadata: {
      Json md = obj.is_object() && obj.contains("metadata") ? obj["metadata"] : Json::object();
      row["object"] = {{"kind", "PartialObjectMetadata"}, {"apiVersion", opt.api_version}, {"metadata", std::move(md)}};
      break;
    }
  }
  return row;
}

Json MakeTable(const Kind& kind, const std::vector<Json>& objects, const std::string& resource_version,
               const TableOptions& opt) {
  Json md = Json::object();
  if (!resource_version.empty()) md["resourceVersion"] = resource_version;
  Json t = {{"kind", "Table"}, {"apiVersion", opt.api_version}, {"metadata", std::move(md)}};
  if (opt.headers) t["columnDefinitions"] = ColumnDefinitions(kind);
  Json rows = Json::array();
  for (const Json& o : objects) rows.push_back(TableRow(kind, o, opt));
  t["rows"] = std::move(rows);
  return t;
}

}  // namespace inferd::api
