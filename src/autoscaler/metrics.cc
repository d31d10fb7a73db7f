// autoscaler/metrics.cc: MetricWindow (1-second buckets) and the counter sampler.
#include <algorithm>

#include "autoscaler/autoscaler.h"

namespace inferd::autoscaler {
namespace {
constexpr int64_t kNsPerSecond = 1'000'000'000;

int64_t WholeSecondsAtLeastOne(nanoseconds d) {
  // Windows are whole seconds (validated); a fractional one is rounded up.
  int64_t s = (d.count() + kNsPerSecond - 1) / kNsPerSecond;
  return std::max<int64_t>(1, s);
}

double IntegralAt(const CounterReading& r) {
  double extra = 0;
  if (r.in_flight > 0 && r.at_ns > r.in_flight_changed_ns) {
    extra = static_cast<double>(r.in_flight) * static_cast<double>(r.at_ns - r.in_flight_changed_ns);
  }
  return static_cast<double>(r.in_flight_ns) + extra;
}
}  // namespace

MetricSample SampleCounters(const CounterReading& prev, const CounterReading& cur) {
  MetricSample s;
  const int64_t dt = cur.at_ns - prev.at_ns;
  if (dt <= 0) return s;
  const double integral = IntegralAt(cur) - IntegralAt(prev);
  s.concurrency = std::max(0.0, integral / static_cast<double>(dt));
  if (cur.requests >= prev.requests) {
    s.rps = static_cast<double>(cur.requests - prev.requests) * kNsPerSecond / static_cast<double>(dt);
  }
  return s;
}

MetricWindow::MetricWindow(nanoseconds retention) { set_retention(retention); }

void MetricWindow::set_retention(nanoseconds retention) {
  retention_s_ = WholeSecondsAtLeastOne(retention);
  if (!buckets_.empty()) Prune(buckets_.rbegin()->first);
}

int64_t MetricWindow::SecondOf(int64_t ns) {
  int64_t q = ns / kNsPerSecond;
  if (ns % kNsPerSecond != 0 && ns < 0) --q;  // floor
  return q;
}

void MetricWindow::Prune(int64_t newest_second) {
  const int64_t oldest_kept = newest_second - retention_s_ + 1;
  buckets_.erase(buckets_.begin(), buckets_.lower_bound(oldest_kept));
}

void MetricWindow::Record(int64_t at_ns, double concurrency, double rps) {
  const int64_t sec = SecondOf(at_ns);
  if (!buckets_.empty()) {
    const int64_t newest = buckets_.rbegin()->first;
    if (sec <= newest - retention_s_) return;  // older than what we keep
    Prune(std::max(newest, sec));
  }
  // Nothing left from the last retention period: the averages start afresh at this second (Knative resets its
  // buckets' first write after a whole window without data, so that a burst from zero is not diluted).
  if (buckets_.empty()) {
    first_second_ = sec;
  } else if (!first_second_ || sec < *first_second_) {
    first_second_ = sec;
  }
  MetricSample& b = buckets_[sec];
  b.concurrency += concurrency;
  b.rps += rps;
}

MetricWindow::Average MetricWindow::AverageOver(int64_t now_ns, nanoseconds window) const {
  Average a;
  if (!first_second_) return a;
  const int64_t now_s = SecondOf(now_ns);
  int64_t start = now_s - WholeSecondsAtLeastOne(window) + 1;
  start = std::max(start, *first_second_);
  if (start > now_s) return a;
  double c = 0, r = 0;
  for (auto it = buckets_.lower_bound(start); it != buckets_.end() && it->first <= now_s; ++it) {
    c += it->second.concurrency;
    r += it->second.rps;
    a.has_data = true;
  }
  if (!a.has_data) return a;
  a.buckets = static_cast<int>(now_s - start + 1);
  a.concurrency = c / a.buckets;
  a.rps = r / a.buckets;
  return a;
}

void MetricWindow::Clear() {
  buckets_.clear();
  first_second_.reset();
}

}  // namespace inferd::autoscaler
