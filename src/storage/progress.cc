// storage/progress.cc: byte accounting, the max_bytes limit and throttled progress reporting of a Fetch.
#include <cstdio>
#include <exception>

#include "core/logging.h"
#include "storage/internal.h"

namespace inferd::storage::internal {
namespace {

constexpr uint64_t kReportBytes = 1u << 20;                   // a callback at least every 1 MiB ...
constexpr auto kReportInterval = std::chrono::milliseconds(200);  // ... or every 200 ms
constexpr auto kLogInterval = std::chrono::seconds(5);

}  // namespace

std::string HumanBytes(uint64_t n) {
  char buf[32];
  if (n < (1u << 10)) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  } else if (n < (1u << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / (1u << 10));
  } else if (n < (1ull << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1u << 20));
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(n) / (1ull << 30));
  }
  return buf;
}

Transfer::Transfer(std::string uri, uint64_t max_bytes, ProgressFn progress)
    : uri_(std::move(uri)), max_bytes_(max_bytes), progress_(std::move(progress)) {
  start_ = last_report_ = last_log_ = std::chrono::steady_clock::now();
}

void Transfer::BeginObject(std::string name) { current_ = std::move(name); }

Status Transfer::Add(uint64_t n) {
  done_ += n;
  if (done_ > max_bytes_) {
    return PayloadTooLarge("download exceeds the limit of " + HumanBytes(max_bytes_) + " (max_bytes)");
  }
  auto now = std::chrono::steady_clock::now();
  if (done_ - reported_bytes_ >= kReportBytes || now - last_report_ >= kReportInterval) {
    last_report_ = now;
    reported_bytes_ = done_;
    RETURN_IF_ERROR(Report());
  }
  if (now - last_log_ >= kLogInterval) {
    last_log_ = now;
    LOG_INFO("storage: {}: {} of {} ({})", uri_, HumanBytes(done_), total_ ? HumanBytes(total_) : "unknown",
             current_);
  }
  return Status::Ok();
}

Status Transfer::Report() {
  if (!progress_) return Status::Ok();
  Progress p;
  p.bytes_done = done_;
  p.bytes_total = total_;
  p.current = current_;
  try {
    progress_(p);
  } catch (const std::exception& e) {
    return Internal(std::string("progress callback threw: ") + e.what());
  } catch (...) {
    return Internal("progress callback threw");
  }
  return Status::Ok();
}

void Transfer::Finish() {
  reported_bytes_ = done_;
  Status st = Report();
  if (!st.ok()) LOG_WARN("storage: {}: {}", uri_, st.message());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  LOG_INFO("storage: {}: downloaded {} in {:.1f} s", uri_, HumanBytes(done_), secs);
}

}  // namespace inferd::storage::internal
