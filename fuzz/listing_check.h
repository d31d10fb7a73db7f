// fuzz/listing_check.h: what s3_list_fuzz and gcs_list_fuzz check of a parsed bucket listing: the objects
// a fetch would download (SelectObjects, for a few keys) land at relative paths inside the model directory,
// each once; accepted objects have a plausible size (at most 2^53).
#pragma once

#include <set>

#include "fuzz_check.h"
#include "storage/internal.h"

namespace inferd::fuzz {

inline void CheckListing(const StatusOr<storage::internal::ListPage>& page) {
  using namespace storage::internal;
  if (!page.ok()) return;
  for (const RemoteObject& o : page->objects) {
    FUZZ_CHECK(o.size <= (uint64_t{1} << 53), "absurd size " + std::to_string(o.size) + " accepted");
  }
  for (const char* key : {"", "model", "model/", "a/b"}) {
    auto selected = SelectObjects(page->objects, key);
    if (!selected.ok()) continue;
    std::set<std::string> paths;
    for (const auto& [object, rel] : *selected) {
      FUZZ_CHECK(CheckRelativePath(rel, "object").ok(), "unsafe destination '" + rel + "'");
      for (const std::string& part : SplitPath(rel)) FUZZ_CHECK(part != "..", "'..' in '" + rel + "'");
      FUZZ_CHECK(!rel.empty() && rel.front() != '/', "absolute destination '" + rel + "'");
      FUZZ_CHECK(paths.insert(rel).second, "two objects at '" + rel + "'");
    }
  }
}

}  // namespace inferd::fuzz
