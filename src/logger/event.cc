#include "logger/event.h"

#include <algorithm>
#include <cctype>
#include <chrono>

#include "core/backoff.h"
#include "core/json_string.h"
#include "logger/sink_url.h"

namespace inferd::logger {

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// A header line "Name: value" whose value cannot end the line early.
// An empty value is written "Name;", curl's form for a header sent empty ("Name:" would remove it).
std::string Line(std::string_view name, std::string_view value) {
  if (value.empty()) return std::string(name) + ";";
  std::string out;
  out.reserve(name.size() + 2 + value.size());
  out.append(name).append(": ");
  for (char c : value) out.push_back(c == '\r' || c == '\n' || c == '\0' ? ' ' : c);
  return out;
}

}  // namespace

Record::Record(EventType t, std::string_view id, int64_t time, std::string_view content_type, std::string_view metadata,
               std::string_view body)
    : type(t), time_unix_ns(time), id_size_(id.size()), content_type_size_(content_type.size()),
      metadata_size_(metadata.size()) {
  data_.reserve(id.size() + content_type.size() + metadata.size() + body.size());
  data_.append(id).append(content_type).append(metadata).append(body);
}

StatusOr<LogMode> ParseLogMode(std::string_view s) {
  if (s == "all") return LogMode::kAll;
  if (s == "request") return LogMode::kRequest;
  if (s == "response") return LogMode::kResponse;
  return InvalidArgument("invalid logger type \"" + std::string(s.substr(0, 64)) +
                         "\" (must be all, request or response)");
}

std::string_view LogModeName(LogMode m) {
  switch (m) {
    case LogMode::kAll: return "all";
    case LogMode::kRequest: return "request";
    case LogMode::kResponse: return "response";
  }
  return "all";
}

Status ValidateConfig(const LoggerConfig& c) {
  if (!c.enabled()) return Status::Ok();
  if (std::string why = CheckSinkUrl(c.url); !why.empty()) return InvalidArgument("--log_url: " + why);
  if (c.queue_capacity < 1 || c.queue_capacity > (size_t{1} << 20)) {
    return InvalidArgument("--log_queue_size must be between 1 and 1048576");
  }
  if (c.workers < 1 || c.workers > 64) return InvalidArgument("--log_workers must be between 1 and 64");
  if (c.sender_nice < 0 || c.sender_nice > 19) return InvalidArgument("--log_sender_nice must be between 0 and 19");
  if (c.batch_linger.count() < 0 || c.batch_linger.count() > 1000) {
    return InvalidArgument("--log_batch_linger_ms must be between 0 and 1000");
  }
  if (c.timeout_s < 1 || c.timeout_s > 3600) return InvalidArgument("--log_timeout must be between 1 and 3600 seconds");
  if (c.retry.max_attempts < 1 || c.retry.max_attempts > 10) {
    return InvalidArgument("--log_retries must be between 0 and 9");
  }
  for (const auto& a : c.annotations) {
    if (a.find('=') == std::string::npos || a.front() == '=') {
      return InvalidArgument("--log_metadata_annotations: '" + a.substr(0, 64) + "' is not key=value");
    }
  }
  for (const auto& h : c.metadata_headers) {
    if (h.empty() || h.size() > 256) return InvalidArgument("--log_metadata_headers: a header name is empty or too long");
  }
  return Status::Ok();
}

std::string MetadataJson(const std::vector<std::pair<std::string, std::string>>& headers,
                         const std::vector<std::string>& names) {
  std::string out = "{";
  bool first_name = true;
  for (const std::string& name : names) {
    bool first_value = true;
    for (const auto& [k, v] : headers) {
      if (!EqualsIgnoreCase(k, name)) continue;
      if (first_value) {
        if (!first_name) out += ',';
        first_name = false;
        AppendJsonString(&out, name);
        out += ":[";
      } else {
        out += ',';
      }
      first_value = false;
      AppendJsonString(&out, v);
    }
    if (!first_value) out += ']';
  }
  out += '}';
  return out;
}

std::string AnnotationsJson(const std::vector<std::string>& pairs) {
  if (pairs.empty()) return "";
  std::vector<std::pair<std::string_view, std::string_view>> kv;
  for (const std::string& p : pairs) {
    const size_t eq = p.find('=');
    if (eq == std::string::npos) continue;  // ValidateConfig refuses these
    kv.emplace_back(std::string_view(p).substr(0, eq), std::string_view(p).substr(eq + 1));
  }
  std::stable_sort(kv.begin(), kv.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out = "{";
  for (size_t i = 0; i < kv.size(); ++i) {
    if (i > 0 && kv[i].first == kv[i - 1].first) continue;  // a map: the first of a repeated key
    if (out.size() > 1) out += ',';
    AppendJsonString(&out, kv[i].first);
    out += ':';
    AppendJsonString(&out, kv[i].second);
  }
  out += '}';
  return out;
}

bool IsUnlogged(std::string_view method, std::string_view target, std::string_view user_agent) {
  if (user_agent.starts_with("kube-probe/") || user_agent == "inferd-supervisor") return true;
  return method == "GET" && (target == "/metrics" || target.starts_with("/metrics?"));
}

namespace {

// `n` as exactly `width` decimal digits at `out`.
void PutDigits(char* out, int64_t n, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + n % 10);
    n /= 10;
  }
}

}  // namespace

// By hand (std::chrono's civil calendar and digit loops) rather than gmtime_r + snprintf: two of these per event on
// the sender thread, and gmtime_r takes glibc's time-zone lock while snprintf parses its format each time (perf,
// logger_bench: vfprintf and its helpers were about 1% of the logged server's samples, a tenth of the sender's
// user time).
size_t FormatRfc3339Nano(int64_t unix_ns, char (&out)[48]) {
  using namespace std::chrono;
  int64_t secs = unix_ns / 1000000000;
  int64_t frac = unix_ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  const sys_seconds t{seconds{secs}};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> hms{t - day};
  const int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) return 0;  // not an RFC 3339 year (no clock gives one)
  PutDigits(out, year, 4);
  out[4] = '-';
  PutDigits(out + 5, static_cast<unsigned>(ymd.month()), 2);
  out[7] = '-';
  PutDigits(out + 8, static_cast<unsigned>(ymd.day()), 2);
  out[10] = 'T';
  PutDigits(out + 11, hms.hours().count(), 2);
  out[13] = ':';
  PutDigits(out + 14, hms.minutes().count(), 2);
  out[16] = ':';
  PutDigits(out + 17, hms.seconds().count(), 2);
  out[19] = '.';
  PutDigits(out + 20, frac, 9);
  out[29] = 'Z';
  out[30] = '\0';
  return 30;
}

std::string Rfc3339Nano(int64_t unix_ns) {
  char out[48];
  return std::string(out, FormatRfc3339Nano(unix_ns, out));
}

namespace {

constexpr std::string_view kRequestType = "org.kubeflow.serving.inference.request";
constexpr std::string_view kResponseType = "org.kubeflow.serving.inference.response";

// Calls emit(name, value) for each header of the event, in KServe's order (no Content-Type when there is none).
template <class Emit>
void ForEachEventHeader(const Record& r, const LoggerConfig& c, std::string_view event_time,
                        std::string_view recorded_time, std::string_view annotations, Emit&& emit) {
  const bool request = r.type == EventType::kRequest;
  emit("Ce-Specversion", "1.0");
  emit("Ce-Id", r.id());
  emit("Ce-Type", request ? kRequestType : kResponseType);
  emit("Ce-Source", c.source_uri);
  emit("Ce-Time", event_time);
  emit("Ce-Recordedtime", recorded_time);
  emit("Ce-Inferenceservicename", c.inference_service);
  emit("Ce-Namespace", c.ns);
  emit("Ce-Component", c.component);
  emit("Ce-Endpoint", c.endpoint);
  emit("Ce-Metadata", r.metadata().empty() ? std::string_view("{}") : r.metadata());
  if (!c.annotations.empty()) emit("Ce-Annotations", annotations);
  if (!r.content_type().empty()) emit("Content-Type", r.content_type());
}

}  // namespace

std::vector<std::string> EventHeaders(const Record& r, const LoggerConfig& c, int64_t recorded_unix_ns) {
  std::vector<std::string> h;
  h.reserve(14);
  ForEachEventHeader(r, c, Rfc3339Nano(r.time_unix_ns), Rfc3339Nano(recorded_unix_ns), AnnotationsJson(c.annotations),
                     [&](std::string_view name, std::string_view value) { h.push_back(Line(name, value)); });
  // curl would send its own "Content-Type: application/x-www-form-urlencoded" for a POST without one; an empty
  // value there removes the header, as a request without Content-Type gives an event without one.
  if (r.content_type().empty()) h.push_back("Content-Type:");
  h.push_back("Expect:");  // no 100-continue round trip for large bodies
  return h;
}

namespace {

// `value` with CR, LF and NUL replaced by spaces (a header value cannot end its line early).
void AppendCleaned(std::string_view value, std::string* out) {
  size_t start = out->size();
  out->append(value);
  for (size_t i = start; i < out->size(); ++i) {
    char& ch = (*out)[i];
    if (ch == '\r' || ch == '\n' || ch == '\0') ch = ' ';
  }
}

}  // namespace

EventHeadLines::EventHeadLines(const LoggerConfig& c) {
  built_from_.source_uri = c.source_uri;
  built_from_.inference_service = c.inference_service;
  built_from_.ns = c.ns;
  built_from_.component = c.component;
  built_from_.endpoint = c.endpoint;
  built_from_.annotations = c.annotations;
  // The list comes from ForEachEventHeader (one list for both senders); a placeholder record with a Content-Type
  // lays out every slot, and the values that do not depend on the event are formatted now.
  const Record placeholder(EventType::kRequest, "", 0, "-", "", "");
  const std::string annotations = AnnotationsJson(c.annotations);
  ForEachEventHeader(placeholder, c, "", "", annotations, [this](std::string_view name, std::string_view value) {
    Slot slot = Slot::kText;
    if (name == "Ce-Id") slot = Slot::kId;
    if (name == "Ce-Type") slot = Slot::kType;
    if (name == "Ce-Time") slot = Slot::kTime;
    if (name == "Ce-Recordedtime") slot = Slot::kRecorded;
    if (name == "Ce-Metadata") slot = Slot::kMetadata;
    if (name == "Content-Type") slot = Slot::kContentType;
    if (slot != Slot::kText) {
      pieces_.push_back(Piece{slot, std::string(name) + ": "});
      return;
    }
    if (pieces_.empty() || pieces_.back().slot != Slot::kText) pieces_.push_back(Piece{Slot::kText, ""});
    std::string& text = pieces_.back().text;
    text.append(name).append(": ");
    AppendCleaned(value, &text);
    text.append("\r\n");
  });
}

bool EventHeadLines::Matches(const LoggerConfig& c) const {
  const LoggerConfig& b = built_from_;
  return b.source_uri == c.source_uri && b.inference_service == c.inference_service && b.ns == c.ns &&
         b.component == c.component && b.endpoint == c.endpoint && b.annotations == c.annotations;
}

void EventHeadLines::Append(const Record& r, std::string_view recorded_time, std::string* out) const {
  for (const Piece& p : pieces_) {
    std::string_view value;
    char time[48];
    switch (p.slot) {
      case Slot::kText:
        out->append(p.text);
        continue;
      case Slot::kId: value = r.id(); break;
      case Slot::kType:
        value = r.type == EventType::kRequest ? kRequestType : kResponseType;
        break;
      case Slot::kTime: value = std::string_view(time, FormatRfc3339Nano(r.time_unix_ns, time)); break;
      case Slot::kRecorded: value = recorded_time; break;
      case Slot::kMetadata: value = r.metadata().empty() ? std::string_view("{}") : r.metadata(); break;
      case Slot::kContentType:
        if (r.content_type().empty()) continue;
        value = r.content_type();
        break;
    }
    out->append(p.text);
    AppendCleaned(value, out);
    out->append("\r\n");
  }
}

Decision NextStep(const net::ClientResult& result, int attempt, const RetryPolicy& policy) {
  Decision d;
  bool retryable = false;
  if (result.transport == net::Transport::kOk) {
    if (result.status >= 200 && result.status < 300) {
      d.step = Step::kDelivered;
      return d;
    }
    retryable = result.status == 408 || result.status == 429 || result.status >= 500;
  } else {
    retryable = result.transport == net::Transport::kFailed;  // no connection, timeout, TLS
  }
  if (!retryable || attempt >= policy.max_attempts) {
    d.step = Step::kGiveUp;
    return d;
  }
  d.step = Step::kRetry;
  d.delay = ExponentialBackoff(attempt - 1, policy.initial, policy.max);
  return d;
}

bool LogGate::Allow(int64_t now_ns, int64_t interval_ns, uint64_t* held_out) {
  if (now_ns < next_ns) {
    ++held;
    return false;
  }
  *held_out = held;
  held = 0;
  next_ns = now_ns + interval_ns;
  return true;
}

}  // namespace inferd::logger
