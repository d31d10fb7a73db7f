// gateway/latency.h: the per-revision latency histogram the gateway keeps (RevisionStats::latency_buckets)
// and the quantiles read from it (the web app's METRICS tab: webui/metrics.h).
//
// Contract: a latency in microseconds falls in one of kLatencyBuckets log-linear buckets: 0-3 µs one bucket per
// microsecond, then every power of two split into 4 equal buckets (relative width <= 25%), up to 2^32 µs (71
// minutes); longer ones go to the last bucket. LatencyBucket is a few instructions (no loop, no table), so the
// gateway's request path pays one relaxed atomic add for it. LatencyQuantileMs(counts, q) estimates the q-th
// quantile (0 < q <= 1) of the latencies counted in `counts` (e.g. the difference of two snapshots),
// interpolating linearly inside the bucket; nullopt when nothing was counted. Pure.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>

namespace inferd::gateway {

inline constexpr int kLatencyBuckets = 128;
using LatencyCounts = std::array<uint64_t, kLatencyBuckets>;

inline int LatencyBucket(uint64_t micros) {
  if (micros < 4) return static_cast<int>(micros);
  const int e = std::bit_width(micros) - 1;  // >= 2
  const int sub = static_cast<int>((micros >> (e - 2)) & 3);
  const int idx = 4 * (e - 1) + sub;
  return idx < kLatencyBuckets ? idx : kLatencyBuckets - 1;
}

// The bucket's range [lower, upper) in microseconds.
inline uint64_t LatencyBucketLower(int idx) {
  if (idx < 4) return static_cast<uint64_t>(idx);
  const int e = idx / 4 + 1, sub = idx % 4;
  return static_cast<uint64_t>(4 + sub) << (e - 2);
}
inline uint64_t LatencyBucketUpper(int idx) {
  if (idx < 4) return static_cast<uint64_t>(idx) + 1;
  return LatencyBucketLower(idx) + (uint64_t{1} << (idx / 4 - 1));
}

inline std::optional<double> LatencyQuantileMs(const LatencyCounts& counts, double q) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return std::nullopt;
  const double rank = q * static_cast<double>(total);
  uint64_t seen = 0;
  for (int i = 0; i < kLatencyBuckets; ++i) {
    if (counts[i] == 0) continue;
    if (static_cast<double>(seen + counts[i]) >= rank) {
      const double frac = (rank - static_cast<double>(seen)) / static_cast<double>(counts[i]);
      const double lo = static_cast<double>(LatencyBucketLower(i)), hi = static_cast<double>(LatencyBucketUpper(i));
      return (lo + frac * (hi - lo)) / 1000.0;
    }
    seen += counts[i];
  }
  return static_cast<double>(LatencyBucketUpper(kLatencyBuckets - 1)) / 1000.0;
}

}  // namespace inferd::gateway
