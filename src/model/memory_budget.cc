#include "model/memory_budget.h"

#include <malloc.h>

#include <algorithm>
#include <numeric>

namespace inferd {

EvictionPlan PlanEviction(size_t budget, size_t incoming, std::span<const ResidentModel> resident) {
  EvictionPlan plan;
  size_t total = incoming;
  for (const ResidentModel& m : resident) {
    total += m.bytes;
    if (m.pinned) plan.pinned_bytes += m.bytes;
  }
  if (budget == 0 || total <= budget) {
    plan.resident_after = total;
    return plan;
  }
  if (incoming > budget) {
    plan.outcome = EvictionPlan::Outcome::kNeverFits;
    return plan;
  }
  std::vector<size_t> order(resident.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (resident[a].last_use_ns != resident[b].last_use_ns) return resident[a].last_use_ns < resident[b].last_use_ns;
    return resident[a].name < resident[b].name;
  });
  for (size_t i : order) {
    if (total <= budget) break;
    if (resident[i].pinned) continue;
    plan.evict.push_back(i);
    total -= resident[i].bytes;
  }
  if (total > budget) {
    plan.outcome = EvictionPlan::Outcome::kBlocked;
    plan.evict.clear();
    return plan;
  }
  plan.resident_after = total;
  return plan;
}

size_t AllocatedBytes() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#else
  return 0;
#endif
}

}  // namespace inferd
