// cli/resource_cmds.cc: kubectl-style commands over `inferd serve`'s API: apply, get, describe, delete,
// logs, predict. Each runs on the main thread, prints what kubectl would, and sets the exit code
// (0 ok, 1 an error from the server or the input).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "api/patch.h"
#include "cli/api_client.h"
#include "cli/commands.h"
#include "resources/resources.h"
#include "resources/secrets.h"

namespace inferd::cli {

namespace {

namespace fs = std::filesystem;

int g_exit = 0;

struct Kind {
  std::string kind, api_version, plural, group;
  bool namespaced;
};

const std::vector<Kind>& Kinds() {
  static const std::vector<Kind> k = {
      {"InferenceService", "serving.kserve.io/v1beta1", "inferenceservices", "serving.kserve.io", true},
      {"ServingRuntime", "serving.kserve.io/v1alpha1", "servingruntimes", "serving.kserve.io", true},
      {"ClusterServingRuntime", "serving.kserve.io/v1alpha1", "clusterservingruntimes", "serving.kserve.io", false},
      {"Secret", "v1", "secrets", "", true},
      {"ServiceAccount", "v1", "serviceaccounts", "", true},
      {"InferenceGraph", "serving.kserve.io/v1alpha1", "inferencegraphs", "serving.kserve.io", true},
      {"TrainedModel", "serving.kserve.io/v1alpha1", "trainedmodels", "serving.kserve.io", true},
  };
  return k;
}

const Kind* KindFromArg(std::string arg) {
  std::transform(arg.begin(), arg.end(), arg.begin(), ::tolower);
  if (auto dot = arg.find('.'); dot != std::string::npos) arg = arg.substr(0, dot);  // isvc.serving.kserve.io
  if (arg == "isvc" || arg == "inferenceservice" || arg == "inferenceservices") return &Kinds()[0];
  if (arg == "servingruntime" || arg == "servingruntimes") return &Kinds()[1];
  if (arg == "clusterservingruntime" || arg == "clusterservingruntimes") return &Kinds()[2];
  if (arg == "secret" || arg == "secrets") return &Kinds()[3];
  if (arg == "sa" || arg == "serviceaccount" || arg == "serviceaccounts") return &Kinds()[4];
  if (arg == "ig" || arg == "inferencegraph" || arg == "inferencegraphs") return &Kinds()[5];
  if (arg == "tm" || arg == "trainedmodel" || arg == "trainedmodels") return &Kinds()[6];
  return nullptr;
}

const Kind* KindFromObject(const Json& obj) {
  if (!obj.is_object() || !obj.contains("kind") || !obj["kind"].is_string()) return nullptr;
  const std::string kind = obj["kind"].get<std::string>();
  for (const auto& k : Kinds()) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

std::string CollectionPath(const Kind& k, const std::string& ns) {
  const std::string root = k.group.empty() ? "/api/" : "/apis/";  // the core group lives under /api
  if (!k.namespaced || ns.empty()) return root + k.api_version + "/" + k.plural;
  return root + k.api_version + "/namespaces/" + ns + "/" + k.plural;
}

std::string ObjectPath(const Kind& k, const std::string& ns, const std::string& name) {
  return CollectionPath(k, k.namespaced ? ns : "") + "/" + name;
}

std::string Singular(const Kind& k) {
  std::string s = k.kind;
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return k.group.empty() ? s : s + "." + k.group;
}

void Fail(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  g_exit = 1;
}

void ServerError(const ApiClient::Result& r) {
  std::string reason;
  Json j = ParseAnswer(r.body);
  if (j.is_object()) reason = j.value("reason", "");
  if (r.code == 0) {
    Fail(r.body);
  } else {
    std::fprintf(stderr, "Error from server%s: %s\n", reason.empty() ? "" : (" (" + reason + ")").c_str(),
                 ErrorMessage(r).c_str());
    g_exit = 1;
  }
}

std::string ReadAll(std::istream& in) {
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads every document of -f FILE|DIR|- (directories: *.yaml, *.yml, *.json, sorted). `where`, when given,
// gets one entry per document: "<source>: document <n>" (n counts from 1 within its file).
bool ReadDocuments(const std::vector<std::string>& files, std::vector<Json>* docs,
                   std::vector<std::string>* where = nullptr) {
  for (const auto& f : files) {
    std::vector<std::pair<std::string, std::string>> texts;  // (source, text)
    std::error_code ec;
    if (f == "-") {
      texts.emplace_back("<stdin>", ReadAll(std::cin));
    } else if (fs::is_directory(f, ec)) {
      std::vector<std::string> names;
      for (const auto& e : fs::directory_iterator(f, ec)) {
        auto ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) names.push_back(e.path());
      }
      std::sort(names.begin(), names.end());
      for (const auto& n : names) {
        std::ifstream in(n);
        texts.emplace_back(n, ReadAll(in));
      }
    } else {
      std::ifstream in(f);
      if (!in) {
        Fail("the path \"" + f + "\" does not exist");
        return false;
      }
      texts.emplace_back(f, ReadAll(in));
    }
    for (const auto& [source, text] : texts) {
      auto parsed = resources::ParseYamlDocuments(text, source);
      if (!parsed.ok()) {
        Fail(parsed.status().message());
        return false;
      }
      for (size_t i = 0; i < parsed->size(); ++i) {
        docs->push_back(std::move((*parsed)[i]));
        if (where) where->push_back(source + ": document " + std::to_string(i + 1));
      }
    }
  }
  return true;
}

std::time_t ParseTime(const std::string& ts) {
  std::tm tm{};
  if (!strptime(ts.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
  return timegm(&tm);
}

std::string Age(const std::string& ts) {
  std::time_t t = ParseTime(ts);
  if (t == 0) return "<unknown>";
  long s = static_cast<long>(std::time(nullptr) - t);
  if (s < 0) s = 0;
  if (s < 120) return std::to_string(s) + "s";
  if (s < 2 * 3600) return std::to_string(s / 60) + "m";
  if (s < 2 * 86400) return std::to_string(s / 3600) + "h";
  return std::to_string(s / 86400) + "d";
}

// Column layout: every column as wide as its widest cell plus three spaces (kubectl's look).
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return;
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 3, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
}

// describe's Conditions section of a status.
void PrintConditions(const Json& st) {
  std::printf("Conditions:\n");
  std::vector<std::vector<std::string>> rows = {{"  TYPE", "STATUS", "REASON", "LAST TRANSITION", "MESSAGE"}};
  if (st.contains("conditions") && st["conditions"].is_array()) {
    for (const auto& c : st["conditions"]) {
      if (!c.is_object()) continue;
      rows.push_back({"  " + c.value("type", ""), c.value("status", ""), c.value("reason", ""),
                      c.value("lastTransitionTime", ""), c.value("message", "")});
    }
  }
  PrintTable(rows);
}

std::string ConditionStatus(const Json& obj, const std::string& type) {
  const Json* conds = nullptr;
  if (obj.contains("status") && obj["status"].contains("conditions")) conds = &obj["status"]["conditions"];
  if (!conds || !conds->is_array()) return "";
  for (const auto& c : *conds) {
    if (c.value("type", "") == type) return c.value("status", "");
  }
  return "";
}

std::vector<std::string> Header(const Kind& k, bool all_ns, bool wide = false) {
  std::vector<std::string> h;
  if (all_ns && k.namespaced) h.push_back("NAMESPACE");
  if (k.kind == "InferenceService") {
    h.insert(h.end(), {"NAME", "URL", "READY", "PREV", "LATEST", "PREVROLLEDOUTREVISION", "LATESTREADYREVISION"});
    if (wide) h.push_back("COMPONENTS");
    h.push_back("AGE");
  } else if (k.kind == "Secret") {
    h.insert(h.end(), {"NAME", "TYPE", "DATA", "AGE"});
  } else if (k.kind == "ServiceAccount") {
    h.insert(h.end(), {"NAME", "SECRETS", "AGE"});
  } else if (k.kind == "InferenceGraph" || k.kind == "TrainedModel") {  // KServe's CRD printer columns
    h.insert(h.end(), {"NAME", "URL", "READY", "AGE"});
  } else {
    h.insert(h.end(), {"NAME", "DISABLED", "MODELTYPE", "CONTAINERS", "AGE"});
  }
  return h;
}

// -o wide: each component with its ready condition and latest ready revision, e.g.
// "predictor=True(m-predictor-00001),transformer=False".
std::string ComponentsCell(const Json& obj) {
  const Json st = obj.contains("status") && obj["status"].is_object() ? obj["status"] : Json::object();
  if (!st.contains("components") || !st["components"].is_object()) return "";
  std::string out;
  for (const char* c : {"predictor", "transformer", "explainer"}) {
    if (!st["components"].contains(c) || !st["components"][c].is_object()) continue;
    std::string type = c;
    type[0] = static_cast<char>(type[0] - 'a' + 'A');
    std::string ready = ConditionStatus(obj, type + "Ready");
    std::string rev = st["components"][c].value("latestReadyRevision", "");
    out += (out.empty() ? "" : ",") + std::string(c) + "=" + (ready.empty() ? "Unknown" : ready) +
           (rev.empty() ? "" : "(" + rev + ")");
  }
  return out;
}

std::vector<std::string> Row(const Kind& k, const Json& obj, bool all_ns, bool wide = false) {
  std::vector<std::string> r;
  const Json& md = obj["metadata"];
  if (all_ns && k.namespaced) r.push_back(md.value("namespace", ""));
  r.push_back(md.value("name", ""));
  if (k.kind == "InferenceService") {
    const Json st = obj.contains("status") ? obj["status"] : Json::object();
    r.push_back(st.value("url", ""));
    r.push_back(ConditionStatus(obj, "Ready"));
    std::string prev, latest;
    const Json* pred = nullptr;
    if (st.contains("components") && st["components"].contains("predictor")) pred = &st["components"]["predictor"];
    if (pred && pred->contains("traffic") && (*pred)["traffic"].is_array()) {
      int prev_pct = 0;
      bool has_prev = false;
      for (const auto& t : (*pred)["traffic"]) {
        if (t.value("latestRevision", false)) {
          latest = std::to_string(t.value("percent", 0));
        } else {
          prev_pct += t.value("percent", 0);
          has_prev = true;
        }
      }
      if (has_prev) prev = std::to_string(prev_pct);
    }
    r.push_back(prev);
    r.push_back(latest);
    r.push_back(pred ? pred->value("previousRolledoutRevision", "") : "");
    r.push_back(pred ? pred->value("latestReadyRevision", "") : "");
    if (wide) r.push_back(ComponentsCell(obj));
  } else if (k.kind == "Secret") {  // kubectl's columns: the number of keys, never a value
    r.push_back(obj.value("type", ""));
    r.push_back(std::to_string(obj.contains("data") && obj["data"].is_object() ? obj["data"].size() : 0));
  } else if (k.kind == "ServiceAccount") {
    r.push_back(std::to_string(obj.contains("secrets") && obj["secrets"].is_array() ? obj["secrets"].size() : 0));
  } else if (k.kind == "InferenceGraph" || k.kind == "TrainedModel") {
    r.push_back(obj.contains("status") && obj["status"].is_object() ? obj["status"].value("url", "") : "");
    r.push_back(ConditionStatus(obj, "Ready"));
  } else {
    const Json spec = obj.contains("spec") ? obj["spec"] : Json::object();
    r.push_back(spec.value("disabled", false) ? "true" : "");
    std::string types, containers;
    if (spec.contains("supportedModelFormats") && spec["supportedModelFormats"].is_array()) {
      for (const auto& f : spec["supportedModelFormats"]) types += (types.empty() ? "" : ",") + f.value("name", "");
    }
    if (spec.contains("containers") && spec["containers"].is_array()) {
      for (const auto& c : spec["containers"]) containers += (containers.empty() ? "" : ",") + c.value("name", "");
    }
    r.push_back(types);
    r.push_back(containers);
  }
  r.push_back(Age(md.value("creationTimestamp", "")));
  return r;
}

// ---- apply -----------------------------------------------------------------------------------------
// A document of `inferd apply -f`, checked: its kind, namespace and name, ready to write.
struct ApplyItem {
  const Kind* kind = nullptr;
  std::string ns, name;
  Json doc;
};

// Checks one document: an object of a served kind, then the server's own validation by a dry run
// (`?dryRun=All`: nothing is stored). Returns the error message, or "" when the document can be applied.
std::string CheckForApply(const ApiClient& client, Json doc, const std::string& ns_flag, ApplyItem* item,
                          bool* unreachable) {
  if (!doc.is_object()) return "is not an object";
  const Kind* k = KindFromObject(doc);
  if (!k) {
    return "unknown kind \"" + (doc["kind"].is_string() ? doc["kind"].get<std::string>() : std::string()) +
           "\" (inferd serves InferenceService, ServingRuntime, ClusterServingRuntime, Secret, ServiceAccount, "
           "InferenceGraph)";
  }
  if (!doc.contains("metadata") || !doc["metadata"].is_object()) doc["metadata"] = Json::object();
  const Json& md = doc["metadata"];
  item->kind = k;
  item->name = md.contains("name") && md["name"].is_string() ? md["name"].get<std::string>() : "";
  item->ns = md.contains("namespace") && md["namespace"].is_string() ? md["namespace"].get<std::string>()
                                                                   : (ns_flag.empty() ? "default" : ns_flag);
  if (k->namespaced) doc["metadata"]["namespace"] = item->ns;
  auto r = client.Call("POST", CollectionPath(*k, item->ns) + "?dryRun=All", doc.dump());
  if (r.code == 0) *unreachable = true;
  // The server's warnings (unknown fields it prunes), printed once, from the dry run, as kubectl prints them.
  for (const auto& w : r.warnings) std::fprintf(stderr, "Warning: %s\n", w.c_str());
  if (r.code != 200 && r.code != 201) return ErrorMessage(r);
  item->doc = std::move(doc);
  return "";
}

// kubectl's client-side apply: the file, with the annotation kubectl.kubernetes.io/last-applied-configuration
// holding the file itself, is created when the object is missing; otherwise a three-way JSON merge patch
// (api/patch.h ThreeWayMergePatch: what the last-applied configuration had and the file dropped is removed,
// what the file sets differently is set) is sent, unconditionally, retrying on 409 as kubectl does.
constexpr const char* kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

void ApplyOne(const ApiClient& client, ApplyItem& it) {
  const Kind* k = it.kind;
  const std::string& name = it.name;
  // A Secret's stringData is folded into data first (as the server stores it), so an unchanged file is
  // "unchanged".
  Json doc = k->kind == "Secret" ? resources::NormalizeSecret(it.doc) : it.doc;
  if (doc["metadata"].contains("annotations") && doc["metadata"]["annotations"].is_object()) {
    doc["metadata"]["annotations"].erase(kLastApplied);
    if (doc["metadata"]["annotations"].empty()) doc["metadata"].erase("annotations");
  }
  Json modified = doc;
  modified["metadata"]["annotations"][kLastApplied] = doc.dump();
  const std::string query = "?fieldManager=kubectl-client-side-apply";
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto cur = client.Call("GET", ObjectPath(*k, it.ns, name));
    if (cur.code == 404) {
      auto r = client.Call("POST", CollectionPath(*k, it.ns) + query, modified.dump());
      if (r.code == 201 || r.code == 200) {
        std::printf("%s/%s created\n", Singular(*k).c_str(), name.c_str());
        return;
      }
      if (r.code == 409) continue;  // created in between: patch it
      return ServerError(r);
    }
    if (cur.code != 200) return ServerError(cur);
    Json current = ParseAnswer(cur.body);
    Json original;
    const Json* ann = current.contains("metadata") && current["metadata"].is_object() &&
                              current["metadata"].contains("annotations") && current["metadata"]["annotations"].is_object() &&
                              current["metadata"]["annotations"].contains(kLastApplied)
                          ? &current["metadata"]["annotations"][kLastApplied]
                          : nullptr;
    if (ann && ann->is_string()) original = ParseAnswer(ann->get<std::string>());
    if (original.is_discarded()) original = Json();
    if (!ann) {
      std::fprintf(stderr,
                   "Warning: %s/%s is missing the %s annotation which inferd apply needs; it is added now, so "
                   "fields removed from the file before this apply stay on the object.\n",
                   Singular(*k).c_str(), name.c_str(), kLastApplied);
    }
    Json patch = api::ThreeWayMergePatch(original, modified, current);
    if (patch.empty()) {
      std::printf("%s/%s unchanged\n", Singular(*k).c_str(), name.c_str());
      return;
    }
    auto r = client.Call("PATCH", ObjectPath(*k, it.ns, name) + query, patch.dump(), "application/merge-patch+json");
    if (r.code == 200) {
      std::printf("%s/%s configured\n", Singular(*k).c_str(), name.c_str());
      return;
    }
    if (r.code != 409) return ServerError(r);
  }
  Fail("could not apply " + name + ": it kept changing (409 Conflict)");
}

// Every document is checked (the server's validation, by a dry run) before any is written: a file with an
// invalid document applies nothing, and every error is reported with its file and document number.
void RunApply(const ClientFlags& flags, const std::vector<std::string>& files, const std::string& ns_flag) {
  auto client = MakeClient(flags);
  if (!client.ok()) return Fail(client.status().message());
  std::vector<Json> docs;
  std::vector<std::string> where;
  if (!ReadDocuments(files, &docs, &where)) return;
  std::vector<ApplyItem> items(docs.size());
  size_t invalid = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    bool unreachable = false;
    std::string err = CheckForApply(*client, std::move(docs[i]), ns_flag, &items[i], &unreachable);
    if (unreachable) return Fail(err);
    if (err.empty()) continue;
    ++invalid;
    Fail(where[i] + ": " + err);
  }
  if (invalid > 0) {
    return Fail("nothing applied: " + std::to_string(invalid) + " of " + std::to_string(docs.size()) +
                (docs.size() == 1 ? " document is" : " documents are") + " invalid");
  }
  for (auto& it : items) ApplyOne(*client, it);
}

// ---- get -------------------------------------------------------------------------------------------
void RunGet(const ClientFlags& flags, const std::string& type, const std::string& name, std::string ns, bool all_ns,
            const std::string& output, bool watch) {
  auto client = MakeClient(flags);
  if (!client.ok()) return Fail(client.status().message());
  const Kind* k = KindFromArg(type);
  if (!k) return Fail("the server doesn't have a resource type \"" + type + "\"");
  if (ns.empty()) ns = "default";
  std::string path = name.empty() ? CollectionPath(*k, all_ns ? "" : ns) : ObjectPath(*k, ns, name);
  auto r = client->Call("GET", path);
  if (r.code != 200) return ServerError(r);
  Json j = ParseAnswer(r.body);
  if (output == "json") {
    std::printf("%s\n", j.dump(4).c_str());
  } else if (output == "yaml") {
    std::printf("%s\n", resources::ToYaml(j).c_str());
  } else if (output.empty() || output == "wide") {
    const bool wide = output == "wide";
    std::vector<std::vector<std::string>> rows = {Header(*k, all_ns, wide)};
    if (name.empty()) {
      for (const auto& item : j["items"]) rows.push_back(Row(*k, item, all_ns, wide));
      if (rows.size() == 1 && !watch) {
        std::fprintf(stderr, "No resources found in %s namespace.\n", ns.c_str());
        return;
      }
    } else {
      rows.push_back(Row(*k, j, all_ns, wide));
    }
    PrintTable(rows);
  } else {
    return Fail("unknown output format \"" + output + "\" (wide, yaml, json)");
  }
  if (!watch) return;
  std::string rv = name.empty() ? j["metadata"].value("resourceVersion", "") : j["metadata"].value("resourceVersion", "");
  std::string wpath = CollectionPath(*k, all_ns ? "" : ns) + "?watch=1&resourceVersion=" + rv;
  std::string buf;
  client->Stream(wpath, [&](std::string_view data) {
    buf.append(data);
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      Json ev = ParseAnswer(buf.substr(0, nl));
      buf.erase(0, nl + 1);
      if (!ev.is_object() || !ev.contains("object")) continue;
      const Json& obj = ev["object"];
      if (!name.empty() && obj["metadata"].value("name", "") != name) continue;
      if (output == "json") {
        std::printf("%s\n", obj.dump(4).c_str());
      } else if (output == "yaml") {
        std::printf("---\n%s\n", resources::ToYaml(obj).c_str());
      } else {
        auto row = Row(*k, obj, all_ns, output == "wide");
        std::string line;
        for (size_t i = 0; i < row.size(); ++i) line += (i ? "   " : "") + row[i];
        std::printf("%s\n", line.c_str());
      }
      std::fflush(stdout);
    }
    return true;
  });
}

// ---- get revisions ---------------------------------------------------------------------------------
// Revisions are not objects of their own here: every InferenceService's status lists its running ones.
// `name` selects a revision, or every revision of the InferenceService of that name.
void RunGetRevisions(const ClientFlags& flags, const std::string& name, std::string ns, bool all_ns,
                     const std::string& output) {
  auto client = MakeClient(flags);
  if (!client.ok()) return Fail(client.status().message());
  if (ns.empty()) ns = "default";
  auto r = client->Call("GET", CollectionPath(Kinds()[0], all_ns ? "" : ns));
  if (r.code != 200) return ServerError(r);
  Json list = ParseAnswer(r.body);
  std::vector<std::vector<std::string>> rows;
  rows.push_back(all_ns ? std::vector<std::string>{"NAMESPACE"} : std::vector<std::string>{});
  for (const char* h : {"NAME", "INFERENCESERVICE", "RUNTIME", "TRAFFIC", "TAG", "LATEST", "READY", "REPLICAS"}) {
    rows[0].push_back(h);
  }
  Json out = Json::array();
  for (const auto& item : list["items"]) {
    const Json st = item.contains("status") ? item["status"] : Json::object();
    if (!st.contains("inferd") || !st["inferd"].contains("revisions")) continue;
    const bool whole_service = item["metadata"].value("name", "") == name;
    for (const auto& rev : st["inferd"]["revisions"]) {
      if (!name.empty() && !whole_service && rev.value("name", "") != name) continue;
      std::vector<std::string> row;
      if (all_ns) row.push_back(item["metadata"].value("namespace", ""));
      row.insert(row.end(), {rev.value("name", ""), item["metadata"].value("name", ""), rev.value("runtime", ""),
                             std::to_string(rev.value("percent", 0)) + "%", rev.value("tag", ""),
                             rev.value("latest", false) ? "true" : "false",
                             std::to_string(rev.value("readyReplicas", 0)),
                             std::to_string(rev.value("replicas", 0))});
      rows.push_back(row);
      Json o = rev;
      o["inferenceService"] = item["metadata"].value("name", "");
      o["namespace"] = item["metadata"].value("namespace", "");
      out.push_back(o);
    }
  }
  if (output == "json") {
    std::printf("%s\n", out.dump(4).c_str());
  } else if (output == "yaml") {
    std::printf("%s\n", resources::ToYaml(out).c_str());
  } else if (rows.size() == 1) {
    std::fprintf(stderr, "No revisions found in %s namespace.\n", ns.c_str());
  } else {
    PrintTable(rows);
  }
}

// ---- describe --------------------------------------------------------------------------------------
// The batcher and payload logger of each component as the replicas run them (absent fields at the defaults
// control/replica_command.cc gives them: KServe's 32, 5000 ms, mode all, http://default-broker).
void PrintBatcherAndLogger(const Json& spec) {
  for (const char* comp : {"predictor", "transformer", "explainer"}) {
    if (!spec.contains(comp) || !spec[comp].is_object()) continue;
    const Json& c = spec[comp];
    if (c.contains("batcher") && c["batcher"].is_object()) {
      const Json& b = c["batcher"];
      const auto num = [&](const char* k, int d) { return b.contains(k) && b[k].is_number_integer() ? b[k].get<int>() : d; };
      std::printf("  %-26smaxBatchSize %d, maxLatency %d ms\n", (std::string(comp) + " batcher:").c_str(),
                  num("maxBatchSize", 32), num("maxLatency", 5000));
    }
    if (c.contains("logger") && c["logger"].is_object()) {
      const Json& l = c["logger"];
      const auto str = [&](const char* k, const char* d) {
        return l.contains(k) && l[k].is_string() ? l[k].get<std::string>() : std::string(d);
      };
      std::string headers;
      if (l.contains("metadataHeaders") && l["metadataHeaders"].is_array()) {
        for (const auto& h : l["metadataHeaders"])
          if (h.is_string()) headers += (headers.empty() ? "" : ", ") + h.get<std::string>();
      }
      std::printf("  %-26smode %s to %s%s\n", (std::string(comp) + " logger:").c_str(), str("mode", "all").c_str(),
                  str("url", "http://default-broker").c_str(),
                  headers.empty() ? "" : (" (metadataHeaders: " + headers + ")").c_str());
    }
  }
}

void RunDescribe(const ClientFlags& flags, const std::string& type, const std::string& name, std::string ns) {
  auto client = MakeClient(flags);
  if (!client.ok()) return Fail(client.status().message());
  const Kind* k = KindFromArg(type);
  if (!k) return Fail("the server doesn't have a resource type \"" + type + "\"");
  if (ns.empty()) ns = "default";
  auto r = client->Call("GET", ObjectPath(*k, ns, name));
  if (r.code != 200) return ServerError(r);
  Json obj = ParseAnswer(r.body);
  const Json& md = obj["metadata"];
  auto line = [](const std::string& key, const std::string& value) {
    std::printf("%-22s%s\n", (key + ":").c_str(), value.c_str());
  };
  line("Name", md.value("name", ""));
  if (k->namespaced) line("Namespace", md.value("namespace", ""));
  auto kv = [&](const char* field, const char* title) {
    std::string s;
    if (md.contains(field) && md[field].is_object()) {
      for (auto it = md[field].begin(); it != md[field].end(); ++it) {
        s += (s.empty() ? "" : "\n                      ") + it.key() + "=" +
             (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
      }
    }
    line(title, s.empty() ? "<none>" : s);
  };
  kv("labels", "Labels");
  kv("annotations", "Annotations");
  line("API Version", obj.value("apiVersion", ""));
  line("Kind", obj.value("kind", ""));
  line("Created", md.value("creationTimestamp", "") + " (" + Age(md.value("creationTimestamp", "")) + " ago)");
  line("Generation", std::to_string(md.value("generation", 0)));
  if (k->kind == "Secret") {  // as kubectl describes one: key names and sizes, never the values
    line("Type", obj.value("type", ""));
    std::printf("Data\n====\n");
    if (obj.contains("data") && obj["data"].is_object()) {
      for (auto it = obj["data"].begin(); it != obj["data"].end(); ++it) {
        auto v = resources::SecretValue(obj, it.key());
        std::printf("%s:  %zu bytes\n", it.key().c_str(), v.ok() ? v->size() : 0);
      }
    }
    return;
  }
  if (k->kind == "ServiceAccount") {
    std::string names;
    if (obj.contains("secrets") && obj["secrets"].is_array()) {
      for (const auto& s : obj["secrets"]) names += (names.empty() ? "" : ", ") + s.value("name", "");
    }
    line("Mountable secrets", names.empty() ? "<none>" : names);
    return;
  }
  const Json st = obj.contains("status") && obj["status"].is_object() ? obj["status"] : Json::object();
  if (k->kind != "InferenceService") {
    std::printf("Spec:\n%s\n", resources::ToYaml(obj["spec"]).c_str());
    if (k->kind == "TrainedModel" || k->kind == "InferenceGraph") {  // the status: URL and every condition
      line("URL", st.value("url", "<none>"));
      PrintConditions(st);
    }
    return;
  }
  line("Observed Generation", std::to_string(st.value("observedGeneration", 0)));
  line("URL", st.value("url", ""));
  if (st.contains("address")) line("Address", st["address"].value("url", ""));
  const Json inf = st.contains("inferd") ? st["inferd"] : Json::object();
  line("Runtime", inf.value("runtime", "<none>"));
  if (inf.contains("storage")) {
    const Json& s = inf["storage"];
    std::string p = s.value("state", "");
    if (s.contains("bytesDone")) {
      p += ", " + std::to_string(s.value("bytesDone", 0ull)) + " bytes";
      if (s.contains("bytesTotal")) p += " of " + std::to_string(s.value("bytesTotal", 0ull));
    }
    if (s.contains("message")) p += ": " + s.value("message", "");
    line("Storage", s.value("uri", "") + " (" + p + ")");
  }
  PrintConditions(st);
  std::vector<std::vector<std::string>> rows;
  // Each component: its status fields, condition, traffic and revisions (status.inferd.revisions are named
  // {isvc}-{component}-NNNNN).
  for (const char* component : {"predictor", "transformer", "explainer"}) {
    if (!st.contains("components") || !st["components"].contains(component)) continue;
    const Json& c = st["components"][component];
    std::string title = component;
    title[0] = static_cast<char>(title[0] - 'a' + 'A');
    std::printf("%s:\n", title.c_str());
    for (const char* f : {"url", "latestCreatedRevision", "latestReadyRevision", "latestRolledoutRevision",
                          "previousRolledoutRevision"}) {
      if (c.contains(f)) std::printf("  %-26s%s\n", (std::string(f) + ":").c_str(), c.value(f, "").c_str());
    }
    if (component != std::string("predictor")) {
      std::printf("  %-26s%s\n", (title + "Ready:").c_str(), ConditionStatus(obj, title + "Ready").c_str());
    }
    std::printf("%s\n", component == std::string("predictor") ? "Traffic:" : "  Traffic:");
    rows = {{"  REVISION", "PERCENT", "LATEST"}};
    if (c.contains("traffic") && c["traffic"].is_array()) {
      for (const auto& t : c["traffic"]) {
        rows.push_back({"  " + t.value("revisionName", ""), std::to_string(t.value("percent", 0)),
                        t.value("latestRevision", false) ? "true" : "false"});
      }
    }
    PrintTable(rows);
    if (component == std::string("predictor") || !inf.contains("revisions") || !inf["revisions"].is_array()) continue;
    const std::string prefix = name + "-" + component + "-";
    std::printf("  Revisions:\n");
    rows = {{"    NAME", "PERCENT", "READY", "REPLICAS"}};
    for (const auto& rev : inf["revisions"]) {
      if (!rev.value("name", "").starts_with(prefix)) continue;
      rows.push_back({"    " + rev.value("name", ""), std::to_string(rev.value("percent", 0)),
                      std::to_string(rev.value("readyReplicas", 0)), std::to_string(rev.value("replicas", 0))});
    }
    PrintTable(rows);
  }
  if (obj.contains("spec") && obj["spec"].is_object()) PrintBatcherAndLogger(obj["spec"]);
  std::printf("Replicas:\n");
  rows = {{"  NAME", "PHASE", "PID", "HTTP", "GRPC", "RESTARTS", "REASON"}};
  if (inf.contains("replicas")) {
    for (const auto& rep : inf["replicas"]) {
      rows.push_back({"  " + rep.value("name", ""), rep.value("phase", ""), std::to_string(rep.value("pid", 0)),
                      std::to_string(rep.value("httpPort", 0)), std::to_string(rep.value("grpcPort", 0)),
                      std::to_string(rep.value("restarts", 0)), rep.value("reason", "")});
    }
  }
  PrintTable(rows);
  if (st.contains("modelStatus")) {
    const Json& ms = st["modelStatus"];
    std::printf("Model Status:\n");
    std::printf("  %-26s%s\n", "Transition Status:", ms.value("transitionStatus", "").c_str());
    if (ms.contains("states")) {
      std::printf("  %-26s%s\n", "Active Model State:", ms["states"].value("activeModelState", "").c_str());
      std::printf("  %-26s%s\n", "Target Model State:", ms["states"].value("targetModelState", "").c_str());
    }
    if (ms.contains("lastFailureInfo")) {
      const Json& f = ms["lastFailureInfo"];
      std::printf("  Last Failure:\n    Reason:   %s\n    Location: %s\n    Time:     %s\n    Message:  %s\n",
                  f.value("reason", "").c_str(), f.value("location", "").c_str(), f.value("time", "").c_str(),
                  f.value("message", "").c_str());
    }
  }
  auto ev = client->Call("GET", "/api/v1/namespaces/" + ns + "/events");
  std::printf("Events:\n");
  rows = {{"  TYPE", "REASON", "AGE", "MESSAGE"}};
  Json evs = ParseAnswer(ev.body);
  if (ev.code == 200 && evs.contains("items")) {
    std::vector<Json> mine;
    for (const auto& e : evs["items"]) {
      if (e.contains("involvedObject") && e["involvedObject"].value("name", "") == name &&
          e["involvedObject"].value("uid", "") == md.value("uid", "")) {
        mine.push_back(e);
      }
    }
    std::sort(mine.begin(), mine.end(), [](const Json& a, const Json& b) {
      return std::stoll(a["metadata"].value("resourceVersion", "0")) <
             std::stoll(b["metadata"].value("resourceVersion", "0"));
    });
    for (const auto& e : mine) {
      rows.push_back({"  " + e.value("type", ""), e.value("reason", ""), Age(e.value("lastTimestamp", "")),
                      e.value("message", "")});
    }
  }
  if (rows.size() == 1) std::printf("  <none>\n");
  else PrintTable(rows);
}

// ---- delete ----------------------------------------------------------------------------------------
void RunDelete(const ClientFlags& flags, const std::string& type, const std::vector<std::string>& names,
               const std::vector<std::string>& files, std::string ns) {
  auto client = MakeClient(flags);
  if (!client.ok()) return Fail(client.status().message());
  if (ns.empty()) ns = "default";
  std::vector<std::tuple<const Kind*, std::string, std::string>> targets;
  if (!files.empty()) {
    std::vector<Json> docs;
    if (!ReadDocuments(files, &docs)) return;
    for (const auto& d : docs) {
      const Kind* k = KindFromObject(d);
      if (!k) {
        Fail("unknown kind \"" + d.value("kind", "") + "\"");
        continue;
      }
      targets.emplace_back(k, d["metadata"].value("namespace", ns), d["metadata"].value("name", ""));
    }
  } else {
    const Kind* k = KindFromArg(type);
    if (!k) return Fail("the server doesn't have a resource type \"" + type + "\"");
    if (names.empty()) return Fail("give a NAME or -f FILE");
    for (const auto& n : names) targets.emplace_back(k, ns, n);
  }
  for (const auto& [k, tns, name] : targets) {
    auto r = client->Call("DELETE", ObjectPath(*k, tns, name));
    if (r.code == 200) {
      std::printf("%s \"%s\" deleted\n", Singular(*k).c_str(), name.c_str());
    } else {
      ServerError(r);
    }
  }
}

// ---- logs ------------------------------------------------------------------------------------------
void RunLogs(const ClientFlags& flags, const std::string& type, const std::string& name, std::string ns,
             const std::string& component, bool follow) {
  auto client = MakeClient(flags);
  if (!client.ok()) return Fail(client.status().message());
  const Kind* k = KindFromArg(type);
  if (!k || k->kind != "InferenceService") return Fail("logs are kept for inferenceservices (isvc NAME)");
  if (component != "predictor" && component != "transformer" && component != "explainer")
    return Fail("component \"" + component + "\": one of predictor, transformer, explainer");
  if (ns.empty()) ns = "default";
  std::string path = "/inferd/v1/namespaces/" + ns + "/inferenceservices/" + name + "/logs?component=" + component;
  if (follow) path += "&follow=1";
  std::string head;
  bool first = true;
  long code = client->Stream(path, [&](std::string_view data) {
    if (first && data.starts_with("{\"kind\":\"Status\"")) {
      head.append(data);
      return true;
    }
    first = false;
    std::fwrite(data.data(), 1, data.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  if (code != 200) ServerError({code, head.empty() ? "no logs" : head, {}});
}

// ---- predict ---------------------------------------------------------------------------------------
void RunPredict(const ClientFlags& flags, const std::string& name, std::string ns, const std::string& data) {
  auto client = MakeClient(flags);
  if (!client.ok()) return Fail(client.status().message());
  if (ns.empty()) ns = "default";
  auto r = client->Call("GET", ObjectPath(Kinds()[0], ns, name));
  if (r.code != 200) return ServerError(r);
  Json obj = ParseAnswer(r.body);
  std::string body = data;
  if (body.starts_with("@")) {
    std::string file = body.substr(1);
    if (file == "-") {
      body = ReadAll(std::cin);
    } else {
      std::ifstream in(file);
      if (!in) return Fail("cannot read " + file);
      body = ReadAll(in);
    }
  }
  auto resolved = resources::ResolvePredictor(obj);
  std::string protocol = resolved.ok() ? resolved->protocol_version : "v1";
  if (client->gateway.empty()) return Fail("no gateway URL: give --gateway");
  std::string path = protocol == "v1" || protocol == "grpc-v1" ? "/v1/models/" + name + ":predict"
                                                                : "/v2/models/" + name + "/infer";
  auto p = client->Post(client->gateway + path, body,
                        {"Content-Type: application/json", "Host: " + name + "." + ns + "." + client->domain});
  std::printf("%s\n", p.body.c_str());
  if (p.code < 200 || p.code >= 300) g_exit = 1;
}

// Runs a command so that an answer of a shape the printers do not expect (a server that is not inferd serve,
// a proxy's error page, a damaged object) ends in an error message and exit code 1, never in an abort.
std::function<void()> Guarded(std::function<void()> run) {
  return [run = std::move(run)] {
    try {
      run();
    } catch (const std::exception& e) {
      Fail(std::string("unexpected answer from the server: ") + e.what());
    }
  };
}

}  // namespace

void AddResourceCommands(CLI::App& app) {
  auto flags = std::make_shared<ClientFlags>();
  auto ns = std::make_shared<std::string>();
  auto files = std::make_shared<std::vector<std::string>>();
  auto type = std::make_shared<std::string>();
  auto names = std::make_shared<std::vector<std::string>>();
  auto output = std::make_shared<std::string>();
  auto all_ns = std::make_shared<bool>(false);
  auto watch = std::make_shared<bool>(false);
  auto follow = std::make_shared<bool>(false);
  auto component = std::make_shared<std::string>("predictor");
  auto data = std::make_shared<std::string>();

  auto* apply = app.add_subcommand("apply", "Create or update resources from YAML/JSON (FILE, DIR or -)");
  flags->Add(apply);
  apply->add_option("-f,--filename", *files, "File, directory or - (stdin); repeatable")->required();
  apply->add_option("-n,--namespace", *ns, "Namespace for documents that name none (default: default)");
  apply->callback(Guarded([=] { RunApply(*flags, *files, *ns); }));

  auto* get = app.add_subcommand("get", "List or show resources (isvc, servingruntimes, clusterservingruntimes, "
                                        "secrets, serviceaccounts, ig, revisions)");
  flags->Add(get);
  get->add_option("type", *type, "Resource type")->required();
  get->add_option("name", *names, "Name");
  get->add_option("-n,--namespace", *ns, "Namespace (default: default)");
  get->add_flag("-A,--all-namespaces", *all_ns, "Every namespace");
  get->add_option("-o,--output", *output, "wide, yaml or json");
  get->add_flag("-w,--watch", *watch, "Keep printing changes");
  get->callback(Guarded([=] {
    std::string t = *type;
    if (t == "revisions" || t == "revision" || t == "rev") {
      return RunGetRevisions(*flags, names->empty() ? "" : names->front(), *ns, *all_ns, *output);
    }
    RunGet(*flags, *type, names->empty() ? "" : names->front(), *ns, *all_ns, *output, *watch);
  }));

  auto* describe = app.add_subcommand("describe", "Show a resource with its status, replicas and events");
  flags->Add(describe);
  describe->add_option("type", *type, "Resource type")->required();
  describe->add_option("name", *names, "Name")->required();
  describe->add_option("-n,--namespace", *ns, "Namespace (default: default)");
  describe->callback(Guarded([=] { RunDescribe(*flags, *type, names->front(), *ns); }));

  auto* del = app.add_subcommand("delete", "Delete resources by type and name, or those in -f FILE");
  flags->Add(del);
  del->add_option("type", *type, "Resource type");
  del->add_option("name", *names, "Names");
  del->add_option("-f,--filename", *files, "File, directory or -");
  del->add_option("-n,--namespace", *ns, "Namespace (default: default)");
  del->callback(Guarded([=] { RunDelete(*flags, *type, *names, *files, *ns); }));

  auto* logs = app.add_subcommand("logs", "Print a service's replica output (isvc NAME)");
  flags->Add(logs);
  logs->add_option("type", *type, "isvc")->required();
  logs->add_option("name", *names, "Name")->required();
  logs->add_option("-n,--namespace", *ns, "Namespace (default: default)");
  logs->add_option("-c,--component", *component, "predictor, transformer or explainer")->capture_default_str();
  logs->add_flag("-f,--follow", *follow, "Keep printing new output");
  logs->callback(Guarded([=] { RunLogs(*flags, *type, names->front(), *ns, *component, *follow); }));

  auto* predict = app.add_subcommand("predict", "Send a V1 or V2 request (by the service's protocol) via the gateway");
  flags->Add(predict);
  predict->add_option("name", *names, "InferenceService name")->required();
  predict->add_option("-n,--namespace", *ns, "Namespace (default: default)");
  predict->add_option("-d,--data", *data, "Request body, or @FILE, or @- for stdin")->required();
  predict->callback(Guarded([=] { RunPredict(*flags, names->front(), *ns, *data); }));
}

int ResourceExitCode() { return g_exit; }

}  // namespace inferd::cli
