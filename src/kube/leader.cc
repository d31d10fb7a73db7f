#include "kube/leader.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "core/logging.h"

namespace inferd::kube {

// ---- MicroTime ------------------------------------------------------------------------------------------

std::string FormatMicroTime(WallTime t) {
  using namespace std::chrono;
  const auto us = duration_cast<microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  long frac = static_cast<long>(us % 1000000);
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::optional<WallTime> ParseMicroTime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)
  if (text.size() < 20 || text.size() > 40) return std::nullopt;
  std::string s(text);
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return std::nullopt;
  }
  size_t i = 19;
  int64_t micros = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (digits < 6) micros = micros * 10 + (s[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (int d = digits; d < 6; ++d) micros *= 10;
  }
  int offset_s = 0;
  if (i < s.size() && s[i] == 'Z') {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int hh = 0, mm = 0;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59) return std::nullopt;
    offset_s = (hh * 3600 + mm * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t secs = timegm(&tm) - offset_s;
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(secs) +
                                                                 std::chrono::microseconds(micros)));
}

// ---- Lease records --------------------------------------------------------------------------------------

bool LeaseRecord::SameRecord(const LeaseRecord& o) const {
  return holder_identity == o.holder_identity && lease_duration_seconds == o.lease_duration_seconds &&
         acquire_time == o.acquire_time && renew_time == o.renew_time && lease_transitions == o.lease_transitions;
}

Gvr LeaseGvr() { return Gvr{"coordination.k8s.io", "v1", "leases", true}; }

LeaseRecord LeaseFromJson(const Json& lease) {
  LeaseRecord r;
  if (!lease.is_object()) return r;
  r.resource_version = MetaField(lease, "resourceVersion");
  auto spec = lease.find("spec");
  if (spec == lease.end() || !spec->is_object()) return r;
  auto str = [&](const char* k) {
    auto it = spec->find(k);
    return it != spec->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* k) {  // clamped: leaseTransitions + 1 must not overflow
    auto it = spec->find(k);
    if (it == spec->end() || !it->is_number_integer()) return 0;
    return static_cast<int>(std::clamp<int64_t>(it->get<int64_t>(), 0, 1'000'000'000));
  };
  r.holder_identity = str("holderIdentity");
  r.lease_duration_seconds = num("leaseDurationSeconds");
  r.acquire_time = str("acquireTime");
  r.renew_time = str("renewTime");
  r.lease_transitions = num("leaseTransitions");
  return r;
}

Json LeaseToJson(const LeaseRecord& r, std::string_view ns, std::string_view name) {
  Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"spec",
                 {{"holderIdentity", r.holder_identity},
                  {"leaseDurationSeconds", r.lease_duration_seconds},
                  {"acquireTime", r.acquire_time},
                  {"renewTime", r.renew_time},
                  {"leaseTransitions", r.lease_transitions}}}};
  if (!r.resource_version.empty()) lease["metadata"]["resourceVersion"] = r.resource_version;
  return lease;
}

// ---- decisions ------------------------------------------------------------------------------------------

const char* LeaseActionName(LeaseAction a) {
  switch (a) {
    case LeaseAction::kCreate: return "create";
    case LeaseAction::kRenew: return "renew";
    case LeaseAction::kTakeOver: return "take over";
    case LeaseAction::kWait: return "wait";
  }
  return "wait";
}

LeaseObservation ObserveLease(const LeaseObservation& previous, const std::optional<LeaseRecord>& current,
                              int64_t now_ns) {
  const bool same = previous.record.has_value() == current.has_value() &&
                    (!current || previous.record->SameRecord(*current));
  if (same && previous.observed_ns != 0) {
    LeaseObservation o = previous;
    o.record = current;  // keeps the newest resourceVersion
    return o;
  }
  return LeaseObservation{current, now_ns};
}

LeaseDecision DecideLease(const std::optional<LeaseRecord>& current, const LeaseObservation& observation,
                          int64_t now_ns, WallTime wall_now, const LeaderConfig& config) {
  const std::string now = FormatMicroTime(wall_now);
  const int duration_s = static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(config.lease_duration).count());
  LeaseDecision d;
  if (!current) {
    d.action = LeaseAction::kCreate;
    d.desired = LeaseRecord{config.identity, duration_s, now, now, 0, ""};
    return d;
  }
  d.desired = *current;
  if (current->holder_identity == config.identity) {
    d.action = LeaseAction::kRenew;
    d.desired.renew_time = now;
    d.desired.lease_duration_seconds = duration_s;
    if (d.desired.acquire_time.empty()) d.desired.acquire_time = now;
    return d;
  }
  // Someone else's: valid while locally observed unchanged for less than its leaseDurationSeconds.
  const int held_s = current->lease_duration_seconds > 0 ? current->lease_duration_seconds : duration_s;
  const bool same_as_observed = observation.record && observation.record->SameRecord(*current);
  const int64_t observed_ns = same_as_observed ? observation.observed_ns : now_ns;
  if (!current->holder_identity.empty() && now_ns - observed_ns < int64_t{held_s} * 1'000'000'000) {
    d.action = LeaseAction::kWait;
    return d;
  }
  d.action = LeaseAction::kTakeOver;
  d.desired.holder_identity = config.identity;
  d.desired.lease_duration_seconds = duration_s;
  d.desired.acquire_time = now;
  d.desired.renew_time = now;
  d.desired.lease_transitions = current->lease_transitions + 1;
  return d;
}

// ---- LeaderElector --------------------------------------------------------------------------------------

LeaderElector::LeaderElector(KubeClient& client, LeaderConfig config, LeaderCallbacks callbacks, const Clock* clock)
    : client_(client), config_(std::move(config)), callbacks_(std::move(callbacks)), clock_(clock) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::SetLeader(bool leader) {
  if (leader_.exchange(leader) == leader) return;
  LOG_INFO("leader election {}/{}: {} {} leading", config_.lease_namespace, config_.lease_name, config_.identity,
           leader ? "started" : "stopped");
  if (leader && callbacks_.on_started_leading) callbacks_.on_started_leading();
  if (!leader && callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
}

bool LeaderElector::TryAcquireOrRenew() {
  const int64_t now = clock_->NowNs();
  const auto renew_expired = [&] {
    return leader_ && now - last_renew_ns_ >= std::chrono::nanoseconds(config_.renew_deadline).count();
  };
  Result<Json> got = client_.Get(LeaseGvr(), config_.lease_namespace, config_.lease_name);
  std::optional<LeaseRecord> current;
  if (got.ok()) {
    current = LeaseFromJson(*got);
  } else if (!got.status().IsNotFound()) {
    LOG_WARN("leader election: reading the Lease failed: {}", got.status().ToString());
    if (renew_expired()) SetLeader(false);
    return false;
  }
  observation_ = ObserveLease(observation_, current, now);
  LeaseDecision d = DecideLease(current, observation_, now, std::chrono::system_clock::now(), config_);
  if (d.action == LeaseAction::kWait) {
    SetLeader(false);
    return false;
  }
  const Json body = LeaseToJson(d.desired, config_.lease_namespace, config_.lease_name);
  Result<Json> wrote = d.action == LeaseAction::kCreate
                           ? client_.Create(LeaseGvr(), config_.lease_namespace, body)
                           : client_.Update(LeaseGvr(), config_.lease_namespace, body);
  if (!wrote.ok()) {  // 409: another replica wrote first (lost the race)
    if (!wrote.status().IsConflict() && !wrote.status().IsAlreadyExists()) {
      LOG_WARN("leader election: writing the Lease failed: {}", wrote.status().ToString());
    }
    if (renew_expired() || wrote.status().code == 409) SetLeader(false);
    return false;
  }
  observation_ = LeaseObservation{LeaseFromJson(*wrote), now};
  last_renew_ns_ = now;
  SetLeader(true);
  return true;
}

void LeaderElector::Release() {
  Result<Json> got = client_.Get(LeaseGvr(), config_.lease_namespace, config_.lease_name);
  if (!got.ok()) return;
  LeaseRecord r = LeaseFromJson(*got);
  if (r.holder_identity != config_.identity) return;
  // client-go's release: no holder, a 1 s duration, times now; the transitions count stays.
  const std::string now = FormatMicroTime(std::chrono::system_clock::now());
  r.holder_identity.clear();
  r.lease_duration_seconds = 1;
  r.acquire_time = now;
  r.renew_time = now;
  Result<Json> wrote = client_.Update(LeaseGvr(), config_.lease_namespace,
                                      LeaseToJson(r, config_.lease_namespace, config_.lease_name));
  if (!wrote.ok()) LOG_WARN("leader election: releasing the Lease failed: {}", wrote.status().ToString());
}

void LeaderElector::Run() {
  while (!stop_) {
    TryAcquireOrRenew();
    MutexLock lock(mu_);
    cv_.WaitFor(mu_, config_.retry_period, [this] { return stop_.load(); });
  }
}

void LeaderElector::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void LeaderElector::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  if (leader_) {
    Release();
    SetLeader(false);
  }
}

}  // namespace inferd::kube
