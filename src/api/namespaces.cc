// api/namespaces.cc: core/v1 Namespace (see namespaces.h for the contract).
#include "api/namespaces.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <set>
#include <utility>

#include "resources/resources.h"

namespace inferd::api {

using store::Json;

Status NormalizeNamespace(Json& ns) {
  if (!ns.contains("metadata") || !ns["metadata"].is_object()) ns["metadata"] = Json::object();
  Json& md = ns["metadata"];
  std::string name = md.contains("name") && md["name"].is_string() ? md["name"].get<std::string>() : "";
  if (!resources::IsDns1123Label(name)) {
    return InvalidArgument("metadata.name: Invalid value: \"" + name +
                           "\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
                           "'-', and must start and end with an alphanumeric character");
  }
  if (!md.contains("labels") || !md["labels"].is_object()) md["labels"] = Json::object();
  md["labels"]["kubernetes.io/metadata.name"] = name;
  if (!ns.contains("spec") || !ns["spec"].is_object()) ns["spec"] = Json::object();
  // As the namespace strategy does: the "kubernetes" finalizer is always there.
  Json& fin = ns["spec"]["finalizers"];
  if (!fin.is_array()) fin = Json::array();
  if (std::find(fin.begin(), fin.end(), Json("kubernetes")) == fin.end()) fin.push_back("kubernetes");
  if (!ns.contains("status") || !ns["status"].is_object()) ns["status"] = Json::object();
  if (!ns["status"].contains("phase")) ns["status"]["phase"] = "Active";
  return Status::Ok();
}

// ---- protobuf ----------------------------------------------------------------------------------------------
namespace {

namespace pb = google::protobuf;
using WFL = pb::internal::WireFormatLite;
using Fields = std::vector<std::pair<uint32_t, std::string>>;

// The length-delimited fields of one message (strings, bytes, sub-messages, map entries), in order; other
// wire types are skipped. Every length is checked against the bytes left before anything is allocated.
StatusOr<Fields> LengthDelimited(std::string_view msg, const char* what) {
  Fields out;
  pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(msg.data()), static_cast<int>(msg.size()));
  in.SetRecursionLimit(8);
  int left = static_cast<int>(msg.size());
  auto bad = [&] { return InvalidArgument(std::string("protobuf body: malformed ") + what); };
  while (true) {
    uint32_t tag = in.ReadTag();
    if (tag == 0) {
      if (in.CurrentPosition() != left) return bad();
      break;
    }
    if (WFL::GetTagWireType(tag) == WFL::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t len = 0;
      if (!in.ReadVarint32(&len)) return bad();
      if (len > static_cast<uint32_t>(left - in.CurrentPosition())) return bad();
      std::string value;
      if (!in.ReadString(&value, static_cast<int>(len))) return bad();
      out.emplace_back(WFL::GetTagFieldNumber(tag), std::move(value));
    } else if (!WFL::SkipField(&in, tag)) {
      return bad();
    }
  }
  return out;
}

// A map<string,string> entry: {1: key, 2: value}.
StatusOr<std::pair<std::string, std::string>> MapEntry(std::string_view entry) {
  ASSIGN_OR_RETURN(Fields f, LengthDelimited(entry, "map entry"));
  std::pair<std::string, std::string> kv;
  for (auto& [n, v] : f) {
    if (n == 1) kv.first = std::move(v);
    if (n == 2) kv.second = std::move(v);
  }
  return kv;
}

StatusOr<Json> ObjectMeta(std::string_view bytes) {
  ASSIGN_OR_RETURN(Fields f, LengthDelimited(bytes, "ObjectMeta"));
  Json md = Json::object();
  for (auto& [n, v] : f) {
    if (n == 1) md["name"] = v;
    if (n == 2) md["generateName"] = v;
    if (n == 11 || n == 12) {
      ASSIGN_OR_RETURN(auto kv, MapEntry(v));
      md[n == 11 ? "labels" : "annotations"][kv.first] = kv.second;
    }
  }
  return md;
}

}  // namespace

StatusOr<Json> DecodeProtobufNamespace(std::string_view body) {
  static constexpr std::string_view kMagic("k8s\0", 4);
  if (body.substr(0, 4) != kMagic) return InvalidArgument("protobuf body: missing the k8s\\0 prefix");
  ASSIGN_OR_RETURN(Fields unknown, LengthDelimited(body.substr(4), "runtime.Unknown"));
  std::string api_version, kind, raw, encoding;
  for (auto& [n, v] : unknown) {
    if (n == 1) {
      ASSIGN_OR_RETURN(Fields tm, LengthDelimited(v, "TypeMeta"));
      for (auto& [tn, tv] : tm) {
        if (tn == 1) api_version = tv;
        if (tn == 2) kind = tv;
      }
    } else if (n == 2) {
      raw = std::move(v);
    } else if (n == 3) {
      encoding = std::move(v);
    }
  }
  if (api_version != "v1" || kind != "Namespace") {
    return InvalidArgument("protobuf body: expected a v1 Namespace, got " + (api_version.empty() ? "?" : api_version) +
                           " " + (kind.empty() ? "?" : kind));
  }
  if (!encoding.empty()) return InvalidArgument("protobuf body: unsupported contentEncoding \"" + encoding + "\"");
  ASSIGN_OR_RETURN(Fields ns, LengthDelimited(raw, "Namespace"));
  Json out{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", Json::object()}};
  for (auto& [n, v] : ns) {
    if (n == 1) {
      ASSIGN_OR_RETURN(out["metadata"], ObjectMeta(v));
    } else if (n == 2) {
      ASSIGN_OR_RETURN(Fields spec, LengthDelimited(v, "NamespaceSpec"));
      Json fin = Json::array();
      for (auto& [sn, sv] : spec)
        if (sn == 1) fin.push_back(sv);
      out["spec"] = Json::object();
      if (!fin.empty()) out["spec"]["finalizers"] = std::move(fin);
    }
  }
  return out;
}

Status EnsureNamespaces(store::Store* store, const std::vector<const store::ResourceType*>& types) {
  std::set<std::string> names = {"default"};
  for (const auto* t : types) {
    if (!t->namespaced) continue;
    ASSIGN_OR_RETURN(auto list, store->List(*t, ""));
    for (const auto& item : list.items) names.insert(item["metadata"].value("namespace", "default"));
  }
  for (const auto& name : names) {
    auto cur = store->Get(NamespaceType(), "", name);
    if (cur.ok()) continue;
    if (cur.status().code() != StatusCode::kNotFound) return cur.status();
    Json ns{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
    if (!NormalizeNamespace(ns).ok()) continue;  // a stored namespace name Kubernetes would refuse: left as is
    auto created = store->Create(NamespaceType(), std::move(ns));
    if (!created.ok() && created.status().code() != StatusCode::kAlreadyExists) return created.status();
  }
  return Status::Ok();
}

}  // namespace inferd::api
