// fuzz/resources_fuzz.cc: KServe resources as `inferd apply -f` and the API read them (resources/resources.h):
// a YAML stream (ParseYamlDocuments) and a JSON body (nlohmann, as the API parses application/json), each
// document then validated as an InferenceService and as a (Cluster)ServingRuntime, resolved, matched
// against the built-in runtimes, merge-patched and written back as YAML (`inferd get -o yaml`).
// Invariants: no exception escapes; an InferenceService that validates also resolves; what ToYaml writes
// parses back to the same object.
#include <cmath>

#include "fuzz_check.h"
#include "resources/resources.h"

using namespace inferd::resources;
using inferd::StatusOr;

namespace {

// Json equality with NaN equal to itself (YAML's .nan reads back as NaN, and NaN != NaN).
bool Same(const Json& a, const Json& b) {
  if (a.is_number_float() && b.is_number_float() && std::isnan(a.get<double>())) return std::isnan(b.get<double>());
  if (a.is_number() && b.is_number()) return a == b;  // JSON's 1 is unsigned, YAML's 1 signed: same value
  if (a.type() != b.type() || a.size() != b.size()) return false;
  if (a.is_object()) {
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
      if (ia.key() != ib.key() || !Same(ia.value(), ib.value())) return false;
    }
    return true;
  }
  if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (!Same(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

bool HasNoncharacter(std::string_view u) {
  for (size_t i = 0; i + 2 < u.size(); ++i) {
    auto b = [&](size_t k) { return static_cast<unsigned char>(u[i + k]); };
    if (b(0) == 0xEF && b(1) == 0xB7 && b(2) >= 0x90 && b(2) <= 0xAF) return true;           // U+FDD0..U+FDEF
    if (b(0) == 0xEF && b(1) == 0xBF && (b(2) == 0xBE || b(2) == 0xBF)) return true;         // U+FFFE, U+FFFF
    if (i + 3 < u.size() && b(0) >= 0xF0 && (b(1) & 0x0F) == 0x0F && b(2) == 0xBF && (b(3) == 0xBE || b(3) == 0xBF)) {
      return true;  // U+1FFFE, U+1FFFF, ... U+10FFFF
    }
  }
  return false;
}

void CheckObject(const Json& obj) {
  static const std::vector<Json> kBuiltins = BuiltinClusterServingRuntimes();
  if (ValidateInferenceService(obj).ok()) {
    StatusOr<ComponentSpec> spec = ResolvePredictor(obj);
    FUZZ_CHECK(spec.ok(), "validated InferenceService does not resolve: " + spec.status().message());
    (void)SelectRuntime(*spec, {obj}, kBuiltins);
  }
  (void)ValidateServingRuntime(obj, false);
  (void)ValidateServingRuntime(obj, true);
  std::string yaml = ToYaml(obj);
  if (yaml.starts_with("# cannot emit YAML")) return;
  // Noncharacters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF) are not printable in YAML; yaml-cpp's emitter writes U+FFFD
  // for them (a UTF-16 or UTF-32 stream can carry them in). Nothing else may change.
  if (HasNoncharacter(obj.dump())) return;
  StatusOr<std::vector<Json>> back = ParseYamlDocuments(yaml, "ToYaml");
  FUZZ_CHECK(back.ok(), "ToYaml's output does not parse: " + back.status().message() + "\n" + yaml);
  // An object, array or scalar comes back as one document (null: none, as an empty document).
  if (obj.is_null()) return;
  FUZZ_CHECK(back->size() == 1 && Same((*back)[0], obj),
             "ToYaml does not read back the same:\n" + obj.dump(-1, ' ', false, Json::error_handler_t::replace) +
                 "\n" + yaml + "\n" +
                 (back->empty() ? "(nothing)" : (*back)[0].dump(-1, ' ', false, Json::error_handler_t::replace)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = inferd::fuzz::AsText(data, size);
  StatusOr<std::vector<Json>> docs = ParseYamlDocuments(text, "fuzz.yaml");
  if (docs.ok()) {
    for (const Json& d : *docs) CheckObject(d);
    if (docs->size() >= 2) (void)MergePatch((*docs)[0], (*docs)[1]);
  }
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded() && j.is_object()) CheckObject(j);
  return 0;
}
