// storage/cache_gc.cc: the cache collector's decision (pure) and its run over a CacheStore.
#include "storage/cache_gc.h"

#include <algorithm>

namespace inferd::storage {

namespace {

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

CollectPlan PlanCollection(const std::vector<CacheEntry>& entries, const CollectInputs& in) {
  CollectPlan plan;
  std::vector<const CacheEntry*> evictable;  // referenced, not in use: candidates when over budget
  uint64_t kept = 0;
  for (const CacheEntry& e : entries) {
    plan.bytes_before = SaturatingAdd(plan.bytes_before, e.bytes);
    const bool in_use = in.in_use.count(e.name) > 0;
    if (e.temporary) {
      if (!in_use && in.now_s - e.last_used_s >= in.temp_max_age_s) {
        plan.remove.push_back({e.name, e.bytes, "stale temporary"});
      } else {
        kept = SaturatingAdd(kept, e.bytes);
      }
      continue;
    }
    if (in_use) {
      kept = SaturatingAdd(kept, e.bytes);
    } else if (!in.referenced.count(e.name)) {
      plan.remove.push_back({e.name, e.bytes, "unreferenced"});
    } else {
      kept = SaturatingAdd(kept, e.bytes);
      evictable.push_back(&e);
    }
  }
  std::sort(evictable.begin(), evictable.end(), [](const CacheEntry* a, const CacheEntry* b) {
    return a->last_used_s != b->last_used_s ? a->last_used_s < b->last_used_s : a->name < b->name;
  });
  for (const CacheEntry* e : evictable) {
    if (kept <= in.budget_bytes) break;
    plan.remove.push_back({e->name, e->bytes, "over budget"});
    kept -= e->bytes;
  }
  plan.bytes_after = kept;
  plan.over_budget = kept > in.budget_bytes;
  return plan;
}

CollectResult CollectCache(CacheStore& store, const CollectInputs& in) {
  CollectResult result;
  auto listed = store.List();
  if (!listed.ok()) {
    result.errors.push_back("listing the cache: " + listed.status().message());
    return result;
  }
  std::vector<CacheEntry> entries = std::move(*listed);
  for (CacheEntry& e : entries) {
    if (!e.temporary && in.in_use.count(e.name)) {
      store.Touch(e.name, in.now_s);
      e.last_used_s = in.now_s;
    }
  }
  result.plan = PlanCollection(entries, in);
  for (const auto& r : result.plan.remove) {
    Status st = store.Remove(r.name);
    if (st.ok()) {
      result.removed.push_back(r);
    } else {
      result.errors.push_back(r.name + ": " + st.message());
    }
  }
  return result;
}

}  // namespace inferd::storage
