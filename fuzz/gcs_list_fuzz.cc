// fuzz/gcs_list_fuzz.cc: Cloud Storage objects.list answers (storage ParseGcsListPage, simdjson) and what a
// fetch selects from them (listing_check.h). A hostile or broken endpoint controls these bytes.
#include "listing_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  inferd::fuzz::CheckListing(inferd::storage::internal::ParseGcsListPage(inferd::fuzz::AsText(data, size)));
  return 0;
}
