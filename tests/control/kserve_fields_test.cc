// tests/control/kserve_fields_test.cc: walks docs/kserve-fields.md. Every KServe field (the checked-in list
// tests/resources/kserve_fields.txt, extracted from KServe's Go types) must have a row; every row's example is
// set in a minimal valid object and must behave as the row says: refused (validation or the API's scaling
// check fails naming the field), not-ready (accepted, and the reconciler's steps end with the reason), or
// works/differs (accepted and runnable: resolved, a runtime selected, scaling resolved, a command built).
// The same rows go through a real `inferd serve` in kserve_fields_test.py.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "autoscaler/autoscaler.h"
#include "control/replica_command.h"
#include "control/scaling.h"
#include "resources/resources.h"
#include "resources/secrets.h"

namespace inferd::control {
namespace {

using resources::Json;

const std::vector<std::string>& kImpls = resources::PredictorImplementations();  // what `<impl>` stands for

struct Row {
  std::string kind;      // InferenceService | ServingRuntime
  std::string path;      // as written (may hold <impl>)
  std::string behaviour;  // works | differs | refused | not-ready
  std::string reason;     // for not-ready
  Json example;
  int line = 0;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '`')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '`')) ++i;
  return s.substr(i);
}

std::vector<Row> ParseTable(const std::string& text) {
  std::vector<Row> rows;
  std::istringstream in(text);
  std::string line, kind;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("## ", 0) == 0) {
      kind = line.find("ServingRuntime") != std::string::npos ? "ServingRuntime"
             : line.find("InferenceService") != std::string::npos ? "InferenceService"
                                                                 : "";
      continue;
    }
    if (line.rfind("| `", 0) != 0 || kind.empty()) continue;
    std::vector<std::string> cells;
    std::string cell;
    for (size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '|') {
        cells.push_back(cell);
        cell.clear();
      } else {
        cell += line[i];
      }
    }
    EXPECT_GE(cells.size(), 4u) << "docs/kserve-fields.md:" << n << ": " << line;
    if (cells.size() < 4) continue;
    Row r;
    r.kind = kind;
    r.line = n;
    r.path = Trim(cells[0]);
    r.behaviour = Trim(cells[1]);
    if (r.behaviour.rfind("not-ready:", 0) == 0) {
      r.reason = Trim(r.behaviour.substr(10));
      r.behaviour = "not-ready";
    }
    EXPECT_TRUE(r.behaviour == "works" || r.behaviour == "differs" || r.behaviour == "refused" ||
                r.behaviour == "not-ready")
        << "docs/kserve-fields.md:" << n << ": unknown behaviour " << r.behaviour;
    r.example = Json::parse(Trim(cells[2]), nullptr, false);
    EXPECT_FALSE(r.example.is_discarded()) << "docs/kserve-fields.md:" << n << ": the example is not JSON";
    rows.push_back(std::move(r));
  }
  return rows;
}

// `<impl>` expanded: the concrete paths a row stands for.
std::vector<std::string> Expand(const std::string& path) {
  const auto at = path.find("<impl>");
  if (at == std::string::npos) return {path};
  std::vector<std::string> out;
  for (const auto& impl : kImpls) out.push_back(path.substr(0, at) + impl + path.substr(at + 6));
  return out;
}

// The path as validation messages write it: `[]` -> `[0]`.
std::string Indexed(std::string path) {
  for (size_t at; (at = path.find("[]")) != std::string::npos;) path.replace(at, 2, "[0]");
  return path;
}

// A new list element at `name` (so that the element is valid apart from the row's field).
Json NewElement(const std::string& name) {
  if (name == "containers") return Json::parse(R"({"name": "kserve-container", "command": ["/bin/sh", "-c", "exec true"]})");
  if (name == "env") return Json{{"name", "E"}};
  if (name == "supportedModelFormats") return Json::parse(R"({"name": "sklearn", "autoSelect": true})");
  if (name == "storageUris") return Json{{"uri", "/tmp/model"}};
  if (name == "metrics")
    return Json::parse(R"({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}})");
  return Json::object();
}

// Sets `value` at `path` (dots; `name[]` is the first element of list `name`; a last `name[KEY]` is a map entry).
void SetPath(Json& obj, const std::string& path, const Json& value) {
  std::vector<std::string> segs;
  std::string seg;
  int depth = 0;
  for (char c : path) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == '.' && depth == 0) {
      segs.push_back(seg);
      seg.clear();
    } else {
      seg += c;
    }
  }
  segs.push_back(seg);
  Json* cur = &obj;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& s = segs[i];
    const bool last = i + 1 == segs.size();
    const auto open = s.find('[');
    if (open != std::string::npos && s.compare(open, 2, "[]") != 0) {  // name[KEY]
      Json& map = (*cur)[s.substr(0, open)];
      if (!map.is_object()) map = Json::object();
      map[s.substr(open + 1, s.size() - open - 2)] = value;
      return;
    }
    if (open != std::string::npos) {  // name[]
      const std::string name = s.substr(0, open);
      Json& list = (*cur)[name];
      if (!list.is_array() || list.empty()) list = Json::array({NewElement(name)});
      if (last) {
        list[0] = value;
        return;
      }
      cur = &list[0];
      continue;
    }
    if (last) {
      (*cur)[s] = value;
      return;
    }
    Json& next = (*cur)[s];
    if (!next.is_object()) next = Json::object();
    cur = &next;
  }
}

Json BaseImpl(const std::string& impl) {
  if (impl == "model") return Json::parse(R"({"modelFormat": {"name": "sklearn"}, "storageUri": "/tmp/model"})");
  return Json{{"storageUri", "/tmp/model"}};
}

// The minimal InferenceService a row's field is set in.
Json BaseIsvc(const std::string& path) {
  Json isvc = Json::parse(R"({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                              "metadata": {"name": "f", "namespace": "default"}, "spec": {}})");
  Json pred = Json::object();
  const std::string p = "spec.predictor.";
  std::string second;
  if (path.rfind(p, 0) == 0) second = path.substr(p.size(), path.find_first_of(".[", p.size()) - p.size());
  if (second == "containers") {
    pred["containers"] = Json::array({NewElement("containers")});
  } else if (std::find(kImpls.begin(), kImpls.end(), second) != kImpls.end()) {
    pred[second] = BaseImpl(second);
  } else {
    pred["model"] = BaseImpl("model");
    if (second == "storageUris") pred["model"].erase("storageUri");  // KServe: not both
  }
  // A storage spec names the object itself (path), and inferd takes only s3:// URIs beside one.
  // (An implementation's storage, not logger.storage, which is a different thing.)
  if (!second.empty() && path.size() > 8 && path.compare(path.size() - 8, 8, ".storage") == 0 && pred.contains(second)) {
    pred[second].erase("storageUri");
  }
  isvc["spec"]["predictor"] = pred;
  // A transformer's or explainer's field sits in a minimal component of that kind (art for art's fields).
  for (const char* component : {"transformer", "explainer"}) {
    const std::string c = std::string("spec.") + component + ".";
    if (path.rfind(c, 0) != 0) continue;
    if (path.rfind(c + "art", 0) == 0) {
      isvc["spec"][component] = Json::parse(R"({"art": {"type": "SquareAttack"}})");
    } else {
      isvc["spec"][component] = Json{{"containers", Json::array({NewElement("containers")})}};
    }
  }
  return isvc;
}

Json BaseRuntime() {
  return Json::parse(R"({"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime",
    "metadata": {"name": "r", "namespace": "default"},
    "spec": {"supportedModelFormats": [{"name": "sklearn", "version": "1", "autoSelect": true}],
             "protocolVersions": ["v1", "v2"],
             "containers": [{"name": "kserve-container", "command": ["inferd", "model-server"],
                             "args": ["--model_name={{.Name}}", "--model_dir=/mnt/models", "--http_port=8080"]}]}})");
}

struct Outcome {
  Status validation;    // at apply (validation, then the API's scaling check)
  std::string reason;  // when accepted: the not-ready reason the reconciler would report ("" = runs)
  std::string message;
};

std::string ReasonOf(const std::string& message) {
  for (const char* r : {"NoSupportingRuntime", "RuntimeDisabled", "RuntimeNotRecognized"})
    if (message.rfind(r, 0) == 0) return r;
  return "RuntimeNotRecognized";
}

// What the API and then the reconciler (control_plane.cc) do with an InferenceService, in the same order.
Outcome RunIsvc(const Json& isvc, const std::vector<Json>& ns_runtimes) {
  Outcome o;
  o.validation = resources::ValidateInferenceService(isvc);
  if (!o.validation.ok()) return o;
  auto spec = resources::ResolvePredictor(isvc);
  if (!spec.ok()) {
    o.reason = "InvalidPredictorSpec";
    o.message = spec.status().message();
    return o;
  }
  for (const char* component : {"predictor", "transformer", "explainer"}) {
    if (!isvc["spec"].contains(component)) continue;
    auto c = resources::ResolveComponent(isvc, component);
    if (!c.ok()) continue;  // (validated above)
    auto scaling = ScalingFor(autoscaler::AutoscalerConfig{}, isvc["spec"][component], c->annotations);
    if (!scaling.ok()) {
      o.validation = scaling.status();  // the API's validate_isvc refuses it at apply
      return o;
    }
  }
  const InProcessPlan in_process = PlanInProcess(isvc);
  if (!in_process.error.empty()) {
    o.reason = in_process.reason;
    o.message = in_process.error;
    return o;
  }
  std::optional<resources::RuntimeChoice> choice;
  if (spec->containers.empty()) {
    auto c = resources::SelectRuntime(*spec, ns_runtimes, resources::BuiltinClusterServingRuntimes());
    if (!c.ok()) {
      o.message = c.status().message();
      o.reason = ReasonOf(o.message);
      return o;
    }
    choice = std::move(*c);
  }
  // After the runtime, as the reconciler does. No Secret or ServiceAccount exists in this test (what a named
  // one gives is the storage tests' job).
  if (auto creds = resources::ResolveStorageCredentials(isvc, spec->storage_uri, {}); !creds.ok()) {
    o.reason = creds.status().code() == StatusCode::kNotFound ? "StorageCredentialsNotFound"
                                                              : "InvalidStorageCredentials";
    o.message = creds.status().message();
    return o;
  }
  ReplicaCommandInput in;
  in.isvc_name = "f";
  in.ns = "default";
  in.replica_name = "default/f-predictor-00001-1";
  in.spec = &*spec;
  in.runtime = choice ? &choice->runtime : nullptr;
  in.model_path = "/tmp/model";
  in.inferd_bin = "/usr/bin/inferd";
  in.in_process = in_process.command;
  auto r = BuildReplicaSpec(in);
  if (!r.ok()) {
    o.reason = "RuntimeNotRunnable";
    o.message = r.status().message();
    return o;
  } else if (ReplicaGpus(*spec, in.runtime) > 0) {
    o.reason = "Unschedulable";  // this test's machine has no GPUs (kserve_fields_test.py: --gpus=none)
    return o;
  }
  // The transformer and explainer, as the reconciler runs them (their own storage, then their command).
  for (const char* component : {"transformer", "explainer"}) {
    if (!isvc["spec"].contains(component) || in_process.from_annotation) continue;
    auto c = resources::ResolveComponent(isvc, component);
    if (!c.ok()) {
      o.reason = std::string("Invalid") + (component[0] == 't' ? "Transformer" : "Explainer") + "Spec";
      o.message = c.status().message();
      return o;
    }
    if (!c->storage_uri.empty()) {
      if (auto creds = resources::ResolveStorageCredentials(isvc, c->storage_uri, {}); !creds.ok()) {
        o.reason = "StorageCredentialsNotFound";
        o.message = creds.status().message();
        return o;
      }
    }
    ReplicaCommandInput ci = in;
    ci.spec = &*c;
    ci.runtime = nullptr;
    ci.in_process.reset();
    ci.replica_name = std::string("default/f-") + component + "-00001-1";
    ci.predictor_host = "f-predictor.default";
    auto cr = BuildReplicaSpec(ci);
    if (!cr.ok()) {
      o.reason = "RuntimeNotRunnable";
      o.message = cr.status().message();
      return o;
    }
    if (ReplicaGpus(*c, nullptr) > 0) {
      o.reason = "Unschedulable";
      return o;
    }
  }
  return o;
}

// A ServingRuntime row: the runtime is validated as both kinds; an InferenceService naming it runs.
Outcome RunRuntime(const Json& rt) {
  Outcome o;
  o.validation = resources::ValidateServingRuntime(rt, false);
  if (!o.validation.ok()) return o;
  Json cluster = rt;
  cluster["kind"] = "ClusterServingRuntime";
  cluster["metadata"].erase("namespace");
  Status cs = resources::ValidateServingRuntime(cluster, true);
  EXPECT_EQ(cs.ok(), o.validation.ok()) << cs.ToString();
  Json isvc = BaseIsvc("spec.predictor");
  const Json& spec = rt["spec"];
  std::string format = "sklearn";
  if (spec.contains("supportedModelFormats") && spec["supportedModelFormats"].is_array() &&
      !spec["supportedModelFormats"].empty() && spec["supportedModelFormats"][0].contains("name")) {
    format = spec["supportedModelFormats"][0]["name"];
  }
  isvc["spec"]["predictor"]["model"]["modelFormat"]["name"] = format;
  isvc["spec"]["predictor"]["model"]["runtime"] = "r";
  if (spec.contains("protocolVersions") && spec["protocolVersions"].is_array() && !spec["protocolVersions"].empty()) {
    isvc["spec"]["predictor"]["model"]["protocolVersion"] = spec["protocolVersions"][0];
  }
  return RunIsvc(isvc, {rt});
}

class KServeFields : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string doc = ReadFile(std::string(INFERD_SOURCE_DIR) + "/docs/kserve-fields.md");
    ASSERT_FALSE(doc.empty()) << "docs/kserve-fields.md is missing";
    rows_ = ParseTable(doc);
    ASSERT_GT(rows_.size(), 200u);
  }
  std::vector<Row> rows_;
};

TEST_F(KServeFields, EveryKServeFieldHasARow) {
  const std::string list = ReadFile(std::string(INFERD_SOURCE_DIR) + "/tests/resources/kserve_fields.txt");
  ASSERT_NE(list.find("# kserve commit "), std::string::npos) << "the field list names the KServe commit it came from";
  std::set<std::pair<std::string, std::string>> exact;  // (kind, concrete path)
  std::vector<std::pair<std::string, std::string>> refused;  // rows that cover their subtree
  for (const auto& r : rows_) {
    for (const auto& p : Expand(r.path)) {
      exact.emplace(r.kind, p);
      if (r.behaviour == "refused" || r.behaviour == "not-ready") refused.emplace_back(r.kind, p);
    }
  }
  std::istringstream in(list);
  std::string line;
  int fields = 0, missing = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.find(' ');
    ASSERT_NE(sp, std::string::npos) << line;
    const std::string kind = line.substr(0, sp), path = line.substr(sp + 1);
    ++fields;
    if (exact.count({kind, path})) continue;
    bool covered = false;
    for (const auto& [k, p] : refused) {
      if (k == kind && path.size() > p.size() && path.compare(0, p.size(), p) == 0 &&
          (path[p.size()] == '.' || path[p.size()] == '[')) {
        covered = true;
      }
    }
    if (!covered) {
      ++missing;
      ADD_FAILURE() << kind << " " << path << ": a KServe field with no row in docs/kserve-fields.md";
    }
  }
  EXPECT_GT(fields, 1000);
  EXPECT_EQ(missing, 0);
}

TEST_F(KServeFields, EveryRowBehavesAsDocumented) {
  // The outcome a field's example has when the implementation it sits in has one of its own
  // (`spec.predictor.tensorflow.args` inherits tensorflow's NoSupportingRuntime).
  std::map<std::string, std::string> impl_reason;
  for (const auto& r : rows_)
    for (const auto& impl : kImpls)
      if (r.kind == "InferenceService" && r.path == "spec.predictor." + impl) impl_reason[impl] = r.reason;
  int checked = 0;
  for (const auto& r : rows_) {
    for (const auto& path : Expand(r.path)) {
      SCOPED_TRACE("docs/kserve-fields.md:" + std::to_string(r.line) + ": " + r.kind + " " + path + " = " +
                   r.example.dump());
      Outcome o;
      std::string inherited;
      if (r.kind == "ServingRuntime") {
        Json rt = BaseRuntime();
        SetPath(rt, path, r.example);
        o = RunRuntime(rt);
      } else {
        Json isvc = BaseIsvc(path);
        SetPath(isvc, path, r.example);
        o = RunIsvc(isvc, {});
        for (const auto& impl : kImpls)
          if (path.rfind("spec.predictor." + impl + ".", 0) == 0) inherited = impl_reason[impl];
      }
      ++checked;
      if (r.behaviour == "refused") {
        EXPECT_FALSE(o.validation.ok()) << "accepted, but documented as refused";
        EXPECT_NE(o.validation.message().find(Indexed(path)), std::string::npos)
            << "the message does not name the field: " << o.validation.message();
        continue;
      }
      if (!o.validation.ok()) {
        ADD_FAILURE() << "refused, but documented as " << r.behaviour << ": " << o.validation.message();
        continue;
      }
      // An implementation that is itself not ready (no runtime for its format) fails first.
      const std::string want = r.behaviour == "not-ready" && inherited.empty() ? r.reason : inherited;
      EXPECT_EQ(o.reason, want) << o.message;
    }
  }
  EXPECT_GT(checked, 300);
}

TEST(KServeFieldsTable, SetPathBuildsWhatTheRowNames) {
  Json o = Json::object();
  SetPath(o, "spec.containers[].env[].valueFrom", Json{{"fieldRef", 1}});
  EXPECT_EQ(o["spec"]["containers"][0]["env"][0]["valueFrom"]["fieldRef"], 1);
  EXPECT_EQ(o["spec"]["containers"][0]["env"][0]["name"], "E");
  SetPath(o, "metadata.annotations[serving.kserve.io/stop]", "true");
  EXPECT_EQ(o["metadata"]["annotations"]["serving.kserve.io/stop"], "true");
  EXPECT_EQ(Indexed("a.b[].c[].d"), "a.b[0].c[0].d");
  EXPECT_EQ(Expand("spec.predictor.<impl>.args").size(), kImpls.size());
}

}  // namespace
}  // namespace inferd::control
