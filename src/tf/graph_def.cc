#include "tf/graph_def.h"

#include <charconv>

namespace inferd::tf {
namespace {

bool ParseIndex(std::string_view s, int* out) {
  if (s.empty()) return false;
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return false;
  *out = v;
  return true;
}

Status AttrError(const NodeDef& n, std::string_view name, std::string_view what) {
  return InvalidArgument(n.op + " '" + n.name + "': attr '" + std::string(name) + "' " + std::string(what));
}

StatusOr<const AttrValue*> Need(const NodeDef& n, std::string_view name, AttrValue::Kind kind,
                                std::string_view kind_name) {
  const AttrValue* a = FindAttr(n, name);
  if (a == nullptr) return AttrError(n, name, "is missing");
  if (a->kind != kind) return AttrError(n, name, "is not " + std::string(kind_name));
  return a;
}

}  // namespace

InputRef ParseInput(std::string_view s) {
  InputRef r;
  if (!s.empty() && s[0] == '^') {
    r.node = std::string(s.substr(1));
    r.index = -1;
    return r;
  }
  size_t last = s.rfind(':');
  int idx = 0;
  if (last == std::string_view::npos || !ParseIndex(s.substr(last + 1), &idx)) {
    // "node" or "node:out_arg" (function form without an index means output 0 of that arg).
    size_t first = s.find(':');
    r.node = std::string(s.substr(0, first));
    if (first != std::string_view::npos) r.output_arg = std::string(s.substr(first + 1));
    return r;
  }
  std::string_view head = s.substr(0, last);
  size_t mid = head.find(':');
  r.index = idx;
  if (mid == std::string_view::npos) {
    r.node = std::string(head);
  } else {
    r.node = std::string(head.substr(0, mid));
    r.output_arg = std::string(head.substr(mid + 1));
  }
  return r;
}

const AttrValue* FindAttr(const NodeDef& n, std::string_view name) {
  auto it = n.attrs.find(name);
  return it == n.attrs.end() ? nullptr : &it->second;
}

StatusOr<int64_t> AttrInt(const NodeDef& n, std::string_view name) {
  auto a = Need(n, name, AttrValue::Kind::kI, "an int");
  if (!a.ok()) return a.status();
  return (*a)->i;
}

StatusOr<float> AttrFloat(const NodeDef& n, std::string_view name) {
  auto a = Need(n, name, AttrValue::Kind::kF, "a float");
  if (!a.ok()) return a.status();
  return (*a)->f;
}

StatusOr<bool> AttrBool(const NodeDef& n, std::string_view name) {
  auto a = Need(n, name, AttrValue::Kind::kB, "a bool");
  if (!a.ok()) return a.status();
  return (*a)->b;
}

StatusOr<DType> AttrType(const NodeDef& n, std::string_view name) {
  auto a = Need(n, name, AttrValue::Kind::kType, "a type");
  if (!a.ok()) return a.status();
  if ((*a)->type == DType::kInvalid) return AttrError(n, name, "names an unknown type");
  return (*a)->type;
}

StatusOr<std::string> AttrString(const NodeDef& n, std::string_view name) {
  auto a = Need(n, name, AttrValue::Kind::kS, "a string");
  if (!a.ok()) return a.status();
  return (*a)->s;
}

StatusOr<std::vector<int64_t>> AttrInts(const NodeDef& n, std::string_view name) {
  auto a = Need(n, name, AttrValue::Kind::kList, "a list");
  if (!a.ok()) return a.status();
  if (!(*a)->list) return std::vector<int64_t>{};
  return (*a)->list->i;
}

StatusOr<std::vector<std::string>> AttrStrings(const NodeDef& n, std::string_view name) {
  auto a = Need(n, name, AttrValue::Kind::kList, "a list");
  if (!a.ok()) return a.status();
  if (!(*a)->list) return std::vector<std::string>{};
  return (*a)->list->s;
}

StatusOr<int64_t> AttrIntOr(const NodeDef& n, std::string_view name, int64_t dflt) {
  return FindAttr(n, name) ? AttrInt(n, name) : StatusOr<int64_t>(dflt);
}

StatusOr<float> AttrFloatOr(const NodeDef& n, std::string_view name, float dflt) {
  return FindAttr(n, name) ? AttrFloat(n, name) : StatusOr<float>(dflt);
}

StatusOr<bool> AttrBoolOr(const NodeDef& n, std::string_view name, bool dflt) {
  return FindAttr(n, name) ? AttrBool(n, name) : StatusOr<bool>(dflt);
}

StatusOr<std::string> AttrStringOr(const NodeDef& n, std::string_view name, std::string dflt) {
  return FindAttr(n, name) ? AttrString(n, name) : StatusOr<std::string>(std::move(dflt));
}

}  // namespace inferd::tf
