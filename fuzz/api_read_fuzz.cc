// fuzz/api_read_fuzz.cc: what a client's request carries into the API's reading side (api/table.h,
// api/discovery.h, api/schema.h with the compiled-in CRDs). The first byte picks the part, the rest is the input:
//   0: an Accept header (ParseAccept, WantedTableVersion, WantedAggregatedDiscovery) and the same text as the
//      includeObject and fieldValidation query values;
//   1: an object's JSON, checked against every CRD's schema (CheckAgainstSchema, pruning);
//   2: a timestamp (ParseRfc3339, then HumanDuration of the age) and HumanDuration of the raw bytes as a count.
// Invariants: no exception escapes; a wanted Table version is v1 or v1beta1, an aggregated one v2 or v2beta1;
// reports stay within kMaxReported while the totals count everything; after one pruning pass a second check
// finds no unknown field and reports the same errors; HumanDuration never answers an empty text.
#include <cstring>

#include "api/crds.h"
#include "api/discovery.h"
#include "api/schema.h"
#include "api/table.h"
#include "core/json_depth.h"
#include "fuzz_check.h"

namespace api = inferd::api;

namespace {

void Accept(std::string_view text) {
  (void)api::ParseAccept(text);
  if (auto v = api::WantedTableVersion(text)) FUZZ_CHECK(*v == "v1" || *v == "v1beta1", *v);
  if (auto v = api::WantedAggregatedDiscovery(text)) FUZZ_CHECK(*v == "v2" || *v == "v2beta1", *v);
  (void)api::ParseIncludeObject(text);
  (void)api::ParseFieldValidation(text);
}

void Schema(std::string_view text) {
  auto obj = inferd::ParseBoundedJson(text, "object");
  if (!obj.ok()) return;
  for (const api::Crd& crd : api::Crds()) {
    api::SchemaJson pruned = *obj;
    api::SchemaResult first = api::CheckAgainstSchema(crd.schema, pruned, /*prune=*/true);
    FUZZ_CHECK(first.errors.size() <= api::kMaxReported && first.unknown_fields.size() <= api::kMaxReported,
               crd.kind);
    FUZZ_CHECK(first.total_errors >= first.errors.size() && first.total_unknown >= first.unknown_fields.size(),
               crd.kind);
    api::SchemaJson again = pruned;
    api::SchemaResult second = api::CheckAgainstSchema(crd.schema, again, /*prune=*/true);
    FUZZ_CHECK(second.total_unknown == 0, crd.kind + ": pruning left an unknown field");
    FUZZ_CHECK(second.total_errors == first.total_errors, crd.kind + ": pruning changed the errors");
    FUZZ_CHECK(again == pruned, crd.kind + ": a second pruning changed the object");
  }
}

void Time(std::string_view text) {
  if (auto t = api::ParseRfc3339(text)) FUZZ_CHECK(!api::HumanDuration(1'000'000'000'000LL - *t).empty(), text);
  long long n = 0;
  std::memcpy(&n, text.data(), std::min(text.size(), sizeof n));
  FUZZ_CHECK(!api::HumanDuration(n).empty(), std::to_string(n));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view text = inferd::fuzz::AsText(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: Accept(text); break;
    case 1: Schema(text); break;
    default: Time(text); break;
  }
  return 0;
}
