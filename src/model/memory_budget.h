// model/memory_budget.h: how much memory a loaded model holds, and which models a load evicts to stay
// within a model server's memory budget (--memory_budget).
//
// Contract:
// - PlanEviction is a pure function of its inputs (sizes, last-use times, pins: no clock, no I/O), so the
//   policy is tested on its own (tests/model/memory_budget_test.cc). The policy: a model larger than the
//   whole budget never fits (kNeverFits); otherwise the unpinned resident models are evicted least recently
//   used first (ties: by name, so the order is total) until the resident bytes plus the incoming model's fit;
//   when even evicting every unpinned model is not enough, nothing is evicted (kBlocked: the bytes are held
//   by models serving requests). A budget of 0 means unlimited: always kFits with nothing evicted.
// - AllocatedBytes samples the process's heap in use (glibc mallinfo2: bytes in allocated chunks of every
//   arena plus mmap'ed chunks). ModelRepository measures a model as the growth of this figure across its
//   load and warm-up (model/repository.h; loads run one at a time when a budget is set, so that one load's
//   figure does not count another's allocations; without a budget, overlapping start-up loads can count each
//   other's and the figure is only for metrics). What that measures and its error:
//   * it counts what the backend keeps on the C/C++ heap after the load (XGBoost boosters, the forest
//     engine's arrays, ONNX Runtime / libtorch tensors: large blocks are mmap'ed chunks, counted too);
//   * it misses memory that bypasses malloc: CPython's small-object arenas (custom Python models), file
//     mappings, the code of a plugin library loaded by its format's first model;
//   * it is perturbed by what other threads allocate or free between the two samples (requests in flight
//     on other models hold a few KiB each) and by freed temporaries kept in the loading thread's cache
//     (glibc's tcache, at most a few hundred KiB). For a small model that error can exceed its true size,
//     so a model is never counted below kMinModelBytes. Measured (tests/model/repository_budget_test.cc):
//     copies of one ~120 KiB XGBoost model loaded one after another vary by about +-7%; the absolute error
//     does not grow with the model, so it is smaller, relatively, for the multi-MiB models a budget is for;
//   * the first model of a format also carries its runtime's one-time set-up (XGBoost: ~160 KiB instead of
//     ~120 KiB for that model), which stays in the process when the model is evicted.
// - Thread-safe: both functions keep no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace inferd {

// The least a loaded model counts for (the allocator's sampling error, see above).
inline constexpr size_t kMinModelBytes = 16 * 1024;

struct ResidentModel {
  std::string_view name;
  size_t bytes = 0;
  int64_t last_use_ns = 0;  // any monotonic clock; only the order matters
  bool pinned = false;      // in use (requests hold it, or it is being replaced): never evicted
};

struct EvictionPlan {
  enum class Outcome { kFits, kNeverFits, kBlocked };
  Outcome outcome = Outcome::kFits;
  std::vector<size_t> evict;    // indices into `resident`, least recently used first (kFits only)
  size_t resident_after = 0;    // bytes resident after the evictions and the load (kFits)
  size_t pinned_bytes = 0;      // bytes of pinned models (the figure a kBlocked message names)
};

// Which of `resident` to evict so that `incoming` more bytes fit in `budget` (0 = unlimited).
EvictionPlan PlanEviction(size_t budget, size_t incoming, std::span<const ResidentModel> resident);

// The process's heap bytes in use now (see above); 0 where the C library cannot tell.
size_t AllocatedBytes();

}  // namespace inferd
