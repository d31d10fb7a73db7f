// storage/cache_gc.h: collecting the model cache: which entries to delete (a pure function) and the run
// that lists, touches and removes them through a small interface (Storage implements it over its cache
// directory; tests use a fake).
//
// Policy (PlanCollection):
// 1. A temporary (a download or scratch file a crashed process left) untouched for temp_max_age_s goes.
// 2. An entry that no live revision references and that is not in use goes.
// 3. If what stays still exceeds budget_bytes, referenced entries that are not in use go, least recently
//    used first (ties: by name), until the total fits. In-use entries (a running or starting revision's,
//    or one being downloaded) and young temporaries are never removed; when they alone exceed the budget
//    the plan says so (over_budget) and removes what it may.
// "Referenced" and "in use" are cache entry names (Storage::CacheKey); the caller decides them.
//
// Threads: PlanCollection is pure (any thread). CollectCache runs on the caller's thread and calls the
// store's methods there.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace inferd::storage {

struct CacheEntry {
  std::string name;
  uint64_t bytes = 0;        // disk space it takes
  int64_t last_used_s = 0;   // Unix seconds
  bool temporary = false;    // a leftover download or scratch file, not a finished entry
};

struct CollectInputs {
  std::set<std::string> referenced;  // entries some live revision uses (running or not)
  std::set<std::string> in_use;      // entries of running or starting revisions and of running downloads
  uint64_t budget_bytes = 0;         // the cache's size budget
  int64_t now_s = 0;                 // Unix seconds
  int64_t temp_max_age_s = 24 * 3600;
};

struct CollectPlan {
  struct Removal {
    std::string name;
    uint64_t bytes = 0;
    std::string reason;  // "unreferenced", "over budget", "stale temporary"
  };
  std::vector<Removal> remove;  // in the order to remove them
  uint64_t bytes_before = 0, bytes_after = 0;
  bool over_budget = false;  // what must stay still exceeds the budget
};

CollectPlan PlanCollection(const std::vector<CacheEntry>& entries, const CollectInputs& in);

// The effects a collection needs.
class CacheStore {
 public:
  virtual ~CacheStore() = default;
  virtual StatusOr<std::vector<CacheEntry>> List() = 0;
  // Records a use now (entries in use stay "recently used" while they run).
  virtual void Touch(const std::string& name, int64_t now_s) = 0;
  // Removes one entry or temporary; Unavailable when it is busy at that moment (it stays).
  virtual Status Remove(const std::string& name) = 0;
};

struct CollectResult {
  CollectPlan plan;
  std::vector<CollectPlan::Removal> removed;
  std::vector<std::string> errors;  // "<name>: <why>" for removals that failed
};

// One collection: List, Touch the in-use entries (their last use becomes now), PlanCollection, Remove.
CollectResult CollectCache(CacheStore& store, const CollectInputs& in);

}  // namespace inferd::storage
