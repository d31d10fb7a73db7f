// fuzz/api_writes_fuzz.cc: what kubectl's writes carry into the API's pure parts (api/patch.h,
// api/namespaces.h, api/status_object.h). The first byte picks the part, the rest is the input:
//   0: the protobuf body of `kubectl create namespace` (DecodeProtobufNamespace), then NormalizeNamespace;
//   1: "<document JSON>\n<JSON patch>" (ApplyJsonPatch);
//   2: "<live JSON>\n<applied JSON>" (ServerSideApply, RecordUpdate, ThreeWayMergePatch);
//   3: a validator's error text (FieldErrorFromText, InvalidStatus).
// Invariants: no exception escapes; a decoded Namespace is a v1 Namespace object; a JSON patch of only `test`
// operations that applies changes nothing; an apply without conflicts owns exactly the fields it sent and
// applying the same configuration again changes nothing and conflicts with nobody; kubectl's three-way patch,
// once applied, leaves nothing to patch.
#include "api/namespaces.h"
#include "api/patch.h"
#include "api/status_object.h"
#include "core/json_depth.h"
#include "fuzz_check.h"
#include "resources/resources.h"

using inferd::api::Json;
namespace api = inferd::api;

namespace {

bool ParseTwo(std::string_view text, Json* a, Json* b) {
  auto nl = text.find('\n');
  if (nl == std::string_view::npos) return false;
  auto x = inferd::ParseBoundedJson(text.substr(0, nl), "a");
  auto y = inferd::ParseBoundedJson(text.substr(nl + 1), "b");
  if (!x.ok() || !y.ok()) return false;
  *a = std::move(*x);
  *b = std::move(*y);
  return true;
}

void Namespace(std::string_view body) {
  auto ns = api::DecodeProtobufNamespace(body);
  if (!ns.ok()) return;
  FUZZ_CHECK(ns->is_object() && (*ns)["kind"] == "Namespace" && (*ns)["apiVersion"] == "v1", ns->dump());
  FUZZ_CHECK((*ns)["metadata"].is_object(), ns->dump());
  Json n = *ns;
  if (api::NormalizeNamespace(n).ok()) {
    FUZZ_CHECK(n["metadata"]["labels"]["kubernetes.io/metadata.name"] == n["metadata"]["name"], n.dump());
  }
  (void)n.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void JsonPatch(std::string_view text) {
  Json doc, ops;
  if (!ParseTwo(text, &doc, &ops)) return;
  bool not_applicable = false;
  auto r = api::ApplyJsonPatch(doc, ops, &not_applicable);
  if (!r.ok()) return;
  bool only_tests = ops.is_array();
  for (const auto& op : ops) only_tests = only_tests && op.is_object() && op.value("op", "") == "test";
  if (only_tests) FUZZ_CHECK(*r == doc, r->dump());
}

void Apply(std::string_view text) {
  Json live, applied;
  if (!ParseTwo(text, &live, &applied) || !applied.is_object()) return;
  if (!live.is_object()) live = Json();
  auto res = api::ServerSideApply(live, applied, "fuzz", false, "v1", "T");
  if (res.error.ok() && res.conflicts.empty()) {
    const Json& obj = res.object;
    const Json* mine = nullptr;
    if (obj.contains("metadata") && obj["metadata"].contains("managedFields")) {
      for (const auto& e : obj["metadata"]["managedFields"])
        if (e.value("manager", "") == "fuzz" && e.value("operation", "") == "Apply") mine = &e;
    }
    auto sent = api::OwnedLeaves(applied);
    if (!sent.empty()) {
      FUZZ_CHECK(mine != nullptr, obj.dump());
      FUZZ_CHECK(api::FromFieldsV1((*mine)["fieldsV1"]) == sent, mine->dump());
    }
    auto again = api::ServerSideApply(obj, applied, "fuzz", false, "v1", "T");
    FUZZ_CHECK(again.error.ok() && again.conflicts.empty(), obj.dump());
    FUZZ_CHECK(again.object == obj, again.object.dump() + " vs " + obj.dump());
  }
  (void)api::RecordUpdate(live, applied, "fuzz-update", "v1", "T");
  // kubectl's client-side apply: after its patch, the same file needs no patch.
  Json patch = api::ThreeWayMergePatch(live, applied, live);
  Json after = inferd::resources::MergePatch(live.is_object() ? live : Json::object(), patch);
  FUZZ_CHECK(api::ThreeWayMergePatch(applied, applied, after).empty(), after.dump());
}

void ErrorText(std::string_view text) {
  std::string s(text);
  auto e = api::FieldErrorFromText(s);
  auto st = api::InvalidStatus("serving.kserve.io", "InferenceService", "x", {e});
  FUZZ_CHECK(st["code"] == 422 && st["details"]["causes"].size() == 1, st.dump(-1, ' ', false, Json::error_handler_t::replace));
  (void)st.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest = inferd::fuzz::AsText(data + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0: Namespace(rest); break;
      case 1: JsonPatch(rest); break;
      case 2: Apply(rest); break;
      default: ErrorText(rest); break;
    }
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("exception escaped: ") + e.what());
  }
  return 0;
}
