// fuzz/s3_list_fuzz.cc: S3 ListObjectsV2 answers (storage ParseS3ListPage, a substring scanner with XML entity
// decoding) and what a fetch selects from them (listing_check.h). A hostile or broken endpoint controls
// these bytes.
#include "listing_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  inferd::fuzz::CheckListing(inferd::storage::internal::ParseS3ListPage(inferd::fuzz::AsText(data, size)));
  return 0;
}
