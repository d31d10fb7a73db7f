// api/discovery.cc: discovery documents from the kind table (see discovery.h).
#include "api/discovery.h"

#include <cstdio>
#include <cstring>
#include <vector>

#include "api/kinds.h"
#include "api/table.h"

#ifndef INFERD_VERSION
#define INFERD_VERSION "0.0.0"
#endif

namespace inferd::api {

using store::Json;

namespace {
const std::vector<std::string> kSubresourceVerbs = {"get", "patch", "update"};

// Group-versions of the named groups, in kind-table order (the first one is the group's preferred version).
std::vector<std::string> GroupVersions(const std::string& group) {
  std::vector<std::string> out;
  for (const Kind& k : Kinds()) {
    if (k.group() != group) continue;
    bool seen = false;
    for (const auto& v : out) seen |= v == k.version();
    if (!seen) out.push_back(k.version());
  }
  return out;
}
std::vector<std::string> NamedGroups() {
  std::vector<std::string> out;
  for (const Kind& k : Kinds()) {
    if (k.group().empty()) continue;
    bool seen = false;
    for (const auto& g : out) seen |= g == k.group();
    if (!seen) out.push_back(k.group());
  }
  return out;
}
Json StringArray(const std::vector<std::string>& v) {
  Json a = Json::array();
  for (const auto& s : v) a.push_back(s);
  return a;
}
}  // namespace

Json LegacyApiVersions() { return {{"kind", "APIVersions"}, {"versions", StringArray(GroupVersions(""))}}; }

Json LegacyApiGroupList() {
  Json groups = Json::array();
  for (const std::string& g : NamedGroups()) {
    Json versions = Json::array();
    for (const std::string& v : GroupVersions(g)) versions.push_back({{"groupVersion", g + "/" + v}, {"version", v}});
    groups.push_back({{"name", g}, {"versions", versions}, {"preferredVersion", versions[0]}});
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(groups)}};
}

std::optional<Json> LegacyResourceList(std::string_view group_version) {
  Json res = Json::array();
  for (const Kind& k : Kinds()) {
    if (k.type.api_version != group_version) continue;
    Json r = {{"name", k.type.plural}, {"singularName", k.singular}, {"namespaced", k.type.namespaced},
              {"kind", k.type.kind}, {"verbs", StringArray(k.verbs)}};
    if (!k.short_names.empty()) r["shortNames"] = StringArray(k.short_names);
    if (!k.categories.empty()) r["categories"] = StringArray(k.categories);
    res.push_back(std::move(r));
    if (k.status_subresource) {
      res.push_back({{"name", k.type.plural + "/status"}, {"singularName", ""}, {"namespaced", k.type.namespaced},
                     {"kind", k.type.kind}, {"verbs", StringArray(kSubresourceVerbs)}});
    }
  }
  if (res.empty()) return std::nullopt;
  return Json{{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", std::string(group_version)},
              {"resources", std::move(res)}};
}

std::optional<std::string> WantedAggregatedDiscovery(std::string_view accept) {
  for (const MediaRange& m : ParseAccept(accept)) {
    if (m.type == "application/json" && m.Param("as").empty()) return std::nullopt;  // plain JSON first
    if (m.type != "application/json" || m.Param("as") != "APIGroupDiscoveryList" ||
        m.Param("g") != "apidiscovery.k8s.io") {
      continue;
    }
    std::string v = m.Param("v");
    if (v == "v2" || v == "v2beta1") return v;
  }
  return std::nullopt;
}

std::string AggregatedContentType(const std::string& version) {
  return "application/json;g=apidiscovery.k8s.io;v=" + version + ";as=APIGroupDiscoveryList";
}

Json AggregatedDiscovery(bool core, const std::string& version) {
  Json items = Json::array();
  std::vector<std::string> groups = core ? std::vector<std::string>{""} : NamedGroups();
  for (const std::string& g : groups) {
    Json versions = Json::array();
    for (const std::string& v : GroupVersions(g)) {
      Json resources = Json::array();
      for (const Kind& k : Kinds()) {
        if (k.group() != g || k.version() != v) continue;
        Json kind_ref = {{"group", g}, {"version", v}, {"kind", k.type.kind}};
        Json r = {{"resource", k.type.plural},
                  {"responseKind", kind_ref},
                  {"scope", k.type.namespaced ? "Namespaced" : "Cluster"},
                  {"singularResource", k.singular},
                  {"verbs", StringArray(k.verbs)}};
        if (!k.short_names.empty()) r["shortNames"] = StringArray(k.short_names);
        if (!k.categories.empty()) r["categories"] = StringArray(k.categories);
        if (k.status_subresource) {
          r["subresources"] = Json::array(
              {{{"subresource", "status"}, {"responseKind", kind_ref}, {"verbs", StringArray(kSubresourceVerbs)}}});
        }
        resources.push_back(std::move(r));
      }
      versions.push_back({{"version", v}, {"resources", std::move(resources)}, {"freshness", "Current"}});
    }
    items.push_back({{"metadata", {{"name", g}}}, {"versions", std::move(versions)}});
  }
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/" + version},
          {"metadata", Json::object()},
          {"items", std::move(items)}};
}

namespace {
// __DATE__ ("Dec  7 2026") and __TIME__ as RFC 3339, as Kubernetes' buildDate.
std::string BuildDate() {
  static const char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const char* date = __DATE__;
  int month = 1;
  for (int i = 0; i < 12; ++i)
    if (std::strncmp(kMonths + 3 * i, date, 3) == 0) month = i + 1;
  char buf[32];
  int day = (date[4] == ' ' ? 0 : date[4] - '0') * 10 + (date[5] - '0');
  std::snprintf(buf, sizeof buf, "%.4s-%02d-%02dT%sZ", date + 7, month, day, __TIME__);
  return buf;
}
}  // namespace

Json VersionInfo() {
#if defined(__x86_64__)
  const char* platform = "linux/amd64";
#elif defined(__aarch64__)
  const char* platform = "linux/arm64";
#else
  const char* platform = "linux/unknown";
#endif
  // The Kubernetes API level inferd's API follows (kubectl 1.32's), with inferd's own version as the
  // prerelease part: semver, so `kubectl version` parses it and warns about no skew.
  return {{"major", "1"},
          {"minor", "32"},
          {"gitVersion", std::string("v1.32.0-inferd.") + INFERD_VERSION},
          {"gitCommit", ""},
          {"gitTreeState", ""},
          {"buildDate", BuildDate()},
          {"goVersion", "none (inferd is C++)"},
          {"compiler", "gcc"},
          {"platform", platform}};
}

}  // namespace inferd::api
