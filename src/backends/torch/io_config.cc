#include "backends/torch/io_config.h"

#ifndef SIMDJSON_THREADS_ENABLED
#error "inferd_backend_torch must link simdjson::simdjson (it defines SIMDJSON_THREADS_ENABLED)"
#endif
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "core/json_depth.h"

namespace inferd {

namespace {

namespace fs = std::filesystem;

constexpr char kTritonConfigFile[] = "config.pbtxt";
constexpr char kMlServerSettingsFile[] = "model-settings.json";

// ---- a small reader of protobuf's text format (enough for Triton's config.pbtxt) -------------------------

struct Token {
  enum Kind { kEnd, kIdent, kString, kNumber, kPunct } kind = kEnd;
  std::string text;
  int line = 0;
};

// A parsed field: `name: scalar` or `name { fields }`. Repeated fields appear once per value.
struct PbField {
  std::string name;
  bool is_message = false;
  bool quoted = false;  // scalar was a string literal
  std::string scalar;
  std::vector<PbField> children;
  int line = 0;
};

class PbParser {
 public:
  PbParser(std::string_view text, const std::string& file) : s_(text), file_(file) {}

  StatusOr<std::vector<PbField>> Parse() {
    RETURN_IF_ERROR(Next());
    std::vector<PbField> fields;
    RETURN_IF_ERROR(ParseFields(&fields, ""));
    return fields;
  }

 private:
  Status Error(const std::string& what, int line) const {
    return InvalidArgument(file_ + ":" + std::to_string(line) + ": " + what);
  }

  // Reads the next token into tok_.
  Status Next() {
    for (;;) {
      while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) {
        if (s_[pos_] == '\n') ++line_;
        ++pos_;
      }
      if (pos_ < s_.size() && s_[pos_] == '#') {
        while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
        continue;
      }
      break;
    }
    tok_ = Token{};
    tok_.line = line_;
    if (pos_ >= s_.size()) return Status::Ok();
    char c = s_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t b = pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_' ||
                                  s_[pos_] == '.')) {
        ++pos_;
      }
      tok_.kind = Token::kIdent;
      tok_.text = std::string(s_.substr(b, pos_ - b));
      return Status::Ok();
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.') {
      size_t b = pos_++;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' ||
                                  ((s_[pos_] == '-' || s_[pos_] == '+') && (s_[pos_ - 1] == 'e' || s_[pos_ - 1] == 'E')))) {
        ++pos_;
      }
      tok_.kind = Token::kNumber;
      tok_.text = std::string(s_.substr(b, pos_ - b));
      return Status::Ok();
    }
    if (c == '"' || c == '\'') {
      ++pos_;
      std::string out;
      for (;;) {
        if (pos_ >= s_.size() || s_[pos_] == '\n') return Error("unterminated string", tok_.line);
        char d = s_[pos_++];
        if (d == c) break;
        if (d == '\\' && pos_ < s_.size()) {
          char e = s_[pos_++];
          switch (e) {
            case 'n': out += '\n'; break;
            case 't': out += '\t'; break;
            case 'r': out += '\r'; break;
            default: out += e; break;  // \" \' \\ and anything else: the character itself
          }
          continue;
        }
        out += d;
      }
      tok_.kind = Token::kString;
      tok_.text = std::move(out);
      return Status::Ok();
    }
    if (std::string_view(":{}[]<>,;").find(c) != std::string_view::npos) {
      ++pos_;
      tok_.kind = Token::kPunct;
      tok_.text = std::string(1, c);
      return Status::Ok();
    }
    return Error(std::string("unexpected character '") + c + "'", line_);
  }

  bool IsPunct(char c) const { return tok_.kind == Token::kPunct && tok_.text[0] == c; }

  // Fields until `close` ('}' or '>'; 0: end of input). Consumes the closing token.
  Status ParseFields(std::vector<PbField>* out, const char* close) {
    if (++depth_ > kMaxJsonDepth) {
      return Error("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels", tok_.line);
    }
    for (;;) {
      if (tok_.kind == Token::kEnd) {
        if (*close) return Error(std::string("missing '") + close + "'", tok_.line);
        break;
      }
      if (*close && IsPunct(*close)) {
        RETURN_IF_ERROR(Next());
        break;
      }
      if (tok_.kind != Token::kIdent) return Error("expected a field name, got '" + tok_.text + "'", tok_.line);
      std::string name = tok_.text;
      int line = tok_.line;
      RETURN_IF_ERROR(Next());
      bool colon = IsPunct(':');
      if (colon) RETURN_IF_ERROR(Next());
      if (IsPunct('[')) {
        RETURN_IF_ERROR(Next());
        while (!IsPunct(']')) {
          RETURN_IF_ERROR(ParseValue(name, line, true, out));
          if (IsPunct(',')) {
            RETURN_IF_ERROR(Next());
          } else if (!IsPunct(']')) {
            return Error("expected ',' or ']' in the list of '" + name + "'", tok_.line);
          }
        }
        RETURN_IF_ERROR(Next());
      } else {
        RETURN_IF_ERROR(ParseValue(name, line, colon, out));
      }
      if (IsPunct(',') || IsPunct(';')) RETURN_IF_ERROR(Next());
    }
    --depth_;
    return Status::Ok();
  }

  Status ParseValue(const std::string& name, int line, bool scalar_allowed, std::vector<PbField>* out) {
    PbField f;
    f.name = name;
    f.line = line;
    if (IsPunct('{') || IsPunct('<')) {
      const char* close = IsPunct('{') ? "}" : ">";
      RETURN_IF_ERROR(Next());
      f.is_message = true;
      RETURN_IF_ERROR(ParseFields(&f.children, close));
    } else if (scalar_allowed &&
               (tok_.kind == Token::kIdent || tok_.kind == Token::kString || tok_.kind == Token::kNumber)) {
      f.quoted = tok_.kind == Token::kString;
      f.scalar = tok_.text;
      RETURN_IF_ERROR(Next());
      // Adjacent string literals concatenate, as in protobuf's text format.
      while (f.quoted && tok_.kind == Token::kString) {
        f.scalar += tok_.text;
        RETURN_IF_ERROR(Next());
      }
    } else {
      return Error("expected a value for '" + name + "', got '" + tok_.text + "'", tok_.line);
    }
    out->push_back(std::move(f));
    return Status::Ok();
  }

  std::string_view s_;
  const std::string& file_;
  size_t pos_ = 0;
  int line_ = 1;
  int depth_ = 0;
  Token tok_;
};

bool ParseInt(const std::string& s, int64_t* out) {
  const char* b = s.data();
  const char* e = b + s.size();
  if (b != e && *b == '+') ++b;
  auto [p, ec] = std::from_chars(b, e, *out);
  return ec == std::errc() && p == e;
}

// Triton's TYPE_* names -> V2 datatypes.
DataType TritonDataType(const std::string& s) {
  if (s.rfind("TYPE_", 0) != 0) return DataType::kInvalid;
  std::string_view n = std::string_view(s).substr(5);
  if (n == "STRING") return DataType::kBytes;
  return DataTypeFromName(n);
}

Status CheckSpecs(const IoConfig& c) {
  std::set<std::string> seen;
  for (const auto* list : {&c.inputs, &c.outputs}) {
    for (const TensorSpec& s : *list) {
      if (s.name.empty()) return InvalidArgument(c.file + ": an input or output has no name");
      if (!seen.insert(s.name).second) {
        return InvalidArgument(c.file + ": the name '" + s.name + "' is declared twice");
      }
      for (int64_t d : s.shape) {
        if (d < -1) {
          return InvalidArgument(c.file + ": '" + s.name + "' has a negative dimension " + std::to_string(d));
        }
      }
    }
  }
  return Status::Ok();
}

StatusOr<TensorSpec> TritonTensor(const PbField& f, const std::string& file, int64_t max_batch_size) {
  auto bad = [&](const std::string& what) {
    return InvalidArgument(file + ":" + std::to_string(f.line) + ": " + f.name + ": " + what);
  };
  if (!f.is_message) return bad("expected { name: ... data_type: ... dims: [...] }");
  TensorSpec spec;
  bool has_dims = false, has_type = false;
  for (const PbField& c : f.children) {
    if (c.name == "name") {
      if (c.is_message) return bad("name is not a string");
      spec.name = c.scalar;
    } else if (c.name == "data_type") {
      spec.dtype = c.is_message ? DataType::kInvalid : TritonDataType(c.scalar);
      if (spec.dtype == DataType::kInvalid) return bad("unknown data_type '" + c.scalar + "'");
      has_type = true;
    } else if (c.name == "dims") {
      int64_t d = 0;
      if (c.is_message || !ParseInt(c.scalar, &d)) return bad("dims holds '" + c.scalar + "', not an integer");
      spec.shape.push_back(d);
      has_dims = true;
    }
  }
  if (spec.name.empty()) return bad("no name");
  if (!has_type) return bad("'" + spec.name + "' has no data_type");
  if (!has_dims) return bad("'" + spec.name + "' has no dims");
  if (max_batch_size > 0) spec.shape.insert(spec.shape.begin(), -1);
  return spec;
}

std::string ReadFile(const fs::path& p, bool* ok) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  *ok = static_cast<bool>(in) || in.eof();
  return ss.str();
}

StatusOr<TensorSpec> SettingsTensor(simdjson::dom::element e, const std::string& where) {
  TensorSpec spec;
  std::string_view s;
  if (e["name"].get_string().get(s) != simdjson::SUCCESS) return InvalidArgument(where + ".name: not a string");
  spec.name = std::string(s);
  if (e["datatype"].get_string().get(s) != simdjson::SUCCESS) {
    return InvalidArgument(where + ".datatype: not a string");
  }
  spec.dtype = DataTypeFromName(s);
  if (spec.dtype == DataType::kInvalid) {
    return InvalidArgument(where + ".datatype: unknown datatype '" + std::string(s) + "'");
  }
  simdjson::dom::array shape;
  if (e["shape"].get_array().get(shape) != simdjson::SUCCESS) return InvalidArgument(where + ".shape: not an array");
  for (simdjson::dom::element d : shape) {
    int64_t v = 0;
    if (d.get_int64().get(v) != simdjson::SUCCESS) return InvalidArgument(where + ".shape: not a list of integers");
    spec.shape.push_back(v);
  }
  return spec;
}

}  // namespace

StatusOr<IoConfig> ParseTritonConfig(std::string_view text, const std::string& file) {
  PbParser parser(text, file);
  ASSIGN_OR_RETURN(std::vector<PbField> fields, parser.Parse());
  IoConfig c;
  c.file = file;
  int64_t max_batch_size = 0;
  for (const PbField& f : fields) {
    if (f.name == "max_batch_size" && (f.is_message || !ParseInt(f.scalar, &max_batch_size))) {
      return InvalidArgument(file + ":" + std::to_string(f.line) + ": max_batch_size is not an integer");
    }
  }
  for (const PbField& f : fields) {
    if (f.name == "input" || f.name == "output") {
      ASSIGN_OR_RETURN(TensorSpec spec, TritonTensor(f, file, max_batch_size));
      (f.name == "input" ? c.inputs : c.outputs).push_back(std::move(spec));
    }
  }
  RETURN_IF_ERROR(CheckSpecs(c));
  return c;
}

StatusOr<IoConfig> ParseModelSettings(std::string_view json, const std::string& file) {
  simdjson::dom::parser parser;
  RETURN_IF_ERROR(LimitJsonDepth(parser));
  simdjson::dom::element doc;
  simdjson::padded_string padded(json);
  if (auto err = parser.parse(padded).get(doc); err) {
    if (err == simdjson::DEPTH_ERROR) return JsonTooDeep(file);
    return InvalidArgument(file + ": not valid JSON (" + simdjson::error_message(err) + ")");
  }
  if (!doc.is_object()) return InvalidArgument(file + ": not a JSON object");
  IoConfig c;
  c.file = file;
  for (const char* key : {"inputs", "outputs"}) {
    simdjson::dom::element list;
    if (doc[key].get(list) != simdjson::SUCCESS) continue;
    simdjson::dom::array arr;
    if (list.get_array().get(arr) != simdjson::SUCCESS) return InvalidArgument(file + ": " + key + ": not an array");
    size_t i = 0;
    for (simdjson::dom::element e : arr) {
      ASSIGN_OR_RETURN(TensorSpec spec, SettingsTensor(e, file + ": " + key + "[" + std::to_string(i++) + "]"));
      (std::string_view(key) == "inputs" ? c.inputs : c.outputs).push_back(std::move(spec));
    }
  }
  RETURN_IF_ERROR(CheckSpecs(c));
  return c;
}

StatusOr<std::optional<IoConfig>> ReadIoConfig(const std::string& dir) {
  std::vector<fs::path> dirs = {fs::path(dir)};
  // Triton's layout keeps config.pbtxt in <model>/ and the file in <model>/<version>/.
  std::error_code ec;
  fs::path abs = fs::absolute(fs::path(dir), ec).lexically_normal();
  if (abs.filename().empty()) abs = abs.parent_path();  // "model/1/" form
  const std::string last = abs.filename().string();
  if (!last.empty() && std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    dirs.push_back(abs.parent_path());
  }
  for (const fs::path& d : dirs) {
    for (const char* name : {kTritonConfigFile, kMlServerSettingsFile}) {
      fs::path p = d / name;
      if (!fs::is_regular_file(p, ec)) continue;
      bool ok = false;
      std::string text = ReadFile(p, &ok);
      if (!ok) return InvalidArgument("cannot read '" + p.string() + "'");
      ASSIGN_OR_RETURN(IoConfig c, std::string_view(name) == kTritonConfigFile ? ParseTritonConfig(text, p.string())
                                                                              : ParseModelSettings(text, p.string()));
      // A file that declares neither (e.g. a model-settings.json with batching settings only) is skipped.
      if (!c.inputs.empty() || !c.outputs.empty()) return std::optional<IoConfig>(std::move(c));
    }
  }
  return std::optional<IoConfig>();
}

}  // namespace inferd
